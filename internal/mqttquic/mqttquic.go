// Package mqttquic carries MQTT over QUIC the way EMQX and NanoMQ do: one QUIC
// connection per MQTT session, ALPN "mqtt", MQTT on the first bidirectional
// stream the client opens. Conn adapts that stream to net.Conn.
//
// LIBRARIES.md traps handled here: a QUIC stream forbids concurrent writes,
// so Conn is a sync.Locker that paho locks around each packet's writes (every
// other writer must lock it too); Stream.Close closes only the send side, so
// Close also cancels reading; closing the connection at once would drop the
// last unsent bytes (a PUBACK, a DISCONNECT), so the connection is closed
// after a short grace period; the idle timeout needs keepalives; dials are
// bounded; 0-RTT stays off (a replayable CONNECT).
package mqttquic

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
)

// ALPN is the application protocol of MQTT over QUIC.
const ALPN = "mqtt"

// CloseGrace is how long Close lets unsent stream data drain before closing
// the QUIC connection.
const CloseGrace = 200 * time.Millisecond

// Config returns the QUIC settings dray uses on both ends: keepalives well
// inside the idle timeout, bounded handshakes, one bidirectional stream, no
// 0-RTT.
func Config() *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout: 5 * time.Second,
		MaxIdleTimeout:       30 * time.Second,
		KeepAlivePeriod:      10 * time.Second,
		MaxIncomingStreams:   1,
		// Unidirectional streams are not used.
		MaxIncomingUniStreams: -1,
		// Large windows: a batch is up to a few MiB and many are in flight.
		InitialStreamReceiveWindow:     4 << 20,
		MaxStreamReceiveWindow:         32 << 20,
		InitialConnectionReceiveWindow: 8 << 20,
		MaxConnectionReceiveWindow:     64 << 20,
		Allow0RTT:                      false,
	}
}

// Conn is an MQTT session over QUIC: the first bidirectional stream of a
// QUIC connection, as a net.Conn.
type Conn struct {
	conn   *quic.Conn
	stream *quic.Stream
	mu     sync.Mutex // serialises writers; see Lock
	once   sync.Once
}

var (
	_ net.Conn    = (*Conn)(nil)
	_ sync.Locker = (*Conn)(nil)
)

// Lock takes the write lock. paho's packet writer calls it around the writes
// of one packet; any other writer must hold it while writing.
func (c *Conn) Lock() { c.mu.Lock() }

// Unlock releases the write lock.
func (c *Conn) Unlock() { c.mu.Unlock() }

func (c *Conn) Read(p []byte) (int, error)  { return c.stream.Read(p) }
func (c *Conn) Write(p []byte) (int, error) { return c.stream.Write(p) }

// Close closes the stream both ways and the connection after CloseGrace. It
// is idempotent.
func (c *Conn) Close() error {
	var err error
	c.once.Do(func() {
		err = c.stream.Close()
		c.stream.CancelRead(0)
		conn := c.conn
		time.AfterFunc(CloseGrace, func() { _ = conn.CloseWithError(0, "") })
	})
	return err
}

// Abort closes the connection at once with an application error code.
func (c *Conn) Abort(code uint64, reason string) error {
	return c.conn.CloseWithError(quic.ApplicationErrorCode(code), reason)
}

// LocalAddr is the local UDP address of the QUIC connection.
func (c *Conn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// RemoteAddr is the peer's UDP address.
func (c *Conn) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// SetDeadline sets the stream's read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error { return c.stream.SetDeadline(t) }

// SetReadDeadline sets the stream's read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.stream.SetReadDeadline(t) }

// SetWriteDeadline sets the stream's write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.stream.SetWriteDeadline(t) }

// ConnectionState returns the TLS state (peer certificates) of the connection.
func (c *Conn) ConnectionState() tls.ConnectionState { return c.conn.ConnectionState().TLS }

// Done is closed when the QUIC connection ends.
func (c *Conn) Done() <-chan struct{} { return c.conn.Context().Done() }

func withALPN(tlsConf *tls.Config) *tls.Config {
	t := tlsConf.Clone()
	t.NextProtos = []string{ALPN}
	return t
}

// Dial opens a QUIC connection to addr and the MQTT stream on it. ctx bounds
// the whole dial (quic-go does not fail fast against a silent server).
func Dial(ctx context.Context, addr string, tlsConf *tls.Config, conf *quic.Config) (*Conn, error) {
	if conf == nil {
		conf = Config()
	}
	qc, err := quic.DialAddr(ctx, addr, withALPN(tlsConf), conf)
	if err != nil {
		return nil, fmt.Errorf("dial quic %s: %w", addr, err)
	}
	st, err := qc.OpenStreamSync(ctx)
	if err != nil {
		_ = qc.CloseWithError(0, "")
		return nil, fmt.Errorf("dial quic %s: open stream: %w", addr, err)
	}
	return &Conn{conn: qc, stream: st}, nil
}

// Listener accepts MQTT-over-QUIC sessions.
type Listener struct {
	ln      *quic.Listener
	ready   chan *Conn
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	timeout time.Duration
}

// Listen listens on a UDP address. A connection becomes an accepted Conn once
// the client opens its stream (within the handshake timeout).
func Listen(addr string, tlsConf *tls.Config, conf *quic.Config) (*Listener, error) {
	if conf == nil {
		conf = Config()
	}
	ln, err := quic.ListenAddr(addr, withALPN(tlsConf), conf)
	if err != nil {
		return nil, fmt.Errorf("listen quic %s: %w", addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Listener{ln: ln, ready: make(chan *Conn), ctx: ctx, cancel: cancel, timeout: conf.HandshakeIdleTimeout}
	if l.timeout <= 0 {
		l.timeout = 5 * time.Second
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l, nil
}

func (l *Listener) acceptLoop() {
	defer l.wg.Done()
	for {
		qc, err := l.ln.Accept(l.ctx)
		if err != nil {
			return
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			ctx, cancel := context.WithTimeout(l.ctx, l.timeout)
			st, err := qc.AcceptStream(ctx)
			cancel()
			if err != nil {
				_ = qc.CloseWithError(0, "no stream")
				return
			}
			c := &Conn{conn: qc, stream: st}
			select {
			case l.ready <- c:
			case <-l.ctx.Done():
				_ = qc.CloseWithError(0, "shutting down")
			}
		}()
	}
}

// ErrClosed is returned by Accept after Close.
var ErrClosed = errors.New("mqttquic: listener closed")

// Accept waits for the next session.
func (l *Listener) Accept(ctx context.Context) (*Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.ctx.Done():
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Addr is the UDP address listened on.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Close stops accepting, closes the UDP socket and waits for the accept
// goroutines. Sessions already accepted are the caller's to close.
func (l *Listener) Close() error {
	l.cancel()
	err := l.ln.Close()
	l.wg.Wait()
	return err
}
