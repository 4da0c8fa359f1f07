package filedrop

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/draylink/dray/plugins/filedrop/dropdir"
	"github.com/draylink/dray/plugins/filedrop/journal"
	"github.com/draylink/dray/plugins/sdk"
)

// files lists the files under an inbox's subdirectory (recursively),
// relative to it, without dot files.
func files(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	slices.Sort(out)
	return out
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// csvRows makes a movement CSV of n receipt rows with ids from first.
func csvRows(first, n int) []byte {
	var b strings.Builder
	b.WriteString("movement_id,site_code,movement_type,occurred_at,sku,gtin,lot,expiry_date,qty,uom,from_loc,to_loc,sscc,order_ref,reason_code,reverses_movement_id,user_id,note,row_version,last_modified\n")
	for i := range n {
		fmt.Fprintf(&b, "%d,MEM1,RECEIPT,2025-03-20 08:%02d:%02d,AF-1002,10614141001023,L2502C,2026-02-28,%d,CA,DOCK-IN-02,RECV-STAGE-01,,ASN-7000,,,rkhan,row %d,%d,2025-03-20 09:00:00\n",
			first+i, (i/60)%60, i%60, 1+i%9, i, 7000000+first+i)
	}
	return []byte(b.String())
}

func TestArchiveAndQuarantinePaths(t *testing.T) {
	s := mem1(t)
	c := configure(t, s)
	good := csvRows(1, 3)
	bad := []byte("just,a,header\n")
	s.drop(t, "wms", "good.csv", good)
	s.drop(t, "wms", "bad.csv", bad)
	h := &host{}
	readUntil(t, c, nil, h, s.idle)

	day := time.Now().In(mustZone(t, "America/Chicago")).Format("2006/01/02")
	if got, want := files(t, s.dir("wms", dropdir.ArchiveDir)), []string{day + "/" + sha(good) + "_good.csv"}; !slices.Equal(got, want) {
		t.Errorf("archive = %v; want %v", got, want)
	}
	if got, want := files(t, s.dir("wms", dropdir.QuarantineDir)), []string{"bad.csv", "bad.csv.reason.json"}; !slices.Equal(got, want) {
		t.Errorf("quarantine = %v; want %v", got, want)
	}
	var reason dropdir.Reason
	raw, err := os.ReadFile(s.dir("wms", dropdir.QuarantineDir, "bad.csv.reason.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &reason); err != nil {
		t.Fatal(err)
	}
	if reason.Code != CodeCSVMissing || reason.Location != "bad.csv:1:1" || reason.Message == "" || reason.SHA256 != sha(bad) {
		t.Errorf("reason = %+v", reason)
	}
	if got, _ := os.ReadFile(s.dir("wms", dropdir.QuarantineDir, "bad.csv")); string(got) != string(bad) {
		t.Errorf("the quarantined file changed: %q", got)
	}
	if len(h.events) != 3 || len(h.rejects) != 1 || h.rejects[0].Code != CodeCSVMissing {
		t.Errorf("%d events, rejects %v; want 3 and one %s", len(h.events), h.rejects, CodeCSVMissing)
	}
	// A second file of the same name and other content goes beside the first.
	s.drop(t, "wms", "bad.csv", []byte("other,bad,header\n"))
	readUntil(t, c, h.lastCursor(), h, s.idle)
	if got := files(t, s.dir("wms", dropdir.QuarantineDir)); len(got) != 4 {
		t.Errorf("quarantine after a second bad.csv = %v; want 4 files", got)
	}
}

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	z, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// TestPickupRules checks what each inbox leaves alone: names the pattern
// does not match, temporary names, a file without its marker, a growing file.
func TestPickupRules(t *testing.T) {
	s := mem1(t)
	// wms: stable size and mtime over 2 polls 50 ms apart, and 1 s old (a
	// loaded machine may stall the writer below for a few hundred ms).
	p := s.cfg["inboxes"].([]any)[0].(map[string]any)["pickup"].(map[string]any)
	p["stable_polls"], p["min_age"] = 2, "1s"
	c := configure(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	h := &host{}
	errc := make(chan error, 1)
	go func() { errc <- c.Read(ctx, nil, h) }()
	defer func() {
		cancel()
		if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
			t.Error(err)
		}
	}()

	inbox := s.dir("wms", dropdir.InboxDir)
	for _, d := range []string{inbox, s.dir("xml", dropdir.InboxDir)} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"notes.txt", ".hidden.csv", "upload.csv.part", "x.csv.tmp"} {
		if err := os.WriteFile(filepath.Join(inbox, name), csvRows(1, 1), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	// A producer writing in place, a row every 30 ms for ~0.6 s.
	growing := filepath.Join(inbox, "growing.csv")
	all := csvRows(100, 20)
	lines := strings.SplitAfter(string(all), "\n")
	f, err := os.Create(growing)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		if _, err := f.WriteString(l); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond)
		if _, err := os.Stat(growing); err != nil {
			t.Fatalf("the growing file was picked up while it grew")
		}
	}
	f.Close()
	// xml: a file without its marker waits.
	xmlIn := s.dir("xml", dropdir.InboxDir)
	doc := []byte(`<MovementExport><Movement id="M1"><Type>RECEIPT</Type><OccurredAt>2025-03-20T08:00:00</OccurredAt><Item sku="AF-1002"/><Quantity uom="CA">1</Quantity><To>RECV-STAGE-01</To></Movement></MovementExport>`)
	if err := os.WriteFile(filepath.Join(xmlIn, "m.xml"), doc, 0o640); err != nil {
		t.Fatal(err)
	}
	// A marker left without its file (a crash after the claim) must not
	// vouch for a later file of that name.
	if err := os.WriteFile(filepath.Join(xmlIn, "later.xml.done"), nil, 0o640); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	if _, err := os.Stat(filepath.Join(xmlIn, "m.xml")); err != nil {
		t.Fatalf("m.xml was picked up without its marker")
	}
	if _, err := os.Stat(filepath.Join(xmlIn, "later.xml.done")); err == nil {
		t.Errorf("a marker without its file was left in place")
	}
	if err := os.WriteFile(filepath.Join(xmlIn, "later.xml"), doc[:20], 0o640); err != nil { // being written, no marker yet
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(xmlIn, "m.xml.done"), nil, 0o640); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ev, _, _ := h.snapshot()
		if ev == 21 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events; want 21 (20 rows once stable, 1 XML record once marked)", ev)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	left := files(t, inbox)
	if want := []string{".hidden.csv", "notes.txt", "upload.csv.part", "x.csv.tmp"}; !slices.Equal(left, []string{"notes.txt", "upload.csv.part", "x.csv.tmp"}) {
		t.Errorf("wms inbox = %v; want the ignored names %v left", left, want)
	}
	if got := files(t, xmlIn); !slices.Equal(got, []string{"later.xml"}) {
		t.Errorf("xml inbox = %v; want later.xml waiting for its marker", got)
	}
	if got := files(t, s.dir("xml", dropdir.WorkDir)); len(got) != 0 {
		t.Errorf("xml work/ = %v; want empty (marker removed)", got)
	}
}

// TestDedup: the same content under a new name, and a re-delivered X12
// interchange, are archived without emitting, also across restarts; a
// reused control number with other content is quarantined.
func TestDedup(t *testing.T) {
	s := mem1(t)
	h := &host{}
	rows := csvRows(1, 5)
	f945 := readFixture(t, "x12_945_SO-778812.edi")
	s.drop(t, "wms", "a.csv", rows)
	s.drop(t, "edi", "945.edi", f945)
	readUntil(t, configure(t, s), nil, h, s.idle)
	if len(h.events) != 10 {
		t.Fatalf("%d events; want 5 + 5", len(h.events))
	}

	// A new process: the journal remembers.
	s.drop(t, "wms", "a_again.csv", rows)
	s.drop(t, "edi", "945_crlf.edi", []byte(strings.ReplaceAll(string(f945), "\n", "\r\n")))
	s.drop(t, "edi", "945_reused.edi", []byte(strings.Replace(string(f945), "W12*CC*24*24", "W12*CC*23*23", 1)))
	readUntil(t, configure(t, s), h.lastCursor(), h, s.idle)
	if len(h.events) != 10 {
		t.Errorf("%d events after re-deliveries; want still 10", len(h.events))
	}
	if n := len(h.rejects); n != 1 || h.rejects[0].Code != "x12_duplicate_interchange" {
		t.Errorf("rejects %v; want one x12_duplicate_interchange", h.rejects)
	}
	archived := strings.Join(append(files(t, s.dir("wms", "archive")), files(t, s.dir("edi", "archive"))...), " ")
	for _, name := range []string{"_a_again.csv", "_945_crlf.edi"} {
		if !strings.Contains(archived, name) {
			t.Errorf("%s not archived: %s", name, archived)
		}
	}
	if got := files(t, s.dir("edi", "quarantine")); !slices.Equal(got, []string{"945_reused.edi", "945_reused.edi.reason.json"}) {
		t.Errorf("quarantine = %v", got)
	}
	if got := files(t, s.outbox); len(got) != 1 {
		t.Errorf("outbox = %v; want the one 997 of the first delivery", got)
	}
	raw, _ := os.ReadFile(filepath.Join(s.root, "state", journal.FileName))
	dups := strings.Count(string(raw), `"outcome":"duplicate"`)
	if dups != 2 {
		t.Errorf("journal has %d duplicate entries; want 2:\n%s", dups, raw)
	}
}

// errLost is a commit whose answer never came back.
var errLost = errors.New("the agent's answer was lost")

// TestRestartExact runs a large CSV in batches of 100 and breaks the read
// in both windows: a batch the agent never committed (Emit fails before
// the commit) and a batch committed whose answer was lost (the connector
// dies before archiving). Each restart from the last committed cursor must
// emit every row exactly once and finish with the files archived.
func TestRestartExact(t *testing.T) {
	for _, lost := range []bool{false, true} {
		t.Run(fmt.Sprintf("committed=%v", lost), func(t *testing.T) {
			s := mem1(t)
			s.cfg["batch_size"] = 100
			rows := csvRows(1, 1000)
			s.drop(t, "wms", "big.csv", rows)
			s.drop(t, "edi", "214.edi", readFixture(t, "x12_214_SHP25031407.edi"))
			s.drop(t, "wms", "small.csv", csvRows(5000, 7))
			var committed []string
			var cursor []byte
			for attempt := 0; ; attempt++ {
				if attempt > 40 {
					t.Fatal("no progress")
				}
				c := configure(t, s)
				n := 0
				h := &host{commit: func(b sdk.Batch) error {
					n++
					if n == 3 { // break every third batch
						if lost {
							for _, e := range b.Events {
								committed = append(committed, e.GetId())
							}
							cursor = b.Cursor
							return errLost
						}
						return errors.New("the agent stopped")
					}
					for _, e := range b.Events {
						committed = append(committed, e.GetId())
					}
					cursor = b.Cursor
					return nil
				}}
				ctx, cancel := context.WithCancel(context.Background())
				errc := make(chan error, 1)
				go func() { errc <- c.Read(ctx, cursor, h) }()
				stopped := false
				for deadline := time.Now().Add(20 * time.Second); !stopped; {
					select {
					case <-errc: // broken by the host: restart
						stopped = true
					case <-time.After(10 * time.Millisecond):
						if time.Now().After(deadline) {
							t.Fatal("no progress in 20 s")
						}
					}
					if !stopped && s.idle() {
						cancel()
						<-errc
						break
					}
				}
				cancel()
				if !stopped {
					break
				}
			}
			want := 1000 + 7 + 7
			seen := map[string]bool{}
			for _, id := range committed {
				if seen[id] {
					t.Fatalf("event %s committed twice", id)
				}
				seen[id] = true
			}
			if len(seen) != want {
				t.Errorf("%d distinct events committed; want %d", len(seen), want)
			}
			if got := files(t, s.dir("wms", "archive")); len(got) != 2 {
				t.Errorf("wms archive = %v", got)
			}
			if got := files(t, s.outbox); len(got) != 1 {
				t.Errorf("outbox = %v; want one 997", got)
			}
		})
	}
}

// TestReplayFromOlderCursor: a connector handed an older cursor (the agent
// lost commits) emits the files finished after it again, from the
// archive, with the same ids; from the newest cursor it emits nothing.
func TestReplayFromOlderCursor(t *testing.T) {
	s := mem1(t)
	s.cfg["batch_size"] = 50
	h := &host{}
	s.drop(t, "wms", "a.csv", csvRows(1, 120))
	readUntil(t, configure(t, s), nil, h, s.idle)
	mark := h.lastCursor()
	nA := len(h.events)
	s.drop(t, "wms", "b.csv", csvRows(500, 130))
	s.drop(t, "edi", "945.edi", readFixture(t, "x12_945_SO-778812.edi"))
	readUntil(t, configure(t, s), mark, h, s.idle)
	after := map[string]bool{}
	for _, e := range h.events[nA:] {
		after[e.GetId()] = true
	}

	h2 := &host{}
	readUntil(t, configure(t, s), mark, h2, func() bool { ev, _, _ := h2.snapshot(); return ev >= len(after) })
	got := map[string]bool{}
	for _, e := range h2.events {
		got[e.GetId()] = true
	}
	if len(got) != len(after) {
		t.Errorf("replay gave %d ids; want %d", len(got), len(after))
	}
	for id := range got {
		if !after[id] {
			t.Errorf("replay gave a new id %s", id)
		}
	}
	if got := files(t, s.outbox); len(got) != 1 {
		t.Errorf("outbox = %v; a replay must not write a 997 again", got)
	}
	h3 := &host{}
	c := configure(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_ = c.Read(ctx, h.lastCursor(), h3)
	if len(h3.events) != 0 {
		t.Errorf("from the newest cursor: %d events; want none", len(h3.events))
	}
}

func TestConfigureReportsEveryProblem(t *testing.T) {
	c := New()
	err := c.Configure(context.Background(), []byte(`{
		"site_id": "", "time_zone": "Mars/Olympus", "state_dir": "/nonexistent/x/y", "batch_size": 0, "colour": 1,
		"items": [{"sku": "A", "base_uom": "FURLONG", "packs": [{"uom": "CA", "gtin": "10614141001017", "qty_in_base": "-1"}]}],
		"mappings": {"m": {"types": {"X": {"event": "teleported"}}, "reasons": {"R": {"from": "fine", "to": "fine"}}, "extract": {"expected": {"from": "note", "pattern": "("}}}},
		"inboxes": [{"name": "a b", "dir": "/nonexistent", "format": "pdf", "mapping": "nope", "pickup": {"mode": "psychic"}, "csv": {"delimiter": ";;"}}],
		"x12": {"partners": {"X": {"scac": "toolong"}}}
	}`))
	var ce *sdk.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("Configure = %v; want a *sdk.ConfigError", err)
	}
	var paths []string
	for _, f := range ce.Fields {
		paths = append(paths, f.Path)
	}
	for _, want := range []string{"colour", "site_id", "time_zone", "state_dir", "batch_size", "items[0].owner", "items[0].base_uom",
		"items[0].packs[0].gtin", "items[0].packs[0].qty_in_base", "mappings.m.types.X.event", "mappings.m.reasons.R.from",
		"mappings.m.extract.expected.pattern", "inboxes[0].name", "inboxes[0].dir", "inboxes[0].format", "inboxes[0].mapping",
		"inboxes[0].pickup.mode", "inboxes[0].csv.delimiter", "x12"} {
		if !slices.Contains(paths, want) {
			t.Errorf("no problem reported at %s; got %v", want, ce.Fields)
		}
	}
	if c.cfg != nil {
		t.Error("a refused configuration was kept")
	}
}
