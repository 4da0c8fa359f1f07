package uplink

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"

	"github.com/eclipse/paho.golang/autopaho/queue"
	"github.com/eclipse/paho.golang/packets"
)

// outbox is where the scheduler hands batches to the connection and where
// their outcomes come back. It is autopaho's publish queue (queue.Queue)
// and the MQTT session state (session.SessionManager, session.go) at once:
//
//   - The scheduler pushes encoded batches (push). autopaho's one queue
//     goroutine peeks them in order and sends each with
//     PublishMethod_AsyncSend, which writes the PUBLISH and returns without
//     waiting: one writer, so PUBLISHes reach the wire in push order, which
//     per-stream ordering at the relay needs.
//   - paho asks the session for a packet id right before writing
//     (AddToSession); the outbox ties that id to the peeked batch.
//   - paho hands every PUBACK to the session (PacketReceived); the outbox
//     turns it into an outcome for the scheduler with the reason code, the
//     reason string and the relay's dray-expected property. This is where
//     per-publish acks are observed: AsyncSend itself reports none.
//
// Nothing is stored for redelivery: the session is not a store (CleanStart,
// no expiry), the spool is. When the connection is lost every batch queued
// or in flight is forgotten and the scheduler re-sends from the spool.
type outbox struct {
	log  *slog.Logger
	wake chan struct{} // capacity 1: wakes the scheduler after an event or a send

	mu       sync.Mutex       // guards the fields below
	gen      uint64           // current connection, incremented by ConAckReceived
	up       bool             // between ConAckReceived and ConnectionLost
	conn     io.Writer        // the connection (for PUBACKs of inbound publishes)
	queue    []*batch         // pushed, not yet taken by the sender; send order
	nonEmpty chan struct{}    // closed while queue is not empty (queue.Queue.Wait)
	peeked   *batch           // the batch the sender is publishing
	ids      map[uint16]*sent // packets awaiting a response, by packet id
	order    []*sent          // PUBLISHes awaiting a PUBACK, in the order sent
	lastID   uint16
	events   []linkEvent // for the scheduler, in order
}

// sent is a packet awaiting its response.
type sent struct {
	id      uint16
	b       *batch // nil for packets the scheduler did not push
	publish bool
	resp    chan<- packets.ControlPacket
}

func newOutbox(log *slog.Logger) *outbox {
	return &outbox{
		log:      log,
		nonEmpty: make(chan struct{}),
		wake:     make(chan struct{}, 1),
	}
}

// eventKind says what a linkEvent reports.
type eventKind int

const (
	evUp      eventKind = iota + 1 // a session started (CONNACK)
	evDown                         // the session ended
	evOutcome                      // a batch was answered, or will never be
)

// linkEvent is what the outbox tells the scheduler, in order.
type linkEvent struct {
	kind eventKind
	gen  uint64

	// evUp: the relay's limits from CONNACK.
	recvMax, maxPacket int

	// evOutcome: the batch and the PUBACK's reason code and string.
	b      *batch
	code   byte
	reason string
	// expected is the relay's dray-expected property (0 when absent).
	expected uint64
	// lost: the batch will never be answered on this connection (a later
	// PUBLISH was acknowledged first, so the relay never read it);
	// unsent: the sender dropped it before writing (local error).
	lost, unsent bool
}

// push queues b for the sender. It returns false when b was built for a
// connection that is gone: the scheduler learns that from the event queue.
// A batch of a higher priority (lower prio) goes before queued batches of a
// lower one; a stream's batches all have the same priority, so each
// stream's order is kept.
func (o *outbox) push(b *batch) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.up || b.gen != o.gen {
		return false
	}
	start := 0
	if o.peeked != nil && len(o.queue) > 0 && o.queue[0] == o.peeked {
		start = 1 // the sender is reading it: it stays first
	}
	i := len(o.queue)
	for i > start && o.queue[i-1].prio > b.prio {
		i--
	}
	o.queue = slices.Insert(o.queue, i, b)
	if len(o.queue) == 1 {
		close(o.nonEmpty)
	}
	return true
}

// queued is the number of batches pushed and not yet taken by the sender.
func (o *outbox) queued() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.queue)
}

// take returns the events posted since the last call, appended to dst.
func (o *outbox) take(dst []linkEvent) []linkEvent {
	o.mu.Lock()
	defer o.mu.Unlock()
	dst = append(dst, o.events...)
	clear(o.events)
	o.events = o.events[:0]
	return dst
}

func (o *outbox) postLocked(ev linkEvent) {
	o.events = append(o.events, ev)
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// removeLocked takes b out of the queue.
func (o *outbox) removeLocked(b *batch) {
	if i := slices.Index(o.queue, b); i >= 0 {
		o.queue = slices.Delete(o.queue, i, i+1)
		if len(o.queue) == 0 {
			o.nonEmpty = make(chan struct{})
		}
	}
	if o.peeked == b {
		o.peeked = nil
	}
}

// dropQueueLocked forgets every queued batch (the connection is gone).
func (o *outbox) dropQueueLocked() {
	for _, b := range o.queue {
		b.packet = nil
	}
	if len(o.queue) > 0 {
		clear(o.queue)
		o.queue = o.queue[:0]
		o.nonEmpty = make(chan struct{})
	}
	o.peeked = nil
}

// queue.Queue, used by autopaho's publishing goroutine.
var _ queue.Queue = (*outbox)(nil)

// Wait returns a channel closed while the queue holds a batch.
func (o *outbox) Wait() chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.nonEmpty
}

var errNoEnqueue = errors.New("uplink outbox: batches are pushed by the scheduler")

// Enqueue is not used: the uplink never calls PublishViaQueue.
func (o *outbox) Enqueue(io.Reader) error { return errNoEnqueue }

// Peek returns the first queued batch.
func (o *outbox) Peek() (queue.Entry, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.queue) == 0 {
		return nil, queue.ErrEmpty
	}
	o.peeked = o.queue[0]
	return entry{o, o.peeked}, nil
}

// entry is a peeked batch. autopaho calls Reader, publishes, then Remove
// (sent, or dropped for good) or Leave (not sent; to retry).
type entry struct {
	o *outbox
	b *batch
}

var errEntryGone = errors.New("uplink outbox: batch no longer queued")

func (e entry) Reader() (io.Reader, error) {
	e.o.mu.Lock()
	defer e.o.mu.Unlock()
	if e.b.packet == nil {
		return nil, errEntryGone
	}
	return bytes.NewReader(e.b.packet), nil
}

// Leave keeps the batch first in the queue, unless its connection is gone.
func (e entry) Leave() error {
	o := e.o
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.peeked == e.b {
		o.peeked = nil
	}
	if !o.up || e.b.gen != o.gen {
		o.removeLocked(e.b)
	}
	return nil
}

// Remove is called after the publish returned: sent (AddToSession took it
// already) or refused by paho before sending, which the scheduler must
// learn or the batch would hold its window slot forever.
func (e entry) Remove() error {
	o := e.o
	o.mu.Lock()
	defer o.mu.Unlock()
	if !e.b.sent && slices.Contains(o.queue, e.b) {
		o.removeLocked(e.b)
		e.b.packet = nil
		o.postLocked(linkEvent{kind: evOutcome, gen: e.b.gen, b: e.b, unsent: true,
			reason: "the MQTT client refused to send the batch"})
	}
	if o.peeked == e.b {
		o.peeked = nil
	}
	return nil
}

// Quarantine is Remove: the batch is re-read from the spool, never lost.
func (e entry) Quarantine() error { return e.Remove() }
