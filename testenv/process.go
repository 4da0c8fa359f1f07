package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/draylink/dray/testenv/proc"
)

// Process is a dray binary running as a child process (a proc.Process),
// its output (the JSON log) captured to a file in the test's directory.
type Process struct {
	t testing.TB
	*proc.Process
}

// Start runs bin with args. The process is killed when the test ends if it
// is still running, and dies with the test binary (Pdeathsig).
func Start(t testing.TB, name, bin string, args ...string) *Process {
	t.Helper()
	p := &Process{t: t, Process: &proc.Process{Name: name, Bin: bin, Args: args, LogPath: filepath.Join(t.TempDir(), name+".log")}}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.Running() {
			p.Kill()
		}
	})
	return p
}

// Stop sends SIGTERM and waits up to timeout for a clean exit (status 0);
// it fails the test otherwise.
func (p *Process) Stop(timeout time.Duration) {
	p.t.Helper()
	if err := p.Process.Stop(timeout); err != nil {
		p.t.Fatalf("%v\n%s", err, p.Log())
	}
}

// Log returns the captured output.
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

// LogContains reports whether the captured output contains s.
func (p *Process) LogContains(s string) bool {
	b, _ := os.ReadFile(p.LogPath)
	return bytes.Contains(b, []byte(s))
}

// Run runs bin to completion and returns its stdout; it fails the test on a
// non-zero exit.
func Run(t testing.TB, timeout time.Duration, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(bin), args, err, stderr.String())
	}
	return out
}

// Eventually polls cond every interval until it holds or timeout passes.
func Eventually(t testing.TB, timeout, interval time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(interval)
	}
}

// ErrNotRoot is returned by helpers that need root (mounts).
var ErrNotRoot = errors.New("testenv: needs root")

// MountTmpfs mounts a tmpfs of size bytes on dir (root only) and unmounts it
// when the test ends.
func MountTmpfs(t testing.TB, dir string, size int64) error {
	t.Helper()
	if os.Geteuid() != 0 {
		return ErrNotRoot
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("mount tmpfs: %w: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v: %s", dir, err, out)
		}
	})
	return nil
}
