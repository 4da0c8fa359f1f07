package ingest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"testing"
	"time"
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

// pipeState is a TLS state carrying a real certificate of site.
func pipeState(t testing.TB, site string) tls.ConnectionState {
	t.Helper()
	cert, err := testPKI().SiteCertificate(site)
	if err != nil {
		t.Fatal(err)
	}
	return tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert.Leaf},
		VerifiedChains: [][]*x509.Certificate{{cert.Leaf, testPKI().CA.Cert}}}
}

// A client that stops reading cannot hold up shutdown: the writer blocked
// on it is cut off after closeTimeout, not WriteTimeout.
func TestShutdownWithStalledClient(t *testing.T) {
	state := pipeState(t, fuzzSite)
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
