// Command dray-bench is `make bench`: it runs dray's benchmark suite and its
// peers (mosquitto, NATS JetStream, the raw limits of the machine) on this
// machine in one run, each scenario in its own test process with a fixed
// count, and rewrites the generated section of docs/PERFORMANCE.md with the
// table, every row with its ratio to its peer. A scenario that fails or is
// skipped (a peer not installed) is shown as such and makes the exit status
// non-zero. Ctrl-C stops the running benchmark and writes nothing.
//
//	dray-bench [-only REGEXP] [-doc FILE] [-stdout] [-list]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/draylink/dray/testenv"
	"github.com/draylink/dray/testenv/bench"
	"github.com/draylink/dray/testenv/peers"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "dray-bench:", err)
		os.Exit(1)
	}
}

func run() error {
	only := flag.String("only", ".", "run the scenarios whose id matches this regexp (and their peers)")
	doc := flag.String("doc", "docs/PERFORMANCE.md", "the document whose make bench section is rewritten (relative to the module root)")
	stdout := flag.Bool("stdout", false, "print the section instead of rewriting the document")
	list := flag.Bool("list", false, "list the scenarios and exit")
	timeout := flag.Duration("timeout", 5*time.Minute, "time limit of one scenario")
	flag.Parse()

	suite := bench.Default()
	if err := suite.Validate(); err != nil {
		return err
	}
	re, err := regexp.Compile(*only)
	if err != nil {
		return fmt.Errorf("-only: %w", err)
	}
	scenarios := suite.Select(re)
	if *list {
		for _, sc := range scenarios {
			fmt.Printf("%-22s %-40s %-8s %s\n", sc.ID, sc.Pkg+" "+sc.Bench, sc.Benchtime, sc.Title)
		}
		return nil
	}
	if len(scenarios) == 0 {
		return fmt.Errorf("no scenario matches %q", *only)
	}
	root, err := testenv.ModuleRoot()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	versions, env, err := peerSetup(scenarios)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "dray-bench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(work) }()
	logPath := filepath.Join(os.TempDir(), "dray-bench.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()

	info := bench.RunInfo{Started: time.Now(), Machine: machine(), LoadStart: load(), Versions: versions}
	info.LoadMax = info.LoadStart
	r := &bench.Runner{Root: root, Work: work, Env: env, Timeout: *timeout, Log: logf}
	fmt.Printf("dray-bench: building the test binaries of %d scenarios (output in %s)\n", len(scenarios), logPath)
	if err := r.Build(ctx, scenarios); err != nil {
		return err
	}
	got := map[string]bench.Measured{}
	failed := 0
	for i, sc := range scenarios {
		m := r.Run(ctx, sc)
		if ctx.Err() != nil {
			return errors.New("interrupted; the document was not changed")
		}
		m.Load = load()
		got[sc.ID] = m
		info.Order = append(info.Order, sc.ID)
		info.LoadMax = math.Max(info.LoadMax, m.Load)
		status := fmt.Sprintf("%s events/s", strconv.FormatFloat(m.Rate, 'f', 0, 64))
		if m.Err != nil {
			failed++
			status = "FAILED: " + m.Err.Error()
		}
		fmt.Printf("[%2d/%d] %-22s %6.1fs  load %4.1f  %s\n", i+1, len(scenarios), sc.ID, m.Wall.Seconds(), m.Load, status)
	}
	info.Took, info.LoadEnd = time.Since(info.Started), load()
	section := bench.Render(suite, got, info)
	if *stdout {
		fmt.Print(section)
	} else {
		path := *doc
		if !filepath.IsAbs(path) {
			path = filepath.Join(root, path)
		}
		if err := rewrite(path, section); err != nil {
			return err
		}
		fmt.Printf("dray-bench: wrote the table to %s in %s\n", path, info.Took.Round(time.Second))
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d scenarios have no result (see the table and %s)", failed, len(scenarios), logPath)
	}
	return nil
}

// peerSetup checks the peers the scenarios need are installed and returns
// their versions and the environment that points the benchmarks at them.
func peerSetup(scenarios []bench.Scenario) (versions, env []string, err error) {
	versions = []string{runtime.Version()}
	needNATS, needMosquitto := false, false
	for _, sc := range scenarios {
		needNATS = needNATS || strings.HasPrefix(sc.ID, "js-")
		needMosquitto = needMosquitto || sc.ID == "mosquitto"
	}
	if needNATS {
		bin, err := peers.NATSServerPath()
		if err != nil {
			return nil, nil, fmt.Errorf("nats-server: %w (make bench installs the pinned build into .tools/bin)", err)
		}
		if bin, err = filepath.Abs(bin); err != nil {
			return nil, nil, err
		}
		out, err := exec.Command(bin, "--version").Output()
		if err != nil {
			return nil, nil, fmt.Errorf("%s --version: %w", bin, err)
		}
		versions = append(versions, strings.Replace(strings.TrimSpace(string(out)), ":", "", 1)+" (JetStream, pinned)")
		env = append(env, peers.NATSServerEnv+"="+bin)
	}
	if needMosquitto {
		v, err := peers.MosquittoVersion()
		if err != nil {
			return nil, nil, fmt.Errorf("mosquitto: %w (make deps installs the Debian package)", err)
		}
		versions = append(versions, v+" (Debian)")
	}
	return versions, env, nil
}

// rewrite replaces the document's generated section, reading it just
// before (others edit the rest of the file) and renaming a complete copy
// into place.
func rewrite(path, section string) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	doc, err := bench.Rewrite(string(old), section)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	tmp := path + ".dray-bench"
	if err := os.WriteFile(tmp, []byte(doc), 0o644); err != nil { //nolint:gosec // a document in the repository
		return err
	}
	return os.Rename(tmp, path)
}

// machine is the CPU model, the number of CPUs and the memory.
func machine() string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		_ = f.Close()
	}
	mem := ""
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(raw), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
				mem = fmt.Sprintf(", %.0f GiB", kb/(1<<20))
			}
		}
	}
	return fmt.Sprintf("%s, %d CPUs%s", model, runtime.NumCPU(), mem)
}

// load is the 1-minute load average (NaN without /proc).
func load() float64 {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return math.NaN()
	}
	f := strings.Fields(string(raw))
	if len(f) == 0 {
		return math.NaN()
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return math.NaN()
	}
	return v
}
