package spool

import (
	"context"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
)

// commitWithin commits and gives up after d.
func commitWithin(s *Spool, d time.Duration, source string, cursor uint64, es []Entry) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return s.Commit(ctx, source, cursorOf(cursor), es)
}

func TestIntegrationMaxBytesBackpressure(t *testing.T) {
	skipShort(t)
	const maxBytes = 64 << 20
	s := openSpool(t, Options{MaxBytes: maxBytes, RefreshInterval: 20 * time.Millisecond, ReclaimAfter: 1 << 20})

	// Fill until Commit blocks.
	var next uint64 = 1
	var err error
	for next < 200_000 {
		err = commitWithin(s, time.Second, "src", next+255, entries(opLane, "src", next, 256, 1024))
		if err != nil {
			break
		}
		next += 256
	}
	if !isPaused(err, PausedMaxBytes) {
		t.Fatalf("after %d events Commit returned %v; want a PausedError(max_bytes) after the deadline", next-1, err)
	}
	st := s.Stats()
	// Paused at the cap, and stays paused until under 95% of it.
	if st.Paused != PausedMaxBytes || st.DiskBytes <= maxBytes*19/20 {
		t.Fatalf("Stats: paused %q disk %d; want max_bytes and over 95%% of %d", st.Paused, st.DiskBytes, maxBytes)
	}
	committed := next - 1
	t.Logf("paused after %d events, disk %d MiB", committed, st.DiskBytes>>20)

	// Still paused a while later: nothing acked, nothing to reclaim.
	time.Sleep(100 * time.Millisecond)
	if err := commitWithin(s, 50*time.Millisecond, "src", next, entries(opLane, "src", next, 1, 1024)); !isPaused(err, PausedMaxBytes) {
		t.Fatalf("Commit while paused: %v", err)
	}

	// The uplink drains: the files shrink and intake resumes.
	if got := drain(t, s); uint64(got) != committed {
		t.Fatalf("drained %d events; want %d", got, committed)
	}
	waitFor(t, 20*time.Second, "intake to resume", func() bool { return s.Stats().Paused == PausedNone })
	if got := s.Stats().DiskBytes; got > maxBytes*19/20 {
		t.Errorf("resumed with %d bytes on disk; want under 95%% of %d", got, maxBytes)
	}
	if err := commitWithin(s, time.Second, "src", next, entries(opLane, "src", next, 256, 1024)); err != nil {
		t.Fatalf("Commit after the drain: %v", err)
	}
}

func TestMaxAgeBackpressure(t *testing.T) {
	clock := newFakeClock()
	s := openSpool(t, Options{MaxAge: time.Hour, Now: clock.Now, RefreshInterval: 10 * time.Millisecond})
	commit(t, s, "src", 10, entries(opLane, "src", 1, 10, 100))
	clock.Advance(59 * time.Minute)
	commit(t, s, "src", 20, entries(opLane, "src", 11, 10, 100))

	clock.Advance(2 * time.Minute)
	waitFor(t, 5*time.Second, "the age cap", func() bool { return s.Stats().Paused == PausedMaxAge })
	if err := commitWithin(s, 50*time.Millisecond, "src", 21, entries(opLane, "src", 21, 1, 100)); !isPaused(err, PausedMaxAge) {
		t.Fatalf("Commit with an event over the age cap: %v; want PausedError(max_age)", err)
	}

	// Acking the old block is enough: the next one is 2 minutes old.
	if err := s.Ack(opStream(1), 10); err != nil {
		t.Fatal(err)
	}
	if p := s.Stats().Paused; p != PausedNone {
		t.Fatalf("after the ack intake is %q; want resumed", p)
	}
	commit(t, s, "src", 21, entries(opLane, "src", 21, 1, 100))

	// The cap survives a restart: the append time is in the block.
	clock.Advance(time.Hour)
	s = reopen(t, s)
	if p := s.Stats().Paused; p != PausedMaxAge {
		t.Errorf("after reopen intake is %q; want max_age", p)
	}
}

func TestNoMaxAge(t *testing.T) {
	clock := newFakeClock()
	s := openSpool(t, Options{MaxAge: NoMaxAge, Now: clock.Now, RefreshInterval: 10 * time.Millisecond})
	commit(t, s, "src", 1, entries(opLane, "src", 1, 1, 100))
	clock.Advance(365 * 24 * time.Hour)
	time.Sleep(50 * time.Millisecond)
	if err := commitWithin(s, time.Second, "src", 2, entries(opLane, "src", 2, 1, 100)); err != nil {
		t.Fatalf("Commit without an age cap: %v", err)
	}
}

func TestDropOldestAge(t *testing.T) {
	clock := newFakeClock()
	o := Options{
		MaxAge:          time.Hour,
		Policies:        map[canonical.Lane]Policy{bulkLane: DropOldest},
		Now:             clock.Now,
		RefreshInterval: 10 * time.Millisecond,
	}
	s := openSpool(t, o)
	// Bulk blocks 1-10, 11-20, 21-30 at t0; 31-40 at t0+30m.
	for c := range uint64(3) {
		commit(t, s, "snap", 10*(c+1), entries(bulkLane, "snap", 10*c+1, 10, 100))
	}
	clock.Advance(30 * time.Minute)
	commit(t, s, "snap", 40, entries(bulkLane, "snap", 31, 10, 100))

	clock.Advance(45 * time.Minute) // the first three blocks are 75 minutes old
	waitFor(t, 5*time.Second, "the drop", func() bool { return s.Stats().Dropped[bulkLane] == 30 })
	st, _ := streamState(s, bulkStream(1))
	if st.Head != 31 || st.DroppedThrough != 30 || st.Next != 41 {
		t.Fatalf("after the drop %+v; want head 31, dropped through 30, next 41", st)
	}
	if p := s.Stats().Paused; p != PausedNone {
		t.Errorf("a DropOldest lane paused intake: %q", p)
	}
	recs := readAll(t, s, bulkStream(1))
	if !equalSeqs(seqs(recs), 31, 40) {
		t.Fatalf("read %v; want 31..40", seqs(recs))
	}

	s = reopen(t, s)
	if st, _ := streamState(s, bulkStream(1)); st.DroppedThrough != 30 || st.Head != 31 {
		t.Errorf("after reopen %+v; want dropped through 30, head 31", st)
	}
}

func TestIntegrationDropOldestBytes(t *testing.T) {
	skipShort(t)
	const maxBytes = 64 << 20
	o := Options{
		MaxBytes:        maxBytes,
		Policies:        map[canonical.Lane]Policy{bulkLane: DropOldest},
		RefreshInterval: 20 * time.Millisecond,
		ReclaimAfter:    1 << 20,
	}
	s := openSpool(t, o)
	const total = 150_000 // ~150 MiB of bulk events: more than twice the cap
	for next := uint64(1); next <= total; next += 256 {
		// Never blocks for long: the lane makes room by dropping.
		if err := commitWithin(s, 10*time.Second, "snap", next+255, entries(bulkLane, "snap", next, 256, 1024)); err != nil {
			t.Fatalf("Commit at %d: %v", next, err)
		}
	}
	waitFor(t, 20*time.Second, "the directory under its cap", func() bool { return s.Stats().DiskBytes <= maxBytes })
	st := s.Stats()
	stream, _ := streamState(s, bulkStream(1))
	t.Logf("dropped %d, stream %+v, disk %d MiB", st.Dropped[bulkLane], stream, st.DiskBytes>>20)
	if st.Dropped[bulkLane] == 0 || stream.DroppedThrough == 0 || stream.Head != stream.DroppedThrough+1 {
		t.Fatalf("dropped %d, stream %+v; want drops recorded in DroppedThrough", st.Dropped[bulkLane], stream)
	}
	if stream.DroppedThrough != st.Dropped[bulkLane] {
		t.Errorf("dropped through %d but %d drops counted", stream.DroppedThrough, st.Dropped[bulkLane])
	}
	// What is left is the newest events, contiguous up to the last commit.
	recs := readAll(t, s, bulkStream(1))
	if len(recs) == 0 || recs[len(recs)-1].Seq != stream.Next-1 {
		t.Fatalf("read %d events ending at %d; want up to %d", len(recs), recs[len(recs)-1].Seq, stream.Next-1)
	}
	if _, i, _ := parseEvent(recs[len(recs)-1].Event); i != stream.Next-1 {
		t.Errorf("last event %d; want %d", i, stream.Next-1)
	}
}
