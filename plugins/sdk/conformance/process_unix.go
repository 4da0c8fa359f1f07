//go:build unix

package conformance

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/draylink/dray/plugins/sdk"
)

// procStat returns the parent pid and process group of pid from /proc, or
// ok=false.
func procStat(pid int) (ppid, pgrp int, state byte, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 3 {
		return 0, 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	pgrp, _ = strconv.Atoi(f[2])
	return ppid, pgrp, f[0][0], true
}

// processGroup lists the processes that belong to pid: its descendants and
// the members of its process group (where /proc exists).
func processGroup(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	parent := map[int]int{}
	var out []int
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n == pid {
			continue
		}
		ppid, pgrp, _, ok := procStat(n)
		if !ok {
			continue
		}
		parent[n] = ppid
		if pgrp == pid {
			out = append(out, n)
		}
	}
	for n := range parent {
		for p, hops := parent[n], 0; p != 0 && hops < 64; p, hops = parent[p], hops+1 {
			if p == pid {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

func alive(pid int) bool {
	if _, _, state, ok := procStat(pid); ok {
		return state != 'Z' && state != 'X'
	}
	return syscall.Kill(pid, 0) == nil
}

func waitGone(t *testing.T, pids []int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Errorf("process %d is still alive %s after the plugin was stopped", pid, within)
				_ = syscall.Kill(pid, syscall.SIGKILL)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// testAgentGone starts the binary the way go-plugin does, but from this
// test, holding the write end of the parent pipe (sdk.EnvParentFD), then
// closes it as a dying agent would: the plugin must exit on its own.
func (s *suite) testAgentGone(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	cmd := exec.Command(s.h.Binary, s.h.Args...) //nolint:gosec // the connector under test
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		sdk.MagicCookieKey + "=" + sdk.MagicCookieValue,
		"PLUGIN_PROTOCOL_VERSIONS=" + strconv.Itoa(sdk.APIVersion),
		sdk.EnvParentFD + "=3",
	}, s.h.Env...)
	cmd.ExtraFiles = []*os.File{pr}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	exited := make(chan struct{})
	handshake := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		handshake <- line
	}()
	select {
	case line := <-handshake:
		if strings.Count(line, "|") < 4 || !strings.HasPrefix(line, "1|") {
			t.Fatalf("handshake line %q; want go-plugin's 1|<version>|<network>|<address>|grpc|…", line)
		}
	case <-time.After(s.h.Timeout):
		_ = cmd.Process.Kill()
		t.Fatal("no handshake line")
	}
	group := processGroup(cmd.Process.Pid)
	go func() {
		_ = cmd.Wait() // exit status 3 from the SDK; others may differ
		close(exited)
	}()
	pw.Close() // the agent is gone
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("the plugin still runs 5 s after its agent's pipe (%s) closed", sdk.EnvParentFD)
	}
	waitGone(t, group, 5*time.Second)
}
