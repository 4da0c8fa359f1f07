package refsink

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// item is one unit of application: a single request, or one item of a
// batch.
type item struct {
	res    *resource
	path   string // the resource path of the item (milestones: with the id)
	format string
	key    string
	meta   meta
	body   []byte   // compacted JSON (nil if it was not JSON)
	sum    [32]byte // SHA-256 of body (or of the raw bytes if not JSON)

	// A rejected item has a status and a problem.
	status   int
	ptype    string
	title    string
	detail   string
	problems []problem
}

func (it *item) reject(status int, ptype, title, detail string, problems ...problem) {
	it.status, it.ptype, it.title, it.detail, it.problems = status, ptype, title, detail, problems
}

func (it *item) rejected() bool { return it.status != 0 }

// meta is what the ledger records about where an item came from.
type meta struct {
	eventID, eventType, site, correlationID, traceparent, partitionKey, principal string
	eventTime                                                                     *time.Time
}

// result is the answer for one item.
type result struct {
	status   int
	body     []byte
	location string
	replayed bool
	// applied or replayed: something the drop fault may eat.
	success bool
}

// idemKey identifies (resource, Idempotency-Key); idemEntry is what it is
// bound to: the fingerprint of the first applied request and its record.
type (
	idemKey   [16]byte
	idemEntry struct {
		fp  [16]byte
		seq uint64
	}
)

func idemKeyOf(resource, key string) idemKey {
	var buf [320]byte // a resource name and a key of at most 255 bytes
	return hash128(append(append(append(buf[:0], resource...), 0), key...))
}

// fingerprint of a request: its path and body hash.
func fingerprint(path string, sum [32]byte) [16]byte {
	var buf [256]byte
	return hash128(append(append(append(buf[:0], path...), 0), sum[:]...))
}

// hashSeeds seed hash128. The indexes it keys live in memory only and are
// rebuilt from the ledger at start, so new seeds each process are fine.
var hashSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

// hash128 is a 128-bit hash of b (two 64-bit maphashes): the in-memory
// indexes need no cryptographic hash, and SHA-256 cost about a tenth of
// applying an item.
func hash128(b []byte) [16]byte {
	var h [16]byte
	binary.LittleEndian.PutUint64(h[:8], maphash.Bytes(hashSeeds[0], b))
	binary.LittleEndian.PutUint64(h[8:], maphash.Bytes(hashSeeds[1], b))
	return h
}

// hash128String is hash128 of a string.
func hash128String(s string) [16]byte {
	var h [16]byte
	binary.LittleEndian.PutUint64(h[:8], maphash.String(hashSeeds[0], s))
	binary.LittleEndian.PutUint64(h[8:], maphash.String(hashSeeds[1], s))
	return h
}

// store decides, records and counts applications.
type store struct {
	kind         Kind
	now          func() time.Time
	recordBodies bool
	led          *ledgerFile

	mu         sync.Mutex
	nextSeq    uint64                // guarded by mu
	index      map[idemKey]idemEntry // guarded by mu
	partitions map[string]uint64     // guarded by mu: applied records per partition key
	eventIDs   map[[16]byte]struct{} // guarded by mu: applied event ids (hash128)
	stats      LedgerStats           // guarded by mu: committed records only
	scratch    []byte                // guarded by mu: encoding buffer
}

func openStore(dir string, kind Kind, now func() time.Time, recordBodies bool) (*store, int64, error) {
	s := &store{
		kind: kind, now: now, recordBodies: recordBodies,
		nextSeq:    1,
		index:      map[idemKey]idemEntry{},
		partitions: map[string]uint64{},
		eventIDs:   map[[16]byte]struct{}{},
		stats:      LedgerStats{Kind: kind, Resources: map[string]Counts{}, Sites: map[string]Counts{}},
	}
	led, truncated, err := openLedger(dir, s.restore)
	if err != nil {
		return nil, 0, err
	}
	s.led = led
	return s, truncated, nil
}

// restore replays one committed record at open.
func (s *store) restore(rec *Record) error {
	if rec.Kind != s.kind {
		return fmt.Errorf("record of a %s sink in a %s sink's data directory", rec.Kind, s.kind)
	}
	s.nextSeq = rec.Seq + 1
	if rec.Outcome == OutcomeApplied {
		var sum [32]byte
		if _, err := hex.Decode(sum[:], []byte(rec.BodySHA256)); err != nil {
			return fmt.Errorf("bodySha256: %w", err)
		}
		s.index[idemKeyOf(rec.Resource, rec.Key)] = idemEntry{fp: fingerprint(rec.Path, sum), seq: rec.Seq}
		if rec.PartitionKey != "" {
			s.partitions[rec.PartitionKey] = max(s.partitions[rec.PartitionKey], rec.PartitionSeq)
		}
	}
	s.countLocked(tallyOf(rec))
	return nil
}

// tally is what the stats count of a record.
type tally struct {
	seq                     uint64
	outcome                 Outcome
	resource, site, eventID string
	dropped                 bool
}

func tallyOf(rec *Record) tally {
	return tally{seq: rec.Seq, outcome: rec.Outcome, resource: rec.Resource, site: rec.Site, eventID: rec.EventID, dropped: rec.ResponseDropped}
}

// countLocked adds a committed record to the stats.
func (s *store) countLocked(rec tally) {
	st := &s.stats
	st.Records++
	st.LastSeq = max(st.LastSeq, rec.seq)
	st.add(rec.outcome)
	if rec.resource != "" {
		c := st.Resources[rec.resource]
		c.add(rec.outcome)
		st.Resources[rec.resource] = c
	}
	if rec.site != "" {
		site := rec.site
		c, ok := st.Sites[site]
		if !ok {
			site = strings.Clone(site) // a map key outlives the request
		}
		c.add(rec.outcome)
		st.Sites[site] = c
	}
	if rec.dropped {
		st.ResponsesDropped++
	}
	if rec.outcome == OutcomeApplied && rec.eventID != "" {
		n := len(s.eventIDs)
		s.eventIDs[hash128String(rec.eventID)] = struct{}{}
		if len(s.eventIDs) == n {
			st.EventIDReapplied++
		} else {
			st.DistinctEventIDs++
		}
	}
}

func (s *store) snapshot() LedgerStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Resources = maps.Clone(s.stats.Resources)
	st.Sites = maps.Clone(s.stats.Sites)
	return st
}

// appliedBody is the 201 answer of an applied item (and its replay).
type appliedBody struct {
	DocumentID     string    `json:"documentId"`
	Resource       string    `json:"resource"`
	Status         string    `json:"status"`
	IdempotencyKey string    `json:"idempotencyKey"`
	EventID        string    `json:"eventId,omitempty"`
	LedgerSeq      uint64    `json:"ledgerSeq"`
	AppliedAt      time.Time `json:"appliedAt"`
}

func documentID(r *resource, seq uint64) string {
	const zeros = "0000000000" // the seq zero-padded to 10 digits, as %010d
	var buf [20]byte
	digits := strconv.AppendUint(buf[:0], seq, 10)
	return r.prefix + zeros[:max(0, 10-len(digits))] + string(digits)
}

// seqOfDocument parses the seq back out of a document id of r.
func seqOfDocument(r *resource, doc string) (uint64, bool) {
	digits, ok := strings.CutPrefix(doc, r.prefix)
	if !ok || len(digits) != 10 {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	return n, err == nil && n > 0
}

// apply records every item in one go (a batch is one ledger append) and
// returns once they are durable; appended is called once its records are
// appended (before the wait for the fsync), or on failure. dropped marks the records whose response
// the drop fault will eat (set by the caller when it will drop). An error
// means the ledger failed or is closed: nothing may be answered as applied.
func (s *store) apply(items []*item, dropped bool, appended func()) ([]result, error) {
	defer appended()
	now := s.now().UTC()
	results := make([]result, len(items))
	tallies := make([]tally, len(items)) // counted once committed
	replays := make([]uint64, len(items))
	answers := make([]byte, 0, 192*len(items)) // the 201 bodies, one allocation
	var stamps timeStamps
	var g *commitGroup

	s.mu.Lock()
	batch := uint64(0)
	if len(items) > 1 || (len(items) == 1 && items[0].format != "json" && items[0].format != "cloudevents") {
		batch = s.nextSeq
	}
	var rec Record // one at a time: encoded into the ledger, then tallied
	for i, it := range items {
		rec = Record{
			Seq: s.nextSeq, Time: now, Kind: s.kind, Path: it.path, Format: it.format,
			Key: it.key, EventID: it.meta.eventID, EventType: it.meta.eventType, EventTime: it.meta.eventTime,
			Site: it.meta.site, CorrelationID: it.meta.correlationID, Traceparent: it.meta.traceparent,
			PartitionKey: it.meta.partitionKey, Principal: it.meta.principal,
			BodySHA256: hex.EncodeToString(it.sum[:]),
		}
		if it.res != nil {
			rec.Resource = it.res.name
		}
		if batch != 0 {
			rec.Batch, rec.BatchIndex = batch, i
		}
		if s.recordBodies && it.body != nil {
			rec.Body = it.body
		}
		res := &results[i]
		switch {
		case it.rejected():
			rec.Outcome, rec.Status = OutcomeRejected, it.status
			for _, p := range it.problems {
				rec.Problems = append(rec.Problems, p.String())
			}
			if len(rec.Problems) == 0 {
				rec.Problems = []string{strings.TrimPrefix(it.ptype, problemPrefix)}
			}
			res.status = it.status
			res.body = problemJSON(it.status, it.ptype, it.title, it.detail, it.path, it.problems)
		default:
			k := idemKeyOf(it.res.name, it.key)
			fp := fingerprint(it.path, it.sum)
			e, seen := s.index[k]
			switch {
			case seen && e.fp != fp:
				rec.Outcome, rec.Status, rec.Original = OutcomeConflict, http.StatusUnprocessableEntity, e.seq
				rec.Problems = []string{"idempotency-key-reused"}
				res.status = http.StatusUnprocessableEntity
				res.body = problemJSON(res.status, ptKeyReused, "Idempotency-Key is already used",
					fmt.Sprintf("key %q was applied (ledger record %d) with a different request; a key must not be reused across different payloads", it.key, e.seq),
					it.path, nil)
			case seen:
				rec.Outcome, rec.Status, rec.Original = OutcomeDuplicate, http.StatusCreated, e.seq
				replays[i] = e.seq
				res.replayed, res.success = true, true
			default:
				doc := documentID(it.res, rec.Seq)
				rec.Outcome, rec.Status, rec.DocumentID = OutcomeApplied, http.StatusCreated, doc
				start := len(answers)
				answers = appendApplied(answers, &appliedBody{
					DocumentID: doc, Resource: it.res.name, Status: "applied", IdempotencyKey: it.key,
					EventID: it.meta.eventID, LedgerSeq: rec.Seq, AppliedAt: now,
				}, &stamps)
				body := answers[start:len(answers):len(answers)]
				rec.Response = body
				s.index[k] = idemEntry{fp: fp, seq: rec.Seq}
				if pk := it.meta.partitionKey; pk != "" {
					n, ok := s.partitions[pk]
					if !ok {
						// A map key outlives the request: not a slice of its body.
						pk = strings.Clone(pk)
					}
					s.partitions[pk] = n + 1
					rec.PartitionSeq = n + 1
				}
				res.status, res.body, res.success = http.StatusCreated, body, true
				res.location = it.path + "/" + doc
			}
		}
		rec.ResponseDropped = dropped && res.success
		s.scratch = append(appendRecord(s.scratch[:0], &rec, &stamps), '\n')
		var err error
		if g, err = s.led.append(s.scratch); err != nil {
			s.mu.Unlock()
			return nil, err
		}
		tallies[i] = tallyOf(&rec)
		s.nextSeq++
	}
	s.mu.Unlock()
	appended()

	// Groups commit in order, so the last one covers every record above,
	// and every original a duplicate refers to (appended earlier).
	if g != nil {
		<-g.done
		if g.err != nil {
			return nil, g.err
		}
	}
	for i, seq := range replays {
		if seq == 0 {
			continue
		}
		orig, err := s.led.read(seq)
		if err != nil {
			return nil, err
		}
		results[i].status = orig.Status
		results[i].body = orig.Response
		results[i].location = orig.Path + "/" + orig.DocumentID
	}
	s.mu.Lock()
	for _, t := range tallies {
		s.countLocked(t)
	}
	s.mu.Unlock()
	return results, nil
}

// close flushes and closes the ledger.
func (s *store) close() error { return s.led.close() }
