package ingest

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/draylink/dray/internal/wire"
	"github.com/draylink/dray/relay/relaylog"
	"github.com/eclipse/paho.golang/packets"
)

// gated starts a server whose store holds every Append until released;
// everything still held is released when the test ends.
func gated(t *testing.T, edit func(*Config)) (*testServer, *gatedStore) {
	t.Helper()
	g := newGatedStore(t, openLog(t))
	ts := startServer(t, g, edit)
	ts.log = g.Store.(*relaylogLog)
	t.Cleanup(func() { close(g.gate) }) // runs before the server's cleanup
	return ts, g
}

func (g *gatedStore) waitAppend(t *testing.T) int {
	t.Helper()
	select {
	case n := <-g.entered:
		return n
	case <-time.After(5 * time.Second):
		t.Fatal("no Append")
		return 0
	}
}

// expectNothing checks that the server sends nothing for d.
func (c *rawClient) expectNothing(d time.Duration) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	if _, err := c.r.Peek(1); err == nil {
		p, _ := c.read()
		c.t.Fatalf("unexpected %v", p)
	}
}

// No PUBACK 0x00 before the store's Append has returned, and PUBACKs in
// the order the PUBLISHes came, immediate refusals included.
func TestIntegrationAckAfterCommitInOrder(t *testing.T) {
	skipShort(t)
	ts, g := gated(t, nil)
	c := connected(t, ts, "MEM1")
	own := wire.EventsTopic("MEM1")
	b1 := makeBatch(ts.codec, "e", 1, testEvents(t, "MEM1", 1, 4, 500))
	b2 := makeBatch(ts.codec, "e", 5, testEvents(t, "MEM1", 5, 4, 500))
	c.send(publishPacket(10, own, b1))
	if n := g.waitAppend(t); n != 1 {
		t.Fatalf("first group has %d batches; want 1", n)
	}
	// While the first commit is held: a refusal (immediate) and a batch
	// that forms the next group.
	c.send(publishPacket(11, wire.EventsTopic("ATL2"), b1))
	c.send(publishPacket(12, own, b2))
	c.expectNothing(300 * time.Millisecond)
	if got := ts.Sessions(); len(got) != 1 || got[0].InFlight != 3 || got[0].Site != "MEM1" || got[0].Transport != TransportTCP {
		t.Fatalf("Sessions() = %+v; want MEM1 over tcp with 3 in flight", got)
	}
	if ts.log.LastSeq() != 0 {
		t.Fatal("stored before the gate opened")
	}
	g.gate <- struct{}{}
	if pa := c.puback(); pa.PacketID != 10 || pa.ReasonCode != 0 {
		t.Fatalf("first PUBACK %s; want id 10, 0x00", pa)
	}
	if pa := c.puback(); pa.PacketID != 11 || pa.ReasonCode != codeNotAuthorized {
		t.Fatalf("second PUBACK %s; want id 11, 0x87", pa)
	}
	g.waitAppend(t)
	c.expectNothing(200 * time.Millisecond)
	g.gate <- struct{}{}
	if pa := c.puback(); pa.PacketID != 12 || pa.ReasonCode != 0 {
		t.Fatalf("third PUBACK %s; want id 12, 0x00", pa)
	}
	if n := ts.log.LastSeq(); n != 8 {
		t.Fatalf("%d events stored; want 8", n)
	}
}

func TestIntegrationReceiveMaximum(t *testing.T) {
	skipShort(t)
	ts, g := gated(t, func(c *Config) { c.ReceiveMaximum = 2 })
	c := dialTCP(t, ts, "MEM1")
	if ca := c.mustConnect("MEM1"); *ca.Properties.ReceiveMaximum != 2 {
		t.Fatalf("Receive Maximum %d announced; want 2", *ca.Properties.ReceiveMaximum)
	}
	own := wire.EventsTopic("MEM1")
	b := makeBatch(ts.codec, "e", 1, testEvents(t, "MEM1", 1, 1, 100))
	c.send(publishPacket(1, own, b))
	g.waitAppend(t)
	c.send(publishPacket(2, own, b))
	c.send(publishPacket(3, own, b))
	c.expectDisconnect(codeReceiveMaximumExceeded)
	ts.logs.waitAudit(t, codeReceiveMaximumExceeded, "Receive Maximum")
}

func TestIntegrationPacketIDInUse(t *testing.T) {
	skipShort(t)
	ts, g := gated(t, nil)
	c := connected(t, ts, "MEM1")
	b := makeBatch(ts.codec, "e", 1, testEvents(t, "MEM1", 1, 1, 100))
	c.send(publishPacket(5, wire.EventsTopic("MEM1"), b))
	g.waitAppend(t)
	c.send(publishPacket(5, wire.EventsTopic("MEM1"), b))
	c.expectDisconnect(codeProtocolError)
	ts.logs.waitAudit(t, codeProtocolError, "packet identifier 5 is in use")
}

func TestIntegrationSessionTakeover(t *testing.T) {
	skipShort(t)
	ts := startServer(t, nil, nil)
	for _, dial := range []func(testing.TB, *testServer, string) *rawClient{dialTCP, dialQUIC} {
		old := dial(t, ts, "MEM1")
		old.mustConnect("MEM1")
		newer := dial(t, ts, "MEM1")
		newer.mustConnect("MEM1")
		old.expectDisconnect(codeSessionTakenOver)
		ts.logs.waitAudit(t, codeSessionTakenOver, "new connection")
		// The new session works.
		newer.write([]byte{0xC0, 0x00})
		newer.expect(packets.PINGRESP)
		_, port, _ := net.SplitHostPort(newer.conn.LocalAddr().String()) // QUIC's is [::]:port
		if s := ts.Sessions(); len(s) != 1 || !strings.HasSuffix(s[0].Remote, ":"+port) {
			t.Fatalf("Sessions() = %+v; want only the new connection %s", s, newer.conn.LocalAddr())
		}
		newer.write([]byte{0xE0, 0x00})
		newer.expectClosed()
	}
}

func TestIntegrationKeepAliveTimeout(t *testing.T) {
	skipShort(t)
	ts := startServer(t, nil, func(c *Config) { c.KeepAlive = time.Second })
	c := dialTCP(t, ts, "MEM1")
	if ca := c.mustConnect("MEM1"); *ca.Properties.ServerKeepAlive != 1 {
		t.Fatalf("Server Keep Alive %d; want 1", *ca.Properties.ServerKeepAlive)
	}
	// A ping inside the window keeps the session.
	time.Sleep(1000 * time.Millisecond)
	c.write([]byte{0xC0, 0x00})
	c.expect(packets.PINGRESP)
	start := time.Now()
	c.expectDisconnect(codeKeepAliveTimeout)
	if d := time.Since(start); d < 1400*time.Millisecond || d > 3*time.Second {
		t.Fatalf("closed %v after the last packet; want about 1.5s", d)
	}
	ts.logs.waitAudit(t, codeKeepAliveTimeout, "keep alive")
}

func TestIntegrationSubscribe(t *testing.T) {
	skipShort(t)
	ts := startServer(t, nil, nil)
	c := connected(t, ts, "MEM1")
	c.send(&packets.Subscribe{PacketID: 1, Properties: &packets.Properties{}, Subscriptions: []packets.SubOptions{
		{Topic: "dray/v1/MEM1/commands", QoS: 1},
		{Topic: "dray/v1/ATL2/commands", QoS: 1},
		{Topic: "dray/v1/MEM1/events", QoS: 0},
		{Topic: "dray/v1/+/commands", QoS: 1},
		{Topic: "$share/g/dray/v1/MEM1/commands", QoS: 1},
		{Topic: "a/#/b", QoS: 1},
	}})
	sa := c.expect(packets.SUBACK).Content.(*packets.Suback)
	want := []byte{codeGrantedQoS1, codeNotAuthorized, codeNotAuthorized, codeWildcardSubsUnsupported,
		codeSharedSubsNotSupported, codeTopicFilterInvalid}
	if sa.PacketID != 1 || string(sa.Reasons) != string(want) {
		t.Fatalf("SUBACK %v; want %v", sa.Reasons, want)
	}
	ts.logs.waitAudit(t, codeNotAuthorized, "may subscribe to")

	// QoS 2 is granted as 1, QoS 0 as 0.
	c.send(&packets.Subscribe{PacketID: 2, Properties: &packets.Properties{}, Subscriptions: []packets.SubOptions{
		{Topic: "dray/v1/MEM1/commands", QoS: 2}}})
	if sa := c.expect(packets.SUBACK).Content.(*packets.Suback); string(sa.Reasons) != string([]byte{1}) {
		t.Fatalf("QoS 2 request: SUBACK %v; want [1]", sa.Reasons)
	}
	c.send(&packets.Subscribe{PacketID: 3, Properties: &packets.Properties{}, Subscriptions: []packets.SubOptions{
		{Topic: "dray/v1/MEM1/commands", QoS: 0}}})
	if sa := c.expect(packets.SUBACK).Content.(*packets.Suback); string(sa.Reasons) != string([]byte{0}) {
		t.Fatalf("QoS 0 request: SUBACK %v; want [0]", sa.Reasons)
	}
	id := 7
	c.send(&packets.Subscribe{PacketID: 4, Properties: &packets.Properties{SubscriptionIdentifier: &id},
		Subscriptions: []packets.SubOptions{{Topic: "dray/v1/MEM1/commands", QoS: 1}}})
	if sa := c.expect(packets.SUBACK).Content.(*packets.Suback); string(sa.Reasons) != string([]byte{codeSubIDsNotSupported}) {
		t.Fatalf("subscription identifier: SUBACK %v; want [0xA1]", sa.Reasons)
	}

	c.send(&packets.Unsubscribe{PacketID: 5, Properties: &packets.Properties{},
		Topics: []string{"dray/v1/MEM1/commands", "dray/v1/ATL2/commands"}})
	ua := c.expect(packets.UNSUBACK).Content.(*packets.Unsuback)
	if ua.PacketID != 5 || string(ua.Reasons) != string([]byte{codeSuccess, codeNoSubscriptionExisted}) {
		t.Fatalf("UNSUBACK %v; want [0x00 0x11]", ua.Reasons)
	}
}

func TestIntegrationDisconnectAndShutdown(t *testing.T) {
	skipShort(t)
	ts := startServer(t, nil, nil)
	a := connected(t, ts, "MEM1")
	b := dialQUIC(t, ts, "ATL2")
	b.mustConnect("ATL2")
	ts.Disconnect("MEM1", codeAdministrativeAction)
	a.expectDisconnect(codeAdministrativeAction)
	ts.logs.waitAudit(t, codeAdministrativeAction, "disconnected by the relay")
	deadline := time.Now().Add(5 * time.Second)
	for len(ts.Sessions()) != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s := ts.Sessions(); len(s) != 1 || s[0].Site != "ATL2" || s[0].Transport != TransportQUIC {
		t.Fatalf("Sessions() = %+v; want ATL2 over quic", s)
	}
	ts.Disconnect("NOPE1", codeAdministrativeAction) // no session: nothing happens

	// Shutting the server down sends 0x8B to the QUIC session, and Run
	// returns once everything is closed.
	stopped := make(chan error, 1)
	start := time.Now()
	go func() { stopped <- ts.stop() }()
	b.expectDisconnect(codeServerShuttingDown)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
	// Every goroutine of the endpoint has ended.
	if leaked := ingestGoroutines(); len(leaked) > 0 {
		t.Fatalf("goroutines left after Run returned:\n%s", strings.Join(leaked, "\n\n"))
	}
}

// ingestGoroutines returns the stacks of goroutines running the endpoint's
// code (the test's own are excluded).
func ingestGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "dray/relay/ingest.(*") && !strings.Contains(g, "dray/relay/ingest.Test") &&
			!strings.Contains(g, "_test.go") {
			out = append(out, g)
		}
	}
	return out
}

// failingStore fails every Append the way a broken relay log does.
type failingStore struct{ err error }

func (f failingStore) Append([]*relaylogIncoming) ([]relaylogResult, error) { return nil, f.err }

// When the relay log fails for good, nothing is acknowledged (0x80), the
// sessions are closed and Run returns the error, so that the process
// restarts and reopens the log.
func TestIntegrationStoreFailure(t *testing.T) {
	skipShort(t)
	ts := startServer(t, failingStore{fmt.Errorf("append: %w", relaylog.ErrFailed)}, nil)
	ts.runErrOK = true
	c := connected(t, ts, "MEM1")
	c.send(publishPacket(1, wire.EventsTopic("MEM1"), makeBatch(ts.codec, "e", 1, testEvents(t, "MEM1", 1, 2, 300))))
	if pa := c.puback(); pa.ReasonCode != codeUnspecifiedError {
		t.Fatalf("PUBACK 0x%02X; want 0x80", pa.ReasonCode)
	}
	d := c.expectDisconnect(codeServerShuttingDown)
	if !strings.Contains(d.Properties.ReasonString, "relay log failed") {
		t.Errorf("DISCONNECT reason %q", d.Properties.ReasonString)
	}
	if err := ts.stop(); !errors.Is(err, relaylog.ErrFailed) {
		t.Fatalf("Run returned %v; want relaylog.ErrFailed", err)
	}
}
