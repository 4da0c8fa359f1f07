package uplink

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/draylink/dray/agent/spool"
)

// The scheduler is one goroutine (Run's) that owns the send state: it
// learns about commits (Spool.Notify), outcomes and connection changes (the
// outbox's events), acknowledges the spool, and fills the window.

// Window shape.
const (
	// maxQueued is how many built batches may wait for the sender. Beyond
	// it events stay in the spool and the next batch takes them all: this,
	// and a full window, is what makes batches grow under load, with no
	// fixed linger when the link is idle.
	maxQueued = 4
	// backlogSlotsDiv and backlogBytesDiv pace backlog streams: they may
	// fill the window but for 1/backlogSlotsDiv of its slots and
	// 1/backlogBytesDiv of MaxInFlightBytes, which stay free for live
	// streams. A live batch thus finds a slot at once and waits behind at
	// most that much backlog at the relay.
	backlogSlotsDiv = 4
	backlogBytesDiv = 4
	// buildsPerRound bounds the batches built before the scheduler looks at
	// outcomes and the spool again (a batch can take milliseconds to read
	// and compress).
	buildsPerRound = 2
	// switchDrain bounds how long a move back to QUIC waits for the batches
	// in flight on TCP before it closes the connection anyway.
	switchDrain = 2 * time.Second
)

func (u *Uplink) loop(ctx context.Context, probed <-chan struct{}) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		u.handleEvents(now)
		u.refresh()
		if err := u.ackSpool(); err != nil {
			return err
		}
		more, err := u.fill(now)
		if err != nil {
			return err
		}
		if u.switching && (u.inFlight == 0 || !now.Before(u.switchDeadline)) {
			u.switching = false
			u.tr.closeConn()
		}
		u.publishStatus()
		if more {
			// Outcomes and commits first, then more batches.
			select {
			case <-ctx.Done():
				return nil
			default:
				continue
			}
		}

		if wake := u.nextWake(now); !wake.IsZero() {
			timer.Reset(max(wake.Sub(now), time.Millisecond))
		} else {
			timer.Reset(time.Hour)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-u.sp.Notify():
		case <-u.out.wake:
		case <-probed:
			if u.connected && u.tr.current() == TransportTCP {
				u.switching = true
				u.switchDeadline = time.Now().Add(switchDrain)
			}
		case <-timer.C:
		}
	}
}

// handleEvents applies what the outbox reported, in order.
func (u *Uplink) handleEvents(now time.Time) {
	u.events = u.out.take(u.events[:0])
	for i := range u.events {
		ev := &u.events[i]
		switch ev.kind {
		case evUp:
			u.linkUp(ev)
		case evDown:
			u.linkDown(ev)
		case evOutcome:
			u.outcome(ev, now)
		}
		*ev = linkEvent{}
	}
}

func (u *Uplink) linkUp(ev *linkEvent) {
	u.gen = ev.gen
	u.connected = true
	u.recvMax = max(1, ev.recvMax)
	u.maxBody = 0
	if ev.maxPacket > 0 {
		// Room for the fixed header, topic and properties; the body is
		// compared before compression, which never grows it by much.
		u.maxBody = max(1, ev.maxPacket-4096)
	}
	u.resetWindow()
	u.counters.connects++
	// Tell the spool first: with a backlog it opens a new live stream,
	// which the refresh below then sees.
	u.sp.SetLinkUp(true)
	for _, s := range u.streams {
		s.reset()
	}
}

func (u *Uplink) linkDown(ev *linkEvent) {
	if ev.gen != u.gen || !u.connected {
		return
	}
	u.connected = false
	u.switching = false
	u.resetWindow()
	u.sp.SetLinkUp(false)
	for _, s := range u.streams {
		s.reset()
	}
}

func (u *Uplink) resetWindow() {
	u.inFlight, u.inFlightBytes = 0, 0
	u.backlogBatches, u.backlogBytes = 0, 0
	u.pausedUntil = time.Time{}
}

// refresh takes the spool's streams: new events, new streams, streams gone.
func (u *Uplink) refresh() {
	u.refreshes++
	resort := false
	for _, st := range u.sp.Streams() {
		s := u.streams[st.StreamID]
		if s == nil {
			s = newStream(st)
			u.streams[st.StreamID] = s
			u.order = append(u.order, s)
			resort = true
		} else {
			live, oldest := s.live, s.oldest
			s.update(st)
			resort = resort || live != s.live || !oldest.Equal(s.oldest)
		}
		s.seen = u.refreshes
	}
	// A backlog stream acknowledged to its end leaves the spool's list.
	u.order = slices.DeleteFunc(u.order, func(s *stream) bool {
		if s.seen == u.refreshes || len(s.inflight) > 0 {
			return false
		}
		delete(u.streams, s.id)
		return true
	})
	if resort {
		slices.SortStableFunc(u.order, func(a, b *stream) int {
			switch {
			case a.less(b):
				return -1
			case b.less(a):
				return 1
			}
			return 0
		})
	}
}

// ackSpool hands what the relay acknowledged to the acker.
func (u *Uplink) ackSpool() error {
	if err := u.ack.failed(); err != nil {
		return err
	}
	for _, s := range u.order {
		if s.acked > s.spoolAcked {
			u.ack.post(s.id, s.acked)
			s.spoolAcked = s.acked
		}
	}
	return nil
}

// fill hands batches to the connection while the window has room, at most
// buildsPerRound of them; more says whether it stopped for that reason.
func (u *Uplink) fill(now time.Time) (more bool, err error) {
	if !u.connected || u.switching || now.Before(u.pausedUntil) {
		return false, nil
	}
	for built := 0; u.inFlight < u.recvMax && u.inFlightBytes < u.cfg.MaxInFlightBytes && u.out.queued() < maxQueued; built++ {
		if built == buildsPerRound {
			return true, nil
		}
		s, maxEvents, maxBytes := u.pick(now)
		if s == nil {
			return false, nil
		}
		b, err := u.build(s, maxEvents, maxBytes)
		switch {
		case errors.Is(err, spool.ErrClosed):
			return false, err
		case errors.Is(err, spool.ErrAcked), errors.Is(err, spool.ErrUnknownStream):
			// Dropped by policy or gone: the next refresh says where to go on.
			s.end = s.next
			continue
		case err != nil:
			u.log.Error("reading the spool failed", "stream", s.id, "from", s.next, "err", err)
			s.failures++
			s.retryAt = now.Add(u.back.Delay(s.failures, 0))
			continue
		case b == nil:
			s.end = s.next
			continue
		}
		if !u.out.push(b) {
			return false, nil // the connection is gone; its events are queued
		}
		s.sent(b)
		u.inFlight++
		u.inFlightBytes += b.size
		if !b.live {
			u.backlogBatches++
			u.backlogBytes += b.size
		}
		u.counters.batchesSent++
	}
	return false, nil
}

// pick returns the stream that gets the next slot, and the limits of its
// batch: the first stream in priority order with events to send that is
// not backing off. Backlog streams stay within their share of the window
// and wait for room for a whole batch rather than send fragments.
func (u *Uplink) pick(now time.Time) (s *stream, maxEvents, maxBytes int) {
	backlogSlots := u.recvMax - max(1, u.recvMax/backlogSlotsDiv)
	for _, s := range u.order {
		if !s.pending() || now.Before(s.retryAt) {
			continue
		}
		maxEvents, maxBytes := s.limits(u.cfg.MaxBatchEvents, u.cfg.MaxBatchBytes)
		if u.maxBody > 0 {
			maxBytes = min(maxBytes, u.maxBody)
		}
		room := u.cfg.MaxInFlightBytes - u.inFlightBytes
		if !s.live {
			if u.backlogBatches >= max(1, backlogSlots) {
				continue
			}
			maxBytes = min(maxBytes, u.backlogByteCap())
			if room = min(room, u.backlogByteCap()-u.backlogBytes); room < maxBytes {
				continue
			}
		}
		return s, maxEvents, max(1, min(maxBytes, room))
	}
	return nil, 0, 0
}

// backlogByteCap is the share of MaxInFlightBytes backlog streams may use.
func (u *Uplink) backlogByteCap() int {
	return max(1, u.cfg.MaxInFlightBytes-u.cfg.MaxInFlightBytes/backlogBytesDiv)
}

// nextWake is when a backoff ends or a switch must stop waiting.
func (u *Uplink) nextWake(now time.Time) time.Time {
	var wake time.Time
	earlier := func(t time.Time) {
		if t.After(now) && (wake.IsZero() || t.Before(wake)) {
			wake = t
		}
	}
	earlier(u.pausedUntil)
	if u.switching {
		earlier(u.switchDeadline)
	}
	for _, s := range u.order {
		if s.pending() {
			earlier(s.retryAt)
		}
	}
	return wake
}

// publishStatus copies the scheduler's state into Status.
func (u *Uplink) publishStatus() {
	u.mu.Lock()
	defer u.mu.Unlock()
	st := &u.status
	st.Connected = u.connected
	st.Transport = ""
	st.ReceiveMaximum = 0
	if u.connected {
		st.Transport = u.tr.current()
		st.ReceiveMaximum = u.recvMax
	}
	st.InFlightBatches, st.InFlightBytes = u.inFlight, u.inFlightBytes
	st.EventsAcked = u.counters.eventsAcked
	st.BatchesSent = u.counters.batchesSent
	st.BatchesRefused = u.counters.batchesRefused
	st.Connects = u.counters.connects
	st.Streams = st.Streams[:0]
	for _, s := range u.order {
		st.Streams = append(st.Streams, s.status())
	}
}
