package chaos

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/draylink/dray/agent/quarantine"
	"github.com/draylink/dray/testenv/refsink"
	"github.com/draylink/dray/testenv/wmssim"
)

// SiteTruth is one site's ground truth and what its agent read.
type SiteTruth struct {
	Site    string
	Truth   *wmssim.Truth
	Reading wmssim.Reading
	// Quarantined is the agent's quarantine, located (see Locate).
	Quarantined []wmssim.Quarantined
}

// Counts are the sums over sites of wmssim.Count; all must be 0.
type Counts struct {
	Expected           int      `json:"expected"`
	Applied            int      `json:"applied"`
	Lost               int      `json:"lost"`
	Duplicated         int      `json:"duplicated"`
	Foreign            int      `json:"foreign"`
	WronglyQuarantined int      `json:"wronglyQuarantined"`
	BadAccepted        int      `json:"badAccepted"`
	BadMissed          int      `json:"badMissed"`
	Problems           []string `json:"problems,omitempty"`
}

// Bad is the sum of the counts that must be zero.
func (c Counts) Bad() int {
	return c.Lost + c.Duplicated + c.Foreign + c.WronglyQuarantined + c.BadAccepted + c.BadMissed
}

// Applied turns sink ledgers into the applied records Truth.Count reads:
// only outcome "applied" (a replay of a dropped response is "duplicate"
// and applies nothing).
func Applied(sink string, recs []refsink.Record) []wmssim.Applied {
	var out []wmssim.Applied
	for _, r := range recs {
		if r.Outcome == refsink.OutcomeApplied {
			out = append(out, wmssim.Applied{Sink: sink, Key: r.Key, EventID: r.EventID})
		}
	}
	return out
}

// CountSites counts several sites against the applied records of all
// sinks. Each applied record is given to the site whose ground truth
// knows its key or event id (as a fact or as a bad input's would-be
// event); a record no site knows is foreign.
func CountSites(sites []SiteTruth, applied []wmssim.Applied) Counts {
	owner := map[string]int{}
	for i, s := range sites {
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
	}
	per := make([][]wmssim.Applied, len(sites))
	var c Counts
	c.Applied = len(applied)
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
	for i, s := range sites {
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

// Quarantine reads an agent's whole quarantine.
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
	return nil, fmt.Errorf("quarantine of %s: too many pages", statusAddr)
}

// Locate turns an agent's quarantine records into the locations
// Truth.Count matches, from the connectors' reject references: the sql
// connector's "<entry>/<pk>" (records of sqlSource); the file-drop
// connector's "<file>:<line>[:<col>][ <ISA13=…;GS06=…;ST02=…> …]" — an
// X12 set when the reference names one, the whole file for an X12 file
// without a set, a CSV line otherwise.
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
