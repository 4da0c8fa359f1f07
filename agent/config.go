package agent

import (
	"strconv"

	"github.com/draylink/dray/agent/synthetic"
	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/configfile"
)

// Config is the agent's configuration file (YAML, strict).
type Config struct {
	// Site is this warehouse's site id; it must match the site certificate.
	Site string `yaml:"site"`
	// DataDir holds the spool.
	DataDir string        `yaml:"data_dir"`
	Relay   RelayConfig   `yaml:"relay"`
	Spool   SpoolConfig   `yaml:"spool"`
	Uplink  UplinkConfig  `yaml:"uplink"`
	Sources []SourceEntry `yaml:"sources"`
	Status  StatusConfig  `yaml:"status"`
	Log     LogConfig     `yaml:"log"`
}

// RelayConfig says where the relay is and how to prove who we are.
type RelayConfig struct {
	// QUIC is the relay's MQTT-over-QUIC address (host:port, UDP).
	QUIC string `yaml:"quic"`
	// TCP is the MQTT-over-TLS/TCP fallback address (host:port).
	TCP string `yaml:"tcp"`
	// ServerName is the name in the relay's certificate (default: the host of the address).
	ServerName string `yaml:"server_name"`
	CAFile     string `yaml:"ca_file"`
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
}

// SpoolConfig sets the spool's caps.
type SpoolConfig struct {
	MaxBytes     configfile.ByteSize `yaml:"max_bytes"`
	MaxAge       configfile.Duration `yaml:"max_age"`
	MinFreeBytes configfile.ByteSize `yaml:"min_free_bytes"`
	// Policies per lane: "backpressure" (default) or "drop_oldest".
	Policies map[string]string `yaml:"policies"`
}

// UplinkConfig tunes the uplink; zero values take the uplink's defaults.
type UplinkConfig struct {
	DialTimeout      configfile.Duration `yaml:"dial_timeout"`
	QUICRetry        configfile.Duration `yaml:"quic_retry"`
	KeepAlive        configfile.Duration `yaml:"keepalive"`
	MaxBatchEvents   int                 `yaml:"max_batch_events"`
	MaxBatchBytes    configfile.ByteSize `yaml:"max_batch_bytes"`
	MaxInFlightBytes configfile.ByteSize `yaml:"max_in_flight_bytes"`
}

// SourceEntry declares one source of events.
type SourceEntry struct {
	Name string `yaml:"name"`
	// Synthetic emits generated events (for tests, demos and benchmarks).
	Synthetic *synthetic.Config `yaml:"synthetic"`
}

// StatusConfig enables the local status endpoint.
type StatusConfig struct {
	// Listen is a loopback address for /healthz and /status (empty: off).
	Listen string `yaml:"listen"`
}

// LogConfig sets logging.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info (default), warn, error
	Format string `yaml:"format"` // json (default) or text
}

// SetDefaults fills defaults after decoding.
func (c *Config) SetDefaults() {
	for i := range c.Sources {
		if s := c.Sources[i].Synthetic; s != nil {
			s.SetDefaults()
		}
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
	if !canonical.ValidSiteID(c.Site) {
		errs.Add("site", "want a site id of 1-32 letters, digits, '_', '.', '-', got %q", c.Site)
	}
	if c.DataDir == "" {
		errs.Add("data_dir", "required")
	}
	if c.Relay.QUIC == "" && c.Relay.TCP == "" {
		errs.Add("relay", "set quic, tcp or both")
	}
	for path, v := range map[string]string{"relay.ca_file": c.Relay.CAFile, "relay.cert_file": c.Relay.CertFile, "relay.key_file": c.Relay.KeyFile} {
		if v == "" {
			errs.Add(path, "required")
		}
	}
	for lane, p := range c.Spool.Policies {
		if lane != "operational" && lane != "bulk" {
			errs.Add("spool.policies."+lane, "unknown lane (want operational or bulk)")
		}
		if p != "backpressure" && p != "drop_oldest" {
			errs.Add("spool.policies."+lane, "unknown policy %q (want backpressure or drop_oldest)", p)
		}
	}
	names := map[string]bool{}
	for i, s := range c.Sources {
		path := "sources[" + strconv.Itoa(i) + "]"
		if s.Name == "" {
			errs.Add(path+".name", "required")
		} else if names[s.Name] {
			errs.Add(path+".name", "duplicate source name %q", s.Name)
		}
		names[s.Name] = true
		if s.Synthetic == nil {
			errs.Add(path, "declare a source kind (synthetic)")
			continue
		}
		s.Synthetic.Validate(path+".synthetic", errs)
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
