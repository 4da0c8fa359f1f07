package spool

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"sync"

	"github.com/dgraph-io/badger/v4"
	"github.com/draylink/dray/canonical"
)

// Spool is the agent's durable store: the events waiting for the relay and
// every source's cursor, in one Badger database. All methods are safe for
// concurrent use.
type Spool struct {
	opts  Options
	log   *slog.Logger
	db    *badger.DB
	epoch string

	reqs    chan *commitReq // unbuffered: a send succeeds only while the committer runs
	notify  chan struct{}   // capacity 1, see Notify
	kick    chan struct{}   // capacity 1, wakes the maintenance goroutine
	closing chan struct{}   // closed by Close
	wg      sync.WaitGroup  // the committer and the maintenance goroutine

	closeOnce sync.Once
	closeErr  error
	// closeMu is read-held by every call that uses the database outside the
	// owned goroutines, and write-held by Close before it closes Badger.
	closeMu sync.RWMutex
	closed  bool // guarded by closeMu

	// commitMu is held by the committer while it writes a group and by the
	// memtable flush (Badger refuses writes during it). Lock order:
	// commitMu, ackMu, mu.
	commitMu sync.Mutex
	// ackMu serialises the writers of stream heads: Ack, drops, stream
	// removal, and the memtable flush.
	ackMu sync.Mutex
	// committer-owned scratch, guarded by commitMu.
	builder blockBuilder
	// qlast is the key of the last quarantine chunk written (quarantine.go);
	// guarded by commitMu.
	qlast uint64

	mu             sync.Mutex
	lanes          [len(lanes)]lane // guarded by mu
	linkUp         bool             // guarded by mu
	linkGen        uint64           // link-up periods since Open; guarded by mu
	usage          usage            // guarded by mu
	caps           caps             // guarded by mu
	gate           intake           // guarded by mu
	reclaimable    int64            // bytes acked or dropped since the last reclaim; guarded by mu
	measureFailing bool             // guarded by mu
	stats          counters         // guarded by mu
	quarantined    map[string]int64 // records in quarantine per source; guarded by mu
}

// counters are the cumulative figures reported by Stats.
type counters struct {
	commits, appended, acked, reclaims uint64
	dropped                            map[canonical.Lane]uint64
}

// Open opens the spool in opts.Dir, creating it if the directory holds no
// spool. It refuses (ErrCorrupt) a directory whose data is damaged or
// partly missing rather than start empty. Open returns once the spool is
// ready to read; it starts the committer and the maintenance goroutine,
// which Close stops.
func Open(opts Options) (*Spool, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	opts.Policies = maps.Clone(opts.Policies)
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	m, err := readMarker(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("open spool %s: %w", opts.Dir, err)
	}
	if m.state == markerNone {
		m = marker{state: markerCreating, epoch: newEpoch()}
		if err := writeMarker(opts.Dir, m); err != nil {
			return nil, fmt.Errorf("open spool %s: write marker: %w", opts.Dir, err)
		}
	}
	if err := removeEmptyLogs(opts.Dir, opts.Logger); err != nil {
		return nil, fmt.Errorf("open spool %s: %w", opts.Dir, err)
	}
	db, err := badger.Open(badgerOptions(opts.Dir, opts.Logger))
	if err != nil {
		return nil, fmt.Errorf("open spool %s: badger: %w", opts.Dir, err)
	}
	s := &Spool{
		opts:    opts,
		log:     opts.Logger,
		db:      db,
		epoch:   m.epoch,
		reqs:    make(chan *commitReq),
		notify:  make(chan struct{}, 1),
		kick:    make(chan struct{}, 1),
		closing: make(chan struct{}),
		stats:   counters{dropped: make(map[canonical.Lane]uint64)},
	}
	s.builder.reset()
	if err := s.load(m); err != nil {
		return nil, errors.Join(fmt.Errorf("open spool %s: %w", opts.Dir, err), db.Close())
	}
	if m.state != markerReady {
		if err := writeMarker(opts.Dir, marker{state: markerReady, epoch: m.epoch}); err != nil {
			return nil, errors.Join(fmt.Errorf("open spool %s: write marker: %w", opts.Dir, err), db.Close())
		}
	}
	if _, err := freeBytes(opts.Dir); err != nil {
		s.log.Warn("spool: free space unknown; the free-disk low-water mark is off", "dir", opts.Dir, "err", err)
		s.measureFailing = true
	}
	s.measure()
	s.mu.Lock()
	// Start on the paused side of each hysteresis: a spool reopened just
	// above a mark it had hit stays paused until the resume level.
	s.caps = caps{diskLow: true, overBytes: true}
	s.evaluateLocked()
	s.mu.Unlock()

	s.wg.Add(2)
	go s.runCommitter()
	go s.runMaintenance()
	return s, nil
}

// Close stops the committer and the maintenance goroutine, waits for them
// and for the calls in progress, then closes Badger. Commits waiting for
// intake or for the committer return ErrClosed. Close is idempotent and
// returns the same error every time.
func (s *Spool) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.wg.Wait()
		s.closeMu.Lock()
		s.closed = true
		s.closeMu.Unlock()
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("close spool: %w", err)
		}
	})
	return s.closeErr
}

// enter marks the start of a call that uses the database; leave its end.
func (s *Spool) enter() error {
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return ErrClosed
	}
	return nil
}

func (s *Spool) leave() { s.closeMu.RUnlock() }

// Epoch returns the spool's epoch: 8 random bytes in hex, made when the
// spool was created and kept for its whole life. The relay scopes sequences
// by epoch.
func (s *Spool) Epoch() string { return s.epoch }

// Notify returns a channel that receives a value after commits. Signals
// coalesce: one value may stand for many commits, and the spool never
// blocks on it. The uplink waits on it when it has nothing to send.
func (s *Spool) Notify() <-chan struct{} { return s.notify }

// SetLinkUp is called by the uplink when it connects (true) and when it
// loses the relay (false). Once the link is up, a live stream with more
// than RotateAfter pending events (the outage's backlog) is retired by the
// next commit of its lane and a new live stream starts, so live events are
// not stuck behind the backlog. While the link is down no stream is
// retired, and a stream opened during a link-up period is not retired again
// in the same period: if live traffic outruns a connected link, splitting
// it further would only multiply streams.
func (s *Spool) SetLinkUp(up bool) {
	s.mu.Lock()
	if up && !s.linkUp {
		s.linkGen++
	}
	s.linkUp = up
	s.mu.Unlock()
}

// Streams returns every stream with pending events and the live stream of
// each lane (possibly empty), by lane then stream number. The uplink calls
// it to choose what to send; a backlog stream is one that is not Live.
func (s *Spool) Streams() []StreamState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.streamsLocked()
}

func (s *Spool) streamsLocked() []StreamState {
	var out []StreamState
	for i := range s.lanes {
		l := &s.lanes[i]
		live := l.live()
		for _, st := range l.streams {
			if st == live || st.pending() > 0 {
				out = append(out, st.state(st == live))
			}
		}
	}
	return out
}

// Stats returns a snapshot of the spool. Disk figures are those of the last
// measurement (every RefreshInterval) plus what was committed since.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{
		Epoch:     s.epoch,
		DiskBytes: s.usage.diskEstimate(),
		Streams:   s.streamsLocked(),
		Paused:    s.gate.paused,
		Dropped:   maps.Clone(s.stats.dropped),
		Commits:   s.stats.commits,
		Appended:  s.stats.appended,
		Acked:     s.stats.acked,
		Reclaims:  s.stats.reclaims,
	}
	if s.usage.freeKnown {
		st.FreeBytes = s.usage.freeEstimate()
	} else {
		st.FreeBytes = -1
	}
	return st
}

// Cursor returns the last cursor committed by source, or nil if it never
// committed one. The agent calls it when it (re)starts a connector.
func (s *Spool) Cursor(source string) ([]byte, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	var cur []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(cursorKey(source))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		cur, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cursor %q: %w", source, err)
	}
	if len(cur) == 0 {
		return nil, nil
	}
	return cur, nil
}

// findLocked returns the stream id names, or nil. Callers hold mu.
func (s *Spool) findLocked(id StreamID) *stream {
	if !validLane(id.Lane) {
		return nil
	}
	return s.lanes[laneIndex(id.Lane)].find(id.Stream)
}

// isLiveLocked reports whether st is the live stream of its lane.
func (s *Spool) isLiveLocked(st *stream) bool {
	return s.lanes[laneIndex(st.id.Lane)].live() == st
}

// totalPendingLocked is the number of events not yet acknowledged.
func (s *Spool) totalPendingLocked() uint64 {
	var n uint64
	for i := range s.lanes {
		for _, st := range s.lanes[i].streams {
			n += st.pending()
		}
	}
	return n
}

// signal sends on a capacity-1 channel without blocking.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
