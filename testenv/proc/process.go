package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a program (a part of a dray stack) running as a child process, its stdout
// and stderr appended to a log file. It can be stopped (SIGTERM), killed
// (SIGKILL) and started again with the same command line, which is what a
// chaos harness needs. The zero value is not usable: set Name, Bin and
// LogPath (Args and Env as needed).
//
// Children run in their own process group, so a Ctrl-C in the terminal
// reaches only the program that owns them, which stops them in order; and
// they die with it (Pdeathsig) if it is killed.
type Process struct {
	Name string
	Bin  string
	Args []string
	// Env is added to the environment the stack runs in.
	Env []string
	// LogPath is the log file (appended across restarts).
	LogPath string

	mu      sync.Mutex
	cmd     *exec.Cmd     // guarded by mu
	done    chan struct{} // guarded by mu: closed when cmd exited
	exitErr error         // guarded by mu
	starts  int           // guarded by mu
}

// Start starts the process. It fails if it is already running.
func (p *Process) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !closed(p.done) {
		return fmt.Errorf("%s is already running", p.Name)
	}
	logFile, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	cmd := exec.Command(p.Bin, p.Args...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.exitErr = cmd, done, nil
	p.starts++
	go func() {
		err := cmd.Wait()
		_ = logFile.Close()
		p.mu.Lock()
		if p.cmd == cmd {
			p.exitErr = err
		}
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

func closed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// Running reports whether the process was started and has not exited.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil && !closed(p.done)
}

// PID is the process id of the last start (0 before the first).
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Starts counts the starts.
func (p *Process) Starts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts
}

// Exited returns a channel closed when the current run exits (nil before
// the first start).
func (p *Process) Exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// ExitErr is how the last run ended (nil: status 0 or still running).
func (p *Process) ExitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitErr
}

// Signal sends sig to the running process.
func (p *Process) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil || closed(done) {
		return fmt.Errorf("%s is not running", p.Name)
	}
	return cmd.Process.Signal(sig)
}

// Kill sends SIGKILL and waits for the exit.
func (p *Process) Kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// ErrStopTimeout is returned by Stop when the process had to be killed.
var ErrStopTimeout = errors.New("did not stop in time after SIGTERM; killed")

// Stop sends SIGTERM and waits up to timeout for the exit; then it kills
// the process and returns ErrStopTimeout. An exit with a non-zero status
// is returned as an error. Stopping a process that is not running is a
// no-op.
func (p *Process) Stop(timeout time.Duration) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil || closed(done) {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return fmt.Errorf("%s %w", p.Name, ErrStopTimeout)
	}
	if err := p.ExitErr(); err != nil {
		return fmt.Errorf("%s exited with %w after SIGTERM (log: %s)", p.Name, err, p.LogPath)
	}
	return nil
}

// Log returns the tail of the log file (at most max bytes).
func (p *Process) Log(max int) string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return ""
	}
	if len(b) > max {
		b = b[len(b)-max:]
		if i := strings.IndexByte(string(b), '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// Run runs bin (in dir, when not empty) to completion within timeout and
// returns its stdout; a failure carries its stderr.
func Run(ctx context.Context, timeout time.Duration, dir, bin string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w\n%s", bin, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
