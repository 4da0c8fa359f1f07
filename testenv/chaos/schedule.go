package chaos

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Fault is one scheduled fault.
type Fault struct {
	// At is the offset from the start of the fault phase.
	At time.Duration
	Class
	// Target is the agent index (agent, plugin, link and disk faults), or
	// the sink index (sink outages); 0 for the relay.
	Target int
	// Plugin names the plugin of a plugin fault (sql or filedrop).
	Plugin string
	// For is how long a window fault lasts (partition, packet loss, hang,
	// disk full, outage).
	For time.Duration
}

func (f Fault) String() string {
	s := fmt.Sprintf("%8s %-24s", f.At.Round(100*time.Millisecond), f.Class)
	switch f.Class {
	case RelayKill:
		s += " relay"
	case SinkOutage:
		s += fmt.Sprintf(" sink %d", f.Target)
	default:
		s += fmt.Sprintf(" agent %d", f.Target)
	}
	if f.Plugin != "" {
		s += " " + f.Plugin
	}
	if f.For > 0 {
		s += " for " + f.For.Round(100*time.Millisecond).String()
	}
	return s
}

// Layout is what a schedule is made for.
type Layout struct {
	Agents int
	// SmallDisk is the index of the agent on the small file system.
	SmallDisk int
	// Plugins are the plugin names each agent runs.
	Plugins []string
	Sinks   int
}

// Schedule is a seeded fault schedule.
type Schedule struct {
	Seed   uint64
	Faults []Fault // sorted by At
}

// NewSchedule draws the schedule of profile p for layout l from seed.
// Faults on one target never overlap: each target's faults are laid out
// one after the other with random gaps, so a kill never lands on a
// process that is still down from the previous one, and windows on one
// link or disk do not nest.
func NewSchedule(seed uint64, p Profile, l Layout) (*Schedule, error) {
	if l.Agents < 1 || l.Sinks < 1 || len(l.Plugins) == 0 || l.SmallDisk < 0 || l.SmallDisk >= l.Agents {
		return nil, fmt.Errorf("schedule: bad layout %+v", l)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x5deece66d)) //nolint:gosec // a reproducible schedule, not a secret
	from, until := p.Warmup, p.Duration-p.Cooldown
	if until <= from {
		return nil, fmt.Errorf("schedule: profile %s leaves no time for faults", p.Name)
	}
	span := until - from
	uniform := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo)+1)) }
	var out []Fault
	// spread lays n faults of the given kinds over [from, until) on one
	// target, each taking its window plus a settle time, in random order.
	spread := func(kinds []Fault, settle time.Duration) {
		n := len(kinds)
		if n == 0 {
			return
		}
		var busy time.Duration
		for _, k := range kinds {
			busy += k.For + settle
		}
		free := span - busy
		if free < 0 {
			free = 0
		}
		// Random gaps that sum to free: n+1 cut points.
		cuts := make([]time.Duration, n)
		for i := range cuts {
			cuts[i] = time.Duration(rng.Int64N(int64(free) + 1))
		}
		slices.Sort(cuts)
		rng.Shuffle(n, func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
		var used time.Duration
		for i, k := range kinds {
			k.At = from + cuts[i] + used
			used += k.For + settle
			out = append(out, k)
		}
	}
	split := func(total, parts, i int) int { return total/parts + btoi(i < total%parts) }
	// Agents: kills of both kinds and plugin faults, per agent.
	for a := range l.Agents {
		var ks []Fault
		for range split(p.Scheduled[AgentKill], l.Agents, a) {
			ks = append(ks, Fault{Class: AgentKill, Target: a})
		}
		for range split(p.Scheduled[AgentKillAfterCommit], l.Agents, a) {
			ks = append(ks, Fault{Class: AgentKillAfterCommit, Target: a})
		}
		for i := range split(p.Scheduled[PluginKill], l.Agents, a) {
			ks = append(ks, Fault{Class: PluginKill, Target: a, Plugin: l.Plugins[(a+i)%len(l.Plugins)]})
		}
		for i := range split(p.Scheduled[PluginHang], l.Agents, a) {
			ks = append(ks, Fault{Class: PluginHang, Target: a, Plugin: l.Plugins[(a+i+1)%len(l.Plugins)], For: uniform(2*time.Second, 8*time.Second)})
		}
		spread(ks, 3*time.Second)
		// The link: partitions 5–20 s and packet-loss windows 10–30 s.
		var ls []Fault
		for range split(p.Scheduled[Partition], l.Agents, a) {
			ls = append(ls, Fault{Class: Partition, Target: a, For: uniform(5*time.Second, 20*time.Second)})
		}
		for range split(p.Scheduled[PacketLoss], l.Agents, a) {
			ls = append(ls, Fault{Class: PacketLoss, Target: a, For: uniform(10*time.Second, 30*time.Second)})
		}
		spread(ls, 5*time.Second)
	}
	var ds []Fault
	for range p.Scheduled[DiskFull] {
		ds = append(ds, Fault{Class: DiskFull, Target: l.SmallDisk, For: uniform(8*time.Second, 20*time.Second)})
	}
	spread(ds, 10*time.Second)
	var rs []Fault
	for range p.Scheduled[RelayKill] {
		rs = append(rs, Fault{Class: RelayKill})
	}
	spread(rs, 4*time.Second)
	for s := range l.Sinks {
		var ss []Fault
		for range split(p.Scheduled[SinkOutage], l.Sinks, s) {
			// Long enough that a request arrives even at the TMS, which
			// gets few events.
			ss = append(ss, Fault{Class: SinkOutage, Target: s, For: uniform(6*time.Second, 18*time.Second)})
		}
		spread(ss, 5*time.Second)
	}
	slices.SortStableFunc(out, func(a, b Fault) int { return int(a.At - b.At) })
	return &Schedule{Seed: seed, Faults: out}, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Count is the number of scheduled faults of class c.
func (s *Schedule) Count(c Class) int {
	n := 0
	for _, f := range s.Faults {
		if f.Class == c {
			n++
		}
	}
	return n
}

// String lists the schedule, one fault a line.
func (s *Schedule) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "schedule (seed %d, %d faults)\n", s.Seed, len(s.Faults))
	for _, f := range s.Faults {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	return b.String()
}
