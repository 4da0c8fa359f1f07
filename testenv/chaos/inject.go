package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/draylink/dray/agent"
	"github.com/draylink/dray/agent/spool"
	"github.com/draylink/dray/testenv/refsink"
	"github.com/draylink/dray/testenv/udpproxy"
)

// Proc is a process the harness kills and starts again; *stack.Process
// satisfies it.
type Proc interface {
	PID() int
	Kill()
	ExitErr() error
	Start() error
	Running() bool
}

// AgentTarget is one agent under fault.
type AgentTarget struct {
	Name string
	Proc Proc
	// Status fetches the agent's /status.
	Status func(ctx context.Context) (*agent.Status, error)
	// Link is the fault proxy between the agent and the relay's QUIC port.
	Link *udpproxy.Proxy
	// Disk is set for the agent on the small file system.
	Disk *SmallDisk
}

// SmallDisk is a small file system holding an agent's spool.
type SmallDisk struct {
	// Dir is a directory on it where the ballast goes.
	Dir string
	// LowWater is the agent's spool.min_free_bytes.
	LowWater int64
}

// RelayTarget is the relay under fault.
type RelayTarget struct {
	Proc Proc
	// Ready waits until a started relay serves.
	Ready func(ctx context.Context) error
}

// SinkTarget is a reference sink under fault.
type SinkTarget struct {
	Name   string
	Client *refsink.Client
}

// Targets are what the injector acts on.
type Targets struct {
	Agents []*AgentTarget
	Relay  *RelayTarget
	Sinks  []*SinkTarget
}

// Injector runs a schedule against targets and proves each fault.
type Injector struct {
	Profile  Profile
	Schedule *Schedule
	Targets  Targets
	Tally    *Tally
	// Log gets one line per fault (nil: none).
	Log func(format string, args ...any)

	rng   *rand.Rand
	rngMu sync.Mutex
}

func (in *Injector) logf(format string, args ...any) {
	if in.Log != nil {
		in.Log(format, args...)
	}
}

func (in *Injector) jitter(max time.Duration) time.Duration {
	in.rngMu.Lock()
	defer in.rngMu.Unlock()
	if in.rng == nil {
		in.rng = rand.New(rand.NewPCG(in.Schedule.Seed, 77)) //nolint:gosec // fault timing, not a secret
	}
	return time.Duration(in.rng.Int64N(int64(max) + 1))
}

// Run installs the standing sink knobs, runs every target's timeline
// (one goroutine each, faults of one target in order), then clears the
// knobs and reads the sinks' fault counters into the tally. It returns
// when the fault phase is over (or ctx ends), with every fault healed.
func (in *Injector) Run(ctx context.Context) error {
	start := time.Now()
	before := make([]refsink.FaultStats, len(in.Targets.Sinks))
	for i, s := range in.Targets.Sinks {
		st, err := s.Client.FaultStats(ctx)
		if err != nil {
			return fmt.Errorf("sink %s fault stats: %w", s.Name, err)
		}
		before[i] = st
		p := in.Profile
		if err := s.Client.SetFaults(ctx, refsink.Faults{Seed: in.Schedule.Seed + uint64(i),
			Latency: refsink.Duration(p.SinkLatency), Jitter: refsink.Duration(p.SinkJitter),
			ErrorRate: p.SinkErrorRate, RateLimitRate: p.SinkRateLimitRate, DropAfterApplyRate: p.DropAfterApplyRate}); err != nil {
			return fmt.Errorf("sink %s faults: %w", s.Name, err)
		}
	}
	timelines := map[string][]Fault{}
	for _, f := range in.Schedule.Faults {
		var key string
		switch f.Class {
		case AgentKill, AgentKillAfterCommit, PluginKill, PluginHang:
			key = fmt.Sprintf("agent/%d", f.Target)
		case Partition, PacketLoss:
			key = fmt.Sprintf("link/%d", f.Target)
		case DiskFull:
			key = "disk"
		case RelayKill:
			key = "relay"
		case SinkOutage:
			key = fmt.Sprintf("sink/%d", f.Target)
		}
		timelines[key] = append(timelines[key], f)
	}
	var wg sync.WaitGroup
	for _, faults := range timelines {
		wg.Go(func() {
			for _, f := range faults {
				if d := time.Until(start.Add(f.At)); d > 0 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(d):
					}
				}
				in.fire(ctx, f, time.Since(start))
			}
		})
	}
	wg.Wait()
	if d := time.Until(start.Add(in.Profile.Duration)); d > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
	}
	// Clear the knobs (with a fresh context: they must be cleared) and
	// count what the sinks fired.
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	for i, s := range in.Targets.Sinks {
		if err := s.Client.SetFaults(cctx, refsink.Faults{}); err != nil {
			errs = append(errs, fmt.Errorf("sink %s: clear faults: %w", s.Name, err))
			continue
		}
		st, err := s.Client.FaultStats(cctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("sink %s fault stats: %w", s.Name, err))
			continue
		}
		b := before[i]
		ev := func(what string, n uint64) string {
			return fmt.Sprintf("%s: %d %s of %d requests", s.Name, n, what, st.Requests-b.Requests)
		}
		in.Tally.Fired(SinkError, int(st.Errors-b.Errors), ev("answered 5xx", st.Errors-b.Errors))
		in.Tally.Fired(SinkRateLimit, int(st.RateLimited-b.RateLimited), ev("answered 429", st.RateLimited-b.RateLimited))
		in.Tally.Fired(SinkLatency, int(st.Delayed-b.Delayed), ev("delayed", st.Delayed-b.Delayed))
		in.Tally.Fired(DropAfterApply, int(st.Dropped-b.Dropped), ev("applied, then the connection closed unanswered", st.Dropped-b.Dropped))
	}
	return errors.Join(append(errs, ctx.Err())...)
}

// fire injects one fault and records its proof.
func (in *Injector) fire(ctx context.Context, f Fault, at time.Duration) {
	var err error
	var evidence string
	switch f.Class {
	case AgentKill:
		evidence, err = in.killAgent(ctx, in.Targets.Agents[f.Target], false)
	case AgentKillAfterCommit:
		evidence, err = in.killAgent(ctx, in.Targets.Agents[f.Target], true)
		if errors.Is(err, errNoCommit) {
			// Intake may be paused (a disk-full episode): the kill is not
			// given up but made at this random moment, and counted so.
			in.Tally.Unproved(f.Class, "%s: %v; killed at a random moment instead", f, err)
			f.Class = AgentKill
			evidence, err = in.killAgent(ctx, in.Targets.Agents[f.Target], false)
		}
	case RelayKill:
		evidence, err = in.killRelay(ctx)
	case PluginKill:
		evidence, err = in.killPlugin(ctx, in.Targets.Agents[f.Target], f.Plugin)
	case PluginHang:
		evidence, err = in.hangPlugin(ctx, in.Targets.Agents[f.Target], f.Plugin, f.For)
	case Partition, PacketLoss:
		evidence, err = in.linkFault(ctx, in.Targets.Agents[f.Target], f)
	case DiskFull:
		evidence, err = in.diskFull(ctx, in.Targets.Agents[f.Target], f.For)
	case SinkOutage:
		evidence, err = in.sinkOutage(ctx, in.Targets.Sinks[f.Target], f.For)
	default:
		err = fmt.Errorf("class %s is not scheduled", f.Class)
	}
	late := at - f.At
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		in.Tally.Unproved(f.Class, "%s: %v", f, err)
		in.logf("fault %s NOT PROVED: %v", f, err)
		return
	}
	in.Tally.Fired(f.Class, 1, evidence)
	in.logf("fault %s (late %v): %s", f, late.Round(time.Millisecond), evidence)
}

// waitAgent waits until the agent answers /status.
func waitAgent(ctx context.Context, a *AgentTarget, timeout time.Duration) (*agent.Status, error) {
	deadline := time.Now().Add(timeout)
	for {
		// Not running: a crash point fired, and the watchdog restarts it.
		st, err := a.Status(ctx)
		if err == nil && a.Proc.Running() {
			return st, nil
		}
		if err == nil {
			err = fmt.Errorf("%s exited: %w", a.Name, a.Proc.ExitErr())
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s does not answer /status after %v: %w", a.Name, timeout, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// killedBySIGKILL reports whether a process's exit was death by SIGKILL.
func killedBySIGKILL(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// killRestart kills p with SIGKILL, checks that it died of it, waits a
// little and starts it again; ready must then succeed and the pid change.
func (in *Injector) killRestart(ctx context.Context, name string, p Proc, ready func() error) (string, error) {
	// A crash point may just have killed it: the watchdog starts it again.
	for i := 0; !p.Running(); i++ {
		if i == 150 {
			return "", fmt.Errorf("%s is not running", name)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	old := p.PID()
	p.Kill()
	if err := p.ExitErr(); !killedBySIGKILL(err) {
		return "", fmt.Errorf("%s (pid %d) did not die of SIGKILL: exit %w", name, old, err)
	}
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case <-time.After(in.jitter(700 * time.Millisecond)):
	}
	if err := p.Start(); err != nil {
		return "", err
	}
	if err := ready(); err != nil {
		if !p.Running() && p.PID() != old {
			// It died again while starting (a crash point; a real crash
			// is the watchdog's to report): this kill did happen.
			return fmt.Sprintf("%s pid %d died of SIGKILL; pid %d started and died again (%v): left to the watchdog",
				name, old, p.PID(), p.ExitErr()), nil
		}
		return "", fmt.Errorf("restart: %w", err)
	}
	if p.PID() == old {
		return "", fmt.Errorf("%s has the same pid %d after the restart", name, old)
	}
	return fmt.Sprintf("%s pid %d died of SIGKILL, pid %d serves", name, old, p.PID()), nil
}

// errNoCommit: the agent committed nothing while the harness waited to
// kill it right after a commit.
var errNoCommit = errors.New("no spool commit for 10 s")

func (in *Injector) killAgent(ctx context.Context, a *AgentTarget, afterCommit bool) (string, error) {
	prefix := ""
	if afterCommit {
		st, err := waitAgent(ctx, a, 30*time.Second)
		if err != nil {
			return "", fmt.Errorf("before the kill: %w", err)
		}
		base := st.Spool.Commits
		deadline := time.Now().Add(10 * time.Second)
		for {
			st, err := a.Status(ctx)
			if err == nil && st.Spool.Commits > base {
				prefix = fmt.Sprintf("commit counter %d→%d; ", base, st.Spool.Commits)
				break
			}
			if time.Now().After(deadline) {
				return "", fmt.Errorf("%s: %w", a.Name, errNoCommit)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	ev, err := in.killRestart(ctx, a.Name, a.Proc, func() error {
		_, err := waitAgent(ctx, a, 60*time.Second)
		return err
	})
	return prefix + ev, err
}

func (in *Injector) killRelay(ctx context.Context) (string, error) {
	r := in.Targets.Relay
	return in.killRestart(ctx, "relay", r.Proc, func() error {
		rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		return r.Ready(rctx)
	})
}

// connector returns the named connector's status.
func connector(st *agent.Status, name string) (agent.ConnectorStatus, bool) {
	for _, c := range st.Connectors {
		if c.Name == name {
			return c, true
		}
	}
	return agent.ConnectorStatus{}, false
}

// pluginPID waits until the agent reports a running process for plugin.
func pluginPID(ctx context.Context, a *AgentTarget, plugin string, timeout time.Duration) (agent.ConnectorStatus, error) {
	deadline := time.Now().Add(timeout)
	for {
		st, err := a.Status(ctx)
		if err == nil {
			if c, ok := connector(st, plugin); ok && c.PID > 0 {
				return c, nil
			} else if !ok {
				return agent.ConnectorStatus{}, fmt.Errorf("%s has no connector %q", a.Name, plugin)
			}
		}
		if time.Now().After(deadline) {
			return agent.ConnectorStatus{}, fmt.Errorf("%s reports no process for %s after %v", a.Name, plugin, timeout)
		}
		select {
		case <-ctx.Done():
			return agent.ConnectorStatus{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// isChildOf checks that pid is a process whose parent is ppid (the pid
// the agent reports is its plugin, not some other process).
func isChildOf(pid, ppid int) error {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return err
	}
	// pid (comm) state ppid …: comm may hold spaces; parse after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	var state byte
	var parent int
	if _, err := fmt.Sscanf(s[i+2:], "%c %d", &state, &parent); err != nil {
		return fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	if parent != ppid {
		return fmt.Errorf("pid %d is not a child of the agent (pid %d) but of %d", pid, ppid, parent)
	}
	return nil
}

func procState(pid int) byte {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return 0
	}
	return s[i+2]
}

func (in *Injector) killPlugin(ctx context.Context, a *AgentTarget, plugin string) (string, error) {
	c, err := pluginPID(ctx, a, plugin, 30*time.Second)
	if err != nil {
		return "", err
	}
	if err := isChildOf(c.PID, a.Proc.PID()); err != nil {
		return "", err
	}
	if err := syscall.Kill(c.PID, syscall.SIGKILL); err != nil {
		return "", fmt.Errorf("kill %s pid %d: %w", plugin, c.PID, err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := a.Status(ctx)
		if err == nil {
			if n, ok := connector(st, plugin); ok && n.PID > 0 && n.PID != c.PID && n.Starts > c.Starts {
				return fmt.Sprintf("%s %s pid %d killed; the supervisor started pid %d (start %d, restarts %d)",
					a.Name, plugin, c.PID, n.PID, n.Starts, n.Restarts), nil
			}
		}
		if !a.Proc.Running() {
			return "", fmt.Errorf("%s exited after its plugin %s was killed: %w", a.Name, plugin, a.Proc.ExitErr())
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%s: no new %s process 60 s after killing pid %d", a.Name, plugin, c.PID)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (in *Injector) hangPlugin(ctx context.Context, a *AgentTarget, plugin string, d time.Duration) (string, error) {
	c, err := pluginPID(ctx, a, plugin, 30*time.Second)
	if err != nil {
		return "", err
	}
	if err := isChildOf(c.PID, a.Proc.PID()); err != nil {
		return "", err
	}
	if err := syscall.Kill(c.PID, syscall.SIGSTOP); err != nil {
		return "", fmt.Errorf("stop %s pid %d: %w", plugin, c.PID, err)
	}
	// SIGCONT in any case, or a stopped plugin would outlive the run.
	defer func() { _ = syscall.Kill(c.PID, syscall.SIGCONT) }()
	var stopped bool
	for i := 0; i < 50 && !stopped; i++ {
		stopped = procState(c.PID) == 'T'
		time.Sleep(10 * time.Millisecond)
	}
	if !stopped {
		return "", fmt.Errorf("%s pid %d is not in the stopped state after SIGSTOP", plugin, c.PID)
	}
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case <-time.After(d):
	}
	return fmt.Sprintf("%s %s pid %d stopped (state T) for %v", a.Name, plugin, c.PID, d.Round(100*time.Millisecond)), nil
}

func (in *Injector) linkFault(ctx context.Context, a *AgentTarget, f Fault) (string, error) {
	fw0, dr0 := a.Link.Stats()
	if f.Class == Partition {
		a.Link.SetPartitioned(true)
		defer a.Link.SetPartitioned(false)
	} else {
		a.Link.SetDropRate(in.Profile.LossRate)
		defer a.Link.SetDropRate(0)
	}
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case <-time.After(f.For):
	}
	fw1, dr1 := a.Link.Stats()
	fw, dr := fw1-fw0, dr1-dr0
	switch {
	case dr == 0:
		return "", fmt.Errorf("%s link dropped no packet", a.Name)
	case f.Class == PacketLoss && fw == 0:
		return "", fmt.Errorf("%s link forwarded nothing during packet loss (%d dropped)", a.Name, dr)
	}
	return fmt.Sprintf("%s link: %d packets dropped, %d forwarded in %v", a.Name, dr, fw, f.For.Round(100*time.Millisecond)), nil
}

// diskFull fills the small file system until only half the low-water mark
// is free, waits for the agent to report its intake paused for low disk,
// holds for d, and frees the space.
func (in *Injector) diskFull(ctx context.Context, a *AgentTarget, d time.Duration) (string, error) {
	if a.Disk == nil {
		return "", fmt.Errorf("%s has no small disk", a.Name)
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(a.Disk.Dir, &fs); err != nil {
		return "", fmt.Errorf("statfs %s: %w", a.Disk.Dir, err)
	}
	free := int64(fs.Bavail) * fs.Bsize //nolint:gosec // block counts of a small tmpfs fit
	fill := free - a.Disk.LowWater/2
	if fill <= 0 {
		return "", fmt.Errorf("%s: only %d bytes free, below the low-water mark already", a.Disk.Dir, free)
	}
	ballast := filepath.Join(a.Disk.Dir, "chaos-ballast")
	if err := writeBallast(ballast, fill); err != nil {
		_ = os.Remove(ballast)
		return "", err
	}
	defer func() { _ = os.Remove(ballast) }()
	end := time.Now().Add(d)
	var seen bool
	for time.Now().Before(end) {
		if st, err := a.Status(ctx); err == nil && st.Spool.Paused == spool.PausedDiskLow {
			seen = true
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	if !seen {
		return "", fmt.Errorf("%s never reported intake paused for low disk (%d bytes of ballast)", a.Name, fill)
	}
	return fmt.Sprintf("%s: %d MiB of ballast left %d MiB free; intake paused %s", a.Name, fill>>20, (free-fill)>>20, spool.PausedDiskLow), nil
}

func writeBallast(path string, n int64) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("ballast: %w", err)
	}
	buf := make([]byte, 1<<20)
	for n > 0 {
		k := min(int64(len(buf)), n)
		if _, err := f.Write(buf[:k]); err != nil {
			_ = f.Close()
			return fmt.Errorf("ballast: %w", err)
		}
		n -= k
	}
	return f.Close()
}

func (in *Injector) sinkOutage(ctx context.Context, s *SinkTarget, d time.Duration) (string, error) {
	b, err := s.Client.FaultStats(ctx)
	if err != nil {
		return "", err
	}
	if err := s.Client.SetDown(ctx, true); err != nil {
		return "", err
	}
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Client.SetDown(cctx, false); err != nil {
		return "", err
	}
	a, err := s.Client.FaultStats(cctx)
	if err != nil {
		return "", err
	}
	if a.Outage == b.Outage {
		return "", fmt.Errorf("%s answered no request 503 during a %v outage", s.Name, d)
	}
	return fmt.Sprintf("%s: %d requests answered 503 in %v", s.Name, a.Outage-b.Outage, d.Round(100*time.Millisecond)), nil
}
