package uplink

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/draylink/dray/agent/spool"
)

// ackInterval is the least time between two rounds of spool acks.
const ackInterval = 50 * time.Millisecond

// acker deletes what the relay acknowledged from the spool, off the
// scheduler goroutine: each Spool.Ack is an fsynced Badger transaction, and
// the scheduler must keep building batches meanwhile. Acks posted while a
// round runs or waits (ackInterval) coalesce: one Ack per stream, through
// the highest sequence. The wait costs nothing but a little spool space.
type acker struct {
	sp  *spool.Spool
	log *slog.Logger

	mu      sync.Mutex
	through map[spool.StreamID]uint64 // guarded by mu: acks not yet applied
	err     error                     // guarded by mu: the spool failed (closed)
	kick    chan struct{}
}

func newAcker(sp *spool.Spool, log *slog.Logger) *acker {
	return &acker{sp: sp, log: log, through: make(map[spool.StreamID]uint64), kick: make(chan struct{}, 1)}
}

// post asks for the stream to be acknowledged through a sequence.
func (a *acker) post(id spool.StreamID, through uint64) {
	a.mu.Lock()
	if through > a.through[id] {
		a.through[id] = through
	}
	a.mu.Unlock()
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// failed returns the error that stopped the acker, if any.
func (a *acker) failed() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// run applies acks until ctx ends, then applies what is left once: the
// relay has those events, and a restart should not send them again.
func (a *acker) run(ctx context.Context, wake chan<- struct{}) {
	for {
		select {
		case <-ctx.Done():
			_ = a.apply() // the last acks; a closed spool needs none
			return
		case <-a.kick:
		}
		select { // let acks accumulate: each round is an fsync
		case <-ctx.Done():
		case <-time.After(ackInterval):
		}
		if err := a.apply(); err != nil {
			a.mu.Lock()
			a.err = err
			a.mu.Unlock()
			select {
			case wake <- struct{}{}:
			default:
			}
			return
		}
	}
}

func (a *acker) apply() error {
	a.mu.Lock()
	todo := maps.Clone(a.through)
	clear(a.through)
	a.mu.Unlock()
	for id, through := range todo {
		err := a.sp.Ack(id, through)
		switch {
		case err == nil, errors.Is(err, spool.ErrUnknownStream):
		case errors.Is(err, spool.ErrClosed):
			return err
		default:
			// The events stay in the spool; a later ack of the stream
			// covers them. Were the uplink to restart first, it would
			// re-send them and the relay discard the duplicates.
			a.log.Error("spool ack failed", "stream", id, "through", through, "err", err)
		}
	}
	return nil
}
