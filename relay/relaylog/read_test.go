package relaylog

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// fill appends n events of site MEM1 in batches of the given sizes (cycled)
// to stream (e1, op, 1), several batches per call, and returns their ids in
// order.
func fill(t *testing.T, l *Log, n int, sizes ...int) []string {
	t.Helper()
	var want []string
	h, _ := l.HighWater("MEM1", "e1", op, 1)
	seq := h + 1
	var call []*Incoming
	for i := 0; i < n; {
		size := min(sizes[len(call)%len(sizes)], n-i)
		ks := keys("fill", int(seq), int(seq)+size-1)
		call = append(call, batch(t, "MEM1", "e1", op, 1, seq, ks...))
		for _, k := range ks {
			want = append(want, wantID("MEM1", k))
		}
		seq += uint64(size)
		i += size
		if len(call) == 4 || i == n {
			if _, err := l.Append(call); err != nil {
				t.Fatal(err)
			}
			call = nil
		}
	}
	return want
}

func TestReopenKeepsSequencesAndMarks(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(Options{Dir: dir, Logger: testLogger(t), RetentionInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	want := fill(t, l, 10, 3)
	if _, err := l.Append([]*Incoming{batch(t, "MEM1", "e1", bulk, 7, 1, "bulk-1")}); err != nil {
		t.Fatal(err)
	}
	want = append(want, wantID("MEM1", "bulk-1"))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	l = openTest(t, Options{Dir: dir})
	if got := l.LastSeq(); got != 11 {
		t.Errorf("LastSeq after reopen = %d; want 11", got)
	}
	for _, c := range []struct {
		lane   int32
		stream uint32
		want   uint64
	}{{int32(op), 1, 10}, {int32(bulk), 7, 1}, {int32(op), 2, 0}} {
		s := streamKey{"MEM1", "e1", op, c.stream}
		if c.lane == int32(bulk) {
			s.lane = bulk
		}
		if got, _ := l.HighWater(s.site, s.epoch, s.lane, s.stream); got != c.want {
			t.Errorf("HighWater(%v) after reopen = %d; want %d", s, got, c.want)
		}
	}
	res, err := l.Append([]*Incoming{
		batch(t, "MEM1", "e1", op, 1, 9, "fill-9", "fill-10", "fill-11"), // overlap: 11 is new
		batch(t, "MEM1", "e9", op, 1, 1, "fill-3"),                       // rewound: id known
	})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, 0, res, []Result{
		{Outcome: Stored, Stored: 1, SkippedSeq: 2, FirstSeq: 12},
		{Outcome: Stored, SkippedID: 1},
	})
	want = append(want, wantID("MEM1", "fill-11"))
	if got := ids(t, readAll(t, l)); !slices.Equal(got, want) {
		t.Errorf("log after reopen holds %d events %v; want %v", len(got), got, want)
	}
}

func TestRead(t *testing.T) {
	l := openTest(t, Options{})
	want := fill(t, l, 200, 1, 7, 64, 3, 30) // blocks of assorted sizes
	for from := uint64(1); from <= 201; from++ {
		for _, max := range []int{1, 2, 5, 64, 1000} {
			got, err := l.Read(from, max, nil)
			if err != nil {
				t.Fatalf("Read(%d, %d): %v", from, max, err)
			}
			end := min(int(from)-1+max, len(want))
			if from > 200 {
				end = int(from) - 1
			}
			if g, w := ids(t, got), want[from-1:end]; !slices.Equal(g, w) {
				t.Fatalf("Read(%d, %d) = %d events; want %d (%v vs %v)", from, max, len(g), len(w), g, w)
			}
			for i, e := range got {
				if e.Seq != from+uint64(i) || e.Site != "MEM1" || e.Received.IsZero() {
					t.Fatalf("Read(%d, %d)[%d] = seq %d site %q received %v", from, max, i, e.Seq, e.Site, e.Received)
				}
			}
		}
	}
	// dst is appended to.
	dst := []Entry{{Seq: 99}}
	dst, err := l.Read(5, 2, dst)
	if err != nil || len(dst) != 3 || dst[0].Seq != 99 || dst[1].Seq != 5 {
		t.Errorf("Read into a non-empty dst = %v, %v", dst, err)
	}
	// Entries are the caller's: appending more does not change them.
	first, _ := l.Read(1, 1, nil)
	saved := slices.Clone(first[0].Event)
	fill(t, l, 10, 10)
	if !slices.Equal(first[0].Event, saved) {
		t.Error("a read entry changed after more appends")
	}
	if _, err := l.Read(1, 0, nil); err == nil {
		t.Error("Read with maxEvents 0: no error")
	}
}

func TestReceivedAndSeqAtTime(t *testing.T) {
	clk := newClock()
	l := openTest(t, Options{Now: clk.Now})
	t0 := clk.Now()
	at := func(d time.Duration, in *Incoming) *Incoming { in.Received = t0.Add(d); return in }
	calls := [][]*Incoming{
		{at(0, batch(t, "MEM1", "e1", op, 1, 1, "a", "b"))},         // seq 1-2 at 0s
		{at(10*time.Second, batch(t, "MEM1", "e1", op, 1, 3, "c"))}, // seq 3 at 10s
		{at(20*time.Second, batch(t, "MEM1", "e1", op, 1, 4, "d")), // seq 4 at 20s
			at(19*time.Second, batch(t, "MEM1", "e1", op, 2, 1, "x", "y"))}, // seq 5-6 read at 19s, indexed at 20s
		{batch(t, "MEM1", "e1", op, 1, 5, "e")}, // no Received: the clock (0s)...
	}
	for _, c := range calls {
		if _, err := l.Append(c); err != nil {
			t.Fatal(err)
		}
	}
	entries := readAll(t, l)
	wantReceived := []time.Duration{0, 0, 10 * time.Second, 20 * time.Second, 19 * time.Second, 19 * time.Second, 0}
	for i, e := range entries {
		if want := t0.Add(wantReceived[i]); !e.Received.Equal(want) {
			t.Errorf("entry %d received %v; want %v", e.Seq, e.Received, want)
		}
	}
	for _, c := range []struct {
		at   time.Duration
		want uint64
	}{
		{-time.Hour, 1}, {0, 1}, {time.Nanosecond, 3}, {10 * time.Second, 3}, {11 * time.Second, 4},
		{19 * time.Second, 4}, // the index is monotonic: seq 5 takes seq 4's time
		{20 * time.Second, 4}, {21 * time.Second, 8}, {time.Hour, 8},
	} {
		got, err := l.SeqAtTime(t0.Add(c.at))
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("SeqAtTime(t0%+v) = %d; want %d", c.at, got, c.want)
		}
	}
}

func TestNotifyAndClose(t *testing.T) {
	l, err := Open(Options{Dir: t.TempDir(), Logger: testLogger(t), RetentionInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// A waiter that follows the documented pattern sees every event.
	done := make(chan []string)
	go func() {
		var got []string
		next := uint64(1)
		for len(got) < 50 {
			ch := l.Notify()
			entries, err := l.Read(next, 7, nil)
			if err != nil {
				t.Error(err)
				break
			}
			for _, e := range entries {
				got = append(got, idOf(t, e.Event))
				next = e.Seq + 1
			}
			if len(entries) == 0 {
				<-ch
			}
		}
		done <- got
	}()
	var want []string
	for i := range 10 {
		want = append(want, fill(t, l, 5, 5)...)
		if i%3 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	select {
	case got := <-done:
		if !slices.Equal(got, want) {
			t.Errorf("waiter read %v; want %v", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiter stuck")
	}

	ch := l.Notify()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	default:
		t.Error("Notify channel open after Close")
	}
	for name, err := range map[string]error{
		"Append":    func() error { _, err := l.Append(nil); return err }(),
		"Read":      func() error { _, err := l.Read(1, 1, nil); return err }(),
		"HighWater": func() error { _, err := l.HighWater("MEM1", "e1", op, 1); return err }(),
		"SetCursor": l.SetCursor("erp", 1),
		"Cursor":    func() error { _, err := l.Cursor("erp"); return err }(),
		"Sweep":     func() error { _, err := l.Sweep(); return err }(),
		"SeqAtTime": func() error { _, err := l.SeqAtTime(time.Now()); return err }(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v; want ErrClosed", name, err)
		}
	}
	if s := l.Stats(); s.LastSeq != 50 || s.StoredEvents != 50 {
		t.Errorf("Stats after Close = %+v", s)
	}
}

func TestConcurrentAppendAndRead(t *testing.T) {
	l := openTest(t, Options{})
	const writers, per = 4, 40
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for i := 1; i <= per; i++ {
				k := fmt.Sprintf("w%d-%d", w, i)
				_, err := l.Append([]*Incoming{batch(t, "MEM1", "e1", op, uint32(w), uint64(i), k)})
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	stop := make(chan struct{})
	readerDone := make(chan error)
	go func() {
		next := uint64(1)
		for {
			entries, err := l.Read(next, 16, nil)
			if err != nil {
				readerDone <- err
				return
			}
			for _, e := range entries {
				if e.Seq != next {
					readerDone <- fmt.Errorf("read seq %d; want %d", e.Seq, next)
					return
				}
				next++
			}
			select {
			case <-stop:
				if next == writers*per+1 {
					readerDone <- nil
					return
				}
			default:
			}
		}
	}()
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	if err := <-readerDone; err != nil {
		t.Fatal(err)
	}
	for w := range writers {
		if h, _ := l.HighWater("MEM1", "e1", op, uint32(w)); h != per {
			t.Errorf("stream %d high-water %d; want %d", w, h, per)
		}
	}
}
