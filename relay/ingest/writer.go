package ingest

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/draylink/dray/internal/wire"
	"github.com/eclipse/paho.golang/packets"
)

// Everything a session sends goes through its writer goroutine, the only
// writer of the connection (paho's WriteTo makes several writes and locks
// only a sync.Locker, which a bufio.Writer in front would hide). Other
// goroutines queue packets under the session's mu and kick the writer; the
// committer never blocks on a slow client.

// ackSlot is the PUBACK owed for one QoS 1 PUBLISH. Slots queue in arrival
// order and are released from the front once filled, so PUBACKs leave in
// the order their PUBLISHes came, whatever order commits finish in.
type ackSlot struct {
	id       uint16
	ready    bool   // guarded by session.mu
	code     byte   // guarded by session.mu
	why      string // guarded by session.mu: reason string for a refusal
	expected uint64 // guarded by session.mu: dray-expected on a gap (0: none)
}

// packetIDs is a set of packet identifiers (those of unacknowledged PUBLISHes).
type packetIDs [1024]uint64

func (s *packetIDs) has(id uint16) bool { return s[id>>6]&(1<<(id&63)) != 0 }
func (s *packetIDs) add(id uint16)      { s[id>>6] |= 1 << (id & 63) }
func (s *packetIDs) remove(id uint16)   { s[id>>6] &^= 1 << (id & 63) }

// outbox is the part of a session the writer serves.
type outbox struct {
	mu sync.Mutex
	// guarded by mu:
	ctrl    []packets.Packet // CONNACK, SUBACK, UNSUBACK, PINGRESP, in order
	acks    []*ackSlot       // unacknowledged PUBLISHes, in arrival order
	inUse   packetIDs        // packet ids of acks
	closing bool             // no more packets are queued; the writer sends final and stops
	final   packets.Packet   // last packet before closing (a refusing CONNACK or a DISCONNECT), or nil

	kick chan struct{} // capacity 1: something to send, or closing
}

// wake kicks the writer without blocking.
func (o *outbox) wake() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// queueLocked adds a control packet; false if the session is closing.
func (o *outbox) queueLocked(p packets.Packet) bool {
	if o.closing {
		return false
	}
	o.ctrl = append(o.ctrl, p)
	return true
}

// takeLocked moves the control packets and the ready prefix of the acks
// into out. A popped PUBACK no longer counts against Receive Maximum: the
// client cannot send the next PUBLISH before it reads it.
func (o *outbox) takeLocked(ctrl []packets.Packet, acks []ackSlot) ([]packets.Packet, []ackSlot) {
	ctrl = append(ctrl, o.ctrl...)
	clear(o.ctrl)
	o.ctrl = o.ctrl[:0]
	n := 0
	for n < len(o.acks) && o.acks[n].ready {
		a := o.acks[n]
		acks = append(acks, *a)
		o.inUse.remove(a.id)
		n++
	}
	if n > 0 {
		rest := copy(o.acks, o.acks[n:])
		clear(o.acks[rest:])
		o.acks = o.acks[:rest]
	}
	return ctrl, acks
}

// closeTimeout bounds the last write and the drain of a closing session.
const closeTimeout = 2 * time.Second

// writeLoop is the session's writer. It returns after sending the final
// packet (if any) and closing the sending side, or after a write error,
// which aborts the connection.
func (s *session) writeLoop() {
	defer close(s.writerDone)
	bw := bufio.NewWriterSize(s.conn, 32<<10)
	var ctrl []packets.Packet
	var acks []ackSlot
	var scratch bytes.Buffer
	// This goroutine is the connection's only writer; it still takes the
	// conn's write lock where it has one (mqttquic.Conn), as that
	// adapter's contract asks of every writer.
	locker, _ := s.conn.(sync.Locker)
	for {
		select {
		case <-s.out.kick:
		case <-s.done:
		}
		s.out.mu.Lock()
		ctrl, acks = s.out.takeLocked(ctrl[:0], acks[:0])
		closing, final := s.out.closing, s.out.final
		if !closing {
			// Under out.mu, so that stop's shorter deadline is never
			// overwritten by this longer one.
			_ = s.conn.SetWriteDeadline(time.Now().Add(s.srv.cfg.WriteTimeout))
		}
		s.out.mu.Unlock()

		if locker != nil {
			locker.Lock()
		}
		err := s.writeAll(bw, &scratch, ctrl, acks)
		if err == nil && closing && final != nil {
			err = s.encode(bw, &scratch, final)
		}
		if err == nil {
			err = bw.Flush()
		}
		if locker != nil {
			locker.Unlock()
		}
		clear(ctrl)
		if err != nil {
			s.log.Debug("write failed; closing", "err", err)
			s.stop(nil)
			s.conn.abort()
			return
		}
		if closing {
			s.conn.closeWrite()
			return
		}
	}
}

func (s *session) writeAll(bw *bufio.Writer, scratch *bytes.Buffer, ctrl []packets.Packet, acks []ackSlot) error {
	for _, p := range ctrl {
		if err := s.encode(bw, scratch, p); err != nil {
			return err
		}
	}
	for i := range acks {
		a := &acks[i]
		if a.code == codeSuccess {
			// The short form (spec 3.4.2.1): reason 0x00 and no
			// properties may be omitted.
			if _, err := bw.Write([]byte{packets.PUBACK << 4, 2, byte(a.id >> 8), byte(a.id)}); err != nil {
				return err
			}
			continue
		}
		pa := &packets.Puback{PacketID: a.id, ReasonCode: a.code, Properties: &packets.Properties{ReasonString: a.why}}
		if a.expected != 0 {
			pa.Properties.User = []packets.User{{Key: wire.PropExpected, Value: strconv.FormatUint(a.expected, 10)}}
		}
		if err := s.encode(bw, scratch, pa); err != nil {
			return err
		}
	}
	return nil
}

// encode writes p, honouring what the client asked for in CONNECT: without
// Request Problem Information, no reason string or user property on
// anything but CONNACK and DISCONNECT; and no packet larger than the
// client's Maximum Packet Size (its reason string and user properties are
// dropped first, spec 3.1.2.11.4).
func (s *session) encode(bw *bufio.Writer, scratch *bytes.Buffer, p packets.Packet) error {
	switch p.(type) {
	case *packets.Connack, *packets.Disconnect:
	default:
		if !s.problemInfo {
			stripProblemInfo(p)
		}
	}
	if s.clientMax == 0 {
		_, err := p.WriteTo(bw)
		return err
	}
	scratch.Reset()
	_, _ = p.WriteTo(scratch)
	if scratch.Len() > s.clientMax {
		stripProblemInfo(p)
		scratch.Reset()
		_, _ = p.WriteTo(scratch)
	}
	if scratch.Len() > s.clientMax {
		s.log.Warn("packet larger than the client's maximum packet size not sent",
			"packet", fmt.Sprintf("%T", p), "size", scratch.Len(), "client_max", s.clientMax)
		return nil
	}
	_, err := bw.Write(scratch.Bytes())
	return err
}

func stripProblemInfo(p packets.Packet) {
	var props *packets.Properties
	switch p := p.(type) {
	case *packets.Puback:
		props = p.Properties
	case *packets.Suback:
		props = p.Properties
	case *packets.Unsuback:
		props = p.Properties
	case *packets.Connack:
		props = p.Properties
	case *packets.Disconnect:
		props = p.Properties
	}
	if props != nil {
		props.ReasonString = ""
		props.User = nil
	}
}
