package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/sdk/pluginpb"
	"google.golang.org/grpc"
)

// fakeStream records what the emitter sends.
type fakeStream struct {
	grpc.ServerStream
	mu   sync.Mutex
	sent []*pluginpb.ReadResponse
	sig  chan struct{}
}

func newFakeStream() *fakeStream { return &fakeStream{sig: make(chan struct{}, 100)} }

func (f *fakeStream) Send(m *pluginpb.ReadResponse) error {
	f.mu.Lock()
	f.sent = append(f.sent, m)
	f.mu.Unlock()
	f.sig <- struct{}{}
	return nil
}

func (f *fakeStream) Recv() (*pluginpb.ReadRequest, error) { select {} }

func (f *fakeStream) batches() []*pluginpb.Batch {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*pluginpb.Batch
	for _, m := range f.sent {
		if b := m.GetBatch(); b != nil {
			out = append(out, b)
		}
	}
	return out
}

func event(t *testing.T, key string) *canonical.Event {
	t.Helper()
	e, err := canonical.NewEvent(
		canonical.Origin{SiteID: "MEM1", Source: "urn:dray:MEM1:test", SourceSystem: "test"},
		canonical.Record{Key: key, Ref: "f.jsonl:" + key},
		time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC),
		&canonical.InventoryCounted{SourceKey: key, Location: &canonical.Location{SiteId: "MEM1", Code: "A-1"},
			Item: &canonical.ItemRef{Sku: "SKU-" + key}, Counted: canonical.Qty("3", "EA")})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEmitWaitsForTheAgentsAck(t *testing.T) {
	fs := newFakeStream()
	em := newEmitter(context.Background(), fs)
	done := make(chan error, 1)
	go func() {
		done <- em.Emit(context.Background(), Batch{Events: []*canonical.Event{event(t, "1")}, Cursor: []byte("c1")})
	}()
	<-fs.sig
	select {
	case err := <-done:
		t.Fatalf("Emit returned (%v) before the agent committed", err)
	case <-time.After(100 * time.Millisecond):
	}
	em.ack(1)
	if err := <-done; err != nil {
		t.Fatalf("Emit: %v", err)
	}
	b := fs.batches()
	if len(b) != 1 || b[0].GetSeq() != 1 || string(b[0].GetCursor()) != "c1" || len(b[0].GetEvents()) != 1 {
		t.Fatalf("sent %v", b)
	}
	ev, err := canonical.UnmarshalBinary(b[0].GetEvents()[0])
	if err != nil || ev.GetId() != event(t, "1").GetId() {
		t.Errorf("sent event %v, %v", ev, err)
	}
}

func TestEmitIsSerialisedAndNumbered(t *testing.T) {
	fs := newFakeStream()
	em := newEmitter(context.Background(), fs)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			if err := em.Emit(context.Background(), Batch{Cursor: []byte{byte('a' + i)}}); err != nil {
				t.Error(err)
			}
		})
	}
	for seq := uint64(1); seq <= 3; seq++ {
		<-fs.sig
		select {
		case <-fs.sig:
			t.Fatal("a second batch was sent before the first was acknowledged")
		case <-time.After(50 * time.Millisecond):
		}
		if got := fs.batches()[seq-1].GetSeq(); got != seq {
			t.Errorf("batch %d has seq %d", seq, got)
		}
		em.ack(seq)
	}
	wg.Wait()
}

func TestPipelinedEmitKeepsAtMostPipelineDepthUncommitted(t *testing.T) {
	fs := newFakeStream()
	em := newEmitter(context.Background(), fs)
	emit := func(i int) chan error {
		done := make(chan error, 1)
		go func() {
			done <- em.Emit(context.Background(), Batch{Cursor: []byte{byte('a' + i)}, Pipelined: true})
		}()
		return done
	}
	// The first PipelineDepth batches return without any ack.
	for i := range PipelineDepth {
		if err := <-emit(i); err != nil {
			t.Fatalf("pipelined Emit %d: %v", i+1, err)
		}
	}
	if n := len(fs.batches()); n != PipelineDepth {
		t.Fatalf("%d batches sent; want %d", n, PipelineDepth)
	}
	// The next one is sent but waits until the oldest is committed.
	next := emit(PipelineDepth)
	<-fs.sig
	for range PipelineDepth {
		<-fs.sig
	}
	select {
	case err := <-next:
		t.Fatalf("Emit %d returned (%v) with %d batches uncommitted", PipelineDepth+1, err, PipelineDepth+1)
	case <-time.After(100 * time.Millisecond):
	}
	em.ack(1)
	if err := <-next; err != nil {
		t.Fatal(err)
	}
	// flush (the end of a Read) waits for every batch.
	flushed := make(chan error, 1)
	go func() { flushed <- em.flush(context.Background()) }()
	em.ack(PipelineDepth) // cumulative, but not yet the last
	select {
	case err := <-flushed:
		t.Fatalf("flush returned (%v) before the last batch was committed", err)
	case <-time.After(100 * time.Millisecond):
	}
	em.ack(PipelineDepth + 1)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	for i, b := range fs.batches() {
		if b.GetSeq() != uint64(i+1) || string(b.GetCursor()) != string(rune('a'+i)) {
			t.Errorf("batch %d: seq %d cursor %q", i, b.GetSeq(), b.GetCursor())
		}
	}
}

func TestPipelinedEmitFailsWhenTheReadEnds(t *testing.T) {
	readCtx, stop := context.WithCancelCause(context.Background())
	em := newEmitter(readCtx, newFakeStream())
	for i := range PipelineDepth {
		if err := em.Emit(context.Background(), Batch{Cursor: []byte{byte('a' + i)}, Pipelined: true}); err != nil {
			t.Fatal(err)
		}
	}
	stop(errors.New("the agent could not commit batch 2"))
	if err := em.Emit(context.Background(), Batch{Cursor: []byte("z"), Pipelined: true}); !errors.Is(err, context.Canceled) {
		t.Errorf("Emit after a failed commit: %v; want context.Canceled", err)
	}
	if err := em.flush(context.Background()); err == nil || !strings.Contains(err.Error(), "could not commit batch 2") {
		t.Errorf("flush: %v; want the read's end with its cause", err)
	}
}

func TestEmitStopsWithTheRead(t *testing.T) {
	readCtx, stop := context.WithCancelCause(context.Background())
	em := newEmitter(readCtx, newFakeStream())
	done := make(chan error, 1)
	go func() { done <- em.Emit(context.Background(), Batch{Cursor: []byte("c")}) }()
	time.Sleep(20 * time.Millisecond)
	stop(errors.New("the agent ended the read"))
	err := <-done
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "the agent ended the read") {
		t.Errorf("Emit: %v; want context.Canceled with the cause", err)
	}
	em.close()
	if err := em.Emit(context.Background(), Batch{Cursor: []byte("c")}); err == nil {
		t.Error("Emit after the read ended succeeded")
	}
}

func TestEncodeBatch(t *testing.T) {
	good := event(t, "1")
	bad := event(t, "2")
	bad.GetInventoryCounted().Counted = canonical.Qty("-1", "EA")
	bad.GetInventoryCounted().Item.Sku = ""

	msg, err := encodeBatch(Batch{
		Events:  []*canonical.Event{good, bad},
		Rejects: []Reject{{Code: "csv_field_count", Reason: "3 fields, want 5", Ref: "f.csv:7:1", Payload: []byte("a,b,c")}},
		Cursor:  []byte("c"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.GetEvents()) != 1 || len(msg.GetRejects()) != 2 {
		t.Fatalf("%d events, %d rejects; want 1 and 2", len(msg.GetEvents()), len(msg.GetRejects()))
	}
	r := msg.GetRejects()[0]
	if r.GetCode() != RejectInvalidEvent || r.GetRef() != "f.jsonl:2" {
		t.Errorf("reject %v", r)
	}
	for _, w := range []string{"data.item.sku", "(required)", "data.counted", "(negative)"} {
		if !strings.Contains(r.GetReason(), w) {
			t.Errorf("reason %q lacks %q", r.GetReason(), w)
		}
	}
	var js map[string]any
	if err := json.Unmarshal(r.GetPayload(), &js); err != nil || js["id"] != bad.GetId() {
		t.Errorf("payload %s is not the event as JSON (%v)", r.GetPayload(), err)
	}
	if r := msg.GetRejects()[1]; r.GetCode() != "csv_field_count" || r.GetRef() != "f.csv:7:1" || string(r.GetPayload()) != "a,b,c" {
		t.Errorf("connector's reject became %v", r)
	}

	// A batch marked Validated (its events came from canonical.NewEvent) is
	// not validated again: the same invalid event passes, for the agent's
	// own validation to quarantine.
	msg, err = encodeBatch(Batch{Events: []*canonical.Event{good, bad}, Cursor: []byte("c"), Validated: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.GetEvents()) != 2 || len(msg.GetRejects()) != 0 {
		t.Errorf("Validated batch: %d events, %d rejects; want 2 and 0 (no second validation)", len(msg.GetEvents()), len(msg.GetRejects()))
	}

	// Large batches are validated in parallel; the order is kept.
	var many []*canonical.Event
	for i := range 200 {
		e := event(t, strings.Repeat("k", i%7+1)+string(rune('a'+i%26)))
		if i%50 == 0 {
			e.SiteId = "not a site"
		}
		many = append(many, e)
	}
	msg, err = encodeBatch(Batch{Events: many, Cursor: []byte("c")})
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.GetEvents()) != 196 || len(msg.GetRejects()) != 4 {
		t.Fatalf("%d events, %d rejects; want 196 and 4", len(msg.GetEvents()), len(msg.GetRejects()))
	}
	j := 0
	for i, e := range many {
		if i%50 == 0 {
			continue
		}
		if want, _ := canonical.MarshalBinary(e); !bytes.Equal(msg.GetEvents()[j], want) {
			t.Fatalf("event %d out of order", i)
		}
		j++
	}
}

func TestEncodeBatchRefusesBrokenBatches(t *testing.T) {
	tests := []struct {
		name string
		b    Batch
		want string
	}{
		{"no cursor", Batch{Events: []*canonical.Event{event(t, "1")}}, "no cursor"},
		{"nil event", Batch{Events: []*canonical.Event{nil}, Cursor: []byte("c")}, "event 0 is nil"},
		{"reject without code", Batch{Rejects: []Reject{{Ref: "f:1"}}, Cursor: []byte("c")}, "has no code"},
		{"too big", Batch{Rejects: []Reject{{Code: "x", Payload: make([]byte, MaxBatchBytes)}}, Cursor: []byte("c")}, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := encodeBatch(tt.b)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

// readOnly is a connector without Apply; applying adds it.
type readOnly struct{ info Info }

func (c readOnly) Info() Info                                { return c.info }
func (readOnly) Configure(context.Context, []byte) error     { return nil }
func (readOnly) Read(context.Context, []byte, Emitter) error { return nil }

type applying struct{ readOnly }

func (applying) Apply(context.Context, Command) error { return nil }

func TestCheckInfo(t *testing.T) {
	ok := Info{Name: "n", Version: "1", APIVersions: []int{APIVersion, 99}, EventTypes: []string{"logistics.inventory.counted"}}
	if v, err := checkInfo(applying{readOnly{ok}}, ok); err != nil || len(v) != 1 || v[0] != APIVersion {
		t.Errorf("checkInfo(valid) = %v, %v", v, err)
	}
	bad := Info{APIVersions: []int{99}, EventTypes: []string{"logistics.nope"}, Commands: []string{"x"}}
	_, err := checkInfo(readOnly{bad}, bad)
	for _, w := range []string{"Name is empty", "Version is empty", "no version this SDK speaks", `"logistics.nope" is not a canonical event type`, "does not implement Applier"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("checkInfo error %v lacks %q", err, w)
		}
	}
}

func TestLoggerWritesHCLogJSON(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(newHCLogJSONHandler(&buf, LevelTrace))
	l.Log(context.Background(), LevelTrace, "polling", "dir", "/in")
	l.With("connector", "x").Warn("file shrank", "size", 3)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines: %q", len(lines), buf.String())
	}
	wants := []map[string]any{
		{"@level": "trace", "@message": "polling", "dir": "/in"},
		{"@level": "warn", "@message": "file shrank", "connector": "x", "size": float64(3)},
	}
	for i, line := range lines {
		var got map[string]any
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		for k, v := range wants[i] {
			if got[k] != v {
				t.Errorf("line %d: %s = %v; want %v", i, k, got[k], v)
			}
		}
		ts, _ := got["@timestamp"].(string)
		if _, err := time.Parse("2006-01-02T15:04:05.000000Z07:00", ts); err != nil {
			t.Errorf("line %d: @timestamp %q is not in hclog's format", i, ts)
		}
	}
}
