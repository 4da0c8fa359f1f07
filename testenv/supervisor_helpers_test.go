package testenv_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/draylink/dray/agent"
	"github.com/draylink/dray/agent/synthetic"
	"github.com/draylink/dray/internal/configfile"
	"github.com/draylink/dray/testenv"
)

// Connector binaries the supervisor tests run, built once per process.
const (
	supExamplePkg  = "./plugins/example/cmd/dray-connector-example"
	supTestConnPkg = "./plugins/pluginhost/internal/testconnector"
	supSQLPkg      = "./plugins/sql/cmd/dray-connector-sql"
)

var (
	supBuildOnce sync.Once
	supBins      map[string]string
	supBuildErr  error
)

// supConnectorBin returns the path of a built connector binary.
func supConnectorBin(t *testing.T, pkg string) string {
	t.Helper()
	supBuildOnce.Do(func() {
		root, err := testenv.ModuleRoot()
		if err != nil {
			supBuildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "dray-connectors-")
		if err != nil {
			supBuildErr = err
			return
		}
		supBins = map[string]string{}
		for _, p := range []string{supExamplePkg, supTestConnPkg, supSQLPkg} {
			out := filepath.Join(dir, filepath.Base(p))
			cmd := exec.Command("go", "build", "-o", out, p)
			cmd.Dir = root
			if b, err := cmd.CombinedOutput(); err != nil {
				supBuildErr = fmt.Errorf("go build %s: %w\n%s", p, err, b)
				return
			}
			supBins[p] = out
		}
	})
	if supBuildErr != nil {
		t.Fatal(supBuildErr)
	}
	return supBins[pkg]
}

func supSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// supConnectorEntry declares a connector with short restart bounds for tests.
func supConnectorEntry(t *testing.T, name, bin string, cfg map[string]any) agent.ConnectorEntry {
	t.Helper()
	block, err := agent.ConnectorConfigOf(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return agent.ConnectorEntry{
		Name: name, Path: bin, SHA256: supSHA256(t, bin), Config: block,
		Restart:  agent.RestartConfig{MinBackoff: configfile.Duration(100 * time.Millisecond), MaxBackoff: configfile.Duration(time.Second)},
		Timeouts: agent.TimeoutConfig{Heartbeat: configfile.Duration(2 * time.Second)},
	}
}

// supAgent prepares an agent for MEM1 with connectors and no other
// source, its status endpoint on.
func supAgent(t *testing.T, env *testenv.Env, r *testenv.Relay, conns ...agent.ConnectorEntry) *testenv.Agent {
	t.Helper()
	a := env.NewAgent("MEM1", r.Config.Listen.QUIC, r.Config.Listen.TCP, synthetic.Config{})
	a.Config.Sources = nil
	a.Config.Connectors = conns
	withStatus(t, a)
	return a
}

// supConnStatus is the part of a connector's /status entry the tests read.
type supConnStatus struct {
	Name         string `json:"name"`
	State        string `json:"state"`
	PID          int    `json:"pid"`
	Starts       int    `json:"starts"`
	Restarts     int    `json:"restarts"`
	LastError    string `json:"last_error"`
	Events       uint64 `json:"events"`
	Quarantined  uint64 `json:"quarantined"`
	Cursor       string `json:"cursor"`
	InQuarantine int64  `json:"in_quarantine"`
}

type supAgentStatus struct {
	Spool struct {
		Streams []struct {
			Head uint64 `json:"Head"`
			Next uint64 `json:"Next"`
		} `json:"Streams"`
	} `json:"spool"`
	Connectors []supConnStatus `json:"connectors"`
	Quarantine struct {
		Total    int64            `json:"total"`
		BySource map[string]int64 `json:"by_source"`
	} `json:"quarantine"`
}

func (s *supAgentStatus) pending() uint64 {
	var n uint64
	for _, st := range s.Spool.Streams {
		n += st.Next - st.Head
	}
	return n
}

func (s *supAgentStatus) connector(name string) supConnStatus {
	for _, c := range s.Connectors {
		if c.Name == name {
			return c
		}
	}
	return supConnStatus{}
}

// status fetches /status (nil when the agent does not answer).
func supStatus(a *testenv.Agent) *supAgentStatus {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + a.Config.Status.Listen + "/status")
	if err != nil {
		return nil
	}
	defer func() { _ = resp.Body.Close() }()
	var st supAgentStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil
	}
	return &st
}

// supCursor is the example connector's cursor.
type supCursor struct {
	File   string `json:"file"`
	Offset int64  `json:"offset"`
	Line   int    `json:"line"`
}

func supParseCursor(s string) supCursor {
	var c supCursor
	_ = json.Unmarshal([]byte(s), &c)
	return c
}

// supWaitCommitted waits until connector name has committed through line
// `lines` of file and the spool holds nothing unacknowledged.
func supWaitCommitted(t *testing.T, a *testenv.Agent, name, file string, lines int, timeout time.Duration) *supAgentStatus {
	t.Helper()
	var st *supAgentStatus
	testenv.Eventually(t, timeout, 200*time.Millisecond, name+" to commit line "+strconv.Itoa(lines)+" and drain", func() bool {
		if !a.Proc.Running() {
			t.Fatalf("%s exited:\n%s", a.Name, a.Proc.Log())
		}
		st = supStatus(a)
		if st == nil {
			return false
		}
		c := supParseCursor(st.connector(name).Cursor)
		return c.File == file && c.Line == lines && st.pending() == 0
	})
	return st
}

// supCountLine is a valid line of the example connector.
func supCountLine(id string, i int) string {
	return fmt.Sprintf(`{"count_id":%q,"owner":"ACME","sku":"AF-%d","location":"R-%02d-01-A","uom":"EA","counted":%d,"expected":"%d","counted_at":"2025-03-14T16:05:00-05:00"}`,
		id, 1000+i%500, i%40, 10+i%90, 12+i%90)
}

// supBadLines are rejected by the example connector: code and line.
var supBadLines = []struct{ code, line string }{
	{"json_unknown_field", `{"count_id":"CC-bad-1","sku":"AF-1","location":"X","uom":"EA","counted":1,"counted_at":"2025-03-14T16:05:00-05:00","colour":"red"}`},
	{"json_syntax", "not json at all"},
	{"invalid_count", `{"count_id":"CC-bad-3","sku":"AF-1","location":"X","uom":"EA","counted":-4,"counted_at":"2025-03-14T16:05:00-05:00"}`},
}

// supWriteCountFile drops a file of n valid lines (ids CC-<from>…) with the bad
// lines spread through it, and returns its size and line count.
func supWriteCountFile(t *testing.T, dir, name string, from, n int) (size int64, lines int) {
	t.Helper()
	badAt := map[int]int{} // valid line index → the bad line written before it
	for k := range supBadLines {
		badAt[(k+1)*n/(len(supBadLines)+1)] = k
	}
	var b bytes.Buffer
	for i := range n {
		if k, ok := badAt[i]; ok {
			b.WriteString(supBadLines[k].line + "\n")
			lines++
		}
		b.WriteString(supCountLine(fmt.Sprintf("CC-%07d", from+i), i) + "\n")
		lines++
	}
	tmp := filepath.Join(dir, name+".tmp")
	if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
	return int64(b.Len()), lines
}

// supVerifyCounts checks the relay log: every count id in want exactly once
// from the example source, nothing else from it.
func supVerifyCounts(t *testing.T, lines []testenv.LogLine, want map[string]bool) {
	t.Helper()
	seen := map[string]int{}
	ids := map[string]bool{}
	var other, foreign, dups int
	for _, l := range lines {
		if l.Event.GetSource() != "urn:dray:MEM1:counts" {
			other++
			continue
		}
		if l.Site != "MEM1" || l.Event.GetSiteId() != "MEM1" {
			foreign++
		}
		id := l.Event.GetInventoryCounted().GetCountId()
		seen[id]++
		if seen[id] > 1 {
			dups++
		}
		if ids[l.Event.GetId()] {
			t.Errorf("event id %s twice in the relay log", l.Event.GetId())
		}
		ids[l.Event.GetId()] = true
	}
	missing, unexpected := 0, 0
	for id := range want {
		if seen[id] == 0 {
			missing++
			if missing <= 5 {
				t.Errorf("count %s missing from the relay log", id)
			}
		}
	}
	for id := range seen {
		if !want[id] {
			unexpected++
			if unexpected <= 5 {
				t.Errorf("count %s in the relay log was not expected", id)
			}
		}
	}
	if missing+unexpected+dups+foreign > 0 {
		t.Fatalf("relay log: %d count events; %d missing, %d unexpected, %d duplicated, %d foreign (of %d expected)",
			len(seen), missing, unexpected, dups, foreign, len(want))
	}
}

func supCountIDs(from, n int) map[string]bool {
	want := make(map[string]bool, n)
	for i := range n {
		want[fmt.Sprintf("CC-%07d", from+i)] = true
	}
	return want
}

// supProcsOf returns the live (not zombie) processes running binary bin.
func supProcsOf(bin string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink("/proc/" + e.Name() + "/exe")
		if err != nil || strings.TrimSuffix(exe, " (deleted)") != bin {
			continue
		}
		if stat, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil {
			s := string(stat)
			if i := strings.LastIndexByte(s, ')'); i > 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X') {
				continue
			}
		}
		out = append(out, pid)
	}
	return out
}

// supWaitNoProcs waits until no process runs bin.
func supWaitNoProcs(t *testing.T, bin string, within time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		left := supProcsOf(bin)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: connector processes %v still alive %v later (orphans)", what, left, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cli runs dray-agent with args against a's configuration and returns its
// stdout, stderr and exit code.
func supCLI(t *testing.T, env *testenv.Env, a *testenv.Agent, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.Bins.Agent, append(args, "--config", a.ConfigPath)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return stdout.String(), stderr.String(), ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), 0
}
