package relaylog

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/draylink/dray/canonical"
)

const (
	op   = canonical.LaneOperational
	bulk = canonical.LaneBulk
)

// wantID is the id of the test event of site made from key.
func wantID(site, key string) string {
	return canonical.EventID(site, "urn:dray:"+site+":wms-db", key, "")
}

func TestAppend(t *testing.T) {
	b := func(site, epoch string, lane canonical.Lane, stream uint32, first uint64, ks ...string) *Incoming {
		return batch(t, site, epoch, lane, stream, first, ks...)
	}
	stored := func(n int, first uint64) Result { return Result{Outcome: Stored, Stored: n, FirstSeq: first} }
	withDropped := func(in *Incoming, through uint64) *Incoming { in.Header.DroppedThrough = through; return in }
	withForeign := func(in *Incoming, i int) *Incoming {
		in.Events = slices.Clone(in.Events)
		in.Events[i] = cachedEvent(t, "ATL2", "foreign")
		return in
	}

	type step struct {
		batches []*Incoming
		want    []Result
	}
	tests := []struct {
		name  string
		steps []step
		// want is the log's content, as (site, key) of each event in order.
		want    [][2]string
		wantHWM map[streamKey]uint64
	}{{
		name:    "new stream",
		steps:   []step{{[]*Incoming{b("MEM1", "e1", op, 1, 1, "a", "b", "c")}, []Result{stored(3, 1)}}},
		want:    [][2]string{{"MEM1", "a"}, {"MEM1", "b"}, {"MEM1", "c"}},
		wantHWM: map[streamKey]uint64{{"MEM1", "e1", op, 1}: 3},
	}, {
		name: "duplicate batch and duplicate tail",
		steps: []step{
			{[]*Incoming{b("MEM1", "e1", op, 1, 1, "a", "b", "c")}, []Result{stored(3, 1)}},
			{[]*Incoming{b("MEM1", "e1", op, 1, 1, "a", "b", "c")}, []Result{{Outcome: Duplicate, SkippedSeq: 3}}},
			{[]*Incoming{b("MEM1", "e1", op, 1, 2, "b", "c")}, []Result{{Outcome: Duplicate, SkippedSeq: 2}}},
		},
		want:    [][2]string{{"MEM1", "a"}, {"MEM1", "b"}, {"MEM1", "c"}},
		wantHWM: map[streamKey]uint64{{"MEM1", "e1", op, 1}: 3},
	}, {
		name: "gap is refused with the expected sequence",
		steps: []step{
			{[]*Incoming{b("MEM1", "e1", op, 1, 2, "b")}, []Result{{Outcome: Gap, Expected: 1}}},
			{[]*Incoming{b("MEM1", "e1", op, 1, 1, "a")}, []Result{stored(1, 1)}},
			{[]*Incoming{b("MEM1", "e1", op, 1, 3, "c", "d")}, []Result{{Outcome: Gap, Expected: 2}}},
		},
		want:    [][2]string{{"MEM1", "a"}},
		wantHWM: map[streamKey]uint64{{"MEM1", "e1", op, 1}: 1},
	}, {
		name: "overlap stores the new part",
		steps: []step{
			{[]*Incoming{b("MEM1", "e1", op, 1, 1, "a", "b", "c")}, []Result{stored(3, 1)}},
			{[]*Incoming{b("MEM1", "e1", op, 1, 2, "b", "c", "d", "e")}, []Result{{Outcome: Stored, Stored: 2, SkippedSeq: 2, FirstSeq: 4}}},
		},
		want:    [][2]string{{"MEM1", "a"}, {"MEM1", "b"}, {"MEM1", "c"}, {"MEM1", "d"}, {"MEM1", "e"}},
		wantHWM: map[streamKey]uint64{{"MEM1", "e1", op, 1}: 5},
	}, {
		name: "gap announced by the drop policy is accepted",
		steps: []step{
			{[]*Incoming{b("MEM1", "e1", bulk, 1, 1, "a", "b")}, []Result{stored(2, 1)}},
			{[]*Incoming{withDropped(b("MEM1", "e1", bulk, 1, 6, "f", "g"), 5)}, []Result{{Outcome: Stored, Stored: 2, FirstSeq: 3, Dropped: 3}}},
			{[]*Incoming{b("MEM1", "e1", bulk, 1, 8, "h")}, []Result{stored(1, 5)}},
		},
		want:    [][2]string{{"MEM1", "a"}, {"MEM1", "b"}, {"MEM1", "f"}, {"MEM1", "g"}, {"MEM1", "h"}},
		wantHWM: map[streamKey]uint64{{"MEM1", "e1", bulk, 1}: 8},
	}, {
		name: "drop announcement that does not meet the batch is a gap",
		steps: []step{
			{[]*Incoming{b("MEM1", "e1", bulk, 1, 1, "a")}, []Result{stored(1, 1)}},
			{[]*Incoming{withDropped(b("MEM1", "e1", bulk, 1, 6, "f"), 4)}, []Result{{Outcome: Gap, Expected: 2}}},
		},
		want:    [][2]string{{"MEM1", "a"}},
		wantHWM: map[streamKey]uint64{{"MEM1", "e1", bulk, 1}: 1},
	}, {
		name: "an event of another site rejects the whole batch",
		steps: []step{
			{[]*Incoming{withForeign(b("MEM1", "e1", op, 1, 1, "a", "b", "c"), 1)}, []Result{{Outcome: Rejected, Reason: `names site "ATL2"`}}},
			{[]*Incoming{b("MEM1", "e1", op, 1, 1, "a", "b", "c")}, []Result{stored(3, 1)}},
		},
		want:    [][2]string{{"MEM1", "a"}, {"MEM1", "b"}, {"MEM1", "c"}},
		wantHWM: map[streamKey]uint64{{"MEM1", "e1", op, 1}: 3},
	}, {
		name: "a foreign event in the overlap still rejects",
		steps: []step{
			{[]*Incoming{b("MEM1", "e1", op, 1, 1, "a")}, []Result{stored(1, 1)}},
			{[]*Incoming{withForeign(b("MEM1", "e1", op, 1, 1, "a", "b"), 0)}, []Result{{Outcome: Rejected, Reason: "ATL2"}}},
		},
		want:    [][2]string{{"MEM1", "a"}},
		wantHWM: map[streamKey]uint64{{"MEM1", "e1", op, 1}: 1},
	}, {
		name: "malformed batches are rejected",
		steps: []step{{
			[]*Incoming{
				func() *Incoming { in := b("MEM1", "e1", op, 1, 1, "a", "b"); in.Header.Last = 3; return in }(),
				func() *Incoming { in := b("MEM1", "e1", op, 1, 1, "a"); in.Events[0] = []byte{0xff}; return in }(),
				func() *Incoming { in := b("MEM1", "", op, 1, 1, "a"); return in }(),
				func() *Incoming {
					in := b("MEM1", "e1", op, 1, 1, "a")
					in.Header.First, in.Header.Last = 0, 0
					return in
				}(),
				nil,
			},
			[]Result{
				{Outcome: Rejected, Reason: "announces 3 events"},
				{Outcome: Rejected, Reason: "peek event"},
				{Outcome: Rejected, Reason: "epoch"},
				{Outcome: Rejected, Reason: "starts at 0"},
				{Outcome: Rejected, Reason: "nil batch"},
			},
		}},
		wantHWM: map[streamKey]uint64{},
	}, {
		name: "batches of one stream in one call see each other",
		steps: []step{{
			[]*Incoming{
				b("MEM1", "e1", op, 1, 1, "a", "b", "c"),
				b("MEM1", "e1", op, 1, 4, "d", "e"),
				b("MEM1", "e1", op, 1, 4, "d", "e"),
				b("MEM1", "e1", op, 1, 5, "e", "f"),
				b("MEM1", "e1", op, 1, 8, "h"),
				b("MEM1", "e1", op, 2, 1, "x"),
			},
			[]Result{stored(3, 1), stored(2, 4), {Outcome: Duplicate, SkippedSeq: 2},
				{Outcome: Stored, Stored: 1, SkippedSeq: 1, FirstSeq: 6}, {Outcome: Gap, Expected: 7}, stored(1, 7)},
		}},
		want: [][2]string{{"MEM1", "a"}, {"MEM1", "b"}, {"MEM1", "c"}, {"MEM1", "d"}, {"MEM1", "e"}, {"MEM1", "f"}, {"MEM1", "x"}},
		wantHWM: map[streamKey]uint64{
			{"MEM1", "e1", op, 1}: 6,
			{"MEM1", "e1", op, 2}: 1,
		},
	}, {
		name: "a rejected batch does not move the mark for the next one in the call",
		steps: []step{{
			[]*Incoming{
				withForeign(b("MEM1", "e1", op, 1, 1, "a", "b"), 0),
				b("MEM1", "e1", op, 1, 3, "c"),
				b("MEM1", "e1", op, 1, 1, "a", "b"),
			},
			[]Result{{Outcome: Rejected, Reason: "ATL2"}, {Outcome: Gap, Expected: 1}, stored(2, 1)},
		}},
		want:    [][2]string{{"MEM1", "a"}, {"MEM1", "b"}},
		wantHWM: map[streamKey]uint64{{"MEM1", "e1", op, 1}: 2},
	}, {
		name: "rewound source re-sends old ids under a new epoch",
		steps: []step{
			{[]*Incoming{b("MEM1", "e1", op, 1, 1, "a", "b", "c")}, []Result{stored(3, 1)}},
			// The spool was rebuilt (new epoch) and the source re-read from
			// an old cursor: old ids, new sequence numbers.
			{[]*Incoming{b("MEM1", "e2", op, 1, 1, "b", "c", "d")}, []Result{{Outcome: Stored, Stored: 1, SkippedID: 2, FirstSeq: 4}}},
		},
		want: [][2]string{{"MEM1", "a"}, {"MEM1", "b"}, {"MEM1", "c"}, {"MEM1", "d"}},
		wantHWM: map[streamKey]uint64{
			{"MEM1", "e1", op, 1}: 3,
			{"MEM1", "e2", op, 1}: 3,
		},
	}, {
		name: "old ids in another stream and lane are skipped",
		steps: []step{
			{[]*Incoming{b("MEM1", "e1", op, 1, 1, "a", "b")}, []Result{stored(2, 1)}},
			{[]*Incoming{b("MEM1", "e1", op, 2, 1, "a")}, []Result{{Outcome: Stored, SkippedID: 1}}},
			{[]*Incoming{b("MEM1", "e1", bulk, 1, 1, "b", "z")}, []Result{{Outcome: Stored, Stored: 1, SkippedID: 1, FirstSeq: 3}}},
		},
		want: [][2]string{{"MEM1", "a"}, {"MEM1", "b"}, {"MEM1", "z"}},
		wantHWM: map[streamKey]uint64{
			{"MEM1", "e1", op, 1}:   2,
			{"MEM1", "e1", op, 2}:   1,
			{"MEM1", "e1", bulk, 1}: 2,
		},
	}, {
		name: "the same id twice in one call is stored once",
		steps: []step{{
			[]*Incoming{
				b("MEM1", "e1", op, 1, 1, "a", "b", "a"),
				b("MEM1", "e1", op, 2, 1, "b", "c"),
			},
			[]Result{{Outcome: Stored, Stored: 2, SkippedID: 1, FirstSeq: 1}, {Outcome: Stored, Stored: 1, SkippedID: 1, FirstSeq: 3}},
		}},
		want: [][2]string{{"MEM1", "a"}, {"MEM1", "b"}, {"MEM1", "c"}},
		wantHWM: map[streamKey]uint64{
			{"MEM1", "e1", op, 1}: 3,
			{"MEM1", "e1", op, 2}: 2,
		},
	}, {
		name: "sites have separate streams",
		steps: []step{{
			[]*Incoming{
				b("MEM1", "e1", op, 1, 1, "a"),
				b("ATL2", "e1", op, 1, 1, "a"),
				b("ATL2", "e1", op, 1, 1, "a"),
			},
			[]Result{stored(1, 1), stored(1, 2), {Outcome: Duplicate, SkippedSeq: 1}},
		}},
		want: [][2]string{{"MEM1", "a"}, {"ATL2", "a"}},
		wantHWM: map[streamKey]uint64{
			{"MEM1", "e1", op, 1}: 1,
			{"ATL2", "e1", op, 1}: 1,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := openTest(t, Options{})
			for i, st := range tt.steps {
				got, err := l.Append(st.batches)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				checkResults(t, i, got, st.want)
			}
			var want []string
			for _, w := range tt.want {
				want = append(want, wantID(w[0], w[1]))
			}
			entries := readAll(t, l)
			if got := ids(t, entries); !slices.Equal(got, want) {
				t.Errorf("log holds %v; want %v", got, want)
			}
			for i, e := range entries {
				if e.Seq != uint64(i+1) {
					t.Errorf("entry %d has seq %d; want %d", i, e.Seq, i+1)
				}
				if site := tt.want[i][0]; e.Site != site {
					t.Errorf("entry %d has site %q; want %q", i, e.Site, site)
				}
			}
			if got := l.LastSeq(); got != uint64(len(want)) {
				t.Errorf("LastSeq = %d; want %d", got, len(want))
			}
			for s, h := range tt.wantHWM {
				if got, _ := l.HighWater(s.site, s.epoch, s.lane, s.stream); got != h {
					t.Errorf("HighWater(%v) = %d; want %d", s, got, h)
				}
			}
			if got := l.Stats().Streams; got != len(tt.wantHWM) {
				t.Errorf("Stats().Streams = %d; want %d", got, len(tt.wantHWM))
			}
		})
	}
}

func checkResults(t *testing.T, step int, got, want []Result) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("step %d: %d results; want %d", step, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if w.Reason != "" && strings.Contains(g.Reason, w.Reason) {
			g.Reason = w.Reason
		}
		if g != w {
			t.Errorf("step %d batch %d: got %+v; want %+v", step, i, got[i], w)
		}
	}
}

func TestAppendLimits(t *testing.T) {
	l := openTest(t, Options{})
	many := make([]*Incoming, MaxAppendBatches+1)
	if _, err := l.Append(many); !errors.Is(err, ErrTooLarge) {
		t.Errorf("%d batches: got %v; want ErrTooLarge", len(many), err)
	}
	ev := cachedEvent(t, "MEM1", "a")
	in := batch(t, "MEM1", "e1", op, 1, 1)
	for range MaxAppendEvents + 1 {
		in.Events = append(in.Events, ev)
	}
	in.Header.Last = uint64(len(in.Events))
	if _, err := l.Append([]*Incoming{in}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("%d events: got %v; want ErrTooLarge", len(in.Events), err)
	}

	// The largest call allowed fits in one transaction: MaxAppendBatches
	// batches sharing MaxAppendEvents events with distinct long raw ids is
	// Badger's worst case.
	var full []*Incoming
	per := MaxAppendEvents / MaxAppendBatches
	for i := range MaxAppendBatches {
		full = append(full, batch(t, "MEM1", "epoch-with-a-long-name-"+strings.Repeat("x", 40), op, uint32(i), 1, keys("full", i*per, i*per+per-1)...))
	}
	res, err := l.Append(full)
	if err != nil {
		t.Fatalf("largest call: %v", err)
	}
	if res[len(res)-1].Outcome != Stored || l.LastSeq() != MaxAppendEvents {
		t.Errorf("largest call: last result %+v, LastSeq %d; want Stored, %d", res[len(res)-1], l.LastSeq(), MaxAppendEvents)
	}
}

func TestAppendEmptyCallAndStoredNothing(t *testing.T) {
	l := openTest(t, Options{})
	if res, err := l.Append(nil); err != nil || len(res) != 0 {
		t.Fatalf("Append(nil) = %v, %v", res, err)
	}
	ch := l.Notify()
	if _, err := l.Append([]*Incoming{batch(t, "MEM1", "e1", op, 1, 1, "a")}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	default:
		t.Fatal("Notify channel not closed after a stored event")
	}
	ch = l.Notify()
	// Only skipped events: nothing stored, no signal, no sequence used.
	res, err := l.Append([]*Incoming{batch(t, "MEM1", "e1", op, 1, 1, "a"), batch(t, "MEM1", "e1", op, 2, 1, "a")})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Outcome != Duplicate || res[1].Outcome != Stored || res[1].Stored != 0 || res[1].SkippedID != 1 {
		t.Errorf("results %+v", res)
	}
	select {
	case <-ch:
		t.Error("Notify signalled though nothing was stored")
	default:
	}
	if l.LastSeq() != 1 {
		t.Errorf("LastSeq = %d; want 1", l.LastSeq())
	}
	if h, _ := l.HighWater("MEM1", "e1", op, 2); h != 1 {
		t.Errorf("high-water of a stream whose events were all known = %d; want 1", h)
	}
}
