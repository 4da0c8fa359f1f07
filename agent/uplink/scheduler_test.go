package uplink

import (
	"testing"
	"time"

	"github.com/draylink/dray/agent/spool"
	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/wire"
	"github.com/eclipse/paho.golang/packets"
)

// schedTest is an Uplink whose scheduler is driven by hand: batches are
// made up and outcomes posted as the outbox would.
type schedTest struct {
	t *testing.T
	u *Uplink
	s *stream
}

func newSchedTest(t *testing.T) *schedTest {
	codec, err := wire.NewCodec(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(codec.Close)
	u, err := New(Config{Site: testSite, QUICAddr: "127.0.0.1:1", TLS: clientTLS(t), Logger: testLogger(t),
		BackoffMin: time.Second, BackoffMax: 10 * time.Second}, openSpool(t), codec)
	if err != nil {
		t.Fatal(err)
	}
	u.linkUp(&linkEvent{kind: evUp, gen: 1, recvMax: 100})
	s := &stream{id: spool.StreamID{Lane: canonical.LaneOperational, Stream: 1}, live: true, next: 1, end: 1000}
	u.streams[s.id] = s
	u.order = append(u.order, s)
	return &schedTest{t: t, u: u, s: s}
}

// send puts a batch of n events in flight.
func (st *schedTest) send(n uint64) *batch {
	s := st.s
	b := &batch{stream: s, first: s.next, last: s.next + n - 1, size: int(n) * 100, live: true, gen: st.u.gen}
	s.sent(b)
	st.u.inFlight++
	st.u.inFlightBytes += b.size
	return b
}

func (st *schedTest) answer(b *batch, code byte, expected uint64) {
	st.u.outcome(&linkEvent{kind: evOutcome, gen: st.u.gen, b: b, code: code, expected: expected}, time.Now())
}

func (st *schedTest) check(acked, next uint64, inflight int) {
	st.t.Helper()
	if st.s.acked != acked || st.s.next != next || len(st.s.inflight) != inflight {
		st.t.Fatalf("acked %d, next %d, %d live batches in flight; want %d, %d, %d",
			st.s.acked, st.s.next, len(st.s.inflight), acked, next, inflight)
	}
}

func TestAckContiguous(t *testing.T) {
	st := newSchedTest(t)
	b1, b2, b3 := st.send(10), st.send(10), st.send(10)
	st.answer(b2, codeSuccess, 0) // out of order: nothing is contiguous yet
	st.check(0, 31, 2)
	st.answer(b1, codeSuccess, 0)
	st.check(20, 31, 1)
	st.answer(b3, codeSuccess, 0)
	st.check(30, 31, 0)
	if st.u.counters.eventsAcked != 30 || st.u.inFlight != 0 || st.u.inFlightBytes != 0 {
		t.Fatalf("acked %d events, window %d/%d; want 30, 0/0", st.u.counters.eventsAcked, st.u.inFlight, st.u.inFlightBytes)
	}
}

func TestGoBackOnGap(t *testing.T) {
	st := newSchedTest(t)
	b1, b2, b3 := st.send(10), st.send(10), st.send(10)
	st.answer(b1, codeSuccess, 0)
	// The relay lost b2's predecessor state somehow and expects 11 at b2:
	// resend from 11; b3's outcome no longer counts, whatever it is.
	st.answer(b2, codeImplSpecific, 11)
	st.check(10, 11, 0)
	if !b3.ignored {
		t.Fatal("the batch after the gap is not ignored")
	}
	st.answer(b3, codeSuccess, 0)
	st.check(10, 11, 0)
	if st.u.inFlight != 0 {
		t.Fatalf("window holds %d batches; ignored batches must release their slot when answered", st.u.inFlight)
	}
	if !st.s.retryAt.IsZero() {
		t.Fatal("a gap refusal must not back off")
	}
}

func TestGoBackNeverBelowAcked(t *testing.T) {
	st := newSchedTest(t)
	b1, b2 := st.send(10), st.send(10)
	st.answer(b1, codeSuccess, 0)
	st.answer(b2, codeImplSpecific, 5) // expects what it acknowledged: cannot go below 11
	st.check(10, 11, 0)
	if st.s.retryAt.IsZero() {
		t.Fatal("an impossible expectation must back off")
	}
}

func TestQuotaPausesTheSite(t *testing.T) {
	st := newSchedTest(t)
	b1, b2 := st.send(100), st.send(100)
	st.answer(b1, codeQuotaExceeded, 0)
	st.check(0, 1, 0)
	if !b2.ignored || !st.u.pausedUntil.After(time.Now()) || st.s.shrink != 1 {
		t.Fatalf("ignored %v, paused until %v, shrink %d", b2.ignored, st.u.pausedUntil, st.s.shrink)
	}
	if _, err := st.u.fill(time.Now()); err != nil || st.u.inFlight != 1 {
		t.Fatalf("fill during the pause: %v, %d in flight; want nothing sent", err, st.u.inFlight)
	}
}

func TestOtherRefusalBacksOff(t *testing.T) {
	st := newSchedTest(t)
	b1, b2 := st.send(10), st.send(10)
	st.answer(b1, codeSuccess, 0)
	st.answer(b2, 0x99, 0)
	st.check(10, 11, 0)
	if st.s.failures != 1 || st.s.retryAt.Before(time.Now().Add(400*time.Millisecond)) {
		t.Fatalf("failures %d, retry at %v: want a backoff", st.s.failures, st.s.retryAt)
	}
	b := st.send(10)
	st.answer(b, 0x99, 0)
	if st.s.failures != 2 {
		t.Fatalf("failures %d; want 2", st.s.failures)
	}
}

func TestLostResendsAtOnce(t *testing.T) {
	st := newSchedTest(t)
	b1, b2 := st.send(10), st.send(10)
	st.u.outcome(&linkEvent{kind: evOutcome, gen: st.u.gen, b: b1, lost: true}, time.Now())
	st.check(0, 1, 0)
	if !b2.ignored || !st.s.retryAt.IsZero() {
		t.Fatalf("b2 ignored %v, retry at %v", b2.ignored, st.s.retryAt)
	}
}

func TestOutcomesOfAnEndedConnectionDoNotCount(t *testing.T) {
	st := newSchedTest(t)
	b1 := st.send(10)
	st.u.linkDown(&linkEvent{kind: evDown, gen: 1})
	st.u.linkUp(&linkEvent{kind: evUp, gen: 2, recvMax: 100})
	st.check(0, 1, 0)
	st.answer(b1, codeSuccess, 0) // a late PUBACK of connection 1 (stale)
	st.check(0, 1, 0)
	if st.u.inFlight != 0 {
		t.Fatalf("window %d", st.u.inFlight)
	}
}

// The outbox reports a PUBLISH as lost when a later one is acknowledged
// first (MQTT orders QoS 1 PUBACKs), and keeps per-stream order in its queue.
func TestOutboxOrder(t *testing.T) {
	o := newOutbox(testLogger(t))
	if err := o.ConAckReceived(nil, nil, &packets.Connack{}); err != nil {
		t.Fatal(err)
	}
	st := &stream{id: spool.StreamID{Lane: canonical.LaneOperational, Stream: 1}}
	mk := func(prio int) *batch { return &batch{stream: st, gen: 1, prio: prio, packet: []byte{0}} }
	backlog1, backlog2, live := mk(1), mk(1), mk(0)
	for _, b := range []*batch{backlog1, backlog2, live} {
		if !o.push(b) {
			t.Fatal("push refused")
		}
	}
	var ids []uint16
	for _, want := range []*batch{live, backlog1, backlog2} {
		e, err := o.Peek()
		if err != nil || e.(entry).b != want {
			t.Fatalf("peeked %v, %v; want the live batch first, then the backlog in order", e, err)
		}
		p := &packets.Publish{QoS: 1, Topic: "t"}
		if err := o.AddToSession(t.Context(), p, nil); err != nil {
			t.Fatal(err)
		}
		_ = e.Remove()
		ids = append(ids, p.PacketID)
	}
	o.take(nil) // the up event
	if err := o.PacketReceived(&packets.ControlPacket{FixedHeader: packets.FixedHeader{Type: packets.PUBACK},
		Content: &packets.Puback{PacketID: ids[2]}}, nil); err != nil {
		t.Fatal(err)
	}
	evs := o.take(nil)
	if len(evs) != 3 || !evs[0].lost || evs[0].b != live || !evs[1].lost || evs[1].b != backlog1 || evs[2].lost || evs[2].b != backlog2 {
		t.Fatalf("events %+v; want live and backlog1 lost, backlog2 acknowledged", evs)
	}
}
