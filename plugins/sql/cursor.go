package sql

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// cursorVersion is the version of the cursor's JSON form.
const cursorVersion = 1

// cursorDoc is the cursor: one state per table, by name (doc.go has the
// format). A table missing from it starts from the beginning.
type cursorDoc struct {
	V      int                    `json:"v"`
	Tables map[string]*tableState `json:"tables"`
}

// position is a place in (timestamp, key) order.
type position struct {
	TS      dbValue   `json:"ts"`
	Key     []dbValue `json:"key,omitempty"`
	NullKey bool      `json:"null_key,omitempty"`
}

// gap is an id missing between two read ids of an outbox or tombstone
// table, waited for since Since (Unix seconds).
type gap struct {
	ID    int64 `json:"id"`
	Since int64 `json:"since"`
}

// tableState is where one table's next read starts.
type tableState struct {
	// At is the last row read in (ts, key) order (watermark).
	At *position `json:"at,omitempty"`
	// Floor: rows at or before it are final and not re-scanned (set when
	// the overlap window held more rows than overlap_max_rows).
	Floor *position `json:"floor,omitempty"`
	// Seen holds 8-byte digests of (record key, version), big-endian and
	// sorted, of the rows read in the overlap window: a re-scan emits
	// only rows not among them.
	Seen []byte `json:"seen,omitempty"`
	// ID is the last id read (outbox, tombstones) and Gaps the smaller
	// ids still waited for.
	ID   *int64 `json:"id,omitempty"`
	Gaps []gap  `json:"gaps,omitempty"`
	// RV is the last rowversion read, in hex (rowversion).
	RV string `json:"rv,omitempty"`
}

func (s *tableState) clone() *tableState {
	c := *s
	c.Gaps = slices.Clone(s.Gaps)
	return &c
}

func decodeCursor(b []byte) (*cursorDoc, error) {
	doc := &cursorDoc{V: cursorVersion, Tables: map[string]*tableState{}}
	if len(b) == 0 {
		return doc, nil
	}
	if err := json.Unmarshal(b, doc); err != nil {
		return nil, fmt.Errorf("decode cursor: %w", err)
	}
	if doc.V != cursorVersion {
		return nil, fmt.Errorf("decode cursor: version %d, want %d", doc.V, cursorVersion)
	}
	if doc.Tables == nil {
		doc.Tables = map[string]*tableState{}
	}
	return doc, nil
}

func encodeSeen(set map[uint64]struct{}, extra []uint64) []byte {
	all := slices.Collect(maps.Keys(set))
	all = append(all, extra...)
	slices.Sort(all)
	all = slices.Compact(all)
	out := make([]byte, 8*len(all))
	for i, h := range all {
		binary.BigEndian.PutUint64(out[8*i:], h)
	}
	return out
}

func decodeSeen(b []byte) map[uint64]struct{} {
	m := make(map[uint64]struct{}, len(b)/8)
	for i := 0; i+8 <= len(b); i += 8 {
		m[binary.BigEndian.Uint64(b[i:])] = struct{}{}
	}
	return m
}
