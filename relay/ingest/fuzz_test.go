package ingest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/draylink/dray/internal/wire"
	"github.com/draylink/dray/relay/relaylog"
	"github.com/eclipse/paho.golang/packets"
)

// pipeConn runs a session without a network: two net.Pipes, one per
// direction, so that the client can end its input (the server reads EOF)
// and still read everything the server sends. The TLS state carries a real
// site certificate.
type pipeConn struct {
	in, out net.Conn // the server's ends: it reads in and writes out
	state   tls.ConnectionState
}

// newPipeConn returns the server's conn and the client's two ends.
func newPipeConn(state tls.ConnectionState) (srv *pipeConn, clientIn, clientOut net.Conn) {
	inServer, inClient := net.Pipe()
	outServer, outClient := net.Pipe()
	return &pipeConn{in: inServer, out: outServer, state: state}, inClient, outClient
}

func (p *pipeConn) Read(b []byte) (int, error)  { return p.in.Read(b) }
func (p *pipeConn) Write(b []byte) (int, error) { return p.out.Write(b) }
func (p *pipeConn) Close() error                { _ = p.in.Close(); return p.out.Close() }
func (p *pipeConn) LocalAddr() net.Addr         { return p.in.LocalAddr() }
func (p *pipeConn) RemoteAddr() net.Addr        { return p.in.RemoteAddr() }
func (p *pipeConn) SetDeadline(t time.Time) error {
	_ = p.in.SetDeadline(t)
	return p.out.SetDeadline(t)
}
func (p *pipeConn) SetReadDeadline(t time.Time) error  { return p.in.SetReadDeadline(t) }
func (p *pipeConn) SetWriteDeadline(t time.Time) error { return p.out.SetWriteDeadline(t) }

func (p *pipeConn) handshake(context.Context) (tls.ConnectionState, error) { return p.state, nil }
func (p *pipeConn) closeWrite()                                            { _ = p.out.Close() }
func (p *pipeConn) abort()                                                 { _ = p.Close() }
func (p *pipeConn) drainOnClose() bool                                     { return false }
func (p *pipeConn) closed() <-chan struct{}                                { return nil }

// recordingStore records what reaches the relay log.
type recordingStore struct {
	Store
	mu  sync.Mutex
	got []*relaylog.Incoming
}

func (r *recordingStore) Append(b []*relaylog.Incoming) ([]relaylog.Result, error) {
	r.mu.Lock()
	r.got = append(r.got, b...)
	r.mu.Unlock()
	return r.Store.Append(b)
}

func (r *recordingStore) take() []*relaylog.Incoming {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got
	r.got = nil
	return got
}

const fuzzSite = "FUZZ1"

// FuzzSession feeds arbitrary bytes after a valid CONNECT into a session
// over net.Pipe. It checks that the session ends without a panic, that
// allocation stays bounded by the input (not by declared lengths), and that
// nothing reaches the relay log unless the input held a well-formed batch
// PUBLISH (judged independently, with paho's decoder and the wire package).
func FuzzSession(f *testing.F) {
	cert, err := testPKI().SiteCertificate(fuzzSite)
	if err != nil {
		f.Fatal(err)
	}
	state := tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert.Leaf},
		VerifiedChains: [][]*x509.Certificate{{cert.Leaf, testPKI().CA.Cert}}}
	codec, err := wire.NewCodec(0, 4<<20)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(codec.Close)
	store := &recordingStore{Store: openLog(f)}
	cfg := Config{TCPAddr: "unused (no listener)", TLS: testPKI().ServerTLS(), MaxPacketSize: 1 << 20,
		ConnectTimeout: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)}
	if err := cfg.withDefaults(); err != nil {
		f.Fatal(err)
	}
	srv := newServer(cfg, store, codec)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	f.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			f.Error(err)
		}
	})

	connect := enc(connectPacket(fuzzSite))
	events := testEvents(f, fuzzSite, 1, 3, 400)
	good := makeBatch(codec, "fuzz", 1, events)
	big := makeBatch(codec, "fuzz", 4, testEvents(f, fuzzSite, 4, 8, 1000)) // compressed
	topic := wire.EventsTopic(fuzzSite)
	f.Add(enc(publishPacket(1, topic, good)))
	f.Add(cat(enc(publishPacket(1, topic, good)), enc(publishPacket(2, topic, big)), []byte{0xC0, 0x00, 0xE0, 0x00}))
	f.Add(cat(enc(publishPacket(1, wire.EventsTopic("ATL2"), good)), []byte{0xE0, 0x00}))
	f.Add(enc(&packets.Subscribe{PacketID: 1, Properties: &packets.Properties{},
		Subscriptions: []packets.SubOptions{{Topic: wire.CommandsTopic(fuzzSite), QoS: 1}}}))
	f.Add([]byte{0x32, 0xFF, 0xFF, 0xFF, 0x7F, 1, 2, 3})
	f.Add([]byte{0x32, 0x80, 0x80, 0x3F, 0, 1, 'a'})
	f.Add(connect)

	f.Fuzz(func(t *testing.T, data []byte) {
		store.take()
		conn, clientIn, clientOut := newPipeConn(state)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		sess := srv.startSession(conn, "pipe")
		read := make(chan struct{})
		go func() {
			_, _ = io.Copy(io.Discard, clientOut)
			close(read)
		}()
		// The input ends with EOF; until then the server reads it all,
		// unless it refuses something and closes (then Write fails).
		_ = clientIn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := clientIn.Write(connect); err == nil {
			_, _ = clientIn.Write(data)
		}
		_ = clientIn.Close()
		select {
		case <-sess.ended:
		case <-time.After(10 * time.Second):
			t.Fatal("session did not end 10s after its input did")
		}
		_ = clientOut.Close()
		<-read
		waitCommitted(t, srv.committer)
		runtime.ReadMemStats(&after)
		if n, limit := after.TotalAlloc-before.TotalAlloc, uint64(16<<20+64*len(data)); n > limit {
			t.Fatalf("allocated %d bytes for %d input bytes (limit %d)", n, len(data), limit)
		}
		got := store.take()
		if len(got) > 0 && !holdsBatch(data, codec) {
			t.Fatalf("%d batches reached the store, but the input holds no well-formed batch PUBLISH", len(got))
		}
		for _, in := range got {
			if in.Site != fuzzSite || uint64(len(in.Events)) != in.Header.Count() {
				t.Fatalf("stored batch of site %q with %d events for header %+v", in.Site, len(in.Events), in.Header)
			}
		}
	})
}

// waitCommitted waits until the committer holds nothing.
func waitCommitted(t *testing.T, c *committer) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		idle := c.queued == 0
		c.mu.Unlock()
		if idle {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("committer still busy after 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// holdsBatch is the oracle: whether some frame of data is a QoS 1 PUBLISH
// to the fuzz site's events topic whose header and payload the wire
// package accepts, decoded with paho's (lenient) Publish.Unpack.
func holdsBatch(data []byte, codec *wire.Codec) bool {
	for len(data) >= 2 {
		typ, flags := data[0]>>4, data[0]&0x0F
		n, k := 0, 1
		for ; k <= 4 && k < len(data); k++ {
			n |= int(data[k]&0x7F) << (7 * (k - 1))
			if data[k]&0x80 == 0 {
				break
			}
		}
		if k > 4 || k >= len(data) || n > len(data)-k-1 {
			return false
		}
		body := data[k+1 : k+1+n]
		data = data[k+1+n:]
		if typ != packets.PUBLISH || flags>>1&3 != 1 {
			continue
		}
		p := &packets.Publish{QoS: 1, Properties: &packets.Properties{}}
		if p.Unpack(bytes.NewBuffer(bytes.Clone(body))) != nil || p.Topic != wire.EventsTopic(fuzzSite) {
			continue
		}
		var props []wire.Property
		for _, u := range p.Properties.User {
			props = append(props, wire.Property{Key: u.Key, Value: u.Value})
		}
		h, err := wire.ParseHeader(props)
		if err != nil {
			continue
		}
		if _, err := codec.Open(h, p.Payload); err == nil {
			return true
		}
	}
	return false
}

// A client that stops reading cannot hold up shutdown: the writer blocked
// on it is cut off after closeTimeout, not WriteTimeout.
func TestShutdownWithStalledClient(t *testing.T) {
	cert, err := testPKI().SiteCertificate(fuzzSite)
	if err != nil {
		t.Fatal(err)
	}
	state := tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert.Leaf},
		VerifiedChains: [][]*x509.Certificate{{cert.Leaf, testPKI().CA.Cert}}}
	cfg := Config{TCPAddr: "unused (no listener)", TLS: testPKI().ServerTLS(), WriteTimeout: time.Minute,
		Logger: slog.New(slog.DiscardHandler)}
	if err := cfg.withDefaults(); err != nil {
		t.Fatal(err)
	}
	srv := newServer(cfg, openLog(t), newCodec(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()

	conn, clientIn, clientOut := newPipeConn(state)
	defer clientOut.Close()
	defer clientIn.Close()
	sess := srv.startSession(conn, "pipe")
	if _, err := clientIn.Write(enc(connectPacket(fuzzSite))); err != nil {
		t.Fatal(err)
	}
	// Nobody reads clientOut: the CONNACK write blocks (net.Pipe has no buffer).
	for len(srv.Sessions()) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run still blocked 20s after its context ended")
	}
	if d := time.Since(start); d > closeTimeout+2*time.Second {
		t.Fatalf("shutdown took %v with a stalled client; want about %v", d, closeTimeout)
	}
	<-sess.ended
}
