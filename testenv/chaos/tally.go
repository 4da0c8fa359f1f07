package chaos

import (
	"fmt"
	"sync"
)

// Tally counts, per class, the faults scheduled, those proved fired and
// those that were tried but could not be proved (with why).
type Tally struct {
	mu        sync.Mutex
	scheduled map[Class]int      // guarded by mu
	fired     map[Class]int      // guarded by mu
	unproved  map[Class][]string // guarded by mu
	evidence  map[Class][]string // guarded by mu
}

// NewTally starts a tally with the schedule's counts.
func NewTally(s *Schedule) *Tally {
	t := &Tally{scheduled: map[Class]int{}, fired: map[Class]int{}, unproved: map[Class][]string{}, evidence: map[Class][]string{}}
	for _, f := range s.Faults {
		t.scheduled[f.Class]++
	}
	return t
}

// Fired records n faults of c proved fired, with a line of evidence
// (kept for the first few).
func (t *Tally) Fired(c Class, n int, evidence string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.fired[c] += n
	if evidence != "" && len(t.evidence[c]) < 3 {
		t.evidence[c] = append(t.evidence[c], evidence)
	}
}

// Unproved records a fault of c that was injected (or tried) but whose
// effect was not seen.
func (t *Tally) Unproved(c Class, format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.unproved[c] = append(t.unproved[c], fmt.Sprintf(format, args...))
}

// ClassTally is one row of the report's fault table.
type ClassTally struct {
	Class     Class    `json:"class"`
	Scheduled int      `json:"scheduled"`
	Fired     int      `json:"fired"`
	Required  int      `json:"required"`
	Unproved  []string `json:"unproved,omitempty"`
	Evidence  []string `json:"evidence,omitempty"`
}

// OK reports whether enough faults were proved.
func (c ClassTally) OK() bool { return c.Fired >= c.Required }

// Rows returns the table for profile p: every class, then the totals the
// issue counts together.
func (t *Tally) Rows(p Profile) []ClassTally {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []ClassTally
	for _, c := range Classes {
		req := p.required(c)
		if c == AgentKill || c == AgentKillAfterCommit || c == PluginKill || c == PluginHang {
			req = 1 // each kind must fire at least once; the totals carry the minimums
		}
		out = append(out, ClassTally{Class: c, Scheduled: t.scheduled[c], Fired: t.fired[c], Required: req,
			Unproved: t.unproved[c], Evidence: t.evidence[c]})
	}
	sum := func(name Class, cs ...Class) ClassTally {
		r := ClassTally{Class: name, Required: p.required(name)}
		for _, c := range cs {
			r.Scheduled += t.scheduled[c]
			r.Fired += t.fired[c]
		}
		return r
	}
	out = append(out, sum(AgentKillsTotal, AgentKill, AgentKillAfterCommit), sum(PluginFaultsTotal, PluginKill, PluginHang))
	return out
}
