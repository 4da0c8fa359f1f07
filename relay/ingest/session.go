package ingest

import (
	"bufio"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/draylink/dray/internal/mqttquic"
	"github.com/draylink/dray/internal/pki"
	"github.com/eclipse/paho.golang/packets"
	"golang.org/x/time/rate"
)

// sessionState is where a session is in its life; guarded by out.mu.
type sessionState int

const (
	stateHandshake    sessionState = iota // TLS handshake, site not known yet
	stateAwaitConnect                     // waiting for CONNECT
	stateConnected                        // CONNACK 0x00 queued
)

// session is one client connection. Its goroutines: serve (the reader,
// started and waited for by the Server) and writeLoop (started and waited
// for by serve). The MQTT session keeps no state beyond the connection:
// SessionPresent is always false and agents re-send from their spools.
type session struct {
	srv       *Server
	conn      conn
	transport string
	remote    string
	since     time.Time
	pr        packetReader

	out        outbox
	done       chan struct{} // closed when the session starts closing
	writerDone chan struct{} // closed when writeLoop returns (or never started)
	ended      chan struct{} // closed when the session is gone

	// Written by serve before the writer starts or before CONNACK is
	// queued (both under out.mu), read-only afterwards.
	site        string
	cert        *x509.Certificate // the client certificate
	log         *slog.Logger
	problemInfo bool // the client's Request Problem Information
	clientMax   int  // the client's Maximum Packet Size (0: none)
	bucket      *rate.Limiter

	// guarded by out.mu
	state sessionState
	subs  map[string]byte // topic filter → granted QoS, for the command downlink
	// peerGone is set by serve when the peer closed first (no drain needed).
	peerGone bool
}

func newSession(srv *Server, c conn, transport string) *session {
	s := &session{
		srv:        srv,
		conn:       c,
		transport:  transport,
		remote:     c.RemoteAddr().String(),
		since:      time.Now(),
		done:       make(chan struct{}),
		writerDone: make(chan struct{}),
		ended:      make(chan struct{}),
		subs:       make(map[string]byte),
	}
	s.out.kick = make(chan struct{}, 1)
	s.pr = packetReader{r: bufio.NewReaderSize(c, 64<<10), max: int(srv.cfg.MaxPacketSize)}
	s.log = srv.log.With("remote", s.remote, "transport", transport)
	return s
}

// errClosing: the session is closing; the reader stops quietly.
var errClosing = errors.New("session closing")

// errClientDisconnect: the client sent DISCONNECT.
var errClientDisconnect = errors.New("client disconnected")

// serve runs the session to its end: TLS handshake, site from the
// certificate, CONNECT, then the read loop; then it closes the connection.
func (s *session) serve() {
	writerStarted := false
	defer func() {
		if !writerStarted {
			close(s.writerDone)
		}
		s.teardown()
	}()

	ctx, cancel := context.WithTimeout(context.Background(), s.srv.cfg.ConnectTimeout)
	state, err := s.conn.handshake(ctx)
	cancel()
	if err != nil {
		if !s.closing() {
			s.audit(0, "tls handshake failed: "+err.Error())
		}
		return
	}
	site, err := pki.SiteFromConnState(state)
	if err != nil {
		s.audit(0, "client certificate refused: "+err.Error())
		return
	}

	s.out.mu.Lock()
	if s.out.closing {
		s.out.mu.Unlock()
		return
	}
	s.site = site
	s.cert = state.PeerCertificates[0]
	s.log = s.log.With("site", site)
	s.state = stateAwaitConnect
	s.out.mu.Unlock()
	writerStarted = true
	go s.writeLoop()

	if err := s.readLoop(); err != nil {
		s.fail(err)
	}
}

// readLoop reads CONNECT, then every packet until an error or closing.
func (s *session) readLoop() error {
	if !s.setReadDeadline(s.srv.cfg.ConnectTimeout) {
		return errClosing
	}
	p, err := s.pr.next()
	if err != nil {
		return err
	}
	if p.typ != packets.CONNECT {
		s.audit(0, fmt.Sprintf("first packet is %s, not CONNECT; closing without an answer", packetName(p.typ)))
		s.stop(nil)
		return nil
	}
	if err := s.handleConnect(p); err != nil {
		return err
	}
	keepAlive := s.srv.cfg.KeepAlive * 3 / 2
	for {
		if !s.setReadDeadline(keepAlive) {
			return errClosing
		}
		p, err := s.pr.next()
		if err != nil {
			return err
		}
		if s.closing() {
			return errClosing
		}
		if err := s.handle(p); err != nil {
			return err
		}
	}
}

// setReadDeadline arms the read deadline, unless the session is closing
// (stop has set a short deadline that must stay).
func (s *session) setReadDeadline(d time.Duration) bool {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	if s.out.closing {
		return false
	}
	_ = s.conn.SetReadDeadline(time.Now().Add(d))
	return true
}

// handle dispatches one packet after CONNECT.
func (s *session) handle(p rawPacket) error {
	switch p.typ {
	case packets.PUBLISH:
		return s.handlePublish(p)
	case packets.PINGREQ:
		if len(p.body) != 0 {
			return malformed("PINGREQ with a %d-byte body", len(p.body))
		}
		s.queue(&packets.Pingresp{})
		return nil
	case packets.SUBSCRIBE:
		return s.handleSubscribe(p)
	case packets.UNSUBSCRIBE:
		return s.handleUnsubscribe(p)
	case packets.DISCONNECT:
		dc, r := decodeDisconnect(p.body)
		if r != nil {
			return r
		}
		s.log.Info("client disconnected", "reason_code", fmt.Sprintf("0x%02X", dc.ReasonCode),
			"reason_string", dc.Properties.ReasonString)
		return errClientDisconnect
	case packets.CONNECT:
		return protocolError("second CONNECT on a connected session")
	case packets.PUBACK, packets.PUBREC, packets.PUBCOMP:
		return protocolError("%s for packet the relay never sent", packetName(p.typ))
	case packets.PUBREL:
		return protocolError("PUBREL, but the relay accepts no QoS 2")
	case packets.AUTH:
		return protocolError("AUTH, but CONNECT named no authentication method")
	}
	return protocolError("%s is a server-to-client packet", packetName(p.typ))
}

// handleConnect checks a CONNECT against the certificate and the relay's
// abilities and queues the CONNACK. Refusals are *refusal values answered
// with a CONNACK carrying their code.
func (s *session) handleConnect(p rawPacket) error {
	c, r := decodeConnect(p.body)
	if r != nil {
		return r
	}
	switch {
	case c.Properties.AuthMethod != "":
		return refuse(codeBadAuthMethod, "enhanced authentication (%q) is not supported; the client certificate is the identity", c.Properties.AuthMethod)
	case c.ClientID != s.site:
		return refuse(codeClientIDNotValid, "client identifier %q does not match the certificate's site %q", c.ClientID, s.site)
	case c.WillFlag && c.WillRetain:
		return refuse(codeRetainNotSupported, "will with retain set; the relay has no retained messages")
	case c.WillFlag && c.WillQOS > 1:
		return refuse(codeQoSNotSupported, "will with QoS %d; maximum QoS is 1", c.WillQOS)
	case c.WillFlag:
		return refuse(codeImplementationSpecific, "will messages are not supported by the relay")
	}
	// User name and password are not used (the certificate is the
	// identity) and never logged.
	s.problemInfo = c.Properties.RequestProblemInfo == nil || *c.Properties.RequestProblemInfo == 1
	if m := c.Properties.MaximumPacketSize; m != nil {
		s.clientMax = int(*m)
	}
	if auth := s.srv.cfg.Authorize; auth != nil {
		if err := auth(s.site, s.cert); err != nil {
			var ae *AuthError
			if errors.As(err, &ae) && (ae.Code == codeBanned || ae.Code == codeNotAuthorized) {
				return refuse(ae.Code, "%s", ae.Reason)
			}
			return refuse(codeNotAuthorized, "%v", err)
		}
	}
	s.bucket = s.srv.limits.bucket(s.site)
	if !s.srv.register(s) {
		return refuse(codeServerUnavailable, "relay shutting down")
	}
	s.out.mu.Lock()
	if s.out.closing {
		s.out.mu.Unlock()
		return errClosing
	}
	s.state = stateConnected
	s.out.queueLocked(s.connack(c))
	s.out.mu.Unlock()
	s.out.wake()
	s.log.Info("session connected", "keep_alive_client", c.KeepAlive, "clean_start", c.CleanStart)
	return nil
}

// connack is the successful CONNACK: the relay's limits and abilities.
func (s *session) connack(c *packets.Connect) *packets.Connack {
	cfg := &s.srv.cfg
	zero, one := byte(0), byte(1)
	receiveMax, maxPacket := cfg.ReceiveMaximum, cfg.MaxPacketSize
	keepAlive := uint16(cfg.KeepAlive / time.Second)
	aliasMax := uint16(0)
	props := &packets.Properties{
		ReceiveMaximum:       &receiveMax,
		MaximumPacketSize:    &maxPacket,
		MaximumQOS:           &one,
		RetainAvailable:      &zero,
		WildcardSubAvailable: &zero,
		SharedSubAvailable:   &zero,
		SubIDAvailable:       &zero,
		TopicAliasMaximum:    &aliasMax,
		ServerKeepAlive:      &keepAlive,
	}
	if e := c.Properties.SessionExpiryInterval; e != nil && *e != 0 {
		// The relay keeps no session: say so (spec 3.2.2.3.2).
		none := uint32(0)
		props.SessionExpiryInterval = &none
	}
	return &packets.Connack{ReasonCode: codeSuccess, SessionPresent: false, Properties: props}
}

// queue hands a control packet to the writer.
func (s *session) queue(p packets.Packet) {
	s.out.mu.Lock()
	ok := s.out.queueLocked(p)
	s.out.mu.Unlock()
	if ok {
		s.out.wake()
	}
}

func (s *session) closing() bool {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	return s.out.closing
}

// fail ends the session after readLoop returned err.
func (s *session) fail(err error) {
	var r *refusal
	var re *errRead
	switch {
	case errors.Is(err, errClosing):
	case errors.Is(err, errClientDisconnect):
		s.markPeerGone()
		s.stop(nil)
	case errors.As(err, &r):
		s.audit(r.code, r.why)
		s.out.mu.Lock()
		var final packets.Packet
		if s.state == stateConnected {
			final = disconnectPacket(r.code, r.why)
		} else {
			final = &packets.Connack{ReasonCode: r.code, Properties: &packets.Properties{ReasonString: r.why}}
		}
		s.stopLocked(final)
		s.out.mu.Unlock()
	case errors.As(err, &re):
		if s.closing() {
			return
		}
		var ne net.Error
		if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			s.out.mu.Lock()
			connected := s.state == stateConnected
			s.out.mu.Unlock()
			if connected {
				why := fmt.Sprintf("no packet for %v (1.5 times the keep alive)", s.srv.cfg.KeepAlive*3/2)
				s.audit(codeKeepAliveTimeout, why)
				s.stop(disconnectPacket(codeKeepAliveTimeout, why))
			} else {
				s.audit(0, fmt.Sprintf("no CONNECT within %v", s.srv.cfg.ConnectTimeout))
				s.stop(nil)
			}
			return
		}
		if errors.Is(err, io.EOF) {
			s.log.Info("connection closed by the client")
		} else {
			s.log.Info("connection lost", "err", err)
		}
		s.markPeerGone()
		s.stop(nil)
	default:
		s.log.Error("session ended by an unexpected error", "err", err)
		s.stop(nil)
	}
}

func (s *session) markPeerGone() {
	s.out.mu.Lock()
	s.peerGone = true
	s.out.mu.Unlock()
}

func disconnectPacket(code byte, why string) *packets.Disconnect {
	return &packets.Disconnect{ReasonCode: code, Properties: &packets.Properties{ReasonString: why}}
}

// stop starts closing: nothing more is queued, the writer sends what is
// ready, then final (if not nil), then closes the sending side. Only the
// first call counts.
func (s *session) stop(final packets.Packet) {
	s.out.mu.Lock()
	s.stopLocked(final)
	s.out.mu.Unlock()
}

func (s *session) stopLocked(final packets.Packet) {
	if s.out.closing {
		return
	}
	s.out.closing = true
	s.out.final = final
	close(s.done)
	// The reader may sit in Read until the peer closes, the writer in a
	// Write to a peer that does not read: bound both.
	deadline := time.Now().Add(closeTimeout)
	_ = s.conn.SetReadDeadline(deadline)
	_ = s.conn.SetWriteDeadline(deadline)
	if s.state == stateHandshake {
		// No writer yet; a handshake in progress only ends with the conn.
		s.conn.abort()
	}
	s.out.wake()
}

// shutdown closes the session from outside (takeover, Disconnect, server
// shutdown): with a DISCONNECT carrying code once connected, silently before.
func (s *session) shutdown(code byte, why string) {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	if s.out.closing {
		return
	}
	var final packets.Packet
	if s.state == stateConnected {
		final = disconnectPacket(code, why)
	}
	s.stopLocked(final)
}

// teardown waits for the writer, lets the last packet reach the peer and
// closes the connection.
func (s *session) teardown() {
	s.stop(nil)
	<-s.writerDone
	s.out.mu.Lock()
	drain := s.out.final != nil && !s.peerGone && s.conn.drainOnClose()
	s.out.mu.Unlock()
	if drain {
		// Until the peer closes or the deadline stop set: closing a TCP
		// socket with unread data sends an RST that can destroy the
		// DISCONNECT or CONNACK just sent.
		_, _ = io.Copy(io.Discard, s.pr.r)
	}
	_ = s.conn.Close()
	if ch := s.conn.closed(); ch != nil {
		select {
		case <-ch:
		case <-time.After(mqttquic.CloseGrace + 100*time.Millisecond):
		}
	}
	s.log.Debug("session closed")
}

// audit logs a refusal: site, remote, transport, reason code and why, at
// warning level with audit=true. Code 0 marks a refusal without an MQTT
// reason code (TLS, certificate, no CONNECT).
func (s *session) audit(code byte, why string, attrs ...any) {
	args := []any{"audit", true, "why", clipReason(why)}
	if code != 0 {
		args = append(args, "reason_code", fmt.Sprintf("0x%02X", code), "reason", ReasonName(code))
	}
	s.log.Warn("refused", append(args, attrs...)...)
}

// info is a snapshot for Server.Sessions.
func (s *session) info() SessionInfo {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	return SessionInfo{Site: s.site, Remote: s.remote, Transport: s.transport, ConnectedSince: s.since, InFlight: len(s.out.acks),
		Certificate: s.cert}
}

// siteIs reports whether the session has authenticated as site.
func (s *session) siteIs(site string) bool {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	return s.state != stateHandshake && s.site == site
}
