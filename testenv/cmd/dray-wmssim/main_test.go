package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/draylink/dray/testenv/wmssim"
	"go.yaml.in/yaml/v3"
)

func TestExampleConfigIsValid(t *testing.T) {
	if _, err := wmssim.LoadConfig("example.yaml"); err != nil {
		t.Fatal(err)
	}
}

func TestStrictConfig(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(p, []byte("seed: 1\nrate: -1\ntruht: x\nbad: {x12_se_count: 2}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := wmssim.LoadConfig(p)
	if err == nil || !strings.Contains(err.Error(), "truht") {
		t.Fatalf("error %v; want the unknown key reported", err)
	}
	if err := os.WriteFile(p, []byte("seed: 1\nrate: -1\nbad: {x12_se_count: 2}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = wmssim.LoadConfig(p)
	for _, want := range []string{"rate", "bad.x12_se_count", "truth"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v; want a problem at %s", err, want)
		}
	}
}

func TestSchemaAndConnectorsCommands(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"schema", "--dialect", "postgres"}, &out); err != nil || !strings.Contains(out.String(), "CREATE TABLE outbox") {
		t.Fatalf("schema: %v\n%s", err, out.String())
	}
	if err := run([]string{"schema", "--dialect", "oracle"}, &out); err == nil {
		t.Error("schema accepted an unknown dialect")
	}
	for _, c := range []string{"sql-tables", "sql-outbox", "filedrop"} {
		out.Reset()
		if err := run([]string{"connectors", "--config", "example.yaml", "--connector", c}, &out); err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		var v map[string]any
		if err := yaml.Unmarshal(out.Bytes(), &v); err != nil || v["site_id"] != "MEM1" {
			t.Errorf("%s: %v %v", c, err, v["site_id"])
		}
	}
}

// TestRunStopsOnSIGTERMIntegration runs the binary paced, stops it with
// SIGTERM and checks that it exits cleanly with a summary and a complete
// ground truth.
func TestRunStopsOnSIGTERMIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "dray-wmssim")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cfg := "seed: 3\nrate: 300\nacceleration: 600\nstop: {duration: 1h}\n" +
		"store: {sqlite: " + dir + "/wms.db}\ndrops: {csv: " + dir + "/csv/inbox, x12: " + dir + "/edi/inbox}\n" +
		"truth: " + dir + "/truth.jsonl\n"
	if err := os.WriteFile(filepath.Join(dir, "sim.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", filepath.Join(dir, "sim.yaml"), "--log-format", "text")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("no exit 15s after SIGTERM\n%s", stderr.String())
	}
	if !strings.Contains(stdout.String(), "stopped by signal") || strings.Count(stdout.String(), "\n") != 1 {
		t.Errorf("summary %q", stdout.String())
	}
	tr, err := wmssim.ReadTruth(filepath.Join(dir, "truth.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if tr.End == nil || tr.End.Reason != "signal" || tr.End.Facts != int64(len(tr.Facts)) || len(tr.Facts) < 100 {
		t.Fatalf("truth end %+v with %d facts", tr.End, len(tr.Facts))
	}
	t.Logf("%s", strings.TrimSpace(stdout.String()))
}
