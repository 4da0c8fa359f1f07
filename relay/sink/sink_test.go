package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/draylink/dray/internal/configfile"
	"github.com/draylink/dray/internal/pki"
)

func newSink(t *testing.T, c Config) *Sink {
	t.Helper()
	if c.Name == "" {
		c.Name = "erp"
	}
	c.SetDefaults()
	var errs configfile.Errors
	c.Validate("sinks[0]", &errs)
	if err := errs.Err(); err != nil {
		t.Fatal(err)
	}
	s, err := New(c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func post(path string) *Request {
	return &Request{Method: "POST", Path: path, Header: http.Header{"Idempotency-Key": {"k1"}}, Body: []byte(`{"a":1}`)}
}

func TestClassify(t *testing.T) {
	for status, want := range map[int]Outcome{
		200: Done, 201: Done, 204: Done, 409: Duplicate,
		408: Retry, 425: Retry, 429: Retry, 500: Retry, 502: Retry, 503: Retry, 504: Retry, 401: Retry,
		400: Dead, 403: Dead, 404: Dead, 410: Dead, 413: Dead, 422: Dead, 301: Dead,
	} {
		if got := Classify(status); got != want {
			t.Errorf("Classify(%d) = %v; want %v", status, got, want)
		}
	}
}

func TestDo(t *testing.T) {
	var got atomic.Pointer[http.Request]
	var gotBody atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r)
		var b bytes.Buffer
		_, _ = b.ReadFrom(r.Body)
		gotBody.Store(b.String())
		switch r.URL.Path {
		case "/base/ok":
			w.WriteHeader(201)
			_, _ = w.Write([]byte(`{"id":"x"}`))
		case "/base/dup":
			w.WriteHeader(409)
		case "/base/slow-down":
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(429)
		case "/base/bad":
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(422)
			_, _ = w.Write([]byte(`{"type":"about:blank","title":"invalid quantity"}`))
		case "/base/big":
			w.WriteHeader(422)
			_, _ = w.Write(bytes.Repeat([]byte("x"), 10000))
		case "/base/big-length":
			w.Header().Set("Content-Length", "10000")
			w.WriteHeader(422)
			_, _ = w.Write(bytes.Repeat([]byte("y"), 10000))
		case "/base/redirect":
			http.Redirect(w, r, "http://127.0.0.1:1/elsewhere", http.StatusFound)
		}
	}))
	defer srv.Close()
	s := newSink(t, Config{URL: srv.URL + "/base/", MaxResponseBytes: 1024, Headers: map[string]string{"X-Tenant": "acme"}, Breaker: BreakerConfig{Failures: -1}})
	ctx := context.Background()

	res := s.Do(ctx, post("/ok"))
	r := got.Load()
	if res.Outcome != Done || res.Status != 201 || string(res.Body) != `{"id":"x"}` {
		t.Errorf("ok: %+v", res)
	}
	if r.Header.Get("Idempotency-Key") != "k1" || r.Header.Get("X-Tenant") != "acme" || gotBody.Load() != `{"a":1}` || r.Method != "POST" {
		t.Errorf("request %s %v %v", r.Method, r.Header, gotBody.Load())
	}
	if res := s.Do(ctx, post("/dup")); res.Outcome != Duplicate || !res.Outcome.Finished() {
		t.Errorf("dup: %+v", res)
	}
	if res := s.Do(ctx, post("/slow-down")); res.Outcome != Retry || res.RetryAfter != 3*time.Second {
		t.Errorf("429: %+v", res)
	}
	if res := s.Do(ctx, post("/bad")); res.Outcome != Dead || !strings.Contains(string(res.Body), "invalid quantity") {
		t.Errorf("422: %+v", res)
	}
	if res := s.Do(ctx, post("/big")); res.Outcome != Dead || len(res.Body) != 1024 {
		t.Errorf("a 10000-byte body read %d bytes; want the 1024 cap", len(res.Body))
	}
	if res := s.Do(ctx, post("/big-length")); res.Outcome != Dead || len(res.Body) != 1024 {
		t.Errorf("a 10000-byte body with its length read %d bytes; want the 1024 cap", len(res.Body))
	}
	if res := s.Do(ctx, post("/redirect")); res.Outcome != Dead || res.Status != 302 {
		t.Errorf("redirect: %+v; want the 302 itself, dead", res)
	}
	st := s.Stats()
	if st.Requests != 7 || st.Done != 1 || st.Duplicate != 1 || st.Retry != 1 || st.Dead != 4 {
		t.Errorf("stats %+v", st)
	}
}

func TestNetworkErrorAndTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * time.Second)
	}))
	defer srv.Close()
	s := newSink(t, Config{URL: srv.URL, Timeout: configfile.Duration(200 * time.Millisecond)})
	start := time.Now()
	res := s.Do(context.Background(), post("/x"))
	if res.Outcome != Retry || res.Err == nil || time.Since(start) > time.Second {
		t.Errorf("timeout: %+v after %v", res, time.Since(start))
	}
	closed := newSink(t, Config{URL: "http://127.0.0.1:1"})
	if res := closed.Do(context.Background(), post("/x")); res.Outcome != Retry || res.Err == nil || res.Status != 0 {
		t.Errorf("refused: %+v", res)
	}
}

func TestBreaker(t *testing.T) {
	var hits atomic.Int32
	var healthy atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if !healthy.Load() {
			w.WriteHeader(503)
		}
	}))
	defer srv.Close()
	s := newSink(t, Config{URL: srv.URL, Breaker: BreakerConfig{Failures: 3, OpenFor: configfile.Duration(300 * time.Millisecond)}})
	ctx := context.Background()
	for range 3 {
		if res := s.Do(ctx, post("/")); res.Status != 503 {
			t.Fatalf("%+v", res)
		}
	}
	res := s.Do(ctx, post("/"))
	if !errors.Is(res.Err, ErrBreakerOpen) || res.Outcome != Retry || hits.Load() != 3 {
		t.Fatalf("after 3 failures: %+v, %d hits; want the breaker open, no request", res, hits.Load())
	}
	if s.Stats().Breaker != "open" {
		t.Errorf("breaker %s", s.Stats().Breaker)
	}
	healthy.Store(true)
	time.Sleep(350 * time.Millisecond)
	if res := s.Do(ctx, post("/")); res.Outcome != Done {
		t.Fatalf("probe: %+v", res)
	}
	if s.Stats().Breaker != "closed" {
		t.Errorf("breaker %s after a good probe", s.Stats().Breaker)
	}
	// 429 and 4xx do not trip it.
	s2 := newSink(t, Config{URL: srv.URL + "/", Breaker: BreakerConfig{Failures: 1}})
	healthy.Store(false)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(429) })
	for range 3 {
		if res := s2.Do(ctx, post("/")); res.Status != 429 {
			t.Fatalf("%+v", res)
		}
	}
}

func TestRateLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	s := newSink(t, Config{URL: srv.URL, Rate: RateConfig{PerSecond: 20, Burst: 1}})
	start := time.Now()
	for range 6 {
		if res := s.Do(context.Background(), post("/")); res.Outcome != Done {
			t.Fatal(res)
		}
	}
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Errorf("6 requests at 20/s took %v; want ≥ 250ms", el)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res := s.Do(ctx, post("/")); res.Outcome != Retry || res.Err == nil {
		t.Errorf("cancelled wait: %+v", res)
	}
}

func writeSecret(t *testing.T, v string) string {
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(v+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBearerAndAPIKey(t *testing.T) {
	var auth, key atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		key.Store(r.Header.Get("X-Api-Key"))
	}))
	defer srv.Close()
	b := newSink(t, Config{URL: srv.URL, Auth: AuthConfig{Bearer: &Secret{File: writeSecret(t, "tok-123")}}})
	b.Do(context.Background(), post("/"))
	if auth.Load() != "Bearer tok-123" {
		t.Errorf("Authorization %q", auth.Load())
	}
	t.Setenv("DRAY_TEST_API_KEY", "key-456")
	k := newSink(t, Config{URL: srv.URL, Auth: AuthConfig{APIKey: &APIKeyConfig{Header: "X-API-Key", Value: Secret{Env: "DRAY_TEST_API_KEY"}}}})
	k.Do(context.Background(), post("/"))
	if key.Load() != "key-456" {
		t.Errorf("X-API-Key %q", key.Load())
	}
	_, err := New(Config{Name: "x", URL: srv.URL, Auth: AuthConfig{Bearer: &Secret{Env: "DRAY_TEST_UNSET_VAR"}}}, nil)
	if err == nil || !strings.Contains(err.Error(), "DRAY_TEST_UNSET_VAR") {
		t.Errorf("unset secret: %v", err)
	}
}

func TestOAuth2(t *testing.T) {
	var tokens, rejected atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok {
			_ = r.ParseForm()
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		if id != "dray" || secret != "s3cret" || r.FormValue("grant_type") != "client_credentials" {
			w.WriteHeader(401)
			return
		}
		n := tokens.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"at-%d","token_type":"Bearer","expires_in":3600}`, n)
	})
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		// The first token is revoked behind the relay's back.
		if r.Header.Get("Authorization") != fmt.Sprintf("Bearer at-%d", tokens.Load()) || tokens.Load() == 1 {
			rejected.Add(1)
			w.WriteHeader(401)
			return
		}
		w.WriteHeader(204)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	s := newSink(t, Config{URL: srv.URL + "/api", Auth: AuthConfig{OAuth2: &OAuth2Config{
		TokenURL: srv.URL + "/oauth/token", ClientID: "dray", ClientSecret: Secret{File: writeSecret(t, "s3cret")}, Scopes: []string{"events.write"}}}})
	ctx := context.Background()
	if res := s.Do(ctx, post("/x")); res.Outcome != Retry || res.Status != 401 {
		t.Fatalf("revoked token: %+v; want 401, retry", res)
	}
	for range 3 {
		if res := s.Do(ctx, post("/x")); res.Outcome != Done {
			t.Fatalf("after a 401: %+v", res)
		}
	}
	if tokens.Load() != 2 || rejected.Load() != 1 {
		t.Errorf("%d tokens fetched, %d requests rejected; want 2 and 1 (one refetch after the 401, then reuse)", tokens.Load(), rejected.Load())
	}
	bad := newSink(t, Config{Name: "bad", URL: srv.URL + "/api", Auth: AuthConfig{OAuth2: &OAuth2Config{
		TokenURL: srv.URL + "/oauth/token", ClientID: "dray", ClientSecret: Secret{File: writeSecret(t, "wrong")}}}})
	res := bad.Do(ctx, post("/x"))
	if res.Outcome != Retry || res.Err == nil || strings.Contains(res.Err.Error(), "wrong") {
		t.Errorf("bad client secret: %+v (the error must not carry the secret)", res)
	}
}

func TestMTLS(t *testing.T) {
	ts, err := pki.NewTestSetup()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 {
			w.WriteHeader(403)
		}
	}))
	srv.TLS = ts.ServerTLS()
	srv.StartTLS()
	defer srv.Close()
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pki.CertPEM(ts.CA.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	client, err := ts.SiteCertificate("relay-client")
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	if err := pki.WriteFiles(certFile, keyFile, client.Leaf, client.PrivateKey.(pki.Signer)); err != nil {
		t.Fatal(err)
	}
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	s := newSink(t, Config{URL: url, TLS: TLSConfig{CAFile: caFile, CertFile: certFile, KeyFile: keyFile}})
	if res := s.Do(context.Background(), post("/")); res.Outcome != Done {
		t.Fatalf("mTLS: %+v", res)
	}
	noCert := newSink(t, Config{Name: "nocert", URL: url, TLS: TLSConfig{CAFile: caFile}})
	if res := noCert.Do(context.Background(), post("/")); res.Outcome != Retry || res.Err == nil {
		t.Fatalf("without a client certificate: %+v; want a handshake error", res)
	}
}

func TestConfigErrors(t *testing.T) {
	c := Config{Name: "bad name", URL: "ftp://x", Timeout: configfile.Duration(time.Millisecond),
		Auth: AuthConfig{Bearer: &Secret{}, APIKey: &APIKeyConfig{Header: "a b", Value: Secret{Env: "A", File: "B"}}},
		TLS:  TLSConfig{CertFile: "c"}, Headers: map[string]string{"Authorization": "Bearer x"}}
	c.SetDefaults()
	var errs configfile.Errors
	c.Validate("sinks[1]", &errs)
	got := map[string]bool{}
	for _, e := range errs {
		got[e.Path] = true
	}
	for _, p := range []string{"sinks[1].name", "sinks[1].url", "sinks[1].timeout", "sinks[1].auth.bearer",
		"sinks[1].auth.api_key.header", "sinks[1].auth.api_key.value", "sinks[1].auth", "sinks[1].tls", "sinks[1].headers.Authorization"} {
		if !got[p] {
			t.Errorf("no error at %s; got %v", p, errs)
		}
	}
}
