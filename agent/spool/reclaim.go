package spool

import (
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Giving disk space back. Deleting a block writes a tombstone; the space
// comes back only when
//
//  1. the memtable holding the tombstones is flushed to a level-0 table
//     (Badger offers no flush call: a DropPrefix of a scratch key does it,
//     with writes held off),
//  2. Flatten compacts the levels into one, dropping deleted keys and
//     recording how much of each value-log file they pointed to, and
//  3. value-log GC rewrites or deletes the files that are mostly garbage,
//     one file per call, until it reports ErrNoRewrite.
//
// The maintenance goroutine runs this after ReclaimAfter bytes were
// acknowledged or dropped, after a full drain, and while intake is paused on
// space. The value-log file being written is never collected, so a drained
// spool keeps up to badgerValueLogFileSize of it.

// Value-log GC rewrites a file when this share of it is garbage; under space
// pressure it settles for less.
const (
	gcDiscardRatio         = 0.5
	gcDiscardRatioPressure = 0.2
	// maxGCFiles bounds one pass (a 10 GiB spool has 640 files).
	maxGCFiles = 1024
)

// reclaimDueLocked reports whether a reclaim pass is worth running.
// Callers hold mu.
func (s *Spool) reclaimDueLocked() bool {
	switch {
	case s.reclaimable == 0:
		return false
	case s.reclaimable >= s.opts.ReclaimAfter:
		return true
	case s.underPressureLocked():
		return true
	}
	return s.totalPendingLocked() == 0
}

// underPressureLocked reports whether space is short: intake paused on space
// or the directory at its cap.
func (s *Spool) underPressureLocked() bool {
	return s.caps.diskLow || s.caps.overBytes || s.usage.diskEstimate() >= s.opts.MaxBytes
}

// reclaim runs one pass. Called by the maintenance goroutine only.
func (s *Spool) reclaim() {
	start := time.Now()
	s.mu.Lock()
	acked := s.reclaimable
	s.reclaimable = 0
	ratio := gcDiscardRatio
	if s.underPressureLocked() {
		ratio = gcDiscardRatioPressure
	}
	s.mu.Unlock()

	if err := s.flushMemtable(); err != nil {
		s.log.Error("spool: reclaim: flush memtable", "err", err)
		return
	}
	if err := s.db.Flatten(1); err != nil {
		s.log.Error("spool: reclaim: flatten", "err", err)
	}
	files := 0
	for ; files < maxGCFiles && !s.closingNow(); files++ {
		// Writes are held off for each GC call: Badger's GC reads the
		// memtable's max version without the lock its writer takes (a data
		// race in Badger v4.9.6 that -race reports).
		var err error
		s.holdWrites(func() { err = s.db.RunValueLogGC(ratio) })
		if err == nil {
			continue
		}
		if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
			s.log.Error("spool: reclaim: value-log GC", "err", err)
		}
		break
	}
	s.mu.Lock()
	s.stats.reclaims++
	s.mu.Unlock()
	s.log.Debug("spool: reclaimed", "acked_bytes", acked, "vlog_files", files, "took", time.Since(start))
}

// flushMemtable writes the memtable to a level-0 table. Badger rejects
// writes while it runs, so the committer and Ack are held off.
func (s *Spool) flushMemtable() (err error) {
	s.holdWrites(func() {
		if err = s.db.Update(func(txn *badger.Txn) error { return txn.Set(flushKey, nil) }); err != nil {
			return
		}
		err = s.db.DropPrefix(flushKey)
	})
	return err
}

// holdWrites runs fn while neither the committer nor Ack (nor drops) can
// write.
func (s *Spool) holdWrites(fn func()) {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	s.ackMu.Lock()
	defer s.ackMu.Unlock()
	fn()
}

// closingNow reports whether Close has begun.
func (s *Spool) closingNow() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}
