package admin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/relay/dispatch"
	"github.com/draylink/dray/relay/dlq"
)

const token = "0123456789abcdef-ops"

type fakeSink struct {
	mu      sync.Mutex
	store   *dlq.Store
	replays []dispatch.ReplayRequest
	redrive func(id string) (dispatch.RedriveResult, error)
	release chan struct{}
}

func (f *fakeSink) Status() any { return map[string]int{"cursor": 7} }

func (f *fakeSink) Replay(ctx context.Context, req dispatch.ReplayRequest) (dispatch.ReplayResult, error) {
	f.mu.Lock()
	f.replays = append(f.replays, req)
	f.mu.Unlock()
	select {
	case <-f.release:
		return dispatch.ReplayResult{From: 3, To: 9, Scanned: 7, Selected: 5, Delivered: 5}, nil
	case <-ctx.Done():
		return dispatch.ReplayResult{From: 3, To: 9, Interrupted: true}, nil
	}
}

func (f *fakeSink) Redrive(ctx context.Context, id string) (dispatch.RedriveResult, error) {
	return f.redrive(id)
}

type env struct {
	t      *testing.T
	client *Client
	store  *dlq.Store
	sink   *fakeSink
	audit  string
	stop   func()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	store, err := dlq.Open(dlq.Options{Dir: filepath.Join(dir, "dlq"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	auditPath := filepath.Join(dir, "audit.log")
	af, err := OpenAuditLog(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = af.Close() })
	fs := &fakeSink{store: store, release: make(chan struct{})}
	fs.redrive = func(id string) (dispatch.RedriveResult, error) {
		if _, err := store.Delete("erp", id); err != nil {
			return dispatch.RedriveResult{ID: id}, err
		}
		return dispatch.RedriveResult{ID: id, Route: "erp-moves", Outcome: dispatch.RedriveDelivered, Status: 201, Attempts: 1}, nil
	}
	quiet := slog.New(slog.DiscardHandler)
	srv, err := New(Options{Sinks: map[string]Sink{"erp": fs}, DLQ: store,
		Tokens: []Token{{Name: "ops", Secret: token}}, Audit: AuditLogger(af, quiet), Logger: quiet,
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "dray_test_metric 1\n") })})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	e := &env{t: t, store: store, sink: fs, audit: auditPath,
		client: &Client{Base: "http://" + ln.Addr().String(), Token: token}}
	e.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}
	t.Cleanup(func() {
		select {
		case <-ctx.Done():
		default:
			e.stop()
		}
	})
	return e
}

func (e *env) put(seq uint64) {
	e.t.Helper()
	o := canonical.Origin{SiteID: "MEM1", Source: "urn:dray:MEM1:wms", SourceSystem: "wms.db"}
	ev, err := canonical.NewEvent(o, canonical.Record{Key: "m"}, time.Now(), &canonical.InventoryMoved{Movement: &canonical.InventoryMovement{
		SourceKey: "m", MovementType: canonical.MovementType_MOVEMENT_TYPE_TRANSFER, Item: &canonical.ItemRef{Sku: "S"},
		From: &canonical.Location{SiteId: "MEM1", Code: "A"}, To: &canonical.Location{SiteId: "MEM1", Code: "B"}, Quantity: canonical.Qty("1", "EA")}})
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := canonical.MarshalBinary(ev)
	if err := e.store.Put(&dlq.Record{Sink: "erp", Route: "erp-moves", Seq: seq, Site: "MEM1", EventID: ev.GetId(),
		EventType: ev.GetType(), Event: b, Status: 422, Reason: "HTTP 422", Attempts: 1, FirstAt: time.Now(), LastAt: time.Now(),
		Request: &dlq.Request{Method: "POST", URL: "http://erp/x", Header: http.Header{"Idempotency-Key": {"k"}}, Body: "{}"}}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) auditLines() []map[string]any {
	e.t.Helper()
	b, err := os.ReadFile(e.audit)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			e.t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestAuth(t *testing.T) {
	e := newEnv(t)
	for _, tok := range []string{"", "wrong-token-wrong-token", token + "x"} {
		c := *e.client
		c.Token = tok
		_, err := c.Sinks(context.Background())
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
			t.Errorf("token %q: %v; want 401", tok, err)
		}
	}
	resp, err := http.Get(e.client.Base + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	sinks, err := e.client.Sinks(context.Background())
	if err != nil || len(sinks) != 1 || sinks[0].Name != "erp" || string(sinks[0].Status) == "" {
		t.Fatalf("sinks %+v %v", sinks, err)
	}
	if _, err := New(Options{Tokens: []Token{{Name: "short", Secret: "abc"}}}); err == nil {
		t.Error("a 3-byte token was accepted")
	}
}

// GET /metrics serves the Prometheus exposition to read tokens only.
func TestMetricsNeedAReadToken(t *testing.T) {
	e := newEnv(t)
	get := func(tok string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, e.client.Base+"/metrics", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get(""); code != http.StatusUnauthorized {
		t.Errorf("without a token: %d; want 401", code)
	}
	if code, body := get(token); code != http.StatusOK || body != "dray_test_metric 1\n" {
		t.Errorf("with the token: %d %q", code, body)
	}
}

func TestDeadLetters(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, seq := range []uint64{5, 9, 12} {
		e.put(seq)
	}
	page, err := e.client.ListDLQ(ctx, "erp", "", 2)
	if err != nil || len(page.Items) != 2 || page.Next != "9" || page.Total != 3 {
		t.Fatalf("page %+v %v", page, err)
	}
	if _, err := e.client.ListDLQ(ctx, "erp", "", 501); err == nil {
		t.Error("a page of 501 was accepted")
	}
	if _, err := e.client.ListDLQ(ctx, "nope", "", 0); err == nil {
		t.Error("an unknown sink was accepted")
	}
	dl, err := e.client.ShowDLQ(ctx, "erp", "9")
	var ce struct{ Type string }
	if err != nil || dl.Status != 422 || json.Unmarshal(dl.EventJSON, &ce) != nil || ce.Type != "logistics.inventory.moved" {
		t.Fatalf("show: status %d, event %s, %v", dl.Status, dl.EventJSON, err)
	}
	res, err := e.client.Redrive(ctx, "erp", "9")
	if err != nil || res.Outcome != dispatch.RedriveDelivered {
		t.Fatalf("redrive %+v %v", res, err)
	}
	if _, err := e.client.Redrive(ctx, "erp", "9"); err == nil {
		t.Error("a second redrive of 9 succeeded")
	}
	e.sink.redrive = func(id string) (dispatch.RedriveResult, error) {
		return dispatch.RedriveResult{ID: id, Outcome: dispatch.RedriveDead, Status: 422, Reason: "HTTP 422"}, nil
	}
	res, err = e.client.Redrive(ctx, "erp", "12")
	if err != nil || res.Outcome != dispatch.RedriveDead || res.Status != 422 {
		t.Fatalf("refused redrive %+v %v", res, err)
	}
	dr, err := e.client.Discard(ctx, "erp", "5", "duplicate of INV-7 entered by hand")
	if err != nil || !dr.Discarded {
		t.Fatalf("discard %+v %v", dr, err)
	}
	if _, err := e.store.Get("erp", "5"); !errors.Is(err, dlq.ErrNotFound) {
		t.Errorf("discarded dead letter still there: %v", err)
	}
	lines := e.auditLines()
	want := []struct{ action, id, outcome string }{
		{"redrive", "9", "delivered"}, {"redrive", "9", "not_found"}, {"redrive", "12", "dead"}, {"discard", "5", "discarded"}}
	if len(lines) != len(want) {
		t.Fatalf("%d audit lines; want %d: %v", len(lines), len(want), lines)
	}
	for i, w := range want {
		l := lines[i]
		if l["action"] != w.action || l["id"] != w.id || l["outcome"] != w.outcome || l["actor"] != "ops" || l["sink"] != "erp" || l["audit"] != true {
			t.Errorf("audit line %d: %v; want %+v", i, l, w)
		}
	}
	if lines[3]["reason"] != "duplicate of INV-7 entered by hand" || lines[3]["event_id"] == "" {
		t.Errorf("discard audit line %v", lines[3])
	}
}

func TestReplayJobs(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	since := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)
	if _, err := e.client.StartReplay(ctx, "erp", dispatch.ReplayRequest{}); err == nil {
		t.Error("a replay without since was accepted")
	}
	job, err := e.client.StartReplay(ctx, "erp", dispatch.ReplayRequest{Since: since, Sites: []string{"MEM1"}, Types: []string{"logistics.inventory.*"}})
	if err != nil || job.State != JobRunning || job.ID == "" {
		t.Fatalf("start %+v %v", job, err)
	}
	close(e.sink.release)
	done, err := e.client.WaitReplay(ctx, job.ID, 10*time.Millisecond)
	if err != nil || done.State != JobDone || done.Result == nil || done.Result.Delivered != 5 {
		t.Fatalf("replay %+v %v", done, err)
	}
	e.sink.mu.Lock()
	got := e.sink.replays[0]
	e.sink.mu.Unlock()
	if !got.Since.Equal(since) || got.Sites[0] != "MEM1" || got.Types[0] != "logistics.inventory.*" {
		t.Errorf("replay request %+v", got)
	}
	// A running job is interrupted at shutdown; Serve waits for it.
	e.sink.release = make(chan struct{})
	job, err = e.client.StartReplay(ctx, "erp", dispatch.ReplayRequest{Since: since})
	if err != nil {
		t.Fatal(err)
	}
	e.stop()
	lines := e.auditLines()
	var outcomes []string
	for _, l := range lines {
		outcomes = append(outcomes, l["action"].(string)+":"+l["outcome"].(string))
	}
	want := "replay:refused replay:started replay:done replay:started replay:interrupted"
	if strings.Join(outcomes, " ") != want {
		t.Errorf("audit %q; want %q", strings.Join(outcomes, " "), want)
	}
}
