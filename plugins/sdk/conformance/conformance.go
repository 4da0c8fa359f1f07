// Package conformance is the test suite every connector passes. A
// connector's tests build its binary and call Run with a Harness; the suite
// starts the binary the way the agent does (pluginhost: go-plugin, AutoMTLS,
// SHA-256 pin) and checks the contract of docs/connectors.md:
//
//   - Info is complete: name, version, APIVersions containing sdk.APIVersion,
//     event types that are canonical types;
//   - Configure refuses an unknown key with a field error naming it;
//   - Read from nil emits batches whose events validate, are of the declared
//     types, have distinct ids, and whose cursors are never empty; every record
//     the harness produces arrives (and every reject it announces, with a code);
//   - a restarted plugin reading from an earlier cursor emits exactly the
//     events that came after it, with the same ids; from the beginning, only
//     ids already seen; from the last cursor, nothing new;
//   - the plugin never writes to stdout after the handshake;
//   - it stops reading promptly when the read's context ends, exits when its
//     agent is gone (the parent pipe closes) or it is killed, and leaves no
//     process behind.
//
// The suite is written against the protocol, so connectors written in other
// languages can run it too (from a small Go test that points at their binary).
package conformance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/pluginhost"
	"github.com/draylink/dray/plugins/sdk"
)

// Harness describes the connector under test.
type Harness struct {
	// Binary is the connector's executable (build it in the test with
	// `go build`).
	Binary string
	// Args and Env are passed to the binary.
	Args []string
	Env  []string
	// NewSource prepares a fresh, empty source for one part of the suite
	// (use t.TempDir, t.Cleanup) and returns a valid configuration for it.
	NewSource func(t *testing.T) Source
	// Timeout bounds each wait for expected events (default 30 s).
	Timeout time.Duration
	// Quiet is how long the suite watches for events that must not come
	// (default 2 s; make it longer than the connector's poll interval).
	Quiet time.Duration
}

// Source is one prepared source.
type Source struct {
	// Config is a valid configuration (a JSON object) reading this source.
	Config []byte
	// Produce adds new records to the source — round 0, then round 1, each
	// with records not written before — and says what they must yield.
	Produce func(t *testing.T, round int) Produced
}

// Produced is what one round of records must yield.
type Produced struct {
	// Events is the number of valid events (at least 1).
	Events int
	// Rejects is the number of bad records among them.
	Rejects int
}

func (h *Harness) defaults() {
	if h.Timeout <= 0 {
		h.Timeout = 30 * time.Second
	}
	if h.Quiet <= 0 {
		h.Quiet = 2 * time.Second
	}
}

// Run runs the suite as subtests of t.
func Run(t *testing.T, h Harness) {
	t.Helper()
	h.defaults()
	if h.Binary == "" || h.NewSource == nil {
		t.Fatal("conformance: Harness needs Binary and NewSource")
	}
	b, err := os.ReadFile(h.Binary)
	if err != nil {
		t.Fatalf("conformance: %v", err)
	}
	sum := sha256.Sum256(b)
	s := &suite{h: h, sha: hex.EncodeToString(sum[:])}

	t.Run("Info", s.testInfo)
	t.Run("ConfigureRefusesUnknownKey", s.testUnknownKey)
	t.Run("ReadRestartIdentity", s.testRead)
	t.Run("ReadStopsOnCancel", s.testReadCancel)
	t.Run("KillLeavesNothing", s.testKill)
	t.Run("StartContextEnds", s.testStartContext)
	t.Run("ExitsWhenAgentGone", s.testAgentGone)
}

type suite struct {
	h   Harness
	sha string
}

// start starts the connector; it is killed (and its stdout checked) when the
// test ends. The plugin's logs are shown if the test fails.
func (s *suite) start(t *testing.T, ctx context.Context) *pluginhost.Plugin {
	t.Helper()
	logs := &logBuffer{}
	p, err := pluginhost.Start(ctx, pluginhost.Config{
		Path:             s.h.Binary,
		SHA256:           s.sha,
		Args:             s.h.Args,
		Env:              s.h.Env,
		Logger:           slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		HeartbeatTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatalf("start the connector: %v\nlogs:\n%s", err, logs)
	}
	t.Cleanup(func() {
		p.Kill()
		if n := p.StdoutBytes(); n != 0 {
			t.Errorf("the connector wrote %d bytes to stdout after the handshake; log to stderr (sdk.Logger)", n)
		}
		if t.Failed() {
			t.Logf("connector logs:\n%s", logs)
		}
	})
	return p
}

func (s *suite) startConfigured(t *testing.T, config []byte) *pluginhost.Plugin {
	t.Helper()
	p := s.start(t, context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), s.h.Timeout)
	defer cancel()
	if err := p.Configure(ctx, config); err != nil {
		t.Fatalf("Configure with the harness's valid configuration: %v", err)
	}
	return p
}

func (s *suite) info(t *testing.T, p *pluginhost.Plugin) sdk.Info {
	t.Helper()
	info, err := p.Info(context.Background())
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	return info
}

func (s *suite) testInfo(t *testing.T) {
	p := s.start(t, context.Background())
	info := s.info(t, p)
	if info.Name == "" {
		t.Error("Info.Name is empty")
	}
	if info.Version == "" {
		t.Error("Info.Version is empty")
	}
	if !slices.Contains(info.APIVersions, sdk.APIVersion) {
		t.Errorf("Info.APIVersions = %v; want it to contain %d", info.APIVersions, sdk.APIVersion)
	}
	if len(info.EventTypes) == 0 {
		t.Error("Info.EventTypes is empty")
	}
	for _, et := range info.EventTypes {
		if _, ok := canonical.LookupType(et); !ok {
			t.Errorf("Info.EventTypes: %q is not a canonical event type", et)
		}
	}
	if err := p.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// unknownKey is the key the suite adds to a valid configuration.
const unknownKey = "dray_conformance_unknown_key"

func (s *suite) testUnknownKey(t *testing.T) {
	src := s.h.NewSource(t)
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(src.Config, &obj); err != nil {
		t.Fatalf("the harness's configuration is not a JSON object: %v", err)
	}
	obj[unknownKey] = json.RawMessage(`true`)
	bad, _ := json.Marshal(obj)

	p := s.start(t, context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), s.h.Timeout)
	defer cancel()
	err := p.Configure(ctx, bad)
	var ce *sdk.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("Configure with an unknown key: %v; want a *sdk.ConfigError", err)
	}
	found := false
	for _, f := range ce.Fields {
		if f.Path == unknownKey || bytes.Contains([]byte(f.Path+" "+f.Msg), []byte(unknownKey)) {
			found = true
		}
	}
	if !found {
		t.Errorf("Configure's field errors %v do not name %q", ce.Fields, unknownKey)
	}
	// A refused configuration leaves the connector unconfigured, and a valid
	// one is accepted after it.
	if err := p.Configure(ctx, src.Config); err != nil {
		t.Errorf("Configure with the valid configuration after a refused one: %v", err)
	}
}

// testRead is the heart of the suite: read, restart from cursors, compare ids.
func (s *suite) testRead(t *testing.T) {
	src := s.h.NewSource(t)
	p := s.startConfigured(t, src.Config)
	info := s.info(t, p)

	r := s.read(t, p, nil, info)
	round0 := src.Produce(t, 0)
	s.waitFor(t, r, round0, "round 0 from a nil cursor")
	cut := r.snapshot()
	round1 := src.Produce(t, 1)
	want := Produced{Events: round0.Events + round1.Events, Rejects: round0.Rejects + round1.Rejects}
	s.waitFor(t, r, want, "round 1 while reading")
	time.Sleep(s.h.Quiet)
	all := r.stop(t)
	if all.events != want.Events || all.rejects != want.Rejects {
		t.Fatalf("read from nil: %d events and %d rejects; want %d and %d", all.events, all.rejects, want.Events, want.Rejects)
	}
	if len(cut.cursors) == 0 || len(all.cursors) == len(cut.cursors) {
		t.Fatalf("rounds 0 and 1 came in %d and %d batches; each round needs at least one", len(cut.cursors), len(all.cursors)-len(cut.cursors))
	}
	earlier := cut.cursors[len(cut.cursors)-1]
	last := all.cursors[len(all.cursors)-1]
	seen := idSet(all.ids)
	after := idSet(all.ids[len(cut.ids):])
	p.Kill()

	// A new process, as the supervisor would start after a crash.
	p2 := s.startConfigured(t, src.Config)

	r = s.read(t, p2, earlier, info)
	s.waitFor(t, r, Produced{Events: len(after)}, "a restart from the cursor after round 0")
	time.Sleep(s.h.Quiet)
	got := r.stop(t)
	if missing := minus(after, idSet(got.ids)); len(missing) > 0 {
		t.Errorf("restart from the cursor after round 0: %d events of round 1 missing or with new ids, e.g. %s", len(missing), missing[0])
	}
	if extra := minus(idSet(got.ids), seen); len(extra) > 0 {
		t.Errorf("restart from the cursor after round 0: %d event ids never seen before (unstable ids?), e.g. %s", len(extra), extra[0])
	}

	r = s.read(t, p2, nil, info)
	time.Sleep(s.h.Quiet)
	s.settle(t, r)
	got = r.stop(t)
	if extra := minus(idSet(got.ids), seen); len(extra) > 0 {
		t.Errorf("restart from nil: %d event ids never seen before (the same records must give the same ids), e.g. %s", len(extra), extra[0])
	}

	r = s.read(t, p2, last, info)
	time.Sleep(s.h.Quiet)
	got = r.stop(t)
	if extra := minus(idSet(got.ids), seen); len(extra) > 0 {
		t.Errorf("restart from the last cursor: %d new event ids; want none, e.g. %s", len(extra), extra[0])
	}
	if got.events > 0 {
		t.Logf("restart from the last cursor re-emitted %d already-seen events (allowed, but costs a re-read)", got.events)
	}
}

// settle waits until a read has emitted nothing new for Quiet.
func (s *suite) settle(t *testing.T, r *reader) {
	deadline := time.Now().Add(s.h.Timeout)
	for {
		before := r.snapshot()
		time.Sleep(s.h.Quiet)
		if r.snapshot().events == before.events || time.Now().After(deadline) {
			return
		}
	}
}

func (s *suite) testReadCancel(t *testing.T) {
	src := s.h.NewSource(t)
	p := s.startConfigured(t, src.Config)
	info := s.info(t, p)
	src.Produce(t, 0)
	r := s.read(t, p, nil, info)
	s.waitFor(t, r, Produced{Events: 1}, "the first event")
	start := time.Now()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Read after its context was cancelled: %v; want nil or context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read did not return within 5 s of its context being cancelled")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Read took %s to stop; want under 2 s", d)
	}
	if p.Exited() {
		t.Fatal("the plugin exited when only its read was cancelled")
	}
	if err := p.Ping(context.Background()); err != nil {
		t.Errorf("Ping after a cancelled read: %v", err)
	}
}

func (s *suite) testKill(t *testing.T) {
	src := s.h.NewSource(t)
	p := s.startConfigured(t, src.Config)
	info := s.info(t, p)
	src.Produce(t, 0)
	r := s.read(t, p, nil, info)
	s.waitFor(t, r, Produced{Events: 1}, "the first event")
	pid := p.Pid()
	group := processGroup(pid)
	p.Kill()
	select {
	case err := <-r.done:
		if !errors.Is(err, pluginhost.ErrKilled) {
			t.Errorf("Read during Kill: %v; want pluginhost.ErrKilled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Read did not return after Kill")
	}
	if !p.Exited() {
		t.Error("Exited() = false after Kill")
	}
	waitGone(t, append(group, pid), 5*time.Second)
}

func (s *suite) testStartContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := s.start(t, ctx)
	pid := p.Pid()
	group := processGroup(pid)
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for !p.Exited() {
		if time.Now().After(deadline) {
			t.Fatal("the plugin still runs 10 s after Start's context ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitGone(t, append(group, pid), 5*time.Second)
}

// reader runs one Plugin.Read and records what it emits, checking each
// batch on the way.
type reader struct {
	cancel context.CancelFunc
	done   chan error

	mu    sync.Mutex
	state readState // guarded by mu
	bad   []string  // guarded by mu: contract violations
}

type readState struct {
	events, rejects int
	ids             []string
	cursors         [][]byte
}

func (r *reader) snapshot() readState {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.state
	st.ids = slices.Clone(st.ids)
	st.cursors = slices.Clone(st.cursors)
	return st
}

func (s *suite) read(t *testing.T, p *pluginhost.Plugin, cursor []byte, info sdk.Info) *reader {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &reader{cancel: cancel, done: make(chan error, 1)}
	seen := map[string]bool{}
	go func() {
		r.done <- p.Read(ctx, cursor, func(_ context.Context, b pluginhost.HostBatch) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			if len(b.Cursor) == 0 {
				r.bad = append(r.bad, fmt.Sprintf("batch %d has an empty cursor", b.Seq))
			}
			for i, raw := range b.Events {
				ev, err := canonical.UnmarshalBinary(raw)
				if err != nil {
					r.bad = append(r.bad, fmt.Sprintf("batch %d event %d does not decode: %v", b.Seq, i, err))
					continue
				}
				if err := canonical.Validate(ev); err != nil {
					r.bad = append(r.bad, fmt.Sprintf("batch %d event %d: %v", b.Seq, i, err))
				}
				if !slices.Contains(info.EventTypes, ev.GetType()) {
					r.bad = append(r.bad, fmt.Sprintf("event %s has type %q, not listed in Info.EventTypes", ev.GetId(), ev.GetType()))
				}
				if seen[ev.GetId()] {
					r.bad = append(r.bad, fmt.Sprintf("event id %s emitted twice in one read", ev.GetId()))
				}
				seen[ev.GetId()] = true
				r.state.ids = append(r.state.ids, ev.GetId())
			}
			for _, rej := range b.Rejects {
				if rej.Code == "" || (rej.Ref == "" && len(rej.Payload) == 0) {
					r.bad = append(r.bad, fmt.Sprintf("reject %+v needs a code and a ref or payload", rej))
				}
			}
			r.state.events += len(b.Events)
			r.state.rejects += len(b.Rejects)
			r.state.cursors = append(r.state.cursors, slices.Clone(b.Cursor))
			return nil
		})
	}()
	return r
}

// waitFor waits until the read has emitted at least want.
func (s *suite) waitFor(t *testing.T, r *reader, want Produced, what string) {
	t.Helper()
	deadline := time.Now().Add(s.h.Timeout)
	for {
		st := r.snapshot()
		if st.events >= want.Events && st.rejects >= want.Rejects {
			return
		}
		select {
		case err := <-r.done:
			t.Fatalf("%s: Read ended (%v) after %d events and %d rejects; want %d and %d", what, err, st.events, st.rejects, want.Events, want.Rejects)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d events and %d rejects after %s; want %d and %d", what, st.events, st.rejects, s.h.Timeout, want.Events, want.Rejects)
		}
	}
}

// stop cancels the read, checks it ended cleanly, and returns what it saw.
func (r *reader) stop(t *testing.T) readState {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Read ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Read did not return within 10 s of its context being cancelled")
	}
	r.mu.Lock()
	for _, b := range r.bad {
		t.Error(b)
	}
	r.mu.Unlock()
	return r.snapshot()
}

func idSet(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// minus returns the ids in a but not in b, sorted.
func minus(a, b map[string]bool) []string {
	var out []string
	for id := range a {
		if !b[id] {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
