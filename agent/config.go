package agent

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/draylink/dray/agent/synthetic"
	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/configfile"
	"go.yaml.in/yaml/v3"
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
	// Connectors are the connector plugins the agent supervises.
	Connectors []ConnectorEntry `yaml:"connectors"`
	Status     StatusConfig     `yaml:"status"`
	Log        LogConfig        `yaml:"log"`
}

// RelayConfig says where the relay is and how to prove who we are.
type RelayConfig struct {
	// QUIC is the relay's MQTT-over-QUIC address (host:port, UDP).
	QUIC string `yaml:"quic"`
	// TCP is the MQTT-over-TLS/TCP fallback address (host:port).
	TCP string `yaml:"tcp"`
	// ServerName is the name in the relay's certificate (default: the host of the address).
	ServerName string `yaml:"server_name"`
	// CAFile, CertFile and KeyFile are the relay's site CA and this site's
	// certificate and key (defaults: relay-ca.pem, site.pem and
	// site-key.pem in <data_dir>/identity, where `dray-agent enroll`
	// writes them).
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// EnrollURL is the relay's enrollment endpoint (https://host:port):
	// the default of `dray-agent enroll --relay`, and where the running
	// agent renews its certificate, at two thirds of its lifetime (empty:
	// no automatic renewal).
	EnrollURL string `yaml:"enroll_url"`
}

// IdentityDir is where enrollment stores the identity by default.
func IdentityDir(dataDir string) string { return filepath.Join(dataDir, "identity") }

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
	// Listen is a loopback address for /healthz, /status and the
	// quarantine API (empty: off; the quarantine commands need it).
	Listen string `yaml:"listen"`
}

// LogConfig sets logging.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info (default), warn, error
	Format string `yaml:"format"` // json (default) or text
}

// SetDefaults fills defaults after decoding.
func (c *Config) SetDefaults() {
	if c.DataDir != "" {
		id := IdentityDir(c.DataDir)
		for _, f := range []struct {
			v    *string
			name string
		}{{&c.Relay.CAFile, "relay-ca.pem"}, {&c.Relay.CertFile, "site.pem"}, {&c.Relay.KeyFile, "site-key.pem"}} {
			if *f.v == "" {
				*f.v = filepath.Join(id, f.name)
			}
		}
	}
	for i := range c.Sources {
		if s := c.Sources[i].Synthetic; s != nil {
			s.SetDefaults()
		}
	}
	for i := range c.Connectors {
		c.Connectors[i].SetDefaults()
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
	if c.Relay.EnrollURL != "" {
		if u, err := url.Parse(c.Relay.EnrollURL); err != nil || u.Scheme != "https" || u.Host == "" {
			errs.Add("relay.enroll_url", "want https://host:port, got %q", c.Relay.EnrollURL)
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
	for i := range c.Connectors {
		path := "connectors[" + strconv.Itoa(i) + "]"
		cn := &c.Connectors[i]
		if names[cn.Name] {
			errs.Add(path+".name", "duplicate name %q (connectors and sources share one namespace: each is a source of the spool)", cn.Name)
		}
		names[cn.Name] = true
		cn.Validate(path, errs)
	}
	if c.Status.Listen != "" {
		if !loopbackAddr(c.Status.Listen) {
			errs.Add("status.listen", "want a loopback address such as 127.0.0.1:7070 (it serves the quarantine API), got %q", c.Status.Listen)
		}
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

// loopbackAddr reports whether addr is host:port on a loopback address.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ConnectorEntry declares one connector plugin.
type ConnectorEntry struct {
	// Name names the connector: its source in the spool (cursor and
	// quarantine), its log scope (connector=<name>) and its /status entry.
	// Unique among connectors and sources.
	Name string `yaml:"name"`
	// Path is the plugin binary (absolute). Install it where the agent's
	// service account cannot write.
	Path string `yaml:"path"`
	// SHA256 pins the binary (sha256sum, 64 hex digits). Required: a binary
	// that does not match is never run.
	SHA256 string `yaml:"sha256"`
	// Args are the binary's arguments.
	Args []string `yaml:"args"`
	// Env is the plugin's environment, besides PATH, HOME, TZ, LANG, LC_ALL
	// and TMPDIR (the agent's other variables, its secrets, are not passed).
	Env map[string]string `yaml:"env"`
	// Config is the connector's own configuration: any YAML, passed to its
	// Configure as JSON.
	Config ConnectorConfig `yaml:"config"`
	// Restart bounds the backoff between restarts after a failure.
	Restart RestartConfig `yaml:"restart"`
	// Timeouts bound the plugin's start, calls and silences.
	Timeouts TimeoutConfig `yaml:"timeouts"`
}

// RestartConfig bounds the restart backoff: attempt n waits a random time
// in [d/2, d], d = min(max_backoff, min_backoff·2^(n-1)).
type RestartConfig struct {
	MinBackoff configfile.Duration `yaml:"min_backoff"` // default 1s
	MaxBackoff configfile.Duration `yaml:"max_backoff"` // default 1m (at least min_backoff)
}

// TimeoutConfig bounds a plugin's start, unary calls and silences.
type TimeoutConfig struct {
	// Start bounds the handshake (default 10s).
	Start configfile.Duration `yaml:"start"`
	// Call is the deadline of each call: Info, Configure, Retry (default
	// 10s). A plugin that misses it is restarted.
	Call configfile.Duration `yaml:"call"`
	// Heartbeat is how long a reading plugin may stay silent before it is
	// declared hung, killed and restarted (default 10s).
	Heartbeat configfile.Duration `yaml:"heartbeat"`
}

// Connector defaults and bounds.
const (
	defaultMinBackoff = time.Second
	defaultMaxBackoff = time.Minute
	defaultTimeout    = 10 * time.Second
)

// SetDefaults fills the defaults.
func (c *ConnectorEntry) SetDefaults() {
	if c.Restart.MinBackoff == 0 {
		c.Restart.MinBackoff = configfile.Duration(defaultMinBackoff)
	}
	if c.Restart.MaxBackoff == 0 {
		c.Restart.MaxBackoff = configfile.Duration(max(defaultMaxBackoff, c.Restart.MinBackoff.D()))
	}
	for _, d := range []*configfile.Duration{&c.Timeouts.Start, &c.Timeouts.Call, &c.Timeouts.Heartbeat} {
		if *d == 0 {
			*d = configfile.Duration(defaultTimeout)
		}
	}
}

var connectorNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// reservedEnv are prefixes of the variables the agent sets for the plugin
// handshake and the SDK.
var reservedEnv = []string{"DRAY_PLUGIN", "PLUGIN_"}

// Validate reports every problem under path.
func (c *ConnectorEntry) Validate(path string, errs *configfile.Errors) {
	if !connectorNameRE.MatchString(c.Name) {
		errs.Add(path+".name", "want 1-64 letters, digits, '_', '.' or '-' (starting with a letter or digit), got %q", c.Name)
	}
	switch {
	case c.Path == "":
		errs.Add(path+".path", "required: the plugin binary")
	case !filepath.IsAbs(c.Path):
		errs.Add(path+".path", "want an absolute path, got %q", c.Path)
	}
	if b, err := hex.DecodeString(c.SHA256); err != nil || len(b) != sha256.Size {
		errs.Add(path+".sha256", "required: the binary's SHA-256 in 64 hex digits (sha256sum), got %q", c.SHA256)
	}
	for i, a := range c.Args {
		if strings.ContainsRune(a, 0) {
			errs.Add(path+".args["+strconv.Itoa(i)+"]", "contains a NUL byte")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.Env)) {
		p := path + ".env." + k
		switch {
		case k == "" || strings.ContainsAny(k, "=\x00"):
			errs.Add(p, "not a valid variable name")
		case slices.ContainsFunc(reservedEnv, func(r string) bool { return strings.HasPrefix(k, r) }):
			errs.Add(p, "reserved for the plugin handshake (DRAY_PLUGIN*, PLUGIN_*)")
		}
		if strings.ContainsRune(c.Env[k], 0) {
			errs.Add(p, "the value contains a NUL byte")
		}
	}
	for _, p := range c.Config.problems {
		fp := path + ".config"
		if p.Path != "" {
			fp += p.Path
		}
		errs.Add(fp, "%s", p.Msg)
	}
	minB, maxB := c.Restart.MinBackoff.D(), c.Restart.MaxBackoff.D()
	if minB < 10*time.Millisecond || minB > time.Hour {
		errs.Add(path+".restart.min_backoff", "want 10ms to 1h, got %v", minB)
	}
	if maxB < minB || maxB > 24*time.Hour {
		errs.Add(path+".restart.max_backoff", "want min_backoff (%v) to 24h, got %v", minB, maxB)
	}
	for name, d := range map[string]configfile.Duration{"start": c.Timeouts.Start, "call": c.Timeouts.Call, "heartbeat": c.Timeouts.Heartbeat} {
		if d.D() < 100*time.Millisecond || d.D() > 10*time.Minute {
			errs.Add(path+".timeouts."+name, "want 100ms to 10m, got %v", d.D())
		}
	}
}

// EnvList is Env as "KEY=value" entries, sorted.
func (c *ConnectorEntry) EnvList() []string {
	out := make([]string, 0, len(c.Env))
	for _, k := range slices.Sorted(maps.Keys(c.Env)) {
		out = append(out, k+"="+c.Env[k])
	}
	return out
}

// ConnectorConfig is a connector's own configuration block: any YAML (a
// mapping, usually), converted to JSON when the file is read. What cannot be
// JSON (a non-scalar key, a duplicate key, .inf, an unknown tag) is reported
// by Validate with its path.
type ConnectorConfig struct {
	raw      []byte
	problems []configfile.FieldError // paths relative to the block: ".dir", "[2].key"
}

// ConnectorConfigOf makes a block from a Go value (a map, a struct with
// json tags), for programs that write agent configurations.
func ConnectorConfigOf(v any) (ConnectorConfig, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return ConnectorConfig{}, fmt.Errorf("connector config: %w", err)
	}
	return ConnectorConfig{raw: b}, nil
}

// JSON is the block as JSON; "{}" when the block is absent.
func (c ConnectorConfig) JSON() []byte {
	if len(c.raw) == 0 {
		return []byte("{}")
	}
	return c.raw
}

// IsZero reports whether the block is absent.
func (c ConnectorConfig) IsZero() bool { return len(c.raw) == 0 && len(c.problems) == 0 }

// UnmarshalYAML implements yaml.Unmarshaler. It never fails: problems are
// kept for Validate, which reports them with their paths.
func (c *ConnectorConfig) UnmarshalYAML(n *yaml.Node) error {
	conv := yamlJSON{budget: maxConfigNodes}
	v := conv.value(n, "")
	c.problems = conv.problems
	if v == nil {
		c.raw = nil // "config:" with nothing: absent
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		c.problems = append(c.problems, configfile.FieldError{Msg: "cannot be JSON: " + err.Error()})
		return nil
	}
	c.raw = b
	return nil
}

// MarshalYAML implements yaml.Marshaler: the block as YAML again.
func (c ConnectorConfig) MarshalYAML() (any, error) {
	if len(c.raw) == 0 {
		return nil, nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(c.raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return jsonNumbersToYAML(v), nil
}

// jsonNumbersToYAML turns json.Numbers into ints or floats, which yaml
// writes as numbers (a json.Number would be written as a quoted string).
func jsonNumbersToYAML(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
		return x.String()
	case map[string]any:
		for k, e := range x {
			x[k] = jsonNumbersToYAML(e)
		}
	case []any:
		for i, e := range x {
			x[i] = jsonNumbersToYAML(e)
		}
	}
	return v
}

// maxConfigNodes bounds the nodes of a connector block after alias
// expansion (a "billion laughs" document stops here).
const maxConfigNodes = 100000

// yamlJSON converts a YAML node tree into JSON-ready values.
type yamlJSON struct {
	budget   int
	problems []configfile.FieldError
}

func (y *yamlJSON) bad(path, format string, args ...any) {
	y.problems = append(y.problems, configfile.FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (y *yamlJSON) value(n *yaml.Node, path string) any {
	y.budget--
	if y.budget < 0 {
		if y.budget == -1 {
			y.bad(path, "too large: more than %d values after expanding aliases", maxConfigNodes)
		}
		return nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return y.value(n.Content[0], path)
	case yaml.AliasNode:
		return y.value(n.Alias, path)
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, e := range n.Content {
			out[i] = y.value(e, path+"["+strconv.Itoa(i)+"]")
		}
		return out
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.AliasNode {
				k = k.Alias
			}
			if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
				y.bad(path, "line %d: keys must be plain scalars (no merge keys, lists or maps as keys)", k.Line)
				continue
			}
			kp := path + "." + k.Value
			if _, dup := out[k.Value]; dup {
				y.bad(kp, "line %d: duplicate key", k.Line)
				continue
			}
			out[k.Value] = y.value(v, kp)
		}
		return out
	case yaml.ScalarNode:
		return y.scalar(n, path)
	}
	y.bad(path, "line %d: unsupported YAML node", n.Line)
	return nil
}

func (y *yamlJSON) scalar(n *yaml.Node, path string) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			y.bad(path, "line %d: %v", n.Line, err)
		}
		return b
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return json.Number(strconv.FormatInt(i, 10))
		}
		var u uint64
		if err := n.Decode(&u); err == nil {
			return json.Number(strconv.FormatUint(u, 10))
		}
		y.bad(path, "line %d: integer %s is out of range; quote it to pass it as text", n.Line, n.Value)
		return nil
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			y.bad(path, "line %d: %s is not a finite number (JSON has no .inf or .nan); quote it to pass it as text", n.Line, n.Value)
			return nil
		}
		return f
	case "!!str", "!!timestamp", "!!binary":
		return n.Value // as written
	}
	y.bad(path, "line %d: unsupported tag %s", n.Line, n.Tag)
	return nil
}
