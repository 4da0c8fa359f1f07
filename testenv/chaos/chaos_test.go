package chaos

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestChaosShort runs the harness with the short profile (two minutes of
// faults, then the drain): every count must be zero and every fault class
// must have fired, proved from counters. Needs root (the small agent's
// tmpfs).
func TestChaosShort(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: runs in make test, not under -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for the small agent's tmpfs")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	rep, err := Run(ctx, Options{Profile: Short(), Seed: 1, Dir: t.TempDir(), Progress: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	_ = rep.Write(&b)
	t.Log("\n" + b.String())
	for _, row := range rep.Tally {
		if row.Fired == 0 {
			t.Errorf("fault class %s never fired", row.Class)
		}
	}
	if rep.Counts.Expected == 0 {
		t.Error("nothing was expected at the sinks: the simulators generated nothing")
	}
	if !rep.Pass() {
		t.Fatalf("chaos run failed (seed %d): see the report above", rep.Seed)
	}
}
