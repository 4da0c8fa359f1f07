package wmssim

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// CSVHeader is the movement export's header, as in the fixture
// inventory_movements_MEM1_20250314.csv.
var CSVHeader = []string{"movement_id", "site_code", "movement_type", "occurred_at", "sku", "gtin", "lot", "expiry_date",
	"qty", "uom", "from_loc", "to_loc", "sscc", "order_ref", "reason_code", "reverses_movement_id", "user_id", "note",
	"row_version", "last_modified"}

// csvRecord renders a movement as export fields: local wall times, qty in
// the movement's unit (three decimals for KG, negative for reversals).
func (s *Sim) csvRecord(m *movement) []string {
	rev := ""
	if m.reverses != 0 {
		rev = strconv.FormatInt(m.reverses, 10)
	}
	f := []string{strconv.FormatInt(m.id, 10), s.cfg.Site.ID, m.typ, s.local(m.at), m.item.SKU, m.pack.GTIN, m.lot, m.expiry,
		fmtQty(m.qty, m.pack.UOM), m.pack.UOM, m.from, m.to, m.sscc, m.ref, m.reason, rev, m.user, m.note,
		strconv.FormatInt(m.version, 10), time.Time(m.tech).In(s.loc).Format("2006-01-02 15:04:05")}
	if len(s.w.Owners) > 1 {
		f = append(f, m.item.Owner.ID)
	}
	return f
}

// exportCSV writes the movements committed since the last export, in
// movement id order, and schedules the next export.
func (s *Sim) exportCSV() {
	s.writeCSVExport()
	s.after(s.cfg.Intervals.CSV.D(), s.exportCSV)
}

func (s *Sim) writeCSVExport() {
	rows := s.csvRows
	s.csvRows = nil
	dir := s.cfg.Drops.CSV
	if dir == "" || len(rows) == 0 {
		return
	}
	slices.SortFunc(rows, func(a, b *movement) int { return int(a.id - b.id) })
	// One row in Latin-1 and one unclosed quote per file, by chance,
	// after a random data row.
	perFile := map[int][]csvJunk{}
	for _, c := range []struct {
		cat string
		p   float64
	}{{BadCSVInvalidUTF8, s.cfg.Bad.CSVInvalidUTF8}, {BadCSVUnclosedQuote, s.cfg.Bad.CSVUnclosedQuote}} {
		if chance(s.rBad, c.p) {
			i := s.rBad.IntN(len(rows))
			perFile[i] = append(perFile[i], s.csvJunkRow(c.cat))
		}
	}
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	_ = cw.Write(s.csvHeader())
	line := 1
	var recs []rec
	for i, m := range rows {
		line++
		_ = cw.Write(s.csvRecord(m))
		recs = append(recs, rec{f: m.f, via: s.csvVia(m.id, m.version, line)})
		for _, j := range append(s.csvBadRows(), perFile[i]...) {
			line++
			cw.Flush()
			buf.WriteString(j.text)
			recs = append(recs, rec{bad: j.record(s, line)})
		}
	}
	cw.Flush()
	s.ids.csvFile++
	name := fmt.Sprintf("inventory_movements_%s_%s_%04d.csv", s.cfg.Site.ID, s.now.In(s.loc).Format("20060102_150405"), s.ids.csvFile)
	s.addFile(dir, name, buf.Bytes(), recs)
}

// csvHeader is CSVHeader, with an owner_id column at the end when the
// site holds more than one owner's goods.
func (s *Sim) csvHeader() []string {
	if len(s.w.Owners) > 1 {
		return append(slices.Clone(CSVHeader), "owner_id")
	}
	return CSVHeader
}

func (s *Sim) csvVia(id, version int64, line int) Via {
	key, v := strconv.FormatInt(id, 10), strconv.FormatInt(version, 10)
	return Via{Src: "csv", Line: line, Source: s.cfg.Identity.CSV, RecordKey: key, RecordVersion: v,
		EventID: s.eventID(s.cfg.Identity.CSV, key, v)}
}
