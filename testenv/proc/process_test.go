package proc_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/draylink/dray/testenv/proc"
)

// sh runs a shell script as a Process logging to the test's directory.
func sh(t *testing.T, name, script string) *proc.Process {
	return &proc.Process{Name: name, Bin: "/bin/sh", Args: []string{"-c", script}, LogPath: filepath.Join(t.TempDir(), name+".log")}
}

// ready waits until the script has set its traps (it prints "ready").
func ready(t *testing.T, p *proc.Process, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for strings.Count(p.Log(1<<10), "ready") < n {
		if time.Now().After(deadline) || !p.Running() {
			t.Fatalf("%s never got ready:\n%s", p.Name, p.Log(1<<10))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A process that exits cleanly on SIGTERM stops without error, can be
// started again (a new pid, its log appended) and refuses a second start
// while it runs.
func TestProcessStopAndRestart(t *testing.T) {
	p := sh(t, "clean", `trap 'echo bye; exit 0' TERM; echo started ready; while :; do sleep 0.05; done`)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	ready(t, p, 1)
	first := p.PID()
	if !p.Running() || first == 0 {
		t.Fatalf("running %v pid %d after Start", p.Running(), first)
	}
	if err := p.Start(); err == nil {
		t.Fatal("a second Start while running succeeded")
	}
	if err := p.Stop(time.Minute); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if p.Running() {
		t.Fatal("running after Stop")
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	ready(t, p, 2)
	if p.PID() == first || p.Starts() != 2 {
		t.Fatalf("restart: pid %d (first %d), starts %d", p.PID(), first, p.Starts())
	}
	if err := p.Stop(time.Minute); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	if log := p.Log(1 << 10); strings.Count(log, "started") != 2 || strings.Count(log, "bye") != 2 {
		t.Fatalf("log across restarts:\n%s", log)
	}
	if err := p.Stop(time.Minute); err != nil {
		t.Fatalf("stopping a stopped process: %v", err)
	}
}

// A process that ignores SIGTERM is killed after the timeout, and Stop
// says so; one that fails reports its exit status.
func TestProcessStopTimeoutAndFailure(t *testing.T) {
	p := sh(t, "stubborn", `trap '' TERM; echo ready; while :; do sleep 0.05; done`)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	ready(t, p, 1)
	if err := p.Stop(200 * time.Millisecond); !errors.Is(err, proc.ErrStopTimeout) {
		t.Fatalf("stop of a process ignoring SIGTERM: %v", err)
	}
	if p.Running() {
		t.Fatal("still running after the kill")
	}

	f := sh(t, "failing", `trap 'exit 3' TERM; echo ready; while :; do sleep 0.05; done`)
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	ready(t, f, 1)
	if err := f.Stop(time.Minute); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("stop of a process exiting 3: %v", err)
	}
	if f.ExitErr() == nil {
		t.Fatal("no exit error recorded")
	}
}

// Kill ends a process at once; Exited is closed.
func TestProcessKill(t *testing.T) {
	p := sh(t, "victim", `while :; do sleep 0.05; done`)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	p.Kill()
	select {
	case <-p.Exited():
	default:
		t.Fatal("Exited not closed after Kill")
	}
	if p.Running() || p.ExitErr() == nil {
		t.Fatalf("after Kill: running %v, exit %v", p.Running(), p.ExitErr())
	}
}
