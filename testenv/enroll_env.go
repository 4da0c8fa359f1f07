package testenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/draylink/dray/agent"
	"github.com/draylink/dray/agent/synthetic"
	"github.com/draylink/dray/internal/configfile"
	"github.com/draylink/dray/relay"
	"github.com/draylink/dray/relay/admin"
	"github.com/draylink/dray/relay/sink"
)

// Admin API tokens of an enrolling relay, one per role.
const (
	ViewerToken   = "viewer-token-0123456789abcdef"
	OperatorToken = "operator-token-0123456789abcdef"
)

// NewEnrollRelay prepares a relay with its own site CA (made by
// `dray-relay ca init`), an enrollment endpoint issuing certificates for
// certTTL, and an admin API with an admin token (file admin-token, used by
// Relay.CLI), an operator token (from a file) and a viewer token
// (configured as its SHA-256).
func (e *Env) NewEnrollRelay(name string, certTTL time.Duration) *Relay {
	e.t.Helper()
	r := e.NewRelay(name)
	dir := filepath.Join(e.Dir, name+"-pki")
	r.Config.TLS = relay.TLSConfig{CertFile: filepath.Join(dir, "relay.pem"), KeyFile: filepath.Join(dir, "relay-key.pem"),
		ClientCAFile: filepath.Join(dir, "site-ca.pem")}
	r.Config.Enrollment = relay.EnrollmentConfig{Listen: Addr(FreePort(e.t)), CAKeyFile: filepath.Join(dir, "site-ca-key.pem"),
		CertTTL: configfile.Duration(certTTL)}
	viewerSum := sha256.Sum256([]byte(ViewerToken))
	r.Config.Admin = relay.AdminConfig{Listen: Addr(FreePort(e.t)), Tokens: []relay.AdminToken{
		{Name: "root", Role: "admin", Secret: sink.Secret{File: e.secretFile("admin-token", adminToken)}},
		{Name: "ops", Role: "operator", Secret: sink.Secret{File: e.secretFile("operator-token", OperatorToken)}},
		{Name: "val", Role: "viewer", SHA256: hex.EncodeToString(viewerSum[:])},
	}}
	r.ConfigPath = e.writeYAML(name+".yaml", &r.Config)
	Run(e.t, time.Minute, e.Bins.Relay, "ca", "init", "--config", r.ConfigPath, "--host", "localhost", "--host", "127.0.0.1")
	return r
}

// EnrollURL is the relay's enrollment endpoint.
func (r *Relay) EnrollURL() string { return "https://" + r.Config.Enrollment.Listen }

// AddSite issues an enrollment token with `dray-relay sites add`.
func (r *Relay) AddSite(site string, ttl time.Duration) string {
	r.env.t.Helper()
	args := []string{"sites", "add", site}
	if ttl > 0 {
		args = append(args, "--ttl", ttl.String())
	}
	return strings.TrimSpace(string(r.CLI(args...)))
}

// AdminAs is a client of the admin API with one of the role tokens.
func (r *Relay) AdminAs(token string) *admin.Client {
	return &admin.Client{Base: "http://" + r.Config.Admin.Listen, Token: token}
}

// NewEnrollingAgent prepares an agent for site that has no certificate
// yet: its identity goes to the defaults under its data directory, and it
// renews through the relay's enrollment endpoint.
func (e *Env) NewEnrollingAgent(site string, r *Relay, src synthetic.Config) *Agent {
	a := &Agent{env: e, Name: "agent-" + site}
	a.Config = agent.Config{
		Site:    site,
		DataDir: filepath.Join(e.Dir, a.Name),
		Relay: agent.RelayConfig{QUIC: r.Config.Listen.QUIC, TCP: r.Config.Listen.TCP, ServerName: "localhost",
			EnrollURL: r.EnrollURL()},
		Uplink:  agent.UplinkConfig{DialTimeout: configfile.Duration(2 * time.Second), QUICRetry: configfile.Duration(10 * time.Second)},
		Sources: []agent.SourceEntry{{Name: "synthetic", Synthetic: &src}},
		Log:     agent.LogConfig{Level: "info", Format: "json"},
	}
	return a
}

// Enroll runs `dray-agent enroll` with token and returns its combined
// output and error (a refusal is not a test failure).
func (a *Agent) Enroll(token string, extra ...string) (string, error) {
	a.env.t.Helper()
	a.ConfigPath = a.env.writeYAML(a.Name+".yaml", &a.Config)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := append([]string{"enroll", "--config", a.ConfigPath, "--token", token}, extra...)
	out, err := exec.CommandContext(ctx, a.env.Bins.Agent, args...).CombinedOutput()
	return string(out), err
}

// IdentityFiles are where the agent's identity is (after SetDefaults).
func (a *Agent) IdentityFiles() (caFile, certFile, keyFile string) {
	c := a.Config
	c.SetDefaults()
	return c.Relay.CAFile, c.Relay.CertFile, c.Relay.KeyFile
}
