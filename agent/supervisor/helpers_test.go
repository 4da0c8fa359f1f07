package supervisor

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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/draylink/dray/agent/spool"
	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/pluginhost"
)

// The plugins the tests run, built once per test process.
const (
	examplePkg       = "github.com/draylink/dray/plugins/example/cmd/dray-connector-example"
	testConnectorPkg = "github.com/draylink/dray/plugins/pluginhost/internal/testconnector"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "supervisor-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

var builds sync.Map // package → *buildResult

type buildResult struct {
	once sync.Once
	path string
	err  error
}

// build compiles a plugin binary (once per process); integration only.
func build(t testing.TB, pkg string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: builds and runs plugin processes")
	}
	v, _ := builds.LoadOrStore(pkg, &buildResult{})
	r := v.(*buildResult)
	r.once.Do(func() {
		r.path = filepath.Join(binDir, filepath.Base(pkg))
		out, err := exec.Command("go", "build", "-o", r.path, pkg).CombinedOutput()
		if err != nil {
			r.err = fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
		}
	})
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.path
}

func hashOf(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// logBuffer collects log output for assertions.
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

func openTestSpool(t testing.TB) *spool.Spool {
	t.Helper()
	sp, err := spool.Open(spool.Options{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sp.Close() })
	return sp
}

// harness runs a supervisor against a real spool.
type harness struct {
	t      testing.TB
	sp     *spool.Spool
	sup    *Supervisor
	logs   *logBuffer
	cancel context.CancelFunc
	done   chan struct{}
}

// pluginConfig is a plugin configuration with short timeouts for tests.
func pluginConfig(t testing.TB, bin string) pluginhost.Config {
	return pluginhost.Config{Path: bin, SHA256: hashOf(t, bin), CallTimeout: 5 * time.Second, HeartbeatTimeout: 2 * time.Second}
}

func startHarness(t testing.TB, cfg Config, sp *spool.Spool) *harness {
	t.Helper()
	if sp == nil {
		sp = openTestSpool(t)
	}
	h := &harness{t: t, sp: sp, logs: &logBuffer{}, done: make(chan struct{})}
	if cfg.Name == "" {
		cfg.Name = "counts"
	}
	if cfg.Site == "" {
		cfg.Site = "MEM1"
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff, cfg.MaxBackoff = 50*time.Millisecond, 400*time.Millisecond
	}
	cfg.Logger = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sup, err := New(cfg, sp)
	if err != nil {
		t.Fatal(err)
	}
	h.sup = sup
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() {
		defer close(h.done)
		if err := sup.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		h.stop()
		if t.Failed() {
			t.Logf("supervisor logs:\n%s", h.logs)
		}
	})
	return h
}

// stop cancels Run and waits for it (and the plugin) to end.
func (h *harness) stop() {
	h.cancel()
	select {
	case <-h.done:
	case <-time.After(20 * time.Second):
		h.t.Fatal("Run did not return within 20 s of its context's end")
	}
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// spoolEvents decodes every event in the spool.
func spoolEvents(t testing.TB, sp *spool.Spool) []*canonical.Event {
	t.Helper()
	var out []*canonical.Event
	for _, st := range sp.Streams() {
		for from := st.Head; from < st.Next; {
			recs, err := sp.Read(st.StreamID, from, 1000, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				ev, err := canonical.UnmarshalBinary(r.Event)
				if err != nil {
					t.Fatal(err)
				}
				if ev.Lane() != st.Lane {
					t.Errorf("event %s of lane %v stored in lane %v", ev.GetId(), ev.Lane(), st.Lane)
				}
				out = append(out, ev)
			}
			from = recs[len(recs)-1].Seq + 1
		}
	}
	return out
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return true
	}
	return s[i+2] != 'Z' && s[i+2] != 'X'
}
