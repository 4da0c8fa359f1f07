package sink

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/draylink/dray/internal/configfile"
)

// Config is the HTTP part of one sink in the relay configuration
// (sinks[i]); the dispatch part sits beside it in the same YAML mapping.
type Config struct {
	// Name identifies the sink: its relay log consumer, dead-letter store
	// and routes use it.
	Name string `yaml:"name"`
	// URL is the base URL; each route's path is appended to it.
	URL  string     `yaml:"url"`
	Auth AuthConfig `yaml:"auth"`
	TLS  TLSConfig  `yaml:"tls"`
	// Timeout bounds one request, from dial to the end of the response
	// body (default 10s).
	Timeout configfile.Duration `yaml:"timeout"`
	// MaxResponseBytes is the most of a response body the relay reads
	// (default 64KiB); the rest is discarded unread.
	MaxResponseBytes configfile.ByteSize `yaml:"max_response_bytes"`
	// MaxConns caps the connections to the sink (default 64).
	MaxConns int           `yaml:"max_conns"`
	Rate     RateConfig    `yaml:"rate"`
	Breaker  BreakerConfig `yaml:"breaker"`
	// Headers are static, non-secret headers sent on every request.
	Headers map[string]string `yaml:"headers"`
}

// AuthConfig chooses at most one way of authenticating (mTLS, under tls,
// combines with any of them).
type AuthConfig struct {
	OAuth2 *OAuth2Config `yaml:"oauth2"`
	// Bearer sends "Authorization: Bearer <secret>".
	Bearer *Secret       `yaml:"bearer"`
	APIKey *APIKeyConfig `yaml:"api_key"`
}

// OAuth2Config is the OAuth 2.0 client credentials grant.
type OAuth2Config struct {
	TokenURL     string   `yaml:"token_url"`
	ClientID     string   `yaml:"client_id"`
	ClientSecret Secret   `yaml:"client_secret"`
	Scopes       []string `yaml:"scopes"`
	// AuthStyle is "header" (HTTP Basic) or "params" (form fields);
	// empty: detect.
	AuthStyle string `yaml:"auth_style"`
}

// APIKeyConfig sends a secret in a header of its own.
type APIKeyConfig struct {
	Header string `yaml:"header"`
	Value  Secret `yaml:"value"`
}

// Secret names where a secret is: an environment variable or a file (whose
// content, trailing newline removed, is the secret). Secrets are read when
// the sink starts and are never logged.
type Secret struct {
	Env  string `yaml:"env"`
	File string `yaml:"file"`
}

// TLSConfig sets the trust and, for mTLS, the client certificate.
type TLSConfig struct {
	// CAFile is a PEM bundle to trust instead of the system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the client certificate for mTLS.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name checked in the sink's certificate.
	ServerName string `yaml:"server_name"`
}

// RateConfig limits requests per second to the sink (0: unlimited).
type RateConfig struct {
	PerSecond float64 `yaml:"per_second"`
	// Burst is the bucket size (default: PerSecond rounded up, at least 1).
	Burst int `yaml:"burst"`
}

// BreakerConfig configures the circuit breaker.
type BreakerConfig struct {
	// Failures is the number of consecutive failures (network errors,
	// timeouts, 5xx, 401) that opens the breaker (default 5; -1: no breaker).
	Failures int `yaml:"failures"`
	// OpenFor is how long it stays open before a probe (default 15s).
	OpenFor configfile.Duration `yaml:"open_for"`
	// Probes is the number of requests let through while half-open
	// (default 1).
	Probes int `yaml:"probes"`
}

// SetDefaults fills defaults.
func (c *Config) SetDefaults() {
	if c.Timeout == 0 {
		c.Timeout = configfile.Duration(10 * time.Second)
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = 64 << 10
	}
	if c.MaxConns == 0 {
		c.MaxConns = 64
	}
	if c.Breaker.Failures == 0 {
		c.Breaker.Failures = 5
	}
	if c.Breaker.OpenFor == 0 {
		c.Breaker.OpenFor = configfile.Duration(15 * time.Second)
	}
	if c.Breaker.Probes == 0 {
		c.Breaker.Probes = 1
	}
	if c.Rate.PerSecond > 0 && c.Rate.Burst == 0 {
		c.Rate.Burst = max(1, int(c.Rate.PerSecond+0.999))
	}
}

// Validate reports every problem under path (e.g. "sinks[0]"). It checks
// that secrets are named, not that they can be read (see New).
func (c *Config) Validate(path string, errs *configfile.Errors) {
	if !validName(c.Name) {
		errs.Add(path+".name", "want 1 to 64 letters, digits, '-' or '_', got %q", c.Name)
	}
	if err := checkBaseURL(c.URL); err != nil {
		errs.Add(path+".url", "%v", err)
	}
	n := 0
	if a := c.Auth.OAuth2; a != nil {
		n++
		p := path + ".auth.oauth2"
		if err := checkBaseURL(a.TokenURL); err != nil {
			errs.Add(p+".token_url", "%v", err)
		}
		if a.ClientID == "" {
			errs.Add(p+".client_id", "required")
		}
		a.ClientSecret.validate(p+".client_secret", errs)
		switch a.AuthStyle {
		case "", "header", "params":
		default:
			errs.Add(p+".auth_style", "want header or params, got %q", a.AuthStyle)
		}
	}
	if c.Auth.Bearer != nil {
		n++
		c.Auth.Bearer.validate(path+".auth.bearer", errs)
	}
	if a := c.Auth.APIKey; a != nil {
		n++
		if !validHeader(a.Header) {
			errs.Add(path+".auth.api_key.header", "want a header name, got %q", a.Header)
		}
		a.Value.validate(path+".auth.api_key.value", errs)
	}
	if n > 1 {
		errs.Add(path+".auth", "set at most one of oauth2, bearer and api_key")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		errs.Add(path+".tls", "cert_file and key_file go together")
	}
	if c.Timeout.D() < 100*time.Millisecond || c.Timeout.D() > 10*time.Minute {
		errs.Add(path+".timeout", "must be between 100ms and 10m")
	}
	if c.MaxResponseBytes < 1<<10 || c.MaxResponseBytes > 64<<20 {
		errs.Add(path+".max_response_bytes", "must be between 1KiB and 64MiB")
	}
	if c.MaxConns < 1 || c.MaxConns > 4096 {
		errs.Add(path+".max_conns", "must be between 1 and 4096, got %d", c.MaxConns)
	}
	if c.Rate.PerSecond < 0 || c.Rate.Burst < 0 {
		errs.Add(path+".rate", "must not be negative")
	}
	if c.Breaker.Failures < -1 {
		errs.Add(path+".breaker.failures", "want a positive count, or -1 for no breaker")
	}
	if c.Breaker.OpenFor.D() < 100*time.Millisecond {
		errs.Add(path+".breaker.open_for", "must be at least 100ms")
	}
	if c.Breaker.Probes < 1 {
		errs.Add(path+".breaker.probes", "must be at least 1")
	}
	for name, v := range c.Headers {
		switch {
		case !validHeader(name):
			errs.Add(path+".headers."+name, "not a valid header name")
		case strings.ContainsAny(v, "\r\n"):
			errs.Add(path+".headers."+name, "value contains a line break")
		case strings.EqualFold(name, "Authorization"):
			errs.Add(path+".headers."+name, "put credentials under auth (secrets from env or files)")
		}
	}
}

func (s *Secret) validate(path string, errs *configfile.Errors) {
	if (s.Env == "") == (s.File == "") {
		errs.Add(path, "set exactly one of env and file")
	}
}

// Read returns the secret.
func (s *Secret) Read() (string, error) {
	if s.Env != "" {
		v, ok := os.LookupEnv(s.Env)
		if !ok || v == "" {
			return "", fmt.Errorf("environment variable %s is not set", s.Env)
		}
		return v, nil
	}
	b, err := os.ReadFile(s.File)
	if err != nil {
		return "", fmt.Errorf("read secret: %w", err)
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		return "", fmt.Errorf("secret file %s is empty", s.File)
	}
	return v, nil
}

func checkBaseURL(s string) error {
	if s == "" {
		return fmt.Errorf("required")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("want an http or https URL, got %q", s)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("want scheme://host[:port][/path] without credentials, query or fragment, got %q", s)
	}
	return nil
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func validHeader(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && strings.IndexByte("!#$%&'*+-.^_`|~", c) < 0 {
			return false
		}
	}
	return true
}
