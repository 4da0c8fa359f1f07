package spool

import (
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// readChunk is the size of the buffers Read copies events into.
const readChunk = 256 << 10

// Read is called by the uplink to fetch events of stream id from sequence
// from (at least the head) in order: it appends them to dst and returns the
// extended slice (pass dst[:0] to reuse it). It stops before maxEvents
// events or maxBytes bytes of events (a limit <= 0 means none) but returns
// at least one event when from < Next, however large. Read returns no event
// when from >= Next, ErrAcked when from < Head, ErrUnknownStream for a
// stream that does not exist (any more). The events are copies the caller
// owns. Read may run concurrently with everything else; it sees the events
// committed before it started.
func (s *Spool) Read(id StreamID, from uint64, maxEvents, maxBytes int, dst []Record) ([]Record, error) {
	if err := s.enter(); err != nil {
		return dst, err
	}
	defer s.leave()

	s.mu.Lock()
	st := s.findLocked(id)
	var head, next uint64
	if st != nil {
		head, next = st.head, st.next
	}
	s.mu.Unlock()
	switch {
	case st == nil:
		return dst, fmt.Errorf("read %v: %w", id, ErrUnknownStream)
	case from < head:
		return dst, fmt.Errorf("read %v from %d: %w (head is %d)", id, from, ErrAcked, head)
	case from >= next:
		return dst, nil
	}

	// The transaction starts after next was read, so it sees every event
	// before next (applyCommit publishes next after the commit).
	txn := s.db.NewTransaction(false)
	defer txn.Discard()
	r := reader{id: id, expect: from, next: next, maxEvents: maxEvents, maxBytes: maxBytes, dst: dst}
	err := r.read(txn)
	if err != nil {
		// An Ack racing with this Read may have deleted blocks after head
		// was read: that is ErrAcked, not damage.
		s.mu.Lock()
		if st.head > r.expect {
			err = fmt.Errorf("%w (head is %d)", ErrAcked, st.head)
		}
		s.mu.Unlock()
		return r.dst, fmt.Errorf("read %v from %d: %w", id, from, err)
	}
	return r.dst, nil
}

// reader is the state of one Read.
type reader struct {
	id                  StreamID
	expect, next        uint64 // the next sequence to return; the end
	maxEvents, maxBytes int
	dst                 []Record
	n, size             int
	buf                 []byte // current copy buffer
	full                bool
}

func (r *reader) read(txn *badger.Txn) error {
	it := blockIterator(txn, r.id, false)
	defer it.Close()
	for it.Seek(blockKey(r.id, r.expect)); it.Valid() && !r.full && r.expect < r.next; it.Next() {
		item := it.Item()
		last, err := blockLast(item.Key())
		if err != nil {
			return err
		}
		if err := item.Value(func(v []byte) error { return r.block(last, v) }); err != nil {
			return fmt.Errorf("block ending at %d: %w", last, err)
		}
	}
	if !r.full && r.expect < r.next {
		return fmt.Errorf("%w: events %d to %d missing", ErrCorrupt, r.expect, r.next-1)
	}
	return nil
}

// block takes the wanted events of one block.
func (r *reader) block(last uint64, v []byte) error {
	h, err := parseBlockHeader(v)
	if err != nil {
		return err
	}
	if uint64(h.count) > last {
		return fmt.Errorf("%w: %d events end at %d", errBadBlock, h.count, last)
	}
	first := last - uint64(h.count) + 1
	if first > r.expect {
		return fmt.Errorf("%w: events %d to %d missing", ErrCorrupt, r.expect, first-1)
	}
	return eachEvent(v, func(i uint32, ev []byte) bool {
		seq := first + uint64(i)
		if seq < r.expect {
			return true
		}
		if seq >= r.next || (r.n > 0 && ((r.maxEvents > 0 && r.n >= r.maxEvents) ||
			(r.maxBytes > 0 && r.size+len(ev) > r.maxBytes))) {
			r.full = true
			return false
		}
		r.dst = append(r.dst, Record{Seq: seq, Event: r.copy(ev)})
		r.n++
		r.size += len(ev)
		r.expect = seq + 1
		return true
	})
}

// copy copies an event into the reader's buffers, which the records share.
func (r *reader) copy(ev []byte) []byte {
	if cap(r.buf)-len(r.buf) < len(ev) {
		size := readChunk
		if r.maxBytes > 0 {
			size = min(size, r.maxBytes-r.size)
		}
		r.buf = make([]byte, 0, max(size, len(ev)))
	}
	start := len(r.buf)
	r.buf = append(r.buf, ev...)
	return r.buf[start:len(r.buf):len(r.buf)]
}
