package testenv_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/draylink/dray/testenv"
)

// debSandbox installs, reinstalls, removes and purges the packages with the
// real dpkg inside a mount namespace where /etc, /usr and /var are overlays
// whose writes go to a tmpfs, /run is a tmpfs with /run/systemd/system (so
// the maintainer scripts take their systemd path) and systemctl is a
// stand-in that logs. Nothing of the host is touched; everything vanishes
// with the namespace. Each step prints a "== name" line before its output.
const debSandbox = `set -eu
S=$1 AGENT=$2 RELAY=$3
mount -t tmpfs tmpfs "$S"
for d in etc usr var; do
	mkdir -p "$S/$d.upper" "$S/$d.work"
	mount -t overlay overlay -o "lowerdir=/$d,upperdir=$S/$d.upper,workdir=$S/$d.work" "/$d"
done
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd/system "$S/bin"
printf '#!/bin/sh\necho "systemctl $*" >> /run/systemctl.log\n' > "$S/bin/systemctl"
chmod 0755 "$S/bin/systemctl"
export PATH="$S/bin:$PATH"
files="/usr/bin/dray-agent /usr/bin/dray-relay /usr/lib/systemd/system/dray-agent.service
	/usr/lib/systemd/system/dray-relay.service /etc/dray /etc/dray/agent.yaml /etc/dray/relay.yaml
	/var/lib/dray-agent /var/lib/dray-relay"
show() { for f in $files; do if [ -e "$f" ]; then stat -c '%a %U:%G %n' "$f"; else echo "absent $f"; fi; done; }
echo "== install"; dpkg -i "$AGENT" "$RELAY" 2>&1
echo "== files"; show
echo "== accounts"; getent passwd dray dray-relay
echo "== agent.service"; cat /usr/lib/systemd/system/dray-agent.service
echo "== relay.service"; cat /usr/lib/systemd/system/dray-relay.service
echo "== validate"
dray-agent config validate --config /etc/dray/agent.yaml 2>&1
dray-relay config validate --config /etc/dray/relay.yaml 2>&1
grep -h '^data_dir:' /etc/dray/agent.yaml /etc/dray/relay.yaml
echo "== systemctl-install"; cat /run/systemctl.log; : > /run/systemctl.log
echo "== reinstall"; dpkg -i "$AGENT" "$RELAY" 2>&1
echo "== systemctl-reinstall"; cat /run/systemctl.log; : > /run/systemctl.log
echo "== remove"; dpkg -r dray-agent dray-relay 2>&1
echo "== files-removed"; show
echo "== systemctl-remove"; cat /run/systemctl.log
echo "== purge"; dpkg --purge dray-agent dray-relay 2>&1
echo "== files-purged"; show
echo "== end"
`

// TestDebPackageIntegration builds the .deb packages of agent and relay
// with installer/packaging/deb.sh (what `make package` runs) from the test
// binaries, checks their contents and modes, and installs, reinstalls,
// removes and purges them with the real dpkg in a sandbox (debSandbox):
// files and modes, the service accounts the post-install step makes, the
// hardened units, configurations that validate and agree with the units,
// the systemctl calls of the maintainer scripts.
func TestDebPackageIntegration(t *testing.T) {
	skipShort(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root for mount namespaces and dpkg")
	}
	for _, tool := range []string{"unshare", "dpkg", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s", tool)
		}
	}
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	nfpm := filepath.Join(root, ".tools/bin/nfpm")
	if out, err := exec.Command("make", "-C", root, "-s", nfpm).CombinedOutput(); err != nil {
		t.Fatalf("make %s: %v\n%s", nfpm, err, out)
	}
	bins := testenv.Build(t)
	out := t.TempDir()
	cmd := exec.Command(filepath.Join(root, "installer/packaging/deb.sh"), bins.Dir, out, "0.0.1~test", runtime.GOARCH)
	cmd.Env = append(os.Environ(), "NFPM="+nfpm)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("deb.sh: %v\n%s", err, b)
	}
	debs := map[string]string{}
	for _, p := range []string{"agent", "relay"} {
		debs[p] = filepath.Join(out, "dray-"+p+"_0.0.1~test_"+runtime.GOARCH+".deb")
	}

	// Contents: paths, modes, owners; the configuration is a conffile.
	dpkgDeb := func(args ...string) string {
		t.Helper()
		b, err := exec.Command("dpkg-deb", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("dpkg-deb %v: %v\n%s", args, err, b)
		}
		return string(b)
	}
	for p, deb := range debs {
		listing := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(dpkgDeb("-c", deb)), "\n") {
			f := strings.Fields(l)
			if len(f) >= 6 {
				listing[strings.TrimSuffix(f[5], "/")] = f[0] + " " + f[1]
			}
		}
		for path, want := range map[string]string{
			"./usr/bin/dray-" + p:                             "-rwxr-xr-x root/root",
			"./usr/lib/systemd/system/dray-" + p + ".service": "-rw-r--r-- root/root",
			"./etc/dray/" + p + ".yaml":                       "-rw-r----- root/root",
			"./etc/dray":                                      "drwxr-xr-x root/root",
		} {
			if listing[path] != want {
				t.Errorf("dray-%s.deb: %s is %q; want %q (listing %v)", p, path, listing[path], want, listing)
			}
		}
		if got := dpkgDeb("-I", deb, "conffiles"); strings.TrimSpace(got) != "/etc/dray/"+p+".yaml" {
			t.Errorf("dray-%s.deb conffiles %q", p, got)
		}
		for _, script := range []string{"postinst", "prerm"} {
			if s := dpkgDeb("-I", deb, script); !strings.Contains(s, "DPKG_MAINTSCRIPT_PACKAGE") {
				t.Errorf("dray-%s.deb %s:\n%s", p, script, s)
			}
		}
		if f := dpkgDeb("-f", deb, "Package", "Architecture"); f != "Package: dray-"+p+"\nArchitecture: "+runtime.GOARCH+"\n" {
			t.Errorf("dray-%s.deb control %q", p, f)
		}
	}

	_, hostHadAgent := os.Stat("/usr/bin/dray-agent")
	run := exec.Command("unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", debSandbox, "sh",
		t.TempDir(), debs["agent"], debs["relay"])
	var buf bytes.Buffer
	run.Stdout, run.Stderr = &buf, &buf
	err = run.Run()
	t.Logf("sandbox:\n%s", buf.String())
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	sec := sections(buf.String())
	if _, ok := sec["end"]; !ok {
		t.Fatal("the sandbox script did not finish")
	}
	wantLines := func(name string, lines ...string) {
		t.Helper()
		for _, l := range lines {
			if !strings.Contains("\n"+sec[name]+"\n", "\n"+l+"\n") {
				t.Errorf("%s: no line %q in:\n%s", name, l, sec[name])
			}
		}
	}
	wantLines("files",
		"755 root:root /usr/bin/dray-agent", "755 root:root /usr/bin/dray-relay",
		"644 root:root /usr/lib/systemd/system/dray-agent.service", "644 root:root /usr/lib/systemd/system/dray-relay.service",
		"755 root:root /etc/dray", "640 root:dray /etc/dray/agent.yaml", "640 root:dray-relay /etc/dray/relay.yaml",
		"750 dray:dray /var/lib/dray-agent", "750 dray-relay:dray-relay /var/lib/dray-relay")
	for _, l := range strings.Split(strings.TrimSpace(sec["accounts"]), "\n") {
		f := strings.Split(l, ":")
		if len(f) != 7 || f[6] != "/usr/sbin/nologin" || f[5] != map[string]string{"dray": "/var/lib/dray-agent", "dray-relay": "/var/lib/dray-relay"}[f[0]] {
			t.Errorf("service account %q: want a system account with no login, home in its data directory", l)
		}
	}
	if n := len(strings.Split(strings.TrimSpace(sec["accounts"]), "\n")); n != 2 {
		t.Errorf("accounts:\n%s", sec["accounts"])
	}
	for p, user := range map[string]string{"agent": "dray", "relay": "dray-relay"} {
		wantLines(p+".service", "# Shipped by the dray-"+p+" package; change it with systemctl edit dray-"+p+".", "User="+user, "Group="+user, "ExecStart=/usr/bin/dray-"+p+" run --config /etc/dray/"+p+".yaml",
			"ReadWritePaths=/var/lib/dray-"+p, "NoNewPrivileges=yes", "ProtectSystem=strict", "CapabilityBoundingSet=",
			"AmbientCapabilities=", "ProtectHome=yes", "PrivateTmp=yes", "Restart=always", "RestartSec=5s")
	}
	wantLines("validate", "data_dir: /var/lib/dray-agent   # the spool lives in <data_dir>/spool",
		"data_dir: /var/lib/dray-relay   # the relay log lives in <data_dir>/log")
	wantLines("systemctl-install", "systemctl daemon-reload", "systemctl enable dray-agent.service", "systemctl enable dray-relay.service")
	if strings.Contains(sec["systemctl-install"], "start") {
		t.Errorf("a fresh install started a service before it was configured:\n%s", sec["systemctl-install"])
	}
	wantLines("systemctl-reinstall", "systemctl try-restart dray-agent.service", "systemctl try-restart dray-relay.service")
	wantLines("systemctl-remove", "systemctl stop dray-agent.service", "systemctl disable dray-agent.service",
		"systemctl stop dray-relay.service", "systemctl disable dray-relay.service")
	// Removed: binaries and units go; configurations, data and accounts stay.
	wantLines("files-removed", "absent /usr/bin/dray-agent", "absent /usr/bin/dray-relay",
		"absent /usr/lib/systemd/system/dray-agent.service", "640 root:dray /etc/dray/agent.yaml", "750 dray:dray /var/lib/dray-agent")
	// Purged: the configurations go too; the data directories stay.
	wantLines("files-purged", "absent /etc/dray/agent.yaml", "absent /etc/dray/relay.yaml", "750 dray:dray /var/lib/dray-agent",
		"750 dray-relay:dray-relay /var/lib/dray-relay")

	if _, err := os.Stat("/usr/bin/dray-agent"); (err == nil) != (hostHadAgent == nil) {
		t.Error("the host's /usr/bin/dray-agent changed")
	}
}

// sections splits the sandbox's output at its "== name" lines.
func sections(out string) map[string]string {
	sec := map[string]string{}
	name := ""
	for _, l := range strings.Split(out, "\n") {
		if n, ok := strings.CutPrefix(l, "== "); ok {
			name = n
			sec[name] = ""
			continue
		}
		if name != "" {
			sec[name] += l + "\n"
		}
	}
	for k, v := range sec {
		sec[k] = strings.TrimSpace(v)
	}
	return sec
}
