// Package movement maps warehouse movement records — one row of a CSV
// export, one element of an XML export — to canonical inventory events. The
// readers (csvfile, xmlfile) find the values; this package knows what they
// mean: which event a movement type is, which status change a reason code
// is, how a site-local time resolves, how a quantity converts through the
// item's pack hierarchy.
//
// # Fields
//
// A record is a set of logical fields (Field), each bound by configuration
// to a CSV column or an XML path, derived from another field by a regular
// expression (Config.Extract) or set to a constant (Config.Defaults):
//
//	id           the movement's key in the WMS (required); the event's source key
//	type         the movement type, looked up in Config.Types (required)
//	occurred_at  when it happened, site-local (Config.TimeLayout) (required)
//	recorded_at  when the WMS recorded it (optional)
//	owner        the goods' owner (default: the site's owner)
//	sku          the item (required)
//	gtin         the GTIN of the level the quantity is counted in (check digit verified)
//	lot, expiry  lot number and expiry date (Config.DateLayout)
//	qty, uom     the quantity as the WMS wrote it (required)
//	from, to     locations
//	sscc         the handling unit (check digit verified)
//	reference    the business document (order, ASN)
//	reason       the reason code; for status changes, looked up in Config.Reasons
//	reverses     the id of the movement this one reverses
//	user, note   who, and a free text
//	version      the record's version (row version); default a hash of the record
//	expected     for counts, the book quantity before the count (same unit as qty)
//	site         the site the record belongs to: a record of another site is rejected
//
// # Events
//
// Config.Types maps each movement type code to one of:
//
//	moved           inventory.moved with a MovementType (receipt, putaway, transfer,
//	                replenishment, pick, pack, ship, adjustment_in, adjustment_out,
//	                return, scrap, or adjustment: in when only `to` is set, out when
//	                only `from` is)
//	status_changed  inventory.status_changed, statuses from Config.Reasons[reason]
//	counted         inventory.counted: an absolute count at `to` (else `from`), with
//	                `expected` as the book quantity
//
// Quantities are positive with a direction from → to. A negative quantity
// (a reversal row: -1 EA from PF-07-11 reversing 884113) is taken by its
// absolute value with the locations as written (Config.NegativeQuantity
// "abs", the default) or rejected ("reject"). Units go through the site's
// unit table, then the X12 unit codes (CA → XCS, KG → KGM, PL → XPX), then
// UN/ECE Rec 20/21 as written. When the item is in the site's item master,
// the quantity is converted to the item's base unit and the quantity as
// written is kept in received_quantity (inventory.moved); counts and status
// changes are in the base unit too. The record's GTIN must be a level of
// the item: the level of the record's unit (kept in the event), or a lower
// level when the record's unit has no GTIN of its own (a pallet of cases
// written with the case GTIN; the event then carries no GTIN).
//
// Times without an offset are wall times in the zone (Config.TimeZone,
// default the site's): a time in a spring-forward gap is rejected
// (time_nonexistent), one in a fall-back hour resolves to the earlier
// instant with a warning (time_ambiguous). TimeLayout "RFC3339" reads times
// that carry their offset.
//
// Event ids are canonical.EventID(site, source, id, version): a record
// read again, from the same file or an overlapping export, gets the same id.
package movement

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/canonical/gs1"
	"github.com/draylink/dray/canonical/localtime"
	"github.com/draylink/dray/canonical/units"
	"github.com/shopspring/decimal"
)

// Field is a logical field of a movement record.
type Field int

// Fields.
const (
	ID Field = iota
	Type
	OccurredAt
	RecordedAt
	Owner
	SKU
	GTIN
	Lot
	Expiry
	Qty
	UOM
	From
	To
	SSCC
	Reference
	Reason
	Reverses
	User
	Note
	Version
	Expected
	SiteCode
	NumFields
)

var fieldNames = [NumFields]string{"id", "type", "occurred_at", "recorded_at", "owner", "sku", "gtin", "lot", "expiry",
	"qty", "uom", "from", "to", "sscc", "reference", "reason", "reverses", "user", "note", "version", "expected", "site"}

func (f Field) String() string {
	if f >= 0 && f < NumFields {
		return fieldNames[f]
	}
	return fmt.Sprintf("Field(%d)", int(f))
}

// FieldByName finds a field by its configuration name ("occurred_at").
func FieldByName(name string) (Field, bool) {
	for i, n := range fieldNames {
		if n == name {
			return Field(i), true
		}
	}
	return 0, false
}

// FieldNames lists the field names in order.
func FieldNames() []string { return fieldNames[:] }

// Required are the fields a record must have (from its source, an
// extraction or a default).
var Required = []Field{ID, Type, OccurredAt, SKU, Qty, UOM}

// Config is the mapping block of an inbox's configuration.
type Config struct {
	// Types maps the source's movement type codes to events. Required.
	Types map[string]TypeRule `json:"types"`
	// Reasons maps reason codes to status changes, for status_changed types.
	Reasons map[string]ReasonRule `json:"reasons"`
	// Extract derives a field from another with a regular expression whose
	// first group is the value, e.g. expected from a note "book was 14".
	Extract map[string]ExtractRule `json:"extract"`
	// Defaults are constants for fields the source lacks or leaves empty.
	Defaults map[string]string `json:"defaults"`
	// TimeLayout is the Go layout of occurred_at and recorded_at; default
	// "2006-01-02 15:04:05". "RFC3339" reads times with their offset.
	TimeLayout string `json:"time_layout"`
	// DateLayout is the Go layout of expiry; default "2006-01-02".
	DateLayout string `json:"date_layout"`
	// TimeZone is the IANA zone of wall times; default the site's.
	TimeZone string `json:"time_zone"`
	// DecimalComma reads "12,5" as 12.5 (a value with a '.' is then refused
	// as ambiguous).
	DecimalComma bool `json:"decimal_comma"`
	// NegativeQuantity is "abs" (default: the absolute value, the locations
	// as written) or "reject".
	NegativeQuantity string `json:"negative_quantity"`
	// RequireItems rejects records whose item is not in the item master.
	RequireItems bool `json:"require_items"`
}

// TypeRule says what one movement type is.
type TypeRule struct {
	// Event is "moved", "status_changed" or "counted".
	Event string `json:"event"`
	// Movement is the canonical movement type of a "moved" event.
	Movement string `json:"movement"`
	// OrderReference marks the reference field as an order number of the
	// owner: the event's correlation id becomes "order:<owner>:<reference>".
	OrderReference bool `json:"order_reference"`
}

// ReasonRule is the status change a reason code stands for.
type ReasonRule struct {
	From string `json:"from"` // e.g. "available"
	To   string `json:"to"`   // e.g. "on_hold", "damaged"
}

// ExtractRule derives a field from another.
type ExtractRule struct {
	From    string `json:"from"`    // the field it reads, e.g. "note"
	Pattern string `json:"pattern"` // a regular expression with one group
}

// Site is what the mapping needs of the site and the source.
type Site struct {
	Origin canonical.Origin
	// Zone is the site's time zone.
	Zone *time.Location
	// Owner is the default owner id.
	Owner string
	// Items is the item master, by owner and SKU (see ItemKey).
	Items map[string]*canonical.Item
	// Units maps the site's unit codes to Rec 20/21 codes.
	Units map[string]string
}

// ItemKey is the key of Site.Items.
func ItemKey(owner, sku string) string { return owner + "\x00" + sku }

// ResolveUnit turns a source unit code into a Rec 20/21 code: the site's
// table, then the X12 codes, then the code itself when it is Rec 20/21.
func ResolveUnit(code string, table map[string]string) (string, bool) {
	if v, ok := table[code]; ok {
		return v, units.Known(v)
	}
	if v, ok := units.FromX12(code); ok {
		return v, true
	}
	return code, units.Known(code)
}

// FieldError is a configuration problem; Path is relative to the mapping.
type FieldError struct{ Path, Msg string }

// Mapper is a compiled Config. It is safe for concurrent use.
type Mapper struct {
	site         Site
	zone         *time.Location
	types        map[string]typeRule
	reasons      map[string][2]canonical.InventoryStatus
	extract      [NumFields]*extraction
	defaults     [NumFields]string
	layout       string // "" for RFC 3339
	date         string
	comma        bool
	rejectNeg    bool
	requireItems bool
}

type typeRule struct {
	kind     int // kindMoved, kindStatus, kindCounted
	movement canonical.MovementType
	auto     bool // adjustment: in or out by the locations
	orderRef bool
}

const (
	kindMoved = iota + 1
	kindStatus
	kindCounted
)

type extraction struct {
	from Field
	re   *regexp.Regexp
}

var movementTypes = map[string]canonical.MovementType{
	"receipt":        canonical.MovementType_MOVEMENT_TYPE_RECEIPT,
	"putaway":        canonical.MovementType_MOVEMENT_TYPE_PUTAWAY,
	"transfer":       canonical.MovementType_MOVEMENT_TYPE_TRANSFER,
	"replenishment":  canonical.MovementType_MOVEMENT_TYPE_REPLENISHMENT,
	"pick":           canonical.MovementType_MOVEMENT_TYPE_PICK,
	"pack":           canonical.MovementType_MOVEMENT_TYPE_PACK,
	"ship":           canonical.MovementType_MOVEMENT_TYPE_SHIP,
	"adjustment_in":  canonical.MovementType_MOVEMENT_TYPE_ADJUSTMENT_IN,
	"adjustment_out": canonical.MovementType_MOVEMENT_TYPE_ADJUSTMENT_OUT,
	"return":         canonical.MovementType_MOVEMENT_TYPE_RETURN,
	"scrap":          canonical.MovementType_MOVEMENT_TYPE_SCRAP,
	"adjustment":     canonical.MovementType_MOVEMENT_TYPE_UNSPECIFIED,
}

// New compiles cfg. It returns every problem found.
func New(cfg Config, site Site) (*Mapper, []FieldError) {
	var errs []FieldError
	bad := func(path, format string, args ...any) {
		errs = append(errs, FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	m := &Mapper{site: site, zone: site.Zone, types: map[string]typeRule{}, reasons: map[string][2]canonical.InventoryStatus{},
		layout: cfg.TimeLayout, date: cfg.DateLayout, comma: cfg.DecimalComma, requireItems: cfg.RequireItems}
	if cfg.TimeZone != "" {
		z, err := localtime.LoadZone(cfg.TimeZone)
		if err != nil {
			bad("time_zone", "%v", err)
		}
		m.zone = z
	}
	switch m.layout {
	case "":
		m.layout = "2006-01-02 15:04:05"
	case "RFC3339", "rfc3339":
		m.layout = ""
	default:
		if _, err := localtime.ParseWall(m.layout, time.Date(2025, 3, 14, 6, 12, 40, 0, time.UTC).Format(m.layout)); err != nil {
			bad("time_layout", "%q is not a usable wall-time layout (use \"RFC3339\" for times with an offset): %v", cfg.TimeLayout, err)
		}
	}
	if m.date == "" {
		m.date = "2006-01-02"
	}
	switch cfg.NegativeQuantity {
	case "", "abs":
	case "reject":
		m.rejectNeg = true
	default:
		bad("negative_quantity", "want \"abs\" or \"reject\", got %q", cfg.NegativeQuantity)
	}
	if len(cfg.Types) == 0 {
		bad("types", "required: map each movement type code to an event")
	}
	for _, code := range sortedKeys(cfg.Types) {
		r := cfg.Types[code]
		path := "types." + code
		tr := typeRule{orderRef: r.OrderReference}
		switch r.Event {
		case "moved", "inventory.moved", "logistics.inventory.moved":
			tr.kind = kindMoved
			mt, ok := movementTypes[r.Movement]
			if !ok {
				bad(path+".movement", "want one of %s, got %q", strings.Join(sortedKeys(movementTypes), ", "), r.Movement)
			}
			tr.movement, tr.auto = mt, r.Movement == "adjustment"
		case "status_changed", "inventory.status_changed", "logistics.inventory.status_changed":
			tr.kind = kindStatus
		case "counted", "inventory.counted", "logistics.inventory.counted":
			tr.kind = kindCounted
		default:
			bad(path+".event", "want moved, status_changed or counted, got %q", r.Event)
		}
		if tr.kind != kindMoved && r.Movement != "" {
			bad(path+".movement", "only for moved events")
		}
		m.types[code] = tr
	}
	for _, code := range sortedKeys(cfg.Reasons) {
		r := cfg.Reasons[code]
		from, okF := canonical.ParseEnumName(canonical.InventoryStatus(0), r.From)
		to, okT := canonical.ParseEnumName(canonical.InventoryStatus(0), r.To)
		if !okF {
			bad("reasons."+code+".from", "%q is not an inventory status (available, on_hold, damaged, expired, in_transit, pending_putaway)", r.From)
		}
		if !okT {
			bad("reasons."+code+".to", "%q is not an inventory status", r.To)
		}
		if okF && okT && from == to {
			bad("reasons."+code, "from and to are both %s", r.From)
		}
		m.reasons[code] = [2]canonical.InventoryStatus{from, to}
	}
	for _, name := range sortedKeys(cfg.Extract) {
		r := cfg.Extract[name]
		f, ok := FieldByName(name)
		if !ok {
			bad("extract."+name, "not a field (%s)", strings.Join(fieldNames[:], ", "))
			continue
		}
		from, ok := FieldByName(r.From)
		if !ok {
			bad("extract."+name+".from", "%q is not a field", r.From)
			continue
		}
		re, err := regexp.Compile(r.Pattern)
		if err != nil {
			bad("extract."+name+".pattern", "%v", err)
			continue
		}
		if re.NumSubexp() != 1 {
			bad("extract."+name+".pattern", "want exactly one group, the value; has %d", re.NumSubexp())
			continue
		}
		m.extract[f] = &extraction{from: from, re: re}
	}
	for _, name := range sortedKeys(cfg.Defaults) {
		f, ok := FieldByName(name)
		if !ok {
			bad("defaults."+name, "not a field")
			continue
		}
		m.defaults[f] = cfg.Defaults[name]
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return m, nil
}

// WithOrigin returns a copy of m that makes events of origin o (one
// mapping serves several inboxes, each a source of its own).
func (m *Mapper) WithOrigin(o canonical.Origin) *Mapper {
	c := *m
	c.site.Origin = o
	return &c
}

// Derived reports whether a field gets its value without a source column
// (an extraction or a default).
func (m *Mapper) Derived(f Field) bool {
	return m.extract[f] != nil || m.defaults[f] != ""
}

// Row is one record's values.
type Row struct {
	// Values holds each field's text as the source wrote it ("" absent).
	Values [NumFields]string
	// Where locates each field for error messages ("12" for a column,
	// "line:col"), "" when unknown.
	Where [NumFields]string
	// Ref locates the record, e.g. "movements.csv:14".
	Ref string
	// Raw is the record as read, for hashing and for rejects.
	Raw []byte
}

// Reject is a record that cannot become an event.
type Reject struct {
	Code   string
	Reason string
	// Field is the field at fault, or -1.
	Field Field
}

// Result is what one record maps to: an event (and maybe a warning), or a
// reject.
type Result struct {
	Event   *canonical.Event
	Reject  *Reject
	Warning *Reject
}

// Codes of the rejects this package makes (others come from canonical,
// gs1, units and localtime: invalid_gtin via gs1_check_digit …).
const (
	CodeMissing       = "missing_field"     // a required field is empty
	CodeUnknownCode   = "unknown_code"      // a movement type or reason code not in the tables
	CodeBadNumber     = "bad_number"        // a quantity that is not a decimal
	CodeBadTime       = "bad_time"          // a time that does not match the layout
	CodeBadDate       = "bad_date"          // an expiry that does not match the layout
	CodeUnitUnknown   = "unit_unknown"      // a unit no table knows
	CodeItemUnknown   = "item_unknown"      // RequireItems and the item is not in the master
	CodeNegative      = "negative_quantity" // a negative quantity (NegativeQuantity reject, or a count)
	CodeZero          = "zero_quantity"     // a movement or status change of nothing
	CodeDirection     = "bad_direction"     // an adjustment with both or neither location
	CodeInvalid       = "invalid_record"    // the canonical model refuses the event
	CodeRepeated      = "repeated_field"    // an XML record gives a mapped field twice
	CodeForeignSite   = "foreign_site"      // the record's site field names another site
	CodeTimeAmbiguous = "time_ambiguous"    // warning: a wall time in a fall-back hour
)

func rej(code string, f Field, format string, args ...any) Result {
	return Result{Reject: &Reject{Code: code, Reason: fmt.Sprintf(format, args...), Field: f}}
}

// Map maps one record.
func (m *Mapper) Map(r *Row) Result {
	v := r.Values
	for f := Field(0); f < NumFields; f++ {
		if x := m.extract[f]; x != nil && v[f] == "" {
			if sm := x.re.FindStringSubmatch(v[x.from]); sm != nil {
				v[f] = strings.TrimSpace(sm[1])
			}
		}
		if v[f] == "" {
			v[f] = m.defaults[f]
		}
	}
	for _, f := range Required {
		if v[f] == "" {
			return rej(CodeMissing, f, "%s is empty", f)
		}
	}
	if v[Owner] == "" {
		v[Owner] = m.site.Owner
	}
	if v[SiteCode] != "" && v[SiteCode] != m.site.Origin.SiteID {
		return rej(CodeForeignSite, SiteCode, "the record belongs to site %q, not %q", v[SiteCode], m.site.Origin.SiteID)
	}
	tr, ok := m.types[v[Type]]
	if !ok {
		return rej(CodeUnknownCode, Type, "movement type %q is not in the mapping's types", v[Type])
	}
	occurred, warn, res := m.time(v[OccurredAt], OccurredAt)
	if res.Reject != nil {
		return res
	}
	var opts []canonical.EventOption
	switch v[RecordedAt] {
	case "":
	case v[OccurredAt]: // often: recorded as it happened
		opts = append(opts, canonical.WithRecordedTime(occurred))
	default:
		rec, _, res := m.time(v[RecordedAt], RecordedAt)
		if res.Reject != nil {
			return res
		}
		opts = append(opts, canonical.WithRecordedTime(rec))
	}
	if tr.orderRef && v[Reference] != "" {
		opts = append(opts, canonical.WithCorrelation("order:"+v[Owner]+":"+v[Reference]))
	}
	item := &canonical.ItemRef{OwnerId: v[Owner], Sku: v[SKU], Gtin: v[GTIN], Lot: v[Lot]}
	if v[Expiry] != "" {
		d, err := time.Parse(m.date, v[Expiry])
		if err != nil {
			return rej(CodeBadDate, Expiry, "expiry %q does not match the layout %q", v[Expiry], m.date)
		}
		item.ExpiryDate = d.Format("2006-01-02")
	}
	if v[GTIN] != "" {
		if err := gs1.ValidateGTIN(v[GTIN]); err != nil {
			return rej(codeOf(err, "invalid_gtin"), GTIN, "%v", err)
		}
	}
	if v[SSCC] != "" {
		if err := gs1.ValidateSSCC(v[SSCC]); err != nil {
			return rej(codeOf(err, "invalid_sscc"), SSCC, "%v", err)
		}
	}
	qty, neg, res := m.number(v[Qty], Qty)
	if res.Reject != nil {
		return res
	}
	if neg && (m.rejectNeg || tr.kind == kindCounted) {
		return rej(CodeNegative, Qty, "quantity %s is negative", v[Qty])
	}
	if tr.kind != kindCounted && qty.IsZero() {
		return rej(CodeZero, Qty, "quantity %s is zero", v[Qty])
	}
	uom, ok := ResolveUnit(v[UOM], m.site.Units)
	if !ok {
		return rej(CodeUnitUnknown, UOM, "unit %q is in neither the site's unit table, the X12 unit codes nor UN/ECE Rec 20/21", v[UOM])
	}
	received := canonical.QtyOf(qty, uom)
	received.Value = absText(v[Qty], m.comma)
	quantity, res := m.convert(item, received, Qty)
	if res.Reject != nil {
		return res
	}

	origin := m.site.Origin
	version := v[Version]
	if version == "" {
		sum := sha256.Sum256(r.Raw)
		version = hex.EncodeToString(sum[:8])
	}
	record := canonical.Record{Key: v[ID], Version: version, Ref: r.Ref}
	var data canonical.Data
	switch tr.kind {
	case kindMoved:
		mv := &canonical.InventoryMovement{SourceKey: v[ID], MovementType: tr.movement, Item: item,
			From: m.loc(v[From]), To: m.loc(v[To]), Quantity: quantity, ReasonCode: v[Reason], Reverses: v[Reverses],
			Sscc: v[SSCC], Reference: v[Reference], UserId: v[User], Note: v[Note]}
		if quantity != received {
			mv.ReceivedQuantity = received
		}
		if tr.auto {
			switch {
			case mv.From == nil && mv.To != nil:
				mv.MovementType = canonical.MovementType_MOVEMENT_TYPE_ADJUSTMENT_IN
			case mv.From != nil && mv.To == nil:
				mv.MovementType = canonical.MovementType_MOVEMENT_TYPE_ADJUSTMENT_OUT
			default:
				return rej(CodeDirection, From, "an adjustment needs exactly one of from and to (from %q, to %q)", v[From], v[To])
			}
		}
		data = &canonical.InventoryMoved{Movement: mv}
	case kindStatus:
		st, ok := m.reasons[v[Reason]]
		if !ok {
			return rej(CodeUnknownCode, Reason, "reason %q of a status change is not in the mapping's reasons", v[Reason])
		}
		sc := &canonical.InventoryStatusChanged{SourceKey: v[ID], Item: item, Quantity: quantity,
			FromStatus: st[0], ToStatus: st[1], ReasonCode: v[Reason], Reference: v[Reference], Note: v[Note]}
		switch {
		case v[From] != "":
			sc.Location = m.loc(v[From])
			if v[To] != "" && v[To] != v[From] {
				sc.ToLocation = m.loc(v[To])
			}
		default:
			sc.Location = m.loc(v[To])
		}
		data = sc
	case kindCounted:
		c := &canonical.InventoryCounted{SourceKey: v[ID], Item: item, Counted: quantity, CountId: v[ID], ReasonCode: v[Reason]}
		c.Location = m.loc(v[To])
		if c.Location == nil {
			c.Location = m.loc(v[From])
		}
		if v[Expected] != "" {
			e, eneg, res := m.number(v[Expected], Expected)
			if res.Reject != nil {
				return res
			}
			if eneg {
				return rej(CodeNegative, Expected, "expected quantity %s is negative", v[Expected])
			}
			eq, res := m.convert(&canonical.ItemRef{OwnerId: item.OwnerId, Sku: item.Sku}, canonical.QtyOf(e, uom), Expected)
			if res.Reject != nil {
				return res
			}
			c.Expected = eq
		}
		data = c
	}
	ev, err := canonical.NewEvent(origin, record, occurred, data, opts...)
	if err != nil {
		var ve *canonical.ValidationError
		if errors.As(err, &ve) {
			return rej(CodeInvalid, -1, "%s", problems(ve))
		}
		return rej(CodeInvalid, -1, "%v", err)
	}
	return Result{Event: ev, Warning: warn}
}

func (m *Mapper) loc(code string) *canonical.Location {
	if code == "" {
		return nil
	}
	return &canonical.Location{SiteId: m.site.Origin.SiteID, Code: code}
}

// time reads a time field.
func (m *Mapper) time(s string, f Field) (time.Time, *Reject, Result) {
	if m.layout == "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, nil, rej(CodeBadTime, f, "%s %q is not an RFC 3339 time with an offset", f, s)
		}
		return t, nil, Result{}
	}
	w, err := localtime.ParseWall(m.layout, s)
	if err != nil {
		return time.Time{}, nil, rej(CodeBadTime, f, "%s %q does not match the layout %q", f, s, m.layout)
	}
	res, err := localtime.Resolve(w, m.zone)
	if err != nil {
		return time.Time{}, nil, rej(codeOf(err, CodeBadTime), f, "%s %q in %s: %v", f, s, m.zone, err)
	}
	var warn *Reject
	if res.Ambiguous {
		warn = &Reject{Code: CodeTimeAmbiguous, Field: f,
			Reason: fmt.Sprintf("%s %q occurred twice in %s (clocks went back); read as the earlier, %s", f, s, m.zone, res.Time.Format(time.RFC3339))}
	}
	return res.Time.In(m.zone), warn, Result{}
}

// number reads a decimal, returning its absolute value and its sign.
func (m *Mapper) number(s string, f Field) (decimal.Decimal, bool, Result) {
	t := strings.TrimSpace(s)
	if m.comma {
		if strings.ContainsRune(t, '.') {
			return decimal.Decimal{}, false, rej(CodeBadNumber, f, "%s %q: a '.' in a decimal-comma number is ambiguous", f, s)
		}
		t = strings.Replace(t, ",", ".", 1)
	}
	neg := strings.HasPrefix(t, "-")
	t = strings.TrimPrefix(strings.TrimPrefix(t, "-"), "+")
	d, err := canonical.ParseDecimal(t)
	if err != nil || t == "" {
		return decimal.Decimal{}, false, rej(CodeBadNumber, f, "%s %q is not a decimal number", f, s)
	}
	return d, neg && !d.IsZero(), Result{}
}

// absText writes a quantity as given, without sign, with a '.' decimal
// point: "-1" → "1", "12,500" → "12.500".
func absText(s string, comma bool) string {
	t := strings.TrimSpace(s)
	if comma {
		t = strings.Replace(t, ",", ".", 1)
	}
	return strings.TrimPrefix(strings.TrimPrefix(t, "-"), "+")
}

// convert expresses q in the item's base unit when the item is in the
// master, checking the GTIN against the level of q's unit.
func (m *Mapper) convert(item *canonical.ItemRef, q *canonical.Quantity, f Field) (*canonical.Quantity, Result) {
	it := m.site.Items[ItemKey(item.GetOwnerId(), item.GetSku())]
	if it == nil {
		if m.requireItems {
			return nil, rej(CodeItemUnknown, SKU, "item %s/%s is not in the item master", item.GetOwnerId(), item.GetSku())
		}
		return q, Result{}
	}
	if item.Gtin != "" {
		p, ok := it.PackForGTIN(item.Gtin)
		switch {
		case !ok:
			return nil, rej("gtin_unknown", GTIN, "gtin %s is not a pack level of item %s", item.Gtin, it.GetSku())
		case sameUnit(p.GetUom(), q.GetUom()):
		case levelGTIN(it, q.GetUom()) != "":
			return nil, rej("gtin_level_mismatch", GTIN, "gtin %s identifies %s of item %s, but the quantity is in %s (gtin %s)",
				item.Gtin, p.GetUom(), it.GetSku(), q.GetUom(), levelGTIN(it, q.GetUom()))
		default:
			item.Gtin = "" // another level's GTIN; the record's level has none
		}
	}
	base, err := it.ToBase(q)
	if err != nil {
		return nil, rej(codeOf(err, "uom_not_in_pack_hierarchy"), f, "%v", err)
	}
	if sameUnit(base.GetUom(), q.GetUom()) {
		return q, Result{} // already in the base unit: keep it as written
	}
	return base, Result{}
}

func levelGTIN(it *canonical.Item, uom string) string {
	for _, p := range it.GetPacks() {
		if sameUnit(p.GetUom(), uom) {
			return p.GetGtin()
		}
	}
	return ""
}

// sameUnit treats EA, H87 and C62 as one unit.
func sameUnit(a, b string) bool {
	if a == b {
		return true
	}
	ua, okA := units.Lookup(a)
	ub, okB := units.Lookup(b)
	one := decimal.NewFromInt(1)
	return okA && okB && ua.Dimension == units.Count && ub.Dimension == units.Count && ua.Factor.Equal(one) && ub.Factor.Equal(one)
}

func codeOf(err error, fallback string) string {
	var c interface{ Code() string }
	if errors.As(err, &c) && c.Code() != "" {
		return c.Code()
	}
	return fallback
}

func problems(ve *canonical.ValidationError) string {
	var b strings.Builder
	for i, p := range ve.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
