package pluginhost_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestPluginDiesWithHostIntegration kills the (helper) host with SIGKILL and
// checks the plugin gets Pdeathsig's SIGKILL.
//
// To tell Pdeathsig apart from the SDK's own parent watch, the plugin is
// stopped (SIGSTOP) first, and this test process makes itself a child
// subreaper, so the orphaned plugin becomes its child: a stopped process can
// run no watch, its process group is not orphaned (no SIGHUP/SIGCONT from the
// kernel), and wait4 tells how it died. The helper's threads come and go
// while it runs, so a Pdeathsig bound to a short-lived thread would have
// killed the plugin early (the helper exits 2 then).
func TestPluginDiesWithHostIntegration(t *testing.T) {
	bin := build(t, testConnectorPkg)
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		t.Skipf("prctl(PR_SET_CHILD_SUBREAPER): %v", errno)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1", helperBinEnv+"="+bin, helperShaEnv+"="+hashOf(t, bin))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("read helper's pid line: %v", err)
	}
	var pid int
	if _, err := fmt.Sscanf(line, "PID %d", &pid); err != nil {
		t.Fatalf("helper said %q", line)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	time.Sleep(500 * time.Millisecond) // let the helper's threads churn
	if !alive(pid) {
		t.Fatal("plugin died before its host")
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	status := make(chan syscall.WaitStatus, 1)
	go func() {
		var ws syscall.WaitStatus
		for {
			_, err := syscall.Wait4(pid, &ws, 0, nil)
			if err != syscall.EINTR {
				break
			}
		}
		status <- ws
	}()
	select {
	case ws := <-status:
		if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Errorf("plugin ended with %v; want killed by SIGKILL (Pdeathsig)", ws)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("plugin still alive 3 s after its host was killed")
	}
}
