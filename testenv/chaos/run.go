package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/draylink/dray/internal/crashpoint"
	"github.com/draylink/dray/testenv/stack"
	"github.com/draylink/dray/testenv/wmssim"
)

// Options configure a run.
type Options struct {
	Profile Profile
	Seed    uint64
	// Dir holds the run's data and logs (default: a new directory under
	// $TMPDIR). It is kept after the run.
	Dir string
	// Progress gets a line per phase and per fault (nil: none).
	Progress io.Writer
}

// Run runs the harness: deploy, inject the profile's faults, drain,
// count. The report is returned whenever the run got as far as counting;
// an error means the harness could not do its job (not that dray failed).
func Run(ctx context.Context, o Options) (*Report, error) {
	progress := func(format string, args ...any) {
		if o.Progress != nil {
			_, _ = fmt.Fprintf(o.Progress, "%s  %s\n", time.Now().UTC().Format(time.TimeOnly), fmt.Sprintf(format, args...))
		}
	}
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "dray-chaos-")
		if err != nil {
			return nil, err
		}
		o.Dir = d
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	layout := Layout{Agents: 3, SmallDisk: 2, Plugins: []string{stack.SQLName, stack.FileDropName}, Sinks: 2}
	sched, err := NewSchedule(o.Seed, o.Profile, layout)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(o.Dir, "schedule.txt"), []byte(sched.String()), 0o644); err != nil {
		return nil, err
	}
	progress("chaos: profile %s, seed %d, %d faults over %v; data in %s", o.Profile.Name, o.Seed, len(sched.Faults), o.Profile.Duration, o.Dir)
	dep, err := deploy(ctx, o, progress)
	if err != nil {
		return nil, err
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = dep.Stop()
		}
	}()
	if err := dep.Stack.Start(ctx); err != nil {
		return nil, err
	}
	tally := NewTally(sched)
	rep := &Report{Seed: o.Seed, Profile: o.Profile.Name, Planned: o.Profile.Duration, Dir: o.Dir, Schedule: sched.String(), Generated: map[string]int{}}
	for _, w := range dep.Watched {
		w.OnCrashPoint = func(line string) {
			class := CrashAgentBeforeAck
			switch {
			case strings.Contains(line, crashpoint.RelayAfterCommit):
				class = CrashRelayAfterCommit
			case strings.Contains(line, crashpoint.RelayAfterSinkAnswer):
				class = CrashRelayAfterSinkAnswer
			}
			tally.Fired(class, 1, fmt.Sprintf("%s (pid %d) died of SIGKILL after %q", w.Name, w.PID(), line))
			progress("crash point fired in %s: %s", w.Name, line)
		}
	}
	dog := NewWatchdog(200*time.Millisecond, dep.Watched...)
	targets := Targets{Relay: dep.Relay, Sinks: dep.Sinks}
	targets.Agents = dep.Agents
	in := &Injector{Profile: o.Profile, Schedule: sched, Targets: targets, Tally: tally,
		Log: func(format string, args ...any) { progress(format, args...) }}
	began := time.Now()
	progress("fault phase: %v", o.Profile.Duration)
	injErr := in.Run(ctx)
	rep.Faults = time.Since(began)
	if ctx.Err() != nil {
		dog.Stop()
		return nil, ctx.Err()
	}
	if injErr != nil {
		rep.Failures = append(rep.Failures, "injector: "+injErr.Error())
	}
	progress("faults healed; stopping the simulators and draining (at most %v)", o.Profile.Drain)
	for _, w := range dep.Sims {
		w.Expect()
	}
	if err := dep.Stack.StopSims(); err != nil {
		rep.Failures = append(rep.Failures, "simulators: "+err.Error())
	}
	drainStart := time.Now()
	counts, dlq, err := drain(ctx, dep.Stack, o.Profile.Drain, progress)
	rep.Drained = time.Since(drainStart)
	if err != nil {
		dog.Stop()
		return nil, err
	}
	rep.Counts = counts
	rep.Failures = append(rep.Failures, dlq...)
	rep.Failures = append(rep.Failures, dog.Stop()...)
	for _, s := range dep.Stack.Sites {
		if tr, err := wmssim.ReadTruth(s.TruthPath); err == nil {
			rep.Generated[s.ID] = len(tr.Facts)
		}
	}
	rep.Tally = tally.Rows(o.Profile)
	rep.Failures = append(rep.Failures, ShortFaults(rep.Tally)...)
	progress("stopping everything")
	stopped = true
	if err := dep.Stop(); err != nil {
		rep.Failures = append(rep.Failures, "clean stop: "+err.Error())
	}
	if left, err := Survivors(dep.Stack.Config.Bins.Dir); err != nil {
		rep.Failures = append(rep.Failures, "orphan check: "+err.Error())
	} else if len(left) > 0 {
		rep.Failures = append(rep.Failures, "orphans after the stop: "+strings.Join(left, ", "))
	}
	if b, err := json.MarshalIndent(rep, "", "  "); err == nil {
		_ = os.WriteFile(filepath.Join(o.Dir, "report.json"), b, 0o644)
	}
	return rep, nil
}

// drain waits until the stack has settled (stack.Settle), then counts;
// while deliveries are still missing it settles and counts again, up to
// timeout. It returns the last count and the dead letters found (each a
// failure: no fault of the schedule is permanent).
func drain(ctx context.Context, st *stack.Stack, timeout time.Duration, progress func(string, ...any)) (stack.Counts, []string, error) {
	deadline := time.Now().Add(timeout)
	for attempt := 1; ; attempt++ {
		left := time.Until(deadline)
		_, serr := st.Settle(ctx, st.SettleQuiet(), max(left, time.Second))
		if ctx.Err() != nil {
			return stack.Counts{}, nil, ctx.Err()
		}
		ev, err := st.Collect(ctx)
		if err != nil {
			return stack.Counts{}, nil, err
		}
		c := ev.Count()
		how := "settled"
		if serr != nil {
			how = "not settled: " + strings.SplitN(serr.Error(), "\n", 2)[0]
		}
		progress("count %d (%s): expected %d, applied %d; lost %d, duplicated %d, foreign %d, wrongly quarantined %d, bad accepted %d, bad missed %d",
			attempt, how, c.Expected, c.Applied, c.Lost, c.Duplicated, c.Foreign, c.WronglyQuarantined, c.BadAccepted, c.BadMissed)
		if c.Lost == 0 || time.Now().After(deadline) {
			var dlq []string
			for _, name := range slices.Sorted(maps.Keys(ev.DeadLetters)) {
				if n := ev.DeadLetters[name]; n > 0 {
					dlq = append(dlq, fmt.Sprintf("sink %s has %d dead letters", name, n))
				}
			}
			if serr != nil {
				dlq = append(dlq, "drain: "+serr.Error())
			}
			return c, dlq, nil
		}
		select {
		case <-ctx.Done():
			return stack.Counts{}, nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}
