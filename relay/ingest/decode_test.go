package ingest

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/eclipse/paho.golang/packets"
)

// body returns the encoding of p without its fixed header.
func body(t testing.TB, p packets.Packet) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := p.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	i := 1
	for b[i]&0x80 != 0 {
		i++
	}
	return b[i+1:]
}

func str(s string) []byte { return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestDecodeConnect(t *testing.T) {
	good := body(t, connectPacket("MEM1"))
	if c, r := decodeConnect(good); r != nil || c.ClientID != "MEM1" || c.KeepAlive != 30 || !c.CleanStart {
		t.Fatalf("good CONNECT: %+v, %v", c, r)
	}
	v311 := cat(str("MQTT"), []byte{4, 0x02, 0, 30}, str("MEM1")) // no property block
	withProps := func(props ...byte) []byte {
		return cat(str("MQTT"), []byte{5, 0x02, 0, 30, byte(len(props))}, props, str("MEM1"))
	}
	for _, tc := range []struct {
		name string
		in   []byte
		code byte
	}{
		{"MQTT 3.1.1", v311, codeUnsupportedProtocol},
		{"MQTT 3.1", cat(str("MQIsdp"), []byte{3, 0x02, 0, 30}, str("MEM1")), codeUnsupportedProtocol},
		{"unknown protocol", cat(str("MQTX"), []byte{5}), codeUnsupportedProtocol},
		{"truncated name", []byte{0, 4, 'M'}, codeMalformedPacket},
		{"reserved flag", cat(str("MQTT"), []byte{5, 0x03, 0, 30, 0}, str("MEM1")), codeMalformedPacket},
		{"will QoS without will", cat(str("MQTT"), []byte{5, 0x0A, 0, 30, 0}, str("MEM1")), codeMalformedPacket},
		{"will QoS 3", cat(str("MQTT"), []byte{5, 0x1E, 0, 30, 0}, str("MEM1")), codeMalformedPacket},
		{"property length beyond the packet", cat(str("MQTT"), []byte{5, 0x02, 0, 30, 40}, str("MEM1")), codeMalformedPacket},
		{"property not valid in CONNECT", withProps(packets.PropTopicAlias, 0, 1), codeMalformedPacket},
		{"receive maximum 0", withProps(packets.PropReceiveMaximum, 0, 0), codeProtocolError},
		{"receive maximum twice", withProps(packets.PropReceiveMaximum, 0, 1, packets.PropReceiveMaximum, 0, 2), codeProtocolError},
		{"maximum packet size 0", withProps(packets.PropMaximumPacketSize, 0, 0, 0, 0), codeProtocolError},
		{"request problem info 2", withProps(packets.PropRequestProblemInfo, 2), codeProtocolError},
		{"auth data without method", withProps(packets.PropAuthData, 0, 1, 'x'), codeProtocolError},
		{"bad UTF-8 client id", cat(str("MQTT"), []byte{5, 0x02, 0, 30, 0}, str("M\xffM1")), codeMalformedPacket},
		{"U+0000 in client id", cat(str("MQTT"), []byte{5, 0x02, 0, 30, 0}, str("M\x00M1")), codeMalformedPacket},
		{"surrogate in client id", cat(str("MQTT"), []byte{5, 0x02, 0, 30, 0}, str("M\xed\xa0\x80")), codeMalformedPacket},
		{"trailing bytes", append(good[:len(good):len(good)], 0), codeMalformedPacket},
		{"user name flag without user name", cat(str("MQTT"), []byte{5, 0x82, 0, 30, 0}, str("MEM1")), codeMalformedPacket},
		{"non-minimal property length", cat(str("MQTT"), []byte{5, 0x02, 0, 30, 0x80, 0x00}, str("MEM1")), codeMalformedPacket},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, r := decodeConnect(tc.in)
			if r == nil || r.code != tc.code {
				t.Fatalf("got %v; want 0x%02X", r, tc.code)
			}
		})
	}
}

func TestDecodePublish(t *testing.T) {
	good := &packets.Publish{QoS: 1, PacketID: 7, Topic: "dray/v1/MEM1/events", Payload: []byte("payload"),
		Properties: &packets.Properties{User: []packets.User{{Key: "k", Value: "v"}}}}
	p, r := decodePublish(0x02, body(t, good))
	if r != nil || p.PacketID != 7 || p.Topic != good.Topic || string(p.Payload) != "payload" || p.Properties.User[0].Value != "v" {
		t.Fatalf("good PUBLISH: %+v, %v", p, r)
	}
	topic := str("dray/v1/MEM1/events")
	for _, tc := range []struct {
		name  string
		flags byte
		in    []byte
		code  byte
	}{
		{"packet id 0", 0x02, cat(topic, []byte{0, 0, 0}), codeMalformedPacket},
		{"DUP on QoS 0", 0x08, cat(topic, []byte{0}), codeMalformedPacket},
		{"truncated topic", 0x02, []byte{0, 9, 'd'}, codeMalformedPacket},
		{"bad UTF-8 topic", 0x02, cat(str("dray/\xc3\x28"), []byte{0, 1, 0}), codeMalformedPacket},
		{"property length beyond the packet", 0x02, cat(topic, []byte{0, 1, 9, packets.PropUser}), codeMalformedPacket},
		{"user property truncated", 0x02, cat(topic, []byte{0, 1, 4, packets.PropUser, 0, 1, 'k'}), codeMalformedPacket},
		{"property not valid in PUBLISH", 0x02, cat(topic, []byte{0, 1, 3, packets.PropReceiveMaximum, 0, 1}), codeMalformedPacket},
		{"payload format 2", 0x02, cat(topic, []byte{0, 1, 2, packets.PropPayloadFormat, 2}), codeProtocolError},
		{"topic alias 0", 0x02, cat(topic, []byte{0, 1, 3, packets.PropTopicAlias, 0, 0}), codeProtocolError},
		{"content type twice", 0x02, cat(topic, []byte{0, 1, 8, packets.PropContentType, 0, 1, 'a', packets.PropContentType, 0, 1, 'b'}), codeProtocolError},
		{"five-byte property length", 0x02, cat(topic, []byte{0, 1, 0x80, 0x80, 0x80, 0x80, 0x01}), codeMalformedPacket},
		{"response topic with wildcard", 0x02, cat(topic, []byte{0, 1, 4, packets.PropResponseTopic, 0, 1, '#'}), codeProtocolError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, r := decodePublish(tc.flags, tc.in)
			if r == nil || r.code != tc.code {
				t.Fatalf("got %v; want 0x%02X", r, tc.code)
			}
		})
	}
}

func TestDecodeSubscribeUnsubscribeDisconnect(t *testing.T) {
	good := &packets.Subscribe{PacketID: 3, Properties: &packets.Properties{},
		Subscriptions: []packets.SubOptions{{Topic: "dray/v1/MEM1/commands", QoS: 1}}}
	if s, r := decodeSubscribe(body(t, good)); r != nil || len(s.Subscriptions) != 1 || s.Subscriptions[0].QoS != 1 {
		t.Fatalf("good SUBSCRIBE: %+v, %v", s, r)
	}
	filter := str("dray/v1/MEM1/commands")
	for _, tc := range []struct {
		name string
		dec  func([]byte) *refusal
		in   []byte
		code byte
	}{
		{"SUBSCRIBE packet id 0", subRefusal, cat([]byte{0, 0, 0}, filter, []byte{1}), codeMalformedPacket},
		{"SUBSCRIBE no filter", subRefusal, []byte{0, 1, 0}, codeProtocolError},
		{"SUBSCRIBE reserved option bits", subRefusal, cat([]byte{0, 1, 0}, filter, []byte{0x41}), codeMalformedPacket},
		{"SUBSCRIBE QoS 3", subRefusal, cat([]byte{0, 1, 0}, filter, []byte{0x03}), codeMalformedPacket},
		{"SUBSCRIBE retain handling 3", subRefusal, cat([]byte{0, 1, 0}, filter, []byte{0x31}), codeProtocolError},
		{"SUBSCRIBE options missing", subRefusal, cat([]byte{0, 1, 0}, filter), codeMalformedPacket},
		{"SUBSCRIBE subscription id 0", subRefusal, cat([]byte{0, 1, 2, packets.PropSubscriptionIdentifier, 0}, filter, []byte{1}), codeProtocolError},
		{"UNSUBSCRIBE no filter", unsubRefusal, []byte{0, 1, 0}, codeProtocolError},
		{"UNSUBSCRIBE packet id 0", unsubRefusal, cat([]byte{0, 0, 0}, filter), codeMalformedPacket},
		{"UNSUBSCRIBE bad UTF-8", unsubRefusal, cat([]byte{0, 1, 0}, str("\xff")), codeMalformedPacket},
		{"DISCONNECT properties beyond the packet", discRefusal, []byte{0x00, 0x05, 0x1F}, codeMalformedPacket},
		{"DISCONNECT server reference from a client", discRefusal, cat([]byte{0x00, 4, packets.PropServerReference}, str("x")), codeProtocolError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := tc.dec(tc.in); r == nil || r.code != tc.code {
				t.Fatalf("got %v; want 0x%02X", r, tc.code)
			}
		})
	}
	// The zero-length DISCONNECT (e0 00) is legal: reason 0x00.
	if d, r := decodeDisconnect(nil); r != nil || d.ReasonCode != 0 {
		t.Fatalf("zero-length DISCONNECT: %+v, %v", d, r)
	}
	if d, r := decodeDisconnect([]byte{0x04}); r != nil || d.ReasonCode != 0x04 {
		t.Fatalf("one-byte DISCONNECT: %+v, %v", d, r)
	}
}

func subRefusal(b []byte) *refusal   { _, r := decodeSubscribe(b); return r }
func unsubRefusal(b []byte) *refusal { _, r := decodeUnsubscribe(b); return r }
func discRefusal(b []byte) *refusal  { _, r := decodeDisconnect(b); return r }

func TestTopicFilters(t *testing.T) {
	for f, want := range map[string]bool{
		"dray/v1/MEM1/commands": true, "#": true, "a/+/b": true, "a/#": true, "+": true,
		"": false, "a/#/b": false, "a+/b": false, "a/b#": false,
	} {
		if got := validTopicFilter(f); got != want {
			t.Errorf("validTopicFilter(%q) = %v; want %v", f, got, want)
		}
	}
}

func TestClipReason(t *testing.T) {
	long := strings.Repeat("é", 1000) // 2 bytes each
	got := clipReason(long)
	if len(got) > maxReason || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Fatalf("clipReason: %d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
	}
	if clipReason("short") != "short" {
		t.Fatal("a short reason changed")
	}
}
