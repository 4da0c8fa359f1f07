//go:build unix

package pluginhost_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/pluginhost"
	"github.com/draylink/dray/plugins/pluginhost/internal/testevents"
	"github.com/draylink/dray/plugins/sdk"
)

func TestStartRefusesUnpinnedOrTamperedBinary(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "connector")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	good := hashOf(t, bin)
	tests := []struct {
		name, sha string
		want      []string
		is        error
	}{
		{"missing pin", "", []string{"64 hex digits"}, nil},
		{"malformed pin", "xyz", []string{"64 hex digits"}, nil},
		{"wrong pin", strings.Repeat("ab", 32), []string{"expected sha256 " + strings.Repeat("ab", 32), "actual " + good}, pluginhost.ErrChecksum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pluginhost.Start(context.Background(), pluginhost.Config{Path: bin, SHA256: tt.sha})
			if err == nil {
				t.Fatal("Start succeeded; want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
		})
	}
}

func TestTamperedAfterPinningIntegration(t *testing.T) {
	src := build(t, testConnectorPkg)
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "connector")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	pin := hashOf(t, bin)
	f, err := os.OpenFile(bin, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.Write([]byte("tampered"))
	f.Close()
	_, err = pluginhost.Start(context.Background(), pluginhost.Config{Path: bin, SHA256: pin})
	if !errors.Is(err, pluginhost.ErrChecksum) {
		t.Fatalf("Start of a tampered binary: %v; want ErrChecksum", err)
	}
	if !strings.Contains(err.Error(), pin) || !strings.Contains(err.Error(), hashOf(t, bin)) {
		t.Errorf("error %q should name the expected and the actual hash", err)
	}
}

// Each start builds a fresh SecureConfig: starting the same binary again,
// and several at once, works (a reused one fails with "checksums did not
// match").
func TestRepeatedStartsIntegration(t *testing.T) {
	for round := range 2 {
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				p, _ := startTestConnector(t, pluginhost.Config{}, "")
				if err := p.Ping(context.Background()); err != nil {
					t.Errorf("round %d: ping: %v", round, err)
				}
				p.Kill()
			})
		}
		wg.Wait()
	}
}

func TestInfoAndConfigureIntegration(t *testing.T) {
	p, _ := startTestConnector(t, pluginhost.Config{}, "")
	ctx := context.Background()
	info, err := p.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "testconnector" || info.Version == "" || len(info.APIVersions) != 1 || info.APIVersions[0] != sdk.APIVersion ||
		len(info.EventTypes) != 1 || info.EventTypes[0] != testevents.Type {
		t.Errorf("Info = %+v", info)
	}
	if err := p.Read(ctx, nil, func(context.Context, pluginhost.HostBatch) error { return nil }); !errors.Is(err, pluginhost.ErrConnector) ||
		!strings.Contains(err.Error(), "not configured") {
		t.Errorf("Read before Configure: %v; want a connector error saying it is not configured", err)
	}

	err = p.Configure(ctx, []byte(`{"events": "many", "batchsize": 3, "then": "never"}`))
	var ce *sdk.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("Configure with bad fields: %v; want *sdk.ConfigError", err)
	}
	want := map[string]string{"events": "want an integer", "batchsize": "unknown field", "then": `want "end" or "wait"`}
	if len(ce.Fields) != len(want) {
		t.Errorf("got %d field errors %v; want %d", len(ce.Fields), ce.Fields, len(want))
	}
	for _, f := range ce.Fields {
		if !strings.Contains(f.Msg, want[f.Path]) || want[f.Path] == "" {
			t.Errorf("field error %s: %q; want %q", f.Path, f.Msg, want[f.Path])
		}
	}
	if err := p.Configure(ctx, []byte(`{"events": 3}`)); err != nil {
		t.Fatalf("valid Configure after a refused one: %v", err)
	}
	if err := p.Configure(ctx, []byte(`{"events": 3}`)); !errors.Is(err, pluginhost.ErrConnector) {
		t.Errorf("second Configure: %v; want a connector error", err)
	}
}

type collector struct {
	mu      sync.Mutex
	batches []pluginhost.HostBatch
}

func (c *collector) handle(_ context.Context, b pluginhost.HostBatch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batches = append(c.batches, b)
	return nil
}

func (c *collector) events() (n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range c.batches {
		n += len(b.Events)
	}
	return n
}

func TestReadIntegration(t *testing.T) {
	p, _ := startTestConnector(t, pluginhost.Config{}, `{"events": 250, "batch": 100}`)
	ctx := context.Background()
	var c collector
	if err := p.Read(ctx, nil, c.handle); err != nil {
		t.Fatalf("Read: %v", err)
	}
	wantCursors := []string{"100", "200", "250"}
	if len(c.batches) != len(wantCursors) {
		t.Fatalf("got %d batches; want %d", len(c.batches), len(wantCursors))
	}
	i := 0
	for k, b := range c.batches {
		if b.Seq != uint64(k+1) || string(b.Cursor) != wantCursors[k] || len(b.Rejects) != 0 {
			t.Errorf("batch %d: seq %d cursor %q rejects %d; want seq %d cursor %q", k, b.Seq, b.Cursor, len(b.Rejects), k+1, wantCursors[k])
		}
		for _, raw := range b.Events {
			ev, err := canonical.UnmarshalBinary(raw)
			if err != nil {
				t.Fatal(err)
			}
			if want := testevents.Count(i).GetId(); ev.GetId() != want {
				t.Errorf("event %d: id %s; want %s", i, ev.GetId(), want)
			}
			if err := canonical.Validate(ev); err != nil {
				t.Errorf("event %d: %v", i, err)
			}
			i++
		}
	}

	// The same process reads again, from a cursor.
	c = collector{}
	if err := p.Read(ctx, []byte("200"), c.handle); err != nil {
		t.Fatalf("second Read: %v", err)
	}
	if len(c.batches) != 1 || len(c.batches[0].Events) != 50 || c.batches[0].Seq != 1 {
		t.Errorf("Read from cursor 200: %d batches; want one of 50 events with seq 1", len(c.batches))
	}
	if n := p.StdoutBytes(); n != 0 {
		t.Errorf("plugin wrote %d bytes to stdout", n)
	}
}

// A pipelined connector has batches in flight when the agent fails to
// commit one: the later ones are dropped unacknowledged, the read ends with
// the failure, and the next read resumes at the last committed cursor, so
// every event is committed once, in order.
func TestPipelinedReadResumesAfterAFailedCommitIntegration(t *testing.T) {
	p, _ := startTestConnector(t, pluginhost.Config{}, `{"events": 1000, "batch": 50, "pipelined": true, "validated": true}`)
	ctx := context.Background()
	var committed []string // event ids, in commit order
	cursor := []byte(nil)
	handle := func(failAt int) func(context.Context, pluginhost.HostBatch) error {
		n := 0
		return func(_ context.Context, b pluginhost.HostBatch) error {
			n++
			if n == failAt {
				return errors.New("spool refused the commit")
			}
			for _, raw := range b.Events {
				ev, err := canonical.UnmarshalBinary(raw)
				if err != nil {
					return err
				}
				committed = append(committed, ev.GetId())
			}
			cursor = b.Cursor
			return nil
		}
	}
	err := p.Read(ctx, cursor, handle(3))
	if err == nil || !strings.Contains(err.Error(), "spool refused the commit") {
		t.Fatalf("Read: %v; want the failed commit", err)
	}
	if string(cursor) != "100" || len(committed) != 100 {
		t.Fatalf("after the failure: cursor %q, %d events committed; want 100, 100", cursor, len(committed))
	}
	if err := p.Read(ctx, cursor, handle(0)); err != nil {
		t.Fatalf("second Read: %v", err)
	}
	if len(committed) != 1000 {
		t.Fatalf("%d events committed; want 1000", len(committed))
	}
	for i, id := range committed {
		if want := testevents.Count(i).GetId(); id != want {
			t.Fatalf("committed event %d is %s; want %s", i, id, want)
		}
	}
}

func TestInvalidEventsBecomeRejectsIntegration(t *testing.T) {
	p, _ := startTestConnector(t, pluginhost.Config{}, `{"events": 9, "batch": 9, "invalid_every": 3}`)
	var c collector
	if err := p.Read(context.Background(), nil, c.handle); err != nil {
		t.Fatal(err)
	}
	if len(c.batches) != 1 {
		t.Fatalf("got %d batches; want 1", len(c.batches))
	}
	b := c.batches[0]
	if len(b.Events) != 6 || len(b.Rejects) != 3 {
		t.Fatalf("got %d events and %d rejects; want 6 and 3", len(b.Events), len(b.Rejects))
	}
	for _, r := range b.Rejects {
		if r.Code != sdk.RejectInvalidEvent {
			t.Errorf("reject code %q; want %q", r.Code, sdk.RejectInvalidEvent)
		}
		for _, w := range []string{"data.item.sku", "(required)", "data.counted", "(negative)"} {
			if !strings.Contains(r.Reason, w) {
				t.Errorf("reason %q lacks %q", r.Reason, w)
			}
		}
		if !strings.HasPrefix(r.Ref, "counts.jsonl:") {
			t.Errorf("ref %q; want the event's source ref", r.Ref)
		}
		var js map[string]any
		if err := json.Unmarshal(r.Payload, &js); err != nil || js["id"] == nil {
			t.Errorf("payload is not the event as JSON: %v %s", err, r.Payload)
		}
	}
}

func TestCrashIsReportedIntegration(t *testing.T) {
	p, _ := startTestConnector(t, pluginhost.Config{}, `{"events": 1000, "batch": 10, "crash_after": 2}`)
	var c collector
	err := p.Read(context.Background(), nil, c.handle)
	if !errors.Is(err, pluginhost.ErrCrashed) || !strings.Contains(err.Error(), "exit status 7") {
		t.Fatalf("Read: %v; want ErrCrashed with exit status 7", err)
	}
	if !p.Exited() {
		t.Error("Exited() = false after a crash")
	}
	if len(c.batches) != 2 {
		t.Errorf("handled %d batches before the crash; want 2", len(c.batches))
	}
	if err := p.Ping(context.Background()); !errors.Is(err, pluginhost.ErrCrashed) {
		t.Errorf("Ping after the crash: %v; want ErrCrashed", err)
	}
}

func TestHangIsDetectedIntegration(t *testing.T) {
	p, _ := startTestConnector(t, pluginhost.Config{HeartbeatTimeout: 500 * time.Millisecond},
		`{"events": 1000, "batch": 10, "hang_after": 1}`)
	var c collector
	start := time.Now()
	err := p.Read(context.Background(), nil, c.handle)
	if !errors.Is(err, pluginhost.ErrHung) {
		t.Fatalf("Read: %v; want ErrHung", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("hang detected after %s; want about 0.5 s", d)
	}
	if !p.Exited() || alive(p.Pid()) {
		t.Error("a hung plugin must be killed")
	}
}

// A slow commit is backpressure, not a hang: while handle runs the plugin
// is not expected to speak, and heartbeats resume after.
func TestSlowCommitIsNotAHangIntegration(t *testing.T) {
	p, _ := startTestConnector(t, pluginhost.Config{HeartbeatTimeout: time.Second},
		`{"events": 30, "batch": 10, "then": "wait"}`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var c collector
	errc := make(chan error, 1)
	go func() {
		errc <- p.Read(ctx, nil, func(ctx context.Context, b pluginhost.HostBatch) error {
			if b.Seq == 1 {
				time.Sleep(2500 * time.Millisecond) // 2.5× the heartbeat timeout
			}
			return c.handle(ctx, b)
		})
	}()
	// Past the last batch the plugin only heartbeats: idle, not hung.
	time.Sleep(5 * time.Second)
	select {
	case err := <-errc:
		t.Fatalf("Read ended early: %v", err)
	default:
	}
	if n := c.events(); n != 30 {
		t.Errorf("got %d events; want 30", n)
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Read after cancel: %v; want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read did not return after its context was cancelled")
	}
	// The plugin is still alive and reads again.
	if err := p.Ping(context.Background()); err != nil {
		t.Fatalf("ping after a cancelled read: %v", err)
	}
	c = collector{}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	err := p.Read(ctx2, []byte("20"), c.handle)
	if !errors.Is(err, context.DeadlineExceeded) || c.events() != 10 {
		t.Errorf("second Read: %v, %d events; want deadline exceeded after 10 events", err, c.events())
	}
}

func TestStdoutIsCaughtIntegration(t *testing.T) {
	p, _ := startTestConnector(t, pluginhost.Config{}, `{"events": 5, "stdout": true}`)
	var c collector
	if err := p.Read(context.Background(), nil, c.handle); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for p.StdoutBytes() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if p.StdoutBytes() == 0 {
		t.Error("the write to stdout went unnoticed")
	}
}

// childPids lists the processes whose parent is pid.
func childPids(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, n)
		}
	}
	return out
}

func TestKillIntegration(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc")
	}
	p, _ := startTestConnector(t, pluginhost.Config{}, `{"events": 10, "then": "wait", "child": true}`)
	children := childPids(p.Pid())
	if len(children) != 1 {
		t.Fatalf("the plugin has children %v; want its one sleep", children)
	}
	errc := make(chan error, 1)
	var c collector
	go func() { errc <- p.Read(context.Background(), nil, c.handle) }()
	for c.events() < 10 {
		time.Sleep(10 * time.Millisecond)
	}
	p.Kill()
	if err := <-errc; !errors.Is(err, pluginhost.ErrKilled) {
		t.Errorf("Read during Kill: %v; want ErrKilled", err)
	}
	if !p.Exited() {
		t.Error("Exited() = false after Kill")
	}
	waitGone(t, p.Pid(), time.Second)
	waitGone(t, children[0], 2*time.Second)
	p.Kill() // idempotent
}

func TestStartContextBoundsLifeIntegration(t *testing.T) {
	bin := build(t, testConnectorPkg)
	ctx, cancel := context.WithCancel(context.Background())
	p, err := pluginhost.Start(ctx, pluginhost.Config{Path: bin, SHA256: hashOf(t, bin)})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for !p.Exited() {
		if time.Now().After(deadline) {
			t.Fatal("plugin still running 5 s after Start's context ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitGone(t, p.Pid(), time.Second)
}

func TestApplyIntegration(t *testing.T) {
	applied := filepath.Join(t.TempDir(), "applied")
	p, _ := startTestConnector(t, pluginhost.Config{}, `{"applied_log": `+strconv.Quote(applied)+`}`)
	ctx := context.Background()
	if err := p.Apply(ctx, sdk.Command{ID: "cmd-1", Type: "logistics.order.released", Payload: []byte(`{}`)}); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	b, _ := os.ReadFile(applied)
	if got := string(b); got != "cmd-1 logistics.order.released\n" {
		t.Errorf("applied log %q", got)
	}
	err := p.Apply(ctx, sdk.Command{ID: "cmd-2", Type: "logistics.order.released", Payload: []byte(`"fail"`)})
	if !errors.Is(err, pluginhost.ErrConnector) || !strings.Contains(err.Error(), "the WMS refused the release") {
		t.Errorf("failing Apply: %v; want the connector's error", err)
	}
	err = p.Apply(ctx, sdk.Command{ID: "cmd-3", Type: "logistics.shipment.tendered"})
	if !errors.Is(err, sdk.ErrUnsupported) {
		t.Errorf("Apply of an unlisted type: %v; want sdk.ErrUnsupported", err)
	}
}

func TestLogsAreBridgedIntegration(t *testing.T) {
	p, logs := startTestConnector(t, pluginhost.Config{}, `{"events": 1}`)
	var c collector
	if err := p.Read(context.Background(), nil, c.handle); err != nil {
		t.Fatal(err)
	}
	p.Kill()
	// The connector logged "read" with from=0 through sdk.Logger: the host
	// re-logs it at its level with its attributes.
	if !strings.Contains(logs.String(), "level=INFO msg=read") || !strings.Contains(logs.String(), "from=0") {
		t.Errorf("plugin's log line not bridged; logs:\n%s", logs)
	}
}
