package spool

import (
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Cap thresholds, as fractions of the configured limit.
const (
	// Intake paused at MinFreeBytes resumes at 1.25 times it.
	freeResumeNum, freeResumeDen = 5, 4
	// Intake paused at MaxBytes resumes below 95% of it, so one reclaim
	// does not let it flap.
	bytesResumeNum, bytesResumeDen = 19, 20
	// DropOldest brings the directory down to 90% of MaxBytes.
	dropTargetNum, dropTargetDen = 9, 10
)

// caps records which limits currently stop intake. Each has its own
// hysteresis. Guarded by Spool.mu.
type caps struct {
	diskLow   bool // free space under the low-water mark
	overBytes bool // directory at MaxBytes and nothing left to drop
	overAge   bool // a Backpressure lane holds an event older than MaxAge
}

// reason is the Paused value of the caps, the most urgent first.
func (c caps) reason() Paused {
	switch {
	case c.diskLow:
		return PausedDiskLow
	case c.overBytes:
		return PausedMaxBytes
	case c.overAge:
		return PausedMaxAge
	}
	return PausedNone
}

// evaluateLocked recomputes the caps from the usage estimate and the
// streams, and opens or closes the intake gate. Callers hold mu.
func (s *Spool) evaluateLocked() {
	o := &s.opts
	c := &s.caps
	u := &s.usage
	switch {
	case !u.freeKnown:
		c.diskLow = false
	case c.diskLow:
		c.diskLow = u.freeEstimate() < o.MinFreeBytes/freeResumeDen*freeResumeNum
	default:
		c.diskLow = u.freeEstimate() < o.MinFreeBytes
	}
	disk := u.diskEstimate()
	switch {
	case s.canDropLocked():
		c.overBytes = false // the maintenance goroutine drops instead
	case c.overBytes:
		c.overBytes = disk > o.MaxBytes/bytesResumeDen*bytesResumeNum
	default:
		c.overBytes = disk >= o.MaxBytes
	}
	c.overAge = s.overAgeLocked(o.Now())

	was := s.gate.paused
	if p := c.reason(); s.gate.set(p) {
		attrs := []any{"disk_bytes", disk, "max_bytes", o.MaxBytes, "free_bytes", u.freeEstimate(), "min_free_bytes", o.MinFreeBytes}
		if p == PausedNone {
			s.log.Info("spool: intake resumed", append(attrs, "was", was)...)
		} else {
			s.log.Warn("spool: intake paused", append(attrs, "reason", p)...)
		}
	}
}

// diskLow reports whether the committer must hold back: the free space is
// under the low-water mark. The margin above the mark absorbs the group
// being written.
func (s *Spool) diskLow() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evaluateLocked()
	return s.caps.diskLow
}

// canDropLocked reports whether a DropOldest lane has events to drop.
func (s *Spool) canDropLocked() bool {
	for i, l := range lanes {
		if s.opts.policy(l) != DropOldest {
			continue
		}
		for _, st := range s.lanes[i].streams {
			if st.pending() > 0 {
				return true
			}
		}
	}
	return false
}

// needsDropLocked reports whether the directory is over MaxBytes and a
// DropOldest lane can make room.
func (s *Spool) needsDropLocked() bool {
	return s.usage.diskEstimate() >= s.opts.MaxBytes && s.canDropLocked()
}

// overAgeLocked reports whether a Backpressure lane holds an event older
// than MaxAge.
func (s *Spool) overAgeLocked(now time.Time) bool {
	if !s.opts.ageCapped() {
		return false
	}
	for i, l := range lanes {
		if s.opts.policy(l) != Backpressure {
			continue
		}
		for _, st := range s.lanes[i].streams {
			if st.pending() > 0 && now.Sub(st.oldest) >= s.opts.MaxAge {
				return true
			}
		}
	}
	return false
}

// dropCandidatesLocked returns the streams of DropOldest lanes with pending
// events, oldest first.
func (s *Spool) dropCandidatesLocked() []*stream {
	var out []*stream
	for i, l := range lanes {
		if s.opts.policy(l) != DropOldest {
			continue
		}
		for _, st := range s.lanes[i].streams {
			if st.pending() > 0 {
				out = append(out, st)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b *stream) int { return a.oldest.Compare(b.oldest) })
	return out
}

// enforceAge drops the blocks of DropOldest lanes older than MaxAge. Called
// by the maintenance goroutine.
func (s *Spool) enforceAge() {
	if !s.opts.ageCapped() {
		return
	}
	s.ackMu.Lock()
	defer s.ackMu.Unlock()
	cutoff := s.opts.Now().Add(-s.opts.MaxAge)
	s.mu.Lock()
	cands := s.dropCandidatesLocked()
	s.mu.Unlock()
	for _, st := range cands {
		s.mu.Lock()
		head, oldest := st.head, st.oldest
		s.mu.Unlock()
		if oldest.After(cutoff) {
			continue
		}
		through, ok := s.lastBlockAppendedBy(st.id, head, cutoff)
		if ok {
			s.drop(st, through, "max_age")
		}
	}
}

// lastBlockAppendedBy returns the last sequence of the last block, from the
// one holding head on, appended at or before cutoff.
func (s *Spool) lastBlockAppendedBy(id StreamID, head uint64, cutoff time.Time) (through uint64, ok bool) {
	err := s.db.View(func(txn *badger.Txn) error {
		it := blockIterator(txn, id, false)
		defer it.Close()
		for it.Seek(blockKey(id, head)); it.Valid(); it.Next() {
			last, err := blockLast(it.Item().Key())
			if err != nil {
				return err
			}
			var h blockHeader
			if err := it.Item().Value(func(v []byte) error {
				h, err = parseBlockHeader(v)
				return err
			}); err != nil {
				return err
			}
			if h.appended.After(cutoff) {
				return nil // blocks are in append order
			}
			through, ok = last, true
		}
		return nil
	})
	if err != nil {
		s.log.Error("spool: cannot scan for events older than the age cap", "stream", id, "err", err)
		return 0, false
	}
	return through, ok
}

// enforceBytes drops the oldest blocks of DropOldest lanes while the
// directory is over MaxBytes, down to 90% of it, counting on the reclaim
// that follows to give the space back. Called by the maintenance goroutine.
func (s *Spool) enforceBytes() {
	s.ackMu.Lock()
	defer s.ackMu.Unlock()
	s.mu.Lock()
	disk := s.usage.diskEstimate()
	need := disk - s.opts.MaxBytes/dropTargetDen*dropTargetNum
	cands := s.dropCandidatesLocked()
	s.mu.Unlock()
	if disk < s.opts.MaxBytes {
		return
	}
	for _, st := range cands {
		if need <= 0 {
			break
		}
		s.mu.Lock()
		head := st.head
		s.mu.Unlock()
		var through uint64
		var freed int64
		err := s.db.View(func(txn *badger.Txn) error {
			return eachBlockKey(txn, st.id, head, func(last uint64, size int64) bool {
				through, freed = last, freed+size
				return freed < need
			})
		})
		if err != nil {
			s.log.Error("spool: cannot scan for blocks to drop", "stream", st.id, "err", err)
			return
		}
		if through >= head {
			s.drop(st, through, "max_bytes")
			need -= freed
		}
	}
}

// drop removes the events of st from its head through `through` (the end of
// a block) under a drop policy: counted, logged and recorded as
// DroppedThrough. Callers hold ackMu.
func (s *Spool) drop(st *stream, through uint64, reason string) {
	s.mu.Lock()
	head := st.head
	s.mu.Unlock()
	if through < head {
		return
	}
	if err := s.advanceHead(st, through+1, true); err != nil {
		s.log.Error("spool: drop failed", "stream", st.id, "through", through, "reason", reason, "err", err)
		return
	}
	n := through + 1 - head
	s.mu.Lock()
	s.stats.dropped[st.id.Lane] += n
	s.mu.Unlock()
	s.log.Warn("spool: dropped events", "lane", st.id.Lane, "stream", st.id.Stream,
		"from", head, "through", through, "events", n, "reason", reason)
}
