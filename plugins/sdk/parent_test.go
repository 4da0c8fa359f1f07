//go:build unix

package sdk_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/draylink/dray/plugins/sdk"
)

// The SDK's own parent watch, without pluginhost (and so without Pdeathsig):
// a connector started by an agent that dies must exit by itself.

var example struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if example.dir != "" {
		os.RemoveAll(example.dir)
	}
	os.Exit(code)
}

// buildExample builds the example connector once per test run.
func buildExample(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs a plugin; skipped with -short")
	}
	example.once.Do(func() {
		example.dir, example.err = os.MkdirTemp("", "sdk-test-")
		if example.err != nil {
			return
		}
		example.bin = filepath.Join(example.dir, "dray-connector-example")
		out, err := exec.Command("go", "build", "-o", example.bin, "github.com/draylink/dray/plugins/example/cmd/dray-connector-example").CombinedOutput()
		if err != nil {
			example.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if example.err != nil {
		t.Fatal(example.err)
	}
	return example.bin
}

func pluginEnv() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		sdk.MagicCookieKey + "=" + sdk.MagicCookieValue,
		"PLUGIN_PROTOCOL_VERSIONS=" + strconv.Itoa(sdk.APIVersion),
	}
}

func TestExitsWhenParentPipeClosesIntegration(t *testing.T) {
	bin := buildExample(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(pluginEnv(), sdk.EnvParentFD+"=3")
	cmd.ExtraFiles = []*os.File{pr}
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || !strings.HasPrefix(line, "1|1|unix|") {
		t.Fatalf("handshake %q, %v", line, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-exited:
		t.Fatalf("plugin exited while its parent pipe was open: %v\n%s", err, stderr.String())
	default:
	}
	start := time.Now()
	pw.Close()
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 3 {
			t.Errorf("plugin exited with %v; want exit status 3", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("took %s to notice; want well under a second (3 s on a loaded machine)", d)
		}
		if !strings.Contains(stderr.String(), `"@message":"the agent is gone; exiting"`) {
			t.Errorf("no hclog JSON line about the exit on stderr:\n%s", stderr.String())
		}
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("plugin still runs 5 s after its parent pipe closed")
	}
}

func TestExitsWhenReparentedIntegration(t *testing.T) {
	bin := buildExample(t)
	// sh starts the plugin in the background and becomes a sleep; killing it
	// re-parents the plugin, which has no parent pipe.
	cmd := exec.Command("sh", "-c", `"$0" & echo "PID $!"; exec sleep 1000`, bin)
	cmd.Env = pluginEnv()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	r := bufio.NewReader(stdout)
	pid := 0
	for pid == 0 {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the shell's output: %v", err)
		}
		fmt.Sscanf(line, "PID %d", &pid)
	}
	defer syscall.Kill(pid, syscall.SIGKILL)
	time.Sleep(300 * time.Millisecond)
	if !alive(pid) {
		t.Fatal("plugin exited early")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatal("re-parented plugin still runs after 5 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}
