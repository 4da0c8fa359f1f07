package refsink

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"
)

// Kind is the flavour a server plays.
type Kind string

// The two flavours.
const (
	KindERP Kind = "erp"
	KindTMS Kind = "tms"
)

// Config is a reference sink's configuration. The JSON form (the --config
// file of dray-refsink) is decoded strictly: unknown keys are errors.
type Config struct {
	// Kind is "erp" or "tms".
	Kind Kind `json:"kind"`
	// Listen is the TCP address Run listens on, e.g. "127.0.0.1:8081".
	Listen string `json:"listen,omitempty"`
	// DataDir holds the ledger, the token signing key and the lock file.
	DataDir string `json:"data,omitempty"`

	Auth AuthConfig `json:"auth,omitzero"`
	TLS  TLSConfig  `json:"tls,omitzero"`
	// Faults are the knobs in force at start; PUT /_faults replaces them.
	Faults Faults `json:"faults,omitzero"`

	// AdminToken, when set, is required as a bearer token on /_ledger and
	// /_faults. Empty leaves them open (loopback test use).
	AdminToken string `json:"adminToken,omitempty"`
	// RecordBodies stores each request body (compacted JSON) in its ledger
	// record, so a test can check what a mapping produced.
	RecordBodies bool `json:"recordBodies,omitempty"`
	// MaxBodyBytes caps a request body (default 16 MiB); larger → 413.
	MaxBodyBytes int64 `json:"maxBodyBytes,omitempty"`
	// MaxBatchItems caps the items of one batch (default 1000); more → 413.
	MaxBatchItems int `json:"maxBatchItems,omitempty"`
	// ShutdownTimeout bounds the graceful shutdown (default 10s).
	ShutdownTimeout Duration `json:"shutdownTimeout,omitzero"`

	// Logger receives the server's log; nil discards it.
	Logger *slog.Logger `json:"-"`
	// Now is the clock (token expiry, outage windows, record times); nil is
	// time.Now. Tests inject one.
	Now func() time.Time `json:"-"`
}

// AuthConfig lists the accepted credentials. With none configured every
// request is accepted (a test without auth); otherwise a business request
// must present one of them, or get 401.
type AuthConfig struct {
	// OAuth2Clients may obtain bearer tokens from POST /oauth/token with the
	// client-credentials grant.
	OAuth2Clients []OAuth2Client `json:"oauth2Clients,omitempty"`
	// TokenTTL is the lifetime of issued tokens (default 10m).
	TokenTTL Duration `json:"tokenTTL,omitzero"`
	// BearerTokens are static tokens accepted as "Authorization: Bearer …".
	BearerTokens []string `json:"bearerTokens,omitempty"`
	// APIKeys are accepted in the X-API-Key (or APIKey) header.
	APIKeys []string `json:"apiKeys,omitempty"`
}

// OAuth2Client is one client of the token endpoint.
type OAuth2Client struct {
	ID     string `json:"clientId"`
	Secret string `json:"clientSecret"`
}

// TLSConfig turns on HTTPS. With ClientCAFile set, the handshake requires a
// client certificate signed by that CA (mTLS).
type TLSConfig struct {
	CertFile     string `json:"certFile,omitempty"`
	KeyFile      string `json:"keyFile,omitempty"`
	ClientCAFile string `json:"clientCAFile,omitempty"`
}

// Enabled reports whether HTTPS is configured.
func (t TLSConfig) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// Duration is a time.Duration written as a Go duration string ("250ms").
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string such as "1.5s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"250ms\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Defaults.
const (
	defaultMaxBody       = 16 << 20
	defaultMaxBatchItems = 1000
	defaultTokenTTL      = 10 * time.Minute
	defaultShutdown      = 10 * time.Second
	defaultRetryAfter    = time.Second
)

// LoadConfig reads a JSON configuration file strictly.
func LoadConfig(path string) (Config, error) {
	var cfg Config
	b, err := os.ReadFile(path) //nolint:gosec // the configuration file named by the operator
	if err != nil {
		return cfg, fmt.Errorf("load config: %w", err)
	}
	if err := decodeStrict(b, &cfg); err != nil {
		return cfg, fmt.Errorf("load config %s: %w", path, err)
	}
	return cfg, nil
}

// decodeStrict decodes one JSON value, refusing unknown fields and trailing
// data.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errTrailingData
	}
	return nil
}

// Validate returns every problem of the configuration, each with its path.
func (c *Config) Validate() error {
	var errs []string
	add := func(path, format string, args ...any) {
		errs = append(errs, path+": "+fmt.Sprintf(format, args...))
	}
	if c.Kind != KindERP && c.Kind != KindTMS {
		add("kind", "want erp or tms, got %q", c.Kind)
	}
	if c.DataDir == "" {
		add("data", "required (the ledger lives there)")
	}
	for i, cl := range c.Auth.OAuth2Clients {
		if cl.ID == "" || cl.Secret == "" {
			add(fmt.Sprintf("auth.oauth2Clients[%d]", i), "clientId and clientSecret are required")
		}
	}
	if c.Auth.TokenTTL < 0 {
		add("auth.tokenTTL", "must not be negative")
	}
	for i, t := range c.Auth.BearerTokens {
		if t == "" {
			add(fmt.Sprintf("auth.bearerTokens[%d]", i), "empty")
		}
	}
	for i, t := range c.Auth.APIKeys {
		if t == "" {
			add(fmt.Sprintf("auth.apiKeys[%d]", i), "empty")
		}
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		add("tls", "certFile and keyFile go together")
	}
	if c.TLS.ClientCAFile != "" && !c.TLS.Enabled() {
		add("tls.clientCAFile", "needs certFile and keyFile")
	}
	if c.MaxBodyBytes < 0 {
		add("maxBodyBytes", "must not be negative")
	}
	if c.MaxBatchItems < 0 {
		add("maxBatchItems", "must not be negative")
	}
	for _, p := range c.Faults.problems() {
		errs = append(errs, "faults."+p)
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid config: %s", strings.Join(errs, "; "))
	}
	return nil
}

func (c *Config) setDefaults() {
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = defaultMaxBody
	}
	if c.MaxBatchItems == 0 {
		c.MaxBatchItems = defaultMaxBatchItems
	}
	if c.Auth.TokenTTL == 0 {
		c.Auth.TokenTTL = Duration(defaultTokenTTL)
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = Duration(defaultShutdown)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}
