package refsink_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/draylink/dray/testenv/refsink"
)

// TestBodyTooLarge: a body above MaxBodyBytes is answered 413 problem+json
// and the refusal is in the ledger, whether the body is below the server's
// largest limit (the route refuses it) or above it (fasthttp does not read
// it; serveError hands it to the route).
func TestBodyTooLarge(t *testing.T) {
	s := newSink(t, refsink.KindERP, func(c *refsink.Config) { c.MaxBodyBytes = 1 << 10 })
	for i, size := range []int{4 << 10, 2 << 20} {
		big := `{"reference":"` + strings.Repeat("x", size) + `"}`
		r := s.post("/erp/v1/goods-movements", "big", "application/json", big)
		wantStatus(t, r, http.StatusRequestEntityTooLarge)
		if p := problemOf(t, r); p.Type != "urn:dray:refsink:problem:payload-too-large" || p.Detail != "the body exceeds 1024 bytes" {
			t.Errorf("%d bytes: problem %+v", size, p)
		}
		recs := s.records(refsink.LedgerQuery{Outcome: refsink.OutcomeRejected})
		if len(recs) != i+1 || recs[i].Status != 413 || recs[i].Path != "/erp/v1/goods-movements" {
			t.Fatalf("%d bytes: rejected records %+v", size, recs)
		}
	}
	// The limit is the route's: a body within it is served as usual.
	wantStatus(t, s.post("/erp/v1/goods-movements", "small", "application/json", gm(1)), 201)
}

// TestLargeHeaders: headers well above fasthttp's default 4 KiB buffer
// are read; above maxHeaderBytes (64 KiB) they are answered 431.
func TestLargeHeaders(t *testing.T) {
	s := newSink(t, refsink.KindERP, nil)
	r := s.post("/erp/v1/goods-movements", "h1", "application/json", gm(0), "Traceparent", strings.Repeat("t", 20<<10))
	wantStatus(t, r, 201)
	if recs := s.records(refsink.LedgerQuery{Key: "h1"}); len(recs) != 1 || len(recs[0].Traceparent) != 20<<10 {
		t.Fatalf("records %+v", recs)
	}
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	r, err := s.tryPost(fresh, "/erp/v1/goods-movements", "h2", "application/json", gm(0), "X-Big", strings.Repeat("b", 80<<10))
	if err != nil || r.status != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("80 KiB header: %v %d", err, r.status)
	}
}

// TestRoutingAsServeMux: what net/http's ServeMux did with methods and
// paths outside the routes.
func TestRoutingAsServeMux(t *testing.T) {
	s := newSink(t, refsink.KindTMS, nil)
	do := func(method, path string) resp {
		t.Helper()
		req, err := http.NewRequest(method, s.url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp{status: res.StatusCode, header: res.Header, body: b}
	}
	for _, c := range []struct {
		method, path string
	}{
		{http.MethodGet, "/tms/v1/shipments"},                  // POST only
		{http.MethodPut, "/tms/v1/shipments"},                  // POST only
		{http.MethodDelete, "/_faults"},                        // GET and PUT only
		{http.MethodPost, "/tms/v1/shipments/S1/milestones/x"}, // GET only
		{http.MethodPost, "/tms/v1/shipments//milestones"},     // empty {id}
		{http.MethodGet, "/tms/v1/shipments/a/b"},              // {doc} is one segment
		{http.MethodGet, "/erp/v1/goods-movements"},            // not a TMS route
	} {
		r := do(c.method, c.path)
		if r.status != 404 {
			t.Errorf("%s %s: %d; want 404", c.method, c.path, r.status)
			continue
		}
		if p := problemOf(t, r); p.Type != "urn:dray:refsink:problem:not-found" {
			t.Errorf("%s %s: problem %+v", c.method, c.path, p)
		}
	}
	// A GET route serves HEAD: the headers without the body.
	r := do(http.MethodHead, "/healthz")
	if r.status != 200 || len(r.body) != 0 || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("HEAD /healthz: %d %v %q", r.status, r.header, r.body)
	}
	// {id} and {doc} of a milestone: an applied one is found, under its
	// shipment only.
	a := s.post("/tms/v1/shipments/SHP25031407/milestones", "m1", "application/json", valid[6].body)
	wantStatus(t, a, 201)
	loc := a.header.Get("Location")
	if r := do(http.MethodGet, loc); r.status != 200 || !strings.Contains(string(r.body), `"idempotencyKey":"m1"`) {
		t.Errorf("GET %s: %d %s", loc, r.status, r.body)
	}
	other := strings.Replace(loc, "SHP25031407", "SHP0", 1)
	if r := do(http.MethodGet, other); r.status != 404 {
		t.Errorf("GET %s: %d; want 404", other, r.status)
	}
}

// TestTokenEndpointRefusesMalformedForm: a form net/http's ParseForm
// refused is refused.
func TestTokenEndpointRefusesMalformedForm(t *testing.T) {
	s := newSink(t, refsink.KindERP, func(c *refsink.Config) {
		c.Auth.OAuth2Clients = []refsink.OAuth2Client{{ID: "relay", Secret: "s3cret"}}
	})
	for _, body := range []string{"grant_type=client_credentials&client_id=relay&client_secret=s3cret%zz", strings.Repeat("a", 70<<10)} {
		res, err := http.Post(s.url+"/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 400 || !strings.Contains(string(b), `"error":"invalid_request"`) {
			t.Errorf("%.40s…: %d %s", body, res.StatusCode, b)
		}
	}
	v := url.Values{"grant_type": {"client_credentials"}, "client_id": {"relay"}, "client_secret": {"s3cret"}}
	res, err := http.PostForm(s.url+"/oauth/token", v)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), `"access_token":"rs1.`) {
		t.Errorf("well-formed: %d %s", res.StatusCode, b)
	}
}

// TestClientGivingUpDuringLatency: a client that closes its connection
// while the injected latency runs has given up; its request is not
// processed (as with net/http, whose request context ended).
func TestClientGivingUpDuringLatency(t *testing.T) {
	s := newSink(t, refsink.KindERP, nil)
	s.setFaults(refsink.Faults{Latency: refsink.Duration(time.Second)})
	impatient := &http.Client{Timeout: 100 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	if _, err := s.tryPost(impatient, "/erp/v1/goods-movements", "gone", "application/json", gm(0)); err == nil {
		t.Fatal("answered within the client's timeout despite a second of latency")
	}
	// Started after the first and delayed as long: once it is answered the
	// first would have been applied had it been processed.
	wantStatus(t, s.post("/erp/v1/goods-movements", "patient", "application/json", gm(1)), 201)
	recs := s.records(refsink.LedgerQuery{})
	if len(recs) != 1 || recs[0].Key != "patient" {
		t.Fatalf("ledger %+v; want only the patient request", recs)
	}
	if fs := s.faultStats(); fs.Delayed != 2 {
		t.Errorf("fault stats %+v; want 2 delayed", fs)
	}
}

// TestPipelinedDuringLatency: a request pipelined behind a delayed one is
// not answered wrongly: the first is answered, then the connection closes.
func TestPipelinedDuringLatency(t *testing.T) {
	s := newSink(t, refsink.KindERP, nil)
	s.setFaults(refsink.Faults{Latency: refsink.Duration(200 * time.Millisecond)})
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	reqOf := func(key string, body string) string {
		return "POST /erp/v1/goods-movements HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nIdempotency-Key: " + key +
			"\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	}
	if _, err := io.WriteString(conn, reqOf("p1", gm(0))); err != nil {
		t.Fatal(err)
	}
	// The second goes out while the first is delayed.
	time.Sleep(50 * time.Millisecond)
	if _, err := io.WriteString(conn, reqOf("p2", gm(1))); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("first answer %d", res.StatusCode)
	}
	res, err = http.ReadResponse(br, nil)
	if err == nil {
		// Served whole (the watcher had not taken its first byte): fine too.
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 201 || len(s.records(refsink.LedgerQuery{Key: "p2"})) != 1 {
			t.Errorf("second answer %d", res.StatusCode)
		}
		return
	}
	if recs := s.records(refsink.LedgerQuery{Key: "p2"}); len(recs) != 0 {
		t.Errorf("the unanswered pipelined request was applied: %+v", recs)
	}
}

// TestShutdownAnswersDelayedRequests: a request waiting out injected
// latency when the server stops is answered 503 and not applied; stop
// returns once it is.
func TestShutdownAnswersDelayedRequests(t *testing.T) {
	s := newSink(t, refsink.KindERP, nil)
	s.setFaults(refsink.Faults{Latency: refsink.Duration(time.Hour)})
	done := make(chan resp, 1)
	go func() {
		r, err := s.tryPost(http.DefaultClient, "/erp/v1/goods-movements", "late", "application/json", gm(0))
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	// Wait until the request is being delayed.
	for s.faultStats().Delayed == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.status != 503 || !strings.Contains(string(r.body), "shutting down") {
		t.Errorf("answer %d %s; want 503 shutting down", r.status, r.body)
	}
	srv, err := refsink.NewServer(refsink.Config{Kind: refsink.KindERP, DataDir: s.dir})
	if err != nil {
		t.Fatal(err)
	}
	base, stop, err := srv.StartLoopback(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stop() }()
	recs, err := refsink.NewClient(base).Records(context.Background(), refsink.LedgerQuery{})
	if err != nil || len(recs) != 0 {
		t.Errorf("ledger after shutdown: %v %+v", err, recs)
	}
}
