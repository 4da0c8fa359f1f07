package quarantine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/draylink/dray/agent/spool"
	"github.com/draylink/dray/agent/supervisor"
)

// fakeConnector answers retries: a payload "good" resolves, anything else
// fails; errors are given.
type fakeConnector struct {
	err error
	got []byte
}

func (f *fakeConnector) Retry(_ context.Context, rec spool.QuarantineRecord, payload []byte) (supervisor.RetryOutcome, error) {
	if f.err != nil {
		return supervisor.RetryOutcome{}, f.err
	}
	f.got = payload
	if string(payload) == "good" {
		return supervisor.RetryOutcome{Resolved: true, Events: []string{"ev-1"}}, nil
	}
	rec.Attempts++
	return supervisor.RetryOutcome{Record: &rec, Error: "the connector rejected the record again"}, nil
}

func setup(t *testing.T) (*Client, *spool.Spool, map[string]*fakeConnector, []spool.QuarantineRecord) {
	t.Helper()
	sp, err := spool.Open(spool.Options{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sp.Close() })
	for i, src := range []string{"counts", "counts", "orders", "gone"} {
		q := []spool.QuarantineRecord{{Code: "json_syntax", Reason: "bad", Ref: fmt.Sprintf("f.jsonl:%d", i), Payload: []byte(fmt.Sprintf("line %d", i))}}
		if i == 1 {
			q[0].Payload = []byte{0xff, 0xfe}
		}
		if err := sp.CommitBatch(context.Background(), src, []byte("c"), nil, q); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := sp.ListQuarantine(spool.QuarantineFilter{})
	if err != nil || len(recs) != 4 {
		t.Fatalf("%v, %v", recs, err)
	}
	conns := map[string]*fakeConnector{"counts": {}, "orders": {err: fmt.Errorf("retry: %w", supervisor.ErrNoRetry)}}
	api := &API{Store: sp, Connector: func(name string) (Retrier, bool) {
		c, ok := conns[name]
		return c, ok
	}}
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &Client{Base: srv.URL}, sp, conns, recs
}

func TestListAndShow(t *testing.T) {
	c, _, _, recs := setup(t)
	ctx := context.Background()
	l, err := c.List(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Total != 4 || l.Counts["counts"] != 2 || len(l.Records) != 4 || l.Next != "" {
		t.Errorf("list %+v", l)
	}
	if s := l.Records[0]; s.ID != recs[0].ID || s.Ref != "f.jsonl:0" || s.PayloadBytes != 6 || s.Code != "json_syntax" {
		t.Errorf("summary %+v", s)
	}
	l, err = c.List(ctx, Filter{Limit: 2})
	if err != nil || len(l.Records) != 2 || l.Next != recs[1].ID {
		t.Fatalf("page 1: %+v, %v", l, err)
	}
	l, err = c.List(ctx, Filter{Limit: 2, After: l.Next})
	if err != nil || len(l.Records) != 2 || l.Records[0].ID != recs[2].ID {
		t.Errorf("page 2: %+v, %v", l, err)
	}
	if l, err := c.List(ctx, Filter{Source: "orders"}); err != nil || len(l.Records) != 1 {
		t.Errorf("by source: %+v, %v", l, err)
	}
	var ae *APIError
	if _, err := c.List(ctx, Filter{After: "nope"}); !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
		t.Errorf("bad after: %v", err)
	}

	r, err := c.Show(ctx, recs[0].ID)
	if err != nil || string(r.Payload) != "line 0" || r.PayloadText == nil || *r.PayloadText != "line 0" || r.Source != "counts" {
		t.Errorf("show: %+v, %v", r, err)
	}
	if r, err := c.Show(ctx, recs[1].ID); err != nil || r.PayloadText != nil || len(r.Payload) != 2 {
		t.Errorf("show binary payload: %+v, %v", r, err)
	}
	if _, err := c.Show(ctx, "000000000000000000000000"); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Errorf("show unknown: %v", err)
	}
}

func TestRetryAnswers(t *testing.T) {
	c, _, conns, recs := setup(t)
	ctx := context.Background()
	good := "good"

	out, err := c.Retry(ctx, recs[0].ID, RetryRequest{})
	if err != nil || out.Resolved || out.Record == nil || out.Record.Attempts != 1 || out.ID != recs[0].ID {
		t.Errorf("failed retry: %+v, %v", out, err)
	}
	if conns["counts"].got != nil {
		t.Errorf("an empty request passed payload %q", conns["counts"].got)
	}
	out, err = c.Retry(ctx, recs[0].ID, RetryRequest{PayloadText: &good})
	if err != nil || !out.Resolved || len(out.Events) != 1 {
		t.Errorf("resolving retry: %+v, %v", out, err)
	}
	if out, err := c.Retry(ctx, recs[0].ID, RetryRequest{Payload: []byte("good")}); err != nil || !out.Resolved {
		t.Errorf("base64 payload: %+v, %v", out, err)
	}

	for _, tc := range []struct {
		id     string
		req    RetryRequest
		status int
		msg    string
	}{
		{"000000000000000000000000", RetryRequest{}, http.StatusNotFound, "no such record"},
		{recs[2].ID, RetryRequest{}, http.StatusNotImplemented, "sdk.Retrier"},
		{recs[3].ID, RetryRequest{}, http.StatusConflict, `no connector named "gone"`},
		{recs[0].ID, RetryRequest{Payload: []byte("x"), PayloadText: &good}, http.StatusBadRequest, "not both"},
	} {
		_, err := c.Retry(ctx, tc.id, tc.req)
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != tc.status || !strings.Contains(ae.Msg, tc.msg) {
			t.Errorf("retry %s %+v: %v; want %d %q", tc.id, tc.req, err, tc.status, tc.msg)
		}
	}
	conns["counts"].err = fmt.Errorf("retry: %w (connector counts is backoff)", supervisor.ErrNotRunning)
	var ae *APIError
	if _, err := c.Retry(ctx, recs[0].ID, RetryRequest{}); !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable {
		t.Errorf("not running: %v", err)
	}

	// Not JSON: refused (a browser cannot send JSON to another origin
	// without a preflight).
	resp, err := http.Post(c.Base+"/quarantine/"+recs[0].ID+"/retry", "text/plain", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain retry: %d", resp.StatusCode)
	}
}

func TestLoopbackOnly(t *testing.T) {
	api := &API{Store: nil, Connector: func(string) (Retrier, bool) { return nil, false }}
	mux := http.NewServeMux()
	api.Register(mux)
	for _, path := range []string{"/quarantine", "/quarantine/x"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.RemoteAddr = "192.0.2.7:4242"
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden {
			t.Errorf("GET %s from a remote peer: %d", path, rec.Code)
		}
	}
}
