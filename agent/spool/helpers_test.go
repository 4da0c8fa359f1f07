package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
)

const (
	opLane   = canonical.LaneOperational
	bulkLane = canonical.LaneBulk
)

func opStream(n uint32) StreamID   { return StreamID{Lane: opLane, Stream: n} }
func bulkStream(n uint32) StreamID { return StreamID{Lane: bulkLane, Stream: n} }

// testLogger writes the spool's logs to the test log, at Debug and above
// when -v is set.
func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if testing.Verbose() {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// openSpool opens a spool and closes it when the test ends.
func openSpool(t testing.TB, o Options) *Spool {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.Logger == nil {
		o.Logger = testLogger(t)
	}
	s, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// reopen closes s and opens the same directory with the same options.
func reopen(t testing.TB, s *Spool) *Spool {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return openSpool(t, s.opts)
}

// event is a test event: source, index and padding to size bytes.
func event(source string, i uint64, size int) []byte {
	b := make([]byte, 0, max(size, 16+len(source)))
	b = binary.BigEndian.AppendUint64(b, i)
	b = append(b, byte(len(source)))
	b = append(b, source...)
	for len(b) < size {
		b = append(b, byte(len(b)))
	}
	return b
}

func parseEvent(b []byte) (source string, i uint64, err error) {
	if len(b) < 9 || len(b) < 9+int(b[8]) {
		return "", 0, fmt.Errorf("bad test event %x", b)
	}
	return string(b[9 : 9+int(b[8])]), binary.BigEndian.Uint64(b), nil
}

// entries makes n events of source numbered from first, in lane l.
func entries(l canonical.Lane, source string, first uint64, n, size int) []Entry {
	es := make([]Entry, n)
	for k := range es {
		es[k] = Entry{Lane: l, Event: event(source, first+uint64(k), size)}
	}
	return es
}

// cursorOf encodes an event index as a cursor.
func cursorOf(i uint64) []byte { return binary.BigEndian.AppendUint64(nil, i) }

func commit(t testing.TB, s *Spool, source string, cursor uint64, es []Entry) {
	t.Helper()
	if err := s.Commit(context.Background(), source, cursorOf(cursor), es); err != nil {
		t.Fatalf("Commit(%s): %v", source, err)
	}
}

// readAll reads every pending event of a stream, in small pages to cross
// block boundaries.
func readAll(t testing.TB, s *Spool, id StreamID) []Record {
	t.Helper()
	var st StreamState
	for _, x := range s.Streams() {
		if x.StreamID == id {
			st = x
		}
	}
	var out []Record
	from := st.Head
	for from < st.Next {
		recs, err := s.Read(id, from, 97, 0, nil)
		if err != nil {
			t.Fatalf("Read(%v, %d): %v", id, from, err)
		}
		if len(recs) == 0 {
			t.Fatalf("Read(%v, %d) returned nothing before next %d", id, from, st.Next)
		}
		out = append(out, recs...)
		from = recs[len(recs)-1].Seq + 1
	}
	return out
}

// streamState returns the state of a stream, or ok false.
func streamState(s *Spool, id StreamID) (StreamState, bool) {
	for _, st := range s.Streams() {
		if st.StreamID == id {
			return st, true
		}
	}
	return StreamState{}, false
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// drain reads and acks everything pending, stream by stream.
func drain(t testing.TB, s *Spool) int {
	t.Helper()
	n := 0
	for _, st := range s.Streams() {
		from := st.Head
		for from < st.Next {
			recs, err := s.Read(st.StreamID, from, 4096, 4<<20, nil)
			if err != nil {
				t.Fatalf("Read(%v, %d): %v", st.StreamID, from, err)
			}
			last := recs[len(recs)-1].Seq
			if err := s.Ack(st.StreamID, last); err != nil {
				t.Fatalf("Ack(%v, %d): %v", st.StreamID, last, err)
			}
			n += len(recs)
			from = last + 1
		}
	}
	return n
}

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test; skipped under -short")
	}
}

func isPaused(err error, reason Paused) bool {
	var pe *PausedError
	return errors.As(err, &pe) && pe.Reason == reason && errors.Is(err, context.DeadlineExceeded)
}

// dirSize is the real size of the files in dir.
func dirSize(t testing.TB, dir string) int64 {
	t.Helper()
	n, err := dirBytes(dir)
	if err != nil {
		t.Fatalf("dirBytes: %v", err)
	}
	return n
}
