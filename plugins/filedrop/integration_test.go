package filedrop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/pluginhost"
	"github.com/draylink/dray/plugins/sdk/conformance"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// pluginBinary builds the plugin once per test binary, as an integrator
// would. Tests that need it are integration tests: skipped with -short.
func pluginBinary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the plugin; skipped with -short")
	}
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "filedrop-bin")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "dray-connector-filedrop")
		out, err := exec.Command("go", "build", "-o", binPath, "./cmd/dray-connector-filedrop").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func fileSHA(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// logs collects a plugin's log lines.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startPlugin starts and configures the plugin the way the agent does.
func startPlugin(t testing.TB, s *site, env []string, lg *logs) *pluginhost.Plugin {
	t.Helper()
	bin := pluginBinary(t)
	var w = &logs{}
	if lg != nil {
		w = lg
	}
	p, err := pluginhost.Start(context.Background(), pluginhost.Config{Path: bin, SHA256: fileSHA(t, bin), Env: env,
		Logger: slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})), HeartbeatTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Configure(ctx, s.config(t)); err != nil {
		p.Kill()
		t.Fatalf("configure: %v", err)
	}
	return p
}

// store is the agent's spool in miniature: the committed events (by id,
// counting commits) and the last committed cursor, updated together.
type store struct {
	mu      sync.Mutex
	count   map[string]int
	events  []*canonical.Event
	rejects int
	cursor  []byte
	h       host
}

func newStore() *store { return &store{count: map[string]int{}} }

func (st *store) commit(b pluginhost.HostBatch) error {
	evs := make([]*canonical.Event, 0, len(b.Events))
	for _, raw := range b.Events {
		e, err := canonical.UnmarshalBinary(raw)
		if err != nil {
			return err
		}
		evs = append(evs, e)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, e := range evs {
		st.count[e.GetId()]++
	}
	st.events = append(st.events, evs...)
	st.h.events = append(st.h.events, evs...)
	st.h.rejects = append(st.h.rejects, b.Rejects...)
	st.rejects += len(b.Rejects)
	st.cursor = bytes.Clone(b.Cursor)
	return nil
}

func (st *store) last() []byte {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.cursor
}

// TestConformanceIntegration runs the SDK's conformance suite against the
// plugin over a real go-plugin connection: a CSV inbox, files dropped by
// rename, 120 good rows and 3 bad ones per round.
func TestConformanceIntegration(t *testing.T) {
	bin := pluginBinary(t)
	conformance.Run(t, conformance.Harness{
		Binary: bin,
		NewSource: func(t *testing.T) conformance.Source {
			s := mem1(t)
			s.cfg["poll_interval"] = "100ms"
			s.cfg["batch_size"] = 50
			cfg := s.config(t)
			return conformance.Source{
				Config: cfg,
				Produce: func(t *testing.T, round int) conformance.Produced {
					rows := string(csvRows(10000*(round+1), 120))
					rows += "bad-1,MEM1,RECEIPT,2025-03-20 08:00:00,AF-1002,,,,many,CA,DOCK-IN-02,RECV-STAGE-01,,,,,,,1,\n"
					rows += "bad-2,MEM1,TELEPORT,2025-03-20 08:00:00,AF-1002,,,,1,CA,DOCK-IN-02,RECV-STAGE-01,,,,,,,1,\n"
					rows += "bad-3,MEM1,RECEIPT\n"
					s.drop(t, "wms", fmt.Sprintf("round-%d.csv", round), []byte(rows))
					return conformance.Produced{Events: 120, Rejects: 3}
				},
			}
		},
		Quiet: time.Second,
	})
}

// TestFixturesIntegration reads the three fixtures through the plugin
// process and compares everything with the golden file the in-process
// TestGolden checks: the same events, rejects, files and 997s.
func TestFixturesIntegration(t *testing.T) {
	s := mem1(t)
	p := startPlugin(t, s, nil, nil)
	defer p.Kill()
	dropCase(t, s, "testdata/golden/fixtures")
	st := newStore()
	readPlugin(t, p, nil, st, s.idle)
	got := collect(t, s, &st.h)
	compareGolden(t, "testdata/golden/fixtures/want.json", got)
}

// readPlugin reads until done or the read ends; it returns the read's error.
func readPlugin(t testing.TB, p *pluginhost.Plugin, cursor []byte, st *store, done func() bool) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- p.Read(ctx, cursor, func(_ context.Context, b pluginhost.HostBatch) error { return st.commit(b) })
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-errc:
			return err
		case <-time.After(20 * time.Millisecond):
		}
		if done() {
			cancel()
			<-errc
			return nil
		}
		if time.Now().After(deadline) {
			t.Fatal("not done after 60 s")
		}
	}
}

// killDrop is the drop the kill tests read: twelve CSV files of 150 rows
// and five 214s (distinct interchanges), 1,800 + 35 events, in batches of
// 20.
func killDrop(t testing.TB, s *site) int {
	s.cfg["batch_size"] = 20
	for i := range 12 {
		s.drop(t, "wms", fmt.Sprintf("movements-%02d.csv", i), csvRows(100000*(i+1), 150))
	}
	f214 := string(readFixture(t, "x12_214_SHP25031407.edi"))
	for i := range 5 {
		ctl := fmt.Sprintf("%09d", 8000+i)
		x := strings.ReplaceAll(f214, "000007731", ctl)
		x = strings.ReplaceAll(x, "*7731*", fmt.Sprintf("*%d*", 8000+i))
		x = strings.ReplaceAll(x, "GE*5*7731", fmt.Sprintf("GE*5*%d", 8000+i))
		s.drop(t, "edi", fmt.Sprintf("214-%d.edi", i), []byte(x))
	}
	return 1800 + 5*7
}

// checkExactlyOnce checks the store and the drop after all files are done.
func checkExactlyOnce(t *testing.T, s *site, st *store, want int) {
	t.Helper()
	for id, n := range st.count {
		if n != 1 {
			t.Errorf("event %s committed %d times", id, n)
		}
	}
	if len(st.count) != want {
		t.Errorf("%d distinct events committed; want %d", len(st.count), want)
	}
	if got := files(t, s.dir("wms", "archive")); len(got) != 12 {
		t.Errorf("wms archive = %v; want 12 files", got)
	}
	if got := files(t, s.dir("edi", "archive")); len(got) != 5 {
		t.Errorf("edi archive = %v; want 5 files", got)
	}
	if got := files(t, s.outbox); len(got) != 5 {
		t.Errorf("outbox = %v; want five 997s, one per interchange", got)
	}
	for _, ib := range []string{"wms", "edi"} {
		for _, sub := range []string{"inbox", "work", "quarantine"} {
			if got := files(t, s.dir(ib, sub)); len(got) != 0 {
				t.Errorf("%s/%s = %v; want empty", ib, sub, got)
			}
		}
	}
}

// TestKillRestartIntegration SIGKILLs the plugin ten times in the middle of
// the drop — five times right after the agent committed a batch (before the
// plugin hears of it and archives), five times 0–3 ms after a batch was
// acknowledged, while it reads and builds the next one — restarting it
// from the last committed cursor each time, as the supervisor does. Every event must be committed exactly
// once and every file end in the archive.
func TestKillRestartIntegration(t *testing.T) {
	s := mem1(t)
	want := killDrop(t, s)
	st := newStore()
	rng := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // test schedule
	kills, midFile := 0, 0
	for i := 0; i < 10; i++ {
		p := startPlugin(t, s, nil, nil)
		pid := p.Pid()
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		var once sync.Once
		kill := func() { once.Do(func() { _ = syscall.Kill(pid, syscall.SIGKILL); kills++ }) }
		betweenBatches := i%2 == 0
		k, n := 1+rng.IntN(4), 0
		delay := time.Duration(rng.IntN(3000)) * time.Microsecond
		go func() {
			errc <- p.Read(ctx, st.last(), func(_ context.Context, b pluginhost.HostBatch) error {
				if err := st.commit(b); err != nil {
					return err
				}
				n++
				switch {
				case n != k:
				case betweenBatches:
					kill() // committed; the plugin dies before it hears so
					return errors.New("killed")
				default:
					// Acknowledged; the plugin dies a moment later, while
					// it reads and maps the next batch.
					time.AfterFunc(delay, kill)
				}
				return nil
			})
		}()
		deadline := time.Now().Add(30 * time.Second)
	wait:
		for {
			select {
			case <-errc:
				break wait
			case <-time.After(10 * time.Millisecond):
			}
			if s.idle() || time.Now().After(deadline) {
				t.Fatalf("iteration %d (between batches %v, kill at batch %d, %d batches): the drop ran out before the kill", i, betweenBatches, k, n)
			}
		}
		cancel()
		p.Kill()
		if s.idle() {
			t.Fatalf("the drop was finished after %d kills; make it bigger", kills)
		}
		if bytes.Contains(st.last(), []byte(`"cur":`)) {
			midFile++ // the restart resumes a file after its last committed record
		}
	}
	if midFile == 0 {
		t.Error("no kill left a file half read; the test proves less than it says")
	}
	p := startPlugin(t, s, nil, nil)
	defer p.Kill()
	if err := readPlugin(t, p, st.last(), st, s.idle); err != nil {
		t.Fatal(err)
	}
	if kills != 10 {
		t.Errorf("%d kills; want 10", kills)
	}
	checkExactlyOnce(t, s, st, want)
	t.Logf("%d kills, %d of them with a file half read", kills, midFile)
}

// TestCrashPointsIntegration makes the plugin kill itself at each narrow
// window of the lifecycle in turn (crash.go), restarting it from the last
// committed cursor, and checks that each point fired and that every event
// was committed exactly once.
func TestCrashPointsIntegration(t *testing.T) {
	s := mem1(t)
	want := killDrop(t, s)
	st := newStore()
	// The 214s are claimed and read first (the CSV inbox waits for stable
	// sizes), so the 997 points come early; a point may fire again in the
	// next run's recovery, which repeats the interrupted step.
	schedule := []string{"after_claim@1", "after_997@1", "after_997@1", "after_journal@1", "after_move@1",
		"before_commit@2", "after_commit@1", "after_journal@2", "after_move@2", "after_commit@3", "before_commit@1"}
	fired := map[string]int{}
	for _, point := range schedule {
		lg := &logs{}
		p := startPlugin(t, s, []string{CrashPointEnv + "=" + point}, lg)
		err := readPlugin(t, p, st.last(), st, s.idle)
		p.Kill()
		name, _, _ := strings.Cut(point, "@")
		if os.Getenv("FILEDROP_DEBUG") != "" {
			t.Logf("run %s: err %v, %d committed, outbox %v\n%s", point, err, len(st.count), files(t, s.outbox), lg.String())
		}
		if strings.Contains(lg.String(), "crash point fired") && strings.Contains(lg.String(), name) {
			fired[name]++
		} else if err == nil {
			t.Logf("%s did not fire (the drop ran out first)", point)
		}
	}
	p := startPlugin(t, s, nil, nil)
	defer p.Kill()
	if err := readPlugin(t, p, st.last(), st, s.idle); err != nil {
		t.Fatal(err)
	}
	for _, point := range schedule {
		name, _, _ := strings.Cut(point, "@")
		if fired[name] == 0 {
			t.Errorf("crash point %s never fired", name)
		}
	}
	checkExactlyOnce(t, s, st, want)
	raw, _ := json.Marshal(fired)
	t.Logf("crash points fired: %s", raw)
}
