package filedrop

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/filedrop/dropdir"
	"github.com/draylink/dray/plugins/sdk"
)

// fixtures holds copies of the team's hand-made fixtures
// (../shared/fixtures beside the checkout), so a clone anywhere tests with
// them; TestFixturesAreTheShared ones checks the copies are current.
const fixtures = "testdata/fixtures"

// sharedFixtures is where the originals are, when the checkout sits beside
// them.
const sharedFixtures = "../../../shared/fixtures"

// fixtureTime is the modification time given to dropped fixture files: the
// 997s are dated by it.
var fixtureTime = time.Date(2025, 3, 15, 14, 40, 0, 0, time.UTC)

// site is a test site: drop roots under one temporary directory.
type site struct {
	root   string
	cfg    map[string]any
	outbox string
}

// mem1 returns the configuration of the fixtures' site: MEM1, Memphis, in
// America/Chicago, holding ACME's goods, with a CSV inbox (wms), an X12
// inbox (edi), an XML inbox (xml) and a JSON-lines inbox (events). It is
// the example in doc.go.
func mem1(t testing.TB) *site {
	t.Helper()
	root := t.TempDir()
	s := &site{root: root, outbox: filepath.Join(root, "edi-out")}
	for _, d := range []string{"wms", "eu", "edi", "xml", "events", "edi-out"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile("testdata/mem1.json")
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["state_dir"] = filepath.Join(root, "state")
	cfg["poll_interval"] = "50ms"
	cfg["x12"].(map[string]any)["outbox"] = s.outbox
	for _, ib := range cfg["inboxes"].([]any) {
		m := ib.(map[string]any)
		m["dir"] = filepath.Join(root, m["name"].(string))
		if p, ok := m["pickup"].(map[string]any); ok && p["mode"] == "stable" {
			p["min_age"] = "0s"
			p["stable_polls"] = 1
		}
	}
	s.cfg = cfg
	return s
}

func (s *site) config(t testing.TB) []byte {
	t.Helper()
	b, err := json.Marshal(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// inbox returns the root of an inbox.
func (s *site) dir(inbox string, sub ...string) string {
	return filepath.Join(append([]string{s.root, inbox}, sub...)...)
}

// drop writes a file into an inbox the way a careful producer does: under a
// dot name, then renamed; its modification time is fixtureTime.
func (s *site) drop(t testing.TB, inbox, name string, data []byte) {
	t.Helper()
	dir := s.dir(inbox, dropdir.InboxDir)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, data, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tmp, fixtureTime, fixtureTime); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// host is an in-memory agent: it commits every batch at once (or as
// commit says) and keeps what was committed.
type host struct {
	mu      sync.Mutex
	events  []*canonical.Event
	rejects []sdk.Reject
	cursors [][]byte
	batches int
	// commit, when set, decides about each batch: an error refuses it.
	commit func(b sdk.Batch) error
	// noValidate skips the validation the SDK does (benchmarks).
	noValidate bool
}

func (h *host) Emit(ctx context.Context, b sdk.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(b.Cursor) == 0 {
		return errors.New("batch without cursor")
	}
	for _, e := range b.Events {
		if h.noValidate {
			break
		}
		if err := canonical.Validate(e); err != nil {
			return err
		}
	}
	if h.commit != nil {
		if err := h.commit(b); err != nil {
			return err
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, b.Events...)
	h.rejects = append(h.rejects, b.Rejects...)
	h.cursors = append(h.cursors, slices.Clone(b.Cursor))
	h.batches++
	return nil
}

func (h *host) snapshot() (int, int, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.events), len(h.rejects), h.batches
}

func (h *host) lastCursor() []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.cursors) == 0 {
		return nil
	}
	return h.cursors[len(h.cursors)-1]
}

// configure returns a connector configured for s.
func configure(t testing.TB, s *site) *Connector {
	t.Helper()
	c := New()
	c.log = slog.New(slog.DiscardHandler) // tests check outcomes, not logs
	if err := c.Configure(context.Background(), s.config(t)); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return c
}

// readUntil runs Read from cursor until done says so (checked after each
// batch and every 20 ms) or 20 s pass, then stops it.
func readUntil(t testing.TB, c *Connector, cursor []byte, h *host, done func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Read(ctx, cursor, h) }()
	deadline := time.Now().Add(20 * time.Second)
	for !done() {
		select {
		case err := <-errc:
			cancel()
			t.Fatalf("Read ended: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			ev, rj, _ := h.snapshot()
			t.Fatalf("not done after 20 s (%d events, %d rejects)", ev, rj)
		}
	}
	cancel()
	if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Read: %v", err)
	}
}

// inboxEmpty reports whether every inbox and work directory of s is empty.
func (s *site) idle() bool {
	for _, ib := range []string{"wms", "eu", "edi", "xml", "events"} {
		for _, sub := range []string{dropdir.InboxDir, dropdir.WorkDir} {
			entries, _ := os.ReadDir(s.dir(ib, sub))
			for _, e := range entries {
				if e.Name()[0] != '.' {
					return false
				}
			}
		}
	}
	return true
}
