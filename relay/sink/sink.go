package sink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/draylink/dray/internal/backoff"
	"github.com/sony/gobreaker/v2"
	"github.com/valyala/fasthttp"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/time/rate"
)

// Outcome is what a response means for the events of a request.
type Outcome int

const (
	// Done means the sink applied the request (2xx).
	Done Outcome = iota + 1
	// Duplicate means the sink had applied it already (409): done as well.
	Duplicate
	// Retry means try again later (408, 425, 429, 5xx, 401, network errors,
	// timeouts, the breaker open).
	Retry
	// Dead means the sink refused the request for good (any other 4xx, 3xx):
	// it goes to the dead-letter store.
	Dead
)

func (o Outcome) String() string {
	switch o {
	case Done:
		return "done"
	case Duplicate:
		return "duplicate"
	case Retry:
		return "retry"
	case Dead:
		return "dead"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// Finished reports whether the events need nothing more (done or duplicate).
func (o Outcome) Finished() bool { return o == Done || o == Duplicate }

// Classify maps an HTTP status to an outcome (ARCHITECTURE.md, guarantee 5).
// 401 is retried, not dead-lettered: a credential problem is the sink's,
// not the event's (the OAuth2 token is fetched again first).
func Classify(status int) Outcome {
	switch {
	case status >= 200 && status < 300:
		return Done
	case status == http.StatusConflict:
		return Duplicate
	case status == http.StatusRequestTimeout, status == http.StatusTooEarly, status == http.StatusTooManyRequests,
		status == http.StatusUnauthorized, status >= 500:
		return Retry
	default:
		return Dead
	}
}

// ErrBreakerOpen is the error of a request the circuit breaker refused.
var ErrBreakerOpen = errors.New("circuit breaker open")

// Request is one HTTP request to the sink. Header carries no secret: the
// sink adds credentials when it sends.
type Request struct {
	Method string
	// Path is appended to the sink's URL.
	Path   string
	Header http.Header
	Body   []byte
}

// Result is the outcome of one request.
type Result struct {
	Outcome Outcome
	// Status is the HTTP status (0 when there was no response).
	Status int
	// RetryAfter is the response's Retry-After, if any.
	RetryAfter time.Duration
	// Body is the response body, at most MaxResponseBytes of it.
	Body []byte
	// Err is the transport error, if any (no response, breaker open,
	// cancelled).
	Err error
	// Elapsed is the request's duration.
	Elapsed time.Duration
}

// Sink sends requests to one HTTP endpoint with its credentials, limits and
// circuit breaker. It is safe for concurrent use.
type Sink struct {
	cfg     Config
	log     *slog.Logger
	client  *fasthttp.HostClient
	conns   connSet       // the client's open connections
	limiter *rate.Limiter // nil: unlimited
	breaker *gobreaker.CircuitBreaker[*Result]
	base    string
	headers [][2]string // cfg.Headers, names in canonical form
	// auth sets the request's credentials (nil: no authentication).
	auth   func(*fasthttp.RequestHeader) error
	tokens *tokenSource // nil without OAuth2

	stats struct {
		requests, done, duplicate, retry, dead, breakerRejects atomic.Uint64
		inFlight                                               atomic.Int64
	}
	lastErr atomic.Pointer[string]
}

// New builds a sink from a validated configuration. It reads secrets and
// certificates now; an unreadable one is an error naming the sink.
func New(cfg Config, log *slog.Logger) (*Sink, error) {
	cfg.SetDefaults()
	if log == nil {
		log = slog.Default()
	}
	s := &Sink{cfg: cfg, log: log.With("sink", cfg.Name), base: strings.TrimRight(cfg.URL, "/")}
	tlsConf, err := clientTLS(cfg.TLS)
	if err != nil {
		return nil, fmt.Errorf("sink %s: tls: %w", cfg.Name, err)
	}
	u, err := url.Parse(s.base)
	if err != nil {
		return nil, fmt.Errorf("sink %s: url: %w", cfg.Name, err)
	}
	if s.client, err = newHostClient(cfg, u, tlsConf, &s.conns); err != nil {
		return nil, fmt.Errorf("sink %s: %w", cfg.Name, err)
	}
	for k, v := range cfg.Headers {
		s.headers = append(s.headers, [2]string{textproto.CanonicalMIMEHeaderKey(k), v})
	}
	// OAuth2 token requests go through net/http with the same TLS trust
	// and proxy.
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: min(cfg.Timeout.D(), 10*time.Second), KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     tlsConf,
		TLSHandshakeTimeout: min(cfg.Timeout.D(), 10*time.Second),
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	if cfg.Rate.PerSecond > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(cfg.Rate.PerSecond), cfg.Rate.Burst)
	}
	if cfg.Breaker.Failures > 0 {
		failures := uint32(cfg.Breaker.Failures)
		s.breaker = gobreaker.NewCircuitBreaker[*Result](gobreaker.Settings{
			Name:        cfg.Name,
			MaxRequests: uint32(cfg.Breaker.Probes),
			Timeout:     cfg.Breaker.OpenFor.D(),
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
			OnStateChange: func(name string, from, to gobreaker.State) {
				s.log.Warn("sink circuit breaker", "from", from.String(), "to", to.String())
			},
			// A cancelled request says nothing about the sink's health.
			IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
		})
	}
	if err := s.setupAuth(tr); err != nil {
		return nil, fmt.Errorf("sink %s: auth: %w", cfg.Name, err)
	}
	return s, nil
}

func clientTLS(c TLSConfig) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", c.CAFile)
		}
		conf.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, err
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}

func (s *Sink) setupAuth(tr *http.Transport) error {
	a := s.cfg.Auth
	switch {
	case a.Bearer != nil:
		tok, err := a.Bearer.Read()
		if err != nil {
			return fmt.Errorf("bearer: %w", err)
		}
		v := "Bearer " + tok
		s.auth = func(h *fasthttp.RequestHeader) error { h.Set("Authorization", v); return nil }
	case a.APIKey != nil:
		v, err := a.APIKey.Value.Read()
		if err != nil {
			return fmt.Errorf("api_key: %w", err)
		}
		name := textproto.CanonicalMIMEHeaderKey(a.APIKey.Header)
		s.auth = func(h *fasthttp.RequestHeader) error { h.Set(name, v); return nil }
	case a.OAuth2 != nil:
		secret, err := a.OAuth2.ClientSecret.Read()
		if err != nil {
			return fmt.Errorf("oauth2 client_secret: %w", err)
		}
		cc := &clientcredentials.Config{ClientID: a.OAuth2.ClientID, ClientSecret: secret,
			TokenURL: a.OAuth2.TokenURL, Scopes: a.OAuth2.Scopes}
		switch a.OAuth2.AuthStyle {
		case "header":
			cc.AuthStyle = oauth2.AuthStyleInHeader
		case "params":
			cc.AuthStyle = oauth2.AuthStyleInParams
		}
		// Token requests use the sink's TLS settings and timeout; they
		// run on a context of their own, as oauth2 keeps it for refreshes.
		tokenClient := &http.Client{Transport: tr, Timeout: s.cfg.Timeout.D(),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		s.tokens = newTokenSource(cc, context.WithValue(context.Background(), oauth2.HTTPClient, tokenClient))
		s.auth = func(h *fasthttp.RequestHeader) error {
			tok, err := s.tokens.Token()
			if err != nil {
				return fmt.Errorf("oauth2 token: %w", err)
			}
			h.Set("Authorization", tok.Type()+" "+tok.AccessToken)
			return nil
		}
	}
	return nil
}

// tokenSource caches client-credentials tokens until they expire, or until
// the sink answers 401.
type tokenSource struct {
	cc  *clientcredentials.Config
	ctx context.Context

	mu sync.Mutex
	ts oauth2.TokenSource // guarded by mu
}

func newTokenSource(cc *clientcredentials.Config, ctx context.Context) *tokenSource {
	return &tokenSource{cc: cc, ctx: ctx, ts: cc.TokenSource(ctx)}
}

func (t *tokenSource) Token() (*oauth2.Token, error) {
	t.mu.Lock()
	ts := t.ts
	t.mu.Unlock()
	return ts.Token()
}

// reset drops the cached token, if it is still old.
func (t *tokenSource) reset(old oauth2.TokenSource) {
	t.mu.Lock()
	if t.ts == old {
		t.ts = t.cc.TokenSource(t.ctx)
	}
	t.mu.Unlock()
}

func (t *tokenSource) current() oauth2.TokenSource {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ts
}

// Name is the sink's name.
func (s *Sink) Name() string { return s.cfg.Name }

// URL is the full URL of a path.
func (s *Sink) URL(path string) string { return s.base + path }

// Do sends one request, waiting for the rate limit first. It never
// returns a nil Result; ctx bounds the wait and the request (which is
// also bounded by the sink's timeout).
func (s *Sink) Do(ctx context.Context, req *Request) *Result {
	if s.limiter != nil {
		if err := s.limiter.Wait(ctx); err != nil {
			return &Result{Outcome: Retry, Err: fmt.Errorf("rate limit: %w", err)}
		}
	}
	if s.breaker == nil {
		res, _ := s.send(ctx, req)
		return s.count(res)
	}
	res, err := s.breaker.Execute(func() (*Result, error) { return s.send(ctx, req) })
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		s.stats.breakerRejects.Add(1)
		return &Result{Outcome: Retry, Err: ErrBreakerOpen}
	}
	return s.count(res)
}

func (s *Sink) count(res *Result) *Result {
	s.stats.requests.Add(1)
	switch res.Outcome {
	case Done:
		s.stats.done.Add(1)
	case Duplicate:
		s.stats.duplicate.Add(1)
	case Retry:
		s.stats.retry.Add(1)
	case Dead:
		s.stats.dead.Add(1)
	}
	if res.Err != nil {
		msg := res.Err.Error()
		s.lastErr.Store(&msg)
	} else if res.Outcome == Retry || res.Outcome == Dead {
		msg := fmt.Sprintf("HTTP %d", res.Status)
		s.lastErr.Store(&msg)
	}
	return res
}

// send makes the request. Its error is what the breaker counts as a
// failure: no response, or a response that says the sink is unwell.
func (s *Sink) send(ctx context.Context, req *Request) (*Result, error) {
	s.stats.inFlight.Add(1)
	defer s.stats.inFlight.Add(-1)
	start := time.Now()
	if err := ctx.Err(); err != nil {
		// Not sent: nothing the breaker should count against the sink.
		return &Result{Outcome: Retry, Err: err}, context.Canceled
	}
	deadline := start.Add(s.cfg.Timeout.D())
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	hreq := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(hreq)
	hreq.Header.DisableNormalizing()
	hreq.Header.SetMethod(req.Method)
	hreq.SetRequestURI(s.base + req.Path)
	for _, h := range s.headers {
		hreq.Header.Set(h[0], h[1])
	}
	for k, vs := range req.Header {
		for i, v := range vs {
			if i == 0 {
				hreq.Header.Set(k, v)
			} else {
				hreq.Header.Add(k, v)
			}
		}
	}
	hreq.SetBodyRaw(req.Body)
	var ts oauth2.TokenSource
	if s.tokens != nil {
		ts = s.tokens.current()
	}
	if s.auth != nil {
		if err := s.auth(&hreq.Header); err != nil {
			res := &Result{Outcome: Retry, Err: err, Elapsed: time.Since(start)}
			return res, err
		}
	}
	// fasthttp takes no context: a cancellation (the relay stopping)
	// closes the sink's connections, which ends the requests on them.
	stop := context.AfterFunc(ctx, func() {
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			s.conns.closeAll()
		}
	})
	defer stop()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	err := s.client.DoDeadline(hreq, resp, deadline)
	if err != nil && staleConn(err) && ctx.Err() == nil {
		err = s.client.DoDeadline(hreq, resp, deadline)
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		res := &Result{Outcome: Retry, Err: err, Elapsed: time.Since(start)}
		if errors.Is(err, context.Canceled) {
			return res, context.Canceled
		}
		return res, err
	}
	status := resp.StatusCode()
	body, rerr := readBody(resp, int(s.cfg.MaxResponseBytes))
	res := &Result{
		Outcome:    Classify(status),
		Status:     status,
		RetryAfter: backoff.ParseRetryAfter(string(resp.Header.Peek("Retry-After")), time.Now()),
		Body:       body,
		Elapsed:    time.Since(start),
	}
	if rerr != nil && res.Outcome.Finished() {
		// The sink answered 2xx: the body does not change that.
		rerr = nil
	}
	if status == http.StatusUnauthorized && s.tokens != nil {
		s.tokens.reset(ts)
	}
	switch {
	case rerr != nil:
		res.Outcome, res.Err = Retry, rerr
		return res, rerr
	case status >= 500, status == http.StatusUnauthorized, status == http.StatusRequestTimeout:
		return res, fmt.Errorf("HTTP %d", status)
	}
	return res, nil
}

// Stats are a sink's counters since New.
type Stats struct {
	Requests, Done, Duplicate, Retry, Dead, BreakerRejects uint64
	InFlight                                               int64
	// Breaker is "closed", "half-open", "open" or "none".
	Breaker string
	// LastError is the last transport error or failure status.
	LastError string
}

// Stats returns the sink's counters.
func (s *Sink) Stats() Stats {
	st := Stats{
		Requests: s.stats.requests.Load(), Done: s.stats.done.Load(), Duplicate: s.stats.duplicate.Load(),
		Retry: s.stats.retry.Load(), Dead: s.stats.dead.Load(), BreakerRejects: s.stats.breakerRejects.Load(),
		InFlight: s.stats.inFlight.Load(), Breaker: "none",
	}
	if s.breaker != nil {
		st.Breaker = s.breaker.State().String()
	}
	if p := s.lastErr.Load(); p != nil {
		st.LastError = *p
	}
	return st
}

// Close releases idle connections.
func (s *Sink) Close() { s.client.CloseIdleConnections() }
