package sink

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A request in flight ends as soon as its context is cancelled (the relay
// stopping), long before the sink's timeout, and the breaker does not count
// it against the sink.
func TestCancelInFlight(t *testing.T) {
	release := make(chan struct{})
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	s := newSink(t, Config{URL: srv.URL, Breaker: BreakerConfig{Failures: 1}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *Result, 4)
	for range 4 {
		go func() { done <- s.Do(ctx, post("/hang")) }()
	}
	for hits.Load() < 4 {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	cancel()
	for range 4 {
		select {
		case res := <-done:
			if res.Outcome != Retry || !errors.Is(res.Err, context.Canceled) || res.Status != 0 {
				t.Errorf("cancelled request: %+v; want Retry with context.Canceled", res)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a cancelled request was still waiting after 5s (the sink's timeout is 10s)")
		}
	}
	t.Logf("4 cancelled requests returned %v after the cancellation", time.Since(start))
	if st := s.Stats(); st.Breaker != "closed" {
		t.Errorf("breaker %s after cancelled requests; want closed (a cancellation says nothing of the sink)", st.Breaker)
	}
	// The sink is still usable with a live context.
	close(release)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) })
	if res := s.Do(context.Background(), post("/ok")); res.Outcome != Done {
		t.Errorf("after the cancellation: %+v", res)
	}
}

// A sink that closes a connection without answering (an idle connection it
// timed out, or one it dropped after applying the request) gets the request
// again at once on a new connection; the second drop is reported.
func TestConnectionDroppedOnce(t *testing.T) {
	var hits atomic.Int32
	var drops atomic.Int32
	drops.Store(1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		if drops.Add(-1) >= 0 {
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = c.Close()
			}
			return
		}
		if r.Header.Get("Idempotency-Key") != "k1" {
			w.WriteHeader(400)
			return
		}
		w.WriteHeader(201)
	}))
	defer srv.Close()
	s := newSink(t, Config{URL: srv.URL, Breaker: BreakerConfig{Failures: -1}})
	if res := s.Do(context.Background(), post("/x")); res.Outcome != Done || hits.Load() != 2 {
		t.Errorf("one dropped answer: %+v after %d requests; want Done after 2", res, hits.Load())
	}
	hits.Store(0)
	drops.Store(2)
	if res := s.Do(context.Background(), post("/x")); res.Outcome != Retry || res.Err == nil || hits.Load() != 2 {
		t.Errorf("two dropped answers: %+v after %d requests; want Retry with the error after 2", res, hits.Load())
	}
}

// Requests go through the HTTP proxy named by the environment, as a
// CONNECT tunnel, for a host the relay cannot resolve itself.
func TestProxyFromEnvironment(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "erp.example.invalid:8080" {
			w.WriteHeader(400)
			return
		}
		w.WriteHeader(201)
	}))
	defer backend.Close()
	var tunnels atomic.Int32
	var wg sync.WaitGroup
	defer wg.Wait()
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect || r.Host != "erp.example.invalid:8080" {
			http.Error(w, "want CONNECT erp.example.invalid:8080", http.StatusBadRequest)
			return
		}
		up, err := net.Dial("tcp", backend.Listener.Addr().String())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		c, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			_ = up.Close()
			return
		}
		tunnels.Add(1)
		_, _ = rw.WriteString("HTTP/1.1 200 Connection established\r\n\r\n")
		_ = rw.Flush()
		wg.Go(func() { _, _ = io.Copy(up, bufio.NewReader(io.MultiReader(rw.Reader, c))); _ = up.Close() })
		wg.Go(func() { _, _ = io.Copy(c, up); _ = c.Close() })
	}))
	defer proxy.Close()
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("NO_PROXY", "")
	s := newSink(t, Config{URL: "http://erp.example.invalid:8080/api"})
	res := s.Do(context.Background(), post("/x"))
	if res.Outcome != Done || tunnels.Load() != 1 {
		t.Errorf("through the proxy: %+v, %d tunnels; want Done through 1", res, tunnels.Load())
	}
	s.Close() // ends the tunnel before wg.Wait
}

// A body of exactly MaxResponseBytes, sent without a length, is read whole
// and its connection kept for the next request; a longer one is cut at the
// limit and its connection closed (the rest is not read).
func TestBodyAtTheLimitKeepsTheConnection(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		n := 1024
		if r.URL.Path == "/over" {
			n = 1025
		}
		w.WriteHeader(422)
		w.(http.Flusher).Flush() // chunked: no Content-Length
		_, _ = w.Write([]byte(strings.Repeat("z", n)))
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	s := newSink(t, Config{URL: srv.URL, MaxResponseBytes: 1024, Breaker: BreakerConfig{Failures: -1}})
	for i := range 3 {
		if res := s.Do(context.Background(), post("/at")); res.Outcome != Dead || len(res.Body) != 1024 {
			t.Fatalf("request %d: %+v, %d bytes; want Dead with the whole 1024-byte body", i, res.Outcome, len(res.Body))
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 3 bodies of exactly the limit; want 1, kept", n)
	}
	if res := s.Do(context.Background(), post("/over")); res.Outcome != Dead || len(res.Body) != 1024 {
		t.Fatalf("over the limit: %+v, %d bytes; want Dead with 1024 bytes", res.Outcome, len(res.Body))
	}
	if res := s.Do(context.Background(), post("/at")); res.Outcome != Dead {
		t.Fatalf("after a cut body: %+v", res)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections after a body over the limit; want a new one (2)", n)
	}
}
