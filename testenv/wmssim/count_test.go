package wmssim

import (
	"path/filepath"
	"slices"
	"testing"
)

// TestCount checks Truth.Count on the shared run: a perfect delivery and
// quarantine count zero, and each kind of fault is counted once.
func TestCount(t *testing.T) {
	_, _, tr := shared(t)
	all := Reading{Tables: true, Outbox: true, CSV: true, X12: true}
	var applied []Applied
	for _, f := range tr.Facts {
		readable := false
		for _, v := range f.Via {
			if !tr.Superseded(v) {
				readable = true
			}
		}
		if readable {
			for _, s := range f.Sinks {
				applied = append(applied, Applied{Sink: s, Key: f.Key})
			}
		}
	}
	var quar []Quarantined
	for _, b := range tr.Bad {
		for _, w := range b.Where {
			switch {
			case w.Src == "table" || w.Src == "outbox":
				quar = append(quar, Quarantined{Record: w.RecordKey})
			case b.Scope == "file":
				quar = append(quar, Quarantined{File: filepath.Base(w.Path)})
			case w.Src == "csv":
				quar = append(quar, Quarantined{File: filepath.Base(w.Path), Line: w.Line})
			default:
				quar = append(quar, Quarantined{File: filepath.Base(w.Path), Set: w.Ref})
			}
		}
	}
	if c := tr.Count(all, applied, quar); c.Lost+c.Duplicated+c.Foreign+c.WronglyQuarantined+c.BadAccepted+c.BadMissed != 0 || c.Expected < 10000 {
		t.Fatalf("perfect run counted %+v", c)
	}

	var goodCSV Quarantined
	for _, f := range tr.Facts {
		for _, v := range f.Via {
			if v.Src == "csv" && goodCSV.File == "" {
				goodCSV = Quarantined{File: filepath.Base(v.Path), Line: v.Line}
			}
		}
	}
	var badKey string
	for _, b := range tr.Bad {
		if len(b.WouldBe) > 0 {
			badKey = b.WouldBe[0].Key
			break
		}
	}
	faulty := append(slices.Clone(applied[1:]), applied[5], Applied{Sink: "erp", Key: badKey}, Applied{Sink: "tms", Key: "nobody"})
	c := tr.Count(all, faulty, append(slices.Clone(quar[1:]), goodCSV))
	if got := [6]int{c.Lost, c.Duplicated, c.Foreign, c.WronglyQuarantined, c.BadAccepted, c.BadMissed}; got != [6]int{1, 1, 1, 1, 1, 1} {
		t.Errorf("faults counted lost, duplicated, foreign, wrongly quarantined, bad accepted, bad missed = %v; want one each\n%v", got, c.Problems)
	}

	// Reading only the X12 files expects only facts with an X12 via.
	c = tr.Count(Reading{X12: true}, nil, nil)
	n := 0
	for _, f := range tr.Facts {
		for _, v := range f.Via {
			if v.Src == "x12" {
				n += len(f.Sinks)
				break
			}
		}
	}
	if c.Expected != n || c.Lost != n {
		t.Errorf("X12 only: %d expected, %d lost; want %d", c.Expected, c.Lost, n)
	}
}
