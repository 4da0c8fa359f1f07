package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/backoff"
	"github.com/draylink/dray/internal/configfile"
	"github.com/draylink/dray/relay/dlq"
	"github.com/draylink/dray/relay/relaylog"
	"github.com/draylink/dray/relay/route"
	"github.com/draylink/dray/relay/sink"
)

// Sender is the part of relay/sink.Sink a dispatcher uses.
type Sender interface {
	// Do sends one request and classifies the response; it is called
	// concurrently by every worker.
	Do(ctx context.Context, req *sink.Request) *sink.Result
	// URL is the full URL of a path, for dead letters.
	URL(path string) string
}

// DeadLetters is the part of relay/dlq.Store a dispatcher uses.
type DeadLetters interface {
	Put(r *dlq.Record) error
	Get(sink, id string) (*dlq.Record, error)
	Delete(sink, id string) (*dlq.Record, error)
}

// Log is the part of relay/relaylog.Log a dispatcher uses.
type Log interface {
	Read(from uint64, maxEvents int, dst []relaylog.Entry) ([]relaylog.Entry, error)
	Notify() <-chan struct{}
	LastSeq() uint64
	SeqAtTime(t time.Time) (uint64, error)
	SetCursor(consumer string, seq uint64) error
	SetCursorMarks(consumer string, seq uint64, marks []relaylog.Mark) error
	PutMarks(consumer string, marks []relaylog.Mark) error
	GetMark(consumer, name string) ([]byte, bool, error)
	ScanMarks(consumer, prefix string, fn func(name string) error) error
	MarkRetention() time.Duration
	Cursor(consumer string) (uint64, error)
	Stats() relaylog.Stats
}

// Options configure New.
type Options struct {
	// Name is the sink's name.
	Name   string
	Config Config
	Log    Log
	// Routes are the sink's routes, in configuration order.
	Routes *route.Table
	Sink   Sender
	DLQ    DeadLetters
	Logger *slog.Logger
	// Grace is how long in-flight requests may complete at shutdown
	// (default 2s) before they are cancelled.
	Grace time.Duration
	// Decoded, when set, is shared with the other sinks' dispatchers: an
	// entry of the relay log is decoded once for all of them.
	Decoded *Decoded
}

// ConsumerName is the relay log consumer of a sink.
func ConsumerName(sink string) string { return "sink/" + sink }

// Dispatcher delivers the relay log to one sink from its own durable
// cursor. Run does the delivery; Replay and Redrive may be called while it
// runs, from any goroutine.
type Dispatcher struct {
	name     string
	consumer string
	cfg      Config
	log      *slog.Logger
	rlog     Log
	table    *route.Table
	sink     Sender
	dlq      DeadLetters
	batch    *route.Batch
	policy   backoff.Policy
	grace    time.Duration
	decoded  *Decoded
	ran      atomic.Bool

	cursor atomic.Uint64 // last cursor written
	next   atomic.Uint64 // next sequence to read
	track  atomic.Pointer[tracker]

	// marks of delivered facts not yet written; persistMu serialises
	// their writes (with the cursor, or alone after a replay).
	marks     marks
	filter    *filter
	persistMu sync.Mutex
	lastSkip  atomic.Pointer[FactSkip]

	stats struct {
		delivered, duplicates, dead, unrouted, retries, batches atomic.Uint64
		replayed, redriven                                      atomic.Uint64
		factDuplicates, factConflicts                           atomic.Uint64
	}
	delay histogram
}

// New makes a dispatcher. The configuration must be validated.
func New(o Options) (*Dispatcher, error) {
	o.Config.SetDefaults()
	if o.Name == "" || o.Log == nil || o.Routes == nil || o.Sink == nil || o.DLQ == nil {
		return nil, errors.New("dispatch: name, log, routes, sink and dead-letter store are required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Grace <= 0 {
		o.Grace = 2 * time.Second
	}
	d := &Dispatcher{
		name: o.Name, consumer: ConsumerName(o.Name), cfg: o.Config, log: o.Logger.With("sink", o.Name),
		rlog: o.Log, table: o.Routes, sink: o.Sink, dlq: o.DLQ, policy: o.Config.policy(), grace: o.Grace, decoded: o.Decoded,
		filter: newFilter(),
	}
	if b := o.Config.Batch; b != nil {
		var errs configfile.Errors
		d.batch = route.CompileBatch("batch", b.Format, b.Body, b.Results, &errs)
		if err := errs.Err(); err != nil {
			return nil, fmt.Errorf("dispatch %s: %w", o.Name, err)
		}
	}
	return d, nil
}

// Name is the sink's name.
func (d *Dispatcher) Name() string { return d.name }

// Register makes sure the sink's relay log consumer exists, so that
// retention keeps what it has not delivered from now on, and returns its
// cursor. A new consumer starts at the oldest retained event or after the
// newest (Config.StartAt). Run calls it; the relay calls it for every sink
// before it accepts events.
func (d *Dispatcher) Register() (uint64, error) {
	c, err := d.rlog.Cursor(d.consumer)
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, relaylog.ErrUnknownConsumer) {
		return 0, fmt.Errorf("dispatch %s: %w", d.name, err)
	}
	st := d.rlog.Stats()
	start := max(st.OldestSeq, 1)
	if d.cfg.StartAt == StartNewest {
		start = st.LastSeq + 1
	}
	if err := d.rlog.SetCursor(d.consumer, start); err != nil {
		return 0, fmt.Errorf("dispatch %s: register consumer: %w", d.name, err)
	}
	d.log.Info("sink registered as a relay log consumer", "consumer", d.consumer, "cursor", start)
	return start, nil
}

// readBatch is the most events one Read takes: an agent's largest batch by
// default, so that a Read decodes a relay log block about once.
const readBatch = 1024

// refillAt is how much room the in-flight window of a sink must have before
// the dispatcher reads again: a quarter of it, at most readBatch. Reading
// whenever one event finished made a backlogged single-request sink decode
// the same relay log block (CRC and copy of up to thousands of events) for
// every few events it took from it: 12 % of the relay's CPU.
func refillAt(window int) int { return max(1, min(readBatch, window/4)) }

// Run delivers from the cursor until ctx ends, then stops its workers
// (in-flight requests get Options.Grace), writes the final cursor and
// returns. Every goroutine it started has stopped when it returns. It
// returns an error only when the relay log fails.
func (d *Dispatcher) Run(ctx context.Context) error {
	if !d.ran.CompareAndSwap(false, true) {
		return errors.New("dispatch: Run called twice")
	}
	start, err := d.Register()
	if err != nil {
		return err
	}
	d.cursor.Store(start)
	d.next.Store(start)
	tr := newTracker(start, d.cfg.MaxInFlight)
	d.track.Store(tr)
	p := newPipeline(d, d.cfg.Workers, false, func(it *item, r result) {
		d.count(it, r)
		tr.finish(it.entry.Seq)
	})
	d.log.Info("dispatcher running", "cursor", start, "last_seq", d.rlog.LastSeq(), "workers", d.cfg.Workers,
		"batch", d.cfg.Batch != nil)

	var cursorWG sync.WaitGroup
	cursorCtx, stopCursor := context.WithCancel(context.Background())
	cursorWG.Go(func() { d.persistLoop(cursorCtx, tr) })
	cursorWG.Go(func() { d.loadFilter(cursorCtx) })

	runErr := d.read(ctx, tr, p, start)

	p.shutdown(d.grace)
	stopCursor()
	cursorWG.Wait()
	if err := d.persist(tr); err != nil {
		d.log.Error("write final cursor", "err", err)
		if runErr == nil {
			runErr = err
		}
	}
	d.log.Info("dispatcher stopped", "cursor", d.cursor.Load())
	return runErr
}

// read feeds the pipeline from the log until ctx ends.
func (d *Dispatcher) read(ctx context.Context, tr *tracker, p *pipeline, next uint64) error {
	var buf []relaylog.Entry
	for {
		// A full window refills by refillAt at a time, not one finished
		// event at a time: each Read decodes a whole relay log block.
		free, err := tr.wait(ctx, refillAt(d.cfg.MaxInFlight))
		if err != nil {
			return nil
		}
		notify := d.rlog.Notify()
		buf, err = d.rlog.Read(next, min(free, readBatch), buf[:0])
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, relaylog.ErrClosed) {
				return nil
			}
			return fmt.Errorf("dispatch %s: read relay log at %d: %w", d.name, next, err)
		}
		if len(buf) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-notify:
			}
			continue
		}
		for _, e := range buf {
			tr.add(e.Seq)
			p.submit(d.readItem(e))
		}
		next = buf[len(buf)-1].Seq + 1
		d.next.Store(next)
		clear(buf) // the pipeline holds the entries now
	}
}

// readItem is the item of an entry the dispatcher read, decoded once for
// every sink when the sinks share their decoding.
func (d *Dispatcher) readItem(e relaylog.Entry) *item {
	if d.decoded == nil {
		return newItem(e)
	}
	de := d.decoded.get(e)
	it := &item{entry: e, ev: de.ev, decodeErr: de.err, shared: &de.doc}
	it.setKeys()
	return it
}

// newItem decodes an entry for this dispatcher alone (its event goes back
// to the pool when the item finishes).
func newItem(e relaylog.Entry) *item {
	it := &item{entry: e}
	it.ev, it.decodeErr = canonical.UnmarshalBinary(e.Event)
	it.setKeys()
	return it
}

func (it *item) setKeys() {
	e := it.entry
	if it.ev != nil {
		it.key = route.PartitionKey(it.ev)
		it.fact = it.ev.GetIdempotencyKey()
	} else {
		it.key = fmt.Sprint(e.Seq)
	}
}

func (d *Dispatcher) count(it *item, r result) {
	switch r {
	case delivered:
		d.stats.delivered.Add(1)
	case duplicate:
		d.stats.duplicates.Add(1)
	case deadLettered:
		d.stats.dead.Add(1)
	case unrouted:
		d.stats.unrouted.Add(1)
		return
	case factDuplicate:
		d.stats.factDuplicates.Add(1)
		return
	case factConflict:
		d.stats.factConflicts.Add(1)
		return
	}
	d.delay.observe(time.Since(it.entry.Received))
}

func (d *Dispatcher) persistLoop(ctx context.Context, tr *tracker) {
	t := time.NewTicker(d.cfg.CursorInterval.D())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := d.persist(tr); err != nil && !errors.Is(err, relaylog.ErrClosed) {
				d.log.Error("write cursor", "err", err)
			}
		}
	}
}

// persist writes the cursor if it moved, with the marks of the facts
// delivered since the last write in front of it: every event below the
// cursor is finished, and the mark of each one delivered was pending when
// the cursor was taken, so it is written first.
func (d *Dispatcher) persist(tr *tracker) error {
	d.persistMu.Lock()
	defer d.persistMu.Unlock()
	c := tr.low()
	snap := d.marks.snapshot()
	if c == d.cursor.Load() && len(snap) == 0 {
		return nil
	}
	if err := d.rlog.SetCursorMarks(d.consumer, c, snap); err != nil {
		return err
	}
	d.marks.written(snap)
	d.cursor.Store(c)
	return nil
}

// Stats describe a dispatcher.
type Stats struct {
	Sink string `json:"sink"`
	// Cursor is the last cursor written: every event below it is finished.
	Cursor uint64 `json:"cursor"`
	// Next is the next sequence the dispatcher will read; LastSeq the
	// log's last. Lag is LastSeq+1-Cursor: events not yet finished.
	Next    uint64 `json:"next"`
	LastSeq uint64 `json:"last_seq"`
	Lag     uint64 `json:"lag"`
	// InFlight is the number of events read and not finished.
	InFlight int `json:"in_flight"`
	// Counters since start: events delivered (2xx), duplicates (409, or
	// delivered before a restart that left the cursor behind them),
	// dead-lettered, unrouted (no route of the sink took them); retried
	// attempts; batch requests; events replayed and redriven.
	Delivered    uint64 `json:"delivered"`
	Duplicates   uint64 `json:"duplicates"`
	DeadLettered uint64 `json:"dead_lettered"`
	Unrouted     uint64 `json:"unrouted"`
	// FactDuplicates and FactConflicts count events not sent because
	// another event had delivered their fact (idempotency key) to this
	// sink, with the same request or with a different one (a second
	// source reporting the fact differently); LastFactSkip is the latest.
	// FactRetention is how long the sink remembers a delivered fact.
	FactDuplicates uint64        `json:"fact_duplicates"`
	FactConflicts  uint64        `json:"fact_conflicts"`
	LastFactSkip   *FactSkip     `json:"last_fact_skip,omitempty"`
	FactRetention  time.Duration `json:"fact_retention"`
	Retries        uint64        `json:"retries"`
	Batches        uint64        `json:"batches"`
	Replayed       uint64        `json:"replayed"`
	Redriven       uint64        `json:"redriven"`
	// DelayP50 and DelayP99 approximate the time from the relay receiving
	// an event to the sink taking it (bucket upper bounds).
	DelayP50 time.Duration `json:"delay_p50"`
	DelayP99 time.Duration `json:"delay_p99"`
}

// Stats returns the dispatcher's figures.
func (d *Dispatcher) Stats() Stats {
	st := Stats{
		Sink: d.name, Cursor: d.cursor.Load(), Next: d.next.Load(), LastSeq: d.rlog.LastSeq(),
		Delivered: d.stats.delivered.Load(), Duplicates: d.stats.duplicates.Load(), DeadLettered: d.stats.dead.Load(),
		Unrouted: d.stats.unrouted.Load(), Retries: d.stats.retries.Load(), Batches: d.stats.batches.Load(),
		Replayed: d.stats.replayed.Load(), Redriven: d.stats.redriven.Load(),
		FactDuplicates: d.stats.factDuplicates.Load(), FactConflicts: d.stats.factConflicts.Load(),
		LastFactSkip: d.lastSkip.Load(), FactRetention: d.rlog.MarkRetention(),
		DelayP50: d.delay.quantile(0.5), DelayP99: d.delay.quantile(0.99),
	}
	if st.LastSeq+1 > st.Cursor && st.Cursor > 0 {
		st.Lag = st.LastSeq + 1 - st.Cursor
	}
	if tr := d.track.Load(); tr != nil {
		st.InFlight = tr.inFlight()
	}
	return st
}
