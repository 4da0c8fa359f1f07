package identity

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/draylink/dray/internal/fsowner"
	"github.com/draylink/dray/internal/pki"
)

// Files are where the identity lives.
type Files struct {
	// CAFile is the relay's site CA (PEM), trusted for the uplink and
	// renewals.
	CAFile string
	// CertFile and KeyFile are the site certificate (PEM) and its private
	// key (PKCS#8 PEM, mode 0600).
	CertFile, KeyFile string
}

// newSuffix marks a certificate or key written but not yet in place.
const newSuffix = ".new"

// ErrNotEnrolled is returned while there is no certificate yet.
var ErrNotEnrolled = errors.New("no site certificate: enroll first (dray-agent enroll --relay URL --token TOKEN)")

// Load reads the certificate and key, finishing a renewal that a crash
// interrupted between its two renames.
func Load(f Files) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err == nil {
		_ = os.Remove(f.CertFile + newSuffix)
		_ = os.Remove(f.KeyFile + newSuffix)
		return &cert, nil
	}
	if _, serr := os.Stat(f.CertFile + newSuffix); serr == nil {
		if c2, err2 := tls.LoadX509KeyPair(f.CertFile+newSuffix, f.KeyFile); err2 == nil {
			if err := os.Rename(f.CertFile+newSuffix, f.CertFile); err != nil {
				return nil, fmt.Errorf("finish renewal: %w", err)
			}
			return &c2, nil
		}
	}
	if _, serr := os.Stat(f.CertFile); errors.Is(serr, os.ErrNotExist) {
		return nil, ErrNotEnrolled
	}
	return nil, fmt.Errorf("load site certificate: %w", err)
}

// CAPool reads the CA file into a pool.
func (f Files) CAPool() (*x509.CertPool, error) {
	b, err := os.ReadFile(f.CAFile)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, ErrNotEnrolled
		}
		return nil, fmt.Errorf("load relay CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("load relay CA: no certificate in %s", f.CAFile)
	}
	return pool, nil
}

// store writes key, certificate and (when not nil) the CA: each to a
// temporary file, then the CA, the key and last the certificate into
// place. Files get the owner of their directory when run as root.
func (f Files) store(cert *x509.Certificate, key crypto.Signer, ca *x509.Certificate) error {
	kb, err := pki.KeyPEM(key)
	if err != nil {
		return err
	}
	if err := writeFile(f.KeyFile+newSuffix, kb, 0o600); err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	if err := writeFile(f.CertFile+newSuffix, pki.CertPEM(cert), 0o644); err != nil {
		return fmt.Errorf("write certificate: %w", err)
	}
	if ca != nil {
		if err := writeFile(f.CAFile+newSuffix, pki.CertPEM(ca), 0o644); err != nil {
			return fmt.Errorf("write CA: %w", err)
		}
		if err := rename(f.CAFile+newSuffix, f.CAFile); err != nil {
			return err
		}
	}
	if err := rename(f.KeyFile+newSuffix, f.KeyFile); err != nil {
		return err
	}
	return rename(f.CertFile+newSuffix, f.CertFile)
}

func rename(from, to string) error {
	if err := os.Rename(from, to); err != nil {
		return err
	}
	syncDir(filepath.Dir(to))
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil { //nolint:gosec // our own directory
		_ = d.Sync()
		d.Close()
	}
}

// writeFile writes and fsyncs a file with mode perm (the directory is made
// 0700 if missing), owned like its directory (fsowner: `dray-agent enroll`
// run by root leaves files the service account can read and renew).
func writeFile(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := fsowner.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	_ = os.Remove(path)
	fh, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm) //nolint:gosec // the operator names the identity files
	if err != nil {
		return err
	}
	if _, err := fh.Write(data); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Close(); err != nil {
		return err
	}
	return fsowner.LikeDir(path)
}

// Holder holds the current certificate for TLS handshakes. It is safe for
// concurrent use.
type Holder struct {
	mu   sync.RWMutex
	cert *tls.Certificate // guarded by mu
}

// NewHolder holds cert.
func NewHolder(cert *tls.Certificate) *Holder { return &Holder{cert: cert} }

// Current is the certificate in use.
func (h *Holder) Current() *tls.Certificate {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.cert
}

// Set replaces the certificate for the next handshakes.
func (h *Holder) Set(c *tls.Certificate) {
	h.mu.Lock()
	h.cert = c
	h.mu.Unlock()
}

// GetClientCertificate is tls.Config.GetClientCertificate.
func (h *Holder) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return h.Current(), nil
}

// Leaf is the parsed current certificate.
func (h *Holder) Leaf() *x509.Certificate {
	c := h.Current()
	if c.Leaf != nil {
		return c.Leaf
	}
	l, _ := x509.ParseCertificate(c.Certificate[0])
	return l
}

// ClientTLS is the uplink's TLS configuration: the holder's certificate,
// the relay CA from files, TLS 1.3.
func ClientTLS(h *Holder, f Files, serverName string) (*tls.Config, error) {
	pool, err := f.CAPool()
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		GetClientCertificate: h.GetClientCertificate,
		RootCAs:              pool,
		ServerName:           serverName,
		MinVersion:           tls.VersionTLS13,
	}, nil
}
