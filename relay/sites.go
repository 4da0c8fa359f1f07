package relay

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/draylink/dray/relay/admin"
	"github.com/draylink/dray/relay/enroll"
	"github.com/draylink/dray/relay/ingest"
	"github.com/draylink/dray/relay/siteca"
)

// sweepEvery is how often live sessions are checked against the registry
// (revocations that raced a CONNECT, certificates that expired while
// connected).
const sweepEvery = 2 * time.Second

// sites ties the site registry to the relay: the enrollment endpoint, the
// ingest authorization hook, revocation of live sessions and the admin
// API's view of the sites.
type sites struct {
	reg    *siteca.Registry
	log    *slog.Logger
	enroll *enroll.Server
	ln     net.Listener

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	ingest *ingest.Server // guarded by mu; nil until start
}

var _ admin.Sites = (*sites)(nil)

// openSites opens the registry and binds the enrollment endpoint, or
// returns nil when enrollment is not configured.
func openSites(cfg *Config, audit, log *slog.Logger) (*sites, error) {
	if cfg.Enrollment.Listen == "" {
		return nil, nil
	}
	ca, err := siteca.LoadAuthority(cfg.TLS.ClientCAFile, cfg.Enrollment.CAKeyFile)
	if err != nil {
		return nil, err
	}
	reg, err := siteca.Open(siteca.Options{Path: SitesPath(cfg.DataDir), CA: ca, TokenTTL: cfg.Enrollment.TokenTTL.D(),
		CertTTL: cfg.Enrollment.CertTTL.D(), Logger: log})
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("enrollment: load relay certificate: %w", err)
	}
	srv, err := enroll.New(enroll.Options{Registry: reg, Certificate: cert, Audit: audit, Logger: log})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Enrollment.Listen)
	if err != nil {
		return nil, fmt.Errorf("enrollment: %w", err)
	}
	s := &sites{reg: reg, log: log.With("component", "sites"), enroll: srv, ln: ln}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	reg.OnRevoke(func(site string) {
		if in := s.ingestServer(); in != nil {
			in.DisconnectWhy(site, ingest.ReasonAdministrativeAction, "site revoked")
		}
	})
	return s, nil
}

func (s *sites) ingestServer() *ingest.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ingest
}

// start serves the enrollment endpoint and sweeps the sessions of srv.
func (s *sites) start(srv *ingest.Server) {
	s.mu.Lock()
	s.ingest = srv
	s.mu.Unlock()
	s.wg.Go(func() {
		if err := s.enroll.Serve(s.ctx, s.ln); err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Error("enrollment endpoint stopped", "err", err)
		}
	})
	s.log.Info("enrollment endpoint listening", "addr", s.ln.Addr().String(), "ca", s.reg.CA().Fingerprint())
	s.wg.Go(func() {
		t := time.NewTicker(sweepEvery)
		defer t.Stop()
		for {
			select {
			case <-s.ctx.Done():
				return
			case <-t.C:
				s.sweep(srv)
			}
		}
	})
}

// sweep closes the sessions the registry no longer admits.
func (s *sites) sweep(srv *ingest.Server) {
	for _, si := range srv.Sessions() {
		if si.Certificate == nil {
			continue
		}
		err := s.reg.Authorize(si.Site, si.Certificate)
		switch {
		case err == nil:
		case siteca.IsCode(err, siteca.CodeCertExpired):
			srv.DisconnectWhy(si.Site, ingest.ReasonMaximumConnectTime, "certificate expired; reconnect with the renewed one")
		default:
			srv.DisconnectWhy(si.Site, ingest.ReasonAdministrativeAction, err.Error())
		}
	}
}

// stop stops the endpoint and the sweeper and waits for them.
func (s *sites) stop() {
	s.cancel()
	s.wg.Wait()
}

// close releases the listener if the endpoint never started.
func (s *sites) close() {
	s.stop()
	s.mu.Lock()
	started := s.ingest != nil
	s.mu.Unlock()
	if !started {
		_ = s.ln.Close()
	}
}

// authorize is the ingest hook: revoked sites get 0x8A Banned, unknown
// or superseded certificates 0x87 Not authorized.
func (s *sites) authorize(site string, cert *x509.Certificate) error {
	err := s.reg.Authorize(site, cert)
	if err == nil {
		return nil
	}
	code := ingest.ReasonNotAuthorized
	if siteca.IsCode(err, siteca.CodeRevoked) {
		code = ingest.ReasonBanned
	}
	return &ingest.AuthError{Code: code, Reason: err.Error()}
}

// List is the registry with the live sessions.
func (s *sites) List() []admin.SiteStatus {
	live := map[string]ingest.SessionInfo{}
	if in := s.ingestServer(); in != nil {
		for _, si := range in.Sessions() {
			live[si.Site] = si
		}
	}
	var out []admin.SiteStatus
	for _, site := range s.reg.List() {
		st := admin.SiteStatus{Site: site}
		if si, ok := live[site.Site]; ok {
			st.Connected, st.Remote, st.ConnectedSince = true, si.Remote, si.ConnectedSince
		}
		for _, c := range site.Certs {
			if c.NotAfter.After(st.CertNotAfter) {
				st.CertNotAfter = c.NotAfter
			}
		}
		out = append(out, st)
	}
	return out
}

// Add issues an enrollment token.
func (s *sites) Add(site string, ttl time.Duration, by string) (siteca.Token, siteca.Site, error) {
	return s.reg.Add(site, ttl, by)
}

// Revoke revokes a site and closes its session.
func (s *sites) Revoke(site, reason, by string) (siteca.Site, error) {
	return s.reg.Revoke(site, reason, by)
}
