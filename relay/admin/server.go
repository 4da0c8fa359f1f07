package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/relay/dispatch"
	"github.com/draylink/dray/relay/dlq"
)

// Sink is what the API needs of one sink's dispatcher.
type Sink interface {
	// Status is the sink's state as JSON-able data.
	Status() any
	Replay(ctx context.Context, req dispatch.ReplayRequest) (dispatch.ReplayResult, error)
	Redrive(ctx context.Context, id string) (dispatch.RedriveResult, error)
}

// DeadLetters is what the API needs of the dead-letter store.
type DeadLetters interface {
	List(sink, after string, limit int) ([]dlq.Summary, string, error)
	Get(sink, id string) (*dlq.Record, error)
	Delete(sink, id string) (*dlq.Record, error)
	Count(sink string) int
}

// Token is one accepted bearer token.
type Token struct {
	// Name identifies the holder in audit lines.
	Name string
	// Role is what the holder may do (default RoleOperator).
	Role Role
	// Secret is the token itself, or empty when SHA256 is given.
	Secret string
	// SHA256 is the token's SHA-256, for tokens configured hashed.
	SHA256 [32]byte
}

// Role is what a token's holder may do. Each role may do what the roles
// below it may.
type Role string

// Roles, from least to most.
const (
	// RoleViewer reads: sinks, dead letters, replay jobs, sites.
	RoleViewer Role = "viewer"
	// RoleOperator also redrives and discards dead letters, starts
	// replays and reads Go profiles.
	RoleOperator Role = "operator"
	// RoleAdmin also adds and revokes sites.
	RoleAdmin Role = "admin"
)

// rank orders the roles; 0 is not a role.
func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleOperator:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// ParseRole reads a role name ("" is RoleOperator, what tokens could do
// before roles existed).
func ParseRole(s string) (Role, error) {
	if s == "" {
		return RoleOperator, nil
	}
	if r := Role(s); r.rank() > 0 {
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q (want viewer, operator or admin)", s)
}

// Options configure New.
type Options struct {
	Sinks  map[string]Sink
	DLQ    DeadLetters
	Tokens []Token
	// Sites is the site registry (nil: enrollment is not configured and
	// the /v1/sites routes answer 404).
	Sites Sites
	// Audit receives one line per state-changing call (redrive, discard,
	// replay), whatever its outcome.
	Audit  *slog.Logger
	Logger *slog.Logger
	// RedriveTimeout bounds one redrive, retries included (default 60s).
	RedriveTimeout time.Duration
	// Metrics, when set, is served at GET /metrics to read tokens (the
	// Prometheus exposition: relay/metrics).
	Metrics http.Handler
}

// Page size limits of list calls.
const (
	defaultPage = 100
	maxPage     = 500
)

// maxBody caps request bodies.
const maxBody = 64 << 10

// Server is the relay's admin API.
type Server struct {
	opts   Options
	log    *slog.Logger
	audit  *slog.Logger
	tokens []tokenHash
	mux    *http.ServeMux

	ctx    context.Context // cancelled by Shutdown: ends replay jobs
	cancel context.CancelFunc
	jobsWG sync.WaitGroup

	mu   sync.Mutex
	jobs map[string]*Job // guarded by mu
	ids  []string        // guarded by mu: job ids, oldest first
}

type tokenHash struct {
	name string
	role Role
	sum  [32]byte
}

// New builds the API. Tokens must be at least 16 bytes.
func New(o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Audit == nil {
		o.Audit = o.Logger
	}
	if o.RedriveTimeout <= 0 {
		o.RedriveTimeout = 60 * time.Second
	}
	if len(o.Tokens) == 0 {
		return nil, errors.New("admin: at least one token is required")
	}
	s := &Server{opts: o, log: o.Logger.With("component", "admin"), audit: o.Audit, mux: http.NewServeMux(), jobs: map[string]*Job{}}
	for _, t := range o.Tokens {
		role, err := ParseRole(string(t.Role))
		if err != nil {
			return nil, fmt.Errorf("admin: token %s: %w", t.Name, err)
		}
		th := tokenHash{name: t.Name, role: role, sum: t.SHA256}
		switch {
		case t.Secret != "":
			if len(t.Secret) < 16 {
				return nil, fmt.Errorf("admin: token %s is shorter than 16 bytes", t.Name)
			}
			th.sum = sha256.Sum256([]byte(t.Secret))
		case t.SHA256 == [32]byte{}:
			return nil, fmt.Errorf("admin: token %s has neither a secret nor a SHA-256", t.Name)
		}
		s.tokens = append(s.tokens, th)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.routes()
	return s, nil
}

// Action is what a caller asks to do; each needs a role (Required).
type Action string

// Actions.
const (
	ActionRead       Action = "read"
	ActionRedrive    Action = "redrive"
	ActionDiscard    Action = "discard"
	ActionReplay     Action = "replay"
	ActionDebug      Action = "debug"
	ActionSiteAdd    Action = "site_add"
	ActionSiteRevoke Action = "site_revoke"
)

// Required is the least role that may take the action.
func (a Action) Required() Role {
	switch a {
	case ActionRead:
		return RoleViewer
	case ActionRedrive, ActionDiscard, ActionReplay, ActionDebug:
		return RoleOperator
	}
	return RoleAdmin
}

// stateChanging reports whether an action changes state (and so is
// audited, refused or not).
func (a Action) stateChanging() bool { return a != ActionRead && a != ActionDebug }

// Principal is an authenticated caller.
type Principal struct {
	Name string
	Role Role
}

var errUnauthorized = errors.New("missing or unknown bearer token")

// forbiddenError: the token is known, its role too low.
type forbiddenError struct {
	p      Principal
	action Action
}

func (e *forbiddenError) Error() string {
	return fmt.Sprintf("token %q has role %s; %s needs role %s", e.p.Name, e.p.Role, e.action, e.action.Required())
}

// authorize is the API's one access check: it authenticates the bearer
// token (errUnauthorized) and decides whether its holder's role may take
// action (*forbiddenError).
func (s *Server) authorize(r *http.Request, action Action) (Principal, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return Principal{}, errUnauthorized
	}
	sum := sha256.Sum256([]byte(tok))
	found := -1
	for i := range s.tokens {
		// Compare every token, in constant time, whatever matched.
		if subtle.ConstantTimeCompare(sum[:], s.tokens[i].sum[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Principal{}, errUnauthorized
	}
	p := Principal{Name: s.tokens[found].name, Role: s.tokens[found].role}
	if p.Role.rank() < action.Required().rank() {
		return p, &forbiddenError{p: p, action: action}
	}
	return p, nil
}

// Handler returns the API's handler.
func (s *Server) Handler() http.Handler { return s.mux }

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /v1/sinks", s.guard(ActionRead, s.listSinks))
	s.mux.HandleFunc("GET /v1/sinks/{sink}/dlq", s.guard(ActionRead, s.listDLQ))
	s.mux.HandleFunc("GET /v1/sinks/{sink}/dlq/{id}", s.guard(ActionRead, s.showDLQ))
	s.mux.HandleFunc("POST /v1/sinks/{sink}/dlq/{id}/redrive", s.guard(ActionRedrive, s.redrive))
	s.mux.HandleFunc("POST /v1/sinks/{sink}/dlq/{id}/discard", s.guard(ActionDiscard, s.discard))
	s.mux.HandleFunc("POST /v1/sinks/{sink}/replays", s.guard(ActionReplay, s.startReplay))
	s.mux.HandleFunc("GET /v1/replays", s.guard(ActionRead, s.listReplays))
	s.mux.HandleFunc("GET /v1/replays/{id}", s.guard(ActionRead, s.showReplay))
	s.mux.HandleFunc("GET /v1/sites", s.guard(ActionRead, s.listSites))
	s.mux.HandleFunc("POST /v1/sites", s.guard(ActionSiteAdd, s.addSite))
	s.mux.HandleFunc("POST /v1/sites/{site}/revoke", s.guard(ActionSiteRevoke, s.revokeSite))
	// Go's profiler, for the operators who hold a token.
	if s.opts.Metrics != nil {
		s.mux.HandleFunc("GET /metrics", s.guard(ActionRead, func(w http.ResponseWriter, r *http.Request, _ Principal) {
			s.opts.Metrics.ServeHTTP(w, r)
		}))
	}
	s.mux.HandleFunc("GET /debug/pprof/", s.guard(ActionDebug, func(w http.ResponseWriter, r *http.Request, _ Principal) { pprof.Index(w, r) }))
	s.mux.HandleFunc("GET /debug/pprof/profile", s.guard(ActionDebug, func(w http.ResponseWriter, r *http.Request, _ Principal) { pprof.Profile(w, r) }))
}

type handler func(w http.ResponseWriter, r *http.Request, p Principal)

func (s *Server) guard(action Action, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authorize(r, action)
		var fe *forbiddenError
		switch {
		case errors.As(err, &fe):
			if action.stateChanging() {
				s.auditLine(r, p, action, "outcome", "forbidden", "path", r.URL.Path)
			}
			writeError(w, http.StatusForbidden, err.Error())
			return
		case err != nil:
			if action.stateChanging() {
				s.auditLine(r, Principal{}, action, "outcome", "unauthenticated", "path", r.URL.Path)
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="dray-relay"`)
			writeError(w, http.StatusUnauthorized, err.Error())
			return
		}
		h(w, r, p)
	}
}

// Error is the body of every error response.
type Error struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, Error{Error: msg})
}

func (s *Server) sink(w http.ResponseWriter, r *http.Request) (string, Sink, bool) {
	name := r.PathValue("sink")
	sk, ok := s.opts.Sinks[name]
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no sink %q", name))
		return "", nil, false
	}
	return name, sk, true
}

// SinkStatus is one element of GET /v1/sinks.
type SinkStatus struct {
	Name        string `json:"name"`
	DeadLetters int    `json:"dead_letters"`
	Status      any    `json:"status"`
}

func (s *Server) listSinks(w http.ResponseWriter, _ *http.Request, _ Principal) {
	names := make([]string, 0, len(s.opts.Sinks))
	for n := range s.opts.Sinks {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]SinkStatus, 0, len(names))
	for _, n := range names {
		out = append(out, SinkStatus{Name: n, DeadLetters: s.opts.DLQ.Count(n), Status: s.opts.Sinks[n].Status()})
	}
	writeJSON(w, http.StatusOK, out)
}

// DLQPage is the answer of GET /v1/sinks/{sink}/dlq.
type DLQPage struct {
	Items []dlq.Summary `json:"items"`
	// Next is the after= of the next page ("" at the end).
	Next  string `json:"next,omitempty"`
	Total int    `json:"total"`
}

func (s *Server) listDLQ(w http.ResponseWriter, r *http.Request, _ Principal) {
	name, _, ok := s.sink(w, r)
	if !ok {
		return
	}
	limit := defaultPage
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPage {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit must be 1..%d", maxPage))
			return
		}
		limit = n
	}
	items, next, err := s.opts.DLQ.List(name, r.URL.Query().Get("after"), limit)
	if err != nil {
		s.storeError(w, err)
		return
	}
	if items == nil {
		items = []dlq.Summary{}
	}
	writeJSON(w, http.StatusOK, DLQPage{Items: items, Next: next, Total: s.opts.DLQ.Count(name)})
}

// DeadLetter is the answer of GET /v1/sinks/{sink}/dlq/{id}: the record and
// its event as CloudEvents JSON.
type DeadLetter struct {
	dlq.Record
	EventJSON json.RawMessage `json:"event_json,omitempty"`
}

func (s *Server) showDLQ(w http.ResponseWriter, r *http.Request, _ Principal) {
	name, _, ok := s.sink(w, r)
	if !ok {
		return
	}
	rec, err := s.opts.DLQ.Get(name, r.PathValue("id"))
	if err != nil {
		s.storeError(w, err)
		return
	}
	out := DeadLetter{Record: *rec}
	if ev, err := canonical.UnmarshalBinary(rec.Event); err == nil {
		if b, err := canonical.MarshalJSON(ev); err == nil {
			out.EventJSON = b
		}
		canonical.Release(ev)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) storeError(w http.ResponseWriter, err error) {
	if errors.Is(err, dlq.ErrNotFound) {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	s.log.Error("dead-letter store", "err", err)
	writeError(w, http.StatusInternalServerError, err.Error())
}

func (s *Server) redrive(w http.ResponseWriter, r *http.Request, p Principal) {
	name, sk, ok := s.sink(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.RedriveTimeout)
	defer cancel()
	res, err := sk.Redrive(ctx, id)
	status := http.StatusOK
	outcome := res.Outcome
	switch {
	case errors.Is(err, dlq.ErrNotFound):
		status, outcome = http.StatusNotFound, "not_found"
	case errors.Is(err, dispatch.ErrNoRoute):
		status, outcome = http.StatusConflict, "no_route"
	case err != nil:
		status, outcome = http.StatusInternalServerError, "error"
	case res.Outcome == dispatch.RedriveDead:
		status = http.StatusUnprocessableEntity
	case res.Outcome == dispatch.RedriveFailed:
		status = http.StatusBadGateway
	}
	s.auditLine(r, p, ActionRedrive, "sink", name, "id", id, "outcome", outcome, "status", res.Status,
		"route", res.Route, "attempts", res.Attempts, "reason", res.Reason, "err", errString(err))
	if err != nil {
		writeError(w, status, err.Error())
		return
	}
	writeJSON(w, status, res)
}

// DiscardRequest is the optional body of a discard.
type DiscardRequest struct {
	Reason string `json:"reason"`
}

// DiscardResult answers a discard.
type DiscardResult struct {
	ID        string `json:"id"`
	Discarded bool   `json:"discarded"`
	EventID   string `json:"event_id"`
}

func (s *Server) discard(w http.ResponseWriter, r *http.Request, p Principal) {
	name, _, ok := s.sink(w, r)
	if !ok {
		return
	}
	var req DiscardRequest
	if !decodeBody(w, r, &req) {
		return
	}
	id := r.PathValue("id")
	rec, err := s.opts.DLQ.Delete(name, id)
	outcome := "discarded"
	var evID, evType, route string
	if err != nil {
		outcome = "error"
		if errors.Is(err, dlq.ErrNotFound) {
			outcome = "not_found"
		}
	} else {
		evID, evType, route = rec.EventID, rec.EventType, rec.Route
	}
	s.auditLine(r, p, ActionDiscard, "sink", name, "id", id, "outcome", outcome, "event_id", evID,
		"event_type", evType, "route", route, "reason", req.Reason, "err", errString(err))
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, DiscardResult{ID: id, Discarded: true, EventID: evID})
}

// decodeBody reads an optional JSON body strictly.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if r.ContentLength == 0 {
		return true
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "bad request body: "+err.Error())
		return false
	}
	return true
}

// Job is a replay running or done.
type Job struct {
	ID       string                 `json:"id"`
	Sink     string                 `json:"sink"`
	Actor    string                 `json:"actor"`
	Request  dispatch.ReplayRequest `json:"request"`
	State    string                 `json:"state"` // running, done, failed, interrupted
	Result   *dispatch.ReplayResult `json:"result,omitempty"`
	Error    string                 `json:"error,omitempty"`
	Started  time.Time              `json:"started"`
	Finished *time.Time             `json:"finished,omitempty"`
}

// Job states.
const (
	JobRunning     = "running"
	JobDone        = "done"
	JobFailed      = "failed"
	JobInterrupted = "interrupted"
)

// maxJobs is how many replay jobs are remembered.
const maxJobs = 100

func (s *Server) startReplay(w http.ResponseWriter, r *http.Request, p Principal) {
	name, sk, ok := s.sink(w, r)
	if !ok {
		return
	}
	var req dispatch.ReplayRequest
	if r.ContentLength == 0 {
		writeError(w, http.StatusBadRequest, "a body {since, until, sites, types} is required")
		return
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Since.IsZero() || (!req.Until.IsZero() && !req.Until.After(req.Since)) {
		s.auditLine(r, p, ActionReplay, "sink", name, "outcome", "refused", "since", req.Since, "until", req.Until)
		writeError(w, http.StatusBadRequest, "since is required, and until must be after it")
		return
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	job := &Job{ID: hex.EncodeToString(b[:]), Sink: name, Actor: p.Name, Request: req, State: JobRunning, Started: time.Now().UTC()}
	s.mu.Lock()
	s.jobs[job.ID] = job
	s.ids = append(s.ids, job.ID)
	if len(s.ids) > maxJobs {
		for _, old := range s.ids[:len(s.ids)-maxJobs] {
			if s.jobs[old].State != JobRunning {
				delete(s.jobs, old)
			}
		}
		s.ids = slices.DeleteFunc(s.ids, func(id string) bool { _, ok := s.jobs[id]; return !ok })
	}
	s.mu.Unlock()
	s.auditLine(r, p, ActionReplay, "sink", name, "job", job.ID, "outcome", "started", "since", req.Since,
		"until", req.Until, "sites", req.Sites, "types", req.Types)
	s.jobsWG.Go(func() {
		res, err := sk.Replay(s.ctx, req)
		now := time.Now().UTC()
		s.mu.Lock()
		job.Result, job.Finished = &res, &now
		switch {
		case err != nil:
			job.State, job.Error = JobFailed, err.Error()
		case res.Interrupted:
			job.State = JobInterrupted
		default:
			job.State = JobDone
		}
		state := job.State
		s.mu.Unlock()
		s.audit.Info("audit", "action", string(ActionReplay), "actor", p.Name, "role", string(p.Role), "sink", name, "job", job.ID,
			"outcome", state, "from_seq", res.From, "to_seq", res.To, "selected", res.Selected,
			"delivered", res.Delivered, "duplicates", res.Duplicates, "dead_lettered", res.DeadLettered, "err", errString(err))
	})
	s.mu.Lock()
	snap := *job
	s.mu.Unlock()
	w.Header().Set("Location", "/v1/replays/"+job.ID)
	writeJSON(w, http.StatusAccepted, snap)
}

func (s *Server) listReplays(w http.ResponseWriter, _ *http.Request, _ Principal) {
	s.mu.Lock()
	out := make([]Job, 0, len(s.ids))
	for _, id := range s.ids {
		out = append(out, *s.jobs[id])
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) showReplay(w http.ResponseWriter, r *http.Request, _ Principal) {
	s.mu.Lock()
	job, ok := s.jobs[r.PathValue("id")]
	var snap Job
	if ok {
		snap = *job
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "no such replay")
		return
	}
	writeJSON(w, http.StatusOK, snap)
}

// auditLine writes one structured audit line.
func (s *Server) auditLine(r *http.Request, p Principal, action Action, kv ...any) {
	args := append([]any{"action", string(action), "actor", p.Name, "role", string(p.Role), "remote", remoteHost(r)}, kv...)
	s.audit.Info("audit", args...)
}

func remoteHost(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Serve serves the API on ln until ctx ends, then shuts down: in-flight
// calls get a few seconds, replay jobs are interrupted, and Serve returns
// once they have all stopped.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.cancel()
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	if err == nil {
		if e := <-errc; e != nil && !errors.Is(e, http.ErrServerClosed) {
			err = e
		}
	}
	s.jobsWG.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
