package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"net/url"
	"testing"
	"time"
)

func TestSiteCertificates(t *testing.T) {
	ts, err := NewTestSetup()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ts.SiteCertificate("MEM1")
	if err != nil {
		t.Fatal(err)
	}
	site, err := SiteFromCert(cert.Leaf)
	if err != nil || site != "MEM1" {
		t.Fatalf("SiteFromCert = %q, %v", site, err)
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: ts.CA.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("site certificate does not verify: %v", err)
	}
	if _, err := ts.CA.IssueSite("bad/site", cert.Leaf.PublicKey, time.Hour); err == nil {
		t.Fatal("issued a certificate for an invalid site id")
	}
	// The CN is not an identity.
	noURI := *cert.Leaf
	noURI.URIs = nil
	if _, err := SiteFromCert(&noURI); err == nil {
		t.Fatal("a certificate without the site URI named a site")
	}
	two := *cert.Leaf
	two.URIs = []*url.URL{SiteURI("A"), SiteURI("B")}
	if _, err := SiteFromCert(&two); err == nil {
		t.Fatal("a certificate naming two sites was accepted")
	}
	if _, err := SiteFromConnState(tls.ConnectionState{}); err == nil {
		t.Fatal("unverified connection named a site")
	}
}

func TestPEMRoundTrip(t *testing.T) {
	ts, err := NewTestSetup()
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := ts.SiteCertificate("MEM1")
	c, err := ParseCertPEM(CertPEM(cert.Leaf))
	if err != nil || !c.Equal(cert.Leaf) {
		t.Fatalf("cert PEM: %v", err)
	}
	kb, err := KeyPEM(cert.PrivateKey.(crypto.Signer))
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseKeyPEM(kb)
	if err != nil || !k.Public().(*ecdsa.PublicKey).Equal(cert.Leaf.PublicKey) {
		t.Fatalf("key PEM: %v", err)
	}
	if _, err := ParseCertPEM([]byte("junk")); err == nil {
		t.Fatal("parsed junk")
	}
}
