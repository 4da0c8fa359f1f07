package siteca

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/draylink/dray/internal/pki"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newRegistry(t *testing.T) (*Registry, *clock, string) {
	t.Helper()
	dir := t.TempDir()
	ca, err := Init(InitOptions{CACertFile: filepath.Join(dir, "ca.pem"), CAKeyFile: filepath.Join(dir, "ca-key.pem"),
		ServerCertFile: filepath.Join(dir, "relay.pem"), ServerKeyFile: filepath.Join(dir, "relay-key.pem"), Hosts: []string{"localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Now()}
	path := filepath.Join(dir, "sites.json")
	r, err := Open(Options{Path: path, CA: ca, CertTTL: 90 * time.Second, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return r, c, dir
}

func csr(t *testing.T, cn string) (*x509.CertificateRequest, pki.Signer) {
	t.Helper()
	key, err := pki.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	// The CSR asks for another site: it must be ignored.
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn},
		URIs: nil, DNSNames: []string{"evil.example"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if !IsCode(err, code) {
		t.Fatalf("got %v; want code %s", err, code)
	}
}

func TestInitFiles(t *testing.T) {
	_, _, dir := newRegistry(t)
	for name, mode := range map[string]os.FileMode{"ca-key.pem": 0o600, "relay-key.pem": 0o600, "ca.pem": 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v %v; want mode %v", name, fi.Mode(), err, mode)
		}
	}
	if _, err := Init(InitOptions{CACertFile: filepath.Join(dir, "ca.pem"), CAKeyFile: filepath.Join(dir, "ca-key.pem"),
		ServerCertFile: filepath.Join(dir, "r.pem"), ServerKeyFile: filepath.Join(dir, "r-key.pem"), Hosts: []string{"x"}}); err == nil ||
		!strings.Contains(err.Error(), "exists") {
		t.Errorf("a second init replaced the CA: %v", err)
	}
	ca, err := LoadAuthority(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "relay.pem"))
	if n := strings.Count(string(b), "BEGIN CERTIFICATE"); n != 2 {
		t.Errorf("relay.pem holds %d certificates; want the leaf and the CA", n)
	}
	if ca.Cert.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("CA key %v", ca.Cert.PublicKeyAlgorithm)
	}
}

func TestTokenRoundTrip(t *testing.T) {
	tok, err := newToken("MEM.1-a", strings.Repeat("A", 43))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseToken(tok.String())
	if err != nil || got != tok {
		t.Fatalf("parse %q: %+v %v", tok.String(), got, err)
	}
	for _, bad := range []string{"", "dray1.", "dray2.MEM1.a.b", "dray1.MEM1." + strings.Repeat("A", 43), "dray1.MEM1.x.y"} {
		if _, err := ParseToken(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestEnrollLifecycle(t *testing.T) {
	r, clk, _ := newRegistry(t)
	tok, site, err := r.Add("MEM1", time.Hour, "alice")
	if err != nil || site.State != StatePending || site.Token.SHA256 == tok.String() {
		t.Fatalf("add: %+v %v", site, err)
	}
	if _, _, err := r.Add("bad site", 0, "alice"); err == nil {
		t.Error("an invalid site id was accepted")
	}
	req, key := csr(t, "OTHER")
	// Wrong site claimed: refused, token not spent.
	_, err = r.Enroll(tok.String(), "MEM2", req)
	wantCode(t, err, CodeSiteMismatch)
	cert, err := r.Enroll(tok.String(), "MEM1", req)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := pki.SiteFromCert(cert); err != nil || s != "MEM1" || len(cert.DNSNames) != 0 || cert.Subject.CommonName != "MEM1" {
		t.Fatalf("certificate identity %q %v %v %q", s, err, cert.DNSNames, cert.Subject.CommonName)
	}
	if !samePublicKey(cert.PublicKey, key.Public()) {
		t.Error("the certificate is not for the CSR's key")
	}
	if err := r.Authorize("MEM1", cert); err != nil {
		t.Errorf("authorize: %v", err)
	}
	_, err = r.Enroll(tok.String(), "MEM1", req)
	wantCode(t, err, CodeTokenUsed)
	if _, _, err := r.Add("MEM1", 0, "alice"); !IsCode(err, CodeSiteExists) {
		t.Errorf("add of an active site: %v", err)
	}

	// Expired token.
	tok2, _, err := r.Add("MEM2", time.Minute, "alice")
	if err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(2 * time.Minute)
	_, err = r.Enroll(tok2.String(), "", req)
	wantCode(t, err, CodeTokenExpired)
	_, err = r.Enroll(tok2.String()[:len(tok2.String())-2]+"AA", "", req)
	wantCode(t, err, CodeTokenInvalid)

	// Renewal: both certificates valid until the old one expires.
	req2, _ := csr(t, "x")
	clk.t = clk.t.Add(-2 * time.Minute).Add(60 * time.Second)
	renewed, err := r.Renew(cert, req2)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Authorize("MEM1", cert); err != nil {
		t.Errorf("old certificate after renewal: %v", err)
	}
	if err := r.Authorize("MEM1", renewed); err != nil {
		t.Errorf("new certificate: %v", err)
	}
	clk.t = cert.NotAfter.Add(time.Second)
	wantCode(t, r.Authorize("MEM1", cert), CodeCertExpired)
	_, err = r.Renew(cert, req2)
	wantCode(t, err, CodeCertExpired)

	// Persistence.
	r2, err := Open(Options{Path: r.opts.Path, CA: r.opts.CA, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.Authorize("MEM1", renewed); err != nil {
		t.Errorf("after reopen: %v", err)
	}

	// Revocation.
	var revoked []string
	r.OnRevoke(func(s string) { revoked = append(revoked, s) })
	if _, err := r.Revoke("MEM1", "laptop stolen", "alice"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, r.Authorize("MEM1", renewed), CodeRevoked)
	_, err = r.Renew(renewed, req2)
	wantCode(t, err, CodeRevoked)
	if len(revoked) != 1 || revoked[0] != "MEM1" {
		t.Errorf("OnRevoke calls %v", revoked)
	}
	// Added again after a revocation: the old certificates stay refused.
	tok3, _, err := r.Add("MEM1", 0, "alice")
	if err != nil {
		t.Fatal(err)
	}
	c3, err := r.Enroll(tok3.String(), "MEM1", req2)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, r.Authorize("MEM1", renewed), CodeCertUnknown)
	if err := r.Authorize("MEM1", c3); err != nil {
		t.Errorf("re-enrolled certificate: %v", err)
	}
	if fi, err := os.Stat(r.opts.Path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("registry file mode %v %v", fi.Mode(), err)
	}
	b, _ := os.ReadFile(r.opts.Path)
	if strings.Contains(string(b), tok3.Secret) {
		t.Error("the registry holds a token secret")
	}
}

func TestForeignCAToken(t *testing.T) {
	r, _, _ := newRegistry(t)
	other, _, _ := newRegistry(t)
	tok, _, err := other.Add("MEM1", 0, "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Add("MEM1", 0, "x"); err != nil {
		t.Fatal(err)
	}
	req, _ := csr(t, "MEM1")
	_, err = r.Enroll(tok.String(), "MEM1", req)
	wantCode(t, err, CodeTokenInvalid)
}
