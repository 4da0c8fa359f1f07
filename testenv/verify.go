package testenv

import (
	"testing"

	"github.com/draylink/dray/agent/synthetic"
	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/wire"
)

// VerifySynthetic checks a relay log against a synthetic source that
// committed events 1..count for site: every event exactly once, nothing
// else, and each spool stream in the order the spool had it (the source
// commits in index order, so within a stream indexes must increase).
func VerifySynthetic(t testing.TB, lines []LogLine, site string, count uint64) {
	t.Helper()
	index := make(map[string]uint64, count)
	for i := uint64(1); i <= count; i++ {
		index[synthetic.EventID(site, i)] = i
	}
	seen := make(map[uint64]int, count)
	type streamID struct {
		epoch, lane string
		stream      uint32
	}
	last := map[streamID]uint64{}
	var missing, dups, foreign, disorder int
	for _, l := range lines {
		i, ok := index[l.Event.GetId()]
		if !ok || l.Site != site || l.Event.GetSiteId() != site {
			foreign++
			continue
		}
		seen[i]++
		if seen[i] > 1 {
			dups++
		}
		sid := streamID{l.Epoch, l.Lane, l.Stream}
		if l.Lane != wire.LaneName(l.Event.Lane()) {
			t.Errorf("event %d of lane %s arrived in lane %s", i, canonical.EnumName(l.Event.Lane()), l.Lane)
		}
		if i <= last[sid] {
			disorder++
			if disorder <= 5 {
				t.Errorf("event %d after event %d in stream %v of the relay log", i, last[sid], sid)
			}
		}
		last[sid] = i
	}
	for i := uint64(1); i <= count; i++ {
		if seen[i] == 0 {
			missing++
			if missing <= 5 {
				t.Errorf("event %d missing from the relay log", i)
			}
		}
	}
	if missing+dups+foreign+disorder > 0 {
		t.Fatalf("relay log: %d lines; %d missing, %d duplicated, %d foreign, %d out of order (of %d committed)",
			len(lines), missing, dups, foreign, disorder, count)
	}
}
