package crashpoint

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

func TestParse(t *testing.T) {
	got, err := Parse(" relay.after_commit:0.5, agent.before_ack:1")
	if err != nil || got[RelayAfterCommit] != 0.5 || got[AgentBeforeAck] != 1 {
		t.Fatalf("got %v, %v", got, err)
	}
	if got, err := Parse(""); err != nil || len(got) != 0 {
		t.Fatalf("empty: %v %v", got, err)
	}
	for _, bad := range []string{"relay.after_commit", "nope:0.1", "relay.after_commit:2", "agent.before_ack:x"} {
		if _, err := Parse(bad); err == nil || !strings.Contains(err.Error(), EnvVar) {
			t.Errorf("%q: want a located error, got %v", bad, err)
		}
	}
}

// TestHitKills runs this test binary again with a crash point at
// probability 1: it must die of SIGKILL after saying which point fired;
// with probability 0 it must live.
func TestHitKills(t *testing.T) {
	if os.Getenv("CRASHPOINT_CHILD") == "1" {
		Hit(RelayAfterCommit)
		os.Exit(0)
	}
	for _, tc := range []struct {
		spec   string
		killed bool
	}{{RelayAfterCommit + ":1", true}, {RelayAfterCommit + ":0", false}, {AgentBeforeAck + ":1", false}} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestHitKills$")
		cmd.Env = append(os.Environ(), "CRASHPOINT_CHILD=1", EnvVar+"="+tc.spec)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		killed := errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL
		if killed != tc.killed {
			t.Fatalf("%s: killed %v, want %v (%v)\n%s", tc.spec, killed, tc.killed, err, out)
		}
		if killed && !strings.Contains(string(out), "crash point "+RelayAfterCommit+" fired") {
			t.Fatalf("%s: no line saying what fired:\n%s", tc.spec, out)
		}
		if !killed && err != nil {
			t.Fatalf("%s: %v\n%s", tc.spec, err, out)
		}
	}
}
