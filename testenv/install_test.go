package testenv_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/draylink/dray/testenv"
)

// Stand-ins for the commands the installer runs: they act on $ROOT only.
const (
	stubSystemctl = `#!/bin/sh
echo "systemctl $*" >> "$ROOT/commands.log"
[ -n "$SYSTEMCTL_FAIL" ] && [ "$1" = "$SYSTEMCTL_FAIL" ] && { echo "injected failure" >&2; exit 1; }
case "$1" in
start) touch "$ROOT/active" ;;
stop) rm -f "$ROOT/active" ;;
is-active) if [ -f "$ROOT/active" ]; then echo active; else echo inactive; exit 3; fi ;;
esac
exit 0
`
	stubUseradd = `#!/bin/sh
echo "useradd $*" >> "$ROOT/commands.log"
for u; do :; done
echo "$u:x:4242:4242::/nonexistent:/usr/sbin/nologin" >> "$ROOT/etc/passwd"
`
	stubUserdel = `#!/bin/sh
echo "userdel $*" >> "$ROOT/commands.log"
grep -v "^$1:" "$ROOT/etc/passwd" > "$ROOT/etc/passwd.new"; mv "$ROOT/etc/passwd.new" "$ROOT/etc/passwd"
`
)

// TestInstallIntegration runs install, status, start, reinstall,
// uninstall and a failed install of dray-agent and of dray-relay end to
// end, each command in its own mount namespace (unshare -m,
// /etc/systemd/system hidden under a tmpfs) with stand-in systemctl,
// useradd and userdel, under a scratch root: nothing of the host is
// touched.
func TestInstallIntegration(t *testing.T) {
	skipShort(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root for mount namespaces and chown")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare")
	}
	bins := testenv.Build(t)
	for _, c := range []installCase{
		{name: "dray-agent", bin: bins.Agent, user: "dray", config: "/etc/dray/agent.yaml",
			configBody: "site: MEM1\ndata_dir: /var/lib/dray-agent\nrelay:\n  quic: relay.example.com:8883\n"},
		{name: "dray-relay", bin: bins.Relay, user: "dray-relay", config: "/etc/dray/relay.yaml",
			configBody: "data_dir: /var/lib/dray-relay\nlisten:\n  quic: \":8883\"\n" +
				"tls:\n  cert_file: /var/lib/dray-relay/pki/relay.pem\n  key_file: /var/lib/dray-relay/pki/relay-key.pem\n" +
				"  client_ca_file: /var/lib/dray-relay/pki/site-ca.pem\n"},
	} {
		t.Run(c.name, func(t *testing.T) { testInstall(t, c) })
	}
}

// installCase is one binary TestInstallIntegration installs.
type installCase struct {
	name, bin, user, config, configBody string
}

func testInstall(t *testing.T, c installCase) {
	data := "/var/lib/" + c.name
	root := t.TempDir()
	stubs := t.TempDir()
	for name, body := range map[string]string{"systemctl": stubSystemctl, "useradd": stubUseradd, "userdel": stubUserdel} {
		if err := os.WriteFile(filepath.Join(stubs, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(p string, data []byte, mode os.FileMode) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), data, mode); err != nil {
			t.Fatal(err)
		}
	}
	bin, err := os.ReadFile(c.bin)
	if err != nil {
		t.Fatal(err)
	}
	mk("usr/bin/"+c.name, bin, 0o755)
	mk("etc/passwd", []byte("root:x:0:0:root:/root:/bin/bash\n"), 0o644)
	mk(c.config[1:], []byte(c.configBody), 0o644)
	hostUnit := "/etc/systemd/system/" + c.name + ".service"
	_, hostHadUnit := os.Stat(hostUnit)

	run := func(env []string, args ...string) (string, error) {
		t.Helper()
		script := `[ -d /etc/systemd/system ] && mount -t tmpfs tmpfs /etc/systemd/system; exec "$@"`
		full := append([]string{"--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh",
			filepath.Join(root, "usr/bin", c.name)}, args...)
		full = append(full, "--config", c.config, "--root", root, "--init", "systemd")
		cmd := exec.Command("unshare", full...)
		cmd.Env = append(os.Environ(), "PATH="+stubs+":"+os.Getenv("PATH"), "ROOT="+root)
		cmd.Env = append(cmd.Env, env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := run(nil, args...)
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", c.name, args, err, out)
		}
		return out
	}
	status := func() string {
		t.Helper()
		out, err := run(nil, "status")
		var ee *exec.ExitError
		if err != nil && (!errors.As(err, &ee) || ee.ExitCode() != 3) {
			t.Fatalf("status: %v\n%s", err, out)
		}
		return strings.TrimSpace(out)
	}
	exists := func(p string) bool { _, err := os.Stat(filepath.Join(root, p)); return err == nil }
	unitPath := "etc/systemd/system/" + c.name + ".service"

	if s := status(); !strings.Contains(s, "not installed") {
		t.Errorf("status before install: %s", s)
	}
	must("install")
	unit, err := os.ReadFile(filepath.Join(root, unitPath))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"User=" + c.user + "\n", "NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=" + data + "\n",
		"CapabilityBoundingSet=\n", "AmbientCapabilities=\n", "PrivateTmp=yes", "ProtectHome=yes", "Restart=always", "RestartSec=5s",
		"ExecStart=/usr/bin/" + c.name + " run --config " + c.config + "\n"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	fi, err := os.Stat(filepath.Join(root, data[1:]))
	if err != nil || fi.Mode().Perm() != 0o750 || fi.Sys().(*syscall.Stat_t).Uid != 4242 {
		t.Errorf("data directory %v %v; want 0750 owned by 4242", fi, err)
	}
	fi, err = os.Stat(filepath.Join(root, c.config))
	if err != nil || fi.Mode().Perm() != 0o640 || fi.Sys().(*syscall.Stat_t).Uid != 0 || fi.Sys().(*syscall.Stat_t).Gid != 4242 {
		t.Errorf("configuration %v %v; want 0640 root:4242 (it may hold secrets)", fi, err)
	}
	if s := status(); !strings.Contains(s, "stopped") {
		t.Errorf("status after install: %s", s)
	}
	must("start")
	if s := status(); !strings.Contains(s, "running") {
		t.Errorf("status after start: %s", s)
	}
	must("install") // reinstall: idempotent
	must("stop")
	must("uninstall")
	if exists(unitPath) || !exists(data[1:]) {
		t.Errorf("after uninstall: unit %v, data directory %v", exists(unitPath), exists(data[1:]))
	}
	must("uninstall", "--purge")
	if exists(data[1:]) {
		t.Error("purge kept the data directory")
	}

	// A failed install leaves nothing behind, and the next one works.
	out, err := run([]string{"SYSTEMCTL_FAIL=enable"}, "install")
	if err == nil || !strings.Contains(out, "rolled back") {
		t.Fatalf("install with a failing systemctl enable: %v\n%s", err, out)
	}
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if exists(unitPath) || exists(data[1:]) || strings.Contains(string(passwd), c.user+":") {
		t.Errorf("failed install left: unit %v, data %v, passwd %q", exists(unitPath), exists(data[1:]), passwd)
	}
	must("install")
	if s := status(); !strings.Contains(s, "stopped") {
		t.Errorf("status after install following a failed one: %s", s)
	}
	log, _ := os.ReadFile(filepath.Join(root, "commands.log"))
	t.Logf("commands run:\n%s", log)

	if _, err := os.Stat(hostUnit); (err == nil) != (hostHadUnit == nil) {
		t.Errorf("the host's %s changed", hostUnit)
	}
}

// TestCrossBuildIntegration builds the agent for Windows (amd64) and
// Linux (arm64), and the relay for Linux (arm64).
func TestCrossBuildIntegration(t *testing.T) {
	skipShort(t)
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ goos, goarch, pkg string }{
		{"windows", "amd64", "./agent/cmd/dray-agent"},
		{"linux", "arm64", "./agent/cmd/dray-agent"},
		{"linux", "arm64", "./relay/cmd/dray-relay"},
	} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(t.TempDir(), "out"), c.pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOOS="+c.goos, "GOARCH="+c.goarch, "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("GOOS=%s GOARCH=%s go build %s: %v\n%s", c.goos, c.goarch, c.pkg, err, out)
		}
	}
}
