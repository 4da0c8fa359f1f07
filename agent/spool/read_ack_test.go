package spool

import (
	"errors"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// seqs returns the sequences of records.
func seqs(recs []Record) []uint64 {
	out := make([]uint64, len(recs))
	for i, r := range recs {
		out[i] = r.Seq
	}
	return out
}

func equalSeqs(a []uint64, first, last uint64) bool {
	if uint64(len(a)) != last-first+1 {
		return false
	}
	for i, v := range a {
		if v != first+uint64(i) {
			return false
		}
	}
	return true
}

func TestRead(t *testing.T) {
	s := openSpool(t, Options{})
	// Three commits of 10 events of 100 bytes: blocks 1-10, 11-20, 21-30.
	for c := range uint64(3) {
		commit(t, s, "src", 10*(c+1), entries(opLane, "src", 10*c+1, 10, 100))
	}
	tests := []struct {
		name                string
		id                  StreamID
		from                uint64
		maxEvents, maxBytes int
		first, last         uint64 // expected range; last < first means none
		err                 error
	}{
		{"everything", opStream(1), 1, 0, 0, 1, 30, nil},
		{"max events across blocks", opStream(1), 1, 15, 0, 1, 15, nil},
		{"from inside a block", opStream(1), 14, 3, 0, 14, 16, nil},
		{"max bytes", opStream(1), 1, 0, 250, 1, 2, nil},
		{"max bytes below one event", opStream(1), 7, 0, 10, 7, 7, nil},
		{"last event", opStream(1), 30, 10, 0, 30, 30, nil},
		{"at next", opStream(1), 31, 10, 0, 1, 0, nil},
		{"beyond next", opStream(1), 99, 10, 0, 1, 0, nil},
		{"empty lane", bulkStream(1), 1, 10, 0, 1, 0, nil},
		{"unknown stream", opStream(7), 1, 10, 0, 1, 0, ErrUnknownStream},
		{"unspecified lane", StreamID{Stream: 1}, 1, 10, 0, 1, 0, ErrUnknownStream},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := s.Read(tt.id, tt.from, tt.maxEvents, tt.maxBytes, nil)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v; want %v", err, tt.err)
			}
			got := seqs(recs)
			if tt.last < tt.first {
				if len(got) != 0 {
					t.Fatalf("got %v; want nothing", got)
				}
				return
			}
			if !equalSeqs(got, tt.first, tt.last) {
				t.Fatalf("got %v; want %d..%d", got, tt.first, tt.last)
			}
			for _, r := range recs {
				if _, i, err := parseEvent(r.Event); err != nil || i != r.Seq {
					t.Fatalf("record %d holds event %d (%v)", r.Seq, i, err)
				}
			}
		})
	}

	t.Run("appends to dst and copies", func(t *testing.T) {
		dst := make([]Record, 1, 8)
		recs, err := s.Read(opStream(1), 5, 2, 0, dst)
		if err != nil || len(recs) != 3 || recs[1].Seq != 5 || recs[2].Seq != 6 {
			t.Fatalf("Read = %v, %v; want the zero record then 5, 6", seqs(recs), err)
		}
		again, _ := s.Read(opStream(1), 5, 1, 0, nil)
		recs[1].Event[0] ^= 0xff
		if again[0].Event[0] == recs[1].Event[0] {
			t.Error("records share memory across reads")
		}
	})
}

func TestAck(t *testing.T) {
	clock := newFakeClock()
	s := openSpool(t, Options{Now: clock.Now})
	// Blocks 1-10 (t0), 11-20 (t0+1m), 21-30 (t0+2m).
	for c := range uint64(3) {
		commit(t, s, "src", 10*(c+1), entries(opLane, "src", 10*c+1, 10, 100))
		clock.Advance(time.Minute)
	}
	t0 := clock.Now().Add(-3 * time.Minute)
	id := opStream(1)

	steps := []struct {
		name       string
		through    uint64
		err        error
		head       uint64
		oldest     time.Time
		blocksLeft int
	}{
		{"inside the first block", 4, nil, 5, t0, 3},
		{"again below head is a no-op", 2, nil, 5, t0, 3},
		{"end of the first block", 10, nil, 11, t0.Add(time.Minute), 2},
		{"across a block into the third", 23, nil, 24, t0.Add(2 * time.Minute), 1},
		{"beyond next", 31, ErrAckBeyondNext, 24, t0.Add(2 * time.Minute), 1},
		{"everything", 30, nil, 31, time.Time{}, 0},
	}
	for _, step := range steps {
		err := s.Ack(id, step.through)
		if !errors.Is(err, step.err) {
			t.Fatalf("%s: Ack(%d) = %v; want %v", step.name, step.through, err, step.err)
		}
		st, _ := streamState(s, id)
		if st.Head != step.head || !st.Oldest.Equal(step.oldest) {
			t.Fatalf("%s: head %d oldest %v; want %d %v", step.name, st.Head, st.Oldest, step.head, step.oldest)
		}
		if n := countBlocks(t, s, id); n != step.blocksLeft {
			t.Fatalf("%s: %d blocks stored; want %d", step.name, n, step.blocksLeft)
		}
		if st.Pending() > 0 {
			recs := readAll(t, s, id)
			if !equalSeqs(seqs(recs), step.head, 30) {
				t.Fatalf("%s: read %v; want %d..30", step.name, seqs(recs), step.head)
			}
		}
		if _, err := s.Read(id, step.head-1, 1, 0, nil); step.head > 1 && !errors.Is(err, ErrAcked) {
			t.Fatalf("%s: Read before head: %v; want ErrAcked", step.name, err)
		}
	}
	if err := s.Ack(opStream(9), 1); !errors.Is(err, ErrUnknownStream) {
		t.Errorf("Ack of an unknown stream: %v; want ErrUnknownStream", err)
	}
	if got := s.Stats().Acked; got != 30 {
		t.Errorf("Stats.Acked = %d; want 30", got)
	}
}

func TestAckInsideBlockSurvivesReopen(t *testing.T) {
	s := openSpool(t, Options{})
	commit(t, s, "src", 20, entries(opLane, "src", 1, 20, 100))
	if err := s.Ack(opStream(1), 7); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s)
	st, _ := streamState(s, opStream(1))
	if st.Head != 8 || st.Next != 21 {
		t.Fatalf("after reopen head %d next %d; want 8 21", st.Head, st.Next)
	}
	recs := readAll(t, s, opStream(1))
	if !equalSeqs(seqs(recs), 8, 20) {
		t.Fatalf("read %v; want 8..20", seqs(recs))
	}
	// Appends continue the sequence.
	commit(t, s, "src", 21, entries(opLane, "src", 21, 1, 100))
	if st, _ := streamState(s, opStream(1)); st.Next != 22 {
		t.Errorf("next %d; want 22", st.Next)
	}
}

func TestAckDrainedStreamKeepsSequence(t *testing.T) {
	s := openSpool(t, Options{})
	commit(t, s, "src", 5, entries(opLane, "src", 1, 5, 100))
	if err := s.Ack(opStream(1), 5); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s)
	// No block left: next comes from the persisted head, never back to 1.
	st, _ := streamState(s, opStream(1))
	if st.Head != 6 || st.Next != 6 || !st.Live {
		t.Fatalf("after reopen %+v; want live head 6 next 6", st)
	}
	commit(t, s, "src", 6, entries(opLane, "src", 6, 1, 100))
	recs := readAll(t, s, opStream(1))
	if len(recs) != 1 || recs[0].Seq != 6 {
		t.Fatalf("read %v; want [6]", seqs(recs))
	}
}

// TestAckAcrossTransactions acks more blocks than one transaction deletes,
// then simulates a crash between its transactions and checks Open finishes
// the job.
func TestAckAcrossTransactions(t *testing.T) {
	defer func(n int) { maxDeletesPerTxn = n }(maxDeletesPerTxn)
	maxDeletesPerTxn = 3
	s := openSpool(t, Options{})
	for c := range uint64(10) { // ten blocks of 5 events
		commit(t, s, "src", 5*(c+1), entries(opLane, "src", 5*c+1, 5, 100))
	}
	id := opStream(1)
	if err := s.Ack(id, 22); err != nil { // deletes 4 blocks in 2 transactions
		t.Fatal(err)
	}
	if n := countBlocks(t, s, id); n != 6 {
		t.Fatalf("%d blocks left; want 6", n)
	}

	// A crash after the first transaction of Ack(through 40): head 41 is
	// persisted with purged 21, blocks 21-25 .. 36-40 still there.
	if err := s.db.Update(func(txn *badger.Txn) error {
		return txn.Set(streamKey(id), streamRecord{head: 41, purged: 21}.encode())
	}); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s)
	if n := countBlocks(t, s, id); n != 2 {
		t.Fatalf("after reopen %d blocks left; want 2 (41-45, 46-50)", n)
	}
	recs := readAll(t, s, id)
	if !equalSeqs(seqs(recs), 41, 50) {
		t.Fatalf("read %v; want 41..50", seqs(recs))
	}
}

// countBlocks counts the stored blocks of a stream, tombstones excluded.
func countBlocks(t testing.TB, s *Spool, id StreamID) int {
	t.Helper()
	n := 0
	err := s.db.View(func(txn *badger.Txn) error {
		it := blockIterator(txn, id, false)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
