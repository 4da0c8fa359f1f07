package uplink

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/draylink/dray/internal/mqttquic"
	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/packets"
)

// transport dials the relay for autopaho (AttemptConnection): MQTT over
// QUIC first, MQTT over TLS/TCP when QUIC fails. Once on TCP it stays there
// (no QUIC dial, which costs a whole DialTimeout when UDP is dropped) until
// a probe finds QUIC working, at most every QUICRetry. Every dial is
// bounded by DialTimeout: autopaho passes its outer context to
// AttemptConnection, so its ConnectTimeout does not bound the dial.
type transport struct {
	cfg *Config
	log *slog.Logger

	mu        sync.Mutex
	onTCP     bool      // guarded by mu: QUIC failed; prefer TCP
	lastQUIC  time.Time // guarded by mu: last QUIC dial (attempt or probe)
	kind      string    // guarded by mu: transport of conn
	conn      net.Conn  // guarded by mu: the last connection handed to autopaho
	moving    bool      // guarded by mu: conn was closed to move to QUIC
	quicFails int       // guarded by mu: QUIC dials in a row that got no session
	quicConns []*mqttquic.Conn
}

func newTransport(cfg *Config, log *slog.Logger) *transport {
	return &transport{cfg: cfg, log: log}
}

// attempt is autopaho's AttemptConnection.
func (t *transport) attempt(ctx context.Context, _ autopaho.ClientConfig, _ *url.URL) (net.Conn, error) {
	t.mu.Lock()
	t.kind, t.conn = "", nil
	preferTCP := t.cfg.QUICAddr == "" ||
		(t.onTCP && t.cfg.TCPAddr != "" && time.Since(t.lastQUIC) < t.cfg.QUICRetry)
	t.mu.Unlock()

	order := []string{TransportQUIC, TransportTCP}
	if preferTCP {
		order = []string{TransportTCP, TransportQUIC}
	}
	var errs []error
	for _, kind := range order {
		var (
			c   net.Conn
			err error
		)
		switch kind {
		case TransportQUIC:
			if t.cfg.QUICAddr == "" {
				continue
			}
			c, err = t.dialQUIC(ctx)
		case TransportTCP:
			if t.cfg.TCPAddr == "" {
				continue
			}
			c, err = t.dialTCP(ctx)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			t.log.Warn("relay dial failed", "transport", kind, "err", err)
			errs = append(errs, err)
			continue
		}
		t.mu.Lock()
		if kind == TransportTCP && t.cfg.QUICAddr != "" && !t.onTCP {
			t.log.Warn("relay reached over TLS/TCP: QUIC failed; probing QUIC every "+t.cfg.QUICRetry.String(), "tcp", t.cfg.TCPAddr)
		}
		t.onTCP = kind == TransportTCP
		t.kind, t.conn, t.moving = kind, c, false
		t.mu.Unlock()
		return c, nil
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	return nil, fmt.Errorf("%w; %w", errs[0], errs[1])
}

func (t *transport) dialQUIC(ctx context.Context) (*mqttquic.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.DialTimeout)
	defer cancel()
	t.mu.Lock()
	t.lastQUIC = time.Now()
	t.mu.Unlock()
	c, err := mqttquic.Dial(ctx, t.cfg.QUICAddr, t.cfg.TLS, nil)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.quicConns = append(t.quicConns, c)
	t.mu.Unlock()
	return c, nil
}

func (t *transport) dialTCP(ctx context.Context) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.DialTimeout)
	defer cancel()
	d := tls.Dialer{NetDialer: &net.Dialer{KeepAlive: t.cfg.KeepAlive}, Config: t.cfg.TLS}
	c, err := d.DialContext(ctx, "tcp", t.cfg.TCPAddr)
	if err != nil {
		return nil, fmt.Errorf("dial tls %s: %w", t.cfg.TCPAddr, err)
	}
	// paho writes a packet in several calls and locks a sync.Locker conn
	// around them.
	return packets.NewThreadSafeConn(c), nil
}

// quicFailLimit is how many QUIC connections in a row may dial and then
// fail to carry a session before the uplink falls back to TCP. One such
// failure is normal (a relay shutting down accepts the handshake); several
// mean something between passes the QUIC handshake only.
const quicFailLimit = 3

// connectFailed is told that no session came up on the connection attempt
// returned.
func (t *transport) connectFailed() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.kind != TransportQUIC || t.cfg.TCPAddr == "" {
		return
	}
	if t.quicFails++; t.quicFails >= quicFailLimit {
		t.log.Warn("QUIC connects but carries no session; falling back to TLS/TCP", "failures", t.quicFails)
		t.onTCP = true
		t.quicFails = 0
	}
}

// connected is told that a session came up.
func (t *transport) connected() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.kind == TransportQUIC {
		t.quicFails = 0
	}
}

// current returns the transport of the last connection.
func (t *transport) current() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.kind
}

// probe dials QUIC once while the uplink is on TCP and says whether it
// works; the probe connection is closed at once.
func (t *transport) probe(ctx context.Context) bool {
	t.mu.Lock()
	due := t.onTCP && t.cfg.QUICAddr != "" && time.Since(t.lastQUIC) >= t.cfg.QUICRetry
	t.mu.Unlock()
	if !due {
		return false
	}
	c, err := t.dialQUIC(ctx)
	if err != nil {
		t.log.Debug("QUIC probe failed; staying on TLS/TCP", "err", err)
		return false
	}
	_ = c.Close()
	t.mu.Lock()
	t.onTCP = false // the next dial tries QUIC first
	t.mu.Unlock()
	t.log.Info("QUIC probe succeeded; moving back from TLS/TCP to QUIC", "quic", t.cfg.QUICAddr)
	return true
}

// closeConn closes the current connection, so that autopaho reconnects
// (after a successful QUIC probe: over QUIC).
func (t *transport) closeConn() {
	t.mu.Lock()
	c := t.conn
	t.moving = c != nil
	t.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
}

// movingToQUIC says whether the connection was closed on purpose by
// closeConn (and no new one was made since).
func (t *transport) movingToQUIC() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.moving
}

// wait waits, up to limit, for the QUIC connections dialled so far to
// finish closing (mqttquic closes them a grace period after Close).
func (t *transport) wait(limit time.Duration) {
	t.mu.Lock()
	conns := t.quicConns
	t.quicConns = nil
	t.mu.Unlock()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for _, c := range conns {
		_ = c.Close()
		select {
		case <-c.Done():
		case <-deadline.C:
			return
		}
	}
}

// prune forgets QUIC connections that have ended.
func (t *transport) prune() {
	t.mu.Lock()
	defer t.mu.Unlock()
	live := t.quicConns[:0]
	for _, c := range t.quicConns {
		select {
		case <-c.Done():
		default:
			live = append(live, c)
		}
	}
	clear(t.quicConns[len(live):])
	t.quicConns = live
}
