package relaylog

import (
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// retireChunk is how many blocks one retention transaction deletes.
const retireChunk = 1000

// Sweep runs one retention pass now (the background goroutine runs one every
// Options.RetentionInterval): it deletes, oldest first, the blocks that
// every consumer has delivered (below the lowest cursor) and that were
// received more than Retention ago, then reclaims disk space. It returns
// the number of events deleted.
//
// With no consumer registered nothing is deleted: events are kept until a
// sink registers and delivers them. A relay runs without sinks only while
// it is being set up or reconfigured, and deleting then would lose events
// a sink about to be configured must still deliver; the free-space
// low-water mark (not retention) protects the disk meanwhile.
func (l *Log) Sweep() (uint64, error) {
	if err := l.enter(); err != nil {
		return 0, err
	}
	defer l.leave()
	var total uint64
	for {
		n, more, err := l.retireChunk()
		total += n
		l.counters.retired.Add(n)
		if err != nil {
			return total, fmt.Errorf("retention: %w", err)
		}
		if !more || l.stopping() {
			break
		}
	}
	// Reclaim on every pass, not only when this one deleted: the space of
	// blocks deleted earlier becomes reclaimable only once Badger has
	// flushed and compacted their tombstones.
	if err := l.reclaim(); err != nil {
		return total, fmt.Errorf("retention: reclaim: %w", err)
	}
	return total, nil
}

// retireChunk deletes up to retireChunk blocks in one transaction, with the
// new floor.
func (l *Log) retireChunk() (events uint64, more bool, err error) {
	l.retMu.Lock()
	defer l.retMu.Unlock()
	minCursor, ok := l.minCursorLocked()
	if !ok {
		return 0, false, nil
	}
	cutoff := l.opts.Now().Add(-l.opts.Retention).UnixNano()
	f := *l.floor.Load()

	txn := l.db.NewTransaction(true)
	defer txn.Discard()
	var retire [][]byte
	err = func() error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixTime}})
		defer it.Close()
		// Seek from the floor, never from the start: the deleted keys below
		// it are tombstones until compaction drops them.
		for it.Seek(timeKey(f.time, f.oldest)); it.Valid(); it.Next() {
			key := it.Item().Key()
			t, last, err := parseTimeKey(key)
			if err != nil {
				return err
			}
			if t >= cutoff || last >= minCursor {
				return nil
			}
			if len(retire) >= 2*retireChunk {
				more = true
				return nil
			}
			var first uint64
			if err := it.Item().Value(func(v []byte) error {
				first, err = parseU64("time index", v)
				return err
			}); err != nil {
				return err
			}
			if first != f.oldest || last < first {
				return fmt.Errorf("%w: time index block %d..%d after sequence %d", ErrCorrupt, first, last, f.oldest-1)
			}
			retire = append(retire, it.Item().KeyCopy(nil), blockKey(last))
			events += last - first + 1
			f = floor{oldest: last + 1, time: t}
		}
		return nil
	}()
	if err != nil || len(retire) == 0 {
		return 0, false, err
	}
	for _, k := range retire {
		if err := txn.Delete(k); err != nil {
			return 0, false, err
		}
	}
	if err := txn.Set(keyFloor, floorValue(f.oldest, f.time)); err != nil {
		return 0, false, err
	}
	if err := txn.Commit(); err != nil {
		return 0, false, err
	}
	l.floor.Store(&f)
	return events, more, nil
}

// flattenMaxLSM bounds the LSM that reclaim flattens: Flatten rewrites every
// level into the last one, which is cheap while the LSM is small (it holds
// only keys: the id index dominates at ~45 bytes per remembered event) and
// too much IO to repeat every pass once it is large. Above it, deleted
// blocks are reclaimed as Badger's own compactions bring their tombstones
// down to the block pointers.
const flattenMaxLSM = 256 << 20

// maxGCRounds bounds the value log files one pass rewrites or drops.
const maxGCRounds = 64

// reclaim gives the space of deleted blocks back to the file system.
// Deleting a block leaves a tombstone in the LSM and a dead value in the
// value log. Once a compaction merges the tombstone with the block pointer
// it covers, Badger records the dead bytes per value log file; value log GC
// then drops (or rewrites the live rest of) files that are at least half
// dead, one file per call. Flatten forces that merge for a small LSM; with
// one L0 table allowed, every memtable flush is merged into the base level
// at once anyway.
func (l *Log) reclaim() error {
	l.reclaimMu.Lock()
	defer l.reclaimMu.Unlock()
	var lsm int64
	for _, t := range l.db.Tables() {
		lsm += int64(t.OnDiskSize)
	}
	if lsm <= flattenMaxLSM {
		if err := l.db.Flatten(1); err != nil {
			return fmt.Errorf("flatten: %w", err)
		}
	}
	for range maxGCRounds {
		if l.stopping() {
			return nil
		}
		err := l.db.RunValueLogGC(0.5)
		if errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrRejected) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("value log gc: %w", err)
		}
	}
	return nil
}

func (l *Log) stopping() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

func (l *Log) retentionLoop() {
	defer l.wg.Done()
	t := time.NewTicker(l.opts.RetentionInterval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			n, err := l.Sweep()
			switch {
			case errors.Is(err, ErrClosed):
				return
			case err != nil:
				l.log.Warn("retention pass failed", "err", err, "deleted_events", n)
			case n > 0:
				l.log.Info("retention pass", "deleted_events", n, "oldest_seq", l.floor.Load().oldest)
			}
		}
	}
}
