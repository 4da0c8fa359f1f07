package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/draylink/dray/agent/spool"
	"github.com/draylink/dray/plugins/example"
	"github.com/draylink/dray/plugins/pluginhost"
)

// countLine is a valid line of the example connector's format.
func countLine(id string, counted int) string {
	return fmt.Sprintf(`{"count_id":%q,"owner":"ACME","sku":"AF-1","location":"R-01-01-A","uom":"EA","counted":%d,"counted_at":"2025-03-14T16:05:00-05:00"}`, id, counted)
}

// Bad lines and what the example connector says about them.
var badLines = []struct{ line, code string }{
	{`{"count_id":"CC-bad-1","sku":"AF-1","location":"X","uom":"EA","counted":1,"counted_at":"2025-03-14T16:05:00-05:00","colour":"red"}`, example.RejectUnknownField},
	{"not json at all", example.RejectJSONSyntax},
	{`{"count_id":"CC-bad-3","sku":"AF-1","location":"X","uom":"EA","counted":-4,"counted_at":"2025-03-14T16:05:00-05:00"}`, example.RejectInvalidCount},
}

func writeCounts(t testing.TB, dir, name string, from, n int, bad bool) {
	t.Helper()
	var b strings.Builder
	for i := range n {
		b.WriteString(countLine(fmt.Sprintf("CC-%06d", from+i), i%50) + "\n")
	}
	if bad {
		for _, l := range badLines {
			b.WriteString(l.line + "\n")
		}
	}
	tmp := filepath.Join(dir, name+".tmp")
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

func exampleConfig(dir string, batch int) []byte {
	b, _ := json.Marshal(map[string]any{"site_id": "MEM1", "dir": dir, "poll_interval": "100ms", "batch_size": batch})
	return b
}

// The example connector through the supervisor: events reach the spool,
// rejects the quarantine; a retry of a corrected record turns it into an
// event and removes it; a retry of an unchanged one counts an attempt.
func TestExampleConnectorIntegration(t *testing.T) {
	bin := build(t, examplePkg)
	dir := t.TempDir()
	writeCounts(t, dir, "counts-0001.jsonl", 0, 200, true)
	h := startHarness(t, Config{Plugin: pluginConfig(t, bin), Connector: exampleConfig(dir, 50)}, nil)
	waitFor(t, 20*time.Second, "200 events and 3 rejects", func() bool {
		st := h.sup.Status()
		return st.Events == 200 && st.Quarantined == 3
	})
	st := h.sup.Status()
	if st.State != StateRunning || st.Connector != example.Name || st.Starts != 1 || st.Restarts != 0 || st.PID == 0 {
		t.Errorf("status %+v", st)
	}
	events := spoolEvents(t, h.sp)
	ids := map[string]bool{}
	for i, ev := range events {
		if want := fmt.Sprintf("CC-%06d", i); ev.GetInventoryCounted().GetCountId() != want {
			t.Fatalf("event %d is count %s; want %s", i, ev.GetInventoryCounted().GetCountId(), want)
		}
		ids[ev.GetId()] = true
	}
	if len(events) != 200 || len(ids) != 200 {
		t.Fatalf("%d events, %d ids in the spool; want 200", len(events), len(ids))
	}
	cur, _ := h.sp.Cursor("counts")
	if !strings.Contains(string(cur), `"line":203`) {
		t.Errorf("cursor %s; want after line 203", cur)
	}

	recs, err := h.sp.ListQuarantine(spool.QuarantineFilter{})
	if err != nil || len(recs) != 3 {
		t.Fatalf("quarantine %+v, %v", recs, err)
	}
	for i, r := range recs {
		if r.Source != "counts" || r.Origin != spool.OriginConnector || r.Code != badLines[i].code ||
			!strings.HasPrefix(r.Ref, fmt.Sprintf("counts-0001.jsonl:%d", 201+i)) || string(r.Payload) != badLines[i].line || r.Reason == "" {
			t.Errorf("record %d: %+v", i, r)
		}
	}
	if c := h.sp.QuarantineCounts(); c["counts"] != 3 {
		t.Errorf("counts %v", c)
	}

	ctx := context.Background()
	// Unchanged, the syntax error stays: one attempt, same code.
	out, err := h.sup.Retry(ctx, recs[1], nil)
	if err != nil || out.Resolved || out.Record == nil || out.Record.Attempts != 1 || out.Record.Code != example.RejectJSONSyntax ||
		!strings.Contains(out.Error, "rejected the record again") {
		t.Fatalf("retry of an unchanged bad line: %+v, %v", out, err)
	}
	// Corrected, the unknown-field line becomes an event.
	fixed := []byte(strings.Replace(badLines[0].line, `,"colour":"red"`, "", 1))
	out, err = h.sup.Retry(ctx, recs[0], fixed)
	if err != nil || !out.Resolved || len(out.Events) != 1 {
		t.Fatalf("retry of a corrected line: %+v, %v", out, err)
	}
	if _, err := h.sp.Quarantined(recs[0].ID); !errors.Is(err, spool.ErrNotQuarantined) {
		t.Errorf("the resolved record is still there: %v", err)
	}
	if _, err := h.sup.Retry(ctx, recs[0], fixed); !errors.Is(err, spool.ErrNotQuarantined) {
		t.Errorf("second retry of a resolved record: %v; want ErrNotQuarantined", err)
	}
	events = spoolEvents(t, h.sp)
	if len(events) != 201 || events[200].GetId() != out.Events[0] || events[200].GetInventoryCounted().GetCountId() != "CC-bad-1" ||
		events[200].GetSourceRef() != "counts-0001.jsonl:201" {
		t.Errorf("after the retry the spool holds %d events, the last %v", len(events), events[len(events)-1])
	}
	if c := h.sp.QuarantineCounts(); c["counts"] != 2 {
		t.Errorf("counts after the retry %v", c)
	}

	// A new file is picked up while running.
	writeCounts(t, dir, "counts-0002.jsonl", 200, 100, false)
	waitFor(t, 20*time.Second, "the second file", func() bool { return h.sup.Status().Events == 301 })

	pid := h.sup.Status().PID
	h.stop()
	if alive(pid) {
		t.Errorf("plugin %d still alive after Run returned", pid)
	}
	if st := h.sup.Status(); st.State != StateStopped {
		t.Errorf("state after Run %s", st.State)
	}
	if !strings.Contains(h.logs.String(), "connector=counts") {
		t.Error("logs are not scoped with connector=counts")
	}
}

// A plugin that crashes again and again is restarted with backoff and
// resumes from the committed cursor: every event once.
func TestCrashingPluginResumesFromCursorIntegration(t *testing.T) {
	bin := build(t, testConnectorPkg)
	h := startHarness(t, Config{Plugin: pluginConfig(t, bin),
		Connector: []byte(`{"events": 3000, "batch": 100, "crash_after": 7, "then": "wait"}`)}, nil)
	// Processes 1-4 crash after 7 batches each; the fifth reads the last 2
	// batches and waits.
	waitFor(t, 60*time.Second, "3000 events", func() bool {
		cur, _ := h.sp.Cursor("counts")
		return string(cur) == "3000" && h.sup.Status().State == StateRunning
	})
	events := spoolEvents(t, h.sp)
	seen := map[string]int{}
	for _, ev := range events {
		seen[ev.GetInventoryCounted().GetSourceKey()]++
	}
	for i := range 3000 {
		if n := seen[strconv.Itoa(i)]; n != 1 {
			t.Fatalf("event %d is in the spool %d times", i, n)
		}
	}
	if len(events) != 3000 {
		t.Fatalf("%d events; want 3000", len(events))
	}
	st := h.sup.Status()
	if st.Restarts != 4 || st.Starts != 5 || !strings.Contains(st.LastError, "exited unexpectedly (exit status 7)") {
		t.Errorf("status %+v; want 4 restarts after crashes", st)
	}
	if !strings.Contains(h.logs.String(), "kind=crashed") || !strings.Contains(h.logs.String(), "restart_in=") {
		t.Error("the crashes are not logged with their kind and backoff")
	}
}

// A plugin that stops (SIGSTOP) stops heartbeating: it is killed and
// restarted, and the read completes.
func TestHungPluginIsRestartedIntegration(t *testing.T) {
	bin := build(t, testConnectorPkg)
	pc := pluginConfig(t, bin)
	pc.HeartbeatTimeout = 500 * time.Millisecond
	h := startHarness(t, Config{Plugin: pc, Connector: []byte(`{"events": 1000, "batch": 100, "hang_after": 3, "then": "wait"}`)}, nil)
	waitFor(t, 60*time.Second, "1000 events", func() bool {
		cur, _ := h.sp.Cursor("counts")
		return string(cur) == "1000"
	})
	if got := len(spoolEvents(t, h.sp)); got != 1000 {
		t.Errorf("%d events; want 1000", got)
	}
	// Each process stops itself after 3 batches, so 3 restarts are
	// expected; a process may slip one more batch out before the stop
	// takes (the stopping thread is not the last to stop).
	st := h.sup.Status()
	if st.Restarts < 2 || !strings.Contains(st.LastError, "heartbeat") {
		t.Errorf("status %+v; want restarts after hangs", st)
	}
}

// A binary that does not match its pin is never run: a clear error with
// both hashes, retried with backoff.
func TestTamperedBinaryIsRefusedIntegration(t *testing.T) {
	bin := build(t, examplePkg)
	pin := hashOf(t, bin)
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	tampered := filepath.Join(t.TempDir(), "dray-connector-example")
	if err := os.WriteFile(tampered, append(b, 0), 0o700); err != nil {
		t.Fatal(err)
	}
	h := startHarness(t, Config{Plugin: pluginhost.Config{Path: tampered, SHA256: pin}, Connector: exampleConfig(t.TempDir(), 10)}, nil)
	actual := hashOf(t, tampered)
	waitFor(t, 10*time.Second, "a refusal", func() bool { return h.sup.Status().LastError != "" })
	st := h.sup.Status()
	if !strings.Contains(st.LastError, "expected sha256 "+pin) || !strings.Contains(st.LastError, "actual "+actual) || st.Starts != 0 {
		t.Errorf("status %+v; want a checksum error naming %s and %s, no start", st, pin, actual)
	}
	if !strings.Contains(h.logs.String(), "kind=checksum") {
		t.Error("the refusal is not logged as a checksum failure")
	}
}

// A configuration the connector refuses is reported field by field.
func TestRefusedConfigurationIntegration(t *testing.T) {
	bin := build(t, examplePkg)
	h := startHarness(t, Config{Plugin: pluginConfig(t, bin), Connector: []byte(`{"site_id":"MEM1","dir":"/nonexistent","colour":1}`)}, nil)
	waitFor(t, 10*time.Second, "a refusal", func() bool { return h.sup.Status().LastError != "" })
	st := h.sup.Status()
	for _, want := range []string{"refused its configuration", "dir:", "colour: unknown field"} {
		if !strings.Contains(st.LastError, want) {
			t.Errorf("last error %q lacks %q", st.LastError, want)
		}
	}
}

// The agent does not trust the plugin: events of another site are
// quarantined by the host even though the SDK let them through; a retry
// through a connector without the ability is refused, the record unchanged;
// a connector with it resolves a record.
func TestHostChecksAndRetryAbilityIntegration(t *testing.T) {
	bin := build(t, testConnectorPkg)
	ctx := context.Background()

	t.Run("foreign site", func(t *testing.T) {
		h := startHarness(t, Config{Site: "DAL2", Plugin: pluginConfig(t, bin), Connector: []byte(`{"events": 50, "batch": 10, "then": "wait"}`)}, nil)
		waitFor(t, 20*time.Second, "50 records", func() bool { return h.sup.Status().Quarantined == 50 })
		recs, _ := h.sp.ListQuarantine(spool.QuarantineFilter{})
		if len(recs) != 50 || recs[0].Code != RejectForeignSite || recs[0].Origin != spool.OriginAgent || len(spoolEvents(t, h.sp)) != 0 {
			t.Errorf("%d records, first %+v", len(recs), recs[0])
		}
		if cur, _ := h.sp.Cursor("counts"); string(cur) != "50" {
			t.Errorf("cursor %q; the line must go on", cur)
		}
	})

	t.Run("retry", func(t *testing.T) {
		h := startHarness(t, Config{Plugin: pluginConfig(t, bin), Connector: []byte(`{"events": 30, "batch": 10, "invalid_every": 10, "then": "wait"}`)}, nil)
		waitFor(t, 20*time.Second, "3 rejects", func() bool { return h.sup.Status().Quarantined == 3 })
		recs, _ := h.sp.ListQuarantine(spool.QuarantineFilter{})
		if len(recs) != 3 || recs[0].Code != RejectInvalidEvent || recs[0].Origin != spool.OriginConnector {
			t.Fatalf("records %+v", recs)
		}
		out, err := h.sup.Retry(ctx, recs[0], []byte("9"))
		if err != nil || !out.Resolved || len(out.Events) != 1 {
			t.Fatalf("retry: %+v, %v", out, err)
		}
		if n := len(spoolEvents(t, h.sp)); n != 28 {
			t.Errorf("%d events after the retry; want 27 + 1", n)
		}
		// The running plugin's answer matters: after the retry, a record
		// the connector rejects again stays.
		out, err = h.sup.Retry(ctx, recs[1], nil)
		if err != nil || out.Resolved || out.Record.Attempts != 1 || out.Record.Code != "not_an_index" || len(out.Rejects) != 1 {
			t.Errorf("retry of a still-bad record: %+v, %v", out, err)
		}
	})

	t.Run("no retry ability", func(t *testing.T) {
		pc := pluginConfig(t, bin)
		pc.Env = []string{"TESTCONNECTOR_NO_RETRY=1"}
		h := startHarness(t, Config{Plugin: pc, Connector: []byte(`{"events": 10, "batch": 10, "invalid_every": 10, "then": "wait"}`)}, nil)
		waitFor(t, 20*time.Second, "a reject", func() bool { return h.sup.Status().Quarantined == 1 })
		recs, _ := h.sp.ListQuarantine(spool.QuarantineFilter{})
		_, err := h.sup.Retry(ctx, recs[0], nil)
		if !errors.Is(err, ErrNoRetry) || !strings.Contains(err.Error(), "does not implement sdk.Retrier") {
			t.Errorf("retry: %v; want ErrNoRetry", err)
		}
		if r, _ := h.sp.Quarantined(recs[0].ID); r.Attempts != 0 {
			t.Errorf("a retry that could not be attempted was counted: %+v", r)
		}
		h.stop()
		if _, err := h.sup.Retry(ctx, recs[0], nil); !errors.Is(err, ErrNotRunning) {
			t.Errorf("retry on a stopped connector: %v; want ErrNotRunning", err)
		}
	})
}

// A plugin that writes to stdout after the handshake keeps running: the
// output is logged as a warning.
func TestStdoutNoiseIntegration(t *testing.T) {
	bin := build(t, testConnectorPkg)
	h := startHarness(t, Config{Plugin: pluginConfig(t, bin), Connector: []byte(`{"events": 100, "batch": 10, "stdout": true, "then": "wait"}`)}, nil)
	waitFor(t, 20*time.Second, "100 events", func() bool { return h.sup.Status().Events == 100 })
	if st := h.sup.Status(); st.Restarts != 0 || st.State != StateRunning {
		t.Errorf("status %+v", st)
	}
	waitFor(t, 5*time.Second, "the stdout warning", func() bool {
		return strings.Contains(h.logs.String(), "plugin wrote to stdout") && strings.Contains(h.logs.String(), "hello from a misbehaving connector")
	})
}

// The plugin is killed with SIGKILL from outside, repeatedly, in the middle
// of a file: every event once, the cursor at the end.
func TestKilledPluginIntegration(t *testing.T) {
	bin := build(t, examplePkg)
	dir := t.TempDir()
	const lines = 20000
	writeCounts(t, dir, "counts-0001.jsonl", 0, lines, true)
	h := startHarness(t, Config{Plugin: pluginConfig(t, bin), Connector: exampleConfig(dir, 20)}, nil)
	kills := 0
	for kills < 5 {
		waitFor(t, 20*time.Second, "a running plugin", func() bool {
			st := h.sup.Status()
			return st.State == StateRunning && st.PID != 0
		})
		time.Sleep(150 * time.Millisecond)
		st := h.sup.Status()
		if st.Events >= lines {
			break
		}
		if st.PID != 0 && syscall.Kill(st.PID, syscall.SIGKILL) == nil {
			kills++
		}
	}
	waitFor(t, 60*time.Second, "every line", func() bool {
		cur, _ := h.sp.Cursor("counts")
		return strings.Contains(string(cur), fmt.Sprintf(`"line":%d`, lines+len(badLines)))
	})
	events := spoolEvents(t, h.sp)
	seen := map[string]int{}
	for _, ev := range events {
		seen[ev.GetInventoryCounted().GetCountId()]++
	}
	if len(events) != lines || len(seen) != lines {
		t.Fatalf("%d events, %d distinct counts; want %d (after %d kills)", len(events), len(seen), lines, kills)
	}
	recs, _ := h.sp.ListQuarantine(spool.QuarantineFilter{})
	if len(recs) != len(badLines) {
		t.Errorf("%d records in quarantine; want %d", len(recs), len(badLines))
	}
	if kills < 3 {
		t.Errorf("only %d kills landed in the middle of the file", kills)
	}
	t.Logf("%d kills, %d restarts", kills, h.sup.Status().Restarts)
}
