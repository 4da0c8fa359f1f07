package ingest

import (
	"fmt"
	"strings"

	"github.com/draylink/dray/internal/wire"
	"github.com/eclipse/paho.golang/packets"
)

// handleSubscribe answers a SUBSCRIBE. A site may subscribe to its own
// commands topic only, at QoS 0 or 1 (a QoS 2 request is granted QoS 1).
// Every filter gets its own explicit SUBACK reason: 0x00 would mean
// "granted QoS 0", so a refusal is never left as a zero byte.
func (s *session) handleSubscribe(p rawPacket) error {
	sub, r := decodeSubscribe(p.body)
	if r != nil {
		return r
	}
	own := wire.CommandsTopic(s.site)
	reasons := make([]byte, len(sub.Subscriptions))
	var refused, audits []string
	var codes []byte
	s.out.mu.Lock()
	for i, o := range sub.Subscriptions {
		var code byte
		var why string
		switch {
		case sub.Properties.SubscriptionIdentifier != nil:
			code, why = codeSubIDsNotSupported, "subscription identifiers are not supported"
		case strings.HasPrefix(o.Topic, "$share/"):
			code, why = codeSharedSubsNotSupported, "shared subscriptions are not supported"
		case !validTopicFilter(o.Topic):
			code, why = codeTopicFilterInvalid, "malformed topic filter"
		case strings.ContainsAny(o.Topic, "+#"):
			code, why = codeWildcardSubsUnsupported, "wildcard subscriptions are not supported"
		case o.Topic != own:
			code, why = codeNotAuthorized, fmt.Sprintf("site %s may subscribe to %q only", s.site, own)
		default:
			code = min(o.QoS, codeGrantedQoS1)
			s.subs[o.Topic] = code
		}
		reasons[i] = code
		if code >= 0x80 {
			refused = append(refused, fmt.Sprintf("%q: %s", o.Topic, why))
			audits = append(audits, o.Topic, why)
			codes = append(codes, code)
		}
	}
	s.out.mu.Unlock()
	for i, code := range codes {
		s.audit(code, audits[2*i+1], "packet", "SUBSCRIBE", "topic_filter", clipReason(audits[2*i]))
	}
	ack := &packets.Suback{PacketID: sub.PacketID, Reasons: reasons, Properties: &packets.Properties{}}
	if len(refused) > 0 {
		ack.Properties.ReasonString = clipReason(strings.Join(refused, "; "))
	}
	s.queue(ack)
	return nil
}

// handleUnsubscribe answers an UNSUBSCRIBE: 0x00 for a filter that was
// subscribed, 0x11 (no subscription existed) otherwise.
func (s *session) handleUnsubscribe(p rawPacket) error {
	u, r := decodeUnsubscribe(p.body)
	if r != nil {
		return r
	}
	reasons := make([]byte, len(u.Topics))
	s.out.mu.Lock()
	for i, t := range u.Topics {
		if _, ok := s.subs[t]; ok {
			delete(s.subs, t)
			reasons[i] = codeSuccess
		} else {
			reasons[i] = codeNoSubscriptionExisted
		}
	}
	s.out.mu.Unlock()
	s.queue(&packets.Unsuback{PacketID: u.PacketID, Reasons: reasons, Properties: &packets.Properties{}})
	return nil
}
