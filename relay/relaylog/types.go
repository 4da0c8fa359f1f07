package relaylog

import (
	"time"

	"github.com/draylink/dray/internal/wire"
)

// Incoming is one batch handed to Append by the ingest endpoint.
type Incoming struct {
	// Site is the publishing site, from its certificate.
	Site string
	// Header is the batch header (epoch, lane, stream, first/last sequence).
	Header wire.Header
	// Events are binary canonical events; Events[i] has sequence Header.First+i.
	Events [][]byte
	// Received is when the relay read the batch.
	Received time.Time
}

// Outcome is what Append did with a batch.
type Outcome int

const (
	// Stored means the batch's new events are durable (fsynced); events below
	// the high-water mark or whose id was already stored were skipped (a
	// batch may thus be Stored with Result.Stored == 0).
	Stored Outcome = iota + 1
	// Duplicate means every event was at or below the high-water mark:
	// nothing was written, and the batch is to be acknowledged.
	Duplicate
	// Gap means the batch starts beyond the next expected sequence; it is
	// refused and Result.Expected says where the sender must resume.
	Gap
	// Rejected means the batch cannot be stored (Result.Reason says why),
	// e.g. an event names another site.
	Rejected
)

// Result reports the outcome of one batch, in the order of Append's input.
type Result struct {
	Outcome Outcome
	// Stored is the number of events written.
	Stored int
	// SkippedSeq counts events at or below the high-water mark; SkippedID
	// counts events whose id was already in the log (a rewound source).
	SkippedSeq, SkippedID int
	// FirstSeq is the global sequence of the first stored event.
	FirstSeq uint64
	// Expected is the next sequence the stream expects (set on Gap).
	Expected uint64
	// Reason explains a Rejected outcome.
	Reason string
	// Dropped is set when a Stored batch started beyond the next expected
	// sequence and its header announced the missing sequences as removed by
	// the agent's drop policy (Header.DroppedThrough): it counts them. The
	// gap is accepted, logged and counted in Stats.DroppedSeq.
	Dropped uint64
}
