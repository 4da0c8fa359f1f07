package ingest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/mqttquic"
	"github.com/draylink/dray/internal/pki"
	"github.com/draylink/dray/internal/wire"
	"github.com/draylink/dray/relay/relaylog"
	"github.com/eclipse/paho.golang/packets"
)

// testPKI is one CA and server certificate for the whole test binary
// (key generation is the slow part of a TLS test).
var testPKI = sync.OnceValue(func() *pki.TestSetup {
	ts, err := pki.NewTestSetup()
	if err != nil {
		panic(err)
	}
	return ts
})

func clientTLS(t testing.TB, site string) *tls.Config {
	t.Helper()
	c, err := testPKI().ClientTLS(site)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func skipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
}

// logSink collects the server's JSON log lines.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logSink) records() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(l.buf.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// audits returns the audit lines with a reason code (0: those without one).
func (l *logSink) audits(code byte) []map[string]any {
	var out []map[string]any
	want := any(nil)
	if code != 0 {
		want = fmt.Sprintf("0x%02X", code)
	}
	for _, r := range l.records() {
		if r["audit"] == true && r["reason_code"] == want {
			out = append(out, r)
		}
	}
	return out
}

// waitAudit waits for an audit line with code whose "why" contains substr.
func (l *logSink) waitAudit(t testing.TB, code byte, substr string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, r := range l.audits(code) {
			if why, _ := r["why"].(string); strings.Contains(why, substr) {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audit line with reason 0x%02X and %q; log:\n%s", code, substr, l.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// testServer is a running Server with a real relay log.
type testServer struct {
	*Server
	log   *relaylog.Log
	codec *wire.Codec
	logs  *logSink
	stop  func() error // cancels Run and waits for it (idempotent)
	// runErrOK: the test checks Run's error itself.
	runErrOK bool
}

func openLog(t testing.TB) *relaylog.Log {
	t.Helper()
	l, err := relaylog.Open(relaylog.Options{Dir: t.TempDir(), RetentionInterval: -1,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func newCodec(t testing.TB) *wire.Codec {
	t.Helper()
	c, err := wire.NewCodec(0, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// startServer runs a server on 127.0.0.1 (QUIC and TCP) until the test
// ends; Run must then return within a few seconds. store nil means a fresh
// relay log; edit may change the config.
func startServer(t testing.TB, store Store, edit func(*Config)) *testServer {
	t.Helper()
	ts := &testServer{codec: newCodec(t), logs: &logSink{}}
	if store == nil {
		ts.log = openLog(t)
		store = ts.log
	} else if l, ok := store.(*relaylog.Log); ok {
		ts.log = l
	}
	cfg := Config{
		QUICAddr: "127.0.0.1:0",
		TCPAddr:  "127.0.0.1:0",
		TLS:      testPKI().ServerTLS(),
		Logger:   slog.New(slog.NewJSONHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&cfg)
	}
	srv, err := New(cfg, store, ts.codec)
	if err != nil {
		t.Fatal(err)
	}
	ts.Server = srv
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	ts.stop = sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			return errors.New("Run did not return 10s after its context ended")
		}
	})
	t.Cleanup(func() {
		if err := ts.stop(); err != nil && !ts.runErrOK {
			t.Errorf("Run: %v", err)
		}
	})
	return ts
}

// testEvents makes n real canonical events of a site, sequence-numbered
// from first, each padded to about size bytes in binary.
func testEvents(t testing.TB, site string, first uint64, n int, size int) [][]byte {
	t.Helper()
	zone := time.FixedZone("CDT", -5*3600)
	origin := canonical.Origin{SiteID: site, Source: "urn:dray:" + site + ":wms-db", SourceSystem: "wms.db"}
	out := make([][]byte, 0, n)
	for i := range n {
		seq := first + uint64(i)
		note := ""
		if size > 300 {
			note = strings.Repeat("n", min(size-300, 1000))
		}
		data := &canonical.InventoryMoved{Movement: &canonical.InventoryMovement{
			SourceKey: fmt.Sprint(seq), MovementType: canonical.MovementType_MOVEMENT_TYPE_PICK,
			Item:     &canonical.ItemRef{OwnerId: "ACME", Sku: "AF-1001"},
			From:     &canonical.Location{SiteId: site, Code: "A-03-01-A"},
			Quantity: canonical.Qty("20", "XCS"), Note: note}}
		e, err := canonical.NewEvent(origin, canonical.Record{Key: fmt.Sprintf("movement/%d", seq), Version: "1"},
			time.Date(2025, 3, 14, 13, 58, 7, 0, zone), data)
		if err != nil {
			t.Fatal(err)
		}
		b, err := canonical.MarshalBinary(e)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// batch is one sealed batch: header, user properties and payload.
type batch struct {
	header  wire.Header
	props   []packets.User
	payload []byte
	events  [][]byte
}

func makeBatch(codec *wire.Codec, epoch string, first uint64, events [][]byte) batch {
	return makeStreamBatch(codec, epoch, 0, first, events)
}

func makeStreamBatch(codec *wire.Codec, epoch string, stream uint32, first uint64, events [][]byte) batch {
	h := wire.Header{Epoch: epoch, Lane: canonical.LaneOperational, Stream: stream, First: first, Last: first + uint64(len(events)) - 1}
	var body []byte
	for _, e := range events {
		body = wire.AppendRecord(body, e)
	}
	payload := codec.Seal(&h, body)
	var props []packets.User
	for _, p := range h.Properties() {
		props = append(props, packets.User{Key: p.Key, Value: p.Value})
	}
	return batch{header: h, props: props, payload: payload, events: events}
}

// stored reads every event of the log.
func stored(t testing.TB, l *relaylog.Log) []relaylog.Entry {
	t.Helper()
	var out []relaylog.Entry
	from := uint64(0)
	for {
		got, err := l.Read(from, 4096, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			return out
		}
		out = append(out, got...)
		from = got[len(got)-1].Seq + 1
	}
}

// rawClient speaks MQTT byte by byte, for the refusal tests.
type rawClient struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func dialTCP(t testing.TB, ts *testServer, site string) *rawClient {
	t.Helper()
	d := tls.Dialer{Config: clientTLS(t, site), NetDialer: &net.Dialer{Timeout: 5 * time.Second}}
	c, err := d.DialContext(context.Background(), "tcp", ts.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &rawClient{t: t, conn: c, r: bufio.NewReader(c)}
}

func dialQUIC(t testing.TB, ts *testServer, site string) *rawClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := mqttquic.Dial(ctx, ts.QUICAddr().String(), clientTLS(t, site), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &rawClient{t: t, conn: c, r: bufio.NewReader(c)}
}

func (c *rawClient) write(b []byte) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *rawClient) send(p packets.Packet) {
	c.t.Helper()
	var buf bytes.Buffer
	if _, err := p.WriteTo(&buf); err != nil {
		c.t.Fatal(err)
	}
	c.write(buf.Bytes())
}

// read reads the next packet from the server (within 5s).
func (c *rawClient) read() (*packets.ControlPacket, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	return packets.ReadPacket(c.r)
}

func (c *rawClient) expect(typ byte) *packets.ControlPacket {
	c.t.Helper()
	p, err := c.read()
	if err != nil {
		c.t.Fatalf("waiting for %s: %v", packetName(typ), err)
	}
	if p.Type != typ {
		c.t.Fatalf("got %s; want %s", p.String(), packetName(typ))
	}
	return p
}

func connectPacket(clientID string) *packets.Connect {
	return &packets.Connect{ProtocolName: "MQTT", ProtocolVersion: 5, ClientID: clientID, KeepAlive: 30,
		CleanStart: true, Properties: &packets.Properties{}}
}

// connect sends CONNECT and returns the CONNACK.
func (c *rawClient) connect(clientID string) *packets.Connack {
	c.t.Helper()
	c.send(connectPacket(clientID))
	return c.expect(packets.CONNACK).Content.(*packets.Connack)
}

// mustConnect connects and fails the test unless CONNACK is 0x00.
func (c *rawClient) mustConnect(site string) *packets.Connack {
	c.t.Helper()
	ca := c.connect(site)
	if ca.ReasonCode != 0 {
		c.t.Fatalf("CONNACK 0x%02X (%s); want 0x00", ca.ReasonCode, ca.Properties.ReasonString)
	}
	return ca
}

func publishPacket(id uint16, topic string, b batch) *packets.Publish {
	return &packets.Publish{QoS: 1, PacketID: id, Topic: topic, Payload: b.payload,
		Properties: &packets.Properties{User: b.props, ContentType: wire.ContentType}}
}

func (c *rawClient) puback() *packets.Puback {
	c.t.Helper()
	return c.expect(packets.PUBACK).Content.(*packets.Puback)
}

// expectDisconnect waits for a DISCONNECT with code, then for the close.
func (c *rawClient) expectDisconnect(code byte) *packets.Disconnect {
	c.t.Helper()
	for {
		p, err := c.read()
		if err != nil {
			c.t.Fatalf("waiting for DISCONNECT 0x%02X: %v", code, err)
		}
		if p.Type == packets.PUBACK {
			continue // acks released before the DISCONNECT
		}
		if p.Type != packets.DISCONNECT {
			c.t.Fatalf("got %s; want DISCONNECT 0x%02X", p.String(), code)
		}
		d := p.Content.(*packets.Disconnect)
		if d.ReasonCode != code {
			c.t.Fatalf("DISCONNECT 0x%02X (%s); want 0x%02X", d.ReasonCode, d.Properties.ReasonString, code)
		}
		c.expectClosed()
		return d
	}
}

// expectClosed waits for the server to close the connection.
func (c *rawClient) expectClosed() {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := io.Copy(io.Discard, c.r)
	if err != nil && !isClosedErr(err) {
		c.t.Fatalf("waiting for close: %v (after %d bytes)", err, n)
	}
	if n != 0 {
		c.t.Fatalf("%d bytes after the last packet", n)
	}
}

func isClosedErr(err error) bool {
	if err == nil {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return true // reset, application close: the server is gone
}

type (
	relaylogIncoming = relaylog.Incoming
	relaylogResult   = relaylog.Result
)

type relaylogLog = relaylog.Log

func userProp(p wire.Property) packets.User { return packets.User{Key: p.Key, Value: p.Value} }
