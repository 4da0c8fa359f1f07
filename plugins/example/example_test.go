package example_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/example"
	"github.com/draylink/dray/plugins/sdk"
)

// emitter is an in-process sdk.Emitter that commits at once; stopAfter
// cancels the read once that many batches arrived.
type emitter struct {
	mu        sync.Mutex
	batches   []sdk.Batch
	stopAfter int
	cancel    context.CancelFunc
	fail      error
}

func (e *emitter) Emit(_ context.Context, b sdk.Batch) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fail != nil {
		return e.fail
	}
	for _, ev := range b.Events {
		if err := canonical.Validate(ev); err != nil {
			return err
		}
	}
	e.batches = append(e.batches, b)
	if len(e.batches) == e.stopAfter {
		e.cancel()
	}
	return nil
}

func (e *emitter) all() (events []*canonical.Event, rejects []sdk.Reject, last []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, b := range e.batches {
		events = append(events, b.Events...)
		rejects = append(rejects, b.Rejects...)
		last = b.Cursor
	}
	return events, rejects, last
}

func configured(t *testing.T, dir string, extra string) *example.Connector {
	t.Helper()
	c := example.New()
	cfg := `{"site_id":"MEM1","dir":` + quote(dir) + `,"poll_interval":"100ms"` + extra + `}`
	if err := c.Configure(context.Background(), []byte(cfg)); err != nil {
		t.Fatal(err)
	}
	return c
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

// readUntil runs Read until n batches arrived (or 5 s passed).
func readUntil(t *testing.T, c *example.Connector, cursor []byte, n int) *emitter {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	em := &emitter{stopAfter: n, cancel: cancel}
	err := c.Read(ctx, cursor, em)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Read: %v; want it to stop when cancelled after %d batches (got %d)", err, n, len(em.batches))
	}
	return em
}

const good = `{"count_id":"CC-1","owner":"ACME","sku":"AF-1002","lot":"L1","location":"R-40-02-C","uom":"XCS","counted":13,"expected":"14","counted_at":"2025-03-14T16:05:00-05:00","reason":"CC_ABC"}`

func TestBadLinesBecomeRejects(t *testing.T) {
	lines := []struct {
		line, code, ref, reason string
	}{
		{good, "", "", ""},
		{"not json", example.RejectJSONSyntax, "c.jsonl:2:2", "invalid character"},
		{`{"count_id":"CC-3","sku":"A","location":"L","uom":"EA","counted":1,"counted_at":"2025-03-14T16:05:00Z","colour":"red"}`, example.RejectUnknownField, "c.jsonl:3:104", `unknown field "colour"`},
		{`{"count_id":"CC-4","count_id":"CC-5","sku":"A","location":"L","uom":"EA","counted":1,"counted_at":"2025-03-14T16:05:00Z"}`, example.RejectDuplicateField, "c.jsonl:4:20", "count_id is given twice"},
		{`{"count_id":6,"sku":"A","location":"L","uom":"EA","counted":1,"counted_at":"2025-03-14T16:05:00Z"}`, example.RejectWrongType, "c.jsonl:5:13", "want a string, got the number 6"},
		{`{"count_id":"CC-7","sku":"A"}`, example.RejectMissingField, "c.jsonl:6", "missing location, uom, counted, counted_at"},
		{`{"count_id":"CC-8","sku":"A","location":"L","uom":"EA","counted":1,"counted_at":"2025-03-14T16:05:00"}`, example.RejectBadTime, "c.jsonl:7", "RFC 3339"},
		{`{"count_id":"CC-9","sku":"A","location":"L","uom":"EA","counted":-1,"counted_at":"2025-03-14T16:05:00Z"}`, example.RejectInvalidCount, "c.jsonl:8", "data.counted"},
		{`{"count_id":"CC-10","sku":"A","location":"L","uom":"EA","counted":1,"counted_at":"2025-03-14T16:05:00Z"} {}`, example.RejectJSONSyntax, "c.jsonl:9:", "data after the JSON object"},
		{"{\"count_id\":\"CC-\xff\"}", example.RejectBadEncoding, "c.jsonl:10:17", "not valid UTF-8"},
		{`{"count_id":"CC-11","sku":{"a":1}}`, example.RejectWrongType, "c.jsonl:11:", "want a scalar"},
		{`{"count_id":"CC-12","sku":"A","location":"L","uom":"EA","counted":1e3,"counted_at":"2025-03-14T16:05:00Z"}`, example.RejectInvalidCount, "c.jsonl:12", "data.counted"},
		{"x" + strings.Repeat("y", 1<<20), example.RejectLineTooLong, "c.jsonl:13", "over the 1048576-byte limit"},
	}
	var content strings.Builder
	for _, l := range lines {
		content.WriteString(l.line + "\n")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "c.jsonl"), []byte(content.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	em := readUntil(t, configured(t, dir, ""), nil, 1)
	events, rejects, _ := em.all()
	if len(events) != 1 || len(rejects) != len(lines)-1 {
		t.Fatalf("%d events, %d rejects; want 1 and %d", len(events), len(rejects), len(lines)-1)
	}
	for i, r := range rejects {
		want := lines[i+1]
		if r.Code != want.code || !strings.HasPrefix(r.Ref, want.ref) || !strings.Contains(r.Reason, want.reason) {
			t.Errorf("line %d: reject {%s %s %q}; want {%s %s… …%q…}", i+2, r.Code, r.Ref, r.Reason, want.code, want.ref, want.reason)
		}
		if len(r.Payload) == 0 || len(r.Payload) > 1<<20 {
			t.Errorf("line %d: payload of %d bytes; want the line (at most 1 KB of a huge one)", i+2, len(r.Payload))
		}
	}
	ev := events[0]
	c := ev.GetInventoryCounted()
	if ev.GetType() != "logistics.inventory.counted" || c.GetCounted().GetValue() != "13" || c.GetExpected().GetValue() != "14" ||
		c.GetItem().GetSku() != "AF-1002" || c.GetLocation().GetSiteId() != "MEM1" || ev.GetSourceRef() != "c.jsonl:1" ||
		ev.GetSource() != "urn:dray:MEM1:counts" || ev.GetOccurredOffset() != "-05:00" {
		t.Errorf("event %v", ev)
	}
}

func TestCursorResumesAfterLastCommittedLine(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	line := func(id string) string { return strings.Replace(good, `"CC-1"`, `"`+id+`"`, 1) }
	// A BOM, CRLF line ends, a blank line, and a line still being written.
	write("a.jsonl", "\uFEFF"+line("A1")+"\r\n\n"+line("A2")+"\r\n"+line("A3")[:40])
	c := configured(t, dir, `,"batch_size":1`)
	em := readUntil(t, c, nil, 2)
	events, _, cursor := em.all()
	if len(events) != 2 || events[0].GetInventoryCounted().GetCountId() != "A1" || events[1].GetInventoryCounted().GetCountId() != "A2" {
		t.Fatalf("got %d events; want A1, A2", len(events))
	}
	firstIDs := []string{events[0].GetId(), events[1].GetId()}

	// The writer finishes the line and starts a new file.
	write("a.jsonl", line("A3")[40:]+"\n")
	write("b.jsonl", line("B1")+"\n")
	em = readUntil(t, c, cursor, 2)
	events, _, last := em.all()
	if len(events) != 2 || events[0].GetInventoryCounted().GetCountId() != "A3" || events[1].GetInventoryCounted().GetCountId() != "B1" {
		t.Fatalf("after the cursor: %d events; want A3, B1", len(events))
	}
	if events[0].GetSourceRef() != "a.jsonl:4" {
		t.Errorf("line numbers continue across restarts: ref %q; want a.jsonl:4", events[0].GetSourceRef())
	}
	var pos map[string]any
	if err := json.Unmarshal(last, &pos); err != nil || pos["file"] != "b.jsonl" {
		t.Errorf("last cursor %s", last)
	}

	// From the beginning again: the same lines, the same ids.
	em = readUntil(t, c, nil, 4)
	events, _, _ = em.all()
	if len(events) != 4 || events[0].GetId() != firstIDs[0] || events[1].GetId() != firstIDs[1] {
		t.Errorf("re-read from nil gave different ids")
	}
}

func TestEmitErrorEndsRead(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.jsonl"), []byte(good+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("agent gone")
	err := configured(t, dir, "").Read(context.Background(), nil, &emitter{fail: boom})
	if !errors.Is(err, boom) {
		t.Errorf("Read: %v; want the Emit error", err)
	}
}

func TestConfigure(t *testing.T) {
	dir := t.TempDir()
	c := example.New()
	err := c.Configure(context.Background(), []byte(`{"site_id":"bad site!","dir":"/nonexistent","pattern":"[","poll_interval":"1ms","batch_size":0,"colour":"red"}`))
	var ce *sdk.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("Configure: %v; want *sdk.ConfigError", err)
	}
	var paths []string
	for _, f := range ce.Fields {
		paths = append(paths, f.Path)
	}
	if got, want := strings.Join(paths, " "), "colour site_id dir pattern poll_interval batch_size"; got != want {
		t.Errorf("field errors on %q; want %q (%v)", got, want, ce)
	}
	if err := c.Configure(context.Background(), []byte(`{"site_id":"MEM1","dir":`+quote(dir)+`}`)); err != nil {
		t.Errorf("valid configuration after a refused one: %v", err)
	}
}
