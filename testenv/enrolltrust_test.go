package testenv_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/draylink/dray/agent/identity"
	"github.com/draylink/dray/internal/pki"
	"github.com/draylink/dray/relay/enroll"
	"github.com/draylink/dray/relay/siteca"
)

// lockedBuffer is an audit sink the test reads while servers write.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// trustRelay is an enrollment endpoint with its own site CA, served on
// loopback until the test ends.
type trustRelay struct {
	reg   *siteca.Registry
	url   string
	audit *lockedBuffer
}

func startTrustRelay(t *testing.T) *trustRelay {
	t.Helper()
	dir := t.TempDir()
	ca, err := siteca.Init(siteca.InitOptions{CACertFile: filepath.Join(dir, "ca.pem"), CAKeyFile: filepath.Join(dir, "ca-key.pem"),
		ServerCertFile: filepath.Join(dir, "relay.pem"), ServerKeyFile: filepath.Join(dir, "relay-key.pem"), Hosts: []string{"localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := siteca.Open(siteca.Options{Path: filepath.Join(dir, "sites.json"), CA: ca, CertTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "relay.pem"), filepath.Join(dir, "relay-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	audit := &lockedBuffer{}
	quiet := slog.New(slog.DiscardHandler)
	srv, err := enroll.New(enroll.Options{Registry: reg, Certificate: cert, Audit: slog.New(slog.NewJSONHandler(audit, nil)), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("enrollment server: %v", err)
		}
	})
	return &trustRelay{reg: reg, url: "https://" + ln.Addr().String(), audit: audit}
}

// TestEnrollTrust checks what the agent trusts and what the enrollment
// endpoint accepts, in process:
//   - an impostor relay (another CA) never sees the token: the agent
//     refuses it in the handshake because the pinned CA is missing;
//   - a relay whose certificate does not name the host is refused, and the
//     token survives it;
//   - renewal needs the current certificate over mTLS: none, or one from
//     another CA, is refused with cert_unknown; a revoked site's renewal
//     with revoked.
func TestEnrollTrust(t *testing.T) {
	relay, impostor := startTrustRelay(t), startTrustRelay(t)
	tok, _, err := relay.reg.Add("MEM1", time.Hour, "test")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	files := identity.Files{CAFile: filepath.Join(dir, "relay-ca.pem"), CertFile: filepath.Join(dir, "site.pem"), KeyFile: filepath.Join(dir, "site-key.pem")}
	opts := identity.EnrollOptions{URL: impostor.url, Token: tok.String(), Site: "MEM1", ServerName: "localhost", Files: files, Timeout: 10 * time.Second}

	if _, err := identity.Enroll(ctx, opts); err == nil || !strings.Contains(err.Error(), "did not present the site CA this token pins") {
		t.Errorf("enroll with an impostor relay: %v", err)
	}
	if a := impostor.audit.String(); a != "" {
		t.Errorf("the impostor got a request: %s", a)
	}
	if _, err := os.Stat(files.CertFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused enrollment stored a certificate: %v", err)
	}

	opts.URL, opts.ServerName = relay.url, "relay.elsewhere.example"
	if _, err := identity.Enroll(ctx, opts); err == nil || !strings.Contains(err.Error(), "does not verify against the pinned CA") {
		t.Errorf("enroll with a relay certificate for another name: %v", err)
	}

	opts.ServerName = "localhost"
	cert, err := identity.Enroll(ctx, opts)
	if err != nil {
		t.Fatalf("enroll: %v", err)
	}
	if site, err := pki.SiteFromCert(cert); err != nil || site != "MEM1" {
		t.Fatalf("enrolled as %q %v", site, err)
	}

	// Renewal with the enrolled certificate works.
	loaded, err := identity.Load(files)
	if err != nil {
		t.Fatal(err)
	}
	ren := &identity.Renewer{Holder: identity.NewHolder(loaded), Files: files, URL: relay.url, ServerName: "localhost",
		Logger: slog.New(slog.DiscardHandler)}
	renewed, err := ren.RenewNow(ctx)
	if err != nil || renewed.SerialNumber.Cmp(cert.SerialNumber) == 0 {
		t.Fatalf("renew: %v %v", renewed, err)
	}

	// A certificate for MEM1 from another CA cannot renew.
	foreignTok, _, err := impostor.reg.Add("MEM1", time.Hour, "test")
	if err != nil {
		t.Fatal(err)
	}
	fdir := t.TempDir()
	ffiles := identity.Files{CAFile: filepath.Join(fdir, "ca.pem"), CertFile: filepath.Join(fdir, "site.pem"), KeyFile: filepath.Join(fdir, "key.pem")}
	if _, err := identity.Enroll(ctx, identity.EnrollOptions{URL: impostor.url, Token: foreignTok.String(), Site: "MEM1",
		ServerName: "localhost", Files: ffiles}); err != nil {
		t.Fatal(err)
	}
	foreign, err := identity.Load(ffiles)
	if err != nil {
		t.Fatal(err)
	}
	fren := &identity.Renewer{Holder: identity.NewHolder(foreign), Files: files, URL: relay.url, ServerName: "localhost"}
	wantRefused(t, "renewal with another CA's certificate", fren, "cert_unknown")

	// No client certificate at all.
	pool, err := files.CAPool()
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool,
		ServerName: "localhost", MinVersion: tls.VersionTLS13}}}
	resp, err := hc.Post(relay.url+"/v1/renew", "application/json", strings.NewReader(`{"csr":""}`))
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body.String(), `"code":"cert_unknown"`) ||
		!strings.Contains(body.String(), "needs the current site certificate") {
		t.Errorf("renewal without a client certificate: HTTP %d %s", resp.StatusCode, body.String())
	}

	// Revoked: the renewed certificate cannot renew again.
	if _, err := relay.reg.Revoke("MEM1", "test", "test"); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, "renewal of a revoked site", ren, "revoked")

	audit := relay.audit.String()
	for _, want := range []string{`"action":"renew","site":"MEM1","remote"`, `"outcome":"refused","code":"revoked"`, `"outcome":"refused","code":"cert_unknown"`} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit lacks %s:\n%s", want, audit)
		}
	}
}

func wantRefused(t *testing.T, what string, r *identity.Renewer, code string) {
	t.Helper()
	_, err := r.RenewNow(context.Background())
	var re *identity.RefusedError
	if !errors.As(err, &re) || re.Code != code || re.Status != http.StatusUnauthorized && code != "revoked" {
		t.Errorf("%s: %v; want a refusal with code %s", what, err, code)
	}
}
