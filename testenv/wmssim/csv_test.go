package wmssim

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/canonical/localtime"
	"github.com/draylink/dray/plugins/filedrop/csvfile"
	fdmove "github.com/draylink/dray/plugins/filedrop/movement"
)

// fixtureHeader is the first line of the team's fixture
// plugins/filedrop/testdata/fixtures/inventory_movements_MEM1_20250314.csv.
const fixtureHeader = "movement_id,site_code,movement_type,occurred_at,sku,gtin,lot,expiry_date,qty,uom,from_loc,to_loc,sscc,order_ref,reason_code,reverses_movement_id,user_id,note,row_version,last_modified"

// csvColumns binds the export's columns to the movement mapping's fields,
// as the file-drop connector's inbox configuration does.
var csvColumns = map[string]string{"movement_id": "id", "site_code": "site", "movement_type": "type", "occurred_at": "occurred_at",
	"sku": "sku", "gtin": "gtin", "lot": "lot", "expiry_date": "expiry", "qty": "qty", "uom": "uom", "from_loc": "from",
	"to_loc": "to", "sscc": "sscc", "order_ref": "reference", "reason_code": "reason", "reverses_movement_id": "reverses",
	"user_id": "user", "note": "note", "row_version": "version", "last_modified": "recorded_at", "owner_id": "owner"}

// csvMapper is the file-drop connector's movement mapping for the export.
func csvMapper(t *testing.T, w *World, cfg Config) *fdmove.Mapper {
	t.Helper()
	z, err := localtime.LoadZone(cfg.Site.TimeZone)
	if err != nil {
		t.Fatal(err)
	}
	items := map[string]*canonical.Item{}
	for _, it := range w.CanonicalItems() {
		items[fdmove.ItemKey(it.GetOwnerId(), it.GetSku())] = it
	}
	moved := func(mt string) fdmove.TypeRule { return fdmove.TypeRule{Event: "moved", Movement: mt} }
	m, errs := fdmove.New(fdmove.Config{
		Types: map[string]fdmove.TypeRule{"RECEIPT": moved("receipt"), "PUTAWAY": moved("putaway"), "PICK": moved("pick"),
			"PACK": moved("pack"), "LOAD": moved("transfer"), "SHIP": moved("ship"), "ADJUSTMENT": moved("adjustment"),
			"STATUS_CHANGE": {Event: "status_changed"}, "CYCLE_COUNT": {Event: "counted"}},
		Reasons: map[string]fdmove.ReasonRule{"QC_HOLD": {From: "available", To: "on_hold"}, "DAMAGED": {From: "available", To: "damaged"},
			"QC_RELEASE": {From: "on_hold", To: "available"}},
		Extract:    map[string]fdmove.ExtractRule{"expected": {From: "note", Pattern: `book was ([0-9]+(?:\.[0-9]+)?)`}},
		TimeLayout: "2006-01-02 15:04:05", DateLayout: "2006-01-02",
	}, fdmove.Site{Origin: canonical.Origin{SiteID: cfg.Site.ID, Source: cfg.Identity.CSV, SourceSystem: "file.csv"},
		Zone: z, Owner: w.Owners[0].ID, Items: items})
	if errs != nil {
		t.Fatal(errs)
	}
	return m
}

// TestCSVExportsMap reads every movement export with the file-drop
// connector's CSV reader and movement mapping: the header is the fixture's
// (plus owner_id with several owners), every good row becomes exactly the
// event the ground truth lists, and every bad row is rejected with its
// expected code on its line.
func TestCSVExportsMap(t *testing.T) {
	dir, cfg, tr := shared(t)
	cfg.SetDefaults()
	w, err := NewWorld(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := csvMapper(t, w, cfg)
	type want struct {
		f   *Record
		via Via
	}
	good := map[string]want{}   // path:line → fact
	bad := map[string]*Record{} // path:line → bad row
	for _, f := range tr.Facts {
		for _, v := range f.Via {
			if v.Src == "csv" {
				good[v.Path+":"+itoa(int64(v.Line))] = want{f, v}
			}
		}
	}
	for _, b := range tr.Bad {
		for _, v := range b.Where {
			if v.Src == "csv" {
				bad[v.Path+":"+itoa(int64(v.Line))] = b
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "csv", "*.csv"))
	if len(files) < 10 {
		t.Fatalf("only %d CSV files", len(files))
	}
	var events, rejects int
	types := map[string]int{}
	quirks := map[string]bool{}
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		first, _ := bufio.NewReader(f).ReadString('\n')
		if want := fixtureHeader + ",owner_id\n"; first != want {
			t.Fatalf("%s: header %q; want %q", filepath.Base(path), first, want)
		}
		_, _ = f.Seek(0, io.SeekStart)
		rd := csvfile.NewReader(f, 0, 0, csvfile.Options{})
		head, err := rd.Read()
		if err != nil {
			t.Fatal(err)
		}
		var idx [fdmove.NumFields]int
		for i := range idx {
			idx[i] = -1
		}
		for i, h := range head.Fields {
			fld, _ := fdmove.FieldByName(csvColumns[h])
			idx[fld] = i
		}
		rd.SetFieldsPerRecord(len(head.Fields))
		for {
			rec, err := rd.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			var code string
			var line int
			var ev *canonical.Event
			var ce *csvfile.Error
			switch {
			case errors.As(err, &ce):
				code, line = ce.Code, ce.Line
			case err != nil:
				t.Fatal(err)
			default:
				line = rec.Line
				var row fdmove.Row
				for fld, i := range idx {
					if i >= 0 {
						row.Values[fld] = strings.TrimSpace(rec.Fields[i])
					}
				}
				res := m.Map(&row)
				if res.Reject != nil {
					code = res.Reject.Code
				}
				ev = res.Event
				if v := row.Values[fdmove.Qty]; strings.HasPrefix(v, "-") {
					quirks["negative reversal"] = true
				} else if strings.Contains(v, ".") {
					quirks["decimal KG"] = true
				}
				if row.Values[fdmove.UOM] == "PL" {
					quirks["pallet units"] = true
				}
			}
			at := path + ":" + itoa(int64(line))
			if b := bad[at]; b != nil {
				rejects++
				if code != b.Code {
					t.Errorf("%s (%s): code %q; want %q", filepath.Base(at), b.Category, code, b.Code)
				}
				continue
			}
			wv, ok := good[at]
			if !ok {
				t.Errorf("%s: a record the ground truth does not list (code %q)", filepath.Base(at), code)
				continue
			}
			if ev == nil {
				t.Errorf("%s: good row rejected with %s", filepath.Base(at), code)
				continue
			}
			events++
			types[ev.GetType()]++
			if ev.GetId() != wv.via.EventID || ev.GetIdempotencyKey() != wv.f.Key || ev.GetType() != wv.f.Type ||
				ev.GetSubject() != wv.f.Subject || ev.GetTime().AsTime().UTC().Format("2006-01-02T15:04:05Z") != wv.f.Time {
				t.Errorf("%s: event %s %s %s key %s at %s; truth %s %s %s %s key %s at %s", filepath.Base(at), ev.GetId(),
					ev.GetType(), ev.GetSubject(), ev.GetIdempotencyKey(), ev.GetTime().AsTime().UTC(),
					wv.f.ID, wv.via.EventID, wv.f.Type, wv.f.Subject, wv.f.Key, wv.f.Time)
			}
			delete(good, at)
		}
		_ = f.Close()
	}
	for at, w := range good {
		t.Errorf("%s: fact %s not read", filepath.Base(at), w.f.ID)
	}
	cats := map[string]int{}
	for _, b := range tr.Bad {
		if strings.HasPrefix(b.Category, "csv_") {
			cats[b.Category]++
		}
	}
	for _, c := range []string{BadCSVUnknownUnit, BadCSVBadNumber, BadCSVFieldCount, BadCSVBadDate, BadCSVInvalidUTF8, BadCSVUnclosedQuote} {
		if cats[c] == 0 {
			t.Errorf("no %s row generated", c)
		}
	}
	for _, q := range []string{"negative reversal", "decimal KG", "pallet units"} {
		if !quirks[q] {
			t.Errorf("no %s row in the exports", q)
		}
	}
	if rejects != sumValues(cats) {
		t.Errorf("%d rejects for %d bad rows", rejects, sumValues(cats))
	}
	t.Logf("CSV: %d files, %d events %v, %d bad rows %v", len(files), events, types, rejects, cats)
}

func sumValues(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestCSVSingleOwnerHeader checks that a one-owner world writes exactly the
// fixture's header.
func TestCSVSingleOwnerHeader(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir, 3000)
	cfg.World.Owners = 1
	cfg.Store = StoreConfig{}
	cfg.Drops.X12 = ""
	run(t, cfg)
	files, _ := filepath.Glob(filepath.Join(dir, "csv", "*.csv"))
	if len(files) == 0 {
		t.Fatal("no export")
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(string(b), "\n")
		if first != fixtureHeader {
			t.Fatalf("%s: header %q", filepath.Base(p), first)
		}
		for i, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			if strings.Contains(l, "\r") {
				t.Fatalf("%s:%d: CR in line (the fixture has LF line ends)", filepath.Base(p), i+1)
			}
		}
	}
	if !slices.Equal(CSVHeader, strings.Split(fixtureHeader, ",")) {
		t.Error("CSVHeader differs from the fixture")
	}
}
