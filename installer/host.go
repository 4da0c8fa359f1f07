package installer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// Init systems.
const (
	InitSystemd   = "systemd"
	InitKardianos = "kardianos" // Windows SCM, launchd, other Linux inits
)

// Host is the machine the installer acts on. The zero value is the real
// one; tests replace parts of it.
type Host struct {
	// Root is the filesystem root every path is taken under (default "/").
	Root string
	// OS is the target system (default runtime.GOOS).
	OS string
	// Detect names the init system (default: systemd when
	// /run/systemd/system exists under Root on Linux, else kardianos).
	Detect func() string
	// Run runs a command (default: exec, PATH lookup) and returns its
	// combined output.
	Run func(name string, args ...string) ([]byte, error)
	// Log receives one line per step (default: discarded).
	Log io.Writer
}

func (h *Host) root() string {
	if h.Root == "" {
		return "/"
	}
	return h.Root
}

func (h *Host) goos() string {
	if h.OS == "" {
		return runtime.GOOS
	}
	return h.OS
}

// Path is p under the root.
func (h *Host) Path(p string) string {
	if h.root() == "/" {
		return p
	}
	return filepath.Join(h.root(), p)
}

func (h *Host) init() string {
	if h.Detect != nil {
		return h.Detect()
	}
	if h.goos() == "linux" {
		if _, err := os.Stat(h.Path("/run/systemd/system")); err == nil {
			return InitSystemd
		}
	}
	return InitKardianos
}

func (h *Host) run(name string, args ...string) ([]byte, error) {
	if h.Run != nil {
		return h.Run(name, args...)
	}
	out, err := exec.Command(name, args...).CombinedOutput() //nolint:gosec // fixed commands (systemctl, useradd, userdel, icacls) with arguments from the service spec
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

func (h *Host) logf(format string, args ...any) {
	if h.Log != nil {
		_, _ = fmt.Fprintf(h.Log, format+"\n", args...)
	}
}

// errNoUser: the account does not exist.
var errNoUser = errors.New("no such user")

// lookupUser reads uid and gid of name from <root>/etc/passwd.
func (h *Host) lookupUser(name string) (uid, gid int, err error) {
	f, err := os.Open(h.Path("/etc/passwd"))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) < 4 || fields[0] != name {
			continue
		}
		uid, err1 := strconv.Atoi(fields[2])
		gid, err2 := strconv.Atoi(fields[3])
		if err1 != nil || err2 != nil {
			return 0, 0, fmt.Errorf("malformed passwd entry for %s", name)
		}
		return uid, gid, nil
	}
	return 0, 0, errNoUser
}
