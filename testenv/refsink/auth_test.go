package refsink_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/draylink/dray/internal/pki"
	"github.com/draylink/dray/testenv/refsink"
)

func TestStaticCredentials(t *testing.T) {
	s := newSink(t, refsink.KindERP, func(c *refsink.Config) {
		c.Auth.BearerTokens = []string{"static-token"}
		c.Auth.APIKeys = []string{"api-key-1"}
	})
	const path = "/erp/v1/goods-movements"
	for i, tc := range []struct {
		name    string
		headers []string
		status  int
		invalid bool // the challenge names invalid_token
	}{
		{"no credentials", nil, 401, false},
		{"wrong bearer", []string{"Authorization", "Bearer nope"}, 401, true},
		{"basic scheme", []string{"Authorization", "Basic dXNlcjpwdw=="}, 401, true},
		{"wrong API key", []string{"X-API-Key", "nope"}, 401, true},
		{"static bearer", []string{"Authorization", "Bearer static-token"}, 201, false},
		{"API key", []string{"X-API-Key", "api-key-1"}, 201, false},
		{"SAP-style APIKey header", []string{"APIKey", "api-key-1"}, 201, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.post(path, keyOf(tc.name), "application/json", gm(i), tc.headers...)
			wantStatus(t, r, tc.status)
			if tc.status == 401 {
				problemOf(t, r)
				ch := r.header.Get("WWW-Authenticate")
				if !strings.HasPrefix(ch, `Bearer realm="dray-refsink"`) || strings.Contains(ch, "invalid_token") != tc.invalid {
					t.Errorf("WWW-Authenticate %q", ch)
				}
			}
		})
	}
	recs := s.records(refsink.LedgerQuery{})
	if len(recs) != 3 || recs[0].Principal != "bearer" || recs[1].Principal != "apikey" {
		t.Errorf("only authenticated requests reach the ledger: %+v", recs)
	}
	// The control endpoints stay open without an admin token.
	if _, err := s.client.Stats(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestOAuth2ClientCredentials(t *testing.T) {
	clock := newFakeClock()
	dir := t.TempDir()
	conf := func(c *refsink.Config) {
		c.Auth.OAuth2Clients = []refsink.OAuth2Client{{ID: "relay", Secret: "s3cret:/&"}}
		c.Auth.TokenTTL = refsink.Duration(5 * time.Minute)
		c.Now = clock.Now
	}
	s := openSink(t, refsink.KindTMS, dir, conf)
	ctx := context.Background()

	tok, err := s.client.Token(ctx, "relay", "s3cret:/&")
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "Bearer" || tok.ExpiresIn != 300 || tok.AccessToken == "" {
		t.Fatalf("token %+v", tok)
	}
	bearer := []string{"Authorization", "Bearer " + tok.AccessToken}
	r := s.post(valid[5].path, "t1", "application/json", valid[5].body, bearer...)
	wantStatus(t, r, 201)
	if rec := s.records(refsink.LedgerQuery{Key: "t1"})[0]; rec.Principal != "oauth2:relay" {
		t.Errorf("principal %q", rec.Principal)
	}

	// client_secret_post works too; errors follow RFC 6749 §5.2.
	form := func(v url.Values, basic ...string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, s.url+"/oauth/token", strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if len(basic) == 2 {
			req.SetBasicAuth(basic[0], basic[1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body struct {
			Error string `json:"error"`
		}
		_ = decodeJSON(res, &body)
		return res.StatusCode, body.Error
	}
	if st, e := form(url.Values{"grant_type": {"client_credentials"}, "client_id": {"relay"}, "client_secret": {"s3cret:/&"}}); st != 200 || e != "" {
		t.Errorf("client_secret_post: %d %s", st, e)
	}
	if st, e := form(url.Values{"grant_type": {"client_credentials"}}, "relay", "wrong"); st != 401 || e != "invalid_client" {
		t.Errorf("wrong secret: %d %s", st, e)
	}
	if st, e := form(url.Values{"grant_type": {"password"}}, "relay", url.QueryEscape("s3cret:/&")); st != 400 || e != "unsupported_grant_type" {
		t.Errorf("password grant: %d %s", st, e)
	}
	var se *refsink.StatusError
	if _, err := s.client.Token(ctx, "stranger", "x"); !errors.As(err, &se) || se.Status != 401 {
		t.Errorf("unknown client: %v", err)
	}

	// A forged or tampered token is refused.
	forged := tok.AccessToken[:len(tok.AccessToken)-2] + "xx"
	wantStatus(t, s.post(valid[5].path, "t2", "application/json", valid[5].body, "Authorization", "Bearer "+forged), 401)

	// Tokens outlive a restart (the signing key is in the data directory).
	s.close()
	s = openSink(t, refsink.KindTMS, dir, conf)
	wantStatus(t, s.post(valid[5].path, "t3", "application/json", valid[5].body, bearer...), 201)

	// And expire.
	clock.Advance(5*time.Minute + time.Millisecond)
	r = s.post(valid[5].path, "t4", "application/json", valid[5].body, bearer...)
	wantStatus(t, r, 401)
	if ch := r.header.Get("WWW-Authenticate"); !strings.Contains(ch, `error="invalid_token"`) || !strings.Contains(ch, "expired") {
		t.Errorf("WWW-Authenticate %q", ch)
	}
	tok2, err := s.client.Token(ctx, "relay", "s3cret:/&")
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, s.post(valid[5].path, "t4", "application/json", valid[5].body, "Authorization", "Bearer "+tok2.AccessToken), 201)
}

func TestAdminToken(t *testing.T) {
	s := newSink(t, refsink.KindERP, func(c *refsink.Config) { c.AdminToken = "adm" })
	ctx := context.Background()
	var se *refsink.StatusError
	if _, err := s.client.Stats(ctx); !errors.As(err, &se) || se.Status != 401 {
		t.Fatalf("stats without the admin token: %v", err)
	}
	s.client.AdminToken = "adm"
	if _, err := s.client.Stats(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.client.SetFaults(ctx, refsink.Faults{Down: true}); err != nil {
		t.Fatal(err)
	}
}

func TestMutualTLSIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a TLS listener")
	}
	setup, err := pki.NewTestSetup()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caFile, certFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "srv.pem"), filepath.Join(dir, "srv-key.pem")
	if err := os.WriteFile(caFile, pki.CertPEM(setup.CA.Cert), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteFiles(certFile, keyFile, setup.Server.Leaf, setup.Server.PrivateKey.(pki.Signer)); err != nil {
		t.Fatal(err)
	}
	srv, err := refsink.NewServer(refsink.Config{
		Kind: refsink.KindERP, DataDir: filepath.Join(dir, "data"),
		TLS: refsink.TLSConfig{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ln := listen(t)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	base := "https://" + ln.Addr().String()

	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: setup.CA.Pool(), MinVersion: tls.VersionTLS12}}}
	if _, err := (&sink{t: t, url: base}).tryPost(anon, "/erp/v1/goods-movements", "m0", "application/json", gm(0)); err == nil {
		t.Fatal("a client without a certificate got through")
	}
	ctls, err := setup.ClientTLS("MEM1")
	if err != nil {
		t.Fatal(err)
	}
	ctls.ServerName = "127.0.0.1"
	withCert := &http.Client{Transport: &http.Transport{TLSClientConfig: ctls}}
	r, err := (&sink{t: t, url: base}).tryPost(withCert, "/erp/v1/goods-movements", "m1", "application/json", gm(1))
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, r, 201)
	c := refsink.NewClient(base)
	c.HTTP = withCert
	recs, err := c.Records(ctx, refsink.LedgerQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || !strings.HasPrefix(recs[0].Principal, "mtls:") {
		t.Errorf("records %+v", recs)
	}
}
