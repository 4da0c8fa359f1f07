// Command dray-chaos is the reliability harness (`make chaos`, package
// testenv/chaos): it builds dray, runs three agents with the sql and
// file-drop connectors against a WMS simulator each, the relay and the
// reference ERP and TMS, injects a seeded schedule of faults, drains, and
// counts lost, duplicated, foreign, wrongly quarantined and missed bad
// events from the sinks' ledgers against the ground truth.
//
//	dray-chaos [--profile default|short] [--seed N] [--duration 10m] [--dir DIR]
//
// It prints the report (faults fired, proved from counters; the counts)
// and exits 0 when every count is 0 and every fault class fired as often
// as the profile requires, 1 when not, 2 when the harness itself failed.
// It needs root for the small agent's tmpfs. SIGINT or SIGTERM stops the
// run cleanly (every process it started is stopped).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/draylink/dray/testenv/chaos"
)

func main() {
	os.Exit(run())
}

func run() int {
	fs := flag.NewFlagSet("dray-chaos", flag.ContinueOnError)
	profile := fs.String("profile", "default", "default (about 10 minutes of faults) or short (2 minutes)")
	seed := fs.Uint64("seed", 1, "seed of the fault schedule and the simulators")
	duration := fs.Duration("duration", 0, "length of the fault phase (default: the profile's); fault counts scale with it")
	dir := fs.String("dir", "", "directory for the run's data and logs (default: a new one under $TMPDIR)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "dray-chaos: no arguments expected, got", fs.Args())
		return 2
	}
	p, err := chaos.ProfileNamed(*profile)
	if err == nil && *duration != 0 {
		p, err = p.WithDuration(*duration)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dray-chaos:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	rep, err := chaos.Run(ctx, chaos.Options{Profile: p, Seed: *seed, Dir: *dir, Progress: os.Stderr})
	if rep != nil {
		if werr := rep.Write(os.Stdout); werr != nil {
			fmt.Fprintln(os.Stderr, "dray-chaos:", werr)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "dray-chaos: %v (after %v)\n", err, time.Since(start).Round(time.Second))
		return 2
	}
	if !rep.Pass() {
		return 1
	}
	return 0
}
