package spool

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dgraph-io/badger/v4"
)

// Origins of a quarantine record.
const (
	// OriginConnector: the connector (or its SDK) rejected the record.
	OriginConnector = "connector"
	// OriginAgent: the agent refused what the connector sent (an event that
	// fails the agent's own validation, of another site, of an undeclared
	// type, or undecodable).
	OriginAgent = "agent"
)

// QuarantineRecord is one record a source could not turn into a valid event
// (ARCHITECTURE.md, guarantee 6). It is committed in the same transaction as
// the batch and the cursor it came with, and stays until a retry turns it
// into events.
type QuarantineRecord struct {
	// ID names the record: 24 hex digits, in the order records were
	// quarantined. Set by the spool.
	ID string `json:"id"`
	// Source is the name of the source (connector) it came from.
	Source string `json:"source"`
	// Origin says who refused it: OriginConnector or OriginAgent.
	Origin string `json:"origin"`
	// Code is stable and machine-readable, e.g. "json_unknown_field".
	Code string `json:"code"`
	// Reason explains the problem to a human.
	Reason string `json:"reason"`
	// Ref locates the record in the source: "file:line:col", "table/pk", …
	Ref string `json:"ref"`
	// Payload is the offending record (for an invalid event, the event as
	// canonical JSON).
	Payload []byte `json:"payload"`
	// FirstSeen is when it was quarantined; LastSeen when it was last
	// rejected (by the first read, or by a retry that rejected it again).
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// Attempts counts the retries that failed (a successful one removes the
	// record); LastAttempt and LastError describe the latest.
	Attempts    int       `json:"attempts"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
}

// QuarantineFilter selects records for ListQuarantine.
type QuarantineFilter struct {
	// Source and Code keep only the records that match (empty: all).
	Source, Code string
	// After lists the records that come after this ID (pagination).
	After string
	// Limit caps the records returned: 1 to MaxQuarantineLimit, default
	// DefaultQuarantineLimit.
	Limit int
}

// Page sizes of ListQuarantine.
const (
	DefaultQuarantineLimit = 100
	MaxQuarantineLimit     = 1000
)

// RetryFailure describes a retry that did not turn a record into events.
type RetryFailure struct {
	// Code and Reason replace the record's when the connector rejected it
	// again (empty: unchanged).
	Code, Reason string
	// Err says what went wrong; it becomes the record's LastError.
	Err string
}

// ErrNotQuarantined is returned for an ID that names no record in
// quarantine (never there, resolved, or malformed).
var ErrNotQuarantined = errors.New("no such record in quarantine")

// Quarantine limits. A request's records are stored as chunks, each one
// value; a record's fields are never cut except a reason or ref too long to
// be useful to a human, which ends with "…".
const (
	// maxQuarantineBytes bounds the records of one commit (payloads and
	// text): a chunk must fit a value-log file (16 MiB).
	maxQuarantineBytes = 12 << 20
	// quarantineChunkBytes is the size at which a commit's records start a
	// new chunk.
	quarantineChunkBytes = 256 << 10
	maxRejectCode        = 128
	maxRejectRef         = 4 << 10
	maxRejectReason      = 64 << 10
	maxRejectOrigin      = 32
)

// CommitBatch is Commit with quarantine: it appends entries, stores source's
// cursor and quarantines records, all in one fsynced transaction, so that a
// reject is never lost (it is committed with the cursor that moves past it)
// and never committed without its cursor (a re-read cannot quarantine it
// twice). Each record needs a Code; Source, ID, FirstSeen and LastSeen are
// set by the spool, Origin defaults to OriginConnector. Blocking, errors
// and the rules on concurrent calls are those of Commit.
func (s *Spool) CommitBatch(ctx context.Context, source string, cursor []byte, entries []Entry, quarantine []QuarantineRecord) error {
	req, err := newCommitReq(source, cursor, entries)
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if err := req.addQuarantine(quarantine); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return s.submit(ctx, req)
}

// ResolveQuarantine appends entries (the events a successful retry made of
// record id) and removes the record, in one fsynced transaction; no cursor
// moves. ErrNotQuarantined when the record is gone (resolved meanwhile).
// Blocking and errors are those of Commit.
func (s *Spool) ResolveQuarantine(ctx context.Context, id string, entries []Entry) error {
	op, err := newQuarantineOp(id)
	if err != nil {
		return err
	}
	op.resolve = true
	req := &commitReq{qop: op, done: make(chan error, 1)}
	if err := req.addEntries(entries); err != nil {
		return fmt.Errorf("resolve quarantine %s: %w", id, err)
	}
	if err := s.submit(ctx, req); err != nil {
		return fmt.Errorf("resolve quarantine %s: %w", id, err)
	}
	return nil
}

// FailQuarantineRetry records a retry of record id that failed: one more
// attempt, its time and error, and the new code and reason if the connector
// rejected the record again. It returns the updated record.
func (s *Spool) FailQuarantineRetry(ctx context.Context, id string, f RetryFailure) (QuarantineRecord, error) {
	op, err := newQuarantineOp(id)
	if err != nil {
		return QuarantineRecord{}, err
	}
	op.fail = &f
	op.fail.Reason = truncate(op.fail.Reason, maxRejectReason)
	op.fail.Err = truncate(op.fail.Err, maxRejectReason)
	if len(f.Code) > maxRejectCode {
		return QuarantineRecord{}, fmt.Errorf("retry failure of %s: code of %d bytes", id, len(f.Code))
	}
	op.result = new(QuarantineRecord)
	req := &commitReq{qop: op, done: make(chan error, 1)}
	if err := s.submit(ctx, req); err != nil {
		return QuarantineRecord{}, fmt.Errorf("record retry of %s: %w", id, err)
	}
	return *op.result, nil
}

// Quarantined returns record id (ErrNotQuarantined if there is none).
func (s *Spool) Quarantined(id string) (QuarantineRecord, error) {
	chunk, idx, err := parseQuarantineID(id)
	if err != nil {
		return QuarantineRecord{}, err
	}
	if err := s.enter(); err != nil {
		return QuarantineRecord{}, err
	}
	defer s.leave()
	var rec QuarantineRecord
	err = s.db.View(func(txn *badger.Txn) error {
		c, err := getChunk(txn, chunk)
		if err != nil {
			return err
		}
		p, err := getPatch(txn, chunk, idx)
		if err != nil {
			return err
		}
		if int(idx) >= len(c.recs) || p.Resolved {
			return fmt.Errorf("%w: %s", ErrNotQuarantined, id)
		}
		rec = c.record(chunk, idx, p)
		return nil
	})
	if err != nil {
		return QuarantineRecord{}, fmt.Errorf("quarantine %s: %w", id, err)
	}
	return rec, nil
}

// ListQuarantine returns the records f selects, oldest first, at most
// f.Limit of them; pass the last one's ID as f.After for the next page.
func (s *Spool) ListQuarantine(f QuarantineFilter) ([]QuarantineRecord, error) {
	limit := f.Limit
	switch {
	case limit == 0:
		limit = DefaultQuarantineLimit
	case limit < 0 || limit > MaxQuarantineLimit:
		return nil, fmt.Errorf("list quarantine: limit %d is not between 1 and %d", limit, MaxQuarantineLimit)
	}
	var afterChunk uint64
	afterIdx := -1
	if f.After != "" {
		c, i, err := parseQuarantineID(f.After)
		if err != nil {
			return nil, fmt.Errorf("list quarantine: after: %w", err)
		}
		afterChunk, afterIdx = c, int(i)
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	var out []QuarantineRecord
	err := s.db.View(func(txn *badger.Txn) error {
		return eachChunk(txn, afterChunk, func(key uint64, c *chunk) (bool, error) {
			if f.Source != "" && c.source != f.Source {
				return true, nil
			}
			patches, err := chunkPatches(txn, key)
			if err != nil {
				return false, err
			}
			for i := range c.recs {
				if key == afterChunk && i <= afterIdx {
					continue
				}
				p := patches[uint32(i)]
				if p.Resolved {
					continue
				}
				rec := c.record(key, uint32(i), p)
				if f.Code != "" && rec.Code != f.Code {
					continue
				}
				out = append(out, rec)
				if len(out) == limit {
					return false, nil
				}
			}
			return true, nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	return out, nil
}

// QuarantineCounts returns how many records each source has in quarantine
// (sources with none are absent).
func (s *Spool) QuarantineCounts() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.quarantined)
}

// quarantineOp is a resolve or a failed retry of one record, done by the
// committer.
type quarantineOp struct {
	id      string
	chunk   uint64
	idx     uint32
	resolve bool
	fail    *RetryFailure
	result  *QuarantineRecord // the updated record, for fail
}

func newQuarantineOp(id string) (*quarantineOp, error) {
	chunk, idx, err := parseQuarantineID(id)
	if err != nil {
		return nil, err
	}
	return &quarantineOp{id: id, chunk: chunk, idx: idx}, nil
}

// addQuarantine checks and normalises records and adds them to the request.
func (r *commitReq) addQuarantine(recs []QuarantineRecord) error {
	if len(recs) == 0 {
		return nil
	}
	out := make([]QuarantineRecord, len(recs))
	for i, q := range recs {
		switch {
		case q.Code == "":
			return fmt.Errorf("quarantine record %d (ref %q) has no code", i, q.Ref)
		case len(q.Code) > maxRejectCode:
			return fmt.Errorf("quarantine record %d (ref %q): code of %d bytes exceeds %d", i, q.Ref, len(q.Code), maxRejectCode)
		}
		if q.Origin == "" {
			q.Origin = OriginConnector
		}
		q.Origin = truncate(q.Origin, maxRejectOrigin)
		q.Reason = truncate(q.Reason, maxRejectReason)
		q.Ref = truncate(q.Ref, maxRejectRef)
		q.Source = r.source
		out[i] = q
		r.qbytes += recordSize(&q)
	}
	if r.qbytes > maxQuarantineBytes {
		return fmt.Errorf("%w: %d bytes of quarantine records, limit %d", ErrCommitTooLarge, r.qbytes, maxQuarantineBytes)
	}
	r.quarantine = out
	return nil
}

// recordSize is about what a record takes in a chunk.
func recordSize(q *QuarantineRecord) int {
	return len(q.Origin) + len(q.Code) + len(q.Reason) + len(q.Ref) + len(q.Payload) + 5*binary.MaxVarintLen32
}

// truncate cuts s to at most n bytes on a rune boundary, ending it with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// quarantineID formats a record's ID: its chunk key and index in hex.
func quarantineID(chunk uint64, idx uint32) string {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], chunk)
	binary.BigEndian.PutUint32(b[8:], idx)
	return hex.EncodeToString(b[:])
}

func parseQuarantineID(id string) (chunk uint64, idx uint32, err error) {
	b, err := hex.DecodeString(strings.TrimSpace(id))
	if err != nil || len(b) != 12 {
		return 0, 0, fmt.Errorf("%w: %q is not a quarantine id (24 hex digits)", ErrNotQuarantined, id)
	}
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint32(b[8:]), nil
}
