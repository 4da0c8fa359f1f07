package ingest

import (
	"fmt"
	"time"

	"github.com/draylink/dray/internal/wire"
	"github.com/draylink/dray/relay/relaylog"
)

// handlePublish takes one PUBLISH. Violations of the protocol or of the
// relay's announced limits end the session (DISCONNECT); a well-formed QoS 1
// PUBLISH always gets a PUBACK, in order: an immediate refusal (topic,
// header, payload, rate) or the outcome of its group commit.
func (s *session) handlePublish(p rawPacket) error {
	pub, r := decodePublish(p.flags, p.body)
	if r != nil {
		return r
	}
	switch {
	case pub.QoS != 1:
		return refuse(codeQoSNotSupported, "PUBLISH with QoS %d; the relay accepts QoS 1 only", pub.QoS)
	case pub.Retain:
		return refuse(codeRetainNotSupported, "PUBLISH with retain set; the relay has no retained messages")
	case pub.Properties.TopicAlias != nil:
		return refuse(codeTopicAliasInvalid, "topic alias %d; Topic Alias Maximum is 0", *pub.Properties.TopicAlias)
	case !validTopicName(pub.Topic):
		return protocolError("PUBLISH topic %q is empty or has wildcards", pub.Topic)
	case pub.Properties.SubscriptionIdentifier != nil:
		return protocolError("PUBLISH from a client with a subscription identifier")
	}
	slot, err := s.admit(pub.PacketID)
	if err != nil {
		return err
	}

	// From here on every outcome is this slot's PUBACK.
	if code, why := s.topicRefusal(pub.Topic); code != codeSuccess {
		s.finish(slot, code, why, 0, "topic", clipReason(pub.Topic))
		return nil
	}
	props := pub.Properties
	if props.PayloadFormat != nil && *props.PayloadFormat == 1 {
		s.finish(slot, codePayloadFormatInvalid, "payload format indicator says UTF-8; a batch is binary", 0)
		return nil
	}
	if props.ContentType != "" && props.ContentType != wire.ContentType {
		s.finish(slot, codePayloadFormatInvalid, fmt.Sprintf("content type %q; a batch is %q", props.ContentType, wire.ContentType), 0)
		return nil
	}
	userProps := make([]wire.Property, len(props.User))
	for i, u := range props.User {
		userProps[i] = wire.Property{Key: u.Key, Value: u.Value}
	}
	h, err := wire.ParseHeader(userProps)
	if err != nil {
		s.finish(slot, codePayloadFormatInvalid, err.Error(), 0)
		return nil
	}
	attrs := []any{"epoch", h.Epoch, "lane", wire.LaneName(h.Lane), "stream", h.Stream, "first", h.First, "last", h.Last}
	if n := h.Count(); n > uint64(s.srv.cfg.MaxCommitEvents) {
		s.finish(slot, codeQuotaExceeded, fmt.Sprintf("batch of %d events; the relay takes at most %d per batch", n, s.srv.cfg.MaxCommitEvents), 0, attrs...)
		return nil
	}
	now := time.Now()
	if !allow(s.bucket, now, h.Count()) {
		s.finish(slot, codeQuotaExceeded, fmt.Sprintf("site rate limit of %v events/s exceeded; back off and re-send", s.bucket.Limit()), 0, attrs...)
		return nil
	}
	events, err := s.srv.codec.Open(h, pub.Payload)
	if err != nil {
		s.finish(slot, codePayloadFormatInvalid, err.Error(), 0, attrs...)
		return nil
	}
	size := 0
	for _, e := range events {
		size += len(e)
	}
	if size > s.srv.cfg.MaxCommitBytes {
		s.finish(slot, codeQuotaExceeded, fmt.Sprintf("batch of %d event bytes; the relay takes at most %d per batch", size, s.srv.cfg.MaxCommitBytes), 0, attrs...)
		return nil
	}
	in := &relaylog.Incoming{Site: s.site, Header: h, Events: events, Received: now}
	return s.enqueue(commitReq{sess: s, slot: slot, in: in, size: size})
}

// admit takes a PUBACK slot for a QoS 1 PUBLISH, enforcing Receive Maximum
// and packet identifier reuse.
func (s *session) admit(id uint16) (*ackSlot, error) {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	if s.out.closing {
		return nil, errClosing
	}
	if max := int(s.srv.cfg.ReceiveMaximum); len(s.out.acks) >= max {
		return nil, refuse(codeReceiveMaximumExceeded, "more than %d unacknowledged PUBLISHes (Receive Maximum)", max)
	}
	if s.out.inUse.has(id) {
		return nil, protocolError("packet identifier %d is in use by an unacknowledged PUBLISH", id)
	}
	slot := &ackSlot{id: id}
	s.out.acks = append(s.out.acks, slot)
	s.out.inUse.add(id)
	return slot, nil
}

// topicRefusal checks the topic ACL: a site publishes batches to its own
// events topic only.
func (s *session) topicRefusal(topic string) (byte, string) {
	if site, ok := wire.ParseEventsTopic(topic); ok {
		if site == s.site {
			return codeSuccess, ""
		}
		return codeNotAuthorized, fmt.Sprintf("publish to site %s's topic; this certificate is site %s", site, s.site)
	}
	if site, ok := wire.ParseCommandsTopic(topic); ok && site != s.site {
		return codeNotAuthorized, fmt.Sprintf("publish to site %s's topic; this certificate is site %s", site, s.site)
	}
	return codeTopicNameInvalid, fmt.Sprintf("topic %q is not accepted; batches go to %q", topic, wire.EventsTopic(s.site))
}

// enqueue hands a batch to the group committer, waiting while the relay's
// queue is full (backpressure) unless the session closes.
func (s *session) enqueue(r commitReq) error {
	c := s.srv.committer
	if !c.reserve(r.size, s.done) {
		return errClosing
	}
	s.out.mu.Lock()
	closing := s.out.closing
	if !closing {
		// Under out.mu: once stop has run, nothing of this session enters
		// the queue (a takeover's new session comes strictly after).
		c.push(r)
	}
	s.out.mu.Unlock()
	if closing {
		c.release(r.size)
		return errClosing
	}
	return nil
}

// finish fills a PUBACK slot and wakes the writer if the slot is next in
// line. A refusal (code != 0) is audited.
func (s *session) finish(slot *ackSlot, code byte, why string, expected uint64, attrs ...any) {
	why = clipReason(why)
	if code != codeSuccess {
		s.audit(code, why, append([]any{"packet", "PUBLISH", "packet_id", slot.id}, attrs...)...)
	}
	s.out.mu.Lock()
	slot.ready, slot.code, slot.why, slot.expected = true, code, why, expected
	head := len(s.out.acks) > 0 && s.out.acks[0] == slot
	s.out.mu.Unlock()
	if head {
		s.out.wake()
	}
}

// finishCommit is finish for a committed batch.
func (s *session) finishCommit(r commitReq, code byte, why string, expected uint64) {
	h := r.in.Header
	s.finish(r.slot, code, why, expected,
		"epoch", h.Epoch, "lane", wire.LaneName(h.Lane), "stream", h.Stream, "first", h.First, "last", h.Last)
}
