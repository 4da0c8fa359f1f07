package refsink

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is a reference ERP or TMS service. It is safe for concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	st      *store
	auth    *authenticator
	faults  *injector
	handler http.Handler

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
	s.handler = s.routes()
	log.Info("ledger opened", "dir", cfg.DataDir, "records", st.led.committed())
	return s, nil
}

// Handler serves the whole API (business routes, token endpoint, ledger and
// fault endpoints, health).
func (s *Server) Handler() http.Handler { return s.handler }

// Kind is the server's flavour.
func (s *Server) Kind() Kind { return s.cfg.Kind }

// Addr is the address Serve listens on (nil before).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	for _, r := range resourcesOf(s.cfg.Kind) {
		mux.HandleFunc("POST "+r.path, s.business(r, modeSingle))
		mux.HandleFunc("POST "+r.path+":batch", s.business(r, modeBatch))
		mux.HandleFunc("GET "+r.path+"/{doc}", s.getDocument(r))
	}
	mux.HandleFunc("POST /"+string(s.cfg.Kind)+"/v1/batch", s.business(nil, modeJSONBatch))
	mux.HandleFunc("POST /oauth/token", s.auth.serveToken)
	mux.HandleFunc("GET /healthz", s.serveHealth)
	mux.HandleFunc("GET /_ledger", s.admin(s.serveLedger))
	mux.HandleFunc("GET /_ledger/stats", s.admin(s.serveStats))
	mux.HandleFunc("GET /_faults", s.admin(s.serveFaults))
	mux.HandleFunc("PUT /_faults", s.admin(s.putFaults))
	mux.HandleFunc("GET /_faults/stats", s.admin(s.serveFaultStats))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusNotFound, ptNotFound, "Not found", r.Method+" "+r.URL.Path+" is not a route of this "+string(s.cfg.Kind)+" service", r.URL.Path)
	})
	return mux
}

// admin guards the test control endpoints with AdminToken when it is set.
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.AdminToken != "" {
			scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
			if !strings.EqualFold(scheme, "Bearer") || !equal(tok, s.cfg.AdminToken) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="`+authRealm+`-admin"`)
				writeProblem(w, http.StatusUnauthorized, ptUnauthorized, "Unauthorized", "the admin token is required", r.URL.Path)
				return
			}
		}
		h(w, r)
	}
}

func (s *Server) serveHealth(w http.ResponseWriter, _ *http.Request) {
	if err := s.st.led.failed(); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "ledger failed", "kind": s.cfg.Kind})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "kind": s.cfg.Kind, "ledgerRecords": s.st.led.committed()})
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

func (s *Server) getDocument(res *resource) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, desc, ok := s.auth.authenticate(r); !ok {
			challenge(w, r, desc)
			return
		}
		doc := r.PathValue("doc")
		notFound := func() {
			writeProblem(w, http.StatusNotFound, ptNotFound, "No such "+res.title, doc, r.URL.Path)
		}
		seq, ok := seqOfDocument(res, doc)
		if !ok {
			notFound()
			return
		}
		rec, err := s.st.led.read(seq)
		if err != nil || rec.Outcome != OutcomeApplied || rec.Resource != res.name || rec.Path != res.itemPath(r.PathValue("id")) {
			notFound()
			return
		}
		v := documentView{DocumentID: rec.DocumentID, Resource: rec.Resource, LedgerSeq: rec.Seq, AppliedAt: rec.Time,
			IdempotencyKey: rec.Key, EventID: rec.EventID, Site: rec.Site}
		if len(rec.Body) > 0 {
			v.Body = rec.Body
		}
		writeJSON(w, http.StatusOK, v)
	}
}

// Ledger query limits.
const (
	defaultPage = 1000
	maxPage     = 10000
	maxScan     = 200000
)

func (s *Server) serveLedger(w http.ResponseWriter, r *http.Request) {
	q, err := parseLedgerQuery(r.URL.Query())
	if err != nil {
		writeProblem(w, http.StatusBadRequest, ptValidation, "Bad ledger query", err.Error(), r.URL.Path)
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
		writeProblem(w, http.StatusInternalServerError, ptLedgerFailed, "Cannot read the ledger", err.Error(), r.URL.Path)
		return
	}
	page.Next, page.More = last, more
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) serveStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.st.snapshot())
}

func (s *Server) serveFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.faults.get())
}

func (s *Server) serveFaultStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.faults.snapshot())
}

// putFaults replaces the knobs (reseeding the generator; relative outage
// windows start now). Counters are not reset.
func (s *Server) putFaults(w http.ResponseWriter, r *http.Request) {
	b, err := readAllLimited(w, r, 1<<20)
	if err != nil {
		writeProblem(w, http.StatusBadRequest, ptMalformed, "Cannot read the body", err.Error(), r.URL.Path)
		return
	}
	var f Faults
	if err := decodeStrict(b, &f); err != nil {
		writeProblem(w, http.StatusBadRequest, ptMalformed, "Malformed fault knobs", err.Error(), r.URL.Path)
		return
	}
	if probs := f.problems(); len(probs) > 0 {
		writeProblem(w, http.StatusUnprocessableEntity, ptValidation, "Invalid fault knobs", strings.Join(probs, "; "), r.URL.Path)
		return
	}
	s.faults.set(f)
	s.log.Info("fault knobs replaced", "faults", f)
	writeJSON(w, http.StatusOK, s.faults.get())
}

// readAllLimited reads the whole body, at most n bytes (else an
// *http.MaxBytesError), into a buffer sized by Content-Length when it is
// given: a batch is read without regrowing and copying it.
func readAllLimited(w http.ResponseWriter, r *http.Request, n int64) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, n)
	if size := r.ContentLength; size > 0 && size <= n {
		buf := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
		_, err := buf.ReadFrom(body)
		return buf.Bytes(), err
	}
	return io.ReadAll(body)
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

// Serve serves on ln (wrapped in TLS when configured) until ctx is done,
// then shuts down and closes the server. It returns after every request
// goroutine has finished.
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
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.mu.Lock()
	s.addr = ln.Addr()
	s.mu.Unlock()
	s.log.Info("listening", "addr", ln.Addr().String(), "tls", s.cfg.TLS.Enabled(), "mtls", s.cfg.TLS.ClientCAFile != "")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	s.quitOnce.Do(func() { close(s.quit) })
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout.D())
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		s.log.Warn("graceful shutdown timed out; closing connections", "err", err)
		_ = srv.Close()
	}
	if serveErr == nil {
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			serveErr = err
		}
	}
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	closeErr := s.Close()
	s.log.Info("stopped", "ledgerRecords", s.st.led.committed())
	return errors.Join(serveErr, closeErr)
}

func (s *Server) tlsConfig() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(s.cfg.TLS.CertFile, s.cfg.TLS.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	tc := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		// HTTP/1.1 only: the drop fault hijacks the connection.
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
