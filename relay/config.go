package relay

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/draylink/dray/internal/configfile"
	"github.com/draylink/dray/relay/admin"
	"github.com/draylink/dray/relay/dispatch"
	"github.com/draylink/dray/relay/route"
	"github.com/draylink/dray/relay/sink"
)

// Config is the relay's configuration file (YAML, strict).
type Config struct {
	// DataDir holds the relay log.
	DataDir string       `yaml:"data_dir"`
	Listen  ListenConfig `yaml:"listen"`
	TLS     TLSConfig    `yaml:"tls"`
	Limits  LimitsConfig `yaml:"limits"`
	Log     LogConfig    `yaml:"log"`
	Store   StoreConfig  `yaml:"store"`
	// Admin is the admin API (dead letters, replay, sites); off without listen.
	Admin AdminConfig `yaml:"admin"`
	// Enrollment is the site CA's enrollment endpoint; off without listen.
	Enrollment EnrollmentConfig `yaml:"enrollment"`
	// Sinks are the systems the relay delivers to, Routes what it sends
	// them (first matching route per sink, in this order).
	Sinks  []SinkConfig   `yaml:"sinks"`
	Routes []route.Config `yaml:"routes"`

	// tables are the compiled routes per sink, made by Validate.
	tables map[string]*route.Table
}

// SinkConfig is one sink: its HTTP side (URL, auth, TLS, timeouts, rate,
// breaker) and its delivery side (workers, batching, retry), in one YAML
// mapping.
type SinkConfig struct {
	HTTP     sink.Config     `yaml:",inline"`
	Delivery dispatch.Config `yaml:",inline"`
}

// AdminConfig is the admin API.
type AdminConfig struct {
	// Listen is the TCP address, e.g. "127.0.0.1:8446" (empty: no API).
	// The API speaks plain HTTP: keep it on loopback or a private network.
	Listen string `yaml:"listen"`
	// Tokens are the accepted bearer tokens (at least 16 bytes each).
	Tokens []AdminToken `yaml:"tokens"`
	// RedriveTimeout bounds one redrive, retries included (default 60s).
	RedriveTimeout configfile.Duration `yaml:"redrive_timeout"`
}

// AdminToken is one admin token: its SHA-256 (sha256), or the token itself
// from an environment variable (env) or a file (file).
type AdminToken struct {
	// Name identifies the holder in audit lines.
	Name string `yaml:"name"`
	// Role is viewer (read), operator (also redrive, discard, replay,
	// profiles; the default) or admin (also sites add and revoke).
	Role string `yaml:"role"`
	// SHA256 is the token's SHA-256 in hex (`printf %s "$TOKEN" | sha256sum`).
	SHA256 string      `yaml:"sha256"`
	Secret sink.Secret `yaml:",inline"`
}

// EnrollmentConfig is the site CA: where agents enroll and renew their
// certificates. The CA certificate is tls.client_ca_file; its key is
// ca_key_file (`dray-relay ca init` writes both and the relay's server
// certificate, signed by the CA).
type EnrollmentConfig struct {
	// Listen is the HTTPS address of the enrollment endpoint, e.g. ":8885"
	// (empty: no enrollment, no site registry, no connect-time check).
	Listen string `yaml:"listen"`
	// CAKeyFile is the site CA's private key (mode 0600).
	CAKeyFile string `yaml:"ca_key_file"`
	// TokenTTL is the default lifetime of enrollment tokens (default 24h).
	TokenTTL configfile.Duration `yaml:"token_ttl"`
	// CertTTL is the lifetime of site certificates (default 720h = 30
	// days; at least 1m). Agents renew at two thirds of it.
	CertTTL configfile.Duration `yaml:"cert_ttl"`
}

// ListenConfig says where agents connect.
type ListenConfig struct {
	// QUIC is the UDP address for MQTT over QUIC, e.g. ":8883".
	QUIC string `yaml:"quic"`
	// TCP is the address for MQTT over TLS/TCP, the agents' fallback.
	TCP string `yaml:"tcp"`
}

// TLSConfig names the relay's certificate and the site CA it trusts.
type TLSConfig struct {
	CertFile     string `yaml:"cert_file"`
	KeyFile      string `yaml:"key_file"`
	ClientCAFile string `yaml:"client_ca_file"`
}

// LimitsConfig are the limits announced to and enforced on agents.
type LimitsConfig struct {
	ReceiveMaximum int                 `yaml:"receive_maximum"`
	MaxPacketSize  configfile.ByteSize `yaml:"max_packet_size"`
	// RatePerSite is events per second per site (0: unlimited).
	RatePerSite float64             `yaml:"rate_per_site"`
	RateBurst   int                 `yaml:"rate_burst"`
	KeepAlive   configfile.Duration `yaml:"keepalive"`
}

// StoreConfig sets the relay log's retention.
type StoreConfig struct {
	// Retention keeps delivered events this long (default 7 days).
	Retention configfile.Duration `yaml:"retention"`
	// IDRetention remembers event ids for deduplication this long; it must
	// outlive the longest outage an agent's spool absorbs (default 30 days).
	IDRetention configfile.Duration `yaml:"id_retention"`
	// FactRetention is how long each sink remembers the facts
	// (idempotency keys) it delivered, so that the same fact from another
	// source is not sent again (default 30 days; relay/dispatch).
	FactRetention configfile.Duration `yaml:"fact_retention"`
}

// LogConfig sets logging.
type LogConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// SetDefaults fills defaults after decoding.
func (c *Config) SetDefaults() {
	if c.Limits.ReceiveMaximum == 0 {
		c.Limits.ReceiveMaximum = 1024
	}
	if c.Limits.MaxPacketSize == 0 {
		c.Limits.MaxPacketSize = 16 << 20
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "json"
	}
	for i := range c.Sinks {
		c.Sinks[i].HTTP.SetDefaults()
		c.Sinks[i].Delivery.SetDefaults()
	}
	if c.Enrollment.TokenTTL == 0 {
		c.Enrollment.TokenTTL = configfile.Duration(24 * time.Hour)
	}
	if c.Enrollment.CertTTL == 0 {
		c.Enrollment.CertTTL = configfile.Duration(30 * 24 * time.Hour)
	}
	if c.Admin.RedriveTimeout == 0 {
		c.Admin.RedriveTimeout = configfile.Duration(60 * time.Second)
	}
}

// Validate reports every problem.
func (c *Config) Validate(errs *configfile.Errors) {
	if c.DataDir == "" {
		errs.Add("data_dir", "required")
	}
	if c.Listen.QUIC == "" && c.Listen.TCP == "" {
		errs.Add("listen", "set quic, tcp or both")
	}
	for path, v := range map[string]string{"tls.cert_file": c.TLS.CertFile, "tls.key_file": c.TLS.KeyFile, "tls.client_ca_file": c.TLS.ClientCAFile} {
		if v == "" {
			errs.Add(path, "required")
		}
	}
	if c.Limits.ReceiveMaximum < 1 || c.Limits.ReceiveMaximum > 65535 {
		errs.Add("limits.receive_maximum", "must be 1..65535, got %d", c.Limits.ReceiveMaximum)
	}
	if c.Limits.MaxPacketSize < 64<<10 || c.Limits.MaxPacketSize > 256<<20 {
		errs.Add("limits.max_packet_size", "must be between 64KiB and 256MiB")
	}
	if c.Limits.RatePerSite < 0 {
		errs.Add("limits.rate_per_site", "must not be negative")
	}
	if f := c.Store.FactRetention.D(); f != 0 && f < time.Second {
		errs.Add("store.fact_retention", "must be at least 1s, got %v", f)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs.Add("log.level", "want debug, info, warn or error, got %q", c.Log.Level)
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		errs.Add("log.format", "want json or text, got %q", c.Log.Format)
	}
	c.validateFanOut(errs)
	c.validateEnrollment(errs)
}

// validateEnrollment checks the enrollment block.
func (c *Config) validateEnrollment(errs *configfile.Errors) {
	e := &c.Enrollment
	if e.Listen == "" {
		if e.CAKeyFile != "" {
			errs.Add("enrollment.listen", "required with enrollment.ca_key_file")
		}
		return
	}
	if e.CAKeyFile == "" {
		errs.Add("enrollment.ca_key_file", "required with enrollment.listen (dray-relay ca init writes it)")
	}
	if d := e.TokenTTL.D(); d < time.Minute || d > 30*24*time.Hour {
		errs.Add("enrollment.token_ttl", "must be between 1m and 720h, got %v", d)
	}
	if d := e.CertTTL.D(); d < time.Minute || d > 5*365*24*time.Hour {
		errs.Add("enrollment.cert_ttl", "must be between 1m and 5 years, got %v", d)
	}
	if e.Listen == c.Admin.Listen {
		errs.Add("enrollment.listen", "must differ from admin.listen")
	}
}

// validateFanOut checks sinks, routes and the admin API, and compiles the
// routes (every jq expression, once).
func (c *Config) validateFanOut(errs *configfile.Errors) {
	sinks := map[string]int{}
	for i := range c.Sinks {
		s := &c.Sinks[i]
		p := fmt.Sprintf("sinks[%d]", i)
		s.HTTP.Validate(p, errs)
		if j, dup := sinks[s.HTTP.Name]; dup && s.HTTP.Name != "" {
			errs.Add(p+".name", "%q is also the name of sinks[%d]", s.HTTP.Name, j)
		}
		sinks[s.HTTP.Name] = i
	}
	c.tables = map[string]*route.Table{}
	byRoute := map[string]int{}
	perSink := map[string][]route.Config{}
	for i, rc := range c.Routes {
		p := fmt.Sprintf("routes[%d]", i)
		r := route.Compile(p, rc, errs)
		if j, dup := byRoute[rc.Name]; dup && rc.Name != "" {
			errs.Add(p+".name", "%q is also the name of routes[%d]", rc.Name, j)
		}
		byRoute[rc.Name] = i
		if _, ok := sinks[rc.Sink]; !ok && rc.Sink != "" {
			errs.Add(p+".sink", "no sink named %q", rc.Sink)
			continue
		}
		norm := rc
		if norm.Mode == "" {
			norm.Mode = route.ModeJQ
		}
		perSink[rc.Sink] = append(perSink[rc.Sink], norm)
		if r != nil {
			t := c.tables[rc.Sink]
			if t == nil {
				t = &route.Table{Sink: rc.Sink}
				c.tables[rc.Sink] = t
			}
			t.Routes = append(t.Routes, r)
		}
	}
	for i := range c.Sinks {
		s := &c.Sinks[i]
		p := fmt.Sprintf("sinks[%d]", i)
		s.Delivery.Validate(p, perSink[s.HTTP.Name], errs)
		if len(perSink[s.HTTP.Name]) == 0 && s.HTTP.Name != "" {
			errs.Add(p, "no route sends to sink %q", s.HTTP.Name)
		}
	}
	if c.Admin.Listen != "" {
		if len(c.Admin.Tokens) == 0 {
			errs.Add("admin.tokens", "at least one token is required with admin.listen")
		}
	} else if len(c.Admin.Tokens) > 0 {
		errs.Add("admin.listen", "required with admin.tokens")
	}
	names := map[string]bool{}
	for i, t := range c.Admin.Tokens {
		p := fmt.Sprintf("admin.tokens[%d]", i)
		if t.Name == "" {
			errs.Add(p+".name", "required (it names the caller in audit lines)")
		} else if names[t.Name] {
			errs.Add(p+".name", "%q is used twice", t.Name)
		}
		names[t.Name] = true
		n := 0
		for _, v := range []string{t.Secret.Env, t.Secret.File, t.SHA256} {
			if v != "" {
				n++
			}
		}
		if n != 1 {
			errs.Add(p, "set exactly one of sha256, env and file")
		}
		if t.SHA256 != "" {
			if b, err := hex.DecodeString(t.SHA256); err != nil || len(b) != sha256.Size {
				errs.Add(p+".sha256", "want 64 hex digits (sha256sum of the token)")
			}
		}
		if _, err := admin.ParseRole(t.Role); err != nil {
			errs.Add(p+".role", "%v", err)
		}
	}
	if d := c.Admin.RedriveTimeout.D(); d < time.Second || d > 10*time.Minute {
		errs.Add("admin.redrive_timeout", "must be between 1s and 10m")
	}
}

// RouteTables returns the compiled routes per sink name (Validate made
// them); every configured sink has a table.
func (c *Config) RouteTables() map[string]*route.Table {
	if c.tables == nil {
		var errs configfile.Errors
		c.validateFanOut(&errs)
	}
	out := make(map[string]*route.Table, len(c.Sinks))
	for _, s := range c.Sinks {
		t := c.tables[s.HTTP.Name]
		if t == nil {
			t = &route.Table{Sink: s.HTTP.Name}
		}
		out[s.HTTP.Name] = t
	}
	return out
}
