package supervisor

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/draylink/dray/agent/spool"
	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/pluginhost"
	"github.com/draylink/dray/plugins/sdk"
)

// Retry errors. A failed attempt is not an error (see RetryOutcome); these
// say the retry could not be attempted, and the record is unchanged.
var (
	// ErrNotRunning: no configured plugin to ask (starting, in backoff, or
	// stopped); try again later.
	ErrNotRunning = errors.New("the connector is not running")
	// ErrNoRetry: the connector does not implement sdk.Retrier.
	ErrNoRetry = sdk.ErrNoRetry
)

// RetryOutcome is what a retry did.
type RetryOutcome struct {
	// Resolved: the record became events, which are committed, and it left
	// quarantine.
	Resolved bool `json:"resolved"`
	// Events are the ids of the events committed.
	Events []string `json:"events,omitempty"`
	// Record is the record after a failed attempt (attempts, last error,
	// new code and reason).
	Record *spool.QuarantineRecord `json:"record,omitempty"`
	// Rejects say why the record is still bad, when the connector (or the
	// agent's check of its events) rejected it again.
	Rejects []spool.QuarantineRecord `json:"rejects,omitempty"`
	// Error says why the attempt failed.
	Error string `json:"error,omitempty"`
}

// Retry re-processes quarantined record rec with the running plugin (its
// current configuration). payload, when not nil, replaces the record's
// payload (an operator's correction). Events and no rejects: the events are
// committed and the record removed in one transaction. Otherwise the
// attempt is counted on the record (RetryOutcome.Record): the connector
// rejected it again, failed, crashed or missed its deadline on it. An error
// means nothing was attempted or stored: ErrNotRunning (also when the
// plugin is stopped during the call), ErrNoRetry, spool.ErrNotQuarantined,
// or a spool error.
func (s *Supervisor) Retry(ctx context.Context, rec spool.QuarantineRecord, payload []byte) (RetryOutcome, error) {
	if rec.Source != s.cfg.Name {
		return RetryOutcome{}, fmt.Errorf("retry %s: the record comes from %q, not connector %q", rec.ID, rec.Source, s.cfg.Name)
	}
	s.retryMu.Lock()
	defer s.retryMu.Unlock()
	r := s.current()
	if r == nil {
		st := s.Status()
		msg := fmt.Sprintf("retry %s: %v (connector %s is %s", rec.ID, ErrNotRunning, s.cfg.Name, st.State)
		if st.LastError != "" {
			msg += "; last error: " + st.LastError
		}
		return RetryOutcome{}, fmt.Errorf("%s): %w", msg, ErrNotRunning)
	}
	reject := sdk.Reject{Code: rec.Code, Reason: rec.Reason, Ref: rec.Ref, Payload: rec.Payload}
	if payload != nil {
		reject.Payload = payload
		s.log.Info("retrying a quarantined record with a payload given by the operator",
			"id", rec.ID, "ref", rec.Ref, "stored_bytes", len(rec.Payload), "given_bytes", len(payload))
	}
	res, err := r.p.Retry(ctx, reject)
	if errors.Is(err, sdk.ErrNoRetry) {
		return RetryOutcome{}, fmt.Errorf("retry %s: connector %s (%s %s): %w", rec.ID, s.cfg.Name, r.info.Name, r.info.Version, ErrNoRetry)
	}
	if errors.Is(err, pluginhost.ErrKilled) {
		// The supervisor (or the agent's shutdown) stopped the plugin
		// meanwhile: not the record's doing, so no attempt is counted. A
		// crash or a missed deadline is counted: the record may cause it.
		return RetryOutcome{}, fmt.Errorf("retry %s: %w (the plugin was stopped during the retry: %w)", rec.ID, ErrNotRunning, err)
	}
	if err != nil {
		return s.retryFailed(ctx, rec, spool.RetryFailure{Err: err.Error()}, nil)
	}
	entries, quarantine := s.check(r, res.Events, res.Rejects, "retry/"+rec.ID)
	switch {
	case len(quarantine) > 0:
		reasons := make([]string, len(quarantine))
		for i, q := range quarantine {
			reasons[i] = q.Code + ": " + q.Reason
		}
		who := "the connector rejected the record again"
		if quarantine[0].Origin == spool.OriginAgent {
			who = "the agent refused what the connector made of the record"
		}
		f := spool.RetryFailure{Code: quarantine[0].Code, Reason: strings.Join(reasons, "; "), Err: who}
		return s.retryFailed(ctx, rec, f, quarantine)
	case len(entries) == 0:
		return s.retryFailed(ctx, rec, spool.RetryFailure{Err: "the retry gave no event and no reject"}, nil)
	}
	if err := s.store.ResolveQuarantine(ctx, rec.ID, entries); err != nil {
		return RetryOutcome{}, fmt.Errorf("retry %s: %w", rec.ID, err)
	}
	ids := make([]string, len(entries))
	for i, e := range entries {
		if id, err := canonical.PeekIdentity(e.Event); err == nil {
			ids[i] = id.ID
		}
	}
	s.mu.Lock()
	s.st.Events += uint64(len(entries))
	s.mu.Unlock()
	s.log.Info("quarantined record retried: now events", "id", rec.ID, "ref", rec.Ref, "code", rec.Code, "events", ids)
	return RetryOutcome{Resolved: true, Events: ids}, nil
}

// retryFailed counts a failed attempt on the record.
func (s *Supervisor) retryFailed(ctx context.Context, rec spool.QuarantineRecord, f spool.RetryFailure, rejects []spool.QuarantineRecord) (RetryOutcome, error) {
	upd, err := s.store.FailQuarantineRetry(ctx, rec.ID, f)
	if err != nil {
		return RetryOutcome{}, fmt.Errorf("retry %s failed (%s), and recording it failed: %w", rec.ID, f.Err, err)
	}
	s.log.Warn("quarantined record retried: still bad", "id", rec.ID, "ref", rec.Ref, "code", upd.Code,
		"attempts", upd.Attempts, "err", f.Err)
	return RetryOutcome{Record: &upd, Rejects: rejects, Error: f.Err}, nil
}
