package dispatch

import (
	"context"
	"sync"
)

// tracker knows which of the events read are finished, and so where the
// cursor may go: the lowest sequence not yet finished. Sequences are added
// in order without gaps (the log's global sequence is gapless) and
// finished in any order. It holds at most capacity unfinished events.
type tracker struct {
	mu    sync.Mutex
	done  []bool // guarded by mu: ring; done[(head+i)%cap] is sequence base+i
	head  int    // guarded by mu
	n     int    // guarded by mu: sequences in the ring (unfinished or finished above an unfinished one)
	base  uint64 // guarded by mu: the lowest unfinished sequence (next to add when n == 0)
	space chan struct{}
}

func newTracker(start uint64, capacity int) *tracker {
	return &tracker{done: make([]bool, capacity), base: start, space: make(chan struct{}, 1)}
}

// wait blocks until the ring has room for at least atLeast sequences (at
// most its capacity), and returns how much.
func (t *tracker) wait(ctx context.Context, atLeast int) (int, error) {
	atLeast = max(1, min(atLeast, len(t.done)))
	for {
		t.mu.Lock()
		free := len(t.done) - t.n
		t.mu.Unlock()
		if free >= atLeast {
			return free, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-t.space:
		}
	}
}

// add records seq as read; it must be the next sequence, and there must be
// room (wait).
func (t *tracker) add(seq uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if seq != t.base+uint64(t.n) || t.n == len(t.done) {
		panic("dispatch: tracker.add out of order or over capacity")
	}
	t.done[(t.head+t.n)%len(t.done)] = false
	t.n++
}

// finish records seq as finished.
func (t *tracker) finish(seq uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if seq < t.base || seq >= t.base+uint64(t.n) {
		return // not tracked (cannot happen: each event is finished once)
	}
	t.done[(t.head+int(seq-t.base))%len(t.done)] = true
	moved := false
	for t.n > 0 && t.done[t.head] {
		t.done[t.head] = false
		t.head = (t.head + 1) % len(t.done)
		t.n--
		t.base++
		moved = true
	}
	if moved {
		select {
		case t.space <- struct{}{}:
		default:
		}
	}
}

// low returns the lowest unfinished sequence: the cursor.
func (t *tracker) low() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.base
}

// inFlight returns the number of events read and not finished, counting
// finished ones above the lowest unfinished.
func (t *tracker) inFlight() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}
