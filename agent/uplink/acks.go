package uplink

import (
	"fmt"
	"time"
)

// PUBACK reason codes the uplink acts on.
const (
	codeSuccess       byte = 0x00
	codeImplSpecific  byte = 0x83 // with dray-expected: a gap in the stream
	codePacketTooBig  byte = 0x95
	codeQuotaExceeded byte = 0x97
)

func reasonCode(c byte) string { return fmt.Sprintf("0x%02X", c) }

// outcome applies the answer to one batch.
//
//   - 0x00: the relay fsynced it. The stream's contiguous acknowledgement
//     advances; the spool is acknowledged through it (ackSpool).
//   - 0x83 with dray-expected: the relay expects an earlier sequence (a
//     batch before this one was refused or lost). Go back N: resend the
//     stream from max(expected, first unacknowledged) and ignore the
//     outcomes of its batches in flight from there on.
//   - 0x97 quota exceeded: the site is over its rate. Every stream waits a
//     jittered, growing backoff; this stream re-sends from this batch, with
//     smaller batches until sends succeed again.
//   - lost (a later PUBLISH was acknowledged first): resend from it at once.
//   - anything else (0x99, 0x87, 0x90, 0x80, …): logged as an error with
//     the reason string; the stream backs off exponentially and re-sends
//     from this batch. A batch is never dropped, never skipped.
func (u *Uplink) outcome(ev *linkEvent, now time.Time) {
	b := ev.b
	if ev.gen != u.gen || b.gen != u.gen || !u.connected {
		return // the connection ended: the window was reset with it
	}
	u.inFlight--
	u.inFlightBytes -= b.size
	if !b.live {
		u.backlogBatches--
		u.backlogBytes -= b.size
	}
	if b.ignored {
		return
	}
	s := b.stream
	attrs := []any{"stream", s.id, "first", b.first, "last", b.last}
	switch {
	case ev.lost:
		u.log.Debug("batch not answered before a later one: re-sending", attrs...)
		s.goBack(b.first)

	case ev.unsent:
		u.refused(ev, now, attrs)

	case ev.code == codeSuccess:
		u.counters.eventsAcked += s.ackedBatch(b)
		u.quotaFailures = 0

	case ev.code == codeImplSpecific && ev.expected != 0:
		u.counters.batchesRefused++
		from := max(ev.expected, s.acked+1)
		switch {
		case ev.expected <= s.acked:
			// The relay lacks events it acknowledged before: they are no
			// longer in the spool. Nothing the uplink can do but say so.
			u.log.Error("relay expects events it already acknowledged; they are gone from the spool",
				append(attrs, "expected", ev.expected, "acked", s.acked, "reason", ev.reason)...)
			u.backOff(s, now)
		case from > b.first:
			u.log.Warn("relay refused a batch it should have taken; re-sending it",
				append(attrs, "expected", ev.expected, "reason", ev.reason)...)
			from = b.first
			u.backOff(s, now)
		default:
			u.log.Info("relay expects an earlier sequence: going back", append(attrs, "expected", ev.expected)...)
		}
		s.goBack(from)

	case ev.code == codeQuotaExceeded:
		u.counters.batchesRefused++
		u.quotaFailures++
		wait := u.back.Delay(u.quotaFailures, 0)
		u.pausedUntil = now.Add(wait)
		s.shrink = min(s.shrink+1, 16)
		u.log.Info("relay quota exceeded: backing off", append(attrs, "reason", ev.reason, "wait", wait)...)
		s.goBack(b.first)

	default:
		u.refused(ev, now, attrs)
	}
}

// refused handles a refusal the uplink cannot fix by itself.
func (u *Uplink) refused(ev *linkEvent, now time.Time, attrs []any) {
	b, s := ev.b, ev.b.stream
	u.counters.batchesRefused++
	if ev.code == codePacketTooBig {
		s.shrink = min(s.shrink+1, 16)
	}
	wait := u.backOff(s, now)
	code := "none"
	if !ev.unsent {
		code = reasonCode(ev.code)
	}
	u.setError(fmt.Errorf("batch %v refused: reason %s %s", b, code, ev.reason))
	u.log.Error("relay refused a batch; backing off and re-sending it",
		append(attrs, "reason_code", code, "reason", ev.reason, "retry_in", wait)...)
	s.goBack(b.first)
}

// backOff makes s wait before it sends again.
func (u *Uplink) backOff(s *stream, now time.Time) time.Duration {
	s.failures++
	wait := u.back.Delay(s.failures, 0)
	s.retryAt = now.Add(wait)
	return wait
}
