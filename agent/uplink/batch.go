package uplink

import (
	"bytes"
	"fmt"

	"github.com/draylink/dray/internal/wire"
	"github.com/eclipse/paho.golang/paho"
)

// batch is one PUBLISH: consecutive events first..last of one stream.
//
// The scheduler goroutine owns every field but packet and sent, which the
// outbox guards (they change hands when the sender takes the batch).
type batch struct {
	stream      *stream
	first, last uint64
	size        int // event bytes, before compression: what the window counts
	live        bool
	prio        int    // send order in the outbox queue: lower goes first
	gen         uint64 // the connection the batch was built for
	// ignored is set by go-back-N: the outcome of this batch no longer
	// matters (the stream re-sends from an earlier point).
	ignored bool

	// Guarded by outbox.mu.
	packet []byte // the encoded PUBLISH until the sender has read it
	sent   bool   // taken by the sender (a packet id was assigned)
}

func (b *batch) String() string {
	return fmt.Sprintf("%v/%d [%d..%d]", b.stream.id.Lane, b.stream.id.Stream, b.first, b.last)
}

// build reads the next batch of s from the spool: up to maxEvents events
// and maxBytes event bytes from s.next (at least one event). It returns nil
// when the spool has nothing to send there.
func (u *Uplink) build(s *stream, maxEvents, maxBytes int) (*batch, error) {
	recs, err := u.sp.Read(s.id, s.next, maxEvents, maxBytes, u.recs[:0])
	u.recs = recs[:0]
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, nil
	}
	if recs[0].Seq != s.next {
		return nil, fmt.Errorf("read %v from %d: first event is %d", s.id, s.next, recs[0].Seq)
	}
	body := u.body[:0]
	size := 0
	for _, r := range recs {
		body = wire.AppendRecord(body, r.Event)
		size += len(r.Event)
	}
	h := wire.Header{
		Epoch:  u.epoch,
		Lane:   s.id.Lane,
		Stream: s.id.Stream,
		First:  recs[0].Seq,
		Last:   recs[len(recs)-1].Seq,
	}
	if s.dropped != 0 && s.dropped+1 == h.First {
		// The spool's drop policy removed the events before this one: say
		// so, or the relay refuses the gap.
		h.DroppedThrough = s.dropped
	}
	payload := u.codec.Seal(&h, body)
	packet, err := u.encode(&h, payload)
	u.body = body[:0]
	for i := range recs {
		recs[i].Event = nil // let the spool's read buffers go
	}
	if err != nil {
		return nil, err
	}
	return &batch{
		stream: s,
		first:  h.First,
		last:   h.Last,
		size:   size,
		live:   s.live,
		prio:   s.rank(),
		gen:    u.gen,
		packet: packet,
	}, nil
}

// encode returns the PUBLISH packet of a batch as bytes: QoS 1 to the
// site's events topic, the header in user properties.
func (u *Uplink) encode(h *wire.Header, payload []byte) ([]byte, error) {
	props := h.Properties()
	user := make(paho.UserProperties, len(props))
	for i, p := range props {
		user[i] = paho.UserProperty{Key: p.Key, Value: p.Value}
	}
	pub := &paho.Publish{
		QoS:     1,
		Topic:   u.topic,
		Payload: payload,
		Properties: &paho.PublishProperties{
			ContentType: wire.ContentType,
			User:        user,
		},
	}
	var buf bytes.Buffer
	buf.Grow(len(payload) + len(u.topic) + 64 + 48*len(props))
	if _, err := pub.Packet().WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("encode publish: %w", err)
	}
	return buf.Bytes(), nil
}
