package ingest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/draylink/dray/internal/mqttquic"
	"github.com/draylink/dray/internal/wire"
)

// Server is the relay's MQTT v5 ingest endpoint. New binds its listeners;
// Run serves them and releases everything when it returns.
type Server struct {
	cfg       Config
	store     Store
	codec     *wire.Codec
	log       *slog.Logger
	tlsTCP    *tls.Config
	quic      *mqttquic.Listener // nil without QUICAddr
	tcp       net.Listener       // nil without TCPAddr
	committer *committer
	limits    *siteLimits
	ran       atomic.Bool

	mu           sync.Mutex
	sessions     map[*session]struct{} // guarded by mu: every live connection
	bySite       map[string]*session   // guarded by mu: connected sessions
	shuttingDown bool                  // guarded by mu

	wg sync.WaitGroup // session goroutines
}

// SessionInfo describes a connected session.
type SessionInfo struct {
	Site           string
	Remote         string
	Transport      string // TransportQUIC or TransportTCP
	ConnectedSince time.Time
	// InFlight counts PUBLISHes not yet acknowledged.
	InFlight int
	// Certificate is the client certificate the session connected with.
	Certificate *x509.Certificate
}

// New checks cfg, fills in defaults and binds the listeners. The caller
// must call Run (even with a cancelled context) to release them. codec
// opens batch payloads; it is shared and safe for concurrent use.
func New(cfg Config, store Store, codec *wire.Codec) (*Server, error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, fmt.Errorf("ingest config: %w", err)
	}
	if store == nil || codec == nil {
		return nil, errors.New("ingest: a store and a codec are required")
	}
	s := newServer(cfg, store, codec)
	if cfg.TCPAddr != "" {
		ln, err := net.Listen("tcp", cfg.TCPAddr)
		if err != nil {
			return nil, fmt.Errorf("ingest: listen tcp: %w", err)
		}
		s.tcp = ln
	}
	if cfg.QUICAddr != "" {
		ln, err := mqttquic.Listen(cfg.QUICAddr, cfg.TLS, nil)
		if err != nil {
			if s.tcp != nil {
				_ = s.tcp.Close()
			}
			return nil, fmt.Errorf("ingest: %w", err)
		}
		s.quic = ln
	}
	return s, nil
}

// newServer builds a Server without listeners from a checked config.
func newServer(cfg Config, store Store, codec *wire.Codec) *Server {
	s := &Server{
		cfg:      cfg,
		store:    store,
		codec:    codec,
		log:      cfg.Logger.With("component", "ingest"),
		tlsTCP:   cfg.TLS.Clone(),
		limits:   newSiteLimits(cfg.RatePerSite, cfg.RateBurst),
		sessions: make(map[*session]struct{}),
		bySite:   make(map[string]*session),
	}
	s.committer = newCommitter(store, &s.cfg, s.log)
	return s
}

// QUICAddr is the bound UDP address (nil without QUIC).
func (s *Server) QUICAddr() net.Addr {
	if s.quic == nil {
		return nil
	}
	return s.quic.Addr()
}

// TCPAddr is the bound TCP address (nil without TCP).
func (s *Server) TCPAddr() net.Addr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr()
}

// Run serves until ctx ends, then stops accepting, closes every session
// (DISCONNECT 0x8B), waits for all of its goroutines and returns nil. If the
// relay log fails in a way that needs it reopened, Run shuts down the same
// way and returns that error. Run may be called once.
func (s *Server) Run(ctx context.Context) error {
	if !s.ran.CompareAndSwap(false, true) {
		return errors.New("ingest: Run called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var loops sync.WaitGroup
	loops.Go(s.committer.run)
	if s.tcp != nil {
		loops.Go(func() { s.acceptTCP(s.tcp) })
	}
	if s.quic != nil {
		loops.Go(func() { s.acceptQUIC(ctx, s.quic) })
	}
	s.log.Info("ingest listening", "quic", s.QUICAddr(), "tcp", s.TCPAddr(),
		"receive_maximum", s.cfg.ReceiveMaximum, "max_packet_size", s.cfg.MaxPacketSize)

	var runErr error
	reason := "relay shutting down"
	select {
	case <-ctx.Done():
	case err := <-s.committer.failed:
		runErr = fmt.Errorf("ingest: relay log failed: %w", err)
		reason = "relay log failed; reconnect later"
	}

	// Stop accepting, close the sessions, then the committer (which drops
	// what is still queued, unacknowledged), then the QUIC socket (last:
	// closed sessions still send their final packets through it).
	cancel()
	if s.tcp != nil {
		_ = s.tcp.Close()
	}
	s.mu.Lock()
	s.shuttingDown = true
	live := make([]*session, 0, len(s.sessions))
	for sess := range s.sessions {
		live = append(live, sess)
	}
	s.mu.Unlock()
	for _, sess := range live {
		sess.shutdown(codeServerShuttingDown, reason)
	}
	s.wg.Wait()
	s.committer.close()
	loops.Wait()
	if s.quic != nil {
		_ = s.quic.Close()
	}
	s.log.Info("ingest stopped")
	return runErr
}

// startSession runs a new connection's session unless the server is
// shutting down (then it returns nil).
func (s *Server) startSession(c conn, transport string) *session {
	sess := newSession(s, c, transport)
	s.mu.Lock()
	if s.shuttingDown {
		s.mu.Unlock()
		c.abort()
		return nil
	}
	s.sessions[sess] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.forget(sess)
		sess.serve()
	}()
	return sess
}

// register makes sess its site's session. An older session of the site is
// taken over: the certificate proves identity, and the newest connection is
// the agent's current one. The old session enqueues nothing after its
// shutdown, so the new session's batches follow all of the old one's.
func (s *Server) register(sess *session) bool {
	s.mu.Lock()
	if s.shuttingDown {
		s.mu.Unlock()
		return false
	}
	old := s.bySite[sess.site]
	s.bySite[sess.site] = sess
	s.mu.Unlock()
	if old != nil {
		why := "session taken over by a new connection of the same site from " + sess.remote
		old.audit(codeSessionTakenOver, why)
		old.shutdown(codeSessionTakenOver, why)
	}
	return true
}

func (s *Server) forget(sess *session) {
	s.mu.Lock()
	if s.bySite[sess.site] == sess {
		delete(s.bySite, sess.site)
	}
	delete(s.sessions, sess)
	s.mu.Unlock()
	close(sess.ended)
	s.wg.Done()
}

// Sessions lists the connected sessions, by site.
func (s *Server) Sessions() []SessionInfo {
	s.mu.Lock()
	list := make([]*session, 0, len(s.bySite))
	for _, sess := range s.bySite {
		list = append(list, sess)
	}
	s.mu.Unlock()
	out := make([]SessionInfo, len(list))
	for i, sess := range list {
		out[i] = sess.info()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Site < out[j].Site })
	return out
}

// Disconnect closes a site's session with a DISCONNECT carrying reason
// (e.g. 0x98 Administrative action when its certificate is revoked). It
// returns at once; the session ends in the background.
func (s *Server) Disconnect(site string, reason byte) {
	s.DisconnectWhy(site, reason, "disconnected by the relay")
}

// DisconnectWhy is Disconnect with a reason string for the audit line and
// the client. Every live connection of the site is closed, including one
// still between its handshake and CONNACK.
func (s *Server) DisconnectWhy(site string, reason byte, why string) {
	s.mu.Lock()
	var list []*session
	for sess := range s.sessions {
		if sess.siteIs(site) {
			list = append(list, sess)
		}
	}
	s.mu.Unlock()
	for _, sess := range list {
		sess.audit(reason, why)
		sess.shutdown(reason, why)
	}
}
