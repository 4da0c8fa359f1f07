package siteca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/fsowner"
	"github.com/draylink/dray/internal/pki"
)

// Authority is the site CA: its certificate and key.
type Authority struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// LoadAuthority reads the CA certificate and key (PEM).
func LoadAuthority(certFile, keyFile string) (*Authority, error) {
	cb, err := os.ReadFile(certFile) //nolint:gosec // the operator names the CA files in the configuration
	if err != nil {
		return nil, fmt.Errorf("load site CA: %w", err)
	}
	cert, err := pki.ParseCertPEM(cb)
	if err != nil {
		return nil, fmt.Errorf("load site CA %s: %w", certFile, err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("load site CA: %s is not a CA certificate", certFile)
	}
	kb, err := os.ReadFile(keyFile) //nolint:gosec // as above
	if err != nil {
		return nil, fmt.Errorf("load site CA key: %w", err)
	}
	key, err := pki.ParseKeyPEM(kb)
	if err != nil {
		return nil, fmt.Errorf("load site CA key %s: %w", keyFile, err)
	}
	if !samePublicKey(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("load site CA: the key in %s does not belong to the certificate in %s", keyFile, certFile)
	}
	return &Authority{Cert: cert, Key: key}, nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

// Fingerprint is the SHA-256 of the CA certificate, base64url without
// padding: what enrollment tokens pin.
func (a *Authority) Fingerprint() string { return Fingerprint(a.Cert) }

// Fingerprint is the SHA-256 of a certificate, base64url without padding.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Pool is a pool holding only the CA.
func (a *Authority) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.Cert)
	return p
}

// backdate is how far before now a certificate starts, for clocks slightly
// behind the relay's: a minute, or a tenth of a very short lifetime.
func backdate(validFor time.Duration) time.Duration {
	return min(time.Minute, validFor/10)
}

// IssueSite signs a client certificate for site and pub, valid from now
// (less a small allowance for clock skew) for validFor, and never past the
// CA's own expiry.
func (a *Authority) IssueSite(site string, pub crypto.PublicKey, now time.Time, validFor time.Duration) (*x509.Certificate, error) {
	if !canonical.ValidSiteID(site) {
		return nil, fmt.Errorf("issue site certificate: invalid site id %q", site)
	}
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	sn, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("issue site certificate: %w", err)
	}
	notAfter := now.Add(validFor)
	if notAfter.After(a.Cert.NotAfter) {
		notAfter = a.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: site, Organization: []string{"dray site"}},
		URIs:         []*url.URL{pki.SiteURI(site)},
		NotBefore:    now.Add(-backdate(validFor)),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.Cert, pub, a.Key)
	if err != nil {
		return nil, fmt.Errorf("issue site certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// checkPublicKey accepts the key types and sizes a site may use: ECDSA
// P-256 or P-384, Ed25519, RSA of at least 2048 bits.
func checkPublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() {
			return nil
		}
		return errors.New("ECDSA keys must use P-256 or P-384")
	case ed25519.PublicKey:
		return nil
	case *rsa.PublicKey:
		if k.N.BitLen() >= 2048 {
			return nil
		}
		return fmt.Errorf("RSA key of %d bits; at least 2048 are required", k.N.BitLen())
	}
	return fmt.Errorf("unsupported public key type %T", pub)
}

// SerialHex is a certificate's serial number in hex, as the registry keeps it.
func SerialHex(cert *x509.Certificate) string { return hex.EncodeToString(cert.SerialNumber.Bytes()) }

// InitOptions say where `dray-relay ca init` writes the CA and the relay's
// server certificate.
type InitOptions struct {
	// CACertFile and CAKeyFile receive the site CA (the key with mode 0600).
	CACertFile, CAKeyFile string
	// ServerCertFile and ServerKeyFile receive the relay's server
	// certificate, signed by the CA, followed by the CA certificate (so that
	// agents can find the CA they pinned in the chain), and its key (0600).
	ServerCertFile, ServerKeyFile string
	// Hosts are the DNS names and IP addresses agents use to reach the
	// relay (its server certificate's SANs).
	Hosts []string
	// CAValidity and ServerValidity default to 10 years and 2 years.
	CAValidity, ServerValidity time.Duration
	// ServerOnly reissues the server certificate from the existing CA.
	ServerOnly bool
	// Force overwrites existing files (otherwise an existing file is an
	// error: a new CA invalidates every site certificate).
	Force bool
}

// Init makes the site CA (ECDSA P-256) and the relay's server certificate.
func Init(o InitOptions) (*Authority, error) {
	if len(o.Hosts) == 0 {
		return nil, errors.New("ca init: at least one host name or address of the relay is required")
	}
	if o.CAValidity == 0 {
		o.CAValidity = 10 * 365 * 24 * time.Hour
	}
	if o.ServerValidity == 0 {
		o.ServerValidity = 2 * 365 * 24 * time.Hour
	}
	var ca *Authority
	if o.ServerOnly {
		var err error
		if ca, err = LoadAuthority(o.CACertFile, o.CAKeyFile); err != nil {
			return nil, err
		}
	} else {
		if !o.Force {
			for _, f := range []string{o.CACertFile, o.CAKeyFile} {
				if _, err := os.Stat(f); err == nil {
					return nil, fmt.Errorf("ca init: %s exists; a new CA invalidates every site certificate (use --force to replace it, --server-only to reissue only the relay's certificate)", f)
				}
			}
		}
		c, err := pki.NewCA("dray site CA", o.CAValidity)
		if err != nil {
			return nil, err
		}
		ca = &Authority{Cert: c.Cert, Key: c.Key}
		if err := writeKeyPair(o.CACertFile, o.CAKeyFile, pki.CertPEM(ca.Cert), ca.Key); err != nil {
			return nil, err
		}
	}
	if !o.Force && !o.ServerOnly {
		for _, f := range []string{o.ServerCertFile, o.ServerKeyFile} {
			if _, err := os.Stat(f); err == nil {
				return nil, fmt.Errorf("ca init: %s exists (use --force or --server-only)", f)
			}
		}
	}
	key, err := pki.NewKey()
	if err != nil {
		return nil, err
	}
	c := &pki.CA{Cert: ca.Cert, Key: ca.Key}
	srv, err := c.IssueServer(o.Hosts, key.Public(), o.ServerValidity)
	if err != nil {
		return nil, err
	}
	chain := append(pki.CertPEM(srv), pki.CertPEM(ca.Cert)...)
	if err := writeKeyPair(o.ServerCertFile, o.ServerKeyFile, chain, key); err != nil {
		return nil, err
	}
	return ca, nil
}

// writeKeyPair writes a key (0600) and a certificate (0644), each through a
// temporary file renamed into place, creating their directories (0755).
func writeKeyPair(certFile, keyFile string, certPEM []byte, key crypto.Signer) error {
	kb, err := pki.KeyPEM(key)
	if err != nil {
		return err
	}
	if err := WriteFileAtomic(keyFile, kb, 0o600); err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	if err := WriteFileAtomic(certFile, certPEM, 0o644); err != nil {
		return fmt.Errorf("write certificate: %w", err)
	}
	return nil
}

// WriteFileAtomic writes data to path with mode perm: a temporary file in
// the same directory, fsynced, renamed over path, then the directory
// fsynced. The directory is created (0750) if missing. Run as root, the
// file and the directories made get the owner of the directory they go in
// (fsowner: `dray-relay ca init` by root, for the relay's account).
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := fsowner.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() { _ = os.Remove(tmp) }()
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := fsowner.LikeDir(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil { //nolint:gosec // our own directory
		_ = d.Sync()
		d.Close()
	}
	return nil
}
