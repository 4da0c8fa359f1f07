package wmssim

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
)

// Reading says which sources a run's connectors read.
type Reading struct {
	Tables bool // the sql connector's table and tombstone entries (SQLConnectorConfig SQLTables)
	Outbox bool // its outbox entry (SQLOutbox)
	CSV    bool // the file-drop CSV inbox
	X12    bool // the file-drop X12 inbox(es)
}

func (r Reading) reads(src string) bool {
	switch src {
	case "table", "tombstone":
		return r.Tables
	case "outbox":
		return r.Outbox
	case "csv":
		return r.CSV
	case "x12":
		return r.X12
	}
	return false
}

// Applied is a ledger record a sink applied (refsink outcome "applied").
type Applied struct {
	Sink    string // e.g. "erp"
	Key     string // the Idempotency-Key
	EventID string // the event id, when the ledger has it
}

// Quarantined is a reject or quarantined file, located the way the
// connectors locate them: Record for the sql connector ("<entry>/<pk>",
// "outbox/<id>"), File (base name) and Line for a CSV record, File and Set
// ("ISA13=…;GS06=…;ST02=…") for an X12 set, File alone for a whole file.
type Quarantined struct {
	Record string
	File   string
	Line   int
	Set    string
}

// Count is what Truth.Count found; every field but Expected must be 0.
type Count struct {
	Expected           int // fact deliveries expected (fact × sink)
	Lost               int // expected deliveries never applied
	Duplicated         int // applications beyond the first
	Foreign            int // applications that match no fact and no bad input
	WronglyQuarantined int // quarantined records that were good
	BadAccepted        int // applications of a bad input's would-be event
	BadMissed          int // bad inputs (in read sources) never quarantined
	// Problems describes each nonzero count's cases (the first 20 each).
	Problems []string
}

// Count computes, for a run whose connectors read r, the counts of
// docs/RELIABILITY.md from the sinks' applied records and the quarantine,
// with the rules in the package documentation ("Counting with it").
func (t *Truth) Count(r Reading, applied []Applied, quarantined []Quarantined) Count {
	var c Count
	shown := map[string]int{}
	problem := func(kind, format string, args ...any) {
		if shown[kind] < 20 {
			shown[kind]++
			c.Problems = append(c.Problems, kind+": "+fmt.Sprintf(format, args...))
		}
	}
	// Keys: expected (fact, keys) and optional ones.
	type want struct {
		f    *Record
		keys []string
	}
	var wants []want
	known := map[string]bool{} // keys and event ids of facts, optional ones included
	for _, f := range t.Facts {
		var keys []string
		for _, v := range f.Via {
			k := f.Key
			if v.Key != "" {
				k = v.Key
			}
			known[k], known[v.EventID] = true, true
			if !r.reads(v.Src) || t.Superseded(v) {
				continue
			}
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		if len(keys) > 0 {
			wants = append(wants, want{f, keys})
		}
	}
	bad := map[string]*Record{} // would-be key or event id → bad input
	for _, b := range t.Bad {
		for _, w := range b.WouldBe {
			bad[w.Key], bad[w.EventID] = b, b
		}
	}
	bySinkKey := map[string]int{}
	for _, a := range applied {
		bySinkKey[a.Sink+"\x00"+a.Key]++
		switch {
		case known[a.Key] || known[a.EventID]:
		case bad[a.Key] != nil || bad[a.EventID] != nil:
			c.BadAccepted++
			b := bad[a.Key]
			if b == nil {
				b = bad[a.EventID]
			}
			problem("bad accepted", "%s (%s) applied at %s", b.ID, b.Category, a.Sink)
		default:
			c.Foreign++
			problem("foreign", "key %s event %s at %s", a.Key, a.EventID, a.Sink)
		}
	}
	for _, w := range wants {
		for _, sink := range w.f.Sinks {
			c.Expected++
			n := 0
			for _, k := range w.keys {
				n += bySinkKey[sink+"\x00"+k]
			}
			switch {
			case n == 0:
				c.Lost++
				problem("lost", "%s %s %s at %s", w.f.ID, w.f.Type, w.f.Subject, sink)
			case n > 1:
				c.Duplicated += n - 1
				problem("duplicated", "%s %s %s applied %d times at %s", w.f.ID, w.f.Type, w.f.Subject, n, sink)
			}
		}
	}
	// Quarantine: index the places of facts and of bad inputs.
	place := func(v Via) []string {
		switch v.Src {
		case "table", "tombstone", "outbox":
			return []string{"r|" + v.RecordKey}
		case "csv":
			return []string{fmt.Sprintf("l|%s|%d", filepath.Base(v.Path), v.Line), "f|" + filepath.Base(v.Path)}
		case "x12":
			return []string{"s|" + filepath.Base(v.Path) + "|" + v.Ref, "f|" + filepath.Base(v.Path)}
		}
		return nil
	}
	goodAt := map[string][]*Record{}
	for _, f := range t.Facts {
		for _, v := range f.Via {
			if r.reads(v.Src) {
				for _, p := range place(v) {
					goodAt[p] = append(goodAt[p], f)
				}
			}
		}
	}
	badAt := map[string][]*Record{}
	for _, b := range t.Bad {
		for _, v := range b.Where {
			if !r.reads(v.Src) {
				continue
			}
			ps := place(v)
			if b.Scope == "file" {
				ps = ps[len(ps)-1:]
			} else {
				ps = ps[:1]
			}
			badAt[ps[0]] = append(badAt[ps[0]], b)
		}
	}
	// Rows whose key is NULL share one location, so locations are
	// matched by count: n quarantine entries where there are m bad inputs
	// catch min(n, m) of them.
	seen := map[string]int{}
	for _, q := range quarantined {
		var p string
		switch {
		case q.Record != "":
			p = "r|" + q.Record
		case q.Line > 0:
			p = fmt.Sprintf("l|%s|%d", filepath.Base(q.File), q.Line)
		case q.Set != "":
			p = "s|" + filepath.Base(q.File) + "|" + q.Set
		default:
			p = "f|" + filepath.Base(q.File)
		}
		seen[p]++
		if len(badAt[p]) > 0 {
			continue
		}
		for _, f := range goodAt[p] {
			c.WronglyQuarantined++
			problem("wrongly quarantined", "%s %s %s at %s", f.ID, f.Type, f.Subject, p[2:])
		}
	}
	var missed []string
	for p, bs := range badAt {
		for _, b := range bs[min(seen[p], len(bs)):] {
			missed = append(missed, b.ID+" ("+b.Category+") at "+p[2:])
		}
	}
	sort.Strings(missed)
	c.BadMissed = len(missed)
	for _, m := range missed {
		problem("bad missed", "%s", m)
	}
	return c
}
