package refsink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Server is a reference ERP or TMS service. It is safe for concurrent use.
type Server struct {
	cfg    Config
	log    *slog.Logger
	st     *store
	auth   *authenticator
	faults *injector
	rt     router

	quit      chan struct{} // closed when shutdown begins
	quitOnce  sync.Once
	closeOnce sync.Once
	closeErr  error

	mu   sync.Mutex
	addr net.Addr // guarded by mu; set by Serve
}

// NewServer validates cfg, opens (or creates) the ledger in cfg.DataDir and
// rebuilds the idempotency index and the counts from it. The caller must
// Close the server (Run does it on return).
func NewServer(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	log := cfg.Logger.With("component", "refsink", "kind", string(cfg.Kind))
	st, truncated, err := openStore(cfg.DataDir, cfg.Kind, cfg.Now, cfg.RecordBodies)
	if err != nil {
		return nil, err
	}
	if truncated > 0 {
		log.Warn("ledger had a torn last line (never acknowledged); truncated", "bytes", truncated)
	}
	auth, err := newAuthenticator(cfg.Auth, cfg.DataDir, cfg.Now)
	if err != nil {
		_ = st.close()
		return nil, err
	}
	s := &Server{
		cfg: cfg, log: log, st: st, auth: auth,
		faults: newInjector(cfg.Faults, cfg.Now),
		quit:   make(chan struct{}),
	}
	s.rt = s.routes()
	log.Info("ledger opened", "dir", cfg.DataDir, "records", st.led.committed())
	return s, nil
}

// Kind is the server's flavour.
func (s *Server) Kind() Kind { return s.cfg.Kind }

// Addr is the address Serve listens on (nil before).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// call is one request as a handler sees it: path is the decoded request
// path, id and doc the {id} and {doc} segments of the route, tooBig that
// the body exceeded the server's largest limit (it was not read).
type call struct {
	ctx     *fasthttp.RequestCtx
	path    string
	id, doc string
	tooBig  bool
}

// handler serves one route.
type handler func(c *call)

// endpoint is what one path serves, by method.
type endpoint struct{ get, post, put handler }

// itemRoutes are the routes of a resource whose path has {id}
// (milestones): POST …/{id}/milestones and …:batch, GET …/{doc}.
type itemRoutes struct {
	prefix, suffix string // "/tms/v1/shipments/", "/milestones"
	single, batch  handler
	get            handler
}

// router routes on method and path: a map of the fixed paths, the
// resources' GET …/{doc} prefixes and the {id} routes. net/http's
// ServeMux rules are kept: a wildcard is one non-empty segment, a GET
// route also serves HEAD, anything else is the 404 problem.
type router struct {
	exact map[string]*endpoint
	docs  []docRoute
	items []itemRoutes
}

// docRoute is GET <resource path>/{doc}.
type docRoute struct {
	prefix string // "/erp/v1/goods-movements/"
	get    handler
}

func (s *Server) routes() router {
	rt := router{exact: map[string]*endpoint{}}
	add := func(path string) *endpoint {
		e := rt.exact[path]
		if e == nil {
			e = &endpoint{}
			rt.exact[path] = e
		}
		return e
	}
	for _, r := range resourcesOf(s.cfg.Kind) {
		if pre, suf, ok := strings.Cut(r.path, "{id}"); ok {
			rt.items = append(rt.items, itemRoutes{prefix: pre, suffix: suf,
				single: s.business(r, modeSingle), batch: s.business(r, modeBatch), get: s.getDocument(r)})
			continue
		}
		add(r.path).post = s.business(r, modeSingle)
		add(r.path + ":batch").post = s.business(r, modeBatch)
		rt.docs = append(rt.docs, docRoute{prefix: r.path + "/", get: s.getDocument(r)})
	}
	add("/" + string(s.cfg.Kind) + "/v1/batch").post = s.business(nil, modeJSONBatch)
	add("/oauth/token").post = s.auth.serveToken
	add("/healthz").get = s.serveHealth
	add("/_ledger").get = s.admin(s.serveLedger)
	add("/_ledger/stats").get = s.admin(s.serveStats)
	faults := add("/_faults")
	faults.get = s.admin(s.serveFaults)
	faults.put = s.admin(s.putFaults)
	add("/_faults/stats").get = s.admin(s.serveFaultStats)
	return rt
}

// segment reports whether v is one non-empty path segment.
func segment(v string) bool { return v != "" && !strings.Contains(v, "/") }

// route finds the handler of c's method and path (c.id and c.doc are
// set from the path), or nil.
func (rt *router) route(c *call) handler {
	m := c.ctx.Method()
	get := string(m) == fasthttp.MethodGet || string(m) == fasthttp.MethodHead
	post := !get && string(m) == fasthttp.MethodPost
	if e := rt.exact[c.path]; e != nil {
		switch {
		case get:
			return e.get
		case post:
			return e.post
		case string(m) == fasthttp.MethodPut:
			return e.put
		}
		return nil
	}
	if !get && !post {
		return nil
	}
	for i := range rt.items {
		ir := &rt.items[i]
		rest, ok := strings.CutPrefix(c.path, ir.prefix)
		if !ok {
			continue
		}
		id, tail, ok := strings.Cut(rest, "/")
		if !ok || id == "" {
			continue
		}
		tail = "/" + tail
		switch {
		case post && tail == ir.suffix:
			c.id = id
			return ir.single
		case post && tail == ir.suffix+":batch":
			c.id = id
			return ir.batch
		case get && strings.HasPrefix(tail, ir.suffix+"/") && segment(tail[len(ir.suffix)+1:]):
			c.id, c.doc = id, tail[len(ir.suffix)+1:]
			return ir.get
		}
	}
	if get {
		for i := range rt.docs {
			if doc, ok := strings.CutPrefix(c.path, rt.docs[i].prefix); ok && segment(doc) {
				c.doc = doc
				return rt.docs[i].get
			}
		}
	}
	return nil
}

// serve is the fasthttp.RequestHandler of the whole API (business routes,
// token endpoint, ledger and fault endpoints, health).
func (s *Server) serve(ctx *fasthttp.RequestCtx) {
	c := call{ctx: ctx, path: string(ctx.Path())}
	s.dispatch(&c)
}

func (s *Server) dispatch(c *call) {
	if h := s.rt.route(c); h != nil {
		h(c)
		return
	}
	writeProblem(c.ctx, fasthttp.StatusNotFound, ptNotFound, "Not found",
		string(c.ctx.Method())+" "+c.path+" is not a route of this "+string(s.cfg.Kind)+" service", c.path)
}

// serveError answers a request fasthttp could not read. A body above the
// server's limit goes to its route, which answers 413 as it would for a
// body above the route's own limit (a business route records the refusal
// in the ledger); anything else is a plain 400 (431 for headers above
// maxHeaderBytes, 408 on a timeout), as net/http answers. fasthttp closes
// the connection afterwards.
func (s *Server) serveError(ctx *fasthttp.RequestCtx, err error) {
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		c := call{ctx: ctx, path: string(ctx.Path()), tooBig: true}
		s.dispatch(&c)
		drain(ctx.Conn())
		return
	}
	var small *fasthttp.ErrSmallBuffer
	if errors.As(err, &small) {
		ctx.Error("431 Request Header Fields Too Large", fasthttp.StatusRequestHeaderFieldsTooLarge)
		drain(ctx.Conn()) // the rest of the headers and the body, as for a body too large
		return
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		ctx.Error("408 Request Timeout", fasthttp.StatusRequestTimeout)
		return
	}
	ctx.Error("400 Bad Request", fasthttp.StatusBadRequest)
}

// Drain limits: before the connection of a body that was not read is
// closed, the rest of it is read and discarded, at most drainMax bytes,
// until the client pauses for drainIdle (it has sent the body and waits
// for the answer): closed with unread data, the connection would be reset
// and the client would see the reset rather than the 413 (net/http
// lingers likewise).
const (
	drainMax  = 32 << 20
	drainIdle = 50 * time.Millisecond
)

// drain reads what the client is still sending of a request that will
// not be read (a body above the limit, headers above maxHeaderBytes).
func drain(c net.Conn) {
	if c == nil {
		return
	}
	buf := make([]byte, 64<<10)
	for n := 0; n < drainMax; {
		if c.SetReadDeadline(time.Now().Add(drainIdle)) != nil {
			return
		}
		m, err := c.Read(buf)
		n += m
		if err != nil {
			return
		}
	}
}

// admin guards the test control endpoints with AdminToken when it is set.
func (s *Server) admin(h handler) handler {
	return func(c *call) {
		if s.cfg.AdminToken != "" {
			scheme, tok, _ := strings.Cut(string(c.ctx.Request.Header.Peek("Authorization")), " ")
			if !strings.EqualFold(scheme, "Bearer") || !equal(tok, s.cfg.AdminToken) {
				c.ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="`+authRealm+`-admin"`)
				writeProblem(c.ctx, fasthttp.StatusUnauthorized, ptUnauthorized, "Unauthorized", "the admin token is required", c.path)
				return
			}
		}
		h(c)
	}
}

func (s *Server) serveHealth(c *call) {
	if err := s.st.led.failed(); err != nil {
		writeJSON(c.ctx, fasthttp.StatusServiceUnavailable, map[string]any{"status": "ledger failed", "kind": s.cfg.Kind})
		return
	}
	writeJSON(c.ctx, fasthttp.StatusOK, map[string]any{"status": "ok", "kind": s.cfg.Kind, "ledgerRecords": s.st.led.committed()})
}

// documentView is GET <resource>/{documentId}.
type documentView struct {
	DocumentID     string    `json:"documentId"`
	Resource       string    `json:"resource"`
	LedgerSeq      uint64    `json:"ledgerSeq"`
	AppliedAt      time.Time `json:"appliedAt"`
	IdempotencyKey string    `json:"idempotencyKey"`
	EventID        string    `json:"eventId,omitempty"`
	Site           string    `json:"site,omitempty"`
	Body           any       `json:"body,omitempty"`
}

func (s *Server) getDocument(res *resource) handler {
	return func(c *call) {
		if _, desc, ok := s.auth.authenticate(c.ctx); !ok {
			challenge(c, desc)
			return
		}
		notFound := func() {
			writeProblem(c.ctx, fasthttp.StatusNotFound, ptNotFound, "No such "+res.title, c.doc, c.path)
		}
		seq, ok := seqOfDocument(res, c.doc)
		if !ok {
			notFound()
			return
		}
		rec, err := s.st.led.read(seq)
		if err != nil || rec.Outcome != OutcomeApplied || rec.Resource != res.name || rec.Path != res.itemPath(c.id) {
			notFound()
			return
		}
		v := documentView{DocumentID: rec.DocumentID, Resource: rec.Resource, LedgerSeq: rec.Seq, AppliedAt: rec.Time,
			IdempotencyKey: rec.Key, EventID: rec.EventID, Site: rec.Site}
		if len(rec.Body) > 0 {
			v.Body = rec.Body
		}
		writeJSON(c.ctx, fasthttp.StatusOK, v)
	}
}

// Ledger query limits.
const (
	defaultPage = 1000
	maxPage     = 10000
	maxScan     = 200000
)

func (s *Server) serveLedger(c *call) {
	// As net/http's URL.Query: malformed pairs are skipped.
	v, _ := url.ParseQuery(string(c.ctx.URI().QueryString()))
	q, err := parseLedgerQuery(v)
	if err != nil {
		writeProblem(c.ctx, fasthttp.StatusBadRequest, ptValidation, "Bad ledger query", err.Error(), c.path)
		return
	}
	page := LedgerPage{Records: []Record{}}
	last, more, err := s.st.led.scan(q.After, maxScan, func(rec *Record) bool {
		if q.matches(rec) {
			page.Records = append(page.Records, *rec)
		}
		return len(page.Records) < q.Limit
	})
	if err != nil {
		writeProblem(c.ctx, fasthttp.StatusInternalServerError, ptLedgerFailed, "Cannot read the ledger", err.Error(), c.path)
		return
	}
	page.Next, page.More = last, more
	writeJSON(c.ctx, fasthttp.StatusOK, page)
}

func (s *Server) serveStats(c *call) {
	writeJSON(c.ctx, fasthttp.StatusOK, s.st.snapshot())
}

func (s *Server) serveFaults(c *call) {
	writeJSON(c.ctx, fasthttp.StatusOK, s.faults.get())
}

func (s *Server) serveFaultStats(c *call) {
	writeJSON(c.ctx, fasthttp.StatusOK, s.faults.snapshot())
}

// maxFaultsBody caps a PUT /_faults body.
const maxFaultsBody = 1 << 20

// putFaults replaces the knobs (reseeding the generator; relative outage
// windows start now). Counters are not reset.
func (s *Server) putFaults(c *call) {
	b, err := body(c, maxFaultsBody)
	if err != nil {
		writeProblem(c.ctx, fasthttp.StatusBadRequest, ptMalformed, "Cannot read the body", err.Error(), c.path)
		return
	}
	var f Faults
	if err := decodeStrict(b, &f); err != nil {
		writeProblem(c.ctx, fasthttp.StatusBadRequest, ptMalformed, "Malformed fault knobs", err.Error(), c.path)
		return
	}
	if probs := f.problems(); len(probs) > 0 {
		writeProblem(c.ctx, fasthttp.StatusUnprocessableEntity, ptValidation, "Invalid fault knobs", strings.Join(probs, "; "), c.path)
		return
	}
	s.faults.set(f)
	s.log.Info("fault knobs replaced", "faults", f)
	writeJSON(c.ctx, fasthttp.StatusOK, s.faults.get())
}

// errBodyTooLarge is a body above a route's limit (the text net/http's
// MaxBytesReader gave).
var errBodyTooLarge = errors.New("http: request body too large")

// body is the request body, at most n bytes (else errBodyTooLarge). It
// is fasthttp's buffer, valid until the handler returns: what outlives
// the request must be copied.
func body(c *call, n int64) ([]byte, error) {
	if c.tooBig {
		return nil, errBodyTooLarge
	}
	b := c.ctx.PostBody()
	if int64(len(b)) > n {
		return nil, errBodyTooLarge
	}
	return b, nil
}

// Run listens on cfg.Listen and serves until ctx is done, then shuts down
// gracefully (in-flight requests finish, the ledger is flushed) and closes
// the server.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		_ = s.Close()
		return fmt.Errorf("listen: %w", err)
	}
	return s.Serve(ctx, ln)
}

// StartLoopback serves s on a new 127.0.0.1 listener (an in-process
// server for tests and benchmarks). It returns the base URL
// (http://127.0.0.1:port, https with TLS) and stop, which shuts the server
// down as Serve does when its context is done, waits for it and returns
// Serve's error; stop may be called more than once. When ctx is done the
// server shuts down too (stop still waits).
func (s *Server) StartLoopback(ctx context.Context) (baseURL string, stop func() error, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = s.Close()
		return "", nil, fmt.Errorf("listen: %w", err)
	}
	scheme := "http"
	if s.cfg.TLS.Enabled() {
		scheme = "https"
	}
	baseURL = scheme + "://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var serveErr error
	go func() {
		defer close(done)
		serveErr = s.Serve(ctx, ln)
	}()
	return baseURL, func() error {
		cancel()
		<-done
		return serveErr
	}, nil
}

// maxHeaderBytes bounds a request's line and headers (a larger one is
// answered 431).
const maxHeaderBytes = 64 << 10

// Server timeouts: a request must arrive whole within readTimeout, its
// answer be written within writeTimeout; a kept-alive connection may idle
// for idleTimeout.
const (
	readTimeout  = time.Minute
	writeTimeout = time.Minute
	idleTimeout  = 2 * time.Minute
)

// Serve serves on ln (wrapped in TLS when configured) until ctx is done,
// then shuts down and closes the server. It returns after every request
// has finished: in-flight requests may finish within ShutdownTimeout,
// after which their connections are closed.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.cfg.TLS.Enabled() {
		tc, err := s.tlsConfig()
		if err != nil {
			_ = ln.Close()
			_ = s.Close()
			return err
		}
		ln = tls.NewListener(ln, tc)
	}
	var conns connSet
	maxBody := max(s.cfg.MaxBodyBytes, maxFaultsBody, maxTokenBody)
	srv := &fasthttp.Server{
		Handler:      s.serve,
		ErrorHandler: s.serveError,
		ConnState:    conns.track,
		ReadTimeout:  readTimeout,
		WriteTimeout: writeTimeout,
		IdleTimeout:  idleTimeout,
		// Bodies above every route's limit are refused before they are
		// read (serveError); below it each route applies its own.
		MaxRequestBodySize: int(min(maxBody, math.MaxInt32)),
		// The request line and headers must fit in it (net/http allowed
		// 1 MB; fasthttp's default is 4 KiB).
		ReadBufferSize: maxHeaderBytes,
		// As net/http: no Server header; the Content-Type is always set.
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
		// Connections still open at shutdown are told to close.
		CloseOnShutdown: true,
		Logger:          fasthttpLogger{s.log},
	}
	s.mu.Lock()
	s.addr = ln.Addr()
	s.mu.Unlock()
	s.log.Info("listening", "addr", ln.Addr().String(), "tls", s.cfg.TLS.Enabled(), "mtls", s.cfg.TLS.ClientCAFile != "")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var serveErr error
	served := false
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
		served = true
	}
	s.quitOnce.Do(func() { close(s.quit) })
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout.D())
	defer cancel()
	if err := srv.ShutdownWithContext(sctx); err != nil {
		s.log.Warn("graceful shutdown timed out; closing connections", "err", err)
		conns.closeAll()
	}
	if !served {
		serveErr = <-errc
	}
	// Every connection's handler has returned (a closed one soon does:
	// a delayed request sees quit, a write fails).
	conns.wait()
	closeErr := s.Close()
	s.log.Info("stopped", "ledgerRecords", s.st.led.committed())
	return errors.Join(serveErr, closeErr)
}

// connSet tracks the server's open connections, to close them when the
// graceful shutdown times out and to wait for their handlers.
type connSet struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{} // guarded by mu
	closed chan struct{}         // guarded by mu; closed when conns empties while waited for
}

// track is fasthttp.Server.ConnState.
func (cs *connSet) track(c net.Conn, st fasthttp.ConnState) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	switch st {
	case fasthttp.StateNew:
		if cs.conns == nil {
			cs.conns = make(map[net.Conn]struct{})
		}
		cs.conns[c] = struct{}{}
	case fasthttp.StateClosed, fasthttp.StateHijacked:
		delete(cs.conns, c)
		if len(cs.conns) == 0 && cs.closed != nil {
			close(cs.closed)
			cs.closed = nil
		}
	}
}

func (cs *connSet) closeAll() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for c := range cs.conns {
		_ = c.Close()
	}
}

// wait returns when no connection is open (the listener is closed: none
// is added).
func (cs *connSet) wait() {
	cs.mu.Lock()
	if len(cs.conns) == 0 {
		cs.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	cs.closed = ch
	cs.mu.Unlock()
	<-ch
}

// fasthttpLogger sends fasthttp's messages (connection errors) to the
// server's log at debug level, as net/http's ErrorLog was.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...))
}

func (s *Server) tlsConfig() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(s.cfg.TLS.CertFile, s.cfg.TLS.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	tc := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		// HTTP/1.1 only (fasthttp has no HTTP/2).
		NextProtos: []string{"http/1.1"},
	}
	if s.cfg.TLS.ClientCAFile != "" {
		pem, err := os.ReadFile(s.cfg.TLS.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls client CA %s: no certificate", s.cfg.TLS.ClientCAFile)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// Close flushes and closes the ledger. Requests still running get 503. It
// is idempotent; Run and Serve call it.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.quitOnce.Do(func() { close(s.quit) })
		s.closeErr = s.st.close()
	})
	return s.closeErr
}

// ---- ledger query encoding, shared with Client ----

// values encodes q as GET /_ledger parameters.
func (q LedgerQuery) values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("resource", q.Resource)
	set("site", q.Site)
	set("key", q.Key)
	set("eventId", q.EventID)
	set("partitionKey", q.PartitionKey)
	set("outcome", string(q.Outcome))
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if q.After > 0 {
		v.Set("after", strconv.FormatUint(q.After, 10))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
}

func parseLedgerQuery(v url.Values) (LedgerQuery, error) {
	q := LedgerQuery{
		Resource: v.Get("resource"), Site: v.Get("site"), Key: v.Get("key"), EventID: v.Get("eventId"),
		PartitionKey: v.Get("partitionKey"), Outcome: Outcome(v.Get("outcome")), Limit: defaultPage,
	}
	if s := v.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return q, fmt.Errorf("since: %w", err)
		}
		q.Since = t
	}
	if s := v.Get("after"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return q, fmt.Errorf("after: %w", err)
		}
		q.After = n
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return q, fmt.Errorf("limit: want a positive integer")
		}
		q.Limit = min(n, maxPage)
	}
	return q, nil
}

func (q *LedgerQuery) matches(r *Record) bool {
	return (q.Resource == "" || r.Resource == q.Resource) &&
		(q.Site == "" || r.Site == q.Site) &&
		(q.Key == "" || r.Key == q.Key) &&
		(q.EventID == "" || r.EventID == q.EventID) &&
		(q.PartitionKey == "" || r.PartitionKey == q.PartitionKey) &&
		(q.Outcome == "" || r.Outcome == q.Outcome) &&
		(q.Since.IsZero() || !r.Time.Before(q.Since))
}
