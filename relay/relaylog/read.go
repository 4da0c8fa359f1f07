package relaylog

import (
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/draylink/dray/canonical"
)

// Entry is one event read from the log.
type Entry struct {
	// Seq is the event's global sequence number.
	Seq uint64
	// Site is the site that published it.
	Site string
	// Received is when the relay read its batch.
	Received time.Time
	// Epoch, Lane and Stream name the spool stream the event came from;
	// within one stream, global order is the spool's order.
	Epoch  string
	Lane   canonical.Lane
	Stream uint32
	// Event is the canonical binary event. It is the caller's; entries of
	// one block share a backing array.
	Event []byte
}

// Read appends to dst up to maxEvents entries with Seq >= from, in order,
// and returns the extended slice (empty when from is past LastSeq). from 0
// means the oldest retained event; a from below the oldest retained event
// returns ErrTruncated, so a consumer never skips events unknowingly.
// Read runs on a snapshot and may run concurrently with anything.
func (l *Log) Read(from uint64, maxEvents int, dst []Entry) ([]Entry, error) {
	if err := l.enter(); err != nil {
		return dst, err
	}
	defer l.leave()
	if maxEvents <= 0 {
		return dst, fmt.Errorf("read: maxEvents %d must be positive", maxEvents)
	}
	oldest := l.floor.Load().oldest
	if from == 0 {
		from = oldest
	}
	if from < oldest {
		return dst, fmt.Errorf("read from %d: %w (oldest is %d)", from, ErrTruncated, oldest)
	}
	if from > l.lastSeq.Load() {
		return dst, nil
	}

	txn := l.db.NewTransaction(false)
	defer txn.Discard()
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixBlock}})
	defer it.Close()
	want := from // the next sequence to return
	got := 0
	// Block keys are the blocks' last sequences: the first key >= from is
	// the block that holds from. Seeking from a retained sequence never
	// walks over deleted blocks.
	for it.Seek(blockKey(from)); it.Valid() && got < maxEvents; it.Next() {
		item := it.Item()
		last, err := parseBlockKey(item.Key())
		if err != nil {
			return dst, fmt.Errorf("read: %w", err)
		}
		err = item.Value(func(v []byte) error {
			h, events, err := decodeBlock(v)
			if err != nil {
				return err
			}
			first := last - uint64(h.count) + 1
			if first > want || last < want {
				if want < l.floor.Load().oldest {
					return fmt.Errorf("%w (retention passed %d while reading)", ErrTruncated, want)
				}
				return fmt.Errorf("%w: block %d..%d follows sequence %d", ErrCorrupt, first, last, want-1)
			}
			skip := int(want - first)
			take := min(h.count-skip, maxEvents-got)
			// Walk once to size one copy for the events taken.
			rest, size := events, 0
			var ev []byte
			for i := 0; i < skip+take; i++ {
				if ev, rest, err = nextBlockEvent(rest); err != nil {
					return err
				}
				if i >= skip {
					size += len(ev)
				}
			}
			arena := make([]byte, 0, size)
			rest = events
			for i := 0; i < skip+take; i++ {
				ev, rest, _ = nextBlockEvent(rest)
				if i < skip {
					continue
				}
				start := len(arena)
				arena = append(arena, ev...)
				dst = append(dst, Entry{Seq: first + uint64(i), Site: h.stream.site, Received: h.received,
					Epoch: h.stream.epoch, Lane: h.stream.lane, Stream: h.stream.stream,
					Event: arena[start:len(arena):len(arena)]})
			}
			got += take
			want += uint64(take)
			return nil
		})
		if err != nil {
			return dst, fmt.Errorf("read block %d: %w", last, err)
		}
	}
	return dst, nil
}

// LastSeq returns the global sequence of the last stored event (0 if none).
func (l *Log) LastSeq() uint64 { return l.lastSeq.Load() }

// Notify returns a channel that is closed after the next durable Append
// that stored at least one event (and at Close). Take the channel before
// reading so no append is missed:
//
//	for {
//		ch := log.Notify()
//		entries, err := log.Read(next, n, buf[:0])
//		...
//		if len(entries) == 0 {
//			<-ch
//		}
//	}
//
// Appends between two Notify calls coalesce into one signal.
func (l *Log) Notify() <-chan struct{} {
	l.notifyMu.Lock()
	defer l.notifyMu.Unlock()
	return l.notifyCh
}

func (l *Log) notify() {
	l.notifyMu.Lock()
	defer l.notifyMu.Unlock()
	close(l.notifyCh)
	l.notifyCh = make(chan struct{})
}

// SeqAtTime returns the first global sequence received at or after t, for
// replay by time range: LastSeq()+1 when nothing was received since t, the
// oldest retained sequence when t is older than the retained log.
//
// Times are the batches' Received times made non-decreasing in sequence
// order (a batch read a little earlier but appended after another takes
// that one's time), so the answer is exact to within the skew between
// concurrent connections of one group commit.
func (l *Log) SeqAtTime(t time.Time) (uint64, error) {
	if err := l.enter(); err != nil {
		return 0, err
	}
	defer l.leave()
	last := l.lastSeq.Load() // before the snapshot: every block <= last is in it
	f := l.floor.Load()

	txn := l.db.NewTransaction(false)
	defer txn.Discard()
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixTime}})
	defer it.Close()
	// Deleted time keys are all <= timeKey(floor, oldest): seek at or past it.
	seek := timeKey(f.time, f.oldest)
	if ns := t.UnixNano(); ns > f.time {
		seek = timeKey(ns, 0)
	}
	it.Seek(seek)
	if !it.Valid() {
		return last + 1, nil
	}
	var first uint64
	err := it.Item().Value(func(v []byte) error {
		var err error
		first, err = parseU64("time index", v)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("seq at time: %w", err)
	}
	return first, nil
}
