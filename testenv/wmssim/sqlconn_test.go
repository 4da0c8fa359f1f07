package wmssim

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/filedrop"
	"github.com/draylink/dray/plugins/sdk"
	sqlconn "github.com/draylink/dray/plugins/sql"
)

// collector is an sdk.Emitter that keeps what the connector emits.
type collector struct {
	mu      sync.Mutex
	events  []*canonical.Event
	rejects []sdk.Reject
	last    time.Time
}

func (c *collector) Emit(_ context.Context, b sdk.Batch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, b.Events...)
	c.rejects = append(c.rejects, b.Rejects...)
	c.last = time.Now()
	return nil
}

// readAll runs the sql connector with a configuration until it has been
// idle for a while, and returns what it emitted.
func readAll(t *testing.T, conf map[string]any) *collector {
	t.Helper()
	raw, err := json.Marshal(conf)
	if err != nil {
		t.Fatal(err)
	}
	c := sqlconn.New()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := c.Configure(ctx, raw); err != nil {
		t.Fatalf("configure: %v", err)
	}
	out := &collector{last: time.Now()}
	done := make(chan error, 1)
	go func() { done <- c.Read(ctx, nil, out) }()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		time.Sleep(300 * time.Millisecond)
		out.mu.Lock()
		idle := time.Since(out.last)
		out.mu.Unlock()
		if idle > 3*time.Second || time.Now().After(deadline) {
			break
		}
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("read: %v", err)
	}
	return out
}

// expectedDB lists, per event id, the fact a database source of src must
// give (superseded row versions left out: a reader that starts after the
// run sees each row's last version only).
func expectedDB(tr *Truth, srcs ...string) map[string]*Record {
	want := map[string]*Record{}
	for _, f := range tr.Facts {
		for _, v := range f.Via {
			if slices.Contains(srcs, v.Src) && !tr.Superseded(v) {
				want[v.EventID] = f
			}
		}
	}
	return want
}

// TestSQLConnectorReadsTheTruth reads the simulated SQLite database with
// the sql connector, by watermark (with tombstones) and by outbox, and
// checks that it emits exactly the ground truth's events (ids, keys,
// types, subjects) and rejects exactly the bad rows.
func TestSQLConnectorReadsTheTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the sql connector over a simulated database; skipped with -short")
	}
	dir, cfg, tr := shared(t)
	dsn := "file:" + dir + "/wms.db"
	for _, mode := range []string{SQLTables, SQLOutbox} {
		t.Run(mode, func(t *testing.T) {
			conf, err := SQLConnectorConfig(cfg, SQLite, dsn, mode)
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(t, conf)
			srcs := []string{"table", "tombstone"}
			if mode == SQLOutbox {
				srcs = []string{"outbox"}
			}
			checkEmitted(t, tr, got, expectedDB(tr, srcs...), mode)
		})
	}
}

func checkEmitted(t *testing.T, tr *Truth, got *collector, want map[string]*Record, mode string) {
	t.Helper()
	byRecord := map[string]string{} // record key → event id
	for _, f := range tr.Facts {
		for _, v := range f.Via {
			byRecord[v.RecordKey] = v.EventID
		}
	}
	seen := map[string]int{}
	byType := map[string]int{}
	for _, e := range got.events {
		f := want[e.GetId()]
		if f == nil {
			t.Errorf("unexpected event %s %s %s (%s)", e.GetId(), e.GetType(), e.GetSubject(), e.GetSourceRef())
			continue
		}
		seen[e.GetId()]++
		byType[e.GetType()]++
		key := f.Key
		for _, v := range f.Via {
			if v.EventID == e.GetId() && v.Key != "" {
				key = v.Key
			}
		}
		if e.GetIdempotencyKey() != key || e.GetType() != f.Type || e.GetSubject() != f.Subject {
			t.Errorf("event %s: %s %s key %s; truth %s %s %s key %s", e.GetId(), e.GetType(), e.GetSubject(), e.GetIdempotencyKey(),
				f.ID, f.Type, f.Subject, key)
		}
	}
	missing := 0
	for id, f := range want {
		if seen[id] != 1 {
			missing++
			if missing <= 10 {
				t.Errorf("fact %s (%s, %s, %+v) emitted %d times", f.ID, f.Kind, f.Type, f.Detail, seen[id])
			}
		}
	}
	// Rejects: the bad rows, and (outbox) the rows of the types the
	// connector cannot map.
	wantCodes := map[string]int{}
	for _, b := range tr.Bad {
		for _, w := range b.Where {
			if (mode == SQLTables && w.Src == "table") || (mode == SQLOutbox && w.Src == "outbox") {
				wantCodes[w.Code]++
			}
		}
	}
	gotCodes := map[string]int{}
	shown := map[string]int{}
	for _, r := range got.rejects {
		if shown[r.Code] < 3 {
			shown[r.Code]++
			t.Logf("reject %s %s: %s", r.Code, r.Ref, r.Reason)
		}
		gotCodes[r.Code]++
		if !strings.HasPrefix(r.Code, "sql_") {
			t.Errorf("reject %s %s: %s", r.Code, r.Ref, r.Reason)
		}
	}
	for _, c := range sortedKeys(wantCodes) {
		if gotCodes[c] != wantCodes[c] {
			t.Errorf("%d %s rejects; want %d", gotCodes[c], c, wantCodes[c])
		}
	}
	for _, c := range sortedKeys(gotCodes) {
		if wantCodes[c] == 0 {
			for _, r := range got.rejects {
				if r.Code == c {
					t.Errorf("unexpected reject %s %s: %s", r.Code, r.Ref, r.Reason)
					break
				}
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d facts missing", missing)
	}
	t.Logf("%s: %d events %v; %d rejects %v", mode, len(got.events), byType, len(got.rejects), gotCodes)
}

// TestFileDropConfigIsValid has the file-drop connector check the
// configuration FileDropConfig writes.
func TestFileDropConfigIsValid(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir, 1)
	cfg.Drops = DropConfig{CSV: dir + "/wms/inbox", X12: dir + "/edi/inbox", X12214: dir + "/carrier/inbox"}
	conf, err := FileDropConfig(cfg, dir+"/state")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"wms/inbox", "edi/inbox", "carrier/inbox", "edi/997", "state"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if got := conf["x12"].(map[string]any)["outbox"]; got != dir+"/edi/997" {
		t.Errorf("x12.outbox = %v; want %s (997/ beside the first X12 inbox)", got, dir+"/edi/997")
	}
	raw, err := json.Marshal(conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := filedrop.New().Configure(context.Background(), raw); err != nil {
		t.Fatalf("configure: %v", err)
	}
	if _, err := FileDropConfig(Config{Drops: DropConfig{CSV: dir + "/wms"}}, dir); err == nil {
		t.Error("a drop directory that is not an inbox/ was accepted")
	}
}
