package wmssim

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/filedrop/x12"
)

// Bad input categories and the reject codes the connectors give for them:
// plugins/filedrop (x12, x12map, gs1, csvfile, movement) for files,
// plugins/sql for rows (a Via's Code overrides the record's where the
// table and the outbox differ).
const (
	BadCSVUnknownUnit   = "csv_unknown_unit"
	BadCSVBadNumber     = "csv_bad_number"
	BadCSVFieldCount    = "csv_field_count"
	BadCSVBadDate       = "csv_bad_date"
	BadCSVInvalidUTF8   = "csv_invalid_utf8"
	BadCSVUnclosedQuote = "csv_unclosed_quote"
	BadX12SECount       = "x12_se_count"
	BadX12BadSSCC       = "x12_bad_sscc"
	BadX12Truncated     = "x12_truncated"
	BadDBNullKey        = "db_null_key"
	BadDBOutOfRange     = "db_out_of_range"
)

// badCodes maps each category to the reject code expected for it.
var badCodes = map[string]string{
	BadCSVUnknownUnit:   "unit_unknown",
	BadCSVBadNumber:     "bad_number",
	BadCSVFieldCount:    "csv_field_count",
	BadCSVBadDate:       "bad_time",
	BadCSVInvalidUTF8:   "csv_bad_encoding",
	BadCSVUnclosedQuote: "csv_unclosed_quote",
	BadX12SECount:       x12.CodeSECount,
	BadX12BadSSCC:       "gs1_check_digit",
	BadX12Truncated:     x12.CodeTruncated,
	BadDBNullKey:        "sql_null_key",
	BadDBOutOfRange:     "sql_bad_value",
}

// BadCode returns the reject code expected for a bad-input category.
func BadCode(category string) string { return badCodes[category] }

func (s *Sim) newBad(category, scope string, where []Via, would []WouldBe) *Record {
	s.ids.badID++
	s.bad++
	s.kinds["bad:"+category]++
	return &Record{Rec: "bad", ID: "B" + strconv.FormatInt(s.ids.badID, 10), Category: category, Code: badCodes[category],
		Scope: scope, Where: where, WouldBe: would}
}

// junkMovement makes a movement that never happened, with its own id
// range (990000001 …), as the content of bad inputs.
func (s *Sim) junkMovement() *movement {
	r := s.rBad
	it := pick(r, s.w.Items())
	s.ids.junkMove++
	m := &movement{id: s.ids.junkMove, typ: pick(r, []string{"ADJUSTMENT", "PICK", "PUTAWAY"}), at: s.now, item: it,
		pack: it.OrderUOM, qty: int64(rangeInt(r, 1, 12)) * 1000, user: pick(r, users), version: s.ids.version, tech: s.tech(s.now)}
	switch m.typ {
	case "ADJUSTMENT":
		m.to, m.reason = it.PickFace.Code, "FOUND"
	case "PICK":
		m.from, m.to, m.ref = it.PickFace.Code, pick(r, s.w.stageOut).Code, fmt.Sprintf("SO-X%05d", r.IntN(100000))
	default:
		m.from, m.to = s.w.recvStage.Code, it.PickFace.Code
	}
	m.lot, m.expiry = s.lotFor(it, s.now.AddDate(0, 0, -10))
	return m
}

func (s *Sim) movementWouldBe(m *movement, source, key, version string) WouldBe {
	d := &canonical.InventoryMoved{Movement: &canonical.InventoryMovement{SourceKey: strconv.FormatInt(m.id, 10),
		Item: &canonical.ItemRef{OwnerId: m.item.Owner.ID, Sku: m.item.SKU}}}
	return WouldBe{Type: canonical.TypeOf(d).Name, Subject: canonical.SubjectOf(d), Key: canonical.FactKey(s.cfg.Site.ID, d, time.Time{}, ""),
		EventID: s.eventID(source, key, version)}
}

// ---- database ----

// maybeBadRow adds junk movement rows (and their outbox rows) to a
// transaction: one whose movement_id is NULL, one negative cycle count.
func (s *Sim) maybeBadRow(t *txb) {
	if s.st == nil {
		return
	}
	if chance(s.rBad, s.cfg.Bad.DBNullKey) {
		s.dbJunk(t, BadDBNullKey)
	}
	if chance(s.rBad, s.cfg.Bad.DBOutOfRange) {
		s.dbJunk(t, BadDBOutOfRange)
	}
}

// dbJunk writes one bad movement row and its outbox row. The table row is
// read by the sql connector's inventory_movements (null key) or
// inventory_counts (negative count) entry.
func (s *Sim) dbJunk(t *txb, category string) {
	m := s.junkMovement()
	m.version, m.tech = s.version(), t.tech
	var id any = m.id
	name, sourceKey := "inventory_movements", strconv.FormatInt(m.id, 10)
	var d canonical.Data
	tcode, ocode := "sql_bad_value", "sql_bad_value"
	field, ofield := "qty", "payload.qty"
	if category == BadDBNullKey {
		id, sourceKey = nil, ""
		tcode, ocode, field, ofield = "sql_null_key", "sql_invalid_event", "movement_id", "payload.movement_id"
		d = &canonical.InventoryMoved{Movement: &canonical.InventoryMovement{SourceKey: sourceKey,
			Item: &canonical.ItemRef{OwnerId: m.item.Owner.ID, Sku: m.item.SKU}}}
	} else {
		name = "inventory_counts"
		m.typ, m.reason, m.note = "CYCLE_COUNT", "CC_ABC", "counted quantity (absolute)"
		m.from, m.to, m.ref = m.item.PickFace.Code, m.item.PickFace.Code, ""
		m.qty = -m.qty
		d = &canonical.InventoryCounted{SourceKey: sourceKey, Item: &canonical.ItemRef{OwnerId: m.item.Owner.ID, Sku: m.item.SKU}}
	}
	s.insertMovement(t, m, id, m.item.SKU, m.pack.GTIN)
	agg := sourceKey
	ob := t.outbox("inventory_movement", agg, outboxMovementType(m), s.movementPayload(m, id, m.item.SKU, m.pack.GTIN))
	tv := s.tableVia(name, "inventory_movements", sourceKey, m.version, false)
	ov := s.outboxVia(ob)
	tv.Field, tv.Code, ov.Field, ov.Code = field, tcode, ofield, ocode
	key := canonical.FactKey(s.cfg.Site.ID, d, time.Time{}, "")
	would := []WouldBe{
		{Type: canonical.TypeOf(d).Name, Subject: canonical.SubjectOf(d), Key: key, EventID: tv.EventID},
		{Type: canonical.TypeOf(d).Name, Subject: canonical.SubjectOf(d), Key: key, EventID: ov.EventID},
	}
	t.recs = append(t.recs, rec{bad: s.newBad(category, "row", []Via{tv, ov}, would)})
}

// ---- CSV ----

// csvJunk is a bad CSV row as written.
type csvJunk struct {
	category, field string
	text            string
	m               *movement
}

func (j csvJunk) record(s *Sim, line int) *Record {
	key, v := strconv.FormatInt(j.m.id, 10), strconv.FormatInt(j.m.version, 10)
	return s.newBad(j.category, "row", []Via{{Src: "csv", Line: line, Field: j.field}},
		[]WouldBe{s.movementWouldBe(j.m, s.cfg.Identity.CSV, key, v)})
}

func csvLine(fields []string) string {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(fields)
	w.Flush()
	return b.String()
}

// csvBadRows draws the bad rows to put after one data row: each a junk
// movement with one defect.
func (s *Sim) csvBadRows() []csvJunk {
	r := s.rBad
	b := s.cfg.Bad
	var out []csvJunk
	if chance(r, b.CSVUnknownUnit) {
		out = append(out, s.csvJunkRow(BadCSVUnknownUnit))
	}
	if chance(r, b.CSVBadNumber) {
		out = append(out, s.csvJunkRow(BadCSVBadNumber))
	}
	if chance(r, b.CSVFieldCount) {
		out = append(out, s.csvJunkRow(BadCSVFieldCount))
	}
	if chance(r, b.CSVBadDate) {
		out = append(out, s.csvJunkRow(BadCSVBadDate))
	}
	return out
}

// csvJunkRow makes one bad row of a category. A line in Latin-1 and an
// unclosed quote spoil only their own line: the file-drop connector's
// reader rejects that line and reads on at the next.
func (s *Sim) csvJunkRow(category string) csvJunk {
	r := s.rBad
	m := s.junkMovement()
	f := s.csvRecord(m)
	j := csvJunk{category: category, m: m}
	switch category {
	case BadCSVUnknownUnit:
		j.field, f[9] = "uom", pick(r, []string{"CSE", "BAGS"})
	case BadCSVBadNumber:
		j.field, f[8] = "qty", pick(r, []string{"2O", "1.2.5", "12..0", "1,5"})
	case BadCSVFieldCount:
		f = append(f[:17:17], f[18:]...) // the note left out
	case BadCSVBadDate:
		lt := s.now.In(s.loc)
		j.field, f[3] = "occurred_at", pick(r, []string{lt.Format("02/01/2006 15:04"), lt.Format("2006-01-02T15h04"), lt.Format("2006-01-02") + " 3 PM"})
	case BadCSVInvalidUTF8:
		j.field, f[17] = "note", "Entrep\xf4t B - r\xe9\xe9tiquet\xe9 (Latin-1)"
	case BadCSVUnclosedQuote:
		j.field, f[17] = "note", `"Pallet re-wrapped, corner crushed`
		j.text = strings.Join(f, ",") + "\n"
		return j
	}
	j.text = csvLine(f)
	return j
}

// ---- X12 ----

// badSets adds junk sets to an interchange being written: one with a
// wrong SE count, and for a 945 one with an SSCC whose check digit is
// wrong. Every other set of the file stays good.
func (s *Sim) badSets(w *x12w, doc string, o *Owner) []rec {
	var out []rec
	if chance(s.rBad, s.cfg.Bad.X12SECount) {
		would, info := s.junkSet(w, doc, o, false, 1)
		where := Via{Src: "x12", Ref: w.ref(info.st02), Segment: "SE", SegmentPos: info.segs, Element: 1, Offset: info.seOff}
		out = append(out, rec{bad: s.newBad(BadX12SECount, "set", []Via{where}, would)})
	}
	if doc == "945" && chance(s.rBad, s.cfg.Bad.X12BadSSCC) {
		would, info := s.junkSet(w, doc, o, true, 0)
		where := Via{Src: "x12", Ref: w.ref(info.st02), Segment: "MAN", SegmentPos: info.manPos, Element: 2, Offset: info.manOff}
		out = append(out, rec{bad: s.newBad(BadX12BadSSCC, "set", []Via{where}, would)})
	}
	return out
}

type junkInfo struct {
	x12Set
	manPos, manOff int
}

// junkSet writes one set about things that do not exist (order SO-X…,
// shipment SHPX…, report INV-X…) and returns what it would map to.
func (s *Sim) junkSet(w *x12w, doc string, o *Owner, badSSCC bool, skew int) ([]WouldBe, junkInfo) {
	r := s.rBad
	s.ids.junkShip++
	shipID := fmt.Sprintf("SHPX%07d", s.ids.junkShip)
	site := s.cfg.Site.ID
	var info junkInfo
	var would []WouldBe
	wb := func(d canonical.Data, t time.Time, suffix string) {
		v := s.x12Via(w, w.st02, suffix)
		would = append(would, WouldBe{Type: canonical.TypeOf(d).Name, Subject: canonical.SubjectOf(d),
			Key: canonical.FactKey(site, d, t, ""), EventID: v.EventID})
	}
	at := s.now.Truncate(time.Minute)
	switch doc {
	case "214":
		st := pick(r, o.ShipTos)
		w.beginSet("214")
		w.seg("B10", fmt.Sprintf("77%08d", r.IntN(100000000)), shipID, s.w.Carriers[0].SCAC)
		w.seg("N1", "SH", s.w.Site.Name, "UL", s.w.Site.GLN)
		w.seg("N4", s.w.Site.City, s.w.Site.Region, s.w.Site.Postal, s.w.Site.Country)
		w.seg("N1", "CN", st.Name, "UL", st.GLN)
		w.seg("N4", st.City, st.Region, st.Postal, st.Country)
		w.seg("LX", "1")
		zone := mustZone(st.Zone)
		d, hm := x12Date(at, zone)
		w.seg("AT7", "X1", "NS", "", "", d, hm, "LT")
		w.seg("MS1", st.City, st.Region, "US")
		rt, _ := resolved(at, zone)
		wb(&canonical.ShipmentStatusChanged{ShipmentId: shipID, Milestone: canonical.Milestone_MILESTONE_AT_DELIVERY}, rt, "")
	case "945":
		it := pick(r, o.Items)
		orderNo := fmt.Sprintf("SO-X%05d", r.IntN(100000))
		sscc := s.nextJunkSSCC()
		if badSSCC {
			sscc = sscc[:17] + string(rune('0'+(sscc[17]-'0'+1)%10))
		}
		st := pick(r, o.ShipTos)
		d, hm := x12Date(at, s.loc)
		w.beginSet("945")
		w.seg("W06", "F", orderNo, d, shipID, "", "PO-X")
		w.seg("N1", "ST", st.Name, "UL", st.GLN)
		w.seg("N4", st.City, st.Region, st.Postal, st.Country)
		w.seg("N1", "SF", s.w.Site.Name, "UL", s.w.Site.GLN)
		w.seg("N4", s.w.Site.City, s.w.Site.Region, s.w.Site.Postal, s.w.Site.Country)
		w.seg("G62", "11", d, "8", hm, "LT")
		w.seg("W27", "M", s.w.Carriers[0].SCAC, s.w.Carriers[0].Name, "PP", "TL", s.w.Carriers[0].SCAC, "000000")
		w.seg("LX", "1")
		info.manPos, info.manOff = w.setSegs+1, len(w.b)
		w.seg("MAN", "GM", sscc)
		w.seg("W12", "CC", "4", "4", "0", it.OrderUOM.UOM, "", "VN", it.SKU, "", "", "", "", "", "", "", "", "UK", it.OrderUOM.GTIN)
		w.seg("N9", "LI", "1")
		w.seg("W03", "4")
		rt, _ := resolved(at, s.loc)
		ref := &canonical.OrderRef{OwnerId: o.ID, OrderNo: orderNo}
		wb(&canonical.ShipmentShipped{Shipment: &canonical.Shipment{ShipmentId: shipID}}, rt, "")
		wb(&canonical.OrderLineStatusChanged{Order: ref, LineNo: "1", Status: canonical.OrderLineStatus_ORDER_LINE_STATUS_SHIPPED}, rt, ";W12=1")
	case "846":
		it := pick(r, o.Items)
		report := fmt.Sprintf("INV-X-%s-%06d", o.ID, s.ids.junkShip)
		d, hm := x12Date(at, s.loc)
		w.beginSet("846")
		w.seg("BIA", "00", "MM", report, d, hm)
		w.seg("N1", "WH", s.w.Site.Name, "91", site)
		w.seg("LIN", "", "VN", it.SKU, "UK", it.Packs[0].GTIN)
		w.seg("QTY", "17", "10", it.BaseUOM)
		rt, _ := resolved(at, s.loc)
		wb(&canonical.InventorySnapshot{SnapshotId: report, OwnerId: o.ID, Part: 1}, rt, "")
	}
	w.endSet(skew)
	info.x12Set = w.sets[len(w.sets)-1]
	return would, info
}

// nextJunkSSCC makes an SSCC (valid) for a junk pallet, from a serial
// range the site never uses.
func (s *Sim) nextJunkSSCC() string {
	return mustAppend("9" + s.sitePrefix() + fmt.Sprintf("%09d", 900000000+s.ids.junkShip))
}

// maybeTruncated writes, after an interchange, a junk interchange of the
// same kind from the same sender that ends mid-way.
func (s *Sim) maybeTruncated(dir string, like *x12w, doc string, o *Owner) {
	if !chance(s.rBad, s.cfg.Bad.X12Truncated) {
		return
	}
	e := like.env
	w := s.newX12(e[0], e[1], e[2], e[3], e[4], s.now)
	var would []WouldBe
	for i := rangeInt(s.rBad, 1, 2); i > 0; i-- {
		wb, _ := s.junkSet(w, doc, o, false, 0)
		would = append(would, wb...)
	}
	data := w.finish()
	cut := 120 + s.rBad.IntN(len(data)*3/4-120)
	where := Via{Src: "x12", Ref: "ISA13=" + w.isa13, Offset: cut}
	name := fmt.Sprintf("x12_%s_%s_%s.edi", doc, nameOf(doc, e[1], o), w.isa13)
	s.addFile(dir, name, data[:cut], []rec{{bad: s.newBad(BadX12Truncated, "file", []Via{where}, would)}})
}

// nameOf is the middle part of an X12 file name: the owner for the
// warehouse's documents, the carrier for 214s.
func nameOf(doc, sender string, o *Owner) string {
	if doc == "214" {
		return sender
	}
	return o.ID
}
