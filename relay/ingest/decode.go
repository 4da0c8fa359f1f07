package ingest

import (
	"strings"
	"unicode/utf8"

	"github.com/eclipse/paho.golang/packets"
)

// This file decodes the packets a client may send into paho's packet types,
// validating every field the MQTT v5 spec constrains. paho's Unpack methods
// validate nothing (QoS 3, packet id 0, oversize property lengths, bad
// UTF-8 all pass), silently truncate a property block that runs past the
// packet, and copy a PUBLISH payload twice; so the endpoint decodes inbound
// packets here and uses paho's codec to encode what it sends.
//
// Spec mapping: a value of the wrong type, an identifier not valid for the
// packet, a length beyond the packet, bad UTF-8 or trailing bytes make a
// Malformed Packet (0x81); a valid encoding with a forbidden value (a
// duplicated property, Receive Maximum 0, ...) is a Protocol Error (0x82).

// decoder reads the fields of one packet body. The first error sticks: later
// reads return zero values, and the caller checks err once.
type decoder struct {
	b    []byte
	what string // packet name, for messages
	err  *refusal
}

func (d *decoder) fail(r *refusal) {
	if d.err == nil {
		d.err = r
	}
	d.b = nil
}

func (d *decoder) need(n int, field string) bool {
	if d.err != nil {
		return false
	}
	if len(d.b) < n {
		d.fail(malformed("%s: %s: truncated", d.what, field))
		return false
	}
	return true
}

func (d *decoder) byte1(field string) byte {
	if !d.need(1, field) {
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) u16(field string) uint16 {
	if !d.need(2, field) {
		return 0
	}
	v := uint16(d.b[0])<<8 | uint16(d.b[1])
	d.b = d.b[2:]
	return v
}

func (d *decoder) u32(field string) uint32 {
	if !d.need(4, field) {
		return 0
	}
	v := uint32(d.b[0])<<24 | uint32(d.b[1])<<16 | uint32(d.b[2])<<8 | uint32(d.b[3])
	d.b = d.b[4:]
	return v
}

// vbi reads a Variable Byte Integer: at most four bytes, minimally encoded.
func (d *decoder) vbi(field string) int {
	n := 0
	for i := 0; i < 4; i++ {
		if !d.need(1, field) {
			return 0
		}
		b := d.b[0]
		d.b = d.b[1:]
		n |= int(b&0x7F) << (7 * i)
		if b&0x80 == 0 {
			if i > 0 && b == 0 {
				d.fail(malformed("%s: %s: variable byte integer not minimally encoded", d.what, field))
				return 0
			}
			return n
		}
	}
	d.fail(malformed("%s: %s: variable byte integer longer than four bytes", d.what, field))
	return 0
}

// binary reads two-byte-length-prefixed data. The result aliases the body.
func (d *decoder) binary(field string) []byte {
	n := int(d.u16(field))
	if !d.need(n, field) {
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// str reads a UTF-8 Encoded String: well-formed UTF-8 (no surrogates) and no
// U+0000 (spec 1.5.4), else the packet is malformed.
func (d *decoder) str(field string) string {
	b := d.binary(field)
	if d.err != nil {
		return ""
	}
	if !utf8.Valid(b) {
		d.fail(malformed("%s: %s: invalid UTF-8", d.what, field))
		return ""
	}
	for _, c := range b {
		if c == 0 {
			d.fail(malformed("%s: %s: contains U+0000", d.what, field))
			return ""
		}
	}
	return string(b)
}

func (d *decoder) end() {
	if d.err == nil && len(d.b) != 0 {
		d.fail(malformed("%s: %d unexpected trailing bytes", d.what, len(d.b)))
	}
}

// Property sets: which identifiers each packet (or a CONNECT's will) may
// carry, client to server (spec 2.2.2.2).
type propSet uint64

func props(ids ...byte) propSet {
	var s propSet
	for _, id := range ids {
		s |= 1 << id
	}
	return s
}

func (s propSet) has(id byte) bool { return id < 64 && s&(1<<id) != 0 }

var (
	connectProps = props(packets.PropSessionExpiryInterval, packets.PropReceiveMaximum, packets.PropMaximumPacketSize,
		packets.PropTopicAliasMaximum, packets.PropRequestResponseInfo, packets.PropRequestProblemInfo,
		packets.PropUser, packets.PropAuthMethod, packets.PropAuthData)
	willProps = props(packets.PropWillDelayInterval, packets.PropPayloadFormat, packets.PropMessageExpiry,
		packets.PropContentType, packets.PropResponseTopic, packets.PropCorrelationData, packets.PropUser)
	publishProps = props(packets.PropPayloadFormat, packets.PropMessageExpiry, packets.PropTopicAlias,
		packets.PropResponseTopic, packets.PropCorrelationData, packets.PropUser,
		packets.PropSubscriptionIdentifier, packets.PropContentType)
	subscribeProps   = props(packets.PropSubscriptionIdentifier, packets.PropUser)
	unsubscribeProps = props(packets.PropUser)
	disconnectProps  = props(packets.PropSessionExpiryInterval, packets.PropReasonString, packets.PropUser, packets.PropServerReference)
)

// properties reads a property block: its length, then properties allowed by
// set, each at most once except user properties.
func (d *decoder) properties(set propSet) *packets.Properties {
	p := &packets.Properties{}
	n := d.vbi("property length")
	if !d.need(n, "properties") {
		return p
	}
	outer := d.b[n:]
	d.b = d.b[:n]
	var seen propSet
	for d.err == nil && len(d.b) > 0 {
		id := d.byte1("property identifier")
		if !set.has(id) {
			d.fail(malformed("%s: property 0x%02X is not valid here", d.what, id))
			break
		}
		if id != packets.PropUser && seen.has(id) {
			d.fail(protocolError("%s: property 0x%02X appears more than once", d.what, id))
			break
		}
		seen |= 1 << id
		d.property(id, p)
	}
	if d.err != nil {
		return p
	}
	d.b = outer
	return p
}

func (d *decoder) property(id byte, p *packets.Properties) {
	switch id {
	case packets.PropPayloadFormat:
		v := d.byte1("payload format indicator")
		d.check(v <= 1, "payload format indicator %d", v)
		p.PayloadFormat = &v
	case packets.PropMessageExpiry:
		v := d.u32("message expiry interval")
		p.MessageExpiry = &v
	case packets.PropContentType:
		p.ContentType = d.str("content type")
	case packets.PropResponseTopic:
		p.ResponseTopic = d.str("response topic")
		if d.err == nil {
			d.check(validTopicName(p.ResponseTopic), "response topic %q is not a valid topic name", p.ResponseTopic)
		}
	case packets.PropCorrelationData:
		p.CorrelationData = d.binary("correlation data")
	case packets.PropSubscriptionIdentifier:
		v := d.vbi("subscription identifier")
		d.check(v != 0, "subscription identifier 0")
		p.SubscriptionIdentifier = &v
	case packets.PropSessionExpiryInterval:
		v := d.u32("session expiry interval")
		p.SessionExpiryInterval = &v
	case packets.PropAuthMethod:
		p.AuthMethod = d.str("authentication method")
	case packets.PropAuthData:
		p.AuthData = d.binary("authentication data")
	case packets.PropRequestProblemInfo:
		v := d.byte1("request problem information")
		d.check(v <= 1, "request problem information %d", v)
		p.RequestProblemInfo = &v
	case packets.PropWillDelayInterval:
		v := d.u32("will delay interval")
		p.WillDelayInterval = &v
	case packets.PropRequestResponseInfo:
		v := d.byte1("request response information")
		d.check(v <= 1, "request response information %d", v)
		p.RequestResponseInfo = &v
	case packets.PropServerReference:
		p.ServerReference = d.str("server reference")
	case packets.PropReasonString:
		p.ReasonString = d.str("reason string")
	case packets.PropReceiveMaximum:
		v := d.u16("receive maximum")
		d.check(v != 0, "receive maximum 0")
		p.ReceiveMaximum = &v
	case packets.PropTopicAliasMaximum:
		v := d.u16("topic alias maximum")
		p.TopicAliasMaximum = &v
	case packets.PropTopicAlias:
		v := d.u16("topic alias")
		d.check(v != 0, "topic alias 0")
		p.TopicAlias = &v
	case packets.PropUser:
		k := d.str("user property name")
		v := d.str("user property value")
		p.User = append(p.User, packets.User{Key: k, Value: v})
	case packets.PropMaximumPacketSize:
		v := d.u32("maximum packet size")
		d.check(v != 0, "maximum packet size 0")
		p.MaximumPacketSize = &v
	default:
		// Only identifiers of the sets above reach here.
		d.fail(malformed("%s: property 0x%02X is not valid here", d.what, id))
	}
}

// check records a protocol error (a well-encoded but forbidden value).
func (d *decoder) check(ok bool, format string, args ...any) {
	if !ok && d.err == nil {
		d.fail(protocolError(d.what+": "+format, args...))
	}
}

// validTopicName: at least one character and no wildcards (spec 4.7.3,
// 3.3.2-2). UTF-8 validity is checked by str.
func validTopicName(t string) bool {
	return t != "" && !strings.ContainsAny(t, "+#")
}

// validTopicFilter: wildcards only as whole levels, '#' only last (spec 4.7.1).
func validTopicFilter(f string) bool {
	if f == "" {
		return false
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		switch {
		case l == "#":
			if i != len(levels)-1 {
				return false
			}
		case l == "+":
		case strings.ContainsAny(l, "+#"):
			return false
		}
	}
	return true
}

// errUnsupportedVersion is answered with CONNACK 0x84.
func unsupportedVersion(name string, level byte) *refusal {
	switch {
	case name == "MQTT" && level == 4:
		return refuse(codeUnsupportedProtocol, "MQTT 3.1.1 (protocol level 4) is not supported; use MQTT v5")
	case name == "MQIsdp" && level == 3:
		return refuse(codeUnsupportedProtocol, "MQTT 3.1 is not supported; use MQTT v5")
	}
	return refuse(codeUnsupportedProtocol, "protocol %q level %d is not supported; use MQTT v5", name, level)
}

// decodeConnect decodes a CONNECT. It reads the protocol name and level first
// and refuses anything but MQTT v5 with 0x84 before parsing further (a 3.1.1
// CONNECT has no property block, which paho's Connect.Unpack cannot tell).
func decodeConnect(body []byte) (*packets.Connect, *refusal) {
	d := &decoder{b: body, what: "CONNECT"}
	c := &packets.Connect{}
	c.ProtocolName = d.str("protocol name")
	c.ProtocolVersion = d.byte1("protocol level")
	if d.err != nil {
		return nil, d.err
	}
	if c.ProtocolName != "MQTT" || c.ProtocolVersion != 5 {
		return nil, unsupportedVersion(c.ProtocolName, c.ProtocolVersion)
	}
	flags := d.byte1("connect flags")
	if d.err == nil {
		c.UnpackFlags(flags)
		switch {
		case flags&0x01 != 0:
			d.fail(malformed("CONNECT: reserved connect flag is set"))
		case c.WillQOS == 3:
			d.fail(malformed("CONNECT: will QoS 3"))
		case !c.WillFlag && (c.WillQOS != 0 || c.WillRetain):
			d.fail(malformed("CONNECT: will QoS or retain set without a will"))
		}
	}
	c.KeepAlive = d.u16("keep alive")
	c.Properties = d.properties(connectProps)
	if d.err == nil && c.Properties.AuthData != nil && c.Properties.AuthMethod == "" {
		d.fail(protocolError("CONNECT: authentication data without an authentication method"))
	}
	c.ClientID = d.str("client identifier")
	if c.WillFlag {
		c.WillProperties = d.properties(willProps)
		c.WillTopic = d.str("will topic")
		if d.err == nil {
			d.check(validTopicName(c.WillTopic), "will topic %q is not a valid topic name", c.WillTopic)
		}
		c.WillMessage = d.binary("will payload")
	}
	if c.UsernameFlag {
		c.Username = d.str("user name")
	}
	if c.PasswordFlag {
		c.Password = d.binary("password")
	}
	d.end()
	if d.err != nil {
		return nil, d.err
	}
	return c, nil
}

// decodePublish decodes a PUBLISH. The payload aliases body (no copy).
func decodePublish(flags byte, body []byte) (*packets.Publish, *refusal) {
	d := &decoder{b: body, what: "PUBLISH"}
	p := &packets.Publish{QoS: flags >> 1 & 0x03, Duplicate: flags&0x08 != 0, Retain: flags&0x01 != 0}
	if p.QoS == 0 && p.Duplicate {
		return nil, malformed("PUBLISH: DUP set on a QoS 0 message")
	}
	p.Topic = d.str("topic name")
	if p.QoS > 0 {
		p.PacketID = d.u16("packet identifier")
		if d.err == nil && p.PacketID == 0 {
			d.fail(malformed("PUBLISH: packet identifier 0"))
		}
	}
	p.Properties = d.properties(publishProps)
	if d.err != nil {
		return nil, d.err
	}
	p.Payload = d.b
	return p, nil
}

// decodeSubscribe decodes a SUBSCRIBE (fixed flags already checked).
func decodeSubscribe(body []byte) (*packets.Subscribe, *refusal) {
	d := &decoder{b: body, what: "SUBSCRIBE"}
	s := &packets.Subscribe{}
	s.PacketID = d.u16("packet identifier")
	if d.err == nil && s.PacketID == 0 {
		d.fail(malformed("SUBSCRIBE: packet identifier 0"))
	}
	s.Properties = d.properties(subscribeProps)
	for d.err == nil && len(d.b) > 0 {
		f := d.str("topic filter")
		o := d.byte1("subscription options")
		switch {
		case d.err != nil:
		case o&0xC0 != 0:
			d.fail(malformed("SUBSCRIBE: reserved subscription option bits set"))
		case o&0x03 == 3:
			d.fail(malformed("SUBSCRIBE: QoS 3"))
		case o>>4&0x03 == 3:
			d.fail(protocolError("SUBSCRIBE: retain handling 3"))
		default:
			s.Subscriptions = append(s.Subscriptions, packets.SubOptions{Topic: f, QoS: o & 0x03,
				NoLocal: o&0x04 != 0, RetainAsPublished: o&0x08 != 0, RetainHandling: o >> 4 & 0x03})
		}
	}
	if d.err == nil && len(s.Subscriptions) == 0 {
		d.fail(protocolError("SUBSCRIBE without a topic filter"))
	}
	if d.err != nil {
		return nil, d.err
	}
	return s, nil
}

// decodeUnsubscribe decodes an UNSUBSCRIBE (fixed flags already checked).
func decodeUnsubscribe(body []byte) (*packets.Unsubscribe, *refusal) {
	d := &decoder{b: body, what: "UNSUBSCRIBE"}
	u := &packets.Unsubscribe{}
	u.PacketID = d.u16("packet identifier")
	if d.err == nil && u.PacketID == 0 {
		d.fail(malformed("UNSUBSCRIBE: packet identifier 0"))
	}
	u.Properties = d.properties(unsubscribeProps)
	for d.err == nil && len(d.b) > 0 {
		u.Topics = append(u.Topics, d.str("topic filter"))
	}
	if d.err == nil && len(u.Topics) == 0 {
		d.fail(protocolError("UNSUBSCRIBE without a topic filter"))
	}
	if d.err != nil {
		return nil, d.err
	}
	return u, nil
}

// decodeDisconnect decodes a client's DISCONNECT, including the legal
// zero-length form (reason 0x00, no properties) that paho's
// Disconnect.Unpack rejects.
func decodeDisconnect(body []byte) (*packets.Disconnect, *refusal) {
	dc := &packets.Disconnect{Properties: &packets.Properties{}}
	if len(body) == 0 {
		return dc, nil
	}
	d := &decoder{b: body, what: "DISCONNECT"}
	dc.ReasonCode = d.byte1("reason code")
	if len(d.b) > 0 {
		dc.Properties = d.properties(disconnectProps)
		d.end()
	}
	if d.err == nil && dc.Properties.ServerReference != "" {
		d.fail(protocolError("DISCONNECT: a client may not send a server reference"))
	}
	if d.err != nil {
		return nil, d.err
	}
	return dc, nil
}
