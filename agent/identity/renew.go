package identity

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/draylink/dray/internal/pki"
)

// Renewer renews the held certificate before it expires.
type Renewer struct {
	// Holder holds the certificate to renew; Files is where it is stored.
	Holder *Holder
	Files  Files
	// URL is the relay's enrollment endpoint; ServerName the name in its
	// certificate (default: the URL's host).
	URL, ServerName string
	// At is the fraction of the lifetime after which to renew (default 2/3).
	At float64
	// MinRetry and MaxRetry bound the backoff after a failed renewal
	// (defaults 5s and 5m).
	MinRetry, MaxRetry time.Duration
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

func (r *Renewer) defaults() {
	if r.At <= 0 || r.At >= 1 {
		r.At = 2.0 / 3
	}
	if r.MinRetry <= 0 {
		r.MinRetry = 5 * time.Second
	}
	if r.MaxRetry < r.MinRetry {
		r.MaxRetry = max(5*time.Minute, r.MinRetry)
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
}

// Due is when a certificate should be renewed: At of its lifetime.
func (r *Renewer) Due(c *x509.Certificate) time.Time {
	r.defaults()
	life := c.NotAfter.Sub(c.NotBefore)
	return c.NotBefore.Add(time.Duration(float64(life) * r.At))
}

// Run renews the certificate whenever it is due, until ctx ends. A failed
// renewal is retried with backoff; a refusal that will not change (revoked,
// expired) is logged as an error and retried slowly, in case an operator
// fixes the registry.
func (r *Renewer) Run(ctx context.Context) error {
	r.defaults()
	log := r.Logger.With("component", "identity")
	backoff := r.MinRetry
	for {
		leaf := r.Holder.Leaf()
		wait := r.Due(leaf).Sub(r.Now())
		if wait > 0 {
			log.Info("certificate renewal scheduled", "serial", fmt.Sprintf("%x", leaf.SerialNumber),
				"not_after", leaf.NotAfter.UTC(), "renew_at", r.Due(leaf).UTC())
			if !sleep(ctx, wait) {
				return nil
			}
		}
		cert, err := r.RenewNow(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			log.Info("certificate renewed", "serial", fmt.Sprintf("%x", cert.SerialNumber), "not_after", cert.NotAfter.UTC())
			backoff = r.MinRetry
			continue
		}
		var re *RefusedError
		if errors.As(err, &re) {
			log.Error("certificate renewal refused by the relay", "code", re.Code, "err", re.Message,
				"not_after", leaf.NotAfter.UTC())
			backoff = r.MaxRetry
		} else {
			log.Warn("certificate renewal failed; retrying", "err", err, "in", backoff, "not_after", leaf.NotAfter.UTC())
		}
		d := backoff/2 + rand.N(backoff/2+1) //nolint:gosec // jitter
		backoff = min(backoff*2, r.MaxRetry)
		if !sleep(ctx, d) {
			return nil
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// RenewNow renews at once: a new key, a CSR, the current certificate as
// the client certificate; the new pair is stored and then held.
func (r *Renewer) RenewNow(ctx context.Context) (*x509.Certificate, error) {
	r.defaults()
	u, serverName, err := endpoint(r.URL, r.ServerName)
	if err != nil {
		return nil, err
	}
	pool, err := r.Files.CAPool()
	if err != nil {
		return nil, err
	}
	cur := r.Holder.Current()
	tlsConf := &tls.Config{
		MinVersion:           tls.VersionTLS13,
		RootCAs:              pool,
		ServerName:           serverName,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cur, nil },
	}
	leaf := r.Holder.Leaf()
	site, err := pki.SiteFromCert(leaf)
	if err != nil {
		return nil, err
	}
	key, err := pki.NewKey()
	if err != nil {
		return nil, err
	}
	resp, err := post(ctx, 0, tlsConf, u+"/v1/renew", request{CSR: csrPEM(key, site)})
	if err != nil {
		return nil, err
	}
	ca, err := pki.ParseCertPEM([]byte(resp.CA))
	if err != nil {
		return nil, fmt.Errorf("relay answer: %w", err)
	}
	if !pool.Equal(poolOf(ca)) {
		// The relay must keep its CA: a renewal never moves trust.
		return nil, errors.New("relay answer: the CA differs from the one this agent enrolled with")
	}
	cert, err := checkIssued(resp, site, key, ca)
	if err != nil {
		return nil, err
	}
	if err := r.Files.store(cert, key, nil); err != nil {
		return nil, fmt.Errorf("store renewed certificate: %w", err)
	}
	tc := pki.TLSCertificate(cert, key)
	r.Holder.Set(&tc)
	return cert, nil
}

func poolOf(c *x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c)
	return p
}
