package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Measured is a scenario's outcome and the figures derived from it; a
// figure that was not measured is NaN.
type Measured struct {
	Scenario
	// Err is why the scenario has no result (failed, skipped, timed out).
	Err error
	// Wall is the test process's run time, setup included.
	Wall time.Duration
	// ProcCPU and ProcMaxRSS are the test process's CPU time and peak
	// resident set (bytes), from wait4.
	ProcCPU    time.Duration
	ProcMaxRSS int64
	Result     Result

	Rate, MBps, P50, P99, RSSMiB, CPUMicros float64
	// RSSOfProcess: RSSMiB is the test process's peak (setup included),
	// the benchmark reported none.
	RSSOfProcess bool
	// Load is the 1-minute load average when the scenario ended (NaN
	// unknown): the machine may be shared.
	Load float64
}

// Runner runs scenarios: it builds each package's test binary once, then
// runs one process per scenario.
type Runner struct {
	// Root is the module root; Work a directory for test binaries.
	Root, Work string
	// Env is added to each test process's environment.
	Env []string
	// Timeout bounds one scenario's process (default 5 minutes).
	Timeout time.Duration
	// Log receives every test process's output.
	Log io.Writer
	// Progress receives one line per step.
	Progress io.Writer

	bins     map[string]string
	buildErr map[string]error
}

// Build compiles the test binaries of the scenarios' packages in one go
// build (so it uses both cores and the build cache). If that fails, each
// package is built alone: the scenarios of a package that does not build
// fail with its compiler output, the others run.
func (r *Runner) Build(ctx context.Context, scenarios []Scenario) error {
	r.bins, r.buildErr = map[string]string{}, map[string]error{}
	var pkgs []string
	for _, sc := range scenarios {
		if _, ok := r.bins[sc.Pkg]; !ok {
			r.bins[sc.Pkg] = filepath.Join(r.Work, path.Base(sc.Pkg)+".test")
			pkgs = append(pkgs, sc.Pkg)
		}
	}
	if r.goTestC(ctx, pkgs) == nil {
		return nil
	}
	for _, pkg := range pkgs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.goTestC(ctx, []string{pkg}); err != nil {
			r.buildErr[pkg] = err
		}
	}
	if len(r.buildErr) == len(pkgs) {
		return fmt.Errorf("no test binary builds; %s: %w", pkgs[0], r.buildErr[pkgs[0]])
	}
	return nil
}

func (r *Runner) goTestC(ctx context.Context, pkgs []string) error {
	args := []string{"test", "-c", "-o", r.Work + string(filepath.Separator)}
	for _, p := range pkgs {
		args = append(args, "./"+p)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = r.Root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if r.Log != nil {
			_, _ = fmt.Fprintf(r.Log, "=== go %s\n%s", strings.Join(args, " "), out.String())
		}
		return fmt.Errorf("go test -c: %w: %s", err, firstLine(strings.TrimLeft(dropComments(out.String()), "\n")))
	}
	for _, p := range pkgs {
		if _, err := os.Stat(r.bins[p]); err != nil {
			return fmt.Errorf("test binary of %s: %w", p, err)
		}
	}
	return nil
}

// Run runs one scenario in its own test process and derives its figures.
func (r *Runner) Run(ctx context.Context, sc Scenario) Measured {
	m := Measured{Scenario: sc}
	bin, ok := r.bins[sc.Pkg]
	if !ok {
		m.Err = fmt.Errorf("package %s was not built", sc.Pkg)
		return m.derive()
	}
	if err := r.buildErr[sc.Pkg]; err != nil {
		m.Err = fmt.Errorf("build: %w", err)
		return m.derive()
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-test.run", "^$", "-test.bench", BenchPattern(sc.Bench),
		"-test.benchtime", sc.Benchtime, "-test.count", "1", "-test.timeout", timeout.String())
	cmd.Dir = filepath.Join(r.Root, filepath.FromSlash(sc.Pkg))
	cmd.Env = append(os.Environ(), r.Env...)
	// Its own process group, so a cancelled run takes the servers it
	// started with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	w := io.Writer(&out)
	if r.Log != nil {
		_, _ = fmt.Fprintf(r.Log, "=== %s: %s\n", sc.ID, strings.Join(cmd.Args, " "))
		w = io.MultiWriter(&out, r.Log)
	}
	cmd.Stdout, cmd.Stderr = w, w
	start := time.Now()
	runErr := cmd.Run()
	m.Wall = time.Since(start)
	if ps := cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			m.ProcCPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			m.ProcMaxRSS = ru.Maxrss << 10
		}
	}
	parsed, err := Parse(bytes.NewReader(out.Bytes()))
	if err != nil {
		m.Err = fmt.Errorf("%s: %w", sc.ID, err)
		return m.derive()
	}
	res, found := parsed.Find(sc.Bench)
	switch {
	case found && runErr == nil:
		m.Result = res
	case ctx.Err() != nil:
		m.Err = fmt.Errorf("timed out after %s", m.Wall.Round(time.Second))
	default:
		m.Err = outcome(parsed, sc.Bench, runErr, out.String())
	}
	return m.derive()
}

// outcome explains a run without a result.
func outcome(o *Output, bench string, runErr error, out string) error {
	for name, why := range o.Failed {
		if strings.HasPrefix(bench, name) || strings.HasPrefix(name, bench) {
			return fmt.Errorf("failed: %s", firstLine(why))
		}
	}
	for name, why := range o.Skipped {
		if strings.HasPrefix(bench, name) || strings.HasPrefix(name, bench) {
			return fmt.Errorf("skipped: %s", firstLine(why))
		}
	}
	if runErr != nil {
		return fmt.Errorf("%w: %s", runErr, lastLine(out))
	}
	return errors.New("no result line for " + bench)
}

// dropComments drops the "# package" lines of go build output.
func dropComments(s string) string {
	var keep []string
	for l := range strings.SplitSeq(s, "\n") {
		if !strings.HasPrefix(l, "#") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func firstLine(s string) string { l, _, _ := strings.Cut(strings.TrimSpace(s), "\n"); return l }

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// derive computes the table's figures from the result.
func (m Measured) derive() Measured {
	nan := math.NaN()
	m.Rate, m.MBps, m.P50, m.P99, m.RSSMiB, m.CPUMicros = nan, nan, nan, nan, nan, nan
	if m.Err != nil {
		return m
	}
	get := func(unit string) float64 {
		if v, ok := m.Result.Metrics[unit]; ok {
			return v
		}
		return nan
	}
	switch m.Scenario.Rate {
	case "":
		m.Rate = m.Offered
	case "ns/op":
		if ns := get("ns/op"); ns > 0 {
			m.Rate = 1e9 / ns
		}
	default:
		m.Rate = get(m.Scenario.Rate)
	}
	m.MBps = get("MB/s")
	if math.IsNaN(m.MBps) || m.MBps == 0 {
		size := m.EventBytes
		if m.SizeUnit != "" && get(m.SizeUnit) > 0 {
			size = get(m.SizeUnit)
		}
		m.MBps = nan
		if size > 0 {
			m.MBps = m.Rate * size / 1e6
		}
	}
	m.P50, m.P99 = get("p50-ms"), get("p99-ms")
	cpu := m.CPU
	if len(cpu) == 0 {
		cpu = []Term{{UnitCPU, 1}}
	}
	m.CPUMicros = 0
	for _, t := range cpu {
		m.CPUMicros += get(t.Unit) * t.Scale
	}
	if math.IsNaN(m.CPUMicros) && m.ProcessEvents > 0 {
		m.CPUMicros = float64(m.ProcCPU.Microseconds()) / m.ProcessEvents
	}
	rss := m.RSS
	if rss == "" {
		rss = UnitRSS
	}
	m.RSSMiB = get(rss)
	if math.IsNaN(m.RSSMiB) && m.ProcMaxRSS > 0 {
		m.RSSMiB = float64(m.ProcMaxRSS) / (1 << 20)
		m.RSSOfProcess = true
	}
	return m
}
