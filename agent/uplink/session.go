package uplink

import (
	"context"
	"io"
	"strconv"

	"github.com/draylink/dray/internal/crashpoint"
	"github.com/draylink/dray/internal/wire"
	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho/log"
	"github.com/eclipse/paho.golang/paho/session"
)

// The outbox as paho's session state. paho calls these from its own
// goroutines: ConAckReceived inside Connect, AddToSession from the
// publishing goroutine, PacketReceived from the connection's reader (it
// must not block), ConnectionLost when the connection ends.

var _ session.SessionManager = (*outbox)(nil)

// ConAckReceived starts a connection: new packet ids, the relay's limits.
// Nothing is re-sent from a previous session (there is none: CleanStart).
func (o *outbox) ConAckReceived(conn io.Writer, _ *packets.Connect, ca *packets.Connack) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.gen++
	o.up = true
	o.conn = conn
	o.ids = make(map[uint16]*sent)
	o.order = nil
	o.dropQueueLocked()
	ev := linkEvent{kind: evUp, gen: o.gen, recvMax: 65535}
	if p := ca.Properties; p != nil {
		if p.ReceiveMaximum != nil {
			ev.recvMax = int(*p.ReceiveMaximum)
		}
		if p.MaximumPacketSize != nil {
			ev.maxPacket = int(*p.MaximumPacketSize)
		}
	}
	o.postLocked(ev)
	return nil
}

// ConnectionLost ends the connection: every queued or unanswered batch is
// forgotten (the scheduler re-sends from the spool). It may be called more
// than once per connection. The relay's DISCONNECT, if any, is logged by
// the uplink's OnServerDisconnect.
func (o *outbox) ConnectionLost(*packets.Disconnect) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.up {
		return nil
	}
	o.up = false
	o.conn = nil
	for _, s := range o.ids {
		if s.resp != nil {
			select { // a zero packet tells a waiting caller the session ended
			case s.resp <- packets.ControlPacket{}:
			default:
			}
		}
	}
	o.ids = nil
	o.order = nil
	o.dropQueueLocked()
	o.postLocked(linkEvent{kind: evDown, gen: o.gen})
	return nil
}

// AddToSession gives a packet its id. For a PUBLISH of the queue it ties
// the id to the peeked batch, which leaves the queue: from here on its
// outcome comes from a PUBACK or from the connection's end. It never
// blocks: the scheduler keeps the window within the Receive Maximum.
func (o *outbox) AddToSession(_ context.Context, p session.Packet, resp chan<- packets.ControlPacket) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.up {
		return session.ErrNoConnection
	}
	publish := p.Type() == packets.PUBLISH
	var b *batch
	if publish && o.peeked != nil {
		b = o.peeked
		if b.gen != o.gen {
			return session.ErrNoConnection
		}
	}
	id, ok := o.nextIDLocked()
	if !ok {
		return session.ErrPacketIdentifiersExhausted
	}
	p.SetIdentifier(id)
	s := &sent{id: id, b: b, publish: publish, resp: resp}
	o.ids[id] = s
	if publish {
		o.order = append(o.order, s)
	}
	if b != nil {
		o.removeLocked(b)
		b.sent = true
		b.packet = nil // the sender has its own copy
		select {       // room in the queue: the scheduler may build the next batch
		case o.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

func (o *outbox) nextIDLocked() (uint16, bool) {
	for range 65535 {
		o.lastID++
		if o.lastID == 0 {
			o.lastID = 1
		}
		if _, used := o.ids[o.lastID]; !used {
			return o.lastID, true
		}
	}
	return 0, false
}

// PacketReceived takes the relay's responses. A PUBACK becomes an outcome.
// PUBACKs of QoS 1 come in the order of their PUBLISHes (MQTT 4.6): a
// batch sent before the acknowledged one and still unanswered never reached
// the relay on this connection, and is reported lost.
func (o *outbox) PacketReceived(cp *packets.ControlPacket, pubs chan<- *packets.Publish) error {
	switch p := cp.Content.(type) {
	case *packets.Puback:
		crashpoint.Hit(crashpoint.AgentBeforeAck) // the relay has it; the spool does not know yet
		o.mu.Lock()
		defer o.mu.Unlock()
		s := o.ids[p.PacketID]
		if s == nil {
			o.log.Debug("PUBACK for an unknown packet id", "packet_id", p.PacketID)
			return nil
		}
		delete(o.ids, p.PacketID)
		if s.publish {
			for len(o.order) > 0 && o.order[0] != s {
				lost := o.order[0]
				o.order = o.order[1:]
				delete(o.ids, lost.id)
				if lost.b != nil {
					o.postLocked(linkEvent{kind: evOutcome, gen: o.gen, b: lost.b, lost: true})
				}
			}
			if len(o.order) > 0 {
				o.order = o.order[1:]
			}
		}
		if s.resp != nil {
			select {
			case s.resp <- *cp:
			default:
			}
		}
		if s.b != nil {
			ev := linkEvent{kind: evOutcome, gen: o.gen, b: s.b, code: p.ReasonCode}
			if p.Properties != nil {
				ev.reason = p.Properties.ReasonString
				for _, u := range p.Properties.User {
					if u.Key == wire.PropExpected {
						ev.expected, _ = strconv.ParseUint(u.Value, 10, 64)
					}
				}
			}
			o.postLocked(ev)
		}
	case *packets.Suback, *packets.Unsuback:
		o.mu.Lock()
		defer o.mu.Unlock()
		if s := o.ids[cp.PacketID()]; s != nil {
			delete(o.ids, s.id)
			if s.resp != nil {
				select {
				case s.resp <- *cp:
				default:
				}
			}
		}
	case *packets.Publish:
		// A QoS 1 PUBLISH from the relay (a downlink command, if this
		// connection subscribed): to paho's router, which calls Ack.
		if p.QoS == 1 {
			pubs <- p
		} else {
			o.log.Warn("ignoring a QoS 2 PUBLISH from the relay", "topic", p.Topic)
		}
	default:
		o.log.Warn("ignoring an unexpected packet from the relay", "type", cp.PacketType())
	}
	return nil
}

// Ack acknowledges an inbound QoS 1 PUBLISH once paho's handlers ran.
func (o *outbox) Ack(pb *packets.Publish) error {
	o.mu.Lock()
	conn := o.conn
	o.mu.Unlock()
	if pb.QoS != 1 || conn == nil {
		return nil
	}
	pa := packets.Puback{PacketID: pb.PacketID, Properties: &packets.Properties{}}
	_, err := pa.WriteTo(conn) // the conn is a sync.Locker: paho's writers wait
	return err
}

// Close releases nothing: paho calls it only for sessions it made.
func (o *outbox) Close() error { return nil }

// SetErrorLogger and SetDebugLogger are not used: the outbox logs to slog.
func (o *outbox) SetErrorLogger(log.Logger) {}
func (o *outbox) SetDebugLogger(log.Logger) {}
