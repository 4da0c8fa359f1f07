package testenv

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/draylink/dray/agent"
	"github.com/draylink/dray/agent/synthetic"
	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/configfile"
	"github.com/draylink/dray/internal/pki"
	"github.com/draylink/dray/relay"
	"github.com/draylink/dray/testenv/proc"
	"go.yaml.in/yaml/v3"
)

// Env is a directory with a test PKI (CA, relay certificate, site
// certificates) and the built binaries.
type Env struct {
	t    testing.TB
	Dir  string
	Bins *Binaries
	PKI  *pki.TestSetup

	CAFile, RelayCertFile, RelayKeyFile string
}

// New makes an environment in a temporary directory.
func New(t testing.TB) *Env {
	t.Helper()
	e := &Env{t: t, Dir: t.TempDir(), Bins: Build(t)}
	ts, err := pki.NewTestSetup()
	if err != nil {
		t.Fatal(err)
	}
	e.PKI = ts
	e.CAFile = filepath.Join(e.Dir, "ca.pem")
	if err := os.WriteFile(e.CAFile, pki.CertPEM(ts.CA.Cert), 0o644); err != nil {
		t.Fatal(err)
	}
	e.RelayCertFile, e.RelayKeyFile = filepath.Join(e.Dir, "relay.pem"), filepath.Join(e.Dir, "relay-key.pem")
	if err := pki.WriteFiles(e.RelayCertFile, e.RelayKeyFile, ts.Server.Leaf, ts.Server.PrivateKey.(pki.Signer)); err != nil {
		t.Fatal(err)
	}
	return e
}

// SiteCert writes a key and certificate for a site and returns their paths.
func (e *Env) SiteCert(site string) (certFile, keyFile string) {
	e.t.Helper()
	cert, err := e.PKI.SiteCertificate(site)
	if err != nil {
		e.t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(e.Dir, site+".pem"), filepath.Join(e.Dir, site+"-key.pem")
	if err := pki.WriteFiles(certFile, keyFile, cert.Leaf, cert.PrivateKey.(pki.Signer)); err != nil {
		e.t.Fatal(err)
	}
	return certFile, keyFile
}

// FreePort returns a loopback port free for both TCP and UDP at the time of
// the call.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// Addr is 127.0.0.1:port.
func Addr(port int) string { return proc.Addr(port) }

func (e *Env) writeYAML(name string, v any) string {
	e.t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		e.t.Fatal(err)
	}
	path := filepath.Join(e.Dir, name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// Relay is a relay's configuration and, once started, its process.
type Relay struct {
	env        *Env
	Name       string
	Config     relay.Config
	ConfigPath string
	Proc       *Process
}

// NewRelay prepares a relay listening on fresh loopback ports (QUIC and TCP
// on the same port number).
func (e *Env) NewRelay(name string) *Relay {
	port := FreePort(e.t)
	r := &Relay{env: e, Name: name}
	r.Config = relay.Config{
		DataDir: filepath.Join(e.Dir, name),
		Listen:  relay.ListenConfig{QUIC: Addr(port), TCP: Addr(port)},
		TLS:     relay.TLSConfig{CertFile: e.RelayCertFile, KeyFile: e.RelayKeyFile, ClientCAFile: e.CAFile},
		Log:     relay.LogConfig{Level: "info", Format: "json"},
	}
	return r
}

// Start writes the configuration and starts the relay; it waits until the
// relay listens on TCP.
func (r *Relay) Start() {
	r.env.t.Helper()
	r.ConfigPath = r.env.writeYAML(r.Name+".yaml", &r.Config)
	r.Proc = Start(r.env.t, r.Name, r.env.Bins.Relay, "run", "--config", r.ConfigPath)
	Eventually(r.env.t, 20*time.Second, 50*time.Millisecond, r.Name+" to listen", func() bool {
		if !r.Proc.Running() {
			r.env.t.Fatalf("%s exited:\n%s", r.Name, r.Proc.Log())
		}
		c, err := net.DialTimeout("tcp", r.Config.Listen.TCP, 200*time.Millisecond)
		if err != nil {
			return false
		}
		_ = c.Close()
		return true
	})
}

// LogLine is one event of the relay log as `dray-relay log dump` prints it.
type LogLine struct {
	Seq      uint64           `json:"seq"`
	Site     string           `json:"site"`
	Received string           `json:"received"`
	Epoch    string           `json:"epoch"`
	Lane     string           `json:"lane"`
	Stream   uint32           `json:"stream"`
	Event    *canonical.Event `json:"event"`
}

// Dump reads the whole relay log with `dray-relay log dump` (the relay must
// be stopped).
func (r *Relay) Dump() []LogLine {
	r.env.t.Helper()
	if r.ConfigPath == "" {
		r.ConfigPath = r.env.writeYAML(r.Name+".yaml", &r.Config)
	}
	out := Run(r.env.t, 5*time.Minute, r.env.Bins.Relay, "log", "dump", "--config", r.ConfigPath)
	var lines []LogLine
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var l LogLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			r.env.t.Fatalf("log dump line: %v: %s", err, sc.Bytes())
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		r.env.t.Fatal(err)
	}
	return lines
}

// Agent is an agent's configuration and, once started, its process.
type Agent struct {
	env        *Env
	Name       string
	Config     agent.Config
	ConfigPath string
	Proc       *Process
}

// NewAgent prepares an agent for site with a synthetic source, connecting to
// quic and tcp (either may be empty).
func (e *Env) NewAgent(site, quic, tcp string, src synthetic.Config) *Agent {
	cert, key := e.SiteCert(site)
	a := &Agent{env: e, Name: "agent-" + site}
	a.Config = agent.Config{
		Site:    site,
		DataDir: filepath.Join(e.Dir, a.Name),
		Relay: agent.RelayConfig{QUIC: quic, TCP: tcp, ServerName: "localhost",
			CAFile: e.CAFile, CertFile: cert, KeyFile: key},
		Uplink:  agent.UplinkConfig{DialTimeout: configfile.Duration(2 * time.Second), QUICRetry: configfile.Duration(10 * time.Second)},
		Sources: []agent.SourceEntry{{Name: "synthetic", Synthetic: &src}},
		Log:     agent.LogConfig{Level: "info", Format: "json"},
	}
	return a
}

// Start writes the configuration and starts the agent.
func (a *Agent) Start() {
	a.env.t.Helper()
	a.ConfigPath = a.env.writeYAML(a.Name+".yaml", &a.Config)
	a.Proc = Start(a.env.t, a.Name, a.env.Bins.Agent, "run", "--config", a.ConfigPath)
}
