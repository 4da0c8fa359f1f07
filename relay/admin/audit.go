package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
)

// AuditLog is an append-only file of JSON audit lines, each fsynced before
// the call it records answers.
type AuditLog struct {
	mu sync.Mutex
	f  *os.File // guarded by mu
}

// OpenAuditLog opens (or creates, mode 0600) the audit file at path.
func OpenAuditLog(path string) (*AuditLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600) //nolint:gosec // the path is the relay's data directory, from its configuration
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	return &AuditLog{f: f}, nil
}

// Write appends one line and syncs it.
func (a *AuditLog) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return 0, errors.New("audit log closed")
	}
	n, err := a.f.Write(p)
	if err == nil {
		err = a.f.Sync()
	}
	return n, err
}

// Close closes the file; it is idempotent.
func (a *AuditLog) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return nil
	}
	err := a.f.Close()
	a.f = nil
	return err
}

// AuditLogger returns a logger that writes each record as a JSON line to
// the audit file and also to log.
func AuditLogger(file *AuditLog, log *slog.Logger) *slog.Logger {
	return slog.New(tee{slog.NewJSONHandler(file, nil), log.Handler()}).With("audit", true)
}

// tee sends records to two handlers.
type tee [2]slog.Handler

func (t tee) Enabled(ctx context.Context, l slog.Level) bool {
	return t[0].Enabled(ctx, l) || t[1].Enabled(ctx, l)
}

func (t tee) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range t {
		if h.Enabled(ctx, r.Level) {
			errs = append(errs, h.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (t tee) WithAttrs(as []slog.Attr) slog.Handler {
	return tee{t[0].WithAttrs(as), t[1].WithAttrs(as)}
}

func (t tee) WithGroup(name string) slog.Handler {
	return tee{t[0].WithGroup(name), t[1].WithGroup(name)}
}
