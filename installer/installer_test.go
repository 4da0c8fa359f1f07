package installer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// fakeHost is a root directory with an /etc/passwd and recorded commands:
// useradd and userdel edit the passwd file, systemctl keeps an active flag.
type fakeHost struct {
	Host
	t      *testing.T
	calls  []string
	failOn string
	active bool
	uid    int
}

func newFakeHost(t *testing.T) *fakeHost {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"etc/dray", "usr/bin"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(root, p), []byte(s), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n", 0o644)
	write("etc/dray/agent.yaml", "site: MEM1\n", 0o644)
	write("usr/bin/dray-agent", "#!/bin/sh\n", 0o755)
	f := &fakeHost{t: t, uid: 4242}
	if os.Geteuid() != 0 {
		f.uid = os.Getuid() // chown to another uid needs root
	}
	f.Host = Host{Root: root, OS: "linux", Detect: func() string { return InitSystemd }, Run: f.run}
	return f
}

func (f *fakeHost) run(name string, args ...string) ([]byte, error) {
	call := name + " " + strings.Join(args, " ")
	f.calls = append(f.calls, call)
	if f.failOn != "" && strings.HasPrefix(call, f.failOn) {
		return nil, fmt.Errorf("%s: injected failure", call)
	}
	passwd := filepath.Join(f.Root, "etc/passwd")
	b, _ := os.ReadFile(passwd)
	switch {
	case name == "useradd":
		user := args[len(args)-1]
		b = append(b, fmt.Sprintf("%s:x:%d:%d::/var/lib/dray-agent:/usr/sbin/nologin\n", user, f.uid, f.uid)...)
		return nil, os.WriteFile(passwd, b, 0o644)
	case name == "userdel":
		var keep []string
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if !strings.HasPrefix(l, args[0]+":") {
				keep = append(keep, l)
			}
		}
		return nil, os.WriteFile(passwd, []byte(strings.Join(keep, "\n")+"\n"), 0o644)
	case call == "systemctl start dray-agent.service":
		f.active = true
	case call == "systemctl stop dray-agent.service":
		f.active = false
	case call == "systemctl is-active dray-agent.service":
		if f.active {
			return []byte("active\n"), nil
		}
		return []byte("inactive\n"), errors.New("exit status 3")
	}
	return nil, nil
}

func spec() Spec {
	return Spec{Name: "dray-agent", DisplayName: "dray agent", Description: "dray edge agent", Executable: "/usr/bin/dray-agent",
		Arguments: []string{"run", "--config", "/etc/dray/agent.yaml"}, ConfigFile: "/etc/dray/agent.yaml", User: "dray",
		DataDir: "/var/lib/dray-agent"}
}

func owner(t *testing.T, p string) (uint32, uint32, os.FileMode) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid, fi.Mode().Perm()
}

func TestUnitHardening(t *testing.T) {
	u := Unit(spec())
	for _, want := range []string{
		"User=dray\n", "Group=dray\n", "NoNewPrivileges=yes\n", "ProtectSystem=strict\n", "ReadWritePaths=/var/lib/dray-agent\n",
		"CapabilityBoundingSet=\n", "AmbientCapabilities=\n", "PrivateTmp=yes\n", "ProtectHome=yes\n", "Restart=always\n",
		"RestartSec=5s\n", "ExecStart=/usr/bin/dray-agent run --config /etc/dray/agent.yaml\n", "WantedBy=multi-user.target\n",
	} {
		if !strings.Contains(u, want) {
			t.Errorf("unit lacks %q:\n%s", want, u)
		}
	}
	if strings.Contains(u, "RestartSec=120") || strings.Contains(u, "{{") {
		t.Errorf("stock template leaked into the unit:\n%s", u)
	}
	if got := execLine("/opt/my dray/x", []string{"--config", `/etc/a "b"`, "50%"}); got != `"/opt/my dray/x" --config "/etc/a \"b\"" 50%%` {
		t.Errorf("execLine: %s", got)
	}
}

func TestInstallReinstallUninstall(t *testing.T) {
	f := newFakeHost(t)
	in := New(spec(), &f.Host)
	if st, err := in.Status(); err != nil || st != StatusNotInstalled {
		t.Fatalf("status before install: %q %v", st, err)
	}
	if err := in.Install(); err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(f.Root, "etc/systemd/system/dray-agent.service")
	b, err := os.ReadFile(unit)
	if err != nil || string(b) != Unit(spec()) {
		t.Fatalf("unit: %v\n%s", err, b)
	}
	if uid, gid, mode := owner(t, filepath.Join(f.Root, "var/lib/dray-agent")); int(uid) != f.uid || int(gid) != f.uid || mode != 0o750 {
		t.Errorf("data directory %d:%d %v; want %d:%d 0750", uid, gid, mode, f.uid, f.uid)
	}
	if _, gid, mode := owner(t, filepath.Join(f.Root, "etc/dray/agent.yaml")); int(gid) != f.uid || mode != 0o640 {
		t.Errorf("configuration group %d mode %v; want %d 0640", gid, mode, f.uid)
	}
	want := "useradd --system --user-group --no-create-home --home-dir /var/lib/dray-agent --shell /usr/sbin/nologin --comment dray agent dray|" +
		"systemctl daemon-reload|systemctl enable dray-agent.service"
	if got := strings.Join(f.calls, "|"); got != want {
		t.Errorf("commands\n%s\nwant\n%s", got, want)
	}
	if st, _ := in.Status(); st != StatusStopped {
		t.Errorf("status after install: %q", st)
	}
	if err := in.Start(); err != nil {
		t.Fatal(err)
	}
	if st, _ := in.Status(); st != StatusRunning {
		t.Errorf("status after start: %q", st)
	}
	// Installing twice is fine and creates nothing new.
	f.calls = nil
	if err := in.Install(); err != nil {
		t.Fatalf("second install: %v", err)
	}
	if strings.Contains(strings.Join(f.calls, "|"), "useradd") {
		t.Errorf("second install ran useradd: %v", f.calls)
	}
	if err := in.Uninstall(false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(unit); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unit still there after uninstall: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.Root, "var/lib/dray-agent")); err != nil {
		t.Errorf("uninstall removed the data directory: %v", err)
	}
	if err := in.Uninstall(true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(f.Root, "var/lib/dray-agent")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("purge kept the data directory: %v", err)
	}
	if _, _, err := f.lookupUser("dray"); !errors.Is(err, errNoUser) {
		t.Errorf("purge kept the account: %v", err)
	}
}

// TestFailedInstallRollsBack injects a failure at every command in turn:
// nothing is left behind, and the next install succeeds.
func TestFailedInstallRollsBack(t *testing.T) {
	for _, failOn := range []string{"useradd", "systemctl daemon-reload", "systemctl enable"} {
		t.Run(failOn, func(t *testing.T) {
			f := newFakeHost(t)
			cfg := filepath.Join(f.Root, "etc/dray/agent.yaml")
			uid0, gid0, mode0 := owner(t, cfg)
			f.failOn = failOn
			in := New(spec(), &f.Host)
			err := in.Install()
			if err == nil || !strings.Contains(err.Error(), "injected failure") || !strings.Contains(err.Error(), "rolled back") {
				t.Fatalf("install: %v", err)
			}
			for _, p := range []string{"etc/systemd/system/dray-agent.service", "var/lib/dray-agent", "var/lib", "var"} {
				if _, err := os.Stat(filepath.Join(f.Root, p)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s left behind: %v", p, err)
				}
			}
			if _, _, err := f.lookupUser("dray"); !errors.Is(err, errNoUser) {
				t.Errorf("account left behind: %v", err)
			}
			if uid, gid, mode := owner(t, cfg); uid != uid0 || gid != gid0 || mode != mode0 {
				t.Errorf("configuration not restored: %d:%d %v", uid, gid, mode)
			}
			f.failOn = ""
			if err := in.Install(); err != nil {
				t.Fatalf("install after a failed one: %v", err)
			}
		})
	}
}

func TestWindowsServiceOptions(t *testing.T) {
	in := New(spec(), &Host{OS: "windows"})
	c := in.kconfig()
	if c.UserName != `NT SERVICE\dray-agent` || c.Option["DelayedAutoStart"] != true || c.Option["OnFailure"] != "restart" ||
		c.Option["StartType"] != "automatic" {
		t.Errorf("windows options %+v", c)
	}
	if got := strings.Join(ServiceArgs(`C:\ProgramData\dray\agent.yaml`), " "); got != `run-service --config C:\ProgramData\dray\agent.yaml` {
		t.Errorf("service args %s", got)
	}
}
