package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/draylink/dray/internal/backoff"

	"github.com/draylink/dray/agent/spool"
	"github.com/draylink/dray/plugins/pluginhost"
	"github.com/draylink/dray/plugins/sdk"
)

// Store is the part of the spool a supervisor uses.
type Store interface {
	CommitBatch(ctx context.Context, source string, cursor []byte, entries []spool.Entry, quarantine []spool.QuarantineRecord) error
	Cursor(source string) ([]byte, error)
	ResolveQuarantine(ctx context.Context, id string, entries []spool.Entry) error
	FailQuarantineRetry(ctx context.Context, id string, f spool.RetryFailure) (spool.QuarantineRecord, error)
}

// Backoff defaults.
const (
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = time.Minute
)

// Config configures one supervisor.
type Config struct {
	// Name is the connector's name in the agent configuration: its source
	// name in the spool (cursor and quarantine) and its log scope.
	Name string
	// Site is the agent's site: an event of another site is quarantined.
	Site string
	// Plugin says how to start the binary (Path, SHA256, Args, Env,
	// timeouts). Its Logger is set by New.
	Plugin pluginhost.Config
	// Connector is the connector's configuration, as JSON, passed to
	// Configure at every start.
	Connector []byte
	// MinBackoff and MaxBackoff bound the delay before a restart (defaults
	// DefaultMinBackoff, DefaultMaxBackoff).
	MinBackoff, MaxBackoff time.Duration
	// Logger receives the supervisor's and the plugin's logs; New scopes it
	// with connector=<Name>. Nil discards.
	Logger *slog.Logger
}

// State is what a supervisor is doing.
type State string

// States.
const (
	// StateStarting: starting the process, asking Info, configuring.
	StateStarting State = "starting"
	// StateRunning: reading from the source.
	StateRunning State = "running"
	// StateIdle: the connector's Read returned (the source is exhausted);
	// the plugin stays up for retries.
	StateIdle State = "idle"
	// StateBackoff: waiting to start a new process after a failure.
	StateBackoff State = "backoff"
	// StateStopped: Run has returned (or not started).
	StateStopped State = "stopped"
)

// Status is a snapshot of a supervisor, for the agent's /status.
type Status struct {
	Name  string    `json:"name"`
	State State     `json:"state"`
	Since time.Time `json:"since"`
	// PID is the plugin's process id while one runs.
	PID int `json:"pid,omitempty"`
	// Connector and Version are what the plugin's Info said.
	Connector string `json:"connector,omitempty"`
	Version   string `json:"version,omitempty"`
	// Starts counts the processes started; Restarts those started after a
	// failure.
	Starts   int `json:"starts"`
	Restarts int `json:"restarts"`
	// LastError is the last failure, LastErrorAt its time; NextStart is
	// when the next process starts (in backoff).
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	NextStart   time.Time `json:"next_start,omitzero"`
	// Batches, Events and Quarantined count what was committed since the
	// agent started; LastCommit is the time of the last batch, and
	// LastCursor its cursor (as text when it is UTF-8, else in hex).
	Batches     uint64    `json:"batches"`
	Events      uint64    `json:"events"`
	Quarantined uint64    `json:"quarantined"`
	LastCommit  time.Time `json:"last_commit,omitzero"`
	LastCursor  string    `json:"last_cursor,omitempty"`
}

// Supervisor runs one connector plugin. Create it with New, run it with
// Run; Status and Retry may be called concurrently with Run.
type Supervisor struct {
	cfg   Config
	store Store
	log   *slog.Logger
	bo    backoff.Policy

	retryMu sync.Mutex // serialises retries

	mu  sync.Mutex
	st  Status // guarded by mu
	cur *run   // the configured plugin, nil when none; guarded by mu
}

// run is one configured plugin process.
type run struct {
	p     *pluginhost.Plugin
	info  sdk.Info
	types map[string]bool // the event types Info declared
}

// New makes a supervisor; it starts nothing.
func New(cfg Config, store Store) (*Supervisor, error) {
	if cfg.Name == "" {
		return nil, errors.New("supervisor: no name")
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		return nil, fmt.Errorf("supervisor %s: max backoff %v is under min backoff %v", cfg.Name, cfg.MaxBackoff, cfg.MinBackoff)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	log := cfg.Logger.With("connector", cfg.Name)
	cfg.Plugin.Logger = log
	s := &Supervisor{cfg: cfg, store: store, log: log, bo: backoff.Policy{Initial: cfg.MinBackoff, Max: cfg.MaxBackoff}}
	s.st = Status{Name: cfg.Name, State: StateStopped, Since: time.Now()}
	return s, nil
}

// Name is the connector's name.
func (s *Supervisor) Name() string { return s.cfg.Name }

// Status returns a snapshot.
func (s *Supervisor) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// Run runs the connector until ctx ends, restarting it with backoff after
// every failure; it returns nil once ctx has ended and the plugin is gone.
func (s *Supervisor) Run(ctx context.Context) error {
	attempt := 0
	for {
		started := time.Now()
		err := s.runOnce(ctx)
		if ctx.Err() != nil {
			s.setState(StateStopped)
			return nil
		}
		if time.Since(started) >= s.cfg.MaxBackoff {
			attempt = 0
		}
		attempt++
		delay := s.bo.Delay(attempt, 0)
		s.failed(err, delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			s.setState(StateStopped)
			return nil
		case <-t.C:
		}
		s.mu.Lock()
		s.st.Restarts++
		s.mu.Unlock()
	}
}

// idlePoll is how often an idle plugin is checked for an exit.
const idlePoll = 200 * time.Millisecond

// runOnce starts, configures and reads from one plugin process; it returns
// when the process is gone: the error says why (nil when ctx ended).
func (s *Supervisor) runOnce(ctx context.Context) error {
	s.setState(StateStarting)
	p, err := pluginhost.Start(ctx, s.cfg.Plugin)
	if err != nil {
		if strings.Contains(err.Error(), "Unrecognized remote plugin message") {
			// go-plugin read something else than its handshake on stdout.
			return fmt.Errorf("%w (handshake: the plugin printed on stdout before its handshake line; connectors must log to stderr)", err)
		}
		return err
	}
	defer func() {
		s.mu.Lock()
		s.cur = nil
		s.st.PID = 0
		s.mu.Unlock()
		p.Kill()
	}()
	s.mu.Lock()
	s.st.Starts++
	s.st.PID = p.Pid()
	s.mu.Unlock()

	info, err := p.Info(ctx)
	if err != nil {
		return err
	}
	if err := p.Configure(ctx, s.cfg.Connector); err != nil {
		var ce *sdk.ConfigError
		if errors.As(err, &ce) {
			return fmt.Errorf("the connector refused its configuration: %w", err)
		}
		return err
	}
	cursor, err := s.store.Cursor(s.cfg.Name)
	if err != nil {
		return fmt.Errorf("read the committed cursor: %w", err)
	}
	r := &run{p: p, info: info, types: make(map[string]bool, len(info.EventTypes))}
	for _, t := range info.EventTypes {
		r.types[t] = true
	}
	s.mu.Lock()
	s.cur = r
	s.st.Connector, s.st.Version = info.Name, info.Version
	s.mu.Unlock()
	s.setState(StateRunning)
	s.log.Info("connector started", "plugin", info.Name, "version", info.Version, "pid", p.Pid(),
		"event_types", info.EventTypes, "cursor", CursorText(cursor))

	if err := p.Read(ctx, cursor, func(ctx context.Context, b pluginhost.HostBatch) error {
		return s.commit(ctx, r, b)
	}); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return nil
	}
	s.setState(StateIdle)
	s.log.Info("connector finished reading (its Read returned); the plugin stays up for retries")
	t := time.NewTicker(idlePoll)
	defer t.Stop()
	for !p.Exited() {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
	return fmt.Errorf("idle plugin: %w", pluginhost.ErrCrashed)
}

// commit checks a batch and commits its events, cursor and quarantine in
// one transaction.
func (s *Supervisor) commit(ctx context.Context, r *run, b pluginhost.HostBatch) error {
	entries, quarantine := s.check(r, b.Events, b.Rejects, fmt.Sprintf("batch/%d", b.Seq))
	if err := s.store.CommitBatch(ctx, s.cfg.Name, b.Cursor, entries, quarantine); err != nil {
		if errors.Is(err, spool.ErrCommitTooLarge) {
			return fmt.Errorf("commit batch %d: %w (the connector emits batches too big for one spool transaction: lower its batch size)", b.Seq, err)
		}
		return fmt.Errorf("commit batch %d: %w", b.Seq, err)
	}
	s.mu.Lock()
	s.st.Batches++
	s.st.Events += uint64(len(entries))
	s.st.Quarantined += uint64(len(quarantine))
	s.st.LastCommit = time.Now()
	s.st.LastCursor = CursorText(b.Cursor)
	s.mu.Unlock()
	if len(quarantine) > 0 {
		q := quarantine[0]
		s.log.Warn("records quarantined", "count", len(quarantine), "events", len(entries),
			"first_code", q.Code, "first_ref", q.Ref, "first_origin", q.Origin)
	}
	return nil
}

func (s *Supervisor) setState(st State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.State != st {
		s.st.State, s.st.Since = st, time.Now()
	}
	if st != StateBackoff {
		s.st.NextStart = time.Time{}
	}
}

// failed records and logs a failure before a restart in delay.
func (s *Supervisor) failed(err error, delay time.Duration) {
	if err == nil {
		err = errors.New("the plugin stopped")
	}
	now := time.Now()
	s.mu.Lock()
	s.st.State, s.st.Since = StateBackoff, now
	s.st.LastError, s.st.LastErrorAt = err.Error(), now
	s.st.NextStart = now.Add(delay)
	restarts := s.st.Restarts
	s.mu.Unlock()
	s.log.Error("connector failed; restarting it", "err", err, "kind", failureKind(err),
		"restart_in", delay.Round(time.Millisecond).String(), "restarts", restarts)
}

// failureKind names the kind of failure for the logs.
func failureKind(err error) string {
	var ce *sdk.ConfigError
	switch {
	case errors.Is(err, pluginhost.ErrChecksum):
		return "checksum"
	case errors.Is(err, pluginhost.ErrHung):
		return "hung"
	case errors.Is(err, pluginhost.ErrCrashed):
		return "crashed"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	case errors.As(err, &ce):
		return "config"
	case errors.Is(err, pluginhost.ErrConnector):
		return "connector"
	case errors.Is(err, pluginhost.ErrProtocol):
		return "protocol"
	case strings.Contains(err.Error(), "(handshake:"):
		return "handshake"
	default:
		return "other"
	}
}

// current returns the configured plugin, or nil.
func (s *Supervisor) current() *run {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// CursorText shows a cursor: as text when it is printable UTF-8, else
// "hex:" and its bytes in hex.
func CursorText(c []byte) string {
	if len(c) == 0 {
		return ""
	}
	if utf8.Valid(c) && !slices.ContainsFunc([]rune(string(c)), func(r rune) bool { return r < ' ' }) {
		return string(c)
	}
	return fmt.Sprintf("hex:%x", c)
}
