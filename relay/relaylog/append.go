package relaylog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/draylink/dray/canonical"
)

// Append stores batches in one fsynced Badger transaction and returns one
// Result per batch, in input order. For each batch:
//
//   - The high-water mark of its stream (site, epoch, lane, stream) is the
//     highest contiguous sequence stored. Last <= hwm: Duplicate, nothing
//     written. First > hwm+1: Gap with Expected = hwm+1, unless the header
//     announces the missing sequences as dropped by the agent's policy
//     (DroppedThrough == First-1): then the batch is accepted and
//     Result.Dropped counts the gap. Otherwise events hwm+1..Last are
//     stored (an overlapping batch stores its new part; SkippedSeq counts
//     the rest) and the high-water mark becomes Last.
//   - Every event must name Incoming.Site, and the header must match the
//     events; otherwise the batch is Rejected and nothing of it is stored.
//   - An event whose id is already in the id index (a source re-read after
//     a rewind, possibly under another epoch or stream) is not stored again
//     (SkippedID); the same id twice in one call is stored once.
//   - Stored events of a batch form one block and get consecutive global
//     sequence numbers, gapless from 1 across calls and restarts.
//
// Batches of one call see each other's effects (a second batch of a stream
// sees the first one's high-water mark). Append returns after the fsync; an
// error means the caller must acknowledge nothing of the call. After a
// commit error the Log returns ErrFailed until it is reopened.
func (l *Log) Append(batches []*Incoming) ([]Result, error) {
	if err := l.enter(); err != nil {
		return nil, err
	}
	defer l.leave()
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.failed != nil {
		return nil, l.failed
	}
	if err := checkLimits(batches); err != nil {
		return nil, err
	}

	a := appendCall{
		l:        l,
		txn:      l.db.NewTransaction(true),
		now:      l.opts.Now(),
		next:     l.lastSeq.Load() + 1,
		time:     l.lastIndexTime,
		hwm:      make(map[streamKey]uint64),
		results:  make([]Result, len(batches)),
		scratch:  l.scratch[:0],
		haveHWMs: l.hwm,
	}
	defer a.txn.Discard()
	// Badger expires keys against the real clock, whatever Options.Now says.
	a.expires = uint64(time.Now().Add(l.opts.IDRetention).Unix())
	for i, b := range batches {
		if err := a.batch(&a.results[i], b); err != nil {
			return nil, fmt.Errorf("append: %w", err)
		}
	}
	if cap(a.scratch) <= maxScratch {
		l.scratch = a.scratch[:0]
	}
	if len(a.hwm) == 0 {
		l.count(a.results)
		return a.results, nil // duplicates, gaps and rejections only: nothing to write
	}
	for s, h := range a.hwm {
		if err := a.txn.Set(s.key(), u64(h)); err != nil {
			return nil, fmt.Errorf("append: %w", err)
		}
	}
	if err := a.txn.Commit(); err != nil {
		l.failed = fmt.Errorf("%w: commit: %w", ErrFailed, err)
		return nil, fmt.Errorf("append: %w", l.failed)
	}
	if l.blog.syncFailed.Load() {
		l.failed = fmt.Errorf("%w: badger reported a value log sync error", ErrFailed)
		return nil, fmt.Errorf("append: %w", l.failed)
	}

	// Durable: publish the new state.
	l.hwmMu.Lock()
	for s, h := range a.hwm {
		l.hwm[s] = h
	}
	l.hwmMu.Unlock()
	l.lastIndexTime = a.time
	stored := a.next - 1 - l.lastSeq.Load()
	l.lastSeq.Store(a.next - 1)
	l.count(a.results)
	for i, r := range a.results {
		if r.Dropped > 0 {
			b := batches[i] //nolint:gosec // results has one entry per batch
			l.log.Warn("accepted a gap announced by the agent's drop policy",
				"site", b.Site, "epoch", b.Header.Epoch, "lane", b.Header.Lane, "stream", b.Header.Stream,
				"dropped_from", b.Header.First-r.Dropped, "dropped_through", b.Header.DroppedThrough)
		}
	}
	if stored > 0 {
		l.notify()
	}
	return a.results, nil
}

func checkLimits(batches []*Incoming) error {
	if len(batches) > MaxAppendBatches {
		return fmt.Errorf("append: %w: %d batches (max %d)", ErrTooLarge, len(batches), MaxAppendBatches)
	}
	events, bytes := 0, 0
	for _, b := range batches {
		if b == nil {
			continue
		}
		events += len(b.Events)
		for _, e := range b.Events {
			bytes += len(e)
		}
	}
	if events > MaxAppendEvents || bytes > MaxAppendBytes {
		return fmt.Errorf("append: %w: %d events, %d bytes (max %d, %d)", ErrTooLarge, events, bytes, MaxAppendEvents, MaxAppendBytes)
	}
	return nil
}

// maxScratch bounds the arena kept between calls.
const maxScratch = 16 << 20

// appendCall is the state of one Append call.
type appendCall struct {
	l        *Log
	txn      *badger.Txn
	now      time.Time
	expires  uint64               // ExpiresAt of id-index keys written by this call
	next     uint64               // next global sequence
	time     int64                // time-index time of the last block written
	hwm      map[streamKey]uint64 // high-water marks changed by this call
	haveHWMs map[streamKey]uint64 // the Log's committed marks (read-only here)
	results  []Result
	scratch  []byte // arena for keys, values and blocks, reused across calls
	idents   []canonical.Identity
	keep     []int // indexes of the events of the current batch to store
}

func (a *appendCall) highWater(s streamKey) uint64 {
	if h, ok := a.hwm[s]; ok {
		return h
	}
	return a.haveHWMs[s]
}

func (a *appendCall) batch(r *Result, b *Incoming) error {
	if reason := checkBatch(b); reason != "" {
		*r = Result{Outcome: Rejected, Reason: reason}
		return nil
	}
	h := b.Header
	s := streamKey{site: b.Site, epoch: h.Epoch, lane: h.Lane, stream: h.Stream}
	hwm := a.highWater(s)
	if h.Last <= hwm {
		*r = Result{Outcome: Duplicate, SkippedSeq: len(b.Events)}
		return nil
	}
	if h.First > hwm+1 && h.DroppedThrough != h.First-1 {
		*r = Result{Outcome: Gap, Expected: hwm + 1}
		return nil
	}

	// Check every event before writing anything of the batch.
	a.idents = a.idents[:0]
	for i, e := range b.Events {
		id, err := canonical.PeekIdentity(e)
		if err != nil {
			*r = Result{Outcome: Rejected, Reason: fmt.Sprintf("event %d (sequence %d): %v", i, h.First+uint64(i), err)}
			return nil
		}
		if id.SiteID != b.Site {
			*r = Result{Outcome: Rejected, Reason: fmt.Sprintf("event %d (sequence %d, id %s) names site %q, batch comes from %q",
				i, h.First+uint64(i), id.ID, id.SiteID, b.Site)}
			return nil
		}
		a.idents = append(a.idents, id)
	}

	*r = Result{Outcome: Stored}
	start := 0
	if h.First <= hwm {
		start = int(hwm + 1 - h.First)
		r.SkippedSeq = start
	} else if h.First > hwm+1 {
		r.Dropped = h.First - 1 - hwm
	}

	// Id index: skip events already stored, index the others.
	a.keep = a.keep[:0]
	for i := start; i < len(b.Events); i++ {
		seq := a.next + uint64(len(a.keep))
		if !a.l.opts.noIDIndex {
			key := appendIDKey(a.alloc(1+max(16, len(a.idents[i].ID))), a.idents[i].ID)
			switch _, err := a.txn.Get(key); {
			case err == nil:
				r.SkippedID++
				continue
			case !errors.Is(err, badger.ErrKeyNotFound):
				return fmt.Errorf("id index: %w", err)
			}
			val := binary.BigEndian.AppendUint64(a.alloc(8), seq)
			if err := a.txn.SetEntry(&badger.Entry{Key: key, Value: val, ExpiresAt: a.expires}); err != nil {
				return fmt.Errorf("id index: %w", err)
			}
		}
		a.keep = append(a.keep, i)
	}
	a.hwm[s] = h.Last
	if len(a.keep) == 0 {
		return nil
	}

	// One block for the stored events.
	received := b.Received
	if received.IsZero() {
		received = a.now
	}
	bh := blockHeader{received: received, count: len(a.keep), stream: s, from: max(h.First, hwm+1), through: h.Last}
	n := 0
	for _, i := range a.keep {
		n += len(b.Events[i])
	}
	block := a.alloc(blockSize(&bh, n, len(a.keep)))
	block = appendBlockHeader(block, &bh)
	for _, i := range a.keep {
		block = appendBlockEvent(block, b.Events[i])
	}
	block = finishBlock(block, 0)

	first, last := a.next, a.next+uint64(len(a.keep))-1
	a.time = max(a.time, received.UnixNano(), 0)
	if err := a.txn.Set(blockKey(last), block); err != nil {
		return fmt.Errorf("block: %w", err)
	}
	if err := a.txn.Set(timeKey(a.time, last), u64(first)); err != nil {
		return fmt.Errorf("time index: %w", err)
	}
	r.Stored = len(a.keep)
	r.FirstSeq = first
	a.next = last + 1
	return nil
}

// checkBatch returns why a batch cannot be stored, or "".
func checkBatch(b *Incoming) string {
	switch h := b; {
	case h == nil:
		return "nil batch"
	case h.Site == "" || len(h.Site) > maxStreamPart:
		return fmt.Sprintf("site must be 1 to %d bytes", maxStreamPart)
	case h.Header.Epoch == "" || len(h.Header.Epoch) > maxStreamPart:
		return fmt.Sprintf("epoch must be 1 to %d bytes", maxStreamPart)
	case h.Header.First == 0 || h.Header.Last < h.Header.First:
		return fmt.Sprintf("sequence range %d..%d is empty or starts at 0", h.Header.First, h.Header.Last)
	case uint64(len(h.Events)) != h.Header.Count():
		return fmt.Sprintf("header announces %d events (%d..%d), batch has %d",
			h.Header.Count(), h.Header.First, h.Header.Last, len(h.Events))
	}
	return ""
}

// alloc returns an empty slice with capacity n from the call's arena. The
// arena is reused by the next call: Badger has copied everything by the
// time Commit returns.
func (a *appendCall) alloc(n int) []byte {
	if cap(a.scratch)-len(a.scratch) < n {
		// Earlier slices keep the old array alive until the commit.
		a.scratch = make([]byte, 0, max(n, 2*cap(a.scratch), 1<<20))
	}
	p := a.scratch[len(a.scratch) : len(a.scratch) : len(a.scratch)+n]
	a.scratch = a.scratch[:len(a.scratch)+n]
	return p
}

// HighWater returns the highest contiguous sequence stored for a stream
// (0 if none).
func (l *Log) HighWater(site, epoch string, lane canonical.Lane, stream uint32) (uint64, error) {
	if err := l.enter(); err != nil {
		return 0, err
	}
	defer l.leave()
	l.hwmMu.RLock()
	defer l.hwmMu.RUnlock()
	return l.hwm[streamKey{site: site, epoch: epoch, lane: lane, stream: stream}], nil
}
