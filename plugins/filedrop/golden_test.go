package filedrop

import (
	"bytes"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/filedrop/dropdir"
)

var update = flag.Bool("update", false, "rewrite the golden want.json files")

// outcome is what a drop gives, as the golden files hold it.
type outcome struct {
	// Events are the committed events, in order, as CloudEvents JSON.
	Events []json.RawMessage `json:"events"`
	// Rejects are the committed rejects, in order (payload by size).
	Rejects []rejectOut `json:"rejects"`
	// Files lists every file of the drop roots afterwards (archive dates
	// written YYYY/MM/DD).
	Files []string `json:"files"`
	// Reasons holds the reason files of quarantined files.
	Reasons map[string]json.RawMessage `json:"reasons,omitempty"`
	// Outbox holds the 997s written, one segment per line.
	Outbox map[string][]string `json:"outbox,omitempty"`
}

type rejectOut struct {
	Code         string `json:"code"`
	Ref          string `json:"ref"`
	Reason       string `json:"reason"`
	PayloadBytes int    `json:"payloadBytes"`
}

var archiveDate = regexp.MustCompile(`archive/\d{4}/\d{2}/\d{2}/`)

// collect builds the outcome of a site after a read.
func collect(t testing.TB, s *site, h *host) outcome {
	t.Helper()
	var o outcome
	for _, e := range h.events {
		b, err := canonical.MarshalJSON(e)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		_ = json.Indent(&buf, b, "", "  ")
		o.Events = append(o.Events, buf.Bytes())
	}
	for _, r := range h.rejects {
		o.Rejects = append(o.Rejects, rejectOut{r.Code, r.Ref, r.Reason, len(r.Payload)})
	}
	o.Reasons = map[string]json.RawMessage{}
	o.Outbox = map[string][]string{}
	err := filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "state" {
				return filepath.SkipDir
			}
			return nil
		}
		norm := archiveDate.ReplaceAllString(rel, "archive/YYYY/MM/DD/")
		o.Files = append(o.Files, norm)
		switch {
		case strings.HasSuffix(rel, dropdir.ReasonSuffix):
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				return err
			}
			delete(m, "at")
			b, _ = json.MarshalIndent(m, "", "  ")
			o.Reasons[norm] = b
		case strings.HasPrefix(rel, "edi-out/"):
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			o.Outbox[norm] = strings.Split(strings.TrimSpace(string(b)), "\n")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(o.Files)
	return o
}

// dropCase drops a golden case's inputs: <case>/<inbox>/<file>, and for
// the "fixtures" case the shared fixtures. In the done-marker inbox (xml)
// each file gets its marker.
func dropCase(t testing.TB, s *site, dir string) {
	t.Helper()
	if filepath.Base(dir) == "fixtures" {
		s.drop(t, "wms", "inventory_movements_MEM1_20250314.csv", readFixture(t, "inventory_movements_MEM1_20250314.csv"))
		s.drop(t, "edi", "x12_945_SO-778812.edi", readFixture(t, "x12_945_SO-778812.edi"))
		s.drop(t, "edi", "x12_214_SHP25031407.edi", readFixture(t, "x12_214_SHP25031407.edi"))
		return
	}
	inboxes, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, ib := range inboxes {
		if !ib.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, ib.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(dir, ib.Name(), f.Name()))
			if err != nil {
				t.Fatal(err)
			}
			s.drop(t, ib.Name(), f.Name(), b)
			if ib.Name() == "xml" {
				s.drop(t, ib.Name(), f.Name()+".done", nil)
			}
		}
	}
}

// TestGolden drops each testdata/golden/<case> into a fresh MEM1 site, reads
// until every inbox is empty, and compares the committed events and
// rejects, the files left and the 997s written with want.json (rewrite
// with -update). The "fixtures" case is the three shared fixtures.
func TestGolden(t *testing.T) {
	cases, err := os.ReadDir("testdata/golden")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.Name(), func(t *testing.T) {
			dir := filepath.Join("testdata/golden", tc.Name())
			s := mem1(t)
			c := configure(t, s)
			dropCase(t, s, dir)
			h := &host{}
			readUntil(t, c, nil, h, s.idle)
			got := collect(t, s, h)
			compareGolden(t, filepath.Join(dir, "want.json"), got)
		})
	}
}

func compareGolden(t *testing.T, path string, got outcome) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(want, b) {
		wl, gl := strings.Split(string(want), "\n"), strings.Split(string(b), "\n")
		for i := range max(len(wl), len(gl)) {
			var w, g string
			if i < len(wl) {
				w = wl[i]
			}
			if i < len(gl) {
				g = gl[i]
			}
			if w != g {
				t.Fatalf("%s differs from line %d:\n got: %s\nwant: %s\n(run go test -update and review the diff)", path, i+1, g, w)
			}
		}
	}
}

// TestFixtureFacts states the facts of the fixtures' story that the golden
// file holds, so that a -update cannot silently change them: the short line
// of the 945, the local time of the 214's departure, the reversal, the
// absolute count and the backdated receipt of the CSV.
func TestFixtureFacts(t *testing.T) {
	s := mem1(t)
	c := configure(t, s)
	dropCase(t, s, "testdata/golden/fixtures")
	h := &host{}
	readUntil(t, c, nil, h, s.idle)
	bySource := map[string]*canonical.Event{}
	var departed, short *canonical.Event
	for _, e := range h.events {
		switch {
		case e.GetShipmentStatusChanged().GetSourceStatusCode() == "AF":
			departed = e
		case e.GetOrderLineStatusChanged().GetLineNo() == "2":
			short = e
		}
		if k := e.GetInventoryMoved().GetMovement().GetSourceKey(); k != "" {
			bySource[k] = e
		}
		if k := e.GetInventoryCounted().GetSourceKey(); k != "" {
			bySource[k] = e
		}
		if k := e.GetInventoryStatusChanged().GetSourceKey(); k != "" {
			bySource[k] = e
		}
	}
	if departed == nil || departed.GetTime().AsTime().UTC().Format("2006-01-02T15:04Z") != "2025-03-14T20:48Z" {
		t.Errorf("214 AF at %v; want 2025-03-14T20:48Z (15:48 LT in Memphis)", departed.GetTime().AsTime())
	}
	if q := short.GetOrderLineStatusChanged().GetQuantities(); short == nil ||
		canonical.EnumName(short.GetOrderLineStatusChanged().GetStatus()) != "short_shipped" ||
		q.GetShipped().GetValue() != "8" || q.GetShortClosed().GetValue() != "2" {
		t.Errorf("945 line 2 = %v; want short_shipped, 8 shipped, 2 short-closed", short)
	}
	rev := bySource["884114"].GetInventoryMoved().GetMovement()
	if canonical.EnumName(rev.GetMovementType()) != "adjustment_out" || rev.GetQuantity().GetValue() != "1" || rev.GetQuantity().GetUom() != "EA" ||
		rev.GetFrom().GetCode() != "PF-07-11" || rev.GetTo() != nil || rev.GetReverses() != "884113" {
		t.Errorf("reversal 884114 = %v; want adjustment_out of 1 EA from PF-07-11 reversing 884113", rev)
	}
	cnt := bySource["884118"].GetInventoryCounted()
	if cnt.GetCounted().GetValue() != "156" || cnt.GetExpected().GetValue() != "168" || cnt.GetLocation().GetCode() != "R-40-02-C" {
		t.Errorf("count 884118 = %v; want 156 EA counted (13 CA), 168 EA expected (14 CA) at R-40-02-C", cnt)
	}
	back := bySource["884119"]
	if back.GetTime().AsTime().UTC().Format(time.RFC3339) != "2025-03-14T10:55:00Z" || back.GetRecordedTime().AsTime().UTC().Format(time.RFC3339) != "2025-03-14T21:20:33Z" {
		t.Errorf("backdated 884119 at %v recorded %v; want 10:55Z recorded 21:20:33Z", back.GetTime().AsTime(), back.GetRecordedTime().AsTime())
	}
	for _, k := range []string{"884105", "884108"} {
		if bySource[k].GetInventoryStatusChanged() == nil {
			t.Errorf("%s is not an inventory.status_changed", k)
		}
	}
	if len(h.events) != 31 || len(h.rejects) != 0 {
		t.Errorf("%d events, %d rejects; want 31 (19 CSV rows, 4+1 from the 945, 6+1 from the 214) and none", len(h.events), len(h.rejects))
	}
}
