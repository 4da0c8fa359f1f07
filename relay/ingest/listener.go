package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"time"

	"github.com/draylink/dray/internal/mqttquic"
)

// Transports.
const (
	TransportQUIC = "quic"
	TransportTCP  = "tcp"
)

// conn is a client connection as the session sees it: a net.Conn plus the
// transport-specific ways to authenticate and to close it. The session code
// is the same over every transport.
type conn interface {
	net.Conn
	// handshake completes the TLS handshake (a no-op where the listener
	// already did it) and returns the TLS state with the peer certificate.
	handshake(ctx context.Context) (tls.ConnectionState, error)
	// closeWrite ends the sending side after the last packet so that it
	// still reaches the peer: TLS close_notify and a TCP FIN, or the QUIC
	// stream's FIN with the connection closed after a grace period.
	closeWrite()
	// abort closes at once, dropping unsent data (a stalled peer, shutdown
	// before CONNECT).
	abort()
	// drainOnClose says whether to read and discard what the peer still
	// sends before the final close. On TCP, closing with unread data makes
	// the kernel send an RST, which can destroy the DISCONNECT just sent.
	drainOnClose() bool
	// closed is closed when the transport is fully gone (nil: at Close).
	closed() <-chan struct{}
}

// tcpConn is MQTT over TLS over TCP.
type tcpConn struct {
	*tls.Conn
	raw net.Conn
}

func newTCPConn(raw net.Conn, cfg *tls.Config) *tcpConn {
	return &tcpConn{Conn: tls.Server(raw, cfg), raw: raw}
}

func (c *tcpConn) handshake(ctx context.Context) (tls.ConnectionState, error) {
	err := c.HandshakeContext(ctx)
	return c.ConnectionState(), err
}

func (c *tcpConn) closeWrite()             { _ = c.CloseWrite() }
func (c *tcpConn) abort()                  { _ = c.raw.Close() }
func (c *tcpConn) drainOnClose() bool      { return true }
func (c *tcpConn) closed() <-chan struct{} { return nil }

// Close closes the TCP connection without another TLS alert: the session
// has sent close_notify in closeWrite, or is aborting.
func (c *tcpConn) Close() error { return c.raw.Close() }

// quicConn is MQTT on the first bidirectional stream of a QUIC connection.
type quicConn struct{ *mqttquic.Conn }

func (c quicConn) handshake(context.Context) (tls.ConnectionState, error) {
	return c.ConnectionState(), nil
}

// closeWrite uses mqttquic's graceful Close: stream FIN, reads cancelled,
// connection closed after mqttquic.CloseGrace so the last packets arrive.
func (c quicConn) closeWrite()             { _ = c.Close() }
func (c quicConn) abort()                  { _ = c.Abort(0, "") }
func (c quicConn) drainOnClose() bool      { return false }
func (c quicConn) closed() <-chan struct{} { return c.Done() }

// acceptTCP accepts TCP connections until the listener is closed.
func (s *Server) acceptTCP(ln net.Listener) {
	backoff := time.Duration(0)
	for {
		raw, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept tcp", "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.startSession(newTCPConn(raw, s.tlsTCP), TransportTCP)
	}
}

// acceptQUIC accepts MQTT-over-QUIC sessions until ctx ends.
func (s *Server) acceptQUIC(ctx context.Context, ln *mqttquic.Listener) {
	for {
		c, err := ln.Accept(ctx)
		if err != nil {
			return // ctx ended or the listener closed
		}
		s.startSession(quicConn{c}, TransportQUIC)
	}
}
