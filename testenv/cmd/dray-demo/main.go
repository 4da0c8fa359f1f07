// Command dray-demo runs a whole dray deployment on this machine, on
// loopback, as real processes (package testenv/stack): a simulated
// warehouse (dray-wmssim) whose database and carrier files an enrolled
// agent reads with the sql and file-drop connectors, the relay with its
// embedded store, and a reference ERP and TMS (dray-refsink) that the
// relay delivers to through jq routes. It shows live progress — generated
// → read → spooled → relayed → applied per sink, with lag, quarantine and
// dead letters — and where to look.
//
//	dray-demo                    run until Ctrl-C (or SIGTERM), then drain, count and stop
//	dray-demo --duration 60s     run unattended for 60 s of simulation, then drain, count
//	                             against the ground truth and stop; exit status 1 on any
//	                             loss, duplicate, foreign event, wrong or missed quarantine
//	                             or dead letter
//
// Flags: --dir (where everything goes; default a new directory under
// $TMPDIR), --bin (where the programs are built; default <dir>/bin), --seed,
// --rate (facts per second), --keep (keep the stack running after an
// unattended run until Ctrl-C). A second Ctrl-C skips the drain.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/draylink/dray/testenv/stack"
)

func main() {
	code, err := run(os.Args[1:], os.Stdout)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		sayln(os.Stderr, "dray-demo:", err)
		if code == 0 {
			code = 2
		}
	}
	os.Exit(code)
}

type options struct {
	duration time.Duration
	dir, bin string
	seed     uint64
	rate     float64
	interval time.Duration
}

func run(args []string, out io.Writer) (int, error) {
	fs := flag.NewFlagSet("dray-demo", flag.ContinueOnError)
	var o options
	fs.DurationVar(&o.duration, "duration", 0, "run unattended this long, then drain, count and exit (0: until Ctrl-C)")
	fs.StringVar(&o.dir, "dir", "", "directory for configurations, data and logs (default: a new one under $TMPDIR)")
	fs.StringVar(&o.bin, "bin", "", "directory to build the programs into (default: <dir>/bin)")
	fs.Uint64Var(&o.seed, "seed", 1, "the simulated warehouse's seed")
	fs.Float64Var(&o.rate, "rate", 0, "facts per second the warehouse generates once busy (default: the demo's)")
	fs.DurationVar(&o.interval, "interval", 2*time.Second, "progress refresh interval")
	if err := fs.Parse(args); err != nil {
		return 2, err
	}
	if fs.NArg() > 0 {
		return 2, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.duration < 0 || o.interval <= 0 {
		return 2, errors.New("--duration must be ≥ 0 and --interval > 0")
	}
	if o.dir == "" {
		d, err := os.MkdirTemp("", "dray-demo-")
		if err != nil {
			return 2, err
		}
		o.dir = d
	}
	if o.bin == "" {
		o.bin = filepath.Join(o.dir, "bin")
	}

	// The first SIGINT/SIGTERM ends the run (drain, count, stop); the
	// second skips the drain and stops at once.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	runCtx, endRun := context.WithCancel(context.Background())
	drainCtx, endDrain := context.WithCancel(context.Background())
	defer endRun()
	defer endDrain()
	go func() {
		n := 0
		for range sigs {
			n++
			if n == 1 {
				endRun()
			} else {
				endDrain()
			}
		}
	}()
	return demo(runCtx, drainCtx, o, out)
}

func demo(runCtx, drainCtx context.Context, o options, out io.Writer) (int, error) {
	say(out, "dray demo: building the programs into %s …\n", o.bin)
	bins, err := stack.Build(runCtx, "", o.bin, out)
	if err != nil {
		return 2, err
	}
	sim := stack.DemoSim(o.seed)
	if o.rate > 0 {
		sim.Rate = o.rate
	}
	if o.duration > 0 {
		sim = stack.WithDuration(sim, o.duration)
	}
	st, err := stack.New(runCtx, stack.Config{Dir: o.dir, Bins: bins, Sites: []stack.SiteConfig{{ID: "MEM1", Sim: sim}}, Log: out})
	if err != nil {
		return 2, err
	}
	// Whatever happens from here, every child process is stopped.
	stopped := false
	stopAll := func() error {
		if stopped {
			return nil
		}
		stopped = true
		return st.Stop()
	}
	defer func() { _ = stopAll() }()
	if err := st.Start(runCtx); err != nil {
		return 2, err
	}
	lookHere(out, st, o.duration)

	// Live progress until the simulator stops by itself (unattended) or
	// the first Ctrl-C.
	live := newScreen(out)
	var prev *stack.Progress
	tick := time.NewTicker(o.interval)
	defer tick.Stop()
	simDone := st.Sites[0].Sim.Exited()
	interrupted := false
loop:
	for {
		select {
		case <-runCtx.Done():
			interrupted = true
			break loop
		case <-simDone:
			break loop
		case <-tick.C:
			p := st.Progress(runCtx)
			live.show(p.Format(prev))
			prev = &p
		}
	}
	live.done()
	if interrupted {
		sayln(out, "\nstopping the simulator; draining what it wrote (Ctrl-C again to skip) …")
		if err := st.StopSims(); err != nil {
			return 2, err
		}
	} else if err := st.WaitSims(drainCtx); err != nil {
		return 2, err
	}
	say(out, "simulator stopped: %s\n", lastLine(st.Sites[0].Sim.Log(4096), "dray-wmssim:"))

	code := 0
	say(out, "draining: waiting until nothing is in flight (%s without change) …\n", st.SettleQuiet())
	p, err := st.Settle(drainCtx, st.SettleQuiet(), 3*time.Minute)
	say(out, "%s", p.Format(nil))
	switch {
	case drainCtx.Err() != nil:
		sayln(out, "drain skipped: no ground-truth check")
		code = 1
	case err != nil:
		sayln(out, "not drained:", err)
		code = 1
	}
	if drainCtx.Err() == nil {
		ev, err := st.Collect(drainCtx)
		if err != nil {
			return 2, err
		}
		if !report(out, ev) {
			code = 1
		}
	}
	sayln(out, "\nstopping every process …")
	if err := stopAll(); err != nil {
		sayln(out, "unclean stop:", err)
		code = max(code, 1)
	}
	say(out, "all stopped. Everything is in %s (logs: */*.log; ground truth: MEM1/truth.jsonl;\n"+
		"sink ledgers: erp/data, tms/data; relay log: relay/data; spool: MEM1/agent).\n", o.dir)
	return code, nil
}

// report prints the ground-truth count and reports whether it is clean.
func report(out io.Writer, ev *stack.Evidence) bool {
	c := ev.Count()
	codes := map[string]int{}
	for _, s := range ev.Sites {
		for _, q := range s.Quarantine {
			codes[q.Source+" "+q.Code]++
		}
	}
	dead := 0
	for _, n := range ev.DeadLetters {
		dead += n
	}
	sayln(out, "\n== ground truth check ==")
	say(out, "expected deliveries (fact × sink)   %d\n", c.Expected)
	say(out, "applied by the ERP and TMS          %d (erp %d, tms %d ledger records)\n", c.Applied,
		len(ev.Ledgers[stack.ERPName]), len(ev.Ledgers[stack.TMSName]))
	say(out, "lost                                %d\n", c.Lost)
	say(out, "duplicated                          %d\n", c.Duplicated)
	say(out, "foreign (matching no fact)          %d\n", c.Foreign)
	say(out, "good records quarantined            %d\n", c.WronglyQuarantined)
	say(out, "bad inputs accepted                 %d\n", c.BadAccepted)
	say(out, "bad inputs not quarantined          %d\n", c.BadMissed)
	say(out, "dead letters at the relay           %d\n", dead)
	say(out, "bad inputs written by the simulator %d; quarantine records %d", c.BadInputs, c.Quarantined)
	if len(codes) > 0 {
		var parts []string
		for k, n := range codes {
			parts = append(parts, fmt.Sprintf("%s ×%d", k, n))
		}
		slices.Sort(parts)
		say(out, " (%s)", strings.Join(parts, ", "))
	}
	sayln(out)
	for _, p := range c.Problems {
		sayln(out, "  problem:", p)
	}
	ok := c.Bad() == 0 && dead == 0 && c.Expected > 0
	switch {
	case c.Expected == 0:
		sayln(out, "FAIL: nothing was expected at the sinks; the run generated nothing to check")
	case ok:
		say(out, "PASS: every one of the %d expected deliveries applied exactly once; every bad input quarantined\n", c.Expected)
	default:
		sayln(out, "FAIL: see the counts above")
	}
	return ok
}

func lookHere(out io.Writer, st *stack.Stack, d time.Duration) {
	site := st.Sites[0]
	say(out, `
everything runs on loopback; look here while it runs:
  agent status     curl -s http://%s/status
  quarantine       %s quarantine ls --config %s
  relay sinks      curl -s -H "Authorization: Bearer $(cat %s)" http://%s/v1/sinks
  dead letters     %s dlq ls --sink erp --config %s --token-file %s
  ERP ledger       curl -s '%s/_ledger?limit=5'     (TMS: %s/_ledger)
  logs             %s/{relay,erp,tms,MEM1}/*.log
  configurations   %s (sinks and jq routes), %s (connectors)
`, site.StatusAddr, st.Config.Bins.Agent, site.ConfigPath, st.Relay.TokenFile, st.Relay.Config.Admin.Listen,
		st.Config.Bins.Relay, st.Relay.ConfigPath, st.Relay.TokenFile, st.ERP.URL(), st.TMS.URL(), st.Config.Dir,
		st.Relay.ConfigPath, site.ConfigPath)
	if d > 0 {
		say(out, "running for %s, then draining and checking the ground truth (Ctrl-C to stop early)\n\n", d)
	} else {
		say(out, "press Ctrl-C to stop: the demo drains, checks the ground truth and stops every process\n\n")
	}
}

func lastLine(log, prefix string) string {
	lines := strings.Split(strings.TrimSpace(log), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], prefix) {
			return strings.TrimSpace(strings.TrimPrefix(lines[i], prefix))
		}
	}
	return "(no summary in its log)"
}

// screen redraws the progress block in place on a terminal, and prints it
// as it comes otherwise.
type screen struct {
	out  io.Writer
	fd   uintptr // the terminal's, when out is one
	tty  bool
	rows int // terminal rows the last block took
}

func newScreen(out io.Writer) *screen {
	s := &screen{out: out}
	if f, ok := out.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			s.tty, s.fd = true, f.Fd()
		}
	}
	return s
}

// width is the terminal's width in columns (80 when unknown).
func (s *screen) width() int {
	var ws struct{ rows, cols, x, y uint16 }
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, s.fd, uintptr(syscall.TIOCGWINSZ), uintptr(unsafe.Pointer(&ws))); errno != 0 || ws.cols == 0 {
		return 80
	}
	return int(ws.cols)
}

func (s *screen) show(block string) {
	text := "[" + time.Now().Format("15:04:05") + "]\n" + block
	if !s.tty {
		say(s.out, "%s", text)
		return
	}
	if s.rows > 0 {
		say(s.out, "\x1b[%dA\x1b[J", s.rows)
	}
	say(s.out, "%s", text)
	// Rows taken, wrapped lines included, to move back over next time.
	w := s.width()
	s.rows = 0
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		s.rows += max(1, (utf8.RuneCountInString(line)+w-1)/w)
	}
}

func (s *screen) done() { s.rows = 0 }

// say and sayln write to the terminal; a failed write to it is not worth
// stopping the stack for.
func say(w io.Writer, format string, args ...any) { _, _ = fmt.Fprintf(w, format, args...) }

func sayln(w io.Writer, args ...any) { _, _ = fmt.Fprintln(w, args...) }
