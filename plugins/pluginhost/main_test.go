//go:build unix

package pluginhost_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/draylink/dray/plugins/pluginhost"
)

// binDir holds the plugins the tests build, once per test process.
var binDir string

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		runHelperHost()
		return
	}
	dir, err := os.MkdirTemp("", "pluginhost-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var builds sync.Map // package path → *buildResult

type buildResult struct {
	once sync.Once
	path string
	err  error
}

// build compiles one of the test plugins (once per process).
func build(t testing.TB, pkg string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs plugin processes; skipped with -short")
	}
	v, _ := builds.LoadOrStore(pkg, &buildResult{})
	r := v.(*buildResult)
	r.once.Do(func() {
		r.path = filepath.Join(binDir, filepath.Base(pkg))
		args := []string{"build", "-o", r.path}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, pkg)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			r.err = fmt.Errorf("go build %s: %w\n%s", pkg, err, out.String())
		}
	})
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.path
}

const (
	testConnectorPkg = "github.com/draylink/dray/plugins/pluginhost/internal/testconnector"
	barePluginPkg    = "github.com/draylink/dray/plugins/pluginhost/internal/bareplugin"
)

func hashOf(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// logBuffer collects a plugin's logs; they are shown when the test fails.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startTestConnector starts the test connector and configures it with
// config; the plugin is killed when the test ends.
func startTestConnector(t *testing.T, cfg pluginhost.Config, config string) (*pluginhost.Plugin, *logBuffer) {
	t.Helper()
	bin := build(t, testConnectorPkg)
	logs := &logBuffer{}
	cfg.Path = bin
	cfg.SHA256 = hashOf(t, bin)
	cfg.Env = append(cfg.Env, "GORACE=halt_on_error=1")
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := pluginhost.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start: %v\nlogs:\n%s", err, logs)
	}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("plugin logs:\n%s", logs)
		}
	})
	if config != "" {
		if err := p.Configure(ctx, []byte(config)); err != nil {
			t.Fatalf("configure: %v", err)
		}
	}
	return p, logs
}
