package spool

import (
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// maxDeletesPerTxn bounds the block deletions of one transaction, far under
// Badger's limit (about 13,000 entries with 8 MiB memtables). A variable so
// tests can make an Ack span several transactions.
var maxDeletesPerTxn = 4096

// Ack is called by the uplink when the relay acknowledged (PUBACK 0x00,
// after its fsync) every event of stream id up to and including through.
// It deletes the blocks that hold only acknowledged events and persists the
// new head in the same transaction; a block with events on both sides of
// through stays until a later Ack passes its end, and Read skips its acked
// part. Acking at or below the head again is a no-op; acking at or beyond
// Next is refused (ErrAckBeyondNext). A backlog stream acked to its end
// disappears. Ack may run concurrently with Commit and Read; calls to Ack
// are serialised.
func (s *Spool) Ack(id StreamID, through uint64) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	s.ackMu.Lock()
	defer s.ackMu.Unlock()

	s.mu.Lock()
	st := s.findLocked(id)
	var head, next uint64
	if st != nil {
		head, next = st.head, st.next
	}
	s.mu.Unlock()
	switch {
	case st == nil:
		return fmt.Errorf("ack %v: %w", id, ErrUnknownStream)
	case through < head:
		return nil
	case through >= next:
		return fmt.Errorf("ack %v through %d: %w (next is %d)", id, through, ErrAckBeyondNext, next)
	}
	if err := s.advanceHead(st, through+1, false); err != nil {
		return fmt.Errorf("ack %v through %d: %w", id, through, err)
	}
	s.mu.Lock()
	s.stats.acked += through + 1 - head
	s.evaluateLocked()
	due := s.reclaimDueLocked()
	s.mu.Unlock()
	if due {
		signal(s.kick)
	}
	return nil
}

// advanceHead moves the head of st to newHead (acknowledged, or dropped when
// drop is set) and deletes the blocks that end before it. Callers hold
// ackMu.
//
// The first transaction persists the new head with as many deletions as fit;
// if more remain, further transactions delete them and the last one records
// purged = newHead. A crash in between leaves purged < head, which Open
// finishes. A retired stream that ends up empty loses its record in the
// last transaction.
func (s *Spool) advanceHead(st *stream, newHead uint64, drop bool) error {
	s.mu.Lock()
	id := st.id
	rec := st.record()
	remove := !s.isLiveLocked(st) && newHead == st.next
	s.mu.Unlock()

	rec.head = newHead
	if drop {
		rec.dropped = newHead - 1
	}
	var freed int64
	for from, first := rec.purged, true; ; first = false {
		keys, size, more, err := s.blocksBefore(id, from, newHead, maxDeletesPerTxn)
		if err != nil {
			return err
		}
		err = s.db.Update(func(txn *badger.Txn) error {
			switch {
			case more:
				rec.purged = from
				if err := txn.Set(streamKey(id), rec.encode()); err != nil {
					return err
				}
			case remove:
				if err := txn.Delete(streamKey(id)); err != nil {
					return err
				}
			default:
				rec.purged = newHead
				if err := txn.Set(streamKey(id), rec.encode()); err != nil {
					return err
				}
			}
			for _, k := range keys {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		freed += size
		if first {
			// The new head is durable: readers must not ask for less.
			s.mu.Lock()
			st.head, st.dropped = newHead, rec.dropped
			s.mu.Unlock()
		}
		if !more {
			break
		}
		last, _ := blockLast(keys[len(keys)-1])
		from = last + 1
	}
	s.settleHead(st, freed, remove)
	return nil
}

// settleHead updates the in-memory stream after its head moved and its
// blocks were deleted.
func (s *Spool) settleHead(st *stream, freed int64, remove bool) {
	s.mu.Lock()
	st.purged = st.head
	st.bytes = max(st.bytes-freed, 0)
	s.reclaimable += freed
	if remove {
		s.lanes[laneIndex(st.id.Lane)].remove(st)
		s.mu.Unlock()
		return
	}
	head, pending := st.head, st.pending()
	if pending == 0 {
		st.bytes, st.oldest = 0, time.Time{}
	}
	s.mu.Unlock()
	if pending == 0 {
		return
	}
	var h blockHeader
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		h, _, _, err = headBlock(txn, st.id, head)
		return err
	})
	if err != nil {
		s.log.Error("spool: cannot read the head block", "stream", st.id, "head", head, "err", err)
		return
	}
	s.mu.Lock()
	if st.head == head && !h.appended.IsZero() {
		st.oldest = h.appended
	}
	s.mu.Unlock()
}
