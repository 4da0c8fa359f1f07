package refsink

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestLedgerWriteFailureIsSticky: once a write fails nothing is answered as
// applied any more, and health says so.
func TestLedgerWriteFailureIsSticky(t *testing.T) {
	srv, err := NewServer(Config{Kind: KindERP, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	base, stop, err := srv.StartLoopback(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stop() }() // reports the write error
	post := func(key string) int {
		req, _ := http.NewRequest(http.MethodPost, base+"/erp/v1/goods-movements",
			strings.NewReader(`{"movementType":"311","material":"M","plant":"P","quantity":"1","unit":"EA"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if st := post("a"); st != 201 {
		t.Fatalf("status %d", st)
	}
	_ = srv.st.led.w.Close() // the next write fails
	for _, key := range []string{"b", "a", "c"} {
		if st := post(key); st != http.StatusServiceUnavailable {
			t.Errorf("key %s after the failure: %d; want 503", key, st)
		}
	}
	res, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("healthz %d; want 503", res.StatusCode)
	}
}

// TestLedgerCommitWaitsForArrivals: records appended while a request is
// about to append share its commit; its leave releases the commit, and a
// second leave changes nothing.
func TestLedgerCommitWaitsForArrivals(t *testing.T) {
	l, _, err := openLedger(t.TempDir(), func(*Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	l.commitWait = time.Hour // only the leave may release the commit
	leave := l.arrive()
	ga, err := l.append([]byte(`{"seq":1}` + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	gb, err := l.append([]byte(`{"seq":2}` + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if ga != gb {
		t.Fatal("records appended while a request was arriving went to different commits")
	}
	select {
	case <-ga.done:
		t.Fatal("committed while a request was still arriving")
	default:
	}
	leave()
	leave()
	select {
	case <-ga.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the commit was not released by the leave")
	}
	if ga.err != nil || l.committed() != 2 {
		t.Fatalf("commit: %v, %d records committed; want 2", ga.err, l.committed())
	}
	if n := l.arriving.Load(); n != 0 {
		t.Errorf("%d arriving after one arrive and two leaves", n)
	}
	// A lone append is committed without a leave to wait for.
	g, err := l.append([]byte(`{"seq":3}` + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-g.done:
	case <-time.After(30 * time.Second):
		t.Fatal("a lone append was not committed")
	}
}
