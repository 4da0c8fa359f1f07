// Package crashpoint kills the process with SIGKILL at named spots, with
// a given probability, for the chaos harness (docs/RELIABILITY.md, "crash
// points"): random kills rarely land in the narrow windows that matter —
// after the relay committed a batch but before its PUBACK left, after the
// agent got a PUBACK but before its spool recorded it — and a crash point
// lands there on purpose.
//
// They are off unless the environment variable DRAY_CRASHPOINT names
// them, as comma-separated name:probability pairs:
//
//	DRAY_CRASHPOINT=relay.after_commit:0.01,agent.before_ack:0.005
//
// Names are those of Points. A process that fires one writes
//
//	dray: crash point relay.after_commit fired (DRAY_CRASHPOINT, pid 4242)
//
// to stderr and sends itself SIGKILL, so a harness proves it fired from
// the exit status and the log. A disabled crash point costs one atomic
// load. Production never sets the variable; the dray-agent and dray-relay
// run commands refuse a malformed one (Check).
package crashpoint

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// EnvVar is the variable that enables crash points.
const EnvVar = "DRAY_CRASHPOINT"

// The crash points.
const (
	// RelayAfterCommit: the relay's group commit reached the log, its
	// PUBACKs have not been sent. The agent must re-send and the relay
	// discard the duplicate by (site, epoch, seq).
	RelayAfterCommit = "relay.after_commit"
	// AgentBeforeAck: the agent received a PUBACK and has not yet
	// recorded it in the spool. It must re-send after the restart; the
	// relay discards the duplicate.
	AgentBeforeAck = "agent.before_ack"
	// RelayAfterSinkAnswer: a sink answered 2xx (or "already applied")
	// for an event and the relay has not yet recorded it (cursor, fact
	// mark). After the restart the relay sends it again; the sink's
	// idempotency key must make that a duplicate, not a second apply.
	RelayAfterSinkAnswer = "relay.after_sink_answer"
)

// Points lists every crash point.
var Points = []string{RelayAfterCommit, AgentBeforeAck, RelayAfterSinkAnswer}

var (
	enabled atomic.Bool
	once    sync.Once
	probs   map[string]float64
	initErr error
)

func load() {
	once.Do(func() {
		probs, initErr = Parse(os.Getenv(EnvVar))
		enabled.Store(initErr == nil && len(probs) > 0)
	})
}

// Parse reads a DRAY_CRASHPOINT value ("" is none).
func Parse(spec string) (map[string]float64, error) {
	out := map[string]float64{}
	if strings.TrimSpace(spec) == "" {
		return out, nil
	}
	for i, part := range strings.Split(spec, ",") {
		name, p, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return nil, fmt.Errorf("%s item %d %q: want name:probability", EnvVar, i+1, part)
		}
		if !slices.Contains(Points, name) {
			return nil, fmt.Errorf("%s item %d: unknown crash point %q (known: %s)", EnvVar, i+1, name, strings.Join(Points, ", "))
		}
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || f < 0 || f > 1 {
			return nil, fmt.Errorf("%s item %d %q: want a probability in [0, 1]", EnvVar, i+1, part)
		}
		out[name] = f
	}
	return out, nil
}

// Check reports a malformed DRAY_CRASHPOINT; the programs that have
// crash points call it at start.
func Check() error {
	load()
	return initErr
}

// Hit kills the process with the probability DRAY_CRASHPOINT gives name.
func Hit(name string) {
	load()
	if !enabled.Load() {
		return
	}
	p := probs[name]
	if p == 0 || rand.Float64() >= p { //nolint:gosec // fault injection, not security
		return
	}
	fmt.Fprintf(os.Stderr, "dray: crash point %s fired (%s, pid %d)\n", name, EnvVar, os.Getpid())
	// SIGKILL on Unix, TerminateProcess on Windows: no handler runs.
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		_ = p.Kill()
	}
	select {} // the kill cannot be caught: wait for it
}
