package relaylog

import (
	"errors"
	"maps"
	"testing"
	"time"
)

func TestCursors(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, Options{Dir: dir})
	fill(t, l, 10, 5)
	if _, err := l.Cursor("erp"); !errors.Is(err, ErrUnknownConsumer) {
		t.Errorf("Cursor of an unknown consumer: %v; want ErrUnknownConsumer", err)
	}
	for _, c := range []struct {
		name    string
		seq     uint64
		wantErr bool
	}{
		{"erp", 1, false}, {"erp", 11, false}, {"tms", 4, false}, {"erp", 12, true}, {"erp", 0, true}, {"", 1, true},
		{string(make([]byte, maxConsumer+1)), 1, true}, {"erp", 6, false}, // backwards is allowed (a reset)
	} {
		err := l.SetCursor(c.name, c.seq)
		if (err != nil) != c.wantErr {
			t.Errorf("SetCursor(%.10q, %d) = %v; want error %v", c.name, c.seq, err, c.wantErr)
		}
	}
	want := map[string]uint64{"erp": 6, "tms": 4}
	if got, _ := l.Consumers(); !maps.Equal(got, want) {
		t.Errorf("Consumers = %v; want %v", got, want)
	}
	if s := l.Stats(); s.Consumers != 2 || s.MinCursor != 4 {
		t.Errorf("Stats consumers %d, min %d; want 2, 4", s.Consumers, s.MinCursor)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, Options{Dir: dir})
	if got, _ := l.Consumers(); !maps.Equal(got, want) {
		t.Errorf("Consumers after reopen = %v; want %v", got, want)
	}
	if c, err := l.Cursor("tms"); err != nil || c != 4 {
		t.Errorf("Cursor(tms) = %d, %v; want 4", c, err)
	}
	if err := l.RemoveConsumer("tms"); err != nil {
		t.Fatal(err)
	}
	if err := l.RemoveConsumer("never-was"); err != nil {
		t.Errorf("RemoveConsumer of an unknown consumer: %v", err)
	}
	if _, err := l.Cursor("tms"); !errors.Is(err, ErrUnknownConsumer) {
		t.Errorf("Cursor after RemoveConsumer: %v; want ErrUnknownConsumer", err)
	}
}

func TestRetention(t *testing.T) {
	clk := newClock()
	dir := t.TempDir()
	l := openTest(t, Options{Dir: dir, Now: clk.Now, Retention: time.Hour})
	t0 := clk.Now()
	appendAt := func(d time.Duration, first uint64) {
		t.Helper()
		var call []*Incoming
		for _, f := range []uint64{first, first + 5} {
			in := batch(t, "MEM1", "e1", op, 1, f, keys("r", int(f), int(f)+4)...)
			in.Received = t0.Add(d)
			call = append(call, in)
		}
		if _, err := l.Append(call); err != nil {
			t.Fatal(err)
		}
	}
	appendAt(0, 1)               // blocks 1-5, 6-10
	appendAt(10*time.Minute, 11) // 11-15, 16-20
	appendAt(2*time.Hour, 21)    // 21-25, 26-30
	clk.Advance(3 * time.Hour)   // cutoff: t0+2h
	sweep := func(wantDeleted, wantOldest uint64) {
		t.Helper()
		n, err := l.Sweep()
		if err != nil {
			t.Fatal(err)
		}
		if n != wantDeleted || l.Stats().OldestSeq != wantOldest {
			t.Fatalf("Sweep deleted %d, oldest %d; want %d, %d", n, l.Stats().OldestSeq, wantDeleted, wantOldest)
		}
		entries := readAll(t, l)
		if len(entries) != int(31-wantOldest) || len(entries) > 0 && entries[0].Seq != wantOldest {
			t.Fatalf("after Sweep the log reads %d events from %v; want %d from %d", len(entries), entries[0].Seq, 31-wantOldest, wantOldest)
		}
	}

	sweep(0, 1) // no consumer: everything is kept, however old
	if err := l.SetCursor("erp", 1); err != nil {
		t.Fatal(err)
	}
	sweep(0, 1) // erp delivered nothing
	if err := l.SetCursor("erp", 13); err != nil {
		t.Fatal(err)
	}
	if err := l.SetCursor("tms", 31); err != nil {
		t.Fatal(err)
	}
	sweep(10, 11) // blocks wholly below erp's cursor; 11-15 holds undelivered 13-15

	if _, err := l.Read(5, 10, nil); !errors.Is(err, ErrTruncated) {
		t.Errorf("Read below the oldest: %v; want ErrTruncated", err)
	}
	if err := l.SetCursor("wms", 5); !errors.Is(err, ErrTruncated) {
		t.Errorf("SetCursor below the oldest: %v; want ErrTruncated", err)
	}
	if got, _ := l.SeqAtTime(t0); got != 11 {
		t.Errorf("SeqAtTime before the oldest = %d; want 11", got)
	}

	if err := l.SetCursor("erp", 31); err != nil {
		t.Fatal(err)
	}
	sweep(10, 21) // 21-30 are delivered but younger than Retention
	clk.Advance(2 * time.Hour)
	sweep(10, 31) // everything delivered and old: the log is empty
	if s := l.Stats(); s.Events != 0 || s.LastSeq != 30 || s.RetiredEvents != 30 {
		t.Errorf("Stats = %+v; want 0 events, last 30, 30 retired", s)
	}

	// An empty log still knows its sequence, high-water marks and floor.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, Options{Dir: dir, Now: clk.Now, Retention: time.Hour})
	if s := l.Stats(); s.LastSeq != 30 || s.OldestSeq != 31 {
		t.Fatalf("after reopen last %d, oldest %d; want 30, 31", s.LastSeq, s.OldestSeq)
	}
	res, err := l.Append([]*Incoming{
		batch(t, "MEM1", "e1", op, 1, 30, "r-30"),
		batch(t, "MEM1", "e1", op, 1, 31, "r-31"),
	})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, 0, res, []Result{{Outcome: Duplicate, SkippedSeq: 1}, {Outcome: Stored, Stored: 1, FirstSeq: 31}})
	if got, _ := l.SeqAtTime(t0); got != 31 {
		t.Errorf("SeqAtTime(t0) = %d; want 31", got)
	}
	// The id index outlives the events: a rewound source re-sending one of
	// the deleted events is still caught.
	res, err = l.Append([]*Incoming{batch(t, "MEM1", "e2", op, 1, 1, "r-3")})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, 1, res, []Result{{Outcome: Stored, SkippedID: 1}})
}

func TestRetentionLoop(t *testing.T) {
	clk := newClock()
	l := openTest(t, Options{Now: clk.Now, Retention: time.Hour, RetentionInterval: 5 * time.Millisecond})
	fill(t, l, 20, 5)
	if err := l.SetCursor("erp", 21); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Hour)
	deadline := time.Now().Add(10 * time.Second)
	for l.Stats().OldestSeq != 21 {
		if time.Now().After(deadline) {
			t.Fatalf("the background pass did not delete: %+v", l.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRetentionReclaimsDiskIntegration stores ~150 MB that no consumer
// has delivered (retention keeps it), then lets a consumer follow ingest
// and checks that the disk shrinks. A 4 MiB memtable makes Badger flush
// and compact after ~90k events instead of ~350k.
func TestRetentionReclaimsDiskIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 250 MB")
	}
	clk := newClock()
	l := openTest(t, Options{Now: clk.Now, Retention: time.Hour, memTableSize: 4 << 20})
	fill(t, l, 150_000, 256)
	clk.Advance(2 * time.Hour)
	if n, err := l.Sweep(); err != nil || n != 0 {
		t.Fatalf("Sweep without consumers deleted %d, %v", n, err)
	}
	peak := l.Stats().DiskBytes
	for round := range 4 {
		fill(t, l, 25_000, 256)
		if err := l.SetCursor("erp", l.LastSeq()-999); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Hour)
		start := time.Now()
		n, err := l.Sweep()
		if err != nil {
			t.Fatal(err)
		}
		s := l.Stats()
		peak = max(peak, s.DiskBytes)
		t.Logf("round %d: deleted %d events in %v; disk %d MB, %d events retained", round, n, time.Since(start), s.DiskBytes>>20, s.Events)
		if s.Events > 1256 || s.Events < 1000 {
			t.Errorf("round %d: %d events retained; want the ~1000 undelivered ones", round, s.Events)
		}
	}
	if got := l.Stats().DiskBytes; got > peak/2 {
		t.Errorf("disk %d MB after retention; want under half the peak %d MB", got>>20, peak>>20)
	}
	entries, err := l.Read(0, 2000, nil)
	if err != nil || len(entries) == 0 || entries[len(entries)-1].Seq != l.LastSeq() {
		t.Errorf("reading what is left: %d entries, %v", len(entries), err)
	}
}
