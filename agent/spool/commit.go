package spool

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/draylink/dray/canonical"
)

// Commit limits.
const (
	// maxCommitBytes bounds the events of one Commit: one commit must fit in
	// one transaction with its cursor, and a group (at most groupBytes plus
	// one commit) must fit in the free-space margin (MinFreeBytes).
	maxCommitBytes = 4 << 20
	// groupBytes is the size at which the committer stops adding commits to
	// a group: about sixteen 256 KiB blocks, one fsync.
	groupBytes = 4 << 20
	// maxGroupRequests bounds the commits of one group, so that the cursors
	// of a flood of event-less commits stay far under Badger's entry limit.
	maxGroupRequests = 1024
	maxSourceLen     = 1 << 10
	maxCursorLen     = 64 << 10
)

// errReadmit sends a commit back to the intake gate: the committer found the
// disk too full to write its group.
var errReadmit = errors.New("readmit")

// commitReq is one Commit (or CommitBatch, or quarantine operation) call
// waiting for the committer.
type commitReq struct {
	source string
	cursor []byte
	// setCursor is false for a quarantine operation, which leaves every
	// cursor alone.
	setCursor bool
	entries   []Entry
	bytes     int // sum of the event sizes
	// quarantine is stored in the same transaction (quarantine.go);
	// qbytes is its size.
	quarantine []QuarantineRecord
	qbytes     int
	// qop resolves or updates one quarantine record in the transaction.
	qop  *quarantineOp
	done chan error // capacity 1; receives the outcome
}

// size is what the request writes: its events, cursor and quarantine.
func (r *commitReq) size() int { return r.bytes + len(r.cursor) + r.qbytes }

func newCommitReq(source string, cursor []byte, entries []Entry) (*commitReq, error) {
	if source == "" || len(source) > maxSourceLen {
		return nil, fmt.Errorf("source name must have 1 to %d bytes, has %d", maxSourceLen, len(source))
	}
	if len(cursor) > maxCursorLen {
		return nil, fmt.Errorf("cursor of %d bytes exceeds %d", len(cursor), maxCursorLen)
	}
	r := &commitReq{source: source, cursor: cursor, setCursor: true, done: make(chan error, 1)}
	if err := r.addEntries(entries); err != nil {
		return nil, err
	}
	return r, nil
}

// addEntries checks entries and adds them to the request.
func (r *commitReq) addEntries(entries []Entry) error {
	for i, e := range entries {
		if !validLane(e.Lane) {
			return fmt.Errorf("entry %d: unknown lane %v", i, e.Lane)
		}
		if len(e.Event) == 0 {
			return fmt.Errorf("entry %d: empty event", i)
		}
		r.bytes += len(e.Event)
	}
	if r.bytes > maxCommitBytes {
		return fmt.Errorf("%w: %d bytes of events, limit %d", ErrCommitTooLarge, r.bytes, maxCommitBytes)
	}
	r.entries = entries
	return nil
}

// Commit appends entries and stores source's cursor in one fsynced Badger
// transaction: after a crash either both are there or neither. The
// connector pipeline calls it once per batch read from a source; calls for
// different sources may run concurrently and are group-committed (one Badger
// transaction and one fsync for all the calls waiting), while the calls of
// one source must be sequential for "last cursor" to mean anything. Entries
// of one call keep their order within their lane. The slices passed must
// not change until Commit returns.
//
// Commit blocks while intake is paused (Stats.Paused: a cap or low disk)
// until the spool has room again, ctx ends (a *PausedError wrapping
// ctx.Err()) or the spool closes (ErrClosed). Once the committer took the
// call, Commit waits for the transaction whatever ctx does, so an error
// always means "not committed". It returns once the transaction is durable.
// A nil or empty cursor is stored as "no cursor". Commit with no entries
// stores the cursor alone.
func (s *Spool) Commit(ctx context.Context, source string, cursor []byte, entries []Entry) error {
	req, err := newCommitReq(source, cursor, entries)
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return s.submit(ctx, req)
}

// submit hands a request to the committer once intake is open and waits for
// its transaction.
func (s *Spool) submit(ctx context.Context, req *commitReq) error {
	for {
		if err := s.admit(ctx); err != nil {
			return err
		}
		select {
		case s.reqs <- req:
		case <-ctx.Done():
			return fmt.Errorf("commit: %w", ctx.Err())
		case <-s.closing:
			return ErrClosed
		}
		err := <-req.done
		if errors.Is(err, errReadmit) {
			continue
		}
		return err
	}
}

// runCommitter is the only goroutine that appends: it takes the first
// waiting commit, every other commit already waiting (up to groupBytes), and
// writes them as one group. Owned by the Spool; stops on Close.
func (s *Spool) runCommitter() {
	defer s.wg.Done()
	var group []*commitReq
	for {
		select {
		case <-s.closing:
			return
		case req := <-s.reqs:
			group = append(group[:0], req)
			size := req.size()
			// Let the callers woken by the previous group reach their send:
			// on a small machine they are runnable but not yet running.
			runtime.Gosched()
		more:
			for size < groupBytes && len(group) < maxGroupRequests {
				select {
				case r := <-s.reqs:
					group = append(group, r)
					size += r.size()
				default:
					break more
				}
			}
			s.commitGroup(group, size)
			clear(group)
		}
	}
}

// commitGroup writes a group, answering every request in it.
func (s *Spool) commitGroup(group []*commitReq, size int) {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if s.diskLow() {
		for _, r := range group {
			r.done <- errReadmit
		}
		return
	}
	group = s.checkQuarantineOps(group)
	if len(group) == 0 {
		return
	}
	s.commitChunks(group)
	signal(s.notify)
}

// commitChunks writes reqs in one transaction, or, when Badger finds it too
// big, in two halves (each its own transaction and fsync). A request is
// never split: its events and cursor stay in one transaction.
func (s *Spool) commitChunks(reqs []*commitReq) {
	err := s.commitChunk(reqs)
	if errors.Is(err, badger.ErrTxnTooBig) && len(reqs) > 1 {
		mid := len(reqs) / 2
		s.commitChunks(reqs[:mid])
		s.commitChunks(reqs[mid:])
		return
	}
	if errors.Is(err, badger.ErrTxnTooBig) {
		err = ErrCommitTooLarge
	}
	if err != nil {
		err = fmt.Errorf("commit: %w", err)
	}
	for _, r := range reqs {
		r.done <- err
	}
}

// laneAppend is what one transaction appends to one lane.
type laneAppend struct {
	st     *stream // the live stream appended to, or the one retired by rotate
	rotate bool    // the transaction opens stream st.id.Stream+1
	id     StreamID
	first  uint64 // sequence of the first event appended
	next   uint64 // next sequence after the transaction
	bytes  int64
}

// commitChunk writes reqs as one transaction and, once it is durable,
// updates the streams. Callers hold commitMu.
func (s *Spool) commitChunk(reqs []*commitReq) error {
	now := s.opts.Now().Round(0) // wall clock only, as stored in the block
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	s.builder.reset()

	var appends [len(lanes)]laneAppend
	var events uint64
	for li, l := range lanes {
		a := &appends[li]
		if !hasLane(reqs, l) {
			continue
		}
		s.mu.Lock()
		a.st = s.lanes[li].live()
		a.id, a.first = a.st.id, a.st.next
		a.rotate = s.linkUp && a.st.linkGen < s.linkGen && a.st.pending() > s.opts.RotateAfter
		s.mu.Unlock()
		if a.rotate {
			a.id.Stream++
			a.first = 1
			if err := txn.Set(streamKey(a.id), streamRecord{head: 1, purged: 1}.encode()); err != nil {
				return err
			}
		}
		a.next = a.first
		flush := func() error {
			blk, n := s.builder.close()
			a.next += uint64(n)
			a.bytes += int64(len(blk))
			return txn.SetEntry(badger.NewEntry(blockKey(a.id, a.next-1), blk))
		}
		for _, r := range reqs {
			for _, e := range r.entries {
				if e.Lane != l {
					continue
				}
				if s.builder.isOpen() && !s.builder.fits(len(e.Event)) {
					if err := flush(); err != nil {
						return err
					}
				}
				if !s.builder.isOpen() {
					s.builder.open(now)
				}
				s.builder.add(e.Event)
			}
		}
		if err := flush(); err != nil {
			return err
		}
		events += a.next - a.first
	}
	// The last cursor of each source wins: requests are in arrival order.
	cursors := make(map[string][]byte, len(reqs))
	for _, r := range reqs {
		if r.setCursor {
			cursors[r.source] = r.cursor
		}
	}
	for src, cur := range cursors {
		if err := txn.Set(cursorKey(src), cur); err != nil {
			return err
		}
	}
	counts, err := s.writeQuarantine(txn, reqs, now)
	if err != nil {
		return err
	}
	if err := txn.Commit(); err != nil {
		return err
	}
	s.applyCommit(appends[:], events, now)
	s.applyQuarantine(counts)
	return nil
}

func hasLane(reqs []*commitReq, l canonical.Lane) bool {
	for _, r := range reqs {
		for _, e := range r.entries {
			if e.Lane == l {
				return true
			}
		}
	}
	return false
}

// applyCommit records a durable transaction in the streams.
func (s *Spool) applyCommit(appends []laneAppend, events uint64, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var written int64
	for li := range appends {
		a := &appends[li]
		if a.st == nil {
			continue
		}
		st := a.st
		if a.rotate {
			st = &stream{id: a.id, head: 1, next: 1, purged: 1, linkGen: s.linkGen}
			s.lanes[li].streams = append(s.lanes[li].streams, st)
			s.log.Info("spool: stream retired; new live stream", "lane", a.id.Lane,
				"retired", a.st.id.Stream, "backlog", a.st.pending(), "live", a.id.Stream)
		}
		if st.pending() == 0 {
			st.oldest = now
		}
		st.next = a.next
		st.bytes += a.bytes
		written += a.bytes
	}
	s.stats.commits++
	s.stats.appended += events
	s.usage.written += written
	s.evaluateLocked()
	if s.needsDropLocked() {
		signal(s.kick)
	}
}
