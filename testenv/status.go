package testenv

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"net/http"
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
