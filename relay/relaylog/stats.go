package relaylog

import (
	"io/fs"
	"path/filepath"
	"sync/atomic"
)

// Stats describes the log.
type Stats struct {
	// LastSeq is the last global sequence stored; OldestSeq the oldest one
	// retained; Events the number retained (LastSeq - OldestSeq + 1).
	LastSeq, OldestSeq, Events uint64
	// DiskBytes is the space the store's files take on disk.
	DiskBytes int64
	// Streams is the number of (site, epoch, lane, stream) high-water
	// marks; Consumers the number of registered cursors and MinCursor the
	// lowest of them (0 without consumers: retention deletes nothing).
	Streams, Consumers int
	MinCursor          uint64

	// Counters since Open.
	Appends          uint64 // Append calls that returned results
	StoredEvents     uint64
	StoredBlocks     uint64
	DuplicateBatches uint64
	GapBatches       uint64
	RejectedBatches  uint64
	SkippedSeq       uint64 // events at or below a high-water mark
	SkippedID        uint64 // events whose id was already stored
	DroppedSeq       uint64 // sequences accepted as dropped by an agent's policy
	RetiredEvents    uint64 // events deleted by retention
}

type counters struct {
	appends, storedEvents, storedBlocks, duplicates, gaps, rejected,
	skippedSeq, skippedID, dropped, retired atomic.Uint64
}

func (l *Log) count(results []Result) {
	c := &l.counters
	c.appends.Add(1)
	for _, r := range results {
		switch r.Outcome {
		case Stored:
			c.storedEvents.Add(uint64(r.Stored))
			if r.Stored > 0 {
				c.storedBlocks.Add(1)
			}
		case Duplicate:
			c.duplicates.Add(1)
		case Gap:
			c.gaps.Add(1)
		case Rejected:
			c.rejected.Add(1)
		}
		c.skippedSeq.Add(uint64(r.SkippedSeq))
		c.skippedID.Add(uint64(r.SkippedID))
		c.dropped.Add(r.Dropped)
	}
}

// Stats returns the log's figures. It works after Close too (the last
// state, without disk usage).
func (l *Log) Stats() Stats {
	last := l.lastSeq.Load()
	oldest := l.floor.Load().oldest
	c := &l.counters
	s := Stats{
		LastSeq: last, OldestSeq: oldest, Events: last + 1 - oldest,
		Appends: c.appends.Load(), StoredEvents: c.storedEvents.Load(), StoredBlocks: c.storedBlocks.Load(),
		DuplicateBatches: c.duplicates.Load(), GapBatches: c.gaps.Load(), RejectedBatches: c.rejected.Load(),
		SkippedSeq: c.skippedSeq.Load(), SkippedID: c.skippedID.Load(), DroppedSeq: c.dropped.Load(),
		RetiredEvents: c.retired.Load(),
	}
	l.hwmMu.RLock()
	s.Streams = len(l.hwm)
	l.hwmMu.RUnlock()
	l.retMu.Lock()
	s.Consumers = len(l.cursors)
	s.MinCursor, _ = l.minCursorLocked()
	l.retMu.Unlock()
	if l.enter() == nil {
		s.DiskBytes = diskBytes(l.opts.Dir)
		l.leave()
	}
	return s
}

// diskBytes sums the space the files under dir occupy (allocated blocks
// where the platform reports them: Badger's value log and memtable files
// are sparse).
func diskBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			n += allocated(info)
		}
		return nil
	})
	return n
}
