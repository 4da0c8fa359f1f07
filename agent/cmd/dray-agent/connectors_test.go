package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/draylink/dray/agent"
	"github.com/draylink/dray/internal/configfile"
	"go.yaml.in/yaml/v3"
)

const baseConfig = `
site: MEM1
data_dir: /var/lib/dray-agent
relay: {quic: relay:8883, ca_file: /ca, cert_file: /c, key_file: /k}
status: {listen: 127.0.0.1:7070}
`

const goodConnectors = `
sources:
  - name: synthetic
    synthetic: {rate: 10}
connectors:
  - name: counts
    path: /opt/dray/plugins/dray-connector-example
    sha256: 9f2c4e0d1b7a3c5e8f6a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e
    args: [--verbose]
    env: {TZ_OVERRIDE: America/Chicago, WMS_DSN: "postgres://wms"}
    restart: {min_backoff: 500ms, max_backoff: 30s}
    timeouts: {start: 5s, call: 3s, heartbeat: 4s}
    config:
      site_id: MEM1
      dir: /srv/drop/counts
      poll_interval: 2s
      batch_size: 500
      ratio: 0.25
      strict: true
      since: 2025-03-14T10:00:00Z
      nothing: null
      big: 0x10
      tables: &t
        - {name: counts, key: count_id}
      again: *t
  - name: orders
    path: /opt/dray/plugins/dray-connector-sql
    sha256: 0000000000000000000000000000000000000000000000000000000000000000
`

func TestConnectorConfig(t *testing.T) {
	var cfg agent.Config
	if err := configfile.Decode([]byte(baseConfig+goodConnectors), &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Connectors) != 2 {
		t.Fatalf("%d connectors", len(cfg.Connectors))
	}
	c := cfg.Connectors[0]
	if c.Name != "counts" || c.Path != "/opt/dray/plugins/dray-connector-example" || len(c.Args) != 1 ||
		c.Restart.MinBackoff.D() != 500*time.Millisecond || c.Restart.MaxBackoff.D() != 30*time.Second ||
		c.Timeouts.Start.D() != 5*time.Second || c.Timeouts.Call.D() != 3*time.Second || c.Timeouts.Heartbeat.D() != 4*time.Second {
		t.Errorf("decoded %+v", c)
	}
	if got := strings.Join(c.EnvList(), " "); got != "TZ_OVERRIDE=America/Chicago WMS_DSN=postgres://wms" {
		t.Errorf("env %q", got)
	}
	var got map[string]any
	dec := json.NewDecoder(bytes.NewReader(c.Config.JSON()))
	dec.UseNumber()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("config JSON %s: %v", c.Config.JSON(), err)
	}
	want := `{"again":[{"key":"count_id","name":"counts"}],"batch_size":500,"big":16,"dir":"/srv/drop/counts","nothing":null,` +
		`"poll_interval":"2s","ratio":0.25,"since":"2025-03-14T10:00:00Z","site_id":"MEM1","strict":true,"tables":[{"key":"count_id","name":"counts"}]}`
	if b, _ := json.Marshal(got); string(b) != want {
		t.Errorf("config as JSON:\n got %s\nwant %s", b, want)
	}
	// Defaults.
	o := cfg.Connectors[1]
	if o.Restart.MinBackoff.D() != time.Second || o.Restart.MaxBackoff.D() != time.Minute || o.Timeouts.Call.D() != 10*time.Second ||
		string(o.Config.JSON()) != "{}" {
		t.Errorf("defaults %+v, config %s", o, o.Config.JSON())
	}

	// The configuration survives a YAML round trip (tools write it).
	out, err := yaml.Marshal(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	var again agent.Config
	if err := configfile.Decode(out, &again); err != nil {
		t.Fatalf("round trip: %v\n%s", err, out)
	}
	if string(again.Connectors[0].Config.JSON()) != string(c.Config.JSON()) {
		t.Errorf("round trip changed the block:\n%s\n%s", again.Connectors[0].Config.JSON(), c.Config.JSON())
	}
	if block, err := agent.ConnectorConfigOf(map[string]any{"dir": "/in", "n": 3}); err != nil || string(block.JSON()) != `{"dir":"/in","n":3}` {
		t.Errorf("ConnectorConfigOf: %s, %v", block.JSON(), err)
	}
}

func TestConnectorConfigReportsEveryProblem(t *testing.T) {
	doc := strings.Replace(baseConfig, "127.0.0.1:7070", "0.0.0.0:7070", 1) + `
sources:
  - name: counts
    synthetic: {rate: 10}
connectors:
  - name: counts
    path: plugins/example
    sha256: nope
    env: {DRAY_PLUGIN_LOG_LEVEL: debug, PLUGIN_MIN_PORT: "1"}
    restart: {min_backoff: 2m, max_backoff: 1m}
    timeouts: {call: 1ms, heartbeat: 1h}
    config:
      dir: /a
      dir: /b
      ratio: .inf
      list: [1, !weird x]
      base: &b {a: 1}
      merged:
        <<: *b
  - name: "bad name!"
`
	var cfg agent.Config
	err := configfile.Decode([]byte(doc), &cfg)
	var ce *configfile.Error
	if !errors.As(err, &ce) {
		t.Fatalf("got %v; want *configfile.Error", err)
	}
	want := map[string]string{
		"status.listen":                           "loopback",
		"connectors[0].name":                      "duplicate name",
		"connectors[0].path":                      "absolute",
		"connectors[0].sha256":                    "64 hex digits",
		"connectors[0].env.DRAY_PLUGIN_LOG_LEVEL": "reserved",
		"connectors[0].env.PLUGIN_MIN_PORT":       "reserved",
		"connectors[0].restart.max_backoff":       "want min_backoff",
		"connectors[0].timeouts.call":             "100ms to 10m",
		"connectors[0].timeouts.heartbeat":        "100ms to 10m",
		"connectors[0].config.dir":                "duplicate key",
		"connectors[0].config.ratio":              "not a finite number",
		"connectors[0].config.list[1]":            "unsupported tag !weird",
		"connectors[0].config.merged":             "merge keys",
		"connectors[1].name":                      "want 1-64 letters",
		"connectors[1].path":                      "required",
		"connectors[1].sha256":                    "required",
	}
	got := map[string]string{}
	for _, fe := range ce.Errors {
		got[fe.Path] = fe.Msg
	}
	for path, msg := range want {
		if !strings.Contains(got[path], msg) {
			t.Errorf("%s: got %q; want it to mention %q", path, got[path], msg)
		}
	}
	if len(ce.Errors) != len(want) {
		t.Errorf("%d problems; want %d:\n%v", len(ce.Errors), len(want), err)
	}
}

func TestConfigValidateCommand(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(good, []byte(baseConfig+goodConnectors), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(baseConfig+"connectors:\n  - name: x\n    path: /x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		cmd := root()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(args)
		err := cmd.Execute()
		return out.String(), err
	}
	if out, err := run("config", "validate", "--config", good); err != nil || !strings.Contains(out, "valid") {
		t.Errorf("validate good: %q, %v", out, err)
	}
	if _, err := run("config", "validate", "--config", bad); err == nil || !strings.Contains(err.Error(), "connectors[0].sha256") {
		t.Errorf("validate bad: %v", err)
	}
	// The quarantine commands need the status endpoint.
	noStatus := filepath.Join(dir, "nostatus.yaml")
	if err := os.WriteFile(noStatus, []byte(strings.Replace(baseConfig, "status: {listen: 127.0.0.1:7070}", "", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := run("quarantine", "ls", "--config", noStatus); err == nil || !strings.Contains(err.Error(), "status.listen") {
		t.Errorf("quarantine ls without status.listen: %v", err)
	}
}
