package canonical

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/draylink/dray/canonical/codes"
	"github.com/draylink/dray/canonical/gs1"
	"github.com/draylink/dray/canonical/localtime"
	"github.com/draylink/dray/canonical/units"
	"github.com/shopspring/decimal"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Problem is one thing wrong with an event.
type Problem struct {
	// Path locates the field in the event's JSON form, e.g.
	// "data.movement.quantity.value" or "siteid".
	Path string `json:"path"`
	// Code is stable and machine-readable, e.g. "required", "invalid_gtin".
	Code string `json:"code"`
	// Message explains the problem to a human.
	Message string `json:"message"`
}

func (p Problem) String() string { return p.Path + ": " + p.Message + " (" + p.Code + ")" }

// ValidationError lists every problem found in an event, in field order.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	const show = 5
	var b strings.Builder
	fmt.Fprintf(&b, "invalid event: %d problem(s): ", len(e.Problems))
	for i, p := range e.Problems {
		if i == show {
			fmt.Fprintf(&b, "; and %d more", len(e.Problems)-show)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Codes returns the distinct problem codes, in order of first appearance.
func (e *ValidationError) Codes() []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range e.Problems {
		if !seen[p.Code] {
			seen[p.Code] = true
			out = append(out, p.Code)
		}
	}
	return out
}

// Times outside this window are refused as a likely unit or parsing mistake
// (seconds read as milliseconds, a zero date).
var (
	minEventTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxEventTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// ValidSiteID reports whether s can be a site id: 1 to 32 ASCII letters,
// digits, '_', '.' or '-', starting with a letter or digit. Site ids appear in
// MQTT topics and certificates, so nothing else is allowed.
func ValidSiteID(s string) bool {
	if len(s) == 0 || len(s) > 32 || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// validTraceparent checks the W3C trace context shape vv-32hex-16hex-2hex.
func validTraceparent(s string) bool {
	if len(s) != 55 || s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i == 2 || i == 35 || i == 52 {
			continue
		}
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Validate checks an event against the model: every (rules) annotation of
// every field present, the envelope's consistency with its data, and the
// cross-field rules of each entity. It returns nil or a *ValidationError with
// every problem found.
func Validate(e *Event) error {
	v := newValidator()
	v.event(e)
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.problems}
}

// ValidateMessage checks any message of the model that is not an event, such
// as an Item of a connector's item master, with the same rules; paths start
// at the message.
func ValidateMessage(m proto.Message) error {
	if e, ok := m.(*Event); ok {
		return Validate(e)
	}
	vm, ok := m.(validatable)
	if !ok {
		return fmt.Errorf("validate: %T is not a message of the canonical model", m)
	}
	v := newValidator()
	v.message(vm)
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.problems}
}

// validatable is implemented by every generated message: validateFields
// applies the (rules) annotations of its fields (generated, *_json.pb.go).
type validatable interface {
	validateFields(v *validator)
}

// noRules is the rules of a field without annotations.
var noRules = &FieldRules{}

type validator struct {
	problems []Problem
	path     pathStack
	pathBuf  [16]pathElem // backs path: the model nests fewer than 16 levels
}

func newValidator() *validator {
	v := &validator{}
	v.path.elems = v.pathBuf[:0]
	return v
}

func (v *validator) add(code, format string, args ...any) {
	v.problems = append(v.problems, Problem{Path: v.path.String(), Code: code, Message: fmt.Sprintf(format, args...)})
}

// at adds a problem at a child field of the current path.
func (v *validator) at(field, code, format string, args ...any) {
	v.path.push(field)
	v.add(code, format, args...)
	v.path.pop()
}

func (v *validator) event(e *Event) {
	if e == nil {
		v.add("required", "event is nil")
		return
	}
	e.validateEnvelope(v)
	v.path.push("data")
	hasData := e.validateData(v)
	if !hasData {
		v.add("required", "data is missing")
	}
	v.path.pop()

	if e.GetSiteId() != "" && !ValidSiteID(e.GetSiteId()) {
		v.at("siteid", "invalid_site_id", "site id %q: want 1-32 of A-Z a-z 0-9 _ . - starting with a letter or digit", e.GetSiteId())
	}
	var d Data
	if hasData {
		d = e.Payload()
	}
	if e.GetType() != "" {
		t, ok := LookupType(e.GetType())
		switch {
		case !ok:
			v.at("type", "unknown_type", "unknown event type %q", e.GetType())
		case d != nil && TypeOf(d) != t:
			v.at("type", "type_mismatch", "type is %q but data is %s", e.GetType(), TypeOf(d).Name)
		}
	}
	if d != nil && e.GetSubject() != "" {
		if want := SubjectOf(d); e.GetSubject() != want {
			v.at("subject", "subject_mismatch", "subject is %q but the data's aggregate is %q", e.GetSubject(), want)
		}
	}
	if tp := e.GetTraceparent(); tp != "" && !validTraceparent(tp) {
		v.at("traceparent", "invalid_traceparent", "traceparent %q is not W3C trace context", tp)
	}
}

// message validates a nested message: its fields, then its entity's
// cross-field rules.
func (v *validator) message(m validatable) {
	m.validateFields(v)
	v.semantics(m)
}

func (v *validator) enum(n int32, names []string, enum string, required bool) {
	switch {
	case n == 0:
		if required {
			v.add("required", "required")
		}
	case n < 0 || int(n) >= len(names) || names[n] == "":
		v.add("unknown_enum", "%d is not a value of %s", n, enum)
	}
}

func (v *validator) integer(n int64, required bool) {
	switch {
	case n == 0 && required:
		v.add("required", "required")
	case n < 0:
		v.add("negative", "must not be negative")
	}
}

func (v *validator) str(s string, r *FieldRules) {
	if s == "" {
		if r.GetRequired() {
			v.add("required", "required")
		}
		return
	}
	if !utf8.ValidString(s) {
		v.add("invalid_utf8", "not valid UTF-8")
		return
	}
	if max := int(r.GetMaxLen()); max > 0 && len(s) > max {
		v.add("too_long", "%d bytes, at most %d allowed", len(s), max)
		return
	}
	if code, msg := checkFormat(r.GetFormat(), s); code != "" {
		v.add(code, "%s", msg)
		return
	}
	if r.GetFormat() == Format_FORMAT_DECIMAL && (r.GetPositive() || r.GetNonNegative()) {
		v.signOfString(s, r)
	}
}

// checkFormat returns a problem code and message, or "" when s conforms.
func checkFormat(f Format, s string) (code, msg string) {
	switch f {
	case Format_FORMAT_GTIN:
		return codeOf("invalid_gtin", gs1.ValidateGTIN(s))
	case Format_FORMAT_SSCC:
		return codeOf("invalid_sscc", gs1.ValidateSSCC(s))
	case Format_FORMAT_GLN:
		return codeOf("invalid_gln", gs1.ValidateGLN(s))
	case Format_FORMAT_GSIN:
		return codeOf("invalid_gsin", gs1.ValidateGSIN(s))
	case Format_FORMAT_COUNTRY:
		if !codes.ValidCountry(s) {
			return "invalid_country", fmt.Sprintf("%q is not an ISO 3166-1 alpha-2 country code", s)
		}
	case Format_FORMAT_CURRENCY:
		if !codes.ValidCurrency(s) {
			return "invalid_currency", fmt.Sprintf("%q is not an ISO 4217 currency code", s)
		}
	case Format_FORMAT_UNLOCODE:
		if !codes.ValidUNLOCODE(s) {
			return "invalid_unlocode", fmt.Sprintf("%q is not a UN/LOCODE (country + 3 of A-Z 2-9)", s)
		}
	case Format_FORMAT_SCAC:
		if !codes.ValidSCAC(s) {
			return "invalid_scac", fmt.Sprintf("%q is not a SCAC (2-4 capital letters)", s)
		}
	case Format_FORMAT_DATE:
		if _, err := time.Parse(time.DateOnly, s); err != nil || len(s) != len(time.DateOnly) {
			return "invalid_date", fmt.Sprintf("%q is not a date YYYY-MM-DD", s)
		}
	case Format_FORMAT_UOM:
		if !units.Known(s) {
			return "unknown_uom", fmt.Sprintf("%q is not a known UN/ECE Rec 20/21 unit code", s)
		}
	case Format_FORMAT_PACKAGE_TYPE:
		if u, ok := units.Lookup(s); !ok || u.Dimension != units.Package {
			return "invalid_package_type", fmt.Sprintf("%q is not a UN/ECE Rec 21 package type (X prefix)", s)
		}
	case Format_FORMAT_DECIMAL:
		if err := checkDecimalSyntax(s); err != nil {
			return "invalid_decimal", err.Error()
		}
	case Format_FORMAT_UUID:
		if !validUUID(s) {
			return "invalid_uuid", fmt.Sprintf("%q is not a lower-case UUID", s)
		}
	case Format_FORMAT_TIME_ZONE:
		if _, err := localtime.LoadZone(s); err != nil {
			return "invalid_time_zone", err.Error()
		}
	case Format_FORMAT_URI:
		if !absoluteURI(s) {
			return "invalid_uri", fmt.Sprintf("%q is not an absolute URI", s)
		}
	case Format_FORMAT_UTC_OFFSET:
		if _, err := localtime.ParseOffset(s); err != nil {
			return "invalid_offset", err.Error()
		}
	}
	return "", ""
}

func codeOf(code string, err error) (string, string) {
	if err == nil {
		return "", ""
	}
	return code, err.Error()
}

// signOfMessage applies positive / non_negative to a Quantity or Money field.
func (v *validator) signOfMessage(m any, r *FieldRules) {
	switch x := m.(type) {
	case *Quantity:
		if checkDecimalSyntax(x.GetValue()) == nil {
			v.signOfString(x.GetValue(), r)
		}
	case *Money:
		if checkDecimalSyntax(x.GetAmount()) == nil {
			v.signOfString(x.GetAmount(), r)
		}
	}
}

// signOfString applies a sign rule to a syntactically valid decimal string
// without parsing it into a number: it is negative when it starts with '-'
// and is not zero, positive when it is neither negative nor zero.
func (v *validator) signOfString(s string, r *FieldRules) {
	zero := true
	for i := 0; i < len(s); i++ {
		if s[i] >= '1' && s[i] <= '9' {
			zero = false
			break
		}
	}
	negative := !zero && s[0] == '-'
	switch {
	case r.GetPositive() && (zero || negative):
		v.add("not_positive", "%s must be greater than zero", s)
	case r.GetNonNegative() && negative:
		v.add("negative", "%s must not be negative", s)
	}
}

// absoluteURI checks an RFC 3986 absolute URI's shape: a scheme (a letter,
// then letters, digits, '+', '-', '.'), a colon, and a non-empty rest
// without spaces or control characters.
func absoluteURI(s string) bool {
	colon := strings.IndexByte(s, ':')
	if colon < 1 || colon == len(s)-1 {
		return false
	}
	for i := 0; i < colon; i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		other := c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
		if !letter && (i == 0 || !other) {
			return false
		}
	}
	for i := colon + 1; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// validUUID checks the lower-case 8-4-4-4-12 hex form.
func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}

func (v *validator) timestamp(ts *timestamppb.Timestamp) {
	if err := ts.CheckValid(); err != nil {
		v.add("invalid_time", "%v", err)
		return
	}
	if t := ts.AsTime(); t.Before(minEventTime) || !t.Before(maxEventTime) {
		v.add("time_out_of_range", "%s is outside %d-%d", t.Format(time.RFC3339), minEventTime.Year(), maxEventTime.Year()-1)
	}
}

// semantics applies the cross-field rules of an entity.
func (v *validator) semantics(m any) {
	switch x := m.(type) {
	case *InventoryMovement:
		if x.GetFrom() == nil && x.GetTo() == nil {
			v.add("location_required", "a movement needs a from or a to location")
		}
		if x.GetReverses() != "" && x.GetReverses() == x.GetSourceKey() {
			v.at("reverses", "self_reversal", "a movement cannot reverse itself")
		}
	case *InventoryStatusChanged:
		if x.GetFromStatus() != 0 && x.GetFromStatus() == x.GetToStatus() {
			v.at("toStatus", "status_unchanged", "from and to status are both %s", EnumName(x.GetToStatus()))
		}
	case *TimeWindow:
		if x.GetStart() != nil && x.GetEnd() != nil && x.GetEnd().AsTime().Before(x.GetStart().AsTime()) {
			v.at("end", "window_reversed", "end is before start")
		}
	case *Item:
		v.item(x)
	case *OrderLine:
		v.sameUnit(x.GetOrdered().GetUom(), x.GetQuantities())
	case *OrderLineStatusChanged:
		v.sameUnit(x.GetQuantities().GetOrdered().GetUom(), x.GetQuantities())
	case *ShippedLine:
		switch x.GetStatus() {
		case OrderLineStatus_ORDER_LINE_STATUS_SHIPPED, OrderLineStatus_ORDER_LINE_STATUS_SHORT_SHIPPED,
			OrderLineStatus_ORDER_LINE_STATUS_BACKORDERED:
		case 0:
		default:
			v.at("status", "invalid_status", "a shipped line is shipped, short_shipped or backordered, not %s", EnumName(x.GetStatus()))
		}
	case *ShipmentStatusChanged:
		if want := StatusOfMilestone(x.GetMilestone()); x.GetStatus() != 0 && want != 0 && x.GetStatus() != want {
			v.at("status", "status_mismatch", "milestone %s implies status %s, not %s",
				EnumName(x.GetMilestone()), EnumName(want), EnumName(x.GetStatus()))
		}
	case *InventorySnapshot:
		if x.GetParts() != 0 && (x.GetPart() < 1 || x.GetPart() > x.GetParts()) {
			v.at("part", "invalid_part", "part %d of %d", x.GetPart(), x.GetParts())
		}
	case *FreightChargeInvoiced:
		v.invoice(x)
	}
}

func (v *validator) item(x *Item) {
	seen := map[string]bool{}
	for i, p := range x.GetPacks() {
		if seen[p.GetUom()] {
			v.path.push("packs")
			v.path.index(i)
			v.at("uom", "duplicate_pack", "pack level %s appears twice", p.GetUom())
			v.path.pop()
			v.path.pop()
		}
		seen[p.GetUom()] = true
		if q, err := ParseDecimal(p.GetQtyInBase()); err == nil && units.IsCountable(x.GetBaseUom()) && !q.IsInteger() {
			v.path.push("packs")
			v.path.index(i)
			v.at("qtyInBase", "fractional_each", "a pack holds %s %s: not a whole number", p.GetQtyInBase(), x.GetBaseUom())
			v.path.pop()
			v.path.pop()
		}
	}
}

// sameUnit requires every bucket of a line in the unit of its ordered quantity.
func (v *validator) sameUnit(uom string, q *OrderLineQuantities) {
	if q == nil || uom == "" {
		return
	}
	buckets := []struct {
		name string
		q    *Quantity
	}{
		{"ordered", q.GetOrdered()}, {"cancelled", q.GetCancelled()}, {"allocated", q.GetAllocated()},
		{"picked", q.GetPicked()}, {"packed", q.GetPacked()}, {"loaded", q.GetLoaded()},
		{"shipped", q.GetShipped()}, {"delivered", q.GetDelivered()}, {"shortClosed", q.GetShortClosed()},
		{"backordered", q.GetBackordered()},
	}
	for _, b := range buckets {
		if b.q != nil && b.q.GetUom() != uom {
			v.path.push("quantities")
			v.at(b.name, "uom_mismatch", "bucket in %s, the line is in %s", b.q.GetUom(), uom)
			v.path.pop()
		}
	}
}

func (v *validator) invoice(x *FreightChargeInvoiced) {
	cur := x.GetTotal().GetCurrency()
	sum := decimal.Zero
	ok := true
	for i, l := range x.GetLines() {
		if l.GetAmount().GetCurrency() != cur {
			v.path.push("lines")
			v.path.index(i)
			v.path.push("amount")
			v.at("currency", "currency_mismatch", "line in %s, invoice in %s", l.GetAmount().GetCurrency(), cur)
			v.path.pop()
			v.path.pop()
			v.path.pop()
			ok = false
			continue
		}
		d, err := l.GetAmount().Decimal()
		if err != nil {
			ok = false
			continue
		}
		sum = sum.Add(d)
	}
	if total, err := x.GetTotal().Decimal(); ok && err == nil && len(x.GetLines()) > 0 && !total.Equal(sum) {
		v.at("total", "total_mismatch", "total %s is not the sum of the lines, %s", total.String(), sum.String())
	}
}

// pathStack renders JSON paths: "data.shipment.stops[2].seq".
type pathStack struct {
	elems []pathElem
}

type pathElem struct {
	name  string
	index int // >= 0 for an array index
}

func (s *pathStack) push(name string) { s.elems = append(s.elems, pathElem{name: name, index: -1}) }
func (s *pathStack) index(i int)      { s.elems = append(s.elems, pathElem{index: i}) }
func (s *pathStack) pop()             { s.elems = s.elems[:len(s.elems)-1] }

func (s *pathStack) String() string {
	var b strings.Builder
	for _, e := range s.elems {
		if e.index >= 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(e.index))
			b.WriteByte(']')
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(e.name)
	}
	return b.String()
}
