package chaos

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Watched wraps a process so that a death the harness did not cause is
// caught: the watchdog records it as a failure of the run and starts the
// process again, so one crash does not hide the rest of the run. Kill
// through the wrapper marks the death as expected until the next Start.
type Watched struct {
	Proc
	Name string
	// Log returns the tail of the process's log (nil: no crash points).
	Log func(max int) string
	// OnCrashPoint is called with the line a process wrote before a crash
	// point killed it; such a death is expected, and the process is
	// started again.
	OnCrashPoint func(line string)

	mu       sync.Mutex
	expected bool     // guarded by mu: the harness killed or stopped it
	crashes  []string // guarded by mu
}

// Kill kills the process, as the harness means to.
func (w *Watched) Kill() {
	w.mu.Lock()
	w.expected = true
	w.mu.Unlock()
	w.Proc.Kill()
}

// Start starts the process again.
func (w *Watched) Start() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.Proc.Start(); err != nil {
		return err
	}
	w.expected = false
	return nil
}

// Expect marks the coming exit (a clean stop) as expected.
func (w *Watched) Expect() {
	w.mu.Lock()
	w.expected = true
	w.mu.Unlock()
}

// Crashes returns the unexpected deaths seen so far.
func (w *Watched) Crashes() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.crashes...)
}

// check restarts the process if it died unexpectedly.
func (w *Watched) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.expected || w.Running() {
		return
	}
	if line := w.crashPoint(); line != "" {
		if w.OnCrashPoint != nil {
			w.OnCrashPoint(line)
		}
		if err := w.Proc.Start(); err != nil { //nolint:staticcheck // the embedded process's Start, not ours (which locks)
			w.crashes = append(w.crashes, fmt.Sprintf("%s: restart after its crash point fired: %v", w.Name, err))
			w.expected = true
		}
		return
	}
	w.crashes = append(w.crashes, fmt.Sprintf("%s (pid %d) exited by itself at %s: %v", w.Name, w.PID(),
		time.Now().UTC().Format(time.TimeOnly), w.ExitErr()))
	if err := w.Proc.Start(); err != nil { //nolint:staticcheck // the embedded process's Start, not ours (which locks)
		w.crashes = append(w.crashes, fmt.Sprintf("%s: restart after the crash: %v", w.Name, err))
		w.expected = true // nothing more to watch
	}
}

// Watchdog checks processes every interval until Stop.
type Watchdog struct {
	procs []*Watched
	stop  chan struct{}
	wg    sync.WaitGroup
}

// NewWatchdog starts watching procs.
func NewWatchdog(interval time.Duration, procs ...*Watched) *Watchdog {
	d := &Watchdog{procs: procs, stop: make(chan struct{})}
	d.wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-d.stop:
				return
			case <-t.C:
				for _, p := range d.procs {
					p.check()
				}
			}
		}
	})
	return d
}

// Stop stops watching and returns every unexpected death seen.
func (d *Watchdog) Stop() []string {
	close(d.stop)
	d.wg.Wait()
	var out []string
	for _, p := range d.procs {
		out = append(out, p.Crashes()...)
	}
	return out
}

// crashPoint returns the crash point line when the process died of
// SIGKILL after writing one, else "". The line names the process's pid;
// other goroutines may still log a few lines between it and the kill, so
// the last crashPointLines lines are searched.
func (w *Watched) crashPoint() string {
	if w.Log == nil || !killedBySIGKILL(w.ExitErr()) {
		return ""
	}
	pid := fmt.Sprintf("pid %d)", w.PID())
	lines := strings.Split(strings.TrimRight(w.Log(16384), "\n"), "\n")
	for i := len(lines) - 1; i >= 0 && i >= len(lines)-crashPointLines; i-- {
		if strings.HasPrefix(lines[i], crashPointPrefix) && strings.HasSuffix(lines[i], pid) {
			return lines[i]
		}
	}
	return ""
}

// crashPointLines is how many of a dead process's last log lines may
// follow its crash point line.
const crashPointLines = 50

// crashPointPrefix starts the line internal/crashpoint writes.
const crashPointPrefix = "dray: crash point "
