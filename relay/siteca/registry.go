package siteca

import (
	"crypto/subtle"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/pki"
)

// Defaults and bounds of Options.
const (
	DefaultTokenTTL = 24 * time.Hour
	DefaultCertTTL  = 30 * 24 * time.Hour
	MaxTokenTTL     = 30 * 24 * time.Hour
	MinCertTTL      = time.Minute
)

// State is where a site is in its life.
type State string

// States.
const (
	// StatePending: a token was issued, no certificate yet.
	StatePending State = "pending"
	// StateActive: enrolled; its current certificates may connect.
	StateActive State = "active"
	// StateRevoked: nothing of it may connect until it is added again.
	StateRevoked State = "revoked"
)

// Site is a site's registry record.
type Site struct {
	Site      string    `json:"site"`
	State     State     `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
	// Token is the current enrollment token, hashed.
	Token *TokenRecord `json:"token,omitempty"`
	// Certs are the certificates issued to the site that may connect
	// (not expired, not superseded by a new enrollment), oldest first.
	Certs      []CertRecord `json:"certs,omitempty"`
	EnrolledAt time.Time    `json:"enrolled_at,omitzero"`
	RenewedAt  time.Time    `json:"renewed_at,omitzero"`
	RevokedAt  time.Time    `json:"revoked_at,omitzero"`
	RevokedBy  string       `json:"revoked_by,omitempty"`
	Reason     string       `json:"revoke_reason,omitempty"`
}

// TokenRecord is an enrollment token as the registry keeps it.
type TokenRecord struct {
	SHA256    string    `json:"sha256"`
	ExpiresAt time.Time `json:"expires_at"`
	UsedAt    time.Time `json:"used_at,omitzero"`
}

// CertRecord is an issued certificate.
type CertRecord struct {
	Serial   string    `json:"serial"`
	NotAfter time.Time `json:"not_after"`
}

// Error codes of *Error.
const (
	CodeTokenInvalid = "token_invalid"
	CodeTokenUsed    = "token_used"
	CodeTokenExpired = "token_expired"
	CodeSiteMismatch = "site_mismatch"
	CodeRevoked      = "revoked"
	CodeSiteExists   = "site_exists"
	CodeUnknownSite  = "unknown_site"
	CodeBadRequest   = "bad_request"
	CodeCertUnknown  = "cert_unknown"
	CodeCertExpired  = "cert_expired"
)

// Error is a refusal of the registry, with a machine-readable code and a
// message for the operator.
type Error struct {
	Code string
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

func refuse(code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// IsCode reports whether err is an *Error with code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// Options configure Open.
type Options struct {
	// Path is the registry file (created on first change).
	Path string
	// CA issues the site certificates.
	CA *Authority
	// TokenTTL is the default token lifetime (24 h); CertTTL the
	// lifetime of site certificates (30 days).
	TokenTTL, CertTTL time.Duration
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Registry is the site registry and the CA's issuing policy. It is safe for
// concurrent use.
type Registry struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	sites    map[string]Site   // guarded by mu
	onRevoke func(site string) // guarded by mu
}

type registryFile struct {
	Version int             `json:"version"`
	Sites   map[string]Site `json:"sites"`
}

// Open reads the registry file (a missing file is an empty registry).
func Open(o Options) (*Registry, error) {
	if o.CA == nil || o.Path == "" {
		return nil, errors.New("site registry: a CA and a path are required")
	}
	if o.TokenTTL == 0 {
		o.TokenTTL = DefaultTokenTTL
	}
	if o.CertTTL == 0 {
		o.CertTTL = DefaultCertTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	r := &Registry{opts: o, log: o.Logger.With("component", "siteca"), sites: map[string]Site{}}
	b, err := os.ReadFile(o.Path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("open site registry: %w", err)
	default:
		var f registryFile
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("open site registry %s: %w (the file is corrupt; restore it from a backup)", o.Path, err)
		}
		if f.Version != 1 {
			return nil, fmt.Errorf("open site registry %s: unknown version %d", o.Path, f.Version)
		}
		if f.Sites != nil {
			r.sites = f.Sites
		}
	}
	return r, nil
}

// CA is the registry's authority.
func (r *Registry) CA() *Authority { return r.opts.CA }

// CertTTL is the lifetime of the certificates the registry issues.
func (r *Registry) CertTTL() time.Duration { return r.opts.CertTTL }

// OnRevoke sets the function called (outside the lock, after the
// revocation is on disk) with each revoked site: the relay disconnects its
// session.
func (r *Registry) OnRevoke(f func(site string)) {
	r.mu.Lock()
	r.onRevoke = f
	r.mu.Unlock()
}

// saveLocked writes the registry with next in place of the current map and
// makes next current once it is on disk.
func (r *Registry) saveLocked(next map[string]Site) error {
	b, err := json.MarshalIndent(registryFile{Version: 1, Sites: next}, "", "  ")
	if err != nil {
		return err
	}
	if err := WriteFileAtomic(r.opts.Path, b, 0o600); err != nil {
		return fmt.Errorf("save site registry: %w", err)
	}
	r.sites = next
	return nil
}

// withLocked returns a copy of the map with site set to s.
func (r *Registry) withLocked(s Site) map[string]Site {
	next := make(map[string]Site, len(r.sites)+1)
	for k, v := range r.sites {
		next[k] = v
	}
	next[s.Site] = s
	return next
}

// Add issues an enrollment token for site, valid for ttl (0: the default).
// A pending site gets a new token (the old one stops working); a revoked
// site starts over (its old certificates stay refused); an active site is
// refused: revoke it first.
func (r *Registry) Add(site string, ttl time.Duration, by string) (Token, Site, error) {
	if !canonical.ValidSiteID(site) {
		return Token{}, Site{}, refuse(CodeBadRequest, "invalid site id %q (1-32 letters, digits, '_', '.', '-')", site)
	}
	if ttl == 0 {
		ttl = r.opts.TokenTTL
	}
	if ttl < time.Second || ttl > MaxTokenTTL {
		return Token{}, Site{}, refuse(CodeBadRequest, "token lifetime %v is outside 1s..%v", ttl, MaxTokenTTL)
	}
	tok, err := newToken(site, r.opts.CA.Fingerprint())
	if err != nil {
		return Token{}, Site{}, err
	}
	now := r.opts.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	old, exists := r.sites[site]
	if exists && old.State == StateActive {
		return Token{}, Site{}, refuse(CodeSiteExists, "site %s is enrolled; revoke it first to enroll it again (dray-relay sites revoke %s)", site, site)
	}
	s := Site{Site: site, State: StatePending, CreatedAt: now, CreatedBy: by,
		Token: &TokenRecord{SHA256: tok.Hash(), ExpiresAt: now.Add(ttl)}}
	if err := r.saveLocked(r.withLocked(s)); err != nil {
		return Token{}, Site{}, err
	}
	return tok, s, nil
}

// List returns every site, by id.
func (r *Registry) List() []Site {
	r.mu.Lock()
	out := make([]Site, 0, len(r.sites))
	for _, s := range r.sites {
		out = append(out, s)
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Site < out[j].Site })
	return out
}

// Get returns one site.
func (r *Registry) Get(site string) (Site, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sites[site]
	return s, ok
}

// Revoke revokes a site: its token and certificates stop working, and the
// OnRevoke function disconnects its session.
func (r *Registry) Revoke(site, reason, by string) (Site, error) {
	r.mu.Lock()
	s, ok := r.sites[site]
	if !ok {
		r.mu.Unlock()
		return Site{}, refuse(CodeUnknownSite, "no site %q", site)
	}
	if s.State != StateRevoked {
		s.State = StateRevoked
		s.Token = nil
		s.Certs = nil
		s.RevokedAt = r.opts.Now()
		s.RevokedBy = by
		s.Reason = reason
		if err := r.saveLocked(r.withLocked(s)); err != nil {
			r.mu.Unlock()
			return Site{}, err
		}
	}
	hook := r.onRevoke
	r.mu.Unlock()
	if hook != nil {
		hook(site)
	}
	return s, nil
}

// Enroll spends a token: it checks the token, the site the agent says it
// is (claimed, may be empty) and the CSR's signature, and issues a
// certificate for the token's site and the CSR's key. Nothing of the CSR
// but its key is used.
func (r *Registry) Enroll(token, claimed string, csr *x509.CertificateRequest) (*x509.Certificate, error) {
	t, err := ParseToken(token)
	if err != nil {
		return nil, refuse(CodeTokenInvalid, "%v", err)
	}
	if t.CAFingerprint != r.opts.CA.Fingerprint() {
		return nil, refuse(CodeTokenInvalid, "the token pins another site CA than this relay's: it was made by another relay or before `ca init` was run again")
	}
	if err := checkCSR(csr); err != nil {
		return nil, err
	}
	now := r.opts.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sites[t.Site]
	if !ok || s.Token == nil || subtle.ConstantTimeCompare([]byte(s.Token.SHA256), []byte(t.Hash())) != 1 {
		return nil, refuse(CodeTokenInvalid, "unknown enrollment token (revoked, replaced by a newer one, or never issued)")
	}
	switch {
	case !s.Token.UsedAt.IsZero():
		return nil, refuse(CodeTokenUsed, "this enrollment token was already used at %s; ask for a new one (dray-relay sites add %s)",
			s.Token.UsedAt.UTC().Format(time.RFC3339), t.Site)
	case now.After(s.Token.ExpiresAt):
		return nil, refuse(CodeTokenExpired, "this enrollment token expired at %s; ask for a new one (dray-relay sites add %s)",
			s.Token.ExpiresAt.UTC().Format(time.RFC3339), t.Site)
	case claimed != "" && claimed != t.Site:
		return nil, refuse(CodeSiteMismatch, "this enrollment token is for site %s, but the agent is configured as site %s", t.Site, claimed)
	}
	cert, err := r.opts.CA.IssueSite(t.Site, csr.PublicKey, now, r.opts.CertTTL)
	if err != nil {
		return nil, refuse(CodeBadRequest, "%v", err)
	}
	tr := *s.Token
	tr.UsedAt = now
	s.Token = &tr
	s.State = StateActive
	s.EnrolledAt = now
	s.Certs = []CertRecord{{Serial: SerialHex(cert), NotAfter: cert.NotAfter}}
	if err := r.saveLocked(r.withLocked(s)); err != nil {
		return nil, err
	}
	return cert, nil
}

// Renew issues a new certificate to the holder of cur (verified by the
// TLS handshake against the CA) for the CSR's key.
func (r *Registry) Renew(cur *x509.Certificate, csr *x509.CertificateRequest) (*x509.Certificate, error) {
	site, err := pki.SiteFromCert(cur)
	if err != nil {
		return nil, refuse(CodeCertUnknown, "%v", err)
	}
	if err := checkCSR(csr); err != nil {
		return nil, err
	}
	now := r.opts.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sites[site]
	if !ok {
		return nil, refuse(CodeUnknownSite, "no site %q", site)
	}
	if err := s.check(cur, now); err != nil {
		return nil, err
	}
	cert, err := r.opts.CA.IssueSite(site, csr.PublicKey, now, r.opts.CertTTL)
	if err != nil {
		return nil, refuse(CodeBadRequest, "%v", err)
	}
	certs := slices.DeleteFunc(slices.Clone(s.Certs), func(c CertRecord) bool { return now.After(c.NotAfter) })
	s.Certs = append(certs, CertRecord{Serial: SerialHex(cert), NotAfter: cert.NotAfter})
	s.RenewedAt = now
	if err := r.saveLocked(r.withLocked(s)); err != nil {
		return nil, err
	}
	return cert, nil
}

// Authorize decides whether cert may connect as site: the site is active,
// the certificate is one the registry issued to it and still current.
func (r *Registry) Authorize(site string, cert *x509.Certificate) error {
	now := r.opts.Now()
	r.mu.Lock()
	s, ok := r.sites[site]
	r.mu.Unlock()
	if !ok {
		return refuse(CodeUnknownSite, "site %s is not enrolled", site)
	}
	return s.check(cert, now)
}

// check says whether cert is one of the site's current certificates.
func (s *Site) check(cert *x509.Certificate, now time.Time) error {
	switch s.State {
	case StateRevoked:
		return refuse(CodeRevoked, "site %s was revoked at %s", s.Site, s.RevokedAt.UTC().Format(time.RFC3339))
	case StateActive:
	default:
		return refuse(CodeUnknownSite, "site %s is not enrolled", s.Site)
	}
	if now.After(cert.NotAfter) {
		return refuse(CodeCertExpired, "the certificate of site %s expired at %s", s.Site, cert.NotAfter.UTC().Format(time.RFC3339))
	}
	serial := SerialHex(cert)
	for _, c := range s.Certs {
		if c.Serial == serial {
			return nil
		}
	}
	return refuse(CodeCertUnknown, "certificate %s is not a current certificate of site %s (superseded by a new enrollment, or not issued by this relay's enrollment)", serial, s.Site)
}

func checkCSR(csr *x509.CertificateRequest) error {
	if csr == nil {
		return refuse(CodeBadRequest, "a certificate signing request is required")
	}
	if err := csr.CheckSignature(); err != nil {
		return refuse(CodeBadRequest, "the certificate signing request's signature does not verify: %v", err)
	}
	if err := checkPublicKey(csr.PublicKey); err != nil {
		return refuse(CodeBadRequest, "%v", err)
	}
	return nil
}
