package stack

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/draylink/dray/agent/quarantine"
	"github.com/draylink/dray/testenv/refsink"
	"github.com/draylink/dray/testenv/wmssim"
)

// Evidence is everything a count needs, read from the running stack once
// it has settled: each site's ground truth and quarantine, and both sinks'
// ledgers. It is plain data, so a test can alter it (drop a ledger record)
// to prove the count would notice.
type Evidence struct {
	Sites []SiteEvidence
	// Ledgers are the sinks' whole ledgers by sink name.
	Ledgers map[string][]refsink.Record
	// DeadLetters counts the relay's dead letters by sink name.
	DeadLetters map[string]int
}

// SiteEvidence is one site's ground truth and what its agent refused.
type SiteEvidence struct {
	Site    string
	Truth   *wmssim.Truth
	Reading wmssim.Reading
	// Quarantine is the agent's whole quarantine; Quarantined the same
	// records located as Truth.Count matches them (Locate).
	Quarantine  []quarantine.Summary
	Quarantined []wmssim.Quarantined
}

// Counts are the sums over sites of wmssim.Count (docs/RELIABILITY.md);
// every field but Expected, Applied and the informational ones must be 0.
type Counts struct {
	Expected           int `json:"expected"`
	Applied            int `json:"applied"`
	Lost               int `json:"lost"`
	Duplicated         int `json:"duplicated"`
	Foreign            int `json:"foreign"`
	WronglyQuarantined int `json:"wronglyQuarantined"`
	BadAccepted        int `json:"badAccepted"`
	BadMissed          int `json:"badMissed"`
	// Quarantined counts the agents' quarantine records, BadInputs the
	// bad inputs the simulators wrote (informational).
	Quarantined int `json:"quarantined"`
	BadInputs   int `json:"badInputs"`
	// Problems describes the cases behind nonzero counts (the first 20 of
	// each kind per site).
	Problems []string `json:"problems,omitempty"`
}

// Bad is the sum of the counts that must be zero.
func (c Counts) Bad() int {
	return c.Lost + c.Duplicated + c.Foreign + c.WronglyQuarantined + c.BadAccepted + c.BadMissed
}

// Collect reads the evidence from a settled stack (see Settle): the ground
// truth files, the agents' quarantines over their status endpoints, the
// sinks' ledgers and the relay's dead-letter counts. The agents, relay and
// sinks must be running.
func (s *Stack) Collect(ctx context.Context) (*Evidence, error) {
	ev := &Evidence{Ledgers: map[string][]refsink.Record{}, DeadLetters: map[string]int{}}
	for _, site := range s.Sites {
		tr, err := wmssim.ReadTruth(site.TruthPath)
		if err != nil {
			return nil, fmt.Errorf("site %s: %w", site.ID, err)
		}
		q, err := Quarantine(ctx, site.StatusAddr)
		if err != nil {
			return nil, err
		}
		loc, err := Locate(q, SQLName)
		if err != nil {
			return nil, err
		}
		ev.Sites = append(ev.Sites, SiteEvidence{Site: site.ID, Truth: tr, Reading: Reading, Quarantine: q, Quarantined: loc})
	}
	for _, k := range []*Sink{s.ERP, s.TMS} {
		recs, err := k.ledger(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s ledger: %w", k.Name, err)
		}
		ev.Ledgers[k.Name] = recs
	}
	list, err := s.Relay.Admin.Sinks(ctx)
	if err != nil {
		return nil, fmt.Errorf("relay admin API: %w", err)
	}
	for _, l := range list {
		ev.DeadLetters[l.Name] = l.DeadLetters
	}
	return ev, nil
}

// Count counts the evidence with wmssim's rules: each applied ledger
// record goes to the site whose ground truth knows its key or event id (a
// record no site knows is foreign), and each site is counted with
// Truth.Count.
func (ev *Evidence) Count() Counts {
	var c Counts
	var applied []wmssim.Applied
	for _, name := range slices.Sorted(maps.Keys(ev.Ledgers)) {
		applied = append(applied, Applied(name, ev.Ledgers[name])...)
	}
	c.Applied = len(applied)
	owner := map[string]int{}
	for i, s := range ev.Sites {
		for _, f := range s.Truth.Facts {
			owner[f.Key] = i
			for _, v := range f.Via {
				if v.Key != "" {
					owner[v.Key] = i
				}
				if v.EventID != "" {
					owner[v.EventID] = i
				}
			}
		}
		for _, b := range s.Truth.Bad {
			for _, w := range b.WouldBe {
				owner[w.Key] = i
				if w.EventID != "" {
					owner[w.EventID] = i
				}
			}
		}
		c.Quarantined += len(s.Quarantined)
		c.BadInputs += len(s.Truth.Bad)
	}
	per := make([][]wmssim.Applied, len(ev.Sites))
	for _, a := range applied {
		i, ok := owner[a.Key]
		if !ok {
			i, ok = owner[a.EventID]
		}
		if !ok {
			c.Foreign++
			if c.Foreign <= 20 {
				c.Problems = append(c.Problems, fmt.Sprintf("foreign: key %s event %s at %s belongs to no site", a.Key, a.EventID, a.Sink))
			}
			continue
		}
		per[i] = append(per[i], a)
	}
	for i, s := range ev.Sites {
		n := s.Truth.Count(s.Reading, per[i], s.Quarantined)
		c.Expected += n.Expected
		c.Lost += n.Lost
		c.Duplicated += n.Duplicated
		c.Foreign += n.Foreign
		c.WronglyQuarantined += n.WronglyQuarantined
		c.BadAccepted += n.BadAccepted
		c.BadMissed += n.BadMissed
		for _, p := range n.Problems {
			c.Problems = append(c.Problems, s.Site+" "+p)
		}
	}
	return c
}

// Applied turns a sink's ledger into the applied records Truth.Count
// reads: only outcome "applied" (a replay of a request whose response was
// lost is "duplicate" and applies nothing).
func Applied(sink string, recs []refsink.Record) []wmssim.Applied {
	var out []wmssim.Applied
	for _, r := range recs {
		if r.Outcome == refsink.OutcomeApplied {
			out = append(out, wmssim.Applied{Sink: sink, Key: r.Key, EventID: r.EventID})
		}
	}
	return out
}

// Quarantine reads an agent's whole quarantine from its status endpoint.
func Quarantine(ctx context.Context, statusAddr string) ([]quarantine.Summary, error) {
	c := &quarantine.Client{Base: "http://" + statusAddr}
	var out []quarantine.Summary
	after := ""
	for range 100000 {
		l, err := c.List(ctx, quarantine.Filter{After: after, Limit: 1000})
		if err != nil {
			return nil, fmt.Errorf("quarantine of %s: %w", statusAddr, err)
		}
		out = append(out, l.Records...)
		if l.Next == "" || len(l.Records) == 0 {
			return out, nil
		}
		after = l.Next
	}
	return nil, fmt.Errorf("quarantine of %s: more than 100000 pages", statusAddr)
}

// Locate turns an agent's quarantine records into the locations
// Truth.Count matches, from the connectors' reject references: the sql
// connector's "<entry>/<pk>" (records of the connector named sqlSource);
// the file-drop connector's "<file>:<line>[:<col>][ <ISA13=…;GS06=…;ST02=…> …]"
// — an X12 set when the reference names one, the whole file for an X12
// file without a set, a CSV line otherwise.
func Locate(recs []quarantine.Summary, sqlSource string) ([]wmssim.Quarantined, error) {
	out := make([]wmssim.Quarantined, 0, len(recs))
	for _, r := range recs {
		if r.Source == sqlSource {
			out = append(out, wmssim.Quarantined{Record: r.Ref})
			continue
		}
		head, rest, _ := strings.Cut(r.Ref, " ")
		parts := strings.Split(head, ":")
		q := wmssim.Quarantined{File: filepath.Base(parts[0])}
		if i := strings.Index(rest, "ISA13="); i >= 0 {
			set, _, _ := strings.Cut(rest[i:], " ")
			q.Set = set
		} else if ext := filepath.Ext(q.File); ext != ".edi" && ext != ".x12" && len(parts) > 1 {
			n, err := strconv.Atoi(parts[1])
			if err != nil {
				return nil, fmt.Errorf("quarantine record %s (%s): reference %q: bad line", r.ID, r.Code, r.Ref)
			}
			q.Line = n
		}
		out = append(out, q)
	}
	return out, nil
}

// Settle waits, after the simulators have stopped, until the stack has
// nothing left in flight: every inbox emptied, every spool drained, the
// relay's lag zero for every sink, and no counter moved for quiet (the sql
// connector reads rows only once they are older than its commit-lag
// window, so quiet should exceed it; SettleQuiet). It gives up after max.
func (s *Stack) Settle(ctx context.Context, quiet, max time.Duration) (Progress, error) {
	deadline := time.Now().Add(max)
	var last Progress
	var stableSince time.Time
	key := func(p *Progress) string {
		var b strings.Builder
		for _, site := range p.Sites {
			fmt.Fprintf(&b, "%d/%d/%d/%d|", site.Read, site.Quarantined, site.Spooled, site.Acked)
		}
		for _, k := range p.Sinks {
			fmt.Fprintf(&b, "%d/%d/%d/%d/%d|", k.Applied, k.Replayed, k.Rejected, k.DeadLetters, k.FactSkips)
		}
		return b.String()
	}
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		p := s.Progress(ctx)
		settled := p.Done() && s.inboxesEmpty()
		if !settled || key(&p) != key(&last) {
			stableSince = time.Time{}
		} else if stableSince.IsZero() {
			stableSince = p.At
		}
		last = p
		if !stableSince.IsZero() && p.At.Sub(stableSince) >= quiet {
			return p, nil
		}
		if time.Now().After(deadline) {
			return p, fmt.Errorf("the stack did not settle within %s:\n%s", max, p.Format(nil))
		}
		select {
		case <-ctx.Done():
			return p, ctx.Err()
		case <-t.C:
		}
	}
}

// SettleQuiet is the quiet time Settle needs for the simulators'
// configuration: longer than the sql connector's commit-lag window.
func (s *Stack) SettleQuiet() time.Duration {
	q := 5 * time.Second
	for _, site := range s.Sites {
		c := site.SimConfig
		c.SetDefaults()
		// SQLConnectorConfig's lag is 2 × long_txn_delay + 2 s.
		q = max(q, 2*c.Process.LongTxnDelay.D()+4*time.Second)
	}
	return q
}

func (s *Stack) inboxesEmpty() bool {
	for _, site := range s.Sites {
		for _, d := range site.DropDirs {
			entries, err := readDirNames(d)
			if err != nil || len(entries) > 0 {
				return false
			}
		}
	}
	return true
}

// readDirNames lists the files waiting in an inbox and in the file-drop
// connector's work directory beside it (dot files, a producer's
// temporaries, do not count).
func readDirNames(inbox string) ([]string, error) {
	var out []string
	for _, d := range []string{inbox, filepath.Join(filepath.Dir(inbox), "work")} {
		entries, err := os.ReadDir(d)
		if errors.Is(err, os.ErrNotExist) && d != inbox {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), ".") {
				out = append(out, e.Name())
			}
		}
	}
	return out, nil
}
