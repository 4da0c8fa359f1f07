package stack_test

import (
	"bufio"
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/draylink/dray/testenv/proc"
	"github.com/draylink/dray/testenv/refsink"
	"github.com/draylink/dray/testenv/stack"
)

var (
	buildOnce sync.Once
	bins      stack.Binaries
	binDir    string
	demoBin   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// build compiles the stack's programs and dray-demo once per test process
// (into a directory TestMain removes).
func build(t *testing.T) stack.Binaries {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dray-stack-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binDir = dir
		if bins, buildErr = stack.Build(context.Background(), "", dir, nil); buildErr != nil {
			return
		}
		if _, buildErr = proc.Build(context.Background(), "", dir, nil, "./testenv/cmd/dray-demo"); buildErr == nil {
			demoBin = filepath.Join(dir, "dray-demo")
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bins
}

// TestDemoStackGroundTruth runs the demo's stack (one site, the demo's
// simulator configuration) for 20 s of simulation, drains it and counts
// the ground truth against the ERP and TMS ledgers and the agent's
// quarantine: every count must be zero, with deliveries expected and bad
// inputs quarantined. Then it shows the count can fail: the same evidence
// with one applied ledger record removed counts one loss, with one applied
// twice one duplicate.
func TestDemoStackGroundTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole stack for about 35 s; skipped with -short")
	}
	b := build(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := stack.New(ctx, stack.Config{Dir: t.TempDir(), Bins: b,
		Sites: []stack.SiteConfig{{Sim: stack.WithDuration(stack.DemoSim(3), 20*time.Second)}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	began := time.Now()
	if err := st.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.WaitSims(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := st.Settle(ctx, st.SettleQuiet(), 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("settled %s after the start:\n%s", time.Since(began).Round(time.Second), p.Format(nil))
	ev, err := st.Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := ev.Count()
	for _, pr := range c.Problems {
		t.Log(pr)
	}
	if c.Bad() != 0 || c.Expected == 0 || c.Applied != c.Expected || c.BadInputs == 0 || c.Quarantined == 0 {
		t.Fatalf("ground truth: %+v", c)
	}
	for sink, n := range ev.DeadLetters {
		if n != 0 {
			t.Errorf("%d dead letters at %s", n, sink)
		}
	}
	for _, sink := range []string{stack.ERPName, stack.TMSName} {
		if len(stack.Applied(sink, ev.Ledgers[sink])) == 0 {
			t.Errorf("the %s applied nothing", sink)
		}
	}
	t.Logf("%d deliveries expected and applied once; %d bad inputs, %d quarantined", c.Expected, c.BadInputs, c.Quarantined)

	// A ledger missing one applied event is a loss; one applied twice a
	// duplicate.
	recs := ev.Ledgers[stack.TMSName]
	i := slices.IndexFunc(recs, func(r refsink.Record) bool { return r.Outcome == refsink.OutcomeApplied })
	ev.Ledgers[stack.TMSName] = slices.Delete(slices.Clone(recs), i, i+1)
	if got := ev.Count(); got.Lost != 1 || got.Bad() != 1 {
		t.Errorf("a TMS ledger without record %d counted %+v; want 1 lost", recs[i].Seq, got)
	}
	ev.Ledgers[stack.TMSName] = append(slices.Clone(recs), recs[i])
	if got := ev.Count(); got.Duplicated != 1 || got.Bad() != 1 {
		t.Errorf("a TMS ledger with record %d twice counted %+v; want 1 duplicated", recs[i].Seq, got)
	}
	// A bad input's quarantine record gone is a bad input missed.
	ev.Ledgers[stack.TMSName] = recs
	ev.Sites[0].Quarantined = ev.Sites[0].Quarantined[1:]
	if got := ev.Count(); got.BadMissed != 1 || got.Bad() != 1 {
		t.Errorf("a quarantine without its first record counted %+v; want 1 bad input missed", got)
	}
}

// TestDemoInterruptStopsEverything runs dray-demo interactively, waits
// until events reach the sinks, then sends SIGINT (Ctrl-C) and, once the
// demo drains, SIGTERM (skip the drain): the demo must exit, say where the
// data is, and leave no process it started — simulator, agent, connector
// plugins, relay, sinks — alive.
func TestDemoInterruptStopsEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo; skipped with -short")
	}
	b := build(t)
	dir := t.TempDir()
	cmd := exec.Command(demoBin, "--dir", dir, "--bin", b.Dir, "--interval", "500ms")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	lines := make(chan string, 1024)
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitFor := func(what string, timeout time.Duration, match func(string) bool) {
		t.Helper()
		deadline := time.After(timeout)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("demo output ended before %s:\n%s", what, log.String())
				}
				log.WriteString(l + "\n")
				if match(l) {
					return
				}
			case <-deadline:
				_ = cmd.Process.Kill()
				t.Fatalf("no %s within %s:\n%s", what, timeout, log.String())
			}
		}
	}
	// Progress lines: "TMS    applied N …" once both sinks applied some.
	applied := map[string]bool{}
	waitFor("events applied at both sinks", 3*time.Minute, func(l string) bool {
		for _, k := range []string{"ERP", "TMS"} {
			if f := strings.Fields(l); len(f) > 2 && f[0] == k && f[1] == "applied" && f[2] != "0" && f[2] != "0," {
				applied[k] = true
			}
		}
		return applied["ERP"] && applied["TMS"]
	})
	tree := descendants(t, cmd.Process.Pid)
	names := map[string]bool{}
	for _, p := range tree {
		names[p.comm] = true
	}
	for _, want := range []string{"dray-wmssim", "dray-agent", "dray-connector-", "dray-relay", "dray-refsink"} {
		if !slices.ContainsFunc(slices.Collect(maps.Keys(names)), func(n string) bool { return strings.HasPrefix(n, want) }) {
			t.Errorf("no %s among the demo's processes %v", want, names)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	waitFor("the drain", time.Minute, func(l string) bool { return strings.HasPrefix(l, "draining") })
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor("the final line", 2*time.Minute, func(l string) bool { return strings.HasPrefix(l, "all stopped. Everything is in "+dir) })
	go func() { done <- cmd.Wait() }()
	for range lines {
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("the demo did not exit")
	}
	for _, p := range tree {
		if p.alive() {
			t.Errorf("process %d (%s) survived the demo", p.pid, p.comm)
		}
	}
	if strings.Contains(log.String(), "unclean stop") {
		t.Errorf("unclean stop:\n%s", log.String())
	}
	t.Logf("%d processes started by the demo, none left", len(tree))
}

// process is a process found in /proc, identified by pid and start time
// (so a reused pid is not mistaken for it).
type process struct {
	pid   int
	comm  string
	start string
}

func readStat(pid int) (comm string, ppid int, start string, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, "", false
	}
	s := string(b)
	open, closeIdx := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closeIdx < open {
		return "", 0, "", false
	}
	comm = s[open+1 : closeIdx]
	f := strings.Fields(s[closeIdx+2:])
	// f[0] state, f[1] ppid, …, f[19] starttime.
	if len(f) < 20 {
		return "", 0, "", false
	}
	ppid, _ = strconv.Atoi(f[1])
	if f[0] == "Z" {
		return comm, ppid, f[19], false
	}
	return comm, ppid, f[19], true
}

func (p process) alive() bool {
	_, _, start, ok := readStat(p.pid)
	return ok && start == p.start
}

// descendants lists every living descendant of root.
func descendants(t *testing.T, root int) []process {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	children := map[int][]process{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, ppid, start, ok := readStat(pid)
		if ok {
			children[ppid] = append(children[ppid], process{pid: pid, comm: comm, start: start})
		}
	}
	var out []process
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children[pid] {
			out = append(out, c)
			queue = append(queue, c.pid)
		}
	}
	return out
}
