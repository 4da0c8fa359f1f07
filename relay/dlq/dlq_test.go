package dlq

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"
)

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func rec(sink string, seq uint64, at time.Time) *Record {
	return &Record{Sink: sink, Route: "erp-moves", Seq: seq, Site: "MEM1", EventID: fmt.Sprint("ev-", seq),
		EventType: "logistics.inventory.moved", Event: []byte{1, 2, 3},
		Request: &Request{Method: "POST", URL: "http://erp/erp/v1/goods-movements", Header: http.Header{"Idempotency-Key": {"k"}}, Body: `{"a":1}`},
		Status:  422, ResponseBody: `{"title":"bad"}`, Reason: "HTTP 422", Attempts: 1, FirstAt: at, LastAt: at}
}

func TestPutGetListDelete(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, seq := range []uint64{30, 4, 1000, 7} {
		if err := s.Put(rec("erp", seq, t0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(rec("tms", 4, t0)); err != nil {
		t.Fatal(err)
	}
	// Again, later: attempts add up, the first time stays.
	again := rec("erp", 30, t0.Add(time.Hour))
	again.Attempts = 2
	again.Status = 400
	if err := s.Put(again); err != nil {
		t.Fatal(err)
	}
	r, err := s.Get("erp", "30")
	if err != nil {
		t.Fatal(err)
	}
	if r.Attempts != 3 || !r.FirstAt.Equal(t0) || !r.LastAt.Equal(t0.Add(time.Hour)) || r.Status != 400 ||
		r.Request.Header.Get("Idempotency-Key") != "k" || string(r.Event) != "\x01\x02\x03" {
		t.Errorf("merged record %+v", r)
	}
	if s.Count("erp") != 4 || s.Count("tms") != 1 {
		t.Errorf("counts erp %d tms %d; want 4 and 1", s.Count("erp"), s.Count("tms"))
	}
	page, next, err := s.List("erp", "", 3)
	if err != nil || len(page) != 3 || next != "30" || page[0].ID != "4" || page[1].ID != "7" || page[2].ID != "30" {
		t.Fatalf("first page %+v next %q err %v", page, next, err)
	}
	page, next, err = s.List("erp", next, 3)
	if err != nil || len(page) != 1 || next != "" || page[0].ID != "1000" {
		t.Fatalf("second page %+v next %q err %v", page, next, err)
	}
	if _, err := s.Delete("erp", "7"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete("erp", "7"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if _, err := s.Get("erp", "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("bad id: %v", err)
	}
	// Reopen: everything durable, counts rebuilt.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if _, err := s.Get("erp", "4"); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close: %v", err)
	}
	s2 := open(t, dir)
	if s2.Count("erp") != 3 || s2.Count("tms") != 1 {
		t.Errorf("after reopen: erp %d tms %d", s2.Count("erp"), s2.Count("tms"))
	}
	if _, err := s2.Get("tms", "4"); err != nil {
		t.Error(err)
	}
}
