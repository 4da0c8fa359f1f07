package identity

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/pki"
)

// Token is an enrollment token, parsed: dray1.<site>.<ca>.<secret>.
type Token struct {
	Site string
	// CAFingerprint is the SHA-256 of the relay's site CA certificate.
	CAFingerprint [32]byte
	raw           string
}

// ParseToken reads a token (the relay's format; the agent only needs the
// site and the fingerprint, and sends the whole token back).
func ParseToken(s string) (Token, error) {
	s = strings.TrimSpace(s)
	rest, ok := strings.CutPrefix(s, "dray1.")
	if !ok {
		return Token{}, errors.New("not a dray enrollment token (want dray1.<site>.<ca>.<secret>, as printed by dray-relay sites add)")
	}
	parts := strings.Split(rest, ".")
	if len(parts) < 3 {
		return Token{}, errors.New("malformed enrollment token")
	}
	site := strings.Join(parts[:len(parts)-2], ".")
	fp, err := base64.RawURLEncoding.DecodeString(parts[len(parts)-2])
	if err != nil || len(fp) != sha256.Size || !canonical.ValidSiteID(site) {
		return Token{}, errors.New("malformed enrollment token")
	}
	t := Token{Site: site, raw: s}
	copy(t.CAFingerprint[:], fp)
	return t, nil
}

// wire types of the relay's enrollment endpoint (relay/enroll).
type request struct {
	Token string `json:"token,omitempty"`
	Site  string `json:"site,omitempty"`
	CSR   string `json:"csr"`
}

type response struct {
	Site        string    `json:"site"`
	Certificate string    `json:"certificate"`
	CA          string    `json:"ca"`
	NotAfter    time.Time `json:"not_after"`
}

type errorResponse struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// RefusedError is a refusal by the relay: its code (token_used,
// token_expired, token_invalid, site_mismatch, revoked, cert_expired, …)
// and message.
type RefusedError struct {
	Status  int
	Code    string
	Message string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("relay refused (%s): %s", e.Code, e.Message)
}

// EnrollOptions configure Enroll.
type EnrollOptions struct {
	// URL is the relay's enrollment endpoint, https://host:port.
	URL string
	// Token is the operator's enrollment token.
	Token string
	// Site is the site this agent is configured as: it must be the
	// token's.
	Site string
	// ServerName is the name the relay's certificate must carry (default:
	// the URL's host).
	ServerName string
	Files      Files
	// Timeout bounds the exchange (default 30s).
	Timeout time.Duration
}

// Enroll makes a key, trades the token and a CSR for a certificate and
// stores the CA, the certificate and the key. It returns the certificate.
func Enroll(ctx context.Context, o EnrollOptions) (*x509.Certificate, error) {
	tok, err := ParseToken(o.Token)
	if err != nil {
		return nil, err
	}
	if o.Site != "" && tok.Site != o.Site {
		return nil, fmt.Errorf("this token is for site %s, but this agent is configured as site %s: ask for a token for %s", tok.Site, o.Site, o.Site)
	}
	u, serverName, err := endpoint(o.URL, o.ServerName)
	if err != nil {
		return nil, err
	}
	pinned := &pinnedCA{fingerprint: tok.CAFingerprint, serverName: serverName}
	tlsConf := &tls.Config{
		MinVersion: tls.VersionTLS13,
		ServerName: serverName,
		// Verification is VerifyConnection's: against the pinned CA, not
		// the system roots.
		InsecureSkipVerify: true, //nolint:gosec // the chain is verified against the CA the token pins
		VerifyConnection:   pinned.verify,
	}
	key, err := pki.NewKey()
	if err != nil {
		return nil, err
	}
	resp, err := post(ctx, o.Timeout, tlsConf, u+"/v1/enroll", request{Token: tok.raw, Site: o.Site, CSR: csrPEM(key, tok.Site)})
	if err != nil {
		return nil, err
	}
	cert, err := checkIssued(resp, tok.Site, key, pinned.ca)
	if err != nil {
		return nil, err
	}
	if err := o.Files.store(cert, key, pinned.ca); err != nil {
		return nil, fmt.Errorf("store identity: %w", err)
	}
	return cert, nil
}

// endpoint checks the enrollment URL and returns it without a trailing
// slash, with the server name to verify.
func endpoint(raw, serverName string) (string, string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", "", fmt.Errorf("enrollment URL %q: want https://host:port", raw)
	}
	if serverName == "" {
		serverName = u.Hostname()
	}
	return strings.TrimRight(u.String(), "/"), serverName, nil
}

// pinnedCA verifies the relay against the CA a token pins.
type pinnedCA struct {
	fingerprint [32]byte
	serverName  string
	ca          *x509.Certificate // set by verify
}

func (p *pinnedCA) verify(cs tls.ConnectionState) error {
	var ca *x509.Certificate
	for _, c := range cs.PeerCertificates {
		if sha256.Sum256(c.Raw) == p.fingerprint {
			ca = c
		}
	}
	if ca == nil || !ca.IsCA {
		return errors.New("the relay did not present the site CA this token pins: wrong relay, or the relay's CA was replaced (ask for a new token)")
	}
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the relay presented no certificate")
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, DNSName: p.serverName,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return fmt.Errorf("the relay's certificate does not verify against the pinned CA: %w", err)
	}
	p.ca = ca
	return nil
}

func csrPEM(key crypto.Signer, site string) string {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: site}}, key)
	if err != nil {
		// Only fails for unusable keys, which NewKey never makes.
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// checkIssued checks the relay's answer: a certificate for site and key,
// signed by ca.
func checkIssued(resp *response, site string, key crypto.Signer, ca *x509.Certificate) (*x509.Certificate, error) {
	cert, err := pki.ParseCertPEM([]byte(resp.Certificate))
	if err != nil {
		return nil, fmt.Errorf("relay answer: %w", err)
	}
	got, err := pki.SiteFromCert(cert)
	if err != nil || got != site {
		return nil, fmt.Errorf("relay answer: the certificate is for site %q, not %s", got, site)
	}
	if !samePublic(cert.PublicKey, key.Public()) {
		return nil, errors.New("relay answer: the certificate is not for this agent's key")
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, fmt.Errorf("relay answer: the certificate does not verify against the site CA: %w", err)
	}
	return cert, nil
}

func samePublic(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

// post sends a JSON request and decodes the answer or the refusal.
func post(ctx context.Context, timeout time.Duration, tlsConf *tls.Config, u string, body request) (*response, error) {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	hc := &http.Client{Timeout: timeout, Transport: &http.Transport{
		TLSClientConfig: tlsConf, Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext, TLSHandshakeTimeout: 10 * time.Second,
	}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reach the relay's enrollment endpoint: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read the relay's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e errorResponse
		if json.Unmarshal(rb, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(rb))
		}
		return nil, &RefusedError{Status: resp.StatusCode, Code: e.Code, Message: e.Error}
	}
	var out response
	if err := json.Unmarshal(rb, &out); err != nil {
		return nil, fmt.Errorf("decode the relay's answer: %w", err)
	}
	return &out, nil
}
