package chaos

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/draylink/dray/testenv/stack"
)

// Report is the outcome of a run.
type Report struct {
	Seed    uint64 `json:"seed"`
	Profile string `json:"profile"`
	// Planned is the profile's fault phase, Faults how long it took.
	Planned time.Duration `json:"planned"`
	Faults  time.Duration `json:"faultPhase"`
	Drained time.Duration `json:"drain"`
	// Generated counts what the simulators generated (facts), per site.
	Generated map[string]int `json:"generated"`
	Tally     []ClassTally   `json:"faults"`
	Counts    stack.Counts   `json:"counts"`
	// Failures are problems of the run other than counts: a fault class
	// short of its minimum, a process that died by itself, orphans.
	Failures []string `json:"failures,omitempty"`
	// Dir is where the run's data and logs are.
	Dir string `json:"dir"`
	// Schedule is the fault schedule, one fault a line.
	Schedule string `json:"schedule"`
}

// Pass reports whether every count is zero, every fault class fired
// enough and nothing else failed.
func (r *Report) Pass() bool {
	if r.Counts.Bad() > 0 || len(r.Failures) > 0 {
		return false
	}
	for _, t := range r.Tally {
		if !t.OK() {
			return false
		}
	}
	return true
}

// ShortFaults lists the classes that fired fewer times than required.
func ShortFaults(rows []ClassTally) []string {
	var out []string
	for _, t := range rows {
		if !t.OK() {
			out = append(out, fmt.Sprintf("%s fired %d times (proved), %d required", t.Class, t.Fired, t.Required))
		}
	}
	return out
}

// standing are the sink knobs and crash points set for the whole fault
// phase (a rate, not a count of scheduled faults).
var standing = map[Class]bool{SinkError: true, SinkRateLimit: true, SinkLatency: true, DropAfterApply: true,
	CrashRelayAfterCommit: true, CrashAgentBeforeAck: true, CrashRelayAfterSinkAnswer: true}

// Write prints the report for a person.
func (r *Report) Write(w io.Writer) error {
	var b strings.Builder
	verdict := "PASS"
	if !r.Pass() {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "dray chaos: %s — profile %s, seed %d, %v of faults, drained in %v\n", verdict, r.Profile, r.Seed,
		r.Faults.Round(time.Second), r.Drained.Round(time.Second))
	fmt.Fprintf(&b, "\nfaults (fired = proved from counters: exit status, pids, proxy and sink counters, agent status)\n")
	fmt.Fprintf(&b, "  %-36s %9s %7s %8s\n", "class", "scheduled", "fired", "required")
	for _, t := range r.Tally {
		mark := ""
		if !t.OK() {
			mark = "  << short"
		}
		sched := fmt.Sprint(t.Scheduled)
		if standing[t.Class] {
			sched = "standing"
		}
		fmt.Fprintf(&b, "  %-36s %9s %7d %8d%s\n", t.Class, sched, t.Fired, t.Required, mark)
	}
	for _, t := range r.Tally {
		for _, e := range t.Evidence[:min(1, len(t.Evidence))] {
			fmt.Fprintf(&b, "  e.g. %s: %s\n", t.Class, e)
		}
		for i, u := range t.Unproved {
			if i == 5 {
				fmt.Fprintf(&b, "  … %d more unproved %s\n", len(t.Unproved)-5, t.Class)
				break
			}
			fmt.Fprintf(&b, "  unproved %s\n", u)
		}
	}
	c := r.Counts
	fmt.Fprintf(&b, "\nground truth (")
	sep := ""
	for site, n := range r.Generated {
		fmt.Fprintf(&b, "%s%s: %d facts", sep, site, n)
		sep = ", "
	}
	fmt.Fprintf(&b, ") against the ERP and TMS ledgers and the agents' quarantines\n")
	fmt.Fprintf(&b, "  expected deliveries %d, applied records %d\n", c.Expected, c.Applied)
	fmt.Fprintf(&b, "  lost %d, duplicated %d, foreign %d, wrongly quarantined %d, bad accepted %d, bad missed %d\n",
		c.Lost, c.Duplicated, c.Foreign, c.WronglyQuarantined, c.BadAccepted, c.BadMissed)
	for _, p := range c.Problems {
		fmt.Fprintf(&b, "  %s\n", p)
	}
	for _, f := range r.Failures {
		fmt.Fprintf(&b, "failure: %s\n", f)
	}
	fmt.Fprintf(&b, "\ndata and logs: %s (schedule in schedule.txt, this report in report.json)\n", r.Dir)
	if !r.Pass() {
		fmt.Fprintf(&b, "reproduce: make chaos PROFILE=%s SEED=%d DURATION=%v\n", r.Profile, r.Seed, r.Planned)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
