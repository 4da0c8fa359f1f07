package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/draylink/dray/canonical"
)

// checkSpool verifies what concurrent sources committed: every event once,
// in each source's order within its lane, sequences gapless per stream from
// the head, and each cursor equal to the source's last committed index.
func checkSpool(t *testing.T, s *Spool, last map[string]uint64, laneOf func(src string, i uint64) canonical.Lane) {
	t.Helper()
	seen := make(map[string]uint64) // source -> events seen
	prev := make(map[string]uint64) // source -> last index seen
	for _, st := range s.Streams() {
		recs := readAll(t, s, st.StreamID)
		for k, r := range recs {
			if want := st.Head + uint64(k); r.Seq != want {
				t.Fatalf("stream %v: record %d has seq %d; want %d", st.StreamID, k, r.Seq, want)
			}
			src, i, err := parseEvent(r.Event)
			if err != nil {
				t.Fatal(err)
			}
			if l := laneOf(src, i); l != st.Lane {
				t.Fatalf("event %s/%d in lane %v; want %v", src, i, st.Lane, l)
			}
			key := src + "/" + st.Lane.String()
			if p, ok := prev[key]; ok && i <= p {
				t.Fatalf("event %s/%d after %d in lane %v: out of order or duplicate", src, i, p, st.Lane)
			}
			prev[key] = i
			seen[src]++
		}
		if got := uint64(len(recs)); got != st.Pending() {
			t.Fatalf("stream %v: read %d events; pending %d", st.StreamID, got, st.Pending())
		}
	}
	for src, n := range last {
		if seen[src] != n {
			t.Errorf("source %s: %d events stored; want %d", src, seen[src], n)
		}
		cur, err := s.Cursor(src)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(cur, cursorOf(n)) {
			t.Errorf("source %s: cursor %x; want %x", src, cur, cursorOf(n))
		}
	}
}

func TestCommitConcurrent(t *testing.T) {
	tests := []struct {
		name      string
		sources   int
		commits   int
		maxBatch  int
		eventSize int
	}{
		{"many small commits", 16, 40, 8, 200},
		{"batches crossing blocks", 4, 10, 600, 1000},
		{"events larger than a block", 3, 4, 2, maxBlockBytes + 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openSpool(t, Options{})
			// Even sources write the operational lane, odd ones both lanes.
			laneOf := func(src string, i uint64) canonical.Lane {
				var n int
				fmt.Sscanf(src, "src%d", &n)
				if n%2 == 1 && i%3 == 0 {
					return bulkLane
				}
				return opLane
			}
			last := make(map[string]uint64)
			var mu sync.Mutex
			var wg sync.WaitGroup
			for g := range tt.sources {
				src := fmt.Sprintf("src%d", g)
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(g), 1))
					var next uint64 = 1
					for range tt.commits {
						n := 1 + rng.IntN(tt.maxBatch)
						es := make([]Entry, n)
						for k := range es {
							i := next + uint64(k)
							es[k] = Entry{Lane: laneOf(src, i), Event: event(src, i, tt.eventSize)}
						}
						next += uint64(n)
						if err := s.Commit(context.Background(), src, cursorOf(next-1), es); err != nil {
							t.Errorf("Commit: %v", err)
							return
						}
					}
					mu.Lock()
					last[src] = next - 1
					mu.Unlock()
				}()
			}
			wg.Wait()
			checkSpool(t, s, last, laneOf)
			st := s.Stats()
			var total uint64
			for _, n := range last {
				total += n
			}
			if st.Appended != total {
				t.Errorf("Stats.Appended = %d; want %d", st.Appended, total)
			}
			if want := uint64(tt.sources * tt.commits); st.Commits >= want && tt.sources > 1 {
				t.Logf("no group commit happened: %d transactions for %d commits", st.Commits, want)
			}

			s = reopen(t, s)
			checkSpool(t, s, last, laneOf)
		})
	}
}

func TestCommitGroupsConcurrentCalls(t *testing.T) {
	s := openSpool(t, Options{})
	const sources, commits = 8, 50
	var wg sync.WaitGroup
	for g := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := fmt.Sprintf("src%d", g)
			for i := range uint64(commits) {
				commit(t, s, src, i+1, entries(opLane, src, i+1, 1, 100))
			}
		}()
	}
	wg.Wait()
	st := s.Stats()
	if st.Appended != sources*commits {
		t.Fatalf("appended %d; want %d", st.Appended, sources*commits)
	}
	// Eight sources committing in a loop always find company while a
	// transaction is being fsynced.
	if st.Commits >= sources*commits*3/4 {
		t.Errorf("%d transactions for %d commits; want group commit", st.Commits, sources*commits)
	}
}

func TestCommitCursorOnly(t *testing.T) {
	s := openSpool(t, Options{})
	if cur, err := s.Cursor("db"); err != nil || cur != nil {
		t.Fatalf("Cursor before any commit = %x, %v; want nil, nil", cur, err)
	}
	commit(t, s, "db", 5, entries(opLane, "db", 1, 5, 10))
	commit(t, s, "db", 9, nil) // rows 6..9 filtered out: cursor moves, no events
	if cur, _ := s.Cursor("db"); !bytes.Equal(cur, cursorOf(9)) {
		t.Errorf("cursor %x; want %x", cur, cursorOf(9))
	}
	if st, _ := streamState(s, opStream(1)); st.Next != 6 {
		t.Errorf("next %d; want 6", st.Next)
	}
}

func TestCommitRejects(t *testing.T) {
	s := openSpool(t, Options{})
	big := make([]byte, maxCommitBytes+1)
	tests := []struct {
		name    string
		source  string
		cursor  []byte
		entries []Entry
		want    error
	}{
		{"no source", "", nil, nil, nil},
		{"long source", strings.Repeat("x", maxSourceLen+1), nil, nil, nil},
		{"long cursor", "s", make([]byte, maxCursorLen+1), nil, nil},
		{"unspecified lane", "s", nil, []Entry{{Event: []byte("x")}}, nil},
		{"empty event", "s", nil, []Entry{{Lane: opLane}}, nil},
		{"too large", "s", nil, []Entry{{Lane: opLane, Event: big}}, ErrCommitTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Commit(context.Background(), tt.source, tt.cursor, tt.entries)
			if err == nil {
				t.Fatal("Commit succeeded; want an error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v; want %v", err, tt.want)
			}
		})
	}
	if st := s.Stats(); st.Appended != 0 || st.Commits != 0 {
		t.Errorf("rejected commits wrote: %+v", st)
	}
}

func TestCommitAfterClose(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Commit(context.Background(), "s", nil, entries(opLane, "s", 1, 1, 10)); !errors.Is(err, ErrClosed) {
		t.Errorf("Commit after Close: %v; want ErrClosed", err)
	}
	if _, err := s.Read(opStream(1), 1, 1, 0, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close: %v; want ErrClosed", err)
	}
	if err := s.Ack(opStream(1), 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Ack after Close: %v; want ErrClosed", err)
	}
}

// TestCommitSplitsOversizedGroup drives the committer's fallback: a group
// Badger finds too big is split at request boundaries, each part one
// transaction with its requests' cursors.
func TestCommitSplitsOversizedGroup(t *testing.T) {
	s := openSpool(t, Options{})
	n := int(s.db.MaxBatchCount()) + 100 // one cursor key each: too many for one transaction
	reqs := make([]*commitReq, n)
	for i := range reqs {
		src := fmt.Sprintf("s%05d", i)
		r, err := newCommitReq(src, cursorOf(uint64(i)), entries(opLane, src, 1, 1, 20))
		if err != nil {
			t.Fatal(err)
		}
		reqs[i] = r
	}
	s.commitMu.Lock()
	s.commitChunks(reqs)
	s.commitMu.Unlock()
	for i, r := range reqs {
		if err := <-r.done; err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	st := s.Stats()
	if st.Commits < 2 || st.Appended != uint64(n) {
		t.Errorf("commits %d appended %d; want >= 2 transactions and %d events", st.Commits, st.Appended, n)
	}
	for _, i := range []int{0, n / 2, n - 1} {
		if cur, _ := s.Cursor(fmt.Sprintf("s%05d", i)); !bytes.Equal(cur, cursorOf(uint64(i))) {
			t.Errorf("cursor of s%05d = %x", i, cur)
		}
	}
	recs := readAll(t, s, opStream(1))
	if len(recs) != n {
		t.Fatalf("read %d events; want %d", len(recs), n)
	}
}
