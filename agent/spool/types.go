package spool

import (
	"time"

	"github.com/draylink/dray/canonical"
)

// Entry is one event to append: its lane and its canonical binary encoding.
type Entry struct {
	Lane  canonical.Lane
	Event []byte
}

// StreamID names one gapless sequence of the spool: a lane and a stream
// number within it. A lane starts with stream 1; a new stream is opened when
// live events must overtake a backlog (see Spool.Commit).
type StreamID struct {
	Lane   canonical.Lane
	Stream uint32
}

// StreamState describes one stream.
type StreamState struct {
	StreamID
	// Head is the first unacknowledged sequence; Next the sequence the next
	// appended event gets. Pending = Next - Head.
	Head, Next uint64
	// Live is set on the stream new events of the lane are appended to.
	Live bool
	// Oldest is the append time of the event at Head (zero when empty).
	Oldest time.Time
	// DroppedThrough is the last sequence removed by a drop policy rather
	// than acknowledged (0 if none); the uplink tells the relay so the gap is
	// accepted, never silent.
	DroppedThrough uint64
	// Bytes approximates the size of the pending events as stored (block
	// headers included); the uplink may use it to pace a backlog.
	Bytes int64
}

// Pending is the number of events not yet acknowledged.
func (s StreamState) Pending() uint64 { return s.Next - s.Head }

// Record is one event read from a stream.
type Record struct {
	Seq   uint64
	Event []byte
}

// Policy says what a lane does when the spool reaches a cap.
type Policy int

const (
	// Backpressure stops intake (Commit blocks) until the uplink drains the
	// spool. The default: nothing is ever dropped.
	Backpressure Policy = iota
	// DropOldest removes the oldest events of the lane to make room. Chosen
	// explicitly by an operator for an event class; every drop is counted,
	// logged and announced to the relay.
	DropOldest
)

// Paused says why intake is stopped ("" when it is not).
type Paused string

// Reasons intake stops.
const (
	PausedNone     Paused = ""
	PausedMaxBytes Paused = "max_bytes"
	PausedMaxAge   Paused = "max_age"
	PausedDiskLow  Paused = "disk_low"
)

// Stats is a snapshot of the spool.
type Stats struct {
	Epoch     string
	DiskBytes int64 // real size of the files in the spool directory
	FreeBytes int64 // free space on the spool's file system (-1 if unknown)
	Streams   []StreamState
	Paused    Paused
	Dropped   map[canonical.Lane]uint64
	Commits   uint64 // committed transactions since open
	Appended  uint64 // events appended since open
	Acked     uint64 // events acknowledged since open
	Reclaims  uint64 // reclaim passes (memtable flush, Flatten, value-log GC) since open
}
