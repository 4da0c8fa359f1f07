package filedrop

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzCSVFile reads arbitrary bytes as a file of the MEM1 site's CSV inbox
// (header binding, records, the movement mapping and canonical.NewEvent):
// no input panics, a file is either quarantined whole or gives items whose
// positions only move forward and end at the end of the file, every reject
// has a code and a location, and every event validates. The readers have
// their own fuzz targets (csvfile, xmlfile, x12, x12map).
func FuzzCSVFile(f *testing.F) {
	fixture, err := os.ReadFile(filepath.Join(fixtures, "inventory_movements_MEM1_20250314.csv"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(fixture)
	lines := strings.Split(string(fixture), "\n")
	f.Add([]byte(lines[0] + "\n" + lines[14] + "\n" + lines[18] + "\n"))
	f.Add([]byte(lines[0] + "\n" + strings.ReplaceAll(lines[5], ",", ";") + "\n"))
	f.Add([]byte("\uFEFF" + strings.ReplaceAll(string(fixture[:600]), "\n", "\r\n")))
	f.Add([]byte(lines[0] + "\n884101,MEM1,RECEIPT,2025-03-09 02:30:00,AF-1002,10614141001023,L2502C,2026-02-28,\"2,5\",CA,A,B,,,,,,,1,\n"))
	s := mem1(f)
	c := configure(f, s)
	cfg := c.cfg
	r := &run{c: c, cfg: cfg, log: slog.New(slog.DiscardHandler)}
	ib := cfg.inboxes[0]
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "fuzz.csv")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		op, prob, err := r.open(ib, path, "fuzz.csv", false)
		if err != nil {
			t.Fatal(err)
		}
		if prob != nil {
			if prob.code == "" || prob.loc == "" {
				t.Fatalf("problem without code or location: %+v", prob)
			}
			return
		}
		last := filePos{}
		err = op.each(filePos{}, func(it item) error {
			if it.pos.Off <= last.Off || it.pos.Line <= last.Line || it.pos.Rec != last.Rec+1 {
				t.Fatalf("position %+v after %+v", it.pos, last)
			}
			last = it.pos
			switch {
			case it.rej != nil:
				if it.rej.Code == "" || !strings.HasPrefix(it.rej.Ref, "fuzz.csv:") {
					t.Fatalf("reject without code or location: %+v", it.rej)
				}
			case it.ev == nil:
				t.Fatal("an item with neither event nor reject")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if last.Rec > 0 && last.Off != int64(len(data)) && strings.TrimSpace(string(data[last.Off:])) != "" {
			t.Fatalf("stopped at %d of %d bytes", last.Off, len(data))
		}
	})
}
