package spool

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// How the quarantine is stored (keys.go has the prefixes):
//
//	'q' chunk(8)          the records one commit quarantined (up to
//	                      quarantineChunkBytes each; a commit with more
//	                      makes several chunks), never rewritten
//	'p' chunk(8) idx(4)   a record's patch: what retries changed (attempts,
//	                      last error, new code and reason) or "resolved"
//	'n' source            number of records of a source in quarantine
//
// One value per chunk, not one key per record: a file of ten thousand bad
// lines read in one batch is one or a few Badger entries (most in the value
// log), so it can never make its commit too big for a transaction (about
// 13,000 entries and 1.2 MiB of LSM data) and crash-loop its connector.
// Records change only through patches. A chunk whose records are all
// resolved is deleted with its patches. Chunk keys grow: the committer keeps
// the last one (Spool.qlast, found at Open) and takes max(last+1, now in ns).

const chunkVersion = 1

// chunk is one decoded chunk.
type chunk struct {
	at     time.Time
	source string
	recs   []chunkRecord
}

type chunkRecord struct {
	origin, code, reason, ref string
	payload                   []byte
}

// patch is what happened to a record after it was quarantined.
type patch struct {
	Resolved    bool      `json:"resolved,omitempty"`
	Code        string    `json:"code,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	LastSeen    time.Time `json:"last_seen,omitzero"`
	Attempts    int       `json:"attempts,omitempty"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
}

func (c *chunk) record(key uint64, idx uint32, p patch) QuarantineRecord {
	r := c.recs[idx]
	rec := QuarantineRecord{
		ID:          quarantineID(key, idx),
		Source:      c.source,
		Origin:      r.origin,
		Code:        r.code,
		Reason:      r.reason,
		Ref:         r.ref,
		Payload:     r.payload,
		FirstSeen:   c.at,
		LastSeen:    c.at,
		Attempts:    p.Attempts,
		LastAttempt: p.LastAttempt,
		LastError:   p.LastError,
	}
	if p.Code != "" {
		rec.Code, rec.Reason = p.Code, p.Reason
	}
	if !p.LastSeen.IsZero() {
		rec.LastSeen = p.LastSeen
	}
	return rec
}

func chunkKey(k uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixQuarantine}, k)
}

func patchPrefix(k uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixPatch}, k)
}

func patchKey(k uint64, idx uint32) []byte {
	return binary.BigEndian.AppendUint32(patchPrefix(k), idx)
}

func countKey(source string) []byte {
	return append([]byte{prefixQuarantineCount}, source...)
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendString(b []byte, v string) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func encodeChunk(source string, at time.Time, recs []QuarantineRecord) []byte {
	size := 1 + 8 + len(source) + 2*binary.MaxVarintLen64
	for i := range recs {
		size += recordSize(&recs[i])
	}
	b := make([]byte, 0, size)
	b = append(b, chunkVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(at.UnixNano()))
	b = appendString(b, source)
	b = binary.AppendUvarint(b, uint64(len(recs)))
	for _, r := range recs {
		b = appendString(b, r.Origin)
		b = appendString(b, r.Code)
		b = appendString(b, r.Reason)
		b = appendString(b, r.Ref)
		b = appendBytes(b, r.Payload)
	}
	return b
}

var errBadChunk = errors.New("malformed quarantine chunk")

// decodeChunk decodes a chunk; the records' payloads alias b.
func decodeChunk(b []byte) (*chunk, error) {
	if len(b) < 9 || b[0] != chunkVersion {
		return nil, errBadChunk
	}
	c := &chunk{at: time.Unix(0, int64(binary.BigEndian.Uint64(b[1:9]))).UTC()}
	b = b[9:]
	field := func() ([]byte, error) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, errBadChunk
		}
		v := b[k : k+int(n) : k+int(n)]
		b = b[k+int(n):]
		return v, nil
	}
	src, err := field()
	if err != nil {
		return nil, err
	}
	c.source = string(src)
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, errBadChunk
	}
	b = b[k:]
	c.recs = make([]chunkRecord, n)
	for i := range c.recs {
		var f [5][]byte
		for j := range f {
			if f[j], err = field(); err != nil {
				return nil, err
			}
		}
		c.recs[i] = chunkRecord{origin: string(f[0]), code: string(f[1]), reason: string(f[2]), ref: string(f[3]), payload: f[4]}
	}
	if len(b) != 0 {
		return nil, errBadChunk
	}
	return c, nil
}

// getChunk reads and decodes chunk k: ErrNotQuarantined if it is gone,
// ErrCorrupt if it does not decode.
func getChunk(txn *badger.Txn, k uint64) (*chunk, error) {
	item, err := txn.Get(chunkKey(k))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotQuarantined
	}
	if err != nil {
		return nil, err
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return nil, err
	}
	c, err := decodeChunk(v)
	if err != nil {
		return nil, fmt.Errorf("%w: quarantine chunk %016x: %w", ErrCorrupt, k, err)
	}
	return c, nil
}

func getPatch(txn *badger.Txn, k uint64, idx uint32) (patch, error) {
	var p patch
	item, err := txn.Get(patchKey(k, idx))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return p, nil
	}
	if err != nil {
		return p, err
	}
	err = item.Value(func(v []byte) error { return json.Unmarshal(v, &p) })
	if err != nil {
		return p, fmt.Errorf("%w: quarantine patch %s: %w", ErrCorrupt, quarantineID(k, idx), err)
	}
	return p, nil
}

// chunkPatches returns the patches of chunk k by record index. It opens an
// iterator: in a read-write transaction no other may be open.
func chunkPatches(txn *badger.Txn, k uint64) (map[uint32]patch, error) {
	prefix := patchPrefix(k)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false})
	defer it.Close()
	out := map[uint32]patch{}
	for it.Seek(prefix); it.Valid(); it.Next() {
		key := it.Item().Key()
		if len(key) != len(prefix)+4 {
			return nil, fmt.Errorf("%w: bad quarantine patch key %x", ErrCorrupt, key)
		}
		var p patch
		if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &p) }); err != nil {
			return nil, fmt.Errorf("%w: quarantine patch %x: %w", ErrCorrupt, key, err)
		}
		out[binary.BigEndian.Uint32(key[len(prefix):])] = p
	}
	return out, nil
}

// eachChunk calls fn for every chunk from key `from` on, in key order,
// until fn returns false or an error.
func eachChunk(txn *badger.Txn, from uint64, fn func(key uint64, c *chunk) (bool, error)) error {
	prefix := []byte{prefixQuarantine}
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false})
	defer it.Close()
	for it.Seek(chunkKey(from)); it.Valid(); it.Next() {
		key := it.Item().Key()
		if len(key) != 9 {
			return fmt.Errorf("%w: bad quarantine chunk key %x", ErrCorrupt, key)
		}
		k := binary.BigEndian.Uint64(key[1:])
		v, err := it.Item().ValueCopy(nil)
		if err != nil {
			return err
		}
		c, err := decodeChunk(v)
		if err != nil {
			return fmt.Errorf("%w: quarantine chunk %016x: %w", ErrCorrupt, k, err)
		}
		more, err := fn(k, c)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// loadQuarantine reads the per-source counts and the last chunk key at Open.
func (s *Spool) loadQuarantine() error {
	s.quarantined = map[string]int64{}
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixQuarantineCount}, PrefetchValues: true})
		for it.Rewind(); it.Valid(); it.Next() {
			src := string(it.Item().Key()[1:])
			err := it.Item().Value(func(v []byte) error {
				if len(v) != 8 {
					return fmt.Errorf("%w: quarantine count of %q is %x", ErrCorrupt, src, v)
				}
				s.quarantined[src] = int64(binary.BigEndian.Uint64(v))
				return nil
			})
			if err != nil {
				it.Close()
				return err
			}
		}
		it.Close()
		rev := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixQuarantine}, Reverse: true})
		defer rev.Close()
		rev.Seek(chunkKey(^uint64(0)))
		if rev.Valid() {
			if key := rev.Item().Key(); len(key) == 9 {
				s.qlast = binary.BigEndian.Uint64(key[1:])
			}
		}
		return nil
	})
}

// checkQuarantineOps answers at once (ErrNotQuarantined) the requests of a
// group whose quarantine operation names a record that is not there, or
// that another request of the group already operates on, and returns the
// others. Only the committer writes quarantine keys, so what it reads here
// still holds when it writes the group. Callers hold commitMu.
func (s *Spool) checkQuarantineOps(group []*commitReq) []*commitReq {
	kept := group[:0]
	var seen map[string]bool
	for _, r := range group {
		if r.qop == nil {
			kept = append(kept, r)
			continue
		}
		err := s.db.View(func(txn *badger.Txn) error {
			c, err := getChunk(txn, r.qop.chunk)
			if err != nil {
				return err
			}
			p, err := getPatch(txn, r.qop.chunk, r.qop.idx)
			if err != nil {
				return err
			}
			if int(r.qop.idx) >= len(c.recs) || p.Resolved || seen[r.qop.id] {
				return ErrNotQuarantined
			}
			return nil
		})
		if errors.Is(err, ErrNotQuarantined) {
			err = fmt.Errorf("%w: %s", ErrNotQuarantined, r.qop.id)
		}
		if err != nil {
			r.done <- err
			continue
		}
		if seen == nil {
			seen = map[string]bool{}
		}
		seen[r.qop.id] = true
		kept = append(kept, r)
	}
	return kept
}

// writeQuarantine adds the quarantine part of reqs to txn and returns the
// change of each source's count, which applyQuarantine makes in memory
// once txn is durable. Callers hold commitMu.
func (s *Spool) writeQuarantine(txn *badger.Txn, reqs []*commitReq, now time.Time) (map[string]int64, error) {
	var delta map[string]int64
	add := func(src string, n int64) {
		if delta == nil {
			delta = map[string]int64{}
		}
		delta[src] += n
	}
	for _, r := range reqs {
		if len(r.quarantine) > 0 {
			if err := s.writeChunks(txn, r.source, r.quarantine, now); err != nil {
				return nil, err
			}
			add(r.source, int64(len(r.quarantine)))
		}
		if r.qop != nil {
			src, err := applyOp(txn, r.qop, now)
			if err != nil {
				return nil, err
			}
			if r.qop.resolve {
				add(src, -1)
			}
		}
	}
	for src, d := range delta {
		if d == 0 {
			continue
		}
		s.mu.Lock()
		n := s.quarantined[src] + d
		s.mu.Unlock()
		var err error
		if n <= 0 {
			err = txn.Delete(countKey(src))
		} else {
			err = txn.Set(countKey(src), binary.BigEndian.AppendUint64(nil, uint64(n)))
		}
		if err != nil {
			return nil, err
		}
	}
	return delta, nil
}

// writeChunks stores one request's records as chunks.
func (s *Spool) writeChunks(txn *badger.Txn, source string, recs []QuarantineRecord, now time.Time) error {
	for len(recs) > 0 {
		n, size := 0, 0
		for n < len(recs) && (n == 0 || size+recordSize(&recs[n]) <= quarantineChunkBytes) {
			size += recordSize(&recs[n])
			n++
		}
		k := uint64(now.UnixNano())
		if k <= s.qlast {
			k = s.qlast + 1
		}
		s.qlast = k
		if err := txn.SetEntry(badger.NewEntry(chunkKey(k), encodeChunk(source, now, recs[:n]))); err != nil {
			return err
		}
		recs = recs[n:]
	}
	return nil
}

// applyOp resolves or updates one record in txn and returns its source.
func applyOp(txn *badger.Txn, op *quarantineOp, now time.Time) (string, error) {
	c, err := getChunk(txn, op.chunk)
	if err != nil {
		return "", err
	}
	p, err := getPatch(txn, op.chunk, op.idx)
	if err != nil {
		return "", err
	}
	if int(op.idx) >= len(c.recs) || p.Resolved {
		return "", fmt.Errorf("%w: %s", ErrNotQuarantined, op.id)
	}
	if op.resolve {
		patches, err := chunkPatches(txn, op.chunk)
		if err != nil {
			return "", err
		}
		resolved := 1
		for _, q := range patches {
			if q.Resolved {
				resolved++
			}
		}
		if resolved < len(c.recs) {
			return c.source, setPatch(txn, op.chunk, op.idx, patch{Resolved: true})
		}
		// The chunk's last record: the chunk and its patches go.
		if err := txn.Delete(chunkKey(op.chunk)); err != nil {
			return "", err
		}
		for idx := range patches {
			if err := txn.Delete(patchKey(op.chunk, idx)); err != nil {
				return "", err
			}
		}
		return c.source, nil
	}
	p.Attempts++
	p.LastAttempt = now.UTC()
	p.LastError = op.fail.Err
	if op.fail.Code != "" {
		p.Code, p.Reason, p.LastSeen = op.fail.Code, op.fail.Reason, now.UTC()
	}
	if err := setPatch(txn, op.chunk, op.idx, p); err != nil {
		return "", err
	}
	*op.result = c.record(op.chunk, op.idx, p)
	return c.source, nil
}

func setPatch(txn *badger.Txn, k uint64, idx uint32, p patch) error {
	v, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return txn.Set(patchKey(k, idx), v)
}

// applyQuarantine makes a durable transaction's count changes in memory.
func (s *Spool) applyQuarantine(delta map[string]int64) {
	if len(delta) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for src, d := range delta {
		if n := s.quarantined[src] + d; n > 0 {
			s.quarantined[src] = n
		} else {
			delete(s.quarantined, src)
		}
	}
}
