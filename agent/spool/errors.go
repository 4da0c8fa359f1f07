package spool

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned by calls on a closed spool.
	ErrClosed = errors.New("spool closed")
	// ErrCorrupt is returned by Open when the directory does not hold an
	// intact spool: data without a marker, a marker without data, a database
	// without an epoch, or blocks missing. The spool refuses to open rather
	// than start empty; an operator must move the directory aside.
	ErrCorrupt = errors.New("spool corrupt")
	// ErrUnknownStream is returned by Read and Ack for a stream that does not
	// exist, or no longer does (fully acknowledged backlog).
	ErrUnknownStream = errors.New("unknown stream")
	// ErrAcked is returned by Read when asked for events before the head:
	// they were acknowledged (or dropped) and are gone.
	ErrAcked = errors.New("events already acknowledged")
	// ErrAckBeyondNext is returned by Ack for a sequence that was never
	// appended.
	ErrAckBeyondNext = errors.New("ack beyond last appended event")
	// ErrCommitTooLarge is returned by Commit for a transaction that cannot
	// be stored in one Badger transaction (more than maxCommitBytes of
	// events). The source must commit smaller batches.
	ErrCommitTooLarge = errors.New("commit too large")
)

// PausedError is returned by Commit when its context ended while intake was
// paused. It unwraps to the context's error.
type PausedError struct {
	Reason Paused
	Err    error
}

func (e *PausedError) Error() string {
	return fmt.Sprintf("commit: intake paused (%s): %v", e.Reason, e.Err)
}

func (e *PausedError) Unwrap() error { return e.Err }
