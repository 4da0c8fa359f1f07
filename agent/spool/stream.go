package spool

import (
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/draylink/dray/canonical"
)

// stream is the in-memory state of one stream. Fields are guarded by
// Spool.mu; next changes only in the committer, head, purged and dropped
// only under Spool.ackMu.
type stream struct {
	id StreamID
	// head is the first unacknowledged sequence, next the sequence of the
	// next appended event.
	head, next uint64
	// purged: every block whose last event is before purged is deleted.
	// Equal to head except after a crash in the middle of a large Ack, which
	// Open finishes.
	purged uint64
	// dropped is the last sequence removed by a drop policy (0 if none).
	dropped uint64
	// oldest is the append time of the block holding head (zero if empty).
	oldest time.Time
	// bytes approximates the size of the pending blocks.
	bytes int64
	// linkGen is the link-up period the stream was opened in by a rotation
	// (0 for streams loaded at Open); it may be retired only in a later one.
	linkGen uint64
}

func (st *stream) pending() uint64 { return st.next - st.head }

func (st *stream) state(live bool) StreamState {
	s := StreamState{
		StreamID:       st.id,
		Head:           st.head,
		Next:           st.next,
		Live:           live,
		DroppedThrough: st.dropped,
		Bytes:          st.bytes,
	}
	if st.pending() > 0 {
		s.Oldest = st.oldest
	}
	return s
}

// lane holds the streams of one lane, oldest first; the last one is live.
type lane struct {
	streams []*stream
}

func (l *lane) live() *stream { return l.streams[len(l.streams)-1] }

func (l *lane) find(n uint32) *stream {
	i, ok := slices.BinarySearchFunc(l.streams, n, func(st *stream, n uint32) int {
		return cmpUint32(st.id.Stream, n)
	})
	if !ok {
		return nil
	}
	return l.streams[i]
}

func (l *lane) remove(st *stream) {
	l.streams = slices.DeleteFunc(l.streams, func(x *stream) bool { return x == st })
}

func cmpUint32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// laneIndex maps a valid lane to its index in Spool.lanes.
func laneIndex(l canonical.Lane) int {
	if l == canonical.LaneOperational {
		return 0
	}
	return 1
}

// Stream record: the persisted part of a stream, under streamKey.
//
//	head(8) purged(8) dropped(8), big-endian
//
// next is not stored: it is one past the last block key, or head when the
// stream has no block.
const streamRecordLen = 24

type streamRecord struct {
	head, purged, dropped uint64
}

func (r streamRecord) encode() []byte {
	b := make([]byte, 0, streamRecordLen)
	b = binary.BigEndian.AppendUint64(b, r.head)
	b = binary.BigEndian.AppendUint64(b, r.purged)
	b = binary.BigEndian.AppendUint64(b, r.dropped)
	return b
}

func parseStreamRecord(v []byte) (streamRecord, error) {
	if len(v) != streamRecordLen {
		return streamRecord{}, fmt.Errorf("bad stream record: %d bytes", len(v))
	}
	r := streamRecord{
		head:    binary.BigEndian.Uint64(v),
		purged:  binary.BigEndian.Uint64(v[8:]),
		dropped: binary.BigEndian.Uint64(v[16:]),
	}
	if r.head == 0 || r.purged == 0 || r.purged > r.head || r.dropped >= r.head {
		return streamRecord{}, fmt.Errorf("bad stream record: head %d purged %d dropped %d", r.head, r.purged, r.dropped)
	}
	return r, nil
}

func (st *stream) record() streamRecord {
	return streamRecord{head: st.head, purged: st.purged, dropped: st.dropped}
}
