// Package dbserver starts real database servers for tests, benchmarks and
// the WMS simulator: PostgreSQL and MariaDB from Debian's packages
// (testenv/deps.sh installs them), each in a fresh temporary directory, on a
// loopback port, as the right operating-system user, and stopped (and its
// directory removed) by Close.
//
// PostgreSQL refuses to run as root, and MariaDB should not: when the
// process is root, the servers run as the packages' users (postgres,
// mysql), set as the child's credentials, so that a parent-death signal
// still kills a server whose test process died. As any other user they run
// as that user.
//
// In tests, [Postgres] and [MariaDB] start a server and stop it in
// t.Cleanup. They skip the test, saying why, only when the server is not
// installed and the process is not root (so could not have installed it);
// as root a missing server fails the test: run testenv/deps.sh.
package dbserver

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ErrNotInstalled means the server's binaries are not on this machine.
var ErrNotInstalled = errors.New("database server not installed")

// Server is a running database server.
type Server struct {
	// Driver is the connector driver name: "postgres" or "mysql".
	Driver string
	// DSN connects to the server's database (named "dray") as a user with
	// every right on it, over TCP on 127.0.0.1.
	DSN string
	// Addr is host:port.
	Addr string
	// Dir holds the data directory and the server's log.
	Dir string

	cmd       *exec.Cmd
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Close stops the server (SIGTERM, then SIGKILL after 15 s) and removes its
// directory. It may be called more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		if s.cmd != nil && s.cmd.Process != nil {
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.done:
			case <-time.After(15 * time.Second):
				_ = s.cmd.Process.Kill()
				<-s.done
			}
		}
		s.closeErr = os.RemoveAll(s.Dir)
	})
	return s.closeErr
}

// Log returns the server's log (for a failing test's output).
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "server.log"))
	return string(b)
}

// account is the OS user a server runs as (nil: the current user).
type account struct {
	uid, gid uint32
}

func accountFor(name string) (*account, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("user %s: %w (is the server installed?)", name, err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &account{uid: uint32(uid), gid: uint32(gid)}, nil
}

// command makes a command that runs as acct and dies with this process.
func command(acct *account, bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...) //nolint:gosec // test servers run the binaries found on this machine
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if acct != nil {
		// Set as the child's credentials (not by the server switching user
		// itself), which keeps the parent-death signal.
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: acct.uid, Gid: acct.gid}
	}
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	return cmd
}

// makeDir makes a fresh directory the server's user owns. It is made under
// the system temp directory (not a test's TempDir, whose parents only root
// may enter).
func makeDir(prefix string, acct *account) (string, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", err
	}
	if acct != nil {
		if err := os.Chown(dir, int(acct.uid), int(acct.gid)); err != nil {
			_ = os.RemoveAll(dir)
			return "", err
		}
	}
	return dir, nil
}

// freePort finds a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// run runs a setup command and returns its output with the error.
func run(cmd *exec.Cmd) error {
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return nil
}

// start starts a server process logging to dir/server.log and waits until
// ready reports nil (or the process exits, or the timeout passes).
func (s *Server) start(cmd *exec.Cmd, ready func() error, timeout time.Duration) error {
	logf, err := os.OpenFile(filepath.Join(s.Dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o666) //nolint:gosec // the server's user writes to it too
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	s.done = make(chan struct{})
	started := make(chan error, 1)
	// The parent-death signal fires when the thread that forked the
	// server exits, and the Go runtime ends threads (one a goroutine
	// locked and left, as pluginhost does). So the server is started from
	// a goroutine locked to its thread for as long as the server runs; it
	// never unlocks, so the thread ends with it.
	go func() {
		runtime.LockOSThread()
		defer close(s.done)
		defer func() { _ = logf.Close() }()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("%s exited during start-up: %w\n%s", filepath.Base(cmd.Path), err, s.Log())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %w\n%s", filepath.Base(cmd.Path), timeout, err, s.Log())
		}
	}
}

// lookBin finds a binary on PATH or in the given directories (globs),
// preferring the last match (the highest version).
func lookBin(name string, dirs ...string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	var found []string
	for _, d := range dirs {
		m, _ := filepath.Glob(filepath.Join(d, name))
		found = append(found, m...)
	}
	if len(found) == 0 {
		return "", fmt.Errorf("%w: %s", ErrNotInstalled, name)
	}
	slices.Sort(found)
	return found[len(found)-1], nil
}

// forTest starts a server for a test, skipping or failing as the package
// doc says, and stops it when the test ends.
func forTest(t testing.TB, what string, start func() (*Server, error)) *Server {
	t.Helper()
	s, err := start()
	if errors.Is(err, ErrNotInstalled) {
		if os.Geteuid() != 0 {
			t.Skipf("%s is not installed and this test is not root (run testenv/deps.sh as root): %v", what, err)
		}
		t.Fatalf("%s is not installed: run testenv/deps.sh (%v)", what, err)
	}
	if err != nil {
		t.Fatalf("start %s: %v", what, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("stop %s: %v", what, err)
		}
	})
	return s
}
