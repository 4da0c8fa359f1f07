package dispatch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/relay/dlq"
	"github.com/draylink/dray/relay/relaylog"
	"github.com/draylink/dray/relay/route"
	"github.com/draylink/dray/relay/sink"
)

// ReplayRequest selects what a replay re-sends.
type ReplayRequest struct {
	// Since is the start of the range: the first event the relay received
	// at or after it (relaylog.SeqAtTime).
	Since time.Time `json:"since"`
	// Until ends the range before the first event received at or after it;
	// zero: the end of the log when the replay starts.
	Until time.Time `json:"until,omitzero"`
	// Sites and Types filter the range (empty: all). Types are exact or a
	// prefix ending in "*".
	Sites []string `json:"sites,omitempty"`
	Types []string `json:"types,omitempty"`
}

// ReplayResult reports a replay.
type ReplayResult struct {
	// From and To are the sequences of the range scanned (To < From: the
	// range was empty).
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
	// Scanned events were in the range; Selected passed the site and type
	// filter and went through the sink's routes.
	Scanned  int `json:"scanned"`
	Selected int `json:"selected"`
	// What became of the selected events. Duplicates are events the sink
	// already had (409); a sink that answers 2xx to a known
	// Idempotency-Key counts them as delivered.
	Delivered    int `json:"delivered"`
	Duplicates   int `json:"duplicates"`
	DeadLettered int `json:"dead_lettered"`
	Unrouted     int `json:"unrouted"`
	// FactDuplicates and FactConflicts were not sent: another event had
	// delivered their fact (idempotency key), with the same request or
	// another one (Stats).
	FactDuplicates int `json:"fact_duplicates"`
	FactConflicts  int `json:"fact_conflicts"`
	// Interrupted is set when the replay was stopped before it finished.
	Interrupted bool `json:"interrupted,omitempty"`
}

// Replay re-sends a range of the relay log to this sink only, through the
// sink's current routes, in order per partition key, without moving the
// sink's cursor. It returns when every selected event is finished (or
// dead-lettered), or when ctx ends (Interrupted). Refusals go to the
// dead-letter store as in normal delivery.
func (d *Dispatcher) Replay(ctx context.Context, req ReplayRequest) (ReplayResult, error) {
	var res ReplayResult
	if req.Since.IsZero() {
		return res, errors.New("replay: since is required")
	}
	if !req.Until.IsZero() && !req.Until.After(req.Since) {
		return res, errors.New("replay: until must be after since")
	}
	from, err := d.rlog.SeqAtTime(req.Since)
	if err != nil {
		return res, fmt.Errorf("replay: %w", err)
	}
	to := d.rlog.LastSeq()
	if !req.Until.IsZero() {
		end, err := d.rlog.SeqAtTime(req.Until)
		if err != nil {
			return res, fmt.Errorf("replay: %w", err)
		}
		to = end - 1
	}
	res.From, res.To = from, to
	if to < from {
		return res, nil
	}
	sel := newSelector(req.Sites, req.Types)
	d.log.Info("replay started", "from", from, "to", to, "sites", req.Sites, "types", req.Types)

	var nDelivered, nDups, nDead, nUnrouted, nFactDups, nFactConflicts atomic.Int64
	window := make(chan struct{}, d.cfg.MaxInFlight)
	p := newPipeline(d, d.cfg.Workers, true, func(it *item, r result) {
		switch r {
		case delivered:
			nDelivered.Add(1)
		case duplicate:
			nDups.Add(1)
		case deadLettered:
			nDead.Add(1)
		case unrouted:
			nUnrouted.Add(1)
		case factDuplicate:
			nFactDups.Add(1)
			d.stats.factDuplicates.Add(1)
		case factConflict:
			nFactConflicts.Add(1)
			d.stats.factConflicts.Add(1)
		}
		if r == delivered || r == duplicate || r == deadLettered {
			d.stats.replayed.Add(1)
		}
		<-window
	})
	interrupted := false
	var rerr error
	var buf []relaylog.Entry
read:
	for next := from; next <= to; {
		buf, err = d.rlog.Read(next, int(min(uint64(readBatch), to-next+1)), buf[:0])
		if err != nil {
			rerr = fmt.Errorf("replay: read relay log at %d: %w", next, err)
			break
		}
		if len(buf) == 0 {
			break
		}
		for _, e := range buf {
			res.Scanned++
			it := newItem(e)
			if !sel.match(e.Site, it.ev) {
				if it.ev != nil {
					canonical.Release(it.ev)
				}
				continue
			}
			res.Selected++
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				interrupted = true
				break read
			}
			p.submit(it)
		}
		next = buf[len(buf)-1].Seq + 1
	}
	p.closeInput()
	done := make(chan struct{})
	go func() { p.wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		interrupted = true
		p.shutdown(d.grace)
		<-done
	}
	res.Delivered, res.Duplicates = int(nDelivered.Load()), int(nDups.Load())
	res.DeadLettered, res.Unrouted = int(nDead.Load()), int(nUnrouted.Load())
	res.FactDuplicates, res.FactConflicts = int(nFactDups.Load()), int(nFactConflicts.Load())
	res.Interrupted = interrupted || rerr != nil
	if err := d.flushMarks(); err != nil && rerr == nil {
		rerr = fmt.Errorf("replay: record delivered facts: %w", err)
	}
	d.log.Info("replay finished", "from", from, "to", to, "scanned", res.Scanned, "selected", res.Selected,
		"delivered", res.Delivered, "duplicates", res.Duplicates, "dead_lettered", res.DeadLettered,
		"unrouted", res.Unrouted, "fact_duplicates", res.FactDuplicates, "fact_conflicts", res.FactConflicts,
		"interrupted", res.Interrupted)
	return res, rerr
}

// selector is a replay's site and type filter.
type selector struct {
	sites    []string
	types    []string
	prefixes []string
}

func newSelector(sites, types []string) *selector {
	s := &selector{sites: sites}
	for _, t := range types {
		if p, ok := strings.CutSuffix(t, "*"); ok {
			s.prefixes = append(s.prefixes, p)
		} else {
			s.types = append(s.types, t)
		}
	}
	return s
}

func (s *selector) match(site string, ev *canonical.Event) bool {
	if len(s.sites) > 0 && !slices.Contains(s.sites, site) {
		return false
	}
	if len(s.types) == 0 && len(s.prefixes) == 0 {
		return true
	}
	if ev == nil {
		return false
	}
	t := ev.GetType()
	return slices.Contains(s.types, t) || slices.ContainsFunc(s.prefixes, func(p string) bool { return strings.HasPrefix(t, p) })
}

// Redrive outcomes.
const (
	RedriveDelivered = "delivered"
	RedriveDuplicate = "duplicate"
	RedriveDead      = "dead"
	RedriveFailed    = "failed"
	// RedriveFactDelivered: not sent, another event has delivered the
	// fact (idempotency key) to the sink since; the dead letter is removed.
	RedriveFactDelivered = "fact_delivered"
)

// ErrNoRoute is returned by Redrive when no current route of the sink takes the event.
var ErrNoRoute = errors.New("no route of the sink takes this event now")

// RedriveResult reports one redrive.
type RedriveResult struct {
	ID    string `json:"id"`
	Route string `json:"route,omitempty"`
	// Outcome is delivered or duplicate (the dead letter is removed), dead
	// (refused again: the dead letter is updated with the new response),
	// failed (the sink kept failing until the request's deadline: the dead
	// letter stays) or fact_delivered (not sent: another event delivered
	// the same fact since, see Reason; the dead letter is removed).
	Outcome  string `json:"outcome"`
	Status   int    `json:"status,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Attempts int    `json:"attempts"`
}

// Redrive sends a dead letter again, rendered by the sink's current routes
// (so a mapping fix applies), retrying retryable failures until ctx ends.
// On success it removes the dead letter and records its fact as delivered.
// A dead letter whose fact (idempotency key) another event has delivered
// since (e.g. the same shipment from another source) is not sent: it is
// removed with outcome fact_delivered.
func (d *Dispatcher) Redrive(ctx context.Context, id string) (RedriveResult, error) {
	res := RedriveResult{ID: id}
	rec, err := d.dlq.Get(d.name, id)
	if err != nil {
		return res, err
	}
	ev, err := canonical.UnmarshalBinary(rec.Event)
	if err != nil {
		return res, fmt.Errorf("redrive %s/%s: %w", d.name, id, err)
	}
	defer canonical.Release(ev)
	it := &item{entry: relaylog.Entry{Seq: rec.Seq, Site: rec.Site, Received: rec.Received, Lane: canonical.Lane(rec.Lane), Event: rec.Event},
		ev: ev, key: route.PartitionKey(ev), fact: ev.GetIdempotencyKey(), firstAt: time.Now()}
	rev := &route.Event{Seq: rec.Seq, Site: rec.Site, Received: rec.Received, Lane: canonical.Lane(rec.Lane), Event: ev}
	r, err := d.table.Select(ctx, rev)
	if err == nil && r == nil {
		return res, fmt.Errorf("redrive %s/%s: %w", d.name, id, ErrNoRoute)
	}
	var sreq *sink.Request
	if err == nil {
		res.Route = r.Name
		var rr *route.Request
		if rr, err = r.Render(ctx, rev); err == nil {
			sreq = &sink.Request{Method: rr.Method, Path: rr.Path, Header: rr.Header, Body: rr.Body}
		}
	}
	if err != nil {
		res.Outcome, res.Reason = RedriveDead, err.Error()
		name := ""
		if r != nil {
			name = r.Name
		}
		return res, d.updateDead(it, name, nil, nil, res.Reason)
	}
	if it.fact != "" {
		f, ok, err := d.delivered(it.fact)
		if err != nil {
			return res, fmt.Errorf("redrive %s/%s: %w", d.name, id, err)
		}
		gone := false
		if ok && f.EventID != ev.GetId() {
			if gone, err = d.retracted(f.EventID); err != nil {
				return res, fmt.Errorf("redrive %s/%s: %w", d.name, id, err)
			}
		}
		if ok && f.EventID != ev.GetId() && !gone {
			if _, err := d.dlq.Delete(d.name, id); err != nil && !errors.Is(err, dlq.ErrNotFound) {
				return res, fmt.Errorf("redrive %s/%s: removing the dead letter failed: %w", d.name, id, err)
			}
			res.Outcome = RedriveFactDelivered
			res.Reason = fmt.Sprintf("idempotency key %s was delivered by event %s (seq %d)", it.fact, f.EventID, f.Seq)
			d.log.Info("dead letter not redriven: its fact was delivered by another event; removed", "id", id,
				"event_id", ev.GetId(), "idempotency_key", it.fact, "delivered_by", f.EventID, "delivered_seq", f.Seq)
			return res, nil
		}
	}
	for attempt := 1; ; attempt++ {
		out := d.sink.Do(ctx, sreq)
		it.attempts++
		res.Attempts, res.Status = it.attempts, out.Status
		switch out.Outcome {
		case sink.Done, sink.Duplicate:
			res.Outcome = RedriveDelivered
			if out.Outcome == sink.Duplicate {
				res.Outcome = RedriveDuplicate
			}
			it.req = sreq
			d.recordDelivered(it)
			if err := d.flushMarks(); err != nil {
				return res, fmt.Errorf("redrive %s/%s: delivered, but recording its fact failed: %w", d.name, id, err)
			}
			if _, err := d.dlq.Delete(d.name, id); err != nil && !errors.Is(err, dlq.ErrNotFound) {
				return res, fmt.Errorf("redrive %s/%s: delivered, but removing the dead letter failed: %w", d.name, id, err)
			}
			d.stats.redriven.Add(1)
			d.log.Info("dead letter redriven", "id", id, "route", r.Name, "status", out.Status, "attempts", it.attempts)
			return res, nil
		case sink.Dead:
			res.Outcome, res.Reason = RedriveDead, reasonOf(out)
			return res, d.updateDead(it, r.Name, sreq, out, res.Reason)
		}
		delay := d.policy.Delay(attempt, out.RetryAfter)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
			res.Outcome, res.Reason = RedriveFailed, reasonOf(out)
			return res, d.updateDead(it, r.Name, sreq, out, res.Reason)
		}
		select {
		case <-ctx.Done():
			res.Outcome, res.Reason = RedriveFailed, reasonOf(out)
			return res, d.updateDead(it, r.Name, sreq, out, res.Reason)
		case <-time.After(delay):
		}
	}
}

// updateDead records a failed redrive in the dead letter.
func (d *Dispatcher) updateDead(it *item, routeName string, req *sink.Request, res *sink.Result, reason string) error {
	if err := d.dlq.Put(d.record(it, routeName, req, res, reason)); err != nil {
		return fmt.Errorf("redrive %s/%d: update dead letter: %w", d.name, it.entry.Seq, err)
	}
	return nil
}
