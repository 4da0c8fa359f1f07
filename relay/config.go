package relay

import (
	"github.com/draylink/dray/internal/configfile"
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
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs.Add("log.level", "want debug, info, warn or error, got %q", c.Log.Level)
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		errs.Add("log.format", "want json or text, got %q", c.Log.Format)
	}
}
