package refsink

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

const (
	tokenKeyFileName = "oauth-signing.key" //nolint:gosec // a file name, not a credential
	tokenPrefix      = "rs1."
	authRealm        = "dray-refsink"
)

// authenticator checks credentials and issues OAuth2 tokens. Tokens are
// self-contained (client id and expiry, HMAC-SHA256 signed with a key kept
// in the data directory), so they stay valid across a restart, as a real
// identity provider's would.
type authenticator struct {
	cfg      AuthConfig
	key      []byte
	now      func() time.Time
	required bool // some credential is configured
}

func newAuthenticator(cfg AuthConfig, dataDir string, now func() time.Time) (*authenticator, error) {
	a := &authenticator{cfg: cfg, now: now}
	a.required = len(cfg.OAuth2Clients) > 0 || len(cfg.BearerTokens) > 0 || len(cfg.APIKeys) > 0
	if len(cfg.OAuth2Clients) == 0 {
		return a, nil
	}
	path := filepath.Join(dataDir, tokenKeyFileName)
	key, err := os.ReadFile(path) //nolint:gosec // in the configured data directory
	if errors.Is(err, os.ErrNotExist) {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("make token key: %w", err)
		}
		if err := os.WriteFile(path, key, 0o600); err != nil {
			return nil, fmt.Errorf("write token key: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("read token key: %w", err)
	}
	if len(key) < 32 {
		return nil, fmt.Errorf("token key %s: want 32 bytes, got %d", path, len(key))
	}
	a.key = key
	return a, nil
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// authenticate returns the principal of r, or an error message for a 401.
// A verified client certificate (mTLS) is enough only when no other
// credential is configured.
func (a *authenticator) authenticate(ctx *fasthttp.RequestCtx) (principal string, errDesc string, ok bool) {
	if !a.required {
		// A client certificate names the principal only here: with other
		// credentials configured they do.
		if st := ctx.TLSConnectionState(); st != nil && len(st.PeerCertificates) > 0 {
			return "mtls:" + st.PeerCertificates[0].Subject.String(), "", true
		}
		return "", "", true
	}
	h := &ctx.Request.Header
	for _, name := range [...]string{headerAPIKey, headerAPIKeySAP} {
		if k := string(h.Peek(name)); k != "" {
			for _, want := range a.cfg.APIKeys {
				if equal(k, want) {
					return "apikey", "", true
				}
			}
			return "", "invalid API key", false
		}
	}
	authz := string(h.Peek("Authorization"))
	if authz == "" {
		return "", "", false
	}
	scheme, tok, _ := strings.Cut(authz, " ")
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", "unsupported authorization scheme", false
	}
	for _, want := range a.cfg.BearerTokens {
		if equal(tok, want) {
			return "bearer", "", true
		}
	}
	client, err := a.verifyToken(tok)
	if err != nil {
		return "", err.Error(), false
	}
	return "oauth2:" + client, "", true
}

// challenge writes a 401 with a Bearer challenge (RFC 6750 §3).
func challenge(c *call, errDesc string) {
	v := `Bearer realm="` + authRealm + `"`
	if errDesc != "" {
		v += `, error="invalid_token", error_description="` + errDesc + `"`
	}
	c.ctx.Response.Header.Set("WWW-Authenticate", v)
	detail := "no credentials"
	if errDesc != "" {
		detail = errDesc
	}
	writeProblem(c.ctx, http.StatusUnauthorized, ptUnauthorized, "Unauthorized", detail, c.path)
}

// issueToken signs a token for client valid for ttl.
func (a *authenticator) issueToken(client string, ttl time.Duration) string {
	exp := a.now().Add(ttl).UnixMilli()
	payload := make([]byte, 8, 8+len(client))
	binary.BigEndian.PutUint64(payload, uint64(exp))
	payload = append(payload, client...)
	mac := hmac.New(sha256.New, a.key)
	mac.Write(payload)
	enc := base64.RawURLEncoding
	return tokenPrefix + enc.EncodeToString(payload) + "." + enc.EncodeToString(mac.Sum(nil))
}

var (
	errTokenInvalid = errors.New("invalid token")
	errTokenExpired = errors.New("token expired")
)

func (a *authenticator) verifyToken(tok string) (string, error) {
	rest, ok := strings.CutPrefix(tok, tokenPrefix)
	if !ok || a.key == nil {
		return "", errTokenInvalid
	}
	p64, s64, ok := strings.Cut(rest, ".")
	if !ok {
		return "", errTokenInvalid
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p64)
	sig, err2 := enc.DecodeString(s64)
	if err1 != nil || err2 != nil || len(payload) < 8 {
		return "", errTokenInvalid
	}
	mac := hmac.New(sha256.New, a.key)
	mac.Write(payload)
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return "", errTokenInvalid
	}
	if exp := int64(binary.BigEndian.Uint64(payload)); !a.now().Before(time.UnixMilli(exp)) {
		return "", errTokenExpired
	}
	return string(payload[8:]), nil
}

// tokenResponse is RFC 6749 §5.1.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope,omitempty"`
}

// tokenError is RFC 6749 §5.2.
type tokenError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// serveToken is POST /oauth/token: the client-credentials grant, with the
// client authenticated by HTTP Basic (client_secret_basic) or form fields
// (client_secret_post).
func (a *authenticator) serveToken(c *call) {
	ctx := c.ctx
	ctx.Response.Header.Set("Pragma", "no-cache")
	fail := func(status int, code, desc string) {
		if status == http.StatusUnauthorized {
			ctx.Response.Header.Set("WWW-Authenticate", `Basic realm="`+authRealm+`"`)
		}
		writeJSON(ctx, status, tokenError{Error: code, Description: desc})
	}
	if len(a.cfg.OAuth2Clients) == 0 {
		fail(http.StatusBadRequest, "unauthorized_client", "no OAuth2 clients are configured")
		return
	}
	if ct := mediaType(string(ctx.Request.Header.ContentType())); ct != "application/x-www-form-urlencoded" {
		fail(http.StatusBadRequest, "invalid_request", "want application/x-www-form-urlencoded")
		return
	}
	b, err := body(c, maxTokenBody)
	if err != nil {
		fail(http.StatusBadRequest, "invalid_request", "cannot parse the form")
		return
	}
	// As net/http's ParseForm: a malformed pair refuses the form.
	form, err := url.ParseQuery(string(b))
	if err != nil {
		fail(http.StatusBadRequest, "invalid_request", "cannot parse the form")
		return
	}
	id, secret, basic := basicAuth(string(ctx.Request.Header.Peek("Authorization")))
	if basic {
		// RFC 6749 §2.3.1: both are form-encoded before Basic encoding.
		if u, err := url.QueryUnescape(id); err == nil {
			id = u
		}
		if u, err := url.QueryUnescape(secret); err == nil {
			secret = u
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	known := false
	for _, c := range a.cfg.OAuth2Clients {
		if equal(id, c.ID) && equal(secret, c.Secret) {
			known = true
		}
	}
	if id == "" || !known {
		fail(http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret")
		return
	}
	if gt := form.Get("grant_type"); gt != "client_credentials" {
		fail(http.StatusBadRequest, "unsupported_grant_type", "only client_credentials is supported")
		return
	}
	ttl := a.cfg.TokenTTL.D()
	writeJSON(ctx, http.StatusOK, tokenResponse{
		AccessToken: a.issueToken(id, ttl),
		TokenType:   "Bearer",
		ExpiresIn:   int64(ttl / time.Second),
		Scope:       form.Get("scope"),
	})
}

// maxTokenBody caps a POST /oauth/token body.
const maxTokenBody = 64 << 10

// basicAuth parses an Authorization value of the Basic scheme, as
// net/http's Request.BasicAuth does.
func basicAuth(authz string) (user, pass string, ok bool) {
	const prefix = "Basic "
	if len(authz) < len(prefix) || !strings.EqualFold(authz[:len(prefix)], prefix) {
		return "", "", false
	}
	dec, err := base64.StdEncoding.DecodeString(authz[len(prefix):])
	if err != nil {
		return "", "", false
	}
	user, pass, ok = strings.Cut(string(dec), ":")
	return user, pass, ok
}

// mediaType is the lower-cased media type of a Content-Type value, without
// parameters.
func mediaType(ct string) string {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}
