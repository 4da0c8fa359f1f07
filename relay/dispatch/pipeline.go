package dispatch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/backoff"
	"github.com/draylink/dray/internal/crashpoint"
	"github.com/draylink/dray/relay/dlq"
	"github.com/draylink/dray/relay/relaylog"
	"github.com/draylink/dray/relay/route"
	"github.com/draylink/dray/relay/sink"
)

// item is one event on its way to the sink.
type item struct {
	entry     relaylog.Entry
	ev        *canonical.Event // nil when the event could not be decoded
	decodeErr error
	key       string // partition key
	fact      string // idempotency key ("" when the event has none)
	attempts  int
	firstAt   time.Time

	// Set by submit when fact is set: wait is the claim of the previous
	// item of the same fact in this pipeline (nil if none is unfinished);
	// claim is closed when this one finishes.
	wait  <-chan struct{}
	claim chan struct{}

	// shared is set when ev is shared with the other sinks' dispatchers
	// (Decoded): ev is then read-only and never released, and this is its
	// jq input, computed once for all of them.
	shared *route.SharedDoc

	// Set by the worker once routed.
	route *route.Route
	req   *sink.Request
}

// result is how an item finished.
type result int

const (
	delivered result = iota + 1
	duplicate
	deadLettered
	unrouted
	// factDuplicate and factConflict: not sent, another event delivered
	// the fact (idempotency key) with the same request, or another one.
	factDuplicate
	factConflict
)

// pipeline delivers items through workers, a partition key always on the
// same worker. The main delivery and each replay run one.
type pipeline struct {
	d       *Dispatcher
	workers []*worker
	// replay: a replay re-sends the events that delivered their facts.
	replay bool
	// finish is called exactly once per item that finishes (delivered,
	// duplicate, dead-lettered or unrouted); an item interrupted by stop is
	// not finished.
	finish func(it *item, r result)

	// stop is closed to stop: workers take no new item and abandon
	// retries. ctx ends in-flight requests; it is cancelled a grace
	// period after stop.
	stop   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	claimMu sync.Mutex
	claims  map[string]chan struct{} // guarded by claimMu: fact -> claim of its latest unfinished item
}

type worker struct {
	mu     sync.Mutex
	queue  []*item // guarded by mu
	closed bool    // guarded by mu: no more input; exit when empty
	wake   chan struct{}
}

func newPipeline(d *Dispatcher, workers int, replay bool, finish func(*item, result)) *pipeline {
	ctx, cancel := context.WithCancel(context.Background())
	p := &pipeline{d: d, finish: finish, replay: replay, stop: make(chan struct{}), ctx: ctx, cancel: cancel,
		claims: map[string]chan struct{}{}}
	for range workers {
		w := &worker{wake: make(chan struct{}, 1)}
		p.workers = append(p.workers, w)
		p.wg.Go(func() { p.run(w) })
	}
	return p
}

// submit queues an item on its partition's worker. Items must be submitted
// in log order: an item waits for the earlier unfinished item of its fact
// (which may be on another worker) before it is sent, so that the sink's
// record of the fact is final when it is looked at. Every wait is for an
// earlier item, so waits cannot form a cycle.
func (p *pipeline) submit(it *item) {
	if it.fact != "" {
		c := make(chan struct{})
		p.claimMu.Lock()
		if prev, ok := p.claims[it.fact]; ok {
			it.wait = prev
		}
		p.claims[it.fact] = c
		p.claimMu.Unlock()
		it.claim = c
	}
	w := p.workers[fnv32(it.key)%uint32(len(p.workers))]
	w.mu.Lock()
	w.queue = append(w.queue, it)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// closeInput lets the workers exit once their queues are empty.
func (p *pipeline) closeInput() {
	for _, w := range p.workers {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// shutdown stops the workers: no new item now, in-flight requests get
// grace to complete, then are cancelled. It returns when every worker has
// exited.
func (p *pipeline) shutdown(grace time.Duration) {
	close(p.stop)
	t := time.AfterFunc(grace, p.cancel)
	p.wg.Wait()
	t.Stop()
	p.cancel()
}

// wait returns when every worker has exited (after closeInput).
func (p *pipeline) wait() {
	p.wg.Wait()
	p.cancel()
}

func (p *pipeline) stopping() bool {
	select {
	case <-p.stop:
		return true
	default:
		return false
	}
}

// take returns up to max queued items, blocking for the first; with wait
// > 0 and fewer than max queued, it waits that long for more. It returns
// nil when the pipeline stops, or when input is closed and the queue empty.
func (w *worker) take(stop <-chan struct{}, max int, wait time.Duration) []*item {
	for {
		w.mu.Lock()
		n := len(w.queue)
		closed := w.closed
		w.mu.Unlock()
		if n > 0 {
			break
		}
		if closed {
			return nil
		}
		select {
		case <-stop:
			return nil
		case <-w.wake:
		}
	}
	if wait > 0 {
		w.mu.Lock()
		n := len(w.queue)
		w.mu.Unlock()
		if n < max {
			t := time.NewTimer(wait)
		waiting:
			for {
				select {
				case <-stop:
					t.Stop()
					return nil
				case <-t.C:
					break waiting
				case <-w.wake:
					w.mu.Lock()
					n = len(w.queue)
					w.mu.Unlock()
					if n >= max {
						t.Stop()
						break waiting
					}
				}
			}
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	n := min(len(w.queue), max)
	out := make([]*item, n)
	copy(out, w.queue)
	// Shift rather than reslice so the backing array does not grow forever.
	rest := copy(w.queue, w.queue[n:])
	clear(w.queue[rest:])
	w.queue = w.queue[:rest]
	return out
}

func (p *pipeline) run(w *worker) {
	b := p.d.cfg.Batch
	for {
		if p.stopping() {
			return
		}
		if b == nil {
			items := w.take(p.stop, 64, 0)
			if items == nil {
				return
			}
			for _, it := range items {
				if p.stopping() {
					return
				}
				p.deliverOne(it)
			}
			continue
		}
		items := w.take(p.stop, b.MaxEvents, b.MaxWait.D())
		if items == nil {
			return
		}
		p.deliverBatch(items)
	}
}

// prepare routes and renders an item. It returns false when the item is
// already finished (unrouted, or dead-lettered because it could not be
// decoded or rendered) or the pipeline stopped.
func (p *pipeline) prepare(it *item) bool {
	d := p.d
	if it.wait != nil {
		select {
		case <-it.wait:
			it.wait = nil
		case <-p.stop:
			return false
		}
	}
	if it.firstAt.IsZero() {
		it.firstAt = time.Now()
	}
	if it.ev == nil {
		p.deadLetter(it, "", nil, nil, fmt.Sprintf("undecodable event: %v", it.decodeErr))
		return false
	}
	rev := &route.Event{Seq: it.entry.Seq, Site: it.entry.Site, Received: it.entry.Received, Lane: it.entry.Lane, Event: it.ev, Shared: it.shared}
	r, err := d.table.Select(p.ctx, rev)
	if err == nil && r != nil {
		var rr *route.Request
		rr, err = r.Render(p.ctx, rev)
		if err == nil {
			it.route = r
			it.req = &sink.Request{Method: rr.Method, Path: rr.Path, Header: rr.Header, Body: rr.Body}
			return it.fact == "" || p.checkFact(it)
		}
	}
	if err != nil {
		name := ""
		if r != nil {
			name = r.Name
		}
		if p.ctx.Err() != nil {
			return false
		}
		p.deadLetter(it, name, nil, nil, err.Error())
		return false
	}
	p.done(it, unrouted)
	return false
}

func (p *pipeline) done(it *item, r result) {
	if r == delivered || r == duplicate {
		crashpoint.Hit(crashpoint.RelayAfterSinkAnswer) // the sink has it; the relay has no record yet
		p.d.recordDelivered(it)
	}
	p.finish(it, r)
	if it.claim != nil {
		close(it.claim)
		p.claimMu.Lock()
		if p.claims[it.fact] == it.claim {
			delete(p.claims, it.fact)
		}
		p.claimMu.Unlock()
		it.claim = nil
	}
	if it.ev != nil && it.shared == nil {
		canonical.Release(it.ev)
	}
	it.ev = nil
	it.req = nil
}

// deliverOne sends one event until the sink takes it or refuses it for
// good, or the pipeline stops.
func (p *pipeline) deliverOne(it *item) {
	if !p.prepare(it) {
		return
	}
	d := p.d
	for attempt := 1; ; attempt++ {
		res := d.sink.Do(p.ctx, it.req)
		it.attempts++
		switch res.Outcome {
		case sink.Done:
			p.done(it, delivered)
			return
		case sink.Duplicate:
			p.done(it, duplicate)
			return
		case sink.Dead:
			p.deadLetter(it, it.route.Name, it.req, res, reasonOf(res))
			return
		}
		d.stats.retries.Add(1)
		d.logRetry(it.entry.Seq, attempt, res)
		if p.stopping() || !backoff.Sleep(p.stop, d.policy.Delay(attempt, res.RetryAfter)) {
			return
		}
	}
}

// deliverBatch renders items and sends the routed ones in batches of at
// most MaxBytes of bodies and one event per partition key: a sink may fail
// some items of a batch and apply others, and the failed ones are retried
// before anything else of theirs, so no event overtakes an earlier one of
// its key. Events of a key already in the batch wait for the next one
// (events of other keys may go first: order is per key).
//
// An item that must wait for an earlier item of its fact on another worker
// (or in this batch) ends the batch: what is ready before it is sent first.
func (p *pipeline) deliverBatch(items []*item) {
	for len(items) > 0 && !p.stopping() {
		ready := make([]*item, 0, len(items))
		i := 0
		for ; i < len(items); i++ {
			if p.stopping() {
				return
			}
			it := items[i]
			if len(ready) > 0 && !settled(it) {
				break
			}
			if p.prepare(it) {
				ready = append(ready, it)
			}
		}
		p.sendReady(ready)
		items = items[i:]
	}
}

// settled reports whether an item need not wait for an earlier one.
func settled(it *item) bool {
	if it.wait == nil {
		return true
	}
	select {
	case <-it.wait:
		return true
	default:
		return false
	}
}

// sendReady sends prepared items in batches (deliverBatch).
func (p *pipeline) sendReady(ready []*item) {
	maxBytes := int(p.d.cfg.Batch.MaxBytes)
	keys := make(map[string]bool, len(ready))
	var batch, rest []*item
	for len(ready) > 0 && !p.stopping() {
		clear(keys)
		batch, rest = batch[:0], rest[:0]
		size := 0
		for _, it := range ready {
			if !keys[it.key] && (len(batch) == 0 || size+len(it.req.Body) <= maxBytes) {
				batch = append(batch, it)
				size += len(it.req.Body)
			} else {
				rest = append(rest, it)
			}
			keys[it.key] = true
		}
		p.sendBatch(batch)
		ready = append(ready[:0], rest...)
	}
}

func (p *pipeline) sendBatch(pending []*item) {
	d := p.d
	b := d.cfg.Batch
	for attempt := 1; len(pending) > 0; attempt++ {
		reqs := make([]*route.Request, len(pending))
		for i, it := range pending {
			reqs[i] = &route.Request{Route: it.route.Name, Method: it.req.Method, Path: it.req.Path, Header: it.req.Header, Body: it.req.Body}
		}
		body, ct, err := d.batch.Body(p.ctx, reqs)
		if err != nil {
			for _, it := range pending {
				if !p.deadLetter(it, it.route.Name, it.req, nil, err.Error()) {
					return
				}
			}
			return
		}
		h := http.Header{"Content-Type": {ct}, "Traceparent": {newTraceparent()}}
		res := d.sink.Do(p.ctx, &sink.Request{Method: batchMethod, Path: b.Path, Header: h, Body: body})
		for _, it := range pending {
			it.attempts++
		}
		d.stats.batches.Add(1)
		if res.Outcome == sink.Retry {
			d.stats.retries.Add(uint64(len(pending)))
			d.logRetry(pending[0].entry.Seq, attempt, res)
			if p.stopping() || !backoff.Sleep(p.stop, d.policy.Delay(attempt, res.RetryAfter)) {
				return
			}
			continue
		}
		results, ok, rerr := d.batch.Results(p.ctx, res.Body, len(pending))
		if !ok {
			if rerr != nil {
				d.log.Warn("batch response without usable per-item results; its status applies to every item",
					"status", res.Status, "items", len(pending), "err", rerr)
			}
			for _, it := range pending {
				if !p.finishAs(it, res.Outcome, it.req, res, reasonOf(res)) {
					return
				}
			}
			return
		}
		var again []*item
		var retryAfter time.Duration
		for i, it := range pending {
			o := sink.Classify(results[i].Status)
			if o == sink.Retry {
				again = append(again, it)
				retryAfter = max(retryAfter, res.RetryAfter)
				continue
			}
			reason := "" // a dead letter's only: not formatted for every delivery
			if !o.Finished() {
				reason = fmt.Sprintf("HTTP %d (batch item %d)", results[i].Status, i)
			}
			ir := &sink.Result{Outcome: o, Status: results[i].Status, Body: results[i].Detail}
			if !p.finishAs(it, o, it.req, ir, reason) {
				return
			}
		}
		pending = again
		if len(pending) > 0 {
			d.stats.retries.Add(uint64(len(pending)))
			if p.stopping() || !backoff.Sleep(p.stop, d.policy.Delay(attempt, retryAfter)) {
				return
			}
		}
	}
}

// finishAs finishes an item by a final outcome (not Retry).
func (p *pipeline) finishAs(it *item, o sink.Outcome, req *sink.Request, res *sink.Result, reason string) bool {
	switch o {
	case sink.Done:
		p.done(it, delivered)
	case sink.Duplicate:
		p.done(it, duplicate)
	default:
		return p.deadLetter(it, it.route.Name, req, res, reason)
	}
	return true
}

// deadLetter stores an item in the dead-letter store (retrying a failing
// store until it works or the pipeline stops) and finishes it. It returns
// false if the pipeline stopped first.
func (p *pipeline) deadLetter(it *item, routeName string, req *sink.Request, res *sink.Result, reason string) bool {
	d := p.d
	rec := d.record(it, routeName, req, res, reason)
	for attempt := 1; ; attempt++ {
		err := d.dlq.Put(rec)
		if err == nil {
			break
		}
		d.log.Error("dead-letter store write failed; retrying", "seq", it.entry.Seq, "err", err)
		if !backoff.Sleep(p.stop, d.policy.Delay(attempt, 0)) {
			return false
		}
	}
	d.log.Warn("event dead-lettered", "seq", it.entry.Seq, "route", routeName, "event_id", rec.EventID,
		"type", rec.EventType, "status", rec.Status, "reason", reason)
	p.done(it, deadLettered)
	return true
}

// record builds the dead letter of an item.
func (d *Dispatcher) record(it *item, routeName string, req *sink.Request, res *sink.Result, reason string) *dlq.Record {
	now := time.Now()
	rec := &dlq.Record{Sink: d.name, Route: routeName, Seq: it.entry.Seq, Site: it.entry.Site, Received: it.entry.Received,
		Lane: int32(it.entry.Lane), Event: it.entry.Event, Reason: reason, Attempts: it.attempts, FirstAt: it.firstAt, LastAt: now}
	if rec.FirstAt.IsZero() {
		rec.FirstAt = now
	}
	if it.ev != nil {
		rec.EventID, rec.EventType, rec.PartitionKey = it.ev.GetId(), it.ev.GetType(), it.key
	}
	if req != nil {
		rec.Request = &dlq.Request{Method: req.Method, URL: d.sink.URL(req.Path), Header: req.Header.Clone(), Body: string(req.Body)}
	}
	if res != nil {
		rec.Status = res.Status
		rec.ResponseBody = excerpt(res.Body)
	}
	return rec
}

// maxExcerpt caps the response body kept with a dead letter.
const maxExcerpt = 4096

func excerpt(b []byte) string {
	if len(b) > maxExcerpt {
		b = b[:maxExcerpt]
	}
	return string(b)
}

func reasonOf(res *sink.Result) string {
	if res.Err != nil {
		return res.Err.Error()
	}
	return fmt.Sprintf("HTTP %d", res.Status)
}

func (d *Dispatcher) logRetry(seq uint64, attempt int, res *sink.Result) {
	if attempt != 3 && attempt%20 != 0 {
		return
	}
	args := []any{"seq", seq, "attempt", attempt, "status", res.Status}
	if res.Err != nil && !errors.Is(res.Err, context.Canceled) {
		args = append(args, "err", res.Err.Error())
	}
	d.log.Warn("sink keeps failing; retrying", args...)
}

// newTraceparent starts a trace for a batch request.
func newTraceparent() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	b[16] |= 1
	return "00-" + hex.EncodeToString(b[:16]) + "-" + hex.EncodeToString(b[16:]) + "-01"
}

// fnv32 is FNV-1a: partition keys to workers.
func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}
