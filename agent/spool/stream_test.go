package spool

import (
	"errors"
	"slices"
	"testing"

	"github.com/draylink/dray/canonical"
)

func streamList(s *Spool) []StreamState { return s.Streams() }

func TestStreamRotation(t *testing.T) {
	s := openSpool(t, Options{RotateAfter: 10})
	src := "src"
	next := uint64(1)
	add := func(n int) {
		t.Helper()
		commit(t, s, src, next+uint64(n)-1, entries(opLane, src, next, n, 50))
		next += uint64(n)
	}

	// Link down: an outage piles up in stream 1, whatever its size.
	add(30)
	add(30)
	if got := liveOf(s, opLane); got.Stream != 1 || got.Pending() != 60 {
		t.Fatalf("during the outage live = %+v; want stream 1 with 60 pending", got)
	}

	// Link up: the next commit retires stream 1 and starts stream 2 at 1.
	s.SetLinkUp(true)
	add(5)
	want := []struct {
		id         StreamID
		live       bool
		head, next uint64
	}{
		{opStream(1), false, 1, 61},
		{opStream(2), true, 1, 6},
		{bulkStream(1), true, 1, 1},
	}
	check := func(when string) {
		t.Helper()
		got := streamList(s)
		if len(got) != len(want) {
			t.Fatalf("%s: streams %+v; want %d", when, got, len(want))
		}
		for i, w := range want {
			g := got[i]
			if g.StreamID != w.id || g.Live != w.live || g.Head != w.head || g.Next != w.next {
				t.Errorf("%s: stream %d = %+v; want %+v", when, i, g, w)
			}
		}
	}
	check("after rotation")
	recs := readAll(t, s, opStream(2))
	if _, i, _ := parseEvent(recs[0].Event); i != 61 {
		t.Errorf("stream 2 starts with event %d; want 61", i)
	}

	// Live stream under RotateAfter: no rotation.
	add(4)
	want[1].next = 10
	check("below RotateAfter")

	// Persisted across a restart (the link state is not: it starts down).
	s = reopen(t, s)
	check("after reopen")

	// The backlog drains: stream 1 vanishes, now and after a restart.
	if err := s.Ack(opStream(1), 40); err != nil {
		t.Fatal(err)
	}
	want[0].head = 41
	check("backlog half acked")
	if err := s.Ack(opStream(1), 60); err != nil {
		t.Fatal(err)
	}
	want = want[1:]
	check("backlog drained")
	if _, err := s.Read(opStream(1), 61, 1, 0, nil); !errors.Is(err, ErrUnknownStream) {
		t.Errorf("Read of a drained backlog: %v; want ErrUnknownStream", err)
	}
	if err := s.Ack(opStream(1), 60); !errors.Is(err, ErrUnknownStream) {
		t.Errorf("Ack of a drained backlog: %v; want ErrUnknownStream", err)
	}
	s = reopen(t, s)
	check("drained, after reopen")

	// The live stream never vanishes, even when fully acked; numbers are
	// never reused.
	if err := s.Ack(opStream(2), 9); err != nil {
		t.Fatal(err)
	}
	want[0].head = 10
	check("live stream acked")
	s.SetLinkUp(true)
	add(12)
	add(1)
	if got := liveOf(s, opLane); got.Stream != 3 || got.Head != 1 || got.Next != 2 {
		t.Errorf("after a second rotation live = %+v; want stream 3 holding one event", got)
	}

	// A stream opened while the link is up is not retired again before the
	// next reconnection, however far it falls behind.
	add(20)
	add(1)
	s.SetLinkUp(true) // already up: not a reconnection
	add(1)
	if got := liveOf(s, opLane); got.Stream != 3 || got.Next != 24 {
		t.Errorf("same link-up period: live = %+v; want stream 3 with next 24", got)
	}
	s.SetLinkUp(false)
	s.SetLinkUp(true)
	add(1)
	if got := liveOf(s, opLane); got.Stream != 4 || got.Next != 2 {
		t.Errorf("after reconnecting: live = %+v; want stream 4", got)
	}
}

func TestStreamRotationPerLane(t *testing.T) {
	s := openSpool(t, Options{RotateAfter: 5})
	commit(t, s, "a", 10, entries(opLane, "a", 1, 10, 50))
	commit(t, s, "b", 3, entries(bulkLane, "b", 1, 3, 50))
	s.SetLinkUp(true)
	commit(t, s, "a", 11, entries(opLane, "a", 11, 1, 50))
	commit(t, s, "b", 4, entries(bulkLane, "b", 4, 1, 50))
	if got := liveOf(s, opLane).Stream; got != 2 {
		t.Errorf("operational live stream %d; want 2", got)
	}
	if got := liveOf(s, bulkLane); got.Stream != 1 || got.Next != 5 {
		t.Errorf("bulk live %+v; want stream 1 (3 pending is under RotateAfter)", got)
	}
	s.SetLinkUp(false)
	commit(t, s, "a", 20, entries(opLane, "a", 12, 9, 50))
	if got := liveOf(s, opLane).Stream; got != 2 {
		t.Errorf("link down: live stream %d; want still 2", got)
	}
}

func liveOf(s *Spool, l canonical.Lane) StreamState {
	i := slices.IndexFunc(s.Streams(), func(st StreamState) bool { return st.Lane == l && st.Live })
	return s.Streams()[i]
}
