package relaylog

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
)

// Errors.
var (
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("relay log closed")
	// ErrCorrupt marks a store that does not hold what this package wrote.
	ErrCorrupt = errors.New("relay log corrupt")
	// ErrFailed is returned by Append after a commit failed: what reached
	// the disk is unknown, so the Log must be closed and reopened, which
	// re-derives its state from the store.
	ErrFailed = errors.New("relay log failed; reopen it")
	// ErrTruncated: the sequence asked for is below the oldest retained event.
	ErrTruncated = errors.New("sequence below the oldest retained event")
	// ErrUnknownConsumer: no cursor is stored under that consumer name.
	ErrUnknownConsumer = errors.New("unknown consumer")
	// ErrTooLarge: an Append call exceeds MaxAppendBatches, MaxAppendEvents
	// or MaxAppendBytes. Nothing was written; split the call.
	ErrTooLarge = errors.New("append too large")
)

// Log is the relay log. All methods are safe for concurrent use; Append
// calls are serialised (the ingest endpoint group-commits into one call).
type Log struct {
	opts Options
	log  *slog.Logger
	db   *badger.DB
	blog *badgerLogger

	// mu is held shared by every operation and exclusively by Close.
	mu     sync.RWMutex
	closed bool // guarded by mu

	appendMu      sync.Mutex // serialises Append
	lastIndexTime int64      // guarded by appendMu: time-index time of the last block
	failed        error      // guarded by appendMu: set when a commit failed
	scratch       []byte     // guarded by appendMu: block and key arena of one call

	hwmMu sync.RWMutex
	hwm   map[streamKey]uint64 // guarded by hwmMu; written only under appendMu too

	lastSeq atomic.Uint64         // last global sequence stored
	floor   atomic.Pointer[floor] // what retention has deleted; replaced under retMu

	retMu   sync.Mutex        // serialises retention with cursor changes
	cursors map[string]uint64 // guarded by retMu

	reclaimMu sync.Mutex // serialises Flatten and value log GC

	notifyMu sync.Mutex
	notifyCh chan struct{} // guarded by notifyMu: closed at the next durable append

	counters counters

	stop    chan struct{} // closed by Close: stops the retention goroutine
	stopper sync.Once
	wg      sync.WaitGroup
}

// floor is the boundary retention has reached: every block below oldest is
// deleted, and every deleted time-index key is at or below
// timeKey(time, oldest) while every retained one is above it.
type floor struct {
	oldest uint64 // oldest retained global sequence
	time   int64  // time-index time of the last deleted block (0 if none)
}

// Open opens (or creates) the relay log in opts.Dir. A store that is not a
// relay log, was written by a newer format, or fails Badger's or the log's
// own checks refuses to open with an error wrapping ErrCorrupt or Badger's
// error.
func Open(opts Options) (*Log, error) {
	if err := opts.withDefaults(); err != nil {
		return nil, fmt.Errorf("open relay log: %w", err)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("open relay log: %w", err)
	}
	l := &Log{
		opts:     opts,
		log:      opts.Logger.With("component", "relaylog"),
		hwm:      make(map[streamKey]uint64),
		cursors:  make(map[string]uint64),
		notifyCh: make(chan struct{}),
		stop:     make(chan struct{}),
	}
	l.blog = &badgerLogger{log: l.log.With("lib", "badger")}
	if err := checkBadgerLogs(opts.Dir); err != nil {
		return nil, fmt.Errorf("open relay log %s: %w", opts.Dir, err)
	}
	db, err := badger.Open(badgerOptions(opts.Dir, l.blog, opts.memTableSize))
	if err != nil {
		return nil, fmt.Errorf("open relay log %s: badger: %w", opts.Dir, err)
	}
	l.db = db
	if err := l.load(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open relay log %s: %w", opts.Dir, err)
	}
	l.log.Info("relay log open", "dir", opts.Dir, "last_seq", l.lastSeq.Load(),
		"oldest_seq", l.floor.Load().oldest, "streams", len(l.hwm), "consumers", len(l.cursors))
	if opts.RetentionInterval > 0 {
		l.wg.Add(1)
		go l.retentionLoop()
	}
	return l, nil
}

// load checks the store and reads the state the Log keeps in memory: the
// last global sequence (from the last block key, never from a Badger
// sequence, which leases ranges), the retention floor, high-water marks and
// cursors.
func (l *Log) load() error {
	return l.db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(keyFormat)
		switch {
		case errors.Is(err, badger.ErrKeyNotFound):
			if err := checkEmpty(txn); err != nil {
				return err
			}
			if err := txn.Set(keyFormat, []byte{formatVersion}); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if len(v) != 1 || v[0] != formatVersion {
				return fmt.Errorf("%w: format version %v, this build reads %d", ErrCorrupt, v, formatVersion)
			}
		}

		oldest, floorTime := uint64(1), int64(0)
		if item, err := txn.Get(keyFloor); err == nil {
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if oldest, floorTime, err = parseFloor(v); err != nil {
				return err
			}
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}

		last := oldest - 1
		lastBlock, lastCount, found, err := lastBlock(txn)
		if err != nil {
			return err
		}
		if found {
			if lastBlock < oldest || uint64(lastCount) > lastBlock-oldest+1 {
				return fmt.Errorf("%w: last block %d (%d events) below the retention floor %d", ErrCorrupt, lastBlock, lastCount, oldest)
			}
			last = lastBlock
		}
		indexTime, indexLast, foundTime, err := lastTimeKey(txn)
		if err != nil {
			return err
		}
		if foundTime != found || found && indexLast != lastBlock {
			return fmt.Errorf("%w: time index ends at block %d, blocks at %d", ErrCorrupt, indexLast, lastBlock)
		}
		l.lastIndexTime = max(indexTime, floorTime)

		if err := l.loadHWMs(txn); err != nil {
			return err
		}
		if err := l.loadCursors(txn); err != nil {
			return err
		}
		l.lastSeq.Store(last)
		l.floor.Store(&floor{oldest: oldest, time: floorTime})
		return nil
	})
}

// checkEmpty refuses a store without a format key that holds anything.
func checkEmpty(txn *badger.Txn) error {
	it := txn.NewIterator(badger.IteratorOptions{})
	defer it.Close()
	it.Seek([]byte{0}) // an empty or foreign store: no tombstones of ours to walk over
	if it.Valid() {
		return fmt.Errorf("%w: no format key, but the store holds key %q: not a relay log", ErrCorrupt, it.Item().Key())
	}
	return nil
}

// verifyTailBytes is how much of the newest blocks Open reads back: at least
// the newest value log file, which is the one Badger replays (and
// truncates at a torn write) at open. Badger answers a read of a value it
// no longer has with an empty value and a log line, not an error; the
// blocks' own checksums turn that into ErrCorrupt here rather than at the
// first Read.
const verifyTailBytes = valueLogFileSize + MaxAppendBytes

// lastBlock returns the last block key and its event count, after checking
// the newest blocks (their checksums, and that their sequences are
// contiguous).
func lastBlock(txn *badger.Txn) (last uint64, count int, found bool, err error) {
	// Blocks are deleted from the front only, so the end has no tombstones.
	it := txn.NewIterator(badger.IteratorOptions{Reverse: true, Prefix: []byte{prefixBlock}})
	defer it.Close()
	var checked int64
	var nextFirst uint64 // first sequence of the block after the current one
	for it.Seek(blockKey(math.MaxUint64)); it.Valid() && checked < verifyTailBytes; it.Next() {
		item := it.Item()
		key, err := parseBlockKey(item.Key())
		if err != nil {
			return 0, 0, false, err
		}
		var n int
		err = item.Value(func(v []byte) error {
			h, _, err := decodeBlock(v)
			n = h.count
			checked += int64(len(v))
			return err
		})
		if err != nil {
			return 0, 0, false, fmt.Errorf("block %d: %w", key, err)
		}
		if found && key+1 != nextFirst {
			return 0, 0, false, fmt.Errorf("%w: block %d is followed by a block starting at %d", ErrCorrupt, key, nextFirst)
		}
		if !found {
			last, count, found = key, n, true
		}
		nextFirst = key - uint64(n) + 1
	}
	return last, count, found, nil
}

func lastTimeKey(txn *badger.Txn) (indexTime int64, last uint64, found bool, err error) {
	it := txn.NewIterator(badger.IteratorOptions{Reverse: true, Prefix: []byte{prefixTime}})
	defer it.Close()
	it.Seek(timeKey(-1, math.MaxUint64)) // -1: all bits set
	if !it.Valid() {
		return 0, 0, false, nil
	}
	indexTime, last, err = parseTimeKey(it.Item().Key())
	return indexTime, last, err == nil, err
}

func (l *Log) loadHWMs(txn *badger.Txn) error {
	// High-water marks are never deleted: no tombstones.
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixHWM}})
	defer it.Close()
	for it.Seek([]byte{prefixHWM}); it.Valid(); it.Next() {
		s, err := parseStreamKey(it.Item().Key())
		if err != nil {
			return err
		}
		err = it.Item().Value(func(v []byte) error {
			h, err := parseU64("high-water mark", v)
			l.hwm[s] = h
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (l *Log) loadCursors(txn *badger.Txn) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixCursor}})
	defer it.Close()
	for it.Seek([]byte{prefixCursor}); it.Valid(); it.Next() {
		name := string(it.Item().Key()[1:])
		err := it.Item().Value(func(v []byte) error {
			c, err := parseU64("cursor", v)
			l.cursors[name] = c
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Close stops the retention goroutine, waits for it and for operations in
// flight, and closes the store. It is idempotent.
func (l *Log) Close() error {
	l.mu.RLock()
	closed := l.closed
	l.mu.RUnlock()
	if closed {
		return nil
	}
	// Stop the retention goroutine before taking mu: a pass in progress
	// holds mu shared and notices stop between steps.
	l.stopOnce()
	l.wg.Wait()

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	l.notifyMu.Lock()
	close(l.notifyCh) // wake waiters; their next call returns ErrClosed
	l.notifyMu.Unlock()
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("close relay log: %w", err)
	}
	return nil
}

func (l *Log) stopOnce() { l.stopper.Do(func() { close(l.stop) }) }

// enter takes mu shared for one operation; it fails after Close.
func (l *Log) enter() error {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return ErrClosed
	}
	return nil
}

func (l *Log) leave() { l.mu.RUnlock() }
