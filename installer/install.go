package installer

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Spec describes a service to install.
type Spec struct {
	// Name is the service (and unit) name, e.g. "dray-agent".
	Name        string
	DisplayName string
	Description string
	// Executable is the absolute path of the binary the service runs.
	Executable string
	// Arguments are its arguments (e.g. run --config /etc/dray/agent.yaml).
	Arguments []string
	// ConfigFile is the configuration the service reads: made readable by
	// the service account's group, not by others (it may hold secrets).
	ConfigFile string
	// User is the service account (Unix), created when missing.
	User string
	// DataDir is the one directory the service may write (0750, owned by
	// User).
	DataDir string
}

func (s Spec) validate() error {
	var errs []error
	if s.Name == "" || s.Executable == "" || s.DataDir == "" {
		errs = append(errs, errors.New("name, executable and data directory are required"))
	}
	for _, p := range []string{s.Executable, s.DataDir, s.ConfigFile} {
		if p != "" && !filepath.IsAbs(p) {
			errs = append(errs, fmt.Errorf("%q is not an absolute path", p))
		}
	}
	return errors.Join(errs...)
}

// UnitPath is where the systemd unit of a service goes.
func UnitPath(name string) string { return "/etc/systemd/system/" + name + ".service" }

// step is one install action and its undo.
type step struct {
	name string
	do   func() (undo func() error, err error)
}

// Installer installs, removes and controls one service on a host.
type Installer struct {
	Spec Spec
	Host *Host
}

// New makes an installer (host nil: the real machine).
func New(spec Spec, host *Host) *Installer {
	if host == nil {
		host = &Host{}
	}
	return &Installer{Spec: spec, Host: host}
}

// Backend is the init system the service is registered with.
func (in *Installer) Backend() string { return in.Host.init() }

// Install installs the service (not started). Installing an installed
// service updates it. When a step fails, the steps done are undone.
func (in *Installer) Install() error {
	if err := in.Spec.validate(); err != nil {
		return fmt.Errorf("install %s: %w", in.Spec.Name, err)
	}
	var steps []step
	if in.Backend() == InitSystemd {
		steps = in.systemdSteps()
	} else {
		steps = in.kardianosSteps()
	}
	var undos []func() error
	var undoNames []string
	for _, st := range steps {
		in.Host.logf("install: %s", st.name)
		undo, err := st.do()
		if err != nil {
			err = fmt.Errorf("install %s: %s: %w", in.Spec.Name, st.name, err)
			var rerrs []error
			for i := len(undos) - 1; i >= 0; i-- {
				in.Host.logf("roll back: %s", undoNames[i])
				if uerr := undos[i](); uerr != nil {
					rerrs = append(rerrs, fmt.Errorf("roll back %s: %w", undoNames[i], uerr))
				}
			}
			if len(rerrs) > 0 {
				return errors.Join(append([]error{err}, rerrs...)...)
			}
			return fmt.Errorf("%w (rolled back: nothing was left installed)", err)
		}
		if undo != nil {
			undos = append(undos, undo)
			undoNames = append(undoNames, st.name)
		}
	}
	return nil
}

func (in *Installer) systemdSteps() []step {
	s, h := in.Spec, in.Host
	unit := h.Path(UnitPath(s.Name))
	return []step{
		{"check " + s.Executable, func() (func() error, error) {
			fi, err := os.Stat(h.Path(s.Executable))
			if err != nil {
				return nil, err
			}
			if fi.Mode()&0o111 == 0 {
				return nil, fmt.Errorf("%s is not executable", s.Executable)
			}
			return nil, nil
		}},
		{"account " + s.User, in.ensureUser},
		{"data directory " + s.DataDir, func() (func() error, error) {
			return in.ensureDir(s.DataDir, 0o750)
		}},
		{"configuration " + s.ConfigFile, in.protectConfig},
		{"unit " + UnitPath(s.Name), func() (func() error, error) {
			return writeFile(unit, []byte(Unit(s)), 0o644)
		}},
		{"systemctl daemon-reload", func() (func() error, error) {
			_, err := h.run("systemctl", "daemon-reload")
			// Undone by the unit's own undo and the next reload.
			return func() error { _, err := h.run("systemctl", "daemon-reload"); return err }, err
		}},
		{"systemctl enable " + s.Name, func() (func() error, error) {
			_, err := h.run("systemctl", "enable", s.Name+".service")
			return func() error { _, err := h.run("systemctl", "disable", s.Name+".service"); return err }, err
		}},
	}
}

// ensureUser creates the service account (a system user with its own
// group, no login, home = data directory) unless it exists.
func (in *Installer) ensureUser() (func() error, error) {
	s, h := in.Spec, in.Host
	if s.User == "" || s.User == "root" {
		return nil, errors.New("a dedicated service account is required (not root)")
	}
	if _, _, err := h.lookupUser(s.User); err == nil {
		return nil, nil
	} else if !errors.Is(err, errNoUser) && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if _, err := h.run("useradd", "--system", "--user-group", "--no-create-home", "--home-dir", s.DataDir,
		"--shell", "/usr/sbin/nologin", "--comment", s.DisplayName, s.User); err != nil {
		return nil, err
	}
	if _, _, err := h.lookupUser(s.User); err != nil {
		return nil, fmt.Errorf("useradd %s succeeded but the account is not in /etc/passwd: %w", s.User, err)
	}
	return func() error { _, err := h.run("userdel", s.User); return err }, nil
}

// ensureDir makes dir (and missing parents) owned by the service account
// with mode perm; the undo removes what it created, or restores the owner
// and mode it changed.
func (in *Installer) ensureDir(dir string, perm os.FileMode) (func() error, error) {
	h := in.Host
	p := h.Path(dir)
	uid, gid, err := in.owner()
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		// The first missing ancestor is what the undo removes.
		top := p
		for {
			parent := filepath.Dir(top)
			if _, err := os.Stat(parent); err == nil || parent == top {
				break
			}
			top = parent
		}
		if err := os.MkdirAll(p, perm); err != nil {
			return nil, err
		}
		undo := func() error { return os.RemoveAll(top) }
		if err := chmodOwn(p, perm, uid, gid); err != nil {
			return undo, err
		}
		return undo, nil
	}
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s exists and is not a directory", dir)
	}
	oldUID, oldGID := fileOwner(fi)
	oldMode := fi.Mode().Perm()
	// An existing tree (a previous install, files written by an enroll
	// run as root) is handed to the account.
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return lchown(path, uid, gid)
	})
	if err == nil {
		err = os.Chmod(p, perm)
	}
	return func() error {
		_ = os.Chmod(p, oldMode)
		return lchown(p, oldUID, oldGID)
	}, err
}

// protectConfig makes the configuration owned by root and the service
// group, mode 0640.
func (in *Installer) protectConfig() (func() error, error) {
	if in.Spec.ConfigFile == "" {
		return nil, nil
	}
	p := in.Host.Path(in.Spec.ConfigFile)
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	_, gid, err := in.owner()
	if err != nil {
		return nil, err
	}
	oldUID, oldGID := fileOwner(fi)
	oldMode := fi.Mode().Perm()
	undo := func() error {
		_ = os.Chmod(p, oldMode)
		return lchown(p, oldUID, oldGID)
	}
	return undo, chmodOwn(p, 0o640, 0, gid)
}

func chmodOwn(p string, perm os.FileMode, uid, gid int) error {
	if err := lchown(p, uid, gid); err != nil {
		return err
	}
	return os.Chmod(p, perm)
}

// owner is the service account's uid and gid (-1, -1 where there are no
// Unix owners).
func (in *Installer) owner() (int, int, error) {
	if in.Host.goos() == "windows" || in.Spec.User == "" {
		return -1, -1, nil
	}
	uid, gid, err := in.Host.lookupUser(in.Spec.User)
	if err != nil {
		return 0, 0, fmt.Errorf("account %s: %w", in.Spec.User, err)
	}
	return uid, gid, nil
}

// writeFile writes data to p (through a temporary file) unless it already
// holds exactly that; the undo restores what was there (or removes it).
func writeFile(p string, data []byte, perm os.FileMode) (func() error, error) {
	old, err := os.ReadFile(p) //nolint:gosec // the installer's own unit path
	existed := err == nil
	if existed && bytes.Equal(old, data) {
		return nil, nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil { //nolint:gosec // /etc/systemd/system is world-readable
		return nil, err
	}
	tmp := p + ".dray-tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return nil, err
	}
	if err := os.Chmod(tmp, perm); err != nil {
		_ = os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, p); err != nil {
		_ = os.Remove(tmp)
		return nil, err
	}
	return func() error {
		if existed {
			return os.WriteFile(p, old, perm) //nolint:gosec // p is the file this step wrote, under the install root
		}
		return os.Remove(p)
	}, nil
}

// Uninstall stops and removes the service. The data directory and the
// account are kept unless purge is set.
func (in *Installer) Uninstall(purge bool) error {
	s, h := in.Spec, in.Host
	if in.Backend() != InitSystemd {
		return in.kardianosUninstall(purge)
	}
	unit := h.Path(UnitPath(s.Name))
	var errs []error
	if _, err := os.Stat(unit); err == nil {
		_, _ = h.run("systemctl", "stop", s.Name+".service")
		if _, err := h.run("systemctl", "disable", s.Name+".service"); err != nil {
			errs = append(errs, err)
		}
		if err := os.Remove(unit); err != nil {
			errs = append(errs, err)
		}
		if _, err := h.run("systemctl", "daemon-reload"); err != nil {
			errs = append(errs, err)
		}
	} else {
		h.logf("uninstall: %s is not installed", s.Name)
	}
	if purge {
		errs = append(errs, in.purge()...)
	}
	return errors.Join(errs...)
}

func (in *Installer) purge() []error {
	var errs []error
	if err := os.RemoveAll(in.Host.Path(in.Spec.DataDir)); err != nil {
		errs = append(errs, err)
	}
	if in.Spec.User != "" && in.Host.goos() != "windows" {
		if _, _, err := in.Host.lookupUser(in.Spec.User); err == nil {
			if _, err := in.Host.run("userdel", in.Spec.User); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}

// Start starts the installed service.
func (in *Installer) Start() error {
	if in.Backend() != InitSystemd {
		return in.kardianos(func(s kservice) error { return s.Start() })
	}
	_, err := in.Host.run("systemctl", "start", in.Spec.Name+".service")
	return err
}

// Stop stops the service.
func (in *Installer) Stop() error {
	if in.Backend() != InitSystemd {
		return in.kardianos(func(s kservice) error { return s.Stop() })
	}
	_, err := in.Host.run("systemctl", "stop", in.Spec.Name+".service")
	return err
}

// Status values.
const (
	StatusNotInstalled = "not installed"
	StatusRunning      = "running"
	StatusStopped      = "stopped"
	StatusFailed       = "failed"
)

// Status says whether the service is installed and running.
func (in *Installer) Status() (string, error) {
	if in.Backend() != InitSystemd {
		return in.kardianosStatus()
	}
	if _, err := os.Stat(in.Host.Path(UnitPath(in.Spec.Name))); errors.Is(err, fs.ErrNotExist) {
		return StatusNotInstalled, nil
	}
	out, _ := in.Host.run("systemctl", "is-active", in.Spec.Name+".service")
	switch state := strings.TrimSpace(string(out)); state {
	case "active", "activating", "reloading":
		return StatusRunning, nil
	case "failed":
		return StatusFailed, nil
	case "inactive", "deactivating":
		return StatusStopped, nil
	default:
		return "", fmt.Errorf("systemctl is-active %s: %q", in.Spec.Name, state)
	}
}
