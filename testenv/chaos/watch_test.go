package chaos

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// deadProc is a process that has died, as the watchdog sees it.
type deadProc struct {
	pid int
	err error
}

func (p *deadProc) PID() int       { return p.pid }
func (p *deadProc) Kill()          {}
func (p *deadProc) ExitErr() error { return p.err }
func (p *deadProc) Start() error   { return nil }
func (p *deadProc) Running() bool  { return false }

// TestCrashPointAttribution: a SIGKILL death is the process's own crash
// point only when a crash point line naming its pid is among its last log
// lines — other goroutines may log after that line and before the kill
// lands — and not when the line names an earlier incarnation's pid.
func TestCrashPointAttribution(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Process.Kill()
	killed := cmd.Wait()
	pid := cmd.Process.Pid
	line := func(p int) string {
		return fmt.Sprintf("dray: crash point relay.after_commit fired (DRAY_CRASHPOINT, pid %d)", p)
	}
	other := `{"@level":"info","@message":"group commit","events":512}`
	for _, tc := range []struct {
		name string
		log  []string
		err  error
		want bool
	}{
		{"last line", []string{other, line(pid)}, killed, true},
		{"lines logged after it", []string{other, line(pid), other, other, other}, killed, true},
		{"an earlier incarnation's line", []string{line(pid + 1), other}, killed, false},
		{"no crash point line", []string{other, other}, killed, false},
		{"not killed by SIGKILL", []string{line(pid)}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &Watched{Proc: &deadProc{pid: pid, err: tc.err}, Name: "relay",
				Log: func(int) string { return strings.Join(tc.log, "\n") + "\n" }}
			if got := w.crashPoint() != ""; got != tc.want {
				t.Errorf("crash point attributed: %v; want %v", got, tc.want)
			}
		})
	}
}
