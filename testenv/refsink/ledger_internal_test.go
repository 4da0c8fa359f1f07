package refsink

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestLedgerWriteFailureIsSticky: once a write fails nothing is answered as
// applied any more, and health says so.
func TestLedgerWriteFailureIsSticky(t *testing.T) {
	srv, err := NewServer(Config{Kind: KindERP, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer func() {
		ts.Close()
		_ = srv.Close() // reports the write error
	}()
	post := func(key string) int {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/erp/v1/goods-movements",
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
	res, err := http.Get(ts.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("healthz %d; want 503", res.StatusCode)
	}
}
