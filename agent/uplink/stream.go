package uplink

import (
	"slices"
	"time"

	"github.com/draylink/dray/agent/spool"
	"github.com/draylink/dray/canonical"
)

// stream is the send state of one spool stream, owned by the scheduler.
//
// Sequences below acked+1 are acknowledged by the relay; acked+1..next-1
// are in batches in flight (inflight, in send order) or acknowledged out of
// order (done); next..end-1 wait in the spool.
type stream struct {
	id      spool.StreamID
	live    bool
	oldest  time.Time // append time of the spool head (zero when empty)
	end     uint64    // the spool's Next
	dropped uint64    // the spool's DroppedThrough

	next       uint64   // next sequence to send
	acked      uint64   // last sequence acknowledged contiguously
	spoolAcked uint64   // last sequence passed to Spool.Ack
	inflight   []*batch // live (not ignored) batches awaiting a PUBACK
	done       []span   // acknowledged ranges beyond acked+1

	// Refusals: the stream waits until retryAt; failures counts refusals
	// since the last success (the backoff attempt); shrink halves the
	// batch limits after 0x95/0x97 and is undone by successes.
	retryAt  time.Time
	failures int
	shrink   int

	seen uint64 // the refresh that last saw it in Spool.Streams
}

// span is a closed range of sequences.
type span struct{ first, last uint64 }

func newStream(st spool.StreamState) *stream {
	s := &stream{id: st.StreamID, next: st.Head, acked: st.Head - 1, spoolAcked: st.Head - 1}
	s.update(st)
	return s
}

// update takes the spool's view of the stream.
func (s *stream) update(st spool.StreamState) {
	s.live = st.Live
	s.oldest = st.Oldest
	s.end = st.Next
	s.dropped = st.DroppedThrough
	if st.Head > s.acked+1 {
		// Events left the spool without our Ack: a drop policy removed
		// them. Count from the new head.
		s.acked = st.Head - 1
		s.spoolAcked = max(s.spoolAcked, s.acked)
		s.mergeDone()
	}
	if s.next < st.Head {
		s.next = st.Head
	}
}

// pending says whether the stream has events to send.
func (s *stream) pending() bool { return s.next < s.end }

// rank orders streams for the window: the operational lane before bulk;
// within a lane the live stream, then backlog streams.
func (s *stream) rank() int {
	r := 4
	switch s.id.Lane {
	case canonical.LaneOperational:
		r = 0
	case canonical.LaneBulk:
		r = 2
	}
	if !s.live {
		r++
	}
	return r
}

// less orders streams: by rank, then oldest pending event first, then
// stream number.
func (s *stream) less(t *stream) bool {
	if a, b := s.rank(), t.rank(); a != b {
		return a < b
	}
	if !s.oldest.Equal(t.oldest) {
		switch {
		case s.oldest.IsZero():
			return false
		case t.oldest.IsZero():
			return true
		}
		return s.oldest.Before(t.oldest)
	}
	return s.id.Stream < t.id.Stream
}

// sent records a batch handed to the connection.
func (s *stream) sent(b *batch) {
	s.inflight = append(s.inflight, b)
	s.next = b.last + 1
}

// ackedBatch records a PUBACK 0x00 and returns how many events became
// contiguously acknowledged.
func (s *stream) ackedBatch(b *batch) uint64 {
	if i := slices.Index(s.inflight, b); i >= 0 {
		s.inflight = slices.Delete(s.inflight, i, i+1)
	}
	s.failures = 0
	if s.shrink > 0 {
		s.shrink--
	}
	before := s.acked
	if b.last <= s.acked {
		return 0
	}
	if b.first > s.acked+1 {
		s.done = append(s.done, span{b.first, b.last})
		return 0
	}
	s.acked = b.last
	s.mergeDone()
	return s.acked - before
}

// mergeDone folds acknowledged ranges that now touch acked into it.
func (s *stream) mergeDone() {
	for merged := true; merged && len(s.done) > 0; {
		merged = false
		s.done = slices.DeleteFunc(s.done, func(r span) bool {
			switch {
			case r.last <= s.acked:
				return true
			case r.first <= s.acked+1:
				s.acked = r.last
				merged = true
				return true
			}
			return false
		})
	}
}

// goBack resends the stream from sequence from: every batch in flight
// that holds from or a later sequence is ignored from now on (it keeps its
// window slot until the relay answers it or the connection ends).
func (s *stream) goBack(from uint64) {
	from = max(from, s.acked+1)
	i := slices.IndexFunc(s.inflight, func(b *batch) bool { return b.last >= from })
	if i >= 0 {
		for _, b := range s.inflight[i:] {
			b.ignored = true
		}
		clear(s.inflight[i:])
		s.inflight = s.inflight[:i]
	}
	s.done = slices.DeleteFunc(s.done, func(r span) bool { return r.last >= from })
	s.next = from
}

// reset forgets what was in flight on a connection that ended: the next
// one sends from the first unacknowledged event.
func (s *stream) reset() {
	clear(s.inflight)
	s.inflight = s.inflight[:0]
	s.done = s.done[:0]
	s.next = s.acked + 1
	s.retryAt = time.Time{}
}

// limits returns the batch limits of the stream.
func (s *stream) limits(maxEvents, maxBytes int) (int, int) {
	return max(1, maxEvents>>s.shrink), max(1, maxBytes>>s.shrink)
}

func (s *stream) status() StreamStatus {
	return StreamStatus{
		StreamID: s.id,
		Live:     s.live,
		Acked:    s.acked,
		Next:     s.next,
		End:      s.end,
		InFlight: len(s.inflight),
		RetryAt:  s.retryAt,
	}
}
