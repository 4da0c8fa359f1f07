//go:build unix

package pluginhost_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/draylink/dray/plugins/pluginhost"
)

// The parent-death test re-runs this test binary as a stand-in agent (the
// helper host): it starts the test connector through pluginhost, prints the
// plugin's pid and waits to be killed.
const (
	helperEnv    = "PLUGINHOST_TEST_HELPER"
	helperBinEnv = "PLUGINHOST_TEST_HELPER_BIN"
	helperShaEnv = "PLUGINHOST_TEST_HELPER_SHA"
)

func runHelperHost() {
	// Start from a goroutine that is not the main one, as the supervisor
	// does: Pdeathsig must follow the process, not this goroutine's thread.
	done := make(chan *pluginhost.Plugin)
	go func() {
		p, err := pluginhost.Start(context.Background(), pluginhost.Config{
			Path:   os.Getenv(helperBinEnv),
			SHA256: os.Getenv(helperShaEnv),
			Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		done <- p
	}()
	p := <-done
	fmt.Printf("PID %d\n", p.Pid())
	// Keep other threads busy coming and going, so a Pdeathsig tied to the
	// wrong thread would fire early.
	for {
		go func() { runtime.LockOSThread(); time.Sleep(time.Millisecond) }()
		time.Sleep(50 * time.Millisecond)
		if p.Exited() {
			fmt.Fprintln(os.Stderr, "helper: plugin exited while the host was alive")
			os.Exit(2)
		}
	}
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	// The state follows the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return true
	}
	state := s[i+2]
	return state != 'Z' && state != 'X'
}

func waitGone(t *testing.T, pid int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive after %s", pid, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
