// Package pki holds the certificate conventions shared by agent and relay:
// a site's identity is the URI SAN "urn:dray:site:<site id>" of its client
// certificate, and nothing else (not the CN, not the MQTT ClientID). It also
// makes certificate authorities and certificates (ECDSA P-256), used by the
// relay's site CA and by tests.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/draylink/dray/canonical"
)

// SiteURIPrefix starts the URI SAN that names a site.
const SiteURIPrefix = "urn:dray:site:"

// SiteURI is the URI SAN of a site certificate.
func SiteURI(site string) *url.URL {
	u, _ := url.Parse(SiteURIPrefix + site)
	return u
}

// SiteFromCert returns the site a client certificate identifies: exactly one
// URI SAN with the site prefix and a valid site id.
func SiteFromCert(cert *x509.Certificate) (string, error) {
	site := ""
	for _, u := range cert.URIs {
		s := u.String()
		if !strings.HasPrefix(s, SiteURIPrefix) {
			continue
		}
		if site != "" {
			return "", errors.New("certificate names more than one site")
		}
		site = strings.TrimPrefix(s, SiteURIPrefix)
	}
	if site == "" {
		return "", errors.New("certificate names no site (want a URI SAN " + SiteURIPrefix + "<site>)")
	}
	if !canonical.ValidSiteID(site) {
		return "", fmt.Errorf("certificate names an invalid site id %q", site)
	}
	return site, nil
}

// SiteFromConnState returns the site of a verified TLS peer.
func SiteFromConnState(cs tls.ConnectionState) (string, error) {
	if len(cs.VerifiedChains) == 0 || len(cs.PeerCertificates) == 0 {
		return "", errors.New("no verified client certificate")
	}
	return SiteFromCert(cs.PeerCertificates[0])
}

// CA is a certificate authority: a certificate and its private key.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// NewKey makes an ECDSA P-256 private key.
func NewKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// NewCA makes a self-signed CA valid for the given duration.
func NewCA(name string, validFor time.Duration) (*CA, error) {
	key, err := NewKey()
	if err != nil {
		return nil, fmt.Errorf("new ca: %w", err)
	}
	sn, err := serial()
	if err != nil {
		return nil, fmt.Errorf("new ca: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"dray"}},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(validFor),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("new ca: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("new ca: %w", err)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Fingerprint is the hex SHA-256 of the CA certificate (what enrollment
// tokens pin).
func (ca *CA) Fingerprint() string {
	sum := sha256.Sum256(ca.Cert.Raw)
	return hex.EncodeToString(sum[:])
}

// Pool is a cert pool holding only this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// IssueSite signs a client certificate for a site's public key.
func (ca *CA) IssueSite(site string, pub crypto.PublicKey, validFor time.Duration) (*x509.Certificate, error) {
	if !canonical.ValidSiteID(site) {
		return nil, fmt.Errorf("issue site certificate: invalid site id %q", site)
	}
	return ca.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: site, Organization: []string{"dray site"}},
		URIs:        []*url.URL{SiteURI(site)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, pub, validFor)
}

// IssueServer signs a server certificate for host names and IP addresses.
func (ca *CA) IssueServer(hosts []string, pub crypto.PublicKey, validFor time.Duration) (*x509.Certificate, error) {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: hosts[0], Organization: []string{"dray relay"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return ca.issue(tmpl, pub, validFor)
}

func (ca *CA) issue(tmpl *x509.Certificate, pub crypto.PublicKey, validFor time.Duration) (*x509.Certificate, error) {
	sn, err := serial()
	if err != nil {
		return nil, fmt.Errorf("issue certificate: %w", err)
	}
	now := time.Now()
	tmpl.SerialNumber = sn
	tmpl.NotBefore = now.Add(-5 * time.Minute)
	tmpl.NotAfter = now.Add(validFor)
	if tmpl.NotAfter.After(ca.Cert.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("issue certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// TLSCertificate pairs a certificate (and the CA above it) with its key.
func TLSCertificate(cert *x509.Certificate, key crypto.Signer, chain ...*x509.Certificate) tls.Certificate {
	out := tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
	for _, c := range chain {
		out.Certificate = append(out.Certificate, c.Raw)
	}
	return out
}

// CertPEM encodes a certificate as PEM.
func CertPEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

// KeyPEM encodes a private key as PKCS#8 PEM.
func KeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseCertPEM reads the first certificate of a PEM file.
func ParseCertPEM(b []byte) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, errors.New("no CERTIFICATE block in PEM")
		}
		if block.Type == "CERTIFICATE" {
			return x509.ParseCertificate(block.Bytes)
		}
	}
}

// ParseKeyPEM reads a PKCS#8 or EC private key from PEM.
func ParseKeyPEM(b []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block in key file")
	}
	switch block.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, errors.New("key cannot sign")
		}
		return s, nil
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(block.Bytes)
	}
	return nil, fmt.Errorf("unsupported key type %q", block.Type)
}

// TestSetup is a CA with a server certificate for loopback and a way to
// issue site certificates: what tests and the demo need for mTLS.
type TestSetup struct {
	CA     *CA
	Server tls.Certificate
}

// NewTestSetup makes a CA and a server certificate for 127.0.0.1, ::1 and localhost.
func NewTestSetup() (*TestSetup, error) {
	ca, err := NewCA("dray test CA", 24*time.Hour)
	if err != nil {
		return nil, err
	}
	key, err := NewKey()
	if err != nil {
		return nil, err
	}
	cert, err := ca.IssueServer([]string{"localhost", "127.0.0.1", "::1"}, key.Public(), 24*time.Hour)
	if err != nil {
		return nil, err
	}
	return &TestSetup{CA: ca, Server: TLSCertificate(cert, key)}, nil
}

// SiteCertificate makes a key and a client certificate for a site.
func (ts *TestSetup) SiteCertificate(site string) (tls.Certificate, error) {
	key, err := NewKey()
	if err != nil {
		return tls.Certificate{}, err
	}
	cert, err := ts.CA.IssueSite(site, key.Public(), 24*time.Hour)
	if err != nil {
		return tls.Certificate{}, err
	}
	return TLSCertificate(cert, key), nil
}

// ServerTLS is a server configuration that requires a client certificate
// from the CA.
func (ts *TestSetup) ServerTLS() *tls.Config {
	return ServerTLSConfig(ts.Server, ts.CA.Pool())
}

// ClientTLS is a client configuration for a site.
func (ts *TestSetup) ClientTLS(site string) (*tls.Config, error) {
	cert, err := ts.SiteCertificate(site)
	if err != nil {
		return nil, err
	}
	return ClientTLSConfig(cert, ts.CA.Pool(), "localhost"), nil
}

// ServerTLSConfig requires and verifies client certificates against clientCAs.
func ServerTLSConfig(cert tls.Certificate, clientCAs *x509.CertPool) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCAs,
		MinVersion:   tls.VersionTLS13,
	}
}

// ClientTLSConfig presents cert and trusts only roots.
func ClientTLSConfig(cert tls.Certificate, roots *x509.CertPool, serverName string) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      roots,
		ServerName:   serverName,
		MinVersion:   tls.VersionTLS13,
	}
}

// LoadClientTLS builds a site's client configuration from PEM files: its
// certificate and key, and the CA that signed the relay's certificate.
func LoadClientTLS(certFile, keyFile, caFile, serverName string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load site certificate: %w", err)
	}
	roots, err := loadPool(caFile)
	if err != nil {
		return nil, err
	}
	return ClientTLSConfig(cert, roots, serverName), nil
}

// LoadServerTLS builds the relay's server configuration from PEM files: its
// certificate and key, and the CA whose site certificates it accepts.
func LoadServerTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load relay certificate: %w", err)
	}
	pool, err := loadPool(clientCAFile)
	if err != nil {
		return nil, err
	}
	return ServerTLSConfig(cert, pool), nil
}

func loadPool(caFile string) (*x509.CertPool, error) {
	b, err := os.ReadFile(caFile) //nolint:gosec // the operator names the CA file in the configuration
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("load CA: no certificate in %s", caFile)
	}
	return pool, nil
}

// WriteFiles writes a certificate (PEM) and its key (PEM, mode 0600).
func WriteFiles(certFile, keyFile string, cert *x509.Certificate, key crypto.Signer) error {
	kb, err := KeyPEM(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, kb, 0o600); err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	if err := os.WriteFile(certFile, CertPEM(cert), 0o644); err != nil { //nolint:gosec // certificates are public
		return fmt.Errorf("write certificate: %w", err)
	}
	return nil
}

// Signer is a private key that can sign (crypto.Signer), named here so
// callers holding a tls.Certificate's key can assert it.
type Signer = crypto.Signer
