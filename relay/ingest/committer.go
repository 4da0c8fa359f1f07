package ingest

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/draylink/dray/internal/crashpoint"
	"github.com/draylink/dray/internal/wire"
	"github.com/draylink/dray/relay/relaylog"
)

// Store is where accepted batches go: the relay log. Append is called by one
// goroutine at a time, with the batches of many connections; it must return
// only once they are durable (fsynced), with one Result per batch in input
// order. An error means nothing of the call may be acknowledged.
// *relaylog.Log implements it.
type Store interface {
	Append(batches []*relaylog.Incoming) ([]relaylog.Result, error)
}

var _ Store = (*relaylog.Log)(nil)

// commitReq is one batch waiting for its group commit, and the PUBACK slot
// its outcome goes to.
type commitReq struct {
	sess *session
	slot *ackSlot
	in   *relaylog.Incoming
	size int // event bytes
}

// committer is the group committer: every session enqueues its batches
// here; one goroutine calls Store.Append with everything queued (up to the
// limits), then hands each outcome to its session, which releases PUBACKs in
// arrival order. While one Append runs, the next group forms. A PUBACK 0x00
// can only come from a Result returned by an Append that did not fail.
type committer struct {
	store      Store
	log        *slog.Logger
	linger     time.Duration
	maxBatches int
	maxEvents  int
	maxBytes   int
	maxQueued  int

	mu     sync.Mutex
	queue  []commitReq   // guarded by mu
	queued int           // guarded by mu: bytes queued or being committed
	space  chan struct{} // guarded by mu: closed (and replaced) when bytes are released
	closed bool          // guarded by mu

	work chan struct{} // capacity 1: wakes run
	stop chan struct{} // closed by close
	done chan struct{} // closed when run returns
	// failed receives the store's error when Append fails in a way that
	// needs the log reopened (relaylog.ErrFailed, ErrClosed).
	failed chan error
}

func newCommitter(store Store, cfg *Config, log *slog.Logger) *committer {
	return &committer{
		store:      store,
		log:        log,
		linger:     cfg.CommitInterval,
		maxBatches: cfg.MaxCommitBatches,
		maxEvents:  cfg.MaxCommitEvents,
		maxBytes:   cfg.MaxCommitBytes,
		maxQueued:  cfg.MaxQueuedBytes,
		space:      make(chan struct{}),
		work:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
		failed:     make(chan error, 1),
	}
}

// reserve waits until size bytes fit under MaxQueuedBytes (a batch always
// fits into an empty queue), or until cancel is closed. It returns whether
// the bytes were reserved; the caller must then either push or release them.
func (c *committer) reserve(size int, cancel <-chan struct{}) bool {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return false
		}
		if c.queued == 0 || c.queued+size <= c.maxQueued {
			c.queued += size
			c.mu.Unlock()
			return true
		}
		wait := c.space
		c.mu.Unlock()
		select {
		case <-wait:
		case <-cancel:
			return false
		case <-c.stop:
			return false
		}
	}
}

// release returns reserved bytes.
func (c *committer) release(size int) {
	c.mu.Lock()
	c.queued -= size
	close(c.space)
	c.space = make(chan struct{})
	c.mu.Unlock()
}

// push queues a batch whose bytes are reserved. It never blocks.
func (c *committer) push(r commitReq) {
	c.mu.Lock()
	c.queue = append(c.queue, r)
	c.mu.Unlock()
	select {
	case c.work <- struct{}{}:
	default:
	}
}

// run commits groups until close. Batches still queued at close are
// dropped unacknowledged (their sessions are gone; agents re-send).
func (c *committer) run() {
	defer close(c.done)
	for {
		select {
		case <-c.work:
		case <-c.stop:
			return
		}
		if c.linger > 0 {
			select {
			case <-time.After(c.linger):
			case <-c.stop:
				return
			}
		}
		for {
			group := c.take()
			if len(group) == 0 {
				break
			}
			c.commit(group)
			select {
			case <-c.stop:
				return
			default:
			}
		}
	}
}

// take removes the next group from the queue: as many batches as the
// limits allow, at least one.
func (c *committer) take() []commitReq {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, events, bytes := 0, 0, 0
	for n < len(c.queue) && n < c.maxBatches {
		r := c.queue[n]
		if n > 0 && (events+len(r.in.Events) > c.maxEvents || bytes+r.size > c.maxBytes) {
			break
		}
		events += len(r.in.Events)
		bytes += r.size
		n++
	}
	group := make([]commitReq, n)
	copy(group, c.queue)
	rest := copy(c.queue, c.queue[n:])
	clear(c.queue[rest:])
	c.queue = c.queue[:rest]
	return group
}

func (c *committer) commit(group []commitReq) {
	ins := make([]*relaylog.Incoming, len(group))
	size := 0
	for i, r := range group {
		ins[i] = r.in
		size += r.size
	}
	start := time.Now()
	results, err := c.store.Append(ins)
	if err == nil && len(results) != len(ins) {
		err = fmt.Errorf("store returned %d results for %d batches", len(results), len(ins))
	}
	if err != nil {
		c.log.Error("relay log append failed; nothing of the group is acknowledged",
			"batches", len(ins), "err", err)
		for _, r := range group {
			r.sess.finishCommit(r, codeUnspecifiedError, "relay log append failed; retry later", 0)
		}
		// Only now: the server closes every session when it hears of the
		// failure, and a session closed before its PUBACK is ready never
		// sends it (the writer sends the ready PUBACKs, then DISCONNECT).
		if errors.Is(err, relaylog.ErrFailed) || errors.Is(err, relaylog.ErrClosed) {
			select {
			case c.failed <- err:
			default:
			}
		}
	} else {
		c.log.Debug("group commit", "batches", len(ins), "bytes", size, "took", time.Since(start))
		crashpoint.Hit(crashpoint.RelayAfterCommit) // stored, not yet acknowledged
		for i, r := range group {
			code, why, expected := pubackFor(results[i])
			r.sess.finishCommit(r, code, why, expected)
		}
	}
	c.release(size)
}

// pubackFor maps a store outcome to a PUBACK: Stored and Duplicate are
// acknowledged (0x00); a gap is refused with 0x83 and the sequence the
// stream expects; a rejection is 0x87 when an event names another site and
// 0x99 for any other content the log refuses.
func pubackFor(r relaylog.Result) (code byte, why string, expected uint64) {
	switch r.Outcome {
	case relaylog.Stored, relaylog.Duplicate:
		return codeSuccess, "", 0
	case relaylog.Gap:
		return codeImplementationSpecific, fmt.Sprintf("sequence gap: the relay expects sequence %d next (%s)", r.Expected, wire.PropExpected), r.Expected
	case relaylog.Rejected:
		// relaylog words a foreign event as "... names site %q, batch comes
		// from %q"; TestIntegrationRejectedForeignEvent pins the mapping.
		if strings.Contains(r.Reason, "names site") {
			return codeNotAuthorized, "batch refused: " + r.Reason, 0
		}
		return codePayloadFormatInvalid, "batch refused: " + r.Reason, 0
	}
	return codeUnspecifiedError, fmt.Sprintf("unknown store outcome %d", r.Outcome), 0
}

// close stops run after the commit in progress and waits for it. Later
// reserves fail.
func (c *committer) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	close(c.stop)
	<-c.done
}
