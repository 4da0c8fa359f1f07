package ingest

import (
	"bytes"
	"crypto/tls"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/draylink/dray/internal/pki"
	"github.com/draylink/dray/internal/wire"
	"github.com/eclipse/paho.golang/packets"
)

// The tests in this file drive the endpoint with a raw client over real
// TLS/TCP (and QUIC where the transport matters), one refusal each.

func TestIntegrationConnackProperties(t *testing.T) {
	skipShort(t)
	ts := startServer(t, nil, nil)
	for _, dial := range []func(testing.TB, *testServer, string) *rawClient{dialTCP, dialQUIC} {
		c := dial(t, ts, "MEM1")
		cp := connectPacket("MEM1")
		expiry := uint32(3600)
		cp.Properties.SessionExpiryInterval = &expiry
		cp.CleanStart = false
		c.send(cp)
		ca := c.expect(packets.CONNACK).Content.(*packets.Connack)
		p := ca.Properties
		switch {
		case ca.ReasonCode != 0 || ca.SessionPresent:
			t.Fatalf("CONNACK 0x%02X session present %v", ca.ReasonCode, ca.SessionPresent)
		case p.ReceiveMaximum == nil || *p.ReceiveMaximum != DefaultReceiveMaximum,
			p.MaximumPacketSize == nil || *p.MaximumPacketSize != DefaultMaxPacketSize,
			p.MaximumQOS == nil || *p.MaximumQOS != 1,
			p.RetainAvailable == nil || *p.RetainAvailable != 0,
			p.WildcardSubAvailable == nil || *p.WildcardSubAvailable != 0,
			p.SharedSubAvailable == nil || *p.SharedSubAvailable != 0,
			p.SubIDAvailable == nil || *p.SubIDAvailable != 0,
			p.TopicAliasMaximum == nil || *p.TopicAliasMaximum != 0,
			p.ServerKeepAlive == nil || *p.ServerKeepAlive != uint16(DefaultKeepAlive/time.Second),
			p.SessionExpiryInterval == nil || *p.SessionExpiryInterval != 0,
			p.AssignedClientID != "":
			t.Fatalf("CONNACK properties:\n%s", p)
		}
		// PINGREQ → PINGRESP, then the legal zero-length DISCONNECT.
		c.write([]byte{0xC0, 0x00})
		c.expect(packets.PINGRESP)
		c.write([]byte{0xE0, 0x00})
		c.expectClosed()
	}
	if n := len(ts.logs.records()); n == 0 {
		t.Fatal("no log lines")
	}
	for _, r := range ts.logs.records() {
		if r["audit"] == true {
			t.Errorf("audit line for a clean session: %v", r)
		}
	}
}

func TestIntegrationConnectRefusals(t *testing.T) {
	skipShort(t)
	ts := startServer(t, nil, nil)
	willConnect := func(retain bool, qos byte) []byte {
		cp := connectPacket("MEM1")
		cp.WillFlag, cp.WillRetain, cp.WillQOS = true, retain, qos
		cp.WillTopic, cp.WillMessage, cp.WillProperties = "dray/v1/MEM1/events", []byte("bye"), &packets.Properties{}
		var b bytes.Buffer
		_, _ = cp.WriteTo(&b)
		return b.Bytes()
	}
	authConnect := func() []byte {
		cp := connectPacket("MEM1")
		cp.Properties.AuthMethod = "SCRAM-SHA-1"
		var b bytes.Buffer
		_, _ = cp.WriteTo(&b)
		return b.Bytes()
	}
	for _, tc := range []struct {
		name string
		in   []byte
		code byte
		why  string
	}{
		// MQTT 3.1.1 CONNECT, exactly as a 3.1.1 client sends it.
		{"MQTT 3.1.1", cat([]byte{0x10, 16}, str("MQTT"), []byte{4, 0x02, 0, 60}, str("MEM1")), codeUnsupportedProtocol, "3.1.1"},
		{"MQTT 3.1", cat([]byte{0x10, 18}, str("MQIsdp"), []byte{3, 0x02, 0, 60}, str("MEM1")), codeUnsupportedProtocol, "3.1"},
		{"wrong client id", func() []byte { var b bytes.Buffer; _, _ = connectPacket("ATL2").WriteTo(&b); return b.Bytes() }(), codeClientIDNotValid, `"ATL2" does not match`},
		{"long client id", enc(connectPacket(strings.Repeat("é", 30000))), codeClientIDNotValid, "does not match"},
		{"empty client id", func() []byte { var b bytes.Buffer; _, _ = connectPacket("").WriteTo(&b); return b.Bytes() }(), codeClientIDNotValid, `"" does not match`},
		{"will with retain", willConnect(true, 1), codeRetainNotSupported, "will"},
		{"will with QoS 2", willConnect(false, 2), codeQoSNotSupported, "will"},
		{"will", willConnect(false, 1), codeImplementationSpecific, "will"},
		{"enhanced auth", authConnect(), codeBadAuthMethod, "SCRAM"},
		{"malformed CONNECT", cat([]byte{0x10, 13}, str("MQTT"), []byte{5, 0x03, 0, 60, 0}, []byte{0, 0}), codeMalformedPacket, "reserved"},
		{"oversize CONNECT", []byte{0x10, 0xFF, 0xFF, 0xFF, 0x7F}, codePacketTooLarge, "maximum packet size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialTCP(t, ts, "MEM1")
			c.write(tc.in)
			p, err := c.read()
			if err != nil {
				t.Fatalf("no CONNACK: %v", err)
			}
			ca, ok := p.Content.(*packets.Connack)
			if !ok || ca.ReasonCode != tc.code {
				t.Fatalf("got %s; want CONNACK 0x%02X", p, tc.code)
			}
			if rs := ca.Properties.ReasonString; rs == "" || len(rs) > maxReason || !utf8.ValidString(rs) {
				t.Errorf("refusing CONNACK's reason string: %d bytes, valid UTF-8 %v", len(rs), utf8.ValidString(rs))
			}
			c.expectClosed()
			r := ts.logs.waitAudit(t, tc.code, tc.why)
			if r["site"] != "MEM1" || r["remote"] == nil || r["transport"] != TransportTCP {
				t.Errorf("audit line lacks site/remote/transport: %v", r)
			}
		})
	}
	t.Run("MQTT 3.1.1 over QUIC", func(t *testing.T) {
		// The refusing CONNACK must survive the QUIC close.
		c := dialQUIC(t, ts, "MEM1")
		c.write(cat([]byte{0x10, 16}, str("MQTT"), []byte{4, 0x02, 0, 60}, str("MEM1")))
		if ca := c.expect(packets.CONNACK).Content.(*packets.Connack); ca.ReasonCode != codeUnsupportedProtocol {
			t.Fatalf("CONNACK 0x%02X; want 0x84", ca.ReasonCode)
		}
		c.expectClosed()
	})
	t.Run("no CONNECT in time", func(t *testing.T) {
		ts := startServer(t, nil, func(c *Config) { c.ConnectTimeout = 300 * time.Millisecond })
		c := dialTCP(t, ts, "MEM1")
		start := time.Now()
		c.expectClosed()
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("closed after %v; want about 300ms", d)
		}
		ts.logs.waitAudit(t, 0, "no CONNECT within")
	})
	t.Run("first packet not CONNECT", func(t *testing.T) {
		c := dialTCP(t, ts, "MEM1")
		c.write([]byte{0xC0, 0x00})
		c.expectClosed()
		ts.logs.waitAudit(t, 0, "first packet is PINGREQ")
	})
}

// gatedStore holds every Append until the test lets it through.
type gatedStore struct {
	Store
	entered chan int      // the number of batches of each Append, as it starts
	gate    chan struct{} // one value lets one Append through; closed: all
}

func newGatedStore(t testing.TB, inner Store) *gatedStore {
	return &gatedStore{Store: inner, entered: make(chan int, 100), gate: make(chan struct{})}
}

func (g *gatedStore) Append(b []*relaylogIncoming) ([]relaylogResult, error) {
	g.entered <- len(b)
	<-g.gate
	return g.Store.Append(b)
}

// connected dials over TCP and connects as site.
func connected(t *testing.T, ts *testServer, site string) *rawClient {
	t.Helper()
	c := dialTCP(t, ts, site)
	c.mustConnect(site)
	return c
}

func TestIntegrationPublishRefusals(t *testing.T) {
	skipShort(t)
	ts := startServer(t, nil, func(c *Config) { c.RatePerSite, c.RateBurst = 1, 10 })
	events := testEvents(t, "MEM1", 1, 3, 1000)
	good := makeBatch(ts.codec, "epoch-a", 1, events)
	own := wire.EventsTopic("MEM1")

	t.Run("foreign site", func(t *testing.T) {
		c := connected(t, ts, "MEM1")
		c.send(publishPacket(1, wire.EventsTopic("ATL2"), makeBatch(ts.codec, "epoch-a", 1, testEvents(t, "ATL2", 1, 1, 500))))
		if pa := c.puback(); pa.ReasonCode != codeNotAuthorized || pa.PacketID != 1 || pa.Properties.ReasonString == "" {
			t.Fatalf("PUBACK %s; want 0x87 with a reason string", pa)
		}
		r := ts.logs.waitAudit(t, codeNotAuthorized, "site ATL2's topic")
		if r["site"] != "MEM1" || r["packet_id"] != float64(1) {
			t.Errorf("audit line: %v", r)
		}
		c.send(publishPacket(2, wire.CommandsTopic("ATL2"), good))
		if pa := c.puback(); pa.ReasonCode != codeNotAuthorized {
			t.Fatalf("publish to another site's commands: PUBACK 0x%02X; want 0x87", pa.ReasonCode)
		}
		if n := ts.log.LastSeq(); n != 0 {
			t.Fatalf("%d events stored after a refused publish", n)
		}
	})
	t.Run("other topic", func(t *testing.T) {
		c := connected(t, ts, "MEM1")
		for i, topic := range []string{"dray/v1/MEM1/commands", "dray/v2/MEM1/events", "some/topic"} {
			c.send(publishPacket(uint16(i+1), topic, good))
			if pa := c.puback(); pa.ReasonCode != codeTopicNameInvalid {
				t.Fatalf("%s: PUBACK 0x%02X; want 0x90", topic, pa.ReasonCode)
			}
		}
		ts.logs.waitAudit(t, codeTopicNameInvalid, "some/topic")
	})
	t.Run("bad header", func(t *testing.T) {
		c := connected(t, ts, "MEM1")
		b := good
		b.props = b.props[1:] // no dray-epoch
		c.send(publishPacket(1, own, b))
		if pa := c.puback(); pa.ReasonCode != codePayloadFormatInvalid || pa.Properties.ReasonString == "" {
			t.Fatalf("PUBACK %s; want 0x99 with a reason string", pa)
		}
		ts.logs.waitAudit(t, codePayloadFormatInvalid, "missing property dray-epoch")
	})
	t.Run("payload format and content type", func(t *testing.T) {
		c := connected(t, ts, "MEM1")
		utf8Payload := publishPacket(1, own, good)
		one := byte(1)
		utf8Payload.Properties.PayloadFormat = &one
		c.send(utf8Payload)
		if pa := c.puback(); pa.ReasonCode != codePayloadFormatInvalid {
			t.Fatalf("UTF-8 payload format: PUBACK 0x%02X; want 0x99", pa.ReasonCode)
		}
		json := publishPacket(2, own, good)
		json.Properties.ContentType = "application/json"
		c.send(json)
		if pa := c.puback(); pa.ReasonCode != codePayloadFormatInvalid {
			t.Fatalf("content type: PUBACK 0x%02X; want 0x99", pa.ReasonCode)
		}
		ts.logs.waitAudit(t, codePayloadFormatInvalid, "application/json")
	})
	t.Run("bad payload", func(t *testing.T) {
		c := connected(t, ts, "MEM1")
		b := good
		b.payload = []byte("not a batch")
		c.send(publishPacket(1, own, b))
		if pa := c.puback(); pa.ReasonCode != codePayloadFormatInvalid {
			t.Fatalf("PUBACK 0x%02X; want 0x99", pa.ReasonCode)
		}
		ts.logs.waitAudit(t, codePayloadFormatInvalid, "batch payload")
		if n := ts.log.LastSeq(); n != 0 {
			t.Fatalf("%d events stored after a bad payload", n)
		}
	})
	t.Run("rate limit", func(t *testing.T) {
		c := connected(t, ts, "RATE1")
		ten := testEvents(t, "RATE1", 1, 10, 200)
		c.send(publishPacket(1, wire.EventsTopic("RATE1"), makeBatch(ts.codec, "e", 1, ten)))
		if pa := c.puback(); pa.ReasonCode != codeSuccess {
			t.Fatalf("first batch: PUBACK 0x%02X (%s); want 0x00", pa.ReasonCode, pa.Properties.ReasonString)
		}
		more := testEvents(t, "RATE1", 11, 10, 200)
		c.send(publishPacket(2, wire.EventsTopic("RATE1"), makeBatch(ts.codec, "e", 11, more)))
		if pa := c.puback(); pa.ReasonCode != codeQuotaExceeded {
			t.Fatalf("second batch: PUBACK 0x%02X; want 0x97", pa.ReasonCode)
		}
		ts.logs.waitAudit(t, codeQuotaExceeded, "rate limit")
		// The bucket is the site's, not the connection's: reconnecting
		// does not refill it.
		c2 := connected(t, ts, "RATE1")
		c.expectDisconnect(codeSessionTakenOver)
		c2.send(publishPacket(1, wire.EventsTopic("RATE1"), makeBatch(ts.codec, "e", 11, more)))
		if pa := c2.puback(); pa.ReasonCode != codeQuotaExceeded {
			t.Fatalf("after reconnecting: PUBACK 0x%02X; want 0x97", pa.ReasonCode)
		}
		if n := ts.log.LastSeq(); n != 10 {
			t.Fatalf("%d events stored; want the first batch's 10", n)
		}
	})

	// Violations that end the session with a DISCONNECT.
	for _, tc := range []struct {
		name string
		in   func() []byte
		code byte
		why  string
	}{
		{"QoS 0", func() []byte { p := publishPacket(0, own, good); p.QoS = 0; return enc(p) }, codeQoSNotSupported, "QoS 0"},
		{"QoS 2", func() []byte { p := publishPacket(1, own, good); p.QoS = 2; return enc(p) }, codeQoSNotSupported, "QoS 2"},
		{"retain", func() []byte { p := publishPacket(1, own, good); p.Retain = true; return enc(p) }, codeRetainNotSupported, "retain"},
		{"topic alias", func() []byte {
			p := publishPacket(1, own, good)
			a := uint16(1)
			p.Properties.TopicAlias = &a
			return enc(p)
		}, codeTopicAliasInvalid, "topic alias"},
		{"second CONNECT", func() []byte { return enc(connectPacket("MEM1")) }, codeProtocolError, "second CONNECT"},
		{"oversize packet", func() []byte { return []byte{0x32, 0xFF, 0xFF, 0xFF, 0x7F, 0, 1, 'x'} }, codePacketTooLarge, "exceeds the maximum packet size"},
		{"PUBACK from a client", func() []byte { return []byte{0x40, 0x02, 0x00, 0x01} }, codeProtocolError, "PUBACK"},
		{"AUTH", func() []byte { return []byte{0xF0, 0x00} }, codeProtocolError, "AUTH"},
		{"malformed: QoS 3", func() []byte { return []byte{0x36, 0x00} }, codeMalformedPacket, "QoS 3"},
		{"malformed: packet id 0", func() []byte { return enc(publishPacket(0, own, good)) }, codeMalformedPacket, "packet identifier 0"},
		{"malformed: SUBSCRIBE flags", func() []byte { return cat([]byte{0x80, 9, 0, 1, 0}, str("a/b"), []byte{1}) }, codeMalformedPacket, "flags"},
		{"malformed: bad UTF-8 topic", func() []byte { return cat([]byte{0x32, 8}, str("a/\xff\xfe"), []byte{0, 1, 0}) }, codeMalformedPacket, "UTF-8"},
		{"malformed: property length beyond the packet", func() []byte { return cat([]byte{0x32, 9}, str("a/b"), []byte{0, 1, 0x7F, 0x26}) }, codeMalformedPacket, "truncated"},
		{"malformed: bad varint", func() []byte { return []byte{0x32, 0xFF, 0xFF, 0xFF, 0xFF, 0x01} }, codeMalformedPacket, "four bytes"},
		{"malformed: truncated topic", func() []byte { return cat([]byte{0x32, 5}, []byte{0, 50, 'a', 'b', 'c'}) }, codeMalformedPacket, "truncated"},
		{"malformed: PINGREQ with a body", func() []byte { return []byte{0xC0, 0x01, 0x00} }, codeMalformedPacket, "PINGREQ"},
		{"malformed: zero-length DISCONNECT's neighbour", func() []byte { return []byte{0xE0, 0x02, 0x00, 0x05} }, codeMalformedPacket, "DISCONNECT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := connected(t, ts, "MEM1")
			c.write(tc.in())
			d := c.expectDisconnect(tc.code)
			if d.Properties.ReasonString == "" {
				t.Error("DISCONNECT without a reason string")
			}
			ts.logs.waitAudit(t, tc.code, tc.why)
		})
	}
	if n := ts.log.LastSeq(); n != 10 {
		t.Fatalf("%d events stored; want 10 (only the rate test's accepted batch)", n)
	}
}

func enc(p packets.Packet) []byte {
	var b bytes.Buffer
	_, _ = p.WriteTo(&b)
	return b.Bytes()
}

// A client without a certificate, or with one from another CA, never
// reaches MQTT; the refusal is audited.
func TestIntegrationTLSRefusals(t *testing.T) {
	skipShort(t)
	ts := startServer(t, nil, nil)
	other, err := pki.NewTestSetup()
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.ClientTLS("MEM1")
	if err != nil {
		t.Fatal(err)
	}
	foreign.RootCAs = testPKI().CA.Pool() // trusts the relay, presents another CA's certificate
	noCert := clientTLS(t, "MEM1")
	noCert.Certificates = nil
	for i, tc := range []struct {
		name string
		conf *tls.Config
	}{{"no certificate", noCert}, {"another CA", foreign}} {
		conf := tc.conf
		t.Run(tc.name, func(t *testing.T) {
			c, err := tls.Dial("tcp", ts.TCPAddr().String(), conf)
			if err == nil {
				// TLS 1.3: the client learns of the refusal on its first read.
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, _ = c.Write(enc(connectPacket("MEM1")))
				_, err = c.Read(make([]byte, 1))
				_ = c.Close()
			}
			if err == nil {
				t.Fatal("the connection was accepted")
			}
			deadline := time.Now().Add(5 * time.Second)
			for countAudits(ts.logs, 0, "tls handshake failed") != i+1 {
				if time.Now().After(deadline) {
					t.Fatalf("want %d audit lines for failed handshakes; log:\n%s", i+1, ts.logs)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	if s := ts.Sessions(); len(s) != 0 {
		t.Fatalf("Sessions() = %+v", s)
	}
}

func countAudits(l *logSink, code byte, substr string) int {
	n := 0
	for _, r := range l.audits(code) {
		if why, _ := r["why"].(string); strings.Contains(why, substr) {
			n++
		}
	}
	return n
}
