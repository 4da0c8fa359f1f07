package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/draylink/dray/agent"
	"github.com/draylink/dray/internal/configfile"
	"github.com/draylink/dray/relay"
	"github.com/draylink/dray/relay/admin"
	"github.com/draylink/dray/relay/dispatch"
	"github.com/draylink/dray/relay/sink"
	"github.com/draylink/dray/testenv/proc"
	"github.com/draylink/dray/testenv/refsink"
	"github.com/draylink/dray/testenv/udpproxy"
	"github.com/draylink/dray/testenv/wmssim"
	"go.yaml.in/yaml/v3"
)

// Names of the stack's sinks and connectors.
const (
	ERPName      = "erp"
	TMSName      = "tms"
	SQLName      = "wms-db"
	FileDropName = "wms-files"
)

// Stack is a running (or prepared) dray deployment: the relay, the
// reference ERP and TMS, and per site a WMS simulator and an agent. Its
// parts are exported for harnesses that kill, restart and fault them.
type Stack struct {
	Config Config
	Relay  *Relay
	ERP    *Sink
	TMS    *Sink
	Sites  []*Site

	adminToken string
}

// Relay is the relay process and its configuration.
type Relay struct {
	*proc.Process
	Config     relay.Config
	ConfigPath string
	// Admin is a client of its admin API (admin role).
	Admin *admin.Client
	// TokenFile holds the admin token (for `dray-relay … --token-file`).
	TokenFile string
}

// Sink is a reference ERP or TMS process (dray-refsink) on a fixed port,
// so it can be restarted under the same URL.
type Sink struct {
	*proc.Process
	Name    string
	Kind    refsink.Kind
	Addr    string
	DataDir string
	Client  *refsink.Client
}

// URL is the sink's base URL.
func (s *Sink) URL() string { return "http://" + s.Addr }

// Site is one warehouse: its simulator and its agent.
type Site struct {
	ID string
	// Sim runs dray-wmssim; SimConfig is what it runs (store, drops and
	// truth file filled in) and TruthPath its ground truth.
	Sim        *proc.Process
	SimConfig  wmssim.Config
	TruthPath  string
	Agent      *proc.Process
	AgentCfg   agent.Config
	ConfigPath string
	// StatusAddr is the agent's status and quarantine endpoint.
	StatusAddr string
	// Proxy is the UDP fault proxy in front of the relay's QUIC port (nil
	// unless SiteConfig.Proxy).
	Proxy *udpproxy.Proxy
	// DropDirs are the inbox directories the simulator writes files to.
	DropDirs []string

	truth *truthCounter
}

// New prepares a stack in cfg.Dir: configurations, the relay's site CA
// (`dray-relay ca init`), the simulators' and agents' configurations.
// It starts nothing.
func New(ctx context.Context, cfg Config) (*Stack, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, err
	}
	cfg.Dir = dir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	s := &Stack{Config: cfg}
	if s.adminToken, err = randomToken(); err != nil {
		return nil, err
	}
	if s.ERP, err = s.newSink(ERPName, refsink.KindERP); err != nil {
		return nil, err
	}
	if s.TMS, err = s.newSink(TMSName, refsink.KindTMS); err != nil {
		return nil, err
	}
	if err := s.prepareRelay(ctx); err != nil {
		return nil, err
	}
	for _, sc := range cfg.Sites {
		site, err := s.prepareSite(sc)
		if err != nil {
			s.closeProxies()
			return nil, err
		}
		s.Sites = append(s.Sites, site)
	}
	return s, nil
}

func randomToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func (s *Stack) path(parts ...string) string {
	return filepath.Join(append([]string{s.Config.Dir}, parts...)...)
}

func (s *Stack) logf(format string, args ...any) {
	if s.Config.Log != nil {
		_, _ = fmt.Fprintf(s.Config.Log, format+"\n", args...)
	}
}

func writeFile(path string, b []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, mode)
}

func writeYAML(path string, v any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return writeFile(path, b, 0o644)
}

func freeAddr() (string, error) {
	port, err := proc.FreePort()
	if err != nil {
		return "", err
	}
	return proc.Addr(port), nil
}

func (s *Stack) newSink(name string, kind refsink.Kind) (*Sink, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	k := &Sink{Name: name, Kind: kind, Addr: addr, DataDir: s.path(name, "data")}
	k.Client = refsink.NewClient(k.URL())
	cfg := refsink.Config{Kind: kind}
	secret, err := randomToken()
	if err != nil {
		return nil, err
	}
	// The ERP takes OAuth2 client credentials, the TMS a static bearer
	// token, as their cloud counterparts do; the relay's secrets are files.
	if kind == refsink.KindERP {
		cfg.Auth.OAuth2Clients = []refsink.OAuth2Client{{ID: "dray-relay", Secret: secret}}
		cfg.Faults = s.Config.ERPFaults
	} else {
		cfg.Auth.BearerTokens = []string{secret}
		cfg.Faults = s.Config.TMSFaults
	}
	if err := writeFile(s.path("relay", name+"-secret"), []byte(secret+"\n"), 0o600); err != nil {
		return nil, err
	}
	cfgPath := s.path(name, name+".json")
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	if err := writeFile(cfgPath, b, 0o600); err != nil {
		return nil, err
	}
	k.Process = &proc.Process{Name: name, Bin: s.Config.Bins.RefSink, LogPath: s.path(name, name+".log"),
		Args: []string{"--config", cfgPath, "--listen", addr, "--data", k.DataDir}}
	return k, nil
}

func (s *Stack) prepareRelay(ctx context.Context) error {
	listen, err := freeAddr()
	if err != nil {
		return err
	}
	adminAddr, err := freeAddr()
	if err != nil {
		return err
	}
	enrollAddr, err := freeAddr()
	if err != nil {
		return err
	}
	pki := s.path("relay", "pki")
	tokenFile := s.path("relay", "admin-token")
	if err := writeFile(tokenFile, []byte(s.adminToken+"\n"), 0o600); err != nil {
		return err
	}
	delivery := dispatch.Config{Workers: s.Config.Workers, CursorInterval: configfile.Duration(50 * time.Millisecond),
		Retry: dispatch.RetryConfig{Initial: configfile.Duration(50 * time.Millisecond), Max: configfile.Duration(s.Config.RetryMax)}}
	breaker := sink.BreakerConfig{Failures: 10, OpenFor: configfile.Duration(time.Second)}
	cfg := relay.Config{
		DataDir: s.path("relay", "data"),
		Listen:  relay.ListenConfig{QUIC: listen, TCP: listen},
		TLS: relay.TLSConfig{CertFile: filepath.Join(pki, "relay.pem"), KeyFile: filepath.Join(pki, "relay-key.pem"),
			ClientCAFile: filepath.Join(pki, "site-ca.pem")},
		Enrollment: relay.EnrollmentConfig{Listen: enrollAddr, CAKeyFile: filepath.Join(pki, "site-ca-key.pem")},
		Admin: relay.AdminConfig{Listen: adminAddr, Tokens: []relay.AdminToken{{Name: "stack", Role: "admin",
			Secret: sink.Secret{File: tokenFile}}}},
		Log: relay.LogConfig{Level: "info", Format: "json"},
		Sinks: []relay.SinkConfig{
			{HTTP: sink.Config{Name: ERPName, URL: s.ERP.URL(), Timeout: configfile.Duration(5 * time.Second), Breaker: breaker,
				Auth: sink.AuthConfig{OAuth2: &sink.OAuth2Config{TokenURL: s.ERP.URL() + "/oauth/token", ClientID: "dray-relay",
					ClientSecret: sink.Secret{File: s.path("relay", ERPName+"-secret")}}}},
				Delivery: delivery},
			{HTTP: sink.Config{Name: TMSName, URL: s.TMS.URL(), Timeout: configfile.Duration(5 * time.Second), Breaker: breaker,
				Auth: sink.AuthConfig{Bearer: &sink.Secret{File: s.path("relay", TMSName+"-secret")}}},
				Delivery: delivery},
		},
		Routes: Routes(ERPName, TMSName),
	}
	path := s.path("relay", "relay.yaml")
	if err := writeYAML(path, &cfg); err != nil {
		return err
	}
	s.Relay = &Relay{Config: cfg, ConfigPath: path, TokenFile: tokenFile,
		Admin: &admin.Client{Base: "http://" + adminAddr, Token: s.adminToken},
		Process: &proc.Process{Name: "relay", Bin: s.Config.Bins.Relay, LogPath: s.path("relay", "relay.log"),
			Args: []string{"run", "--config", path}}}
	if _, err := proc.Run(ctx, time.Minute, "", s.Config.Bins.Relay, "config", "validate", "--config", path); err != nil {
		return fmt.Errorf("relay configuration: %w", err)
	}
	if _, err := proc.Run(ctx, time.Minute, "", s.Config.Bins.Relay, "ca", "init", "--config", path,
		"--host", "localhost", "--host", "127.0.0.1"); err != nil {
		return err
	}
	return nil
}

func (s *Stack) prepareSite(sc SiteConfig) (*Site, error) {
	site := &Site{ID: sc.ID}
	base := s.path(sc.ID)
	sim := sc.Sim
	sim.Site.ID = sc.ID
	sim.Store = wmssim.StoreConfig{SQLite: filepath.Join(base, "wms", "wms.db")}
	csv := filepath.Join(base, "drops", "csv", "inbox")
	x12 := filepath.Join(base, "drops", "x12", "inbox")
	sim.Drops = wmssim.DropConfig{CSV: csv, X12: x12}
	sim.Truth = filepath.Join(base, "truth.jsonl")
	// Defaults written out: the file says everything the run used (an
	// empty routes map would mean "no sinks").
	sim.SetDefaults()
	site.SimConfig, site.TruthPath, site.DropDirs = sim, sim.Truth, []string{csv, x12}
	site.truth = &truthCounter{path: sim.Truth}
	for _, d := range []string{filepath.Dir(sim.Store.SQLite), csv, x12} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	simPath := filepath.Join(base, "wmssim.yaml")
	if err := writeYAML(simPath, &sim); err != nil {
		return nil, err
	}
	if _, err := wmssim.LoadConfig(simPath); err != nil {
		return nil, fmt.Errorf("site %s simulator: %w", sc.ID, err)
	}
	site.Sim = &proc.Process{Name: sc.ID + "-wmssim", Bin: s.Config.Bins.WMSSim, LogPath: filepath.Join(base, "wmssim.log"),
		Args: []string{"run", "--config", simPath}}

	sqlBlock, err := wmssim.SQLConnectorConfig(sim, wmssim.SQLite, "file:"+sim.Store.SQLite, wmssim.SQLTables)
	if err != nil {
		return nil, err
	}
	fdBlock, err := wmssim.FileDropConfig(sim, filepath.Join(base, "filedrop-state"))
	if err != nil {
		return nil, err
	}
	// The file-drop connector answers every X12 interchange with a 997,
	// written to the outbox FileDropConfig names; it must exist before the
	// agent configures the connector (the simulator makes it too).
	if d := sim.Drops.AckDir(); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	sqlConf, err := agent.ConnectorConfigOf(sqlBlock)
	if err != nil {
		return nil, err
	}
	fdConf, err := agent.ConnectorConfigOf(fdBlock)
	if err != nil {
		return nil, err
	}
	sqlSum, err := proc.SHA256File(s.Config.Bins.SQL)
	if err != nil {
		return nil, err
	}
	fdSum, err := proc.SHA256File(s.Config.Bins.FileDrop)
	if err != nil {
		return nil, err
	}
	if site.StatusAddr, err = freeAddr(); err != nil {
		return nil, err
	}
	dataDir := sc.AgentDataDir
	if dataDir == "" {
		dataDir = filepath.Join(base, "agent")
	}
	quic := s.Relay.Config.Listen.QUIC
	if sc.Proxy {
		p, err := udpproxy.New("127.0.0.1:0", quic)
		if err != nil {
			return nil, err
		}
		site.Proxy, quic = p, p.Addr()
	}
	site.AgentCfg = agent.Config{
		Site:    sc.ID,
		DataDir: dataDir,
		Relay: agent.RelayConfig{QUIC: quic, TCP: s.Relay.Config.Listen.TCP, ServerName: "localhost",
			EnrollURL: "https://" + s.Relay.Config.Enrollment.Listen},
		Spool:  sc.Spool,
		Uplink: agent.UplinkConfig{DialTimeout: configfile.Duration(2 * time.Second), QUICRetry: configfile.Duration(10 * time.Second)},
		Connectors: []agent.ConnectorEntry{
			{Name: SQLName, Path: s.Config.Bins.SQL, SHA256: sqlSum, Config: sqlConf},
			{Name: FileDropName, Path: s.Config.Bins.FileDrop, SHA256: fdSum, Config: fdConf},
		},
		Status: agent.StatusConfig{Listen: site.StatusAddr},
		Log:    agent.LogConfig{Level: "info", Format: "json"},
	}
	site.ConfigPath = filepath.Join(base, "agent.yaml")
	if err := writeYAML(site.ConfigPath, &site.AgentCfg); err != nil {
		return nil, err
	}
	site.Agent = &proc.Process{Name: sc.ID + "-agent", Bin: s.Config.Bins.Agent, LogPath: filepath.Join(base, "agent.log"),
		Args: []string{"run", "--config", site.ConfigPath}}
	return site, nil
}

// Start starts the reference sinks and the relay, enrolls every site's
// agent (`dray-relay sites add`, `dray-agent enroll`), and starts the
// agents and then the simulators, waiting for each to be ready. On error
// it stops what it started.
func (s *Stack) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			_ = s.Stop()
		}
	}()
	for _, k := range []*Sink{s.ERP, s.TMS} {
		if err := s.StartSink(ctx, k); err != nil {
			return err
		}
	}
	if err := s.StartRelay(ctx); err != nil {
		return err
	}
	for _, site := range s.Sites {
		if err := s.Enroll(ctx, site); err != nil {
			return err
		}
		if err := s.StartAgent(ctx, site); err != nil {
			return err
		}
	}
	for _, site := range s.Sites {
		s.logf("starting the WMS simulator of %s (ground truth %s)", site.ID, site.TruthPath)
		if err := site.Sim.Start(); err != nil {
			return err
		}
	}
	return nil
}

// StartSink starts a reference sink and waits until it answers.
func (s *Stack) StartSink(ctx context.Context, k *Sink) error {
	s.logf("starting the reference %s on %s", strings.ToUpper(string(k.Kind)), k.URL())
	if err := k.Start(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := k.Client.WaitReady(ctx); err != nil {
		return fmt.Errorf("%s did not get ready: %w\n%s", k.Name, err, k.Log(4096))
	}
	return nil
}

// StartRelay starts the relay and waits until it accepts connections and
// its admin API answers.
func (s *Stack) StartRelay(ctx context.Context) error {
	s.logf("starting the relay (MQTT v5 over QUIC and TLS/TCP on %s, admin API on %s)", s.Relay.Config.Listen.TCP, s.Relay.Config.Admin.Listen)
	if err := s.Relay.Start(); err != nil {
		return err
	}
	return s.WaitRelay(ctx)
}

// WaitRelay waits until a started relay accepts TCP connections and its
// admin API answers.
func (s *Stack) WaitRelay(ctx context.Context) error {
	return poll(ctx, 30*time.Second, func() (bool, error) {
		if !s.Relay.Running() {
			return false, fmt.Errorf("relay exited: %w\n%s", s.Relay.ExitErr(), s.Relay.Log(4096))
		}
		c, err := net.DialTimeout("tcp", s.Relay.Config.Listen.TCP, 200*time.Millisecond)
		if err != nil {
			return false, nil
		}
		_ = c.Close()
		_, err = s.Relay.Admin.Sinks(ctx)
		return err == nil, nil
	}, "the relay to listen")
}

// Enroll issues an enrollment token for the site and runs `dray-agent
// enroll` with it (a site already enrolled is left as it is).
func (s *Stack) Enroll(ctx context.Context, site *Site) error {
	caFile, certFile, _ := site.identityFiles()
	if _, err := os.Stat(certFile); err == nil {
		if _, err := os.Stat(caFile); err == nil {
			return nil
		}
	}
	s.logf("enrolling the agent of %s with the relay's site CA", site.ID)
	out, err := proc.Run(ctx, time.Minute, "", s.Config.Bins.Relay, "sites", "add", site.ID,
		"--config", s.Relay.ConfigPath, "--token-file", s.Relay.TokenFile)
	if err != nil {
		return err
	}
	token := strings.TrimSpace(string(out))
	if _, err := proc.Run(ctx, time.Minute, "", s.Config.Bins.Agent, "enroll", "--config", site.ConfigPath, "--token", token); err != nil {
		return fmt.Errorf("enroll %s: %w", site.ID, err)
	}
	return nil
}

func (site *Site) identityFiles() (caFile, certFile, keyFile string) {
	c := site.AgentCfg
	c.SetDefaults()
	return c.Relay.CAFile, c.Relay.CertFile, c.Relay.KeyFile
}

// StartAgent starts a site's agent and waits until its status endpoint
// answers.
func (s *Stack) StartAgent(ctx context.Context, site *Site) error {
	s.logf("starting the agent of %s (sql connector on the WMS database, file-drop connector on %s)", site.ID,
		filepath.Dir(filepath.Dir(site.DropDirs[0])))
	if err := site.Agent.Start(); err != nil {
		return err
	}
	return poll(ctx, 30*time.Second, func() (bool, error) {
		if !site.Agent.Running() {
			return false, fmt.Errorf("agent %s exited: %w\n%s", site.ID, site.Agent.ExitErr(), site.Agent.Log(4096))
		}
		_, err := site.Status(ctx)
		return err == nil, nil
	}, "agent "+site.ID+" to serve its status")
}

// StopSims stops the simulators (SIGTERM: they commit what is pending and
// end their ground truth) and waits for them.
func (s *Stack) StopSims() error {
	var errs []error
	for _, site := range s.Sites {
		if err := site.Sim.Stop(s.Config.StopTimeout); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// WaitSims waits until every simulator has exited by itself (its
// configured stop) or ctx ends.
func (s *Stack) WaitSims(ctx context.Context) error {
	for _, site := range s.Sites {
		ch := site.Sim.Exited()
		if ch == nil {
			continue
		}
		select {
		case <-ch:
			if err := site.Sim.ExitErr(); err != nil {
				return fmt.Errorf("%s: %w\n%s", site.Sim.Name, err, site.Sim.Log(4096))
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Stop stops every process with SIGTERM, in order — simulators, agents
// (which stop their connector plugins), relay, sinks — killing any that
// does not stop within Config.StopTimeout, and closes the fault proxies.
// It returns every unclean stop. Stopping a stopped stack is a no-op.
func (s *Stack) Stop() error {
	var errs []error
	stop := func(p *proc.Process) {
		if p != nil && p.Running() {
			s.logf("stopping %s", p.Name)
			if err := p.Stop(s.Config.StopTimeout); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, site := range s.Sites {
		stop(site.Sim)
	}
	for _, site := range s.Sites {
		stop(site.Agent)
	}
	if s.Relay != nil {
		stop(s.Relay.Process)
	}
	for _, k := range []*Sink{s.ERP, s.TMS} {
		if k != nil {
			stop(k.Process)
		}
	}
	s.closeProxies()
	return errors.Join(errs...)
}

func (s *Stack) closeProxies() {
	for _, site := range s.Sites {
		if site.Proxy != nil {
			_ = site.Proxy.Close()
		}
	}
}

// Processes lists every process of the stack (started or not).
func (s *Stack) Processes() []*proc.Process {
	var out []*proc.Process
	for _, site := range s.Sites {
		out = append(out, site.Sim, site.Agent)
	}
	if s.Relay != nil {
		out = append(out, s.Relay.Process)
	}
	for _, k := range []*Sink{s.ERP, s.TMS} {
		if k != nil {
			out = append(out, k.Process)
		}
	}
	return out
}

// poll calls cond every 100 ms until it is true, returns an error, or
// timeout or ctx ends.
func poll(ctx context.Context, timeout time.Duration, cond func() (bool, error), what string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}
