package testenv

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// AgentStatus is the part of an agent's /status the tests read.
type AgentStatus struct {
	Site  string `json:"site"`
	Spool struct {
		Paused  string `json:"Paused"`
		Streams []struct {
			Head uint64 `json:"Head"`
			Next uint64 `json:"Next"`
		} `json:"Streams"`
	} `json:"spool"`
	Sources []struct {
		Name   string `json:"name"`
		Cursor string `json:"cursor"`
	} `json:"sources"`
}

// Pending is the number of events in the spool not yet acknowledged.
func (s *AgentStatus) Pending() uint64 {
	var n uint64
	for _, st := range s.Spool.Streams {
		n += st.Next - st.Head
	}
	return n
}

// SyntheticPosition is the last index the named synthetic source committed.
func (s *AgentStatus) SyntheticPosition(name string) uint64 {
	for _, src := range s.Sources {
		if src.Name == name {
			b, err := hex.DecodeString(src.Cursor)
			if err == nil && len(b) == 8 {
				return binary.BigEndian.Uint64(b)
			}
		}
	}
	return 0
}

// Status fetches the agent's /status (nil when it does not answer).
func (a *Agent) Status() *AgentStatus {
	if a.Config.Status.Listen == "" {
		a.env.t.Fatal("agent has no status endpoint configured")
	}
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + a.Config.Status.Listen + "/status")
	if err != nil {
		return nil
	}
	defer func() { _ = resp.Body.Close() }()
	var st AgentStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil
	}
	return &st
}

// WaitDrained waits until the synthetic source named src has committed
// count events and the spool holds nothing unacknowledged.
func (a *Agent) WaitDrained(src string, count uint64, timeout time.Duration) {
	a.env.t.Helper()
	Eventually(a.env.t, timeout, 200*time.Millisecond, a.Name+" to commit and drain", func() bool {
		if !a.Proc.Running() {
			a.env.t.Fatalf("%s exited:\n%s", a.Name, a.Proc.Log())
		}
		st := a.Status()
		return st != nil && st.SyntheticPosition(src) == count && st.Pending() == 0
	})
}

// Metrics scrapes the agent's GET /metrics (see Scrape).
func (a *Agent) Metrics() map[string]float64 {
	a.env.t.Helper()
	if a.Config.Status.Listen == "" {
		a.env.t.Fatal("agent has no status endpoint configured")
	}
	return Scrape(a.env.t, "http://"+a.Config.Status.Listen+"/metrics", "")
}

// Scrape reads a Prometheus text exposition from url (with a bearer token
// unless token is "") and returns each sample by its name and labels as
// written, e.g. `dray_relay_sink_events_total{outcome="delivered",sink="erp"}`.
func Scrape(t testing.TB, url, token string) map[string]float64 {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s: %s", url, resp.Status, body)
	}
	out := map[string]float64{}
	for line := range strings.Lines(string(body)) {
		line = strings.TrimSpace(line)
		i := strings.LastIndexByte(line, ' ')
		if line == "" || line[0] == '#' || i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("scrape %s: line %q: %v", url, line, err)
		}
		out[line[:i]] = v
	}
	return out
}
