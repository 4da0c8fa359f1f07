package refsink_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/draylink/dray/testenv/refsink"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// buildBinary compiles dray-refsink once per test process.
func buildBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dray-refsink-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "dray-refsink")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/draylink/dray/testenv/cmd/dray-refsink")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is dray-refsink running as a child process.
type proc struct {
	t    testing.TB
	cmd  *exec.Cmd
	log  string
	addr string
	done chan struct{}
	err  error // set before done is closed
}

func startProc(t testing.TB, bin string, args ...string) *proc {
	t.Helper()
	return startProcEnv(t, nil, bin, args...)
}

// startProcEnv starts bin with extra environment variables and waits until
// it has written its address.
func startProcEnv(t testing.TB, env []string, bin string, args ...string) *proc {
	t.Helper()
	dir := t.TempDir()
	addrFile := filepath.Join(dir, "addr")
	p := &proc{t: t, log: filepath.Join(dir, "log"), done: make(chan struct{})}
	logf, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, append(args, "--addr-file", addrFile)...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		// SIGTERM, so that the process finishes what it writes at exit
		// (--cpu-profile); killed if it does not exit in time.
		select {
		case <-p.done:
			return
		default:
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(addrFile)
		if err == nil && len(b) > 0 {
			p.addr = string(b)
			break
		}
		select {
		case <-p.done:
			t.Fatalf("dray-refsink exited: %v\n%s", p.err, p.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("dray-refsink did not listen\n%s", p.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return p
}

// cpu is the child's user + system CPU time so far (Linux /proc).
func (p *proc) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		p.t.Fatal(err)
	}
	// Fields after the command name (which may hold spaces) in parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const clockTicks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clockTicks
}

func (p *proc) output() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

func (p *proc) url() string { return "http://" + p.addr }

func (p *proc) signal(sig syscall.Signal) error {
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return p.err
	case <-time.After(20 * time.Second):
		p.t.Fatalf("dray-refsink did not exit after %v\n%s", sig, p.output())
		return nil
	}
}

// TestProcessIntegrationSurvivesSIGKILL runs the binary, kills it with
// SIGKILL under load, restarts it on the same data directory and checks
// that every acknowledged request is in the ledger exactly once, and that
// retrying everything afterwards applies exactly the missing ones.
func TestProcessIntegrationSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	data := t.TempDir()
	conf := filepath.Join(t.TempDir(), "erp.json")
	if err := os.WriteFile(conf, []byte(`{"auth":{"bearerTokens":["tok"]},"recordBodies":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--kind", "erp", "--listen", "127.0.0.1:0", "--data", data, "--config", conf}
	p := startProc(t, bin, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const workers = 4
	var (
		acked     sync.Map // key → true
		attempted sync.Map
		nAcked    atomic.Int64
		wg        sync.WaitGroup
	)
	hc := &http.Client{Timeout: 10 * time.Second}
	post := func(key string, i int) (resp, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.url()+"/erp/v1/goods-movements", strings.NewReader(gm(i)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer tok")
		req.Header.Set("Idempotency-Key", key)
		req.Header.Set("Dray-Site", "MEM1")
		res, err := hc.Do(req)
		if err != nil {
			return resp{}, err
		}
		defer res.Body.Close()
		return resp{status: res.StatusCode}, nil
	}
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				key := fmt.Sprintf("w%d-%d", w, i)
				attempted.Store(key, i)
				r, err := post(key, i)
				if err != nil {
					return // the process is gone
				}
				if r.status != 201 {
					t.Errorf("status %d", r.status)
					return
				}
				acked.Store(key, true)
				nAcked.Add(1)
			}
		})
	}
	for nAcked.Load() < 400 {
		select {
		case <-p.done:
			t.Fatalf("exited early: %v\n%s", p.err, p.output())
		case <-time.After(5 * time.Millisecond):
		}
	}
	_ = p.signal(syscall.SIGKILL)
	wg.Wait()

	p = startProc(t, bin, args...)
	c := refsink.NewClient(p.url())
	recs, err := c.Records(ctx, refsink.LedgerQuery{})
	if err != nil {
		t.Fatal(err)
	}
	applied := map[string]int{}
	for _, r := range recs {
		if r.Outcome == refsink.OutcomeApplied {
			applied[r.Key]++
		}
	}
	lost, dup := 0, 0
	acked.Range(func(k, _ any) bool {
		if applied[k.(string)] == 0 {
			lost++
		}
		return true
	})
	for _, n := range applied {
		if n > 1 {
			dup++
		}
	}
	st, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("acked %d, in the ledger after SIGKILL %d (applied but unanswered: %d)", nAcked.Load(), len(applied), int64(len(applied))-nAcked.Load())
	if lost != 0 || dup != 0 || st.Applied != uint64(len(applied)) || st.Records != uint64(len(recs)) {
		t.Fatalf("lost %d, duplicated %d, stats %+v, %d records", lost, dup, st, len(recs))
	}

	// The relay's view: retry everything it had in flight with the same keys.
	nAttempted, nAlready := 0, 0
	attempted.Range(func(k, v any) bool {
		nAttempted++
		if applied[k.(string)] == 1 {
			nAlready++
		}
		r, err := post(k.(string), v.(int))
		if err != nil || r.status != 201 {
			t.Errorf("retry %s: %v %d", k, err, r.status)
		}
		return true
	})
	st, err = c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Applied != uint64(nAttempted) || st.Duplicates != uint64(nAlready) {
		t.Errorf("after retries: applied %d (want %d), duplicates %d (want %d)", st.Applied, nAttempted, st.Duplicates, nAlready)
	}

	// SIGTERM: a clean exit.
	if err := p.signal(syscall.SIGTERM); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.output())
	}
	if !strings.Contains(p.output(), `"msg":"stopped"`) {
		t.Errorf("no stop line in the log:\n%s", p.output())
	}
}
