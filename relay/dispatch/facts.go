package dispatch

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2/z"

	"github.com/draylink/dray/internal/backoff"
	"github.com/draylink/dray/relay/relaylog"
	"github.com/draylink/dray/relay/sink"
)

// Facts delivered, per sink (doc.go, "One fact, once"). The record lives in
// the relay log as consumer marks (relaylog.Mark) of the sink's consumer:
//
//	f/<idempotency key>    -> seq (8) | request digest (16) | event id
//	r/<event id>           -> "" : a retraction of that event was delivered
//
// Marks of delivered events wait in pending until the next cursor write,
// which stores them in front of the cursor (relaylog.SetCursorMarks).

const (
	factMarkPrefix    = "f/"
	retractMarkPrefix = "r/"
	digestLen         = 16
)

// fact is what the sink's record says about an idempotency key.
type fact struct {
	Seq     uint64
	Digest  [digestLen]byte
	EventID string
}

func (f fact) encode() string {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 8+digestLen+len(f.EventID)), f.Seq)
	b = append(b, f.Digest[:]...)
	return string(append(b, f.EventID...))
}

// errBadRecord marks a delivered-fact record that cannot be decoded.
var errBadRecord = errors.New("undecodable delivered-fact record")

func decodeFact(v []byte) (fact, error) {
	var f fact
	if len(v) < 8+digestLen {
		return f, fmt.Errorf("%w of %d bytes", errBadRecord, len(v))
	}
	f.Seq = binary.BigEndian.Uint64(v)
	copy(f.Digest[:], v[8:])
	f.EventID = string(v[8+digestLen:])
	return f, nil
}

// digestOf identifies a request as the sink's idempotency sees it: method,
// path and body.
func digestOf(r *sink.Request) [digestLen]byte {
	h := sha256.New()
	h.Write([]byte(r.Method))
	h.Write([]byte{' '})
	h.Write([]byte(r.Path))
	h.Write([]byte{'\n'})
	h.Write(r.Body)
	var d [digestLen]byte
	copy(d[:], h.Sum(nil))
	return d
}

// marks holds the marks of delivered events not yet written.
type marks struct {
	mu      sync.Mutex
	pending map[string]string // guarded by mu: mark name -> value
}

func (m *marks) put(name, value string) {
	m.mu.Lock()
	if m.pending == nil {
		m.pending = map[string]string{}
	}
	m.pending[name] = value
	m.mu.Unlock()
}

func (m *marks) get(name string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.pending[name]
	return v, ok
}

// snapshot returns the pending marks.
func (m *marks) snapshot() []relaylog.Mark {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]relaylog.Mark, 0, len(m.pending))
	for k, v := range m.pending {
		out = append(out, relaylog.Mark{Name: k, Value: []byte(v)})
	}
	return out
}

// written forgets the marks of a snapshot once they are durable (unless
// they changed since).
func (m *marks) written(snap []relaylog.Mark) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, mk := range snap {
		if v, ok := m.pending[mk.Name]; ok && v == string(mk.Value) {
			delete(m.pending, mk.Name)
		}
	}
}

// Filter sizing: a Bloom filter of this many keys at this false-positive
// rate takes ~5 MiB per sink. More keys than that only raise the rate,
// i.e. the share of events that are looked up in the relay log.
const (
	filterKeys = 4 << 20
	filterFP   = 0.01
)

// filter is an in-memory Bloom filter of the idempotency keys the sink
// delivered, in front of the relay log lookup: most events have no record,
// and the filter says so without asking Badger. It is loaded from the
// marks when Run starts; until it is ready, every key is looked up. Keys
// delivered meanwhile are added as they are recorded, so none is missed.
type filter struct {
	bloom *blockBloom
	ready atomic.Bool
}

func newFilter() *filter { return &filter{bloom: newBlockBloom(filterKeys, filterFP)} }

func (f *filter) add(key string) { f.bloom.add(z.MemHashString(key)) }

// mayHave is false only when the key was certainly not delivered.
func (f *filter) mayHave(key string) bool {
	return !f.ready.Load() || f.bloom.has(z.MemHashString(key))
}

// loadFilter adds the keys of the stored marks to the filter and makes it
// ready; it gives up (the filter stays unready) when ctx ends or the relay
// log fails.
func (d *Dispatcher) loadFilter(ctx context.Context) {
	start := time.Now()
	n := 0
	err := d.rlog.ScanMarks(d.consumer, factMarkPrefix, func(name string) error {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		d.filter.add(name[len(factMarkPrefix):])
		n++
		return nil
	})
	if err != nil {
		if ctx.Err() == nil {
			d.log.Error("loading the delivered-fact filter failed; every key is looked up in the relay log", "err", err)
		}
		return
	}
	d.filter.ready.Store(true)
	d.log.Info("delivered-fact filter loaded", "keys", n, "took", time.Since(start).Round(time.Millisecond))
}

// mark returns a mark, pending or stored.
func (d *Dispatcher) mark(name string) ([]byte, bool, error) {
	if v, ok := d.marks.get(name); ok {
		return []byte(v), true, nil
	}
	return d.rlog.GetMark(d.consumer, name)
}

// delivered returns the sink's record of an idempotency key.
func (d *Dispatcher) delivered(key string) (fact, bool, error) {
	name := factMarkPrefix + key
	if _, ok := d.marks.get(name); !ok && !d.filter.mayHave(key) {
		return fact{}, false, nil
	}
	v, ok, err := d.mark(name)
	if err != nil || !ok {
		return fact{}, false, err
	}
	f, err := decodeFact(v)
	if err != nil {
		return f, false, fmt.Errorf("idempotency key %s: %w", key, err)
	}
	return f, true, nil
}

// retracted reports whether a retraction of event id was delivered.
func (d *Dispatcher) retracted(id string) (bool, error) {
	_, ok, err := d.mark(retractMarkPrefix + id)
	return ok, err
}

// recordDelivered notes that the sink took an item: its idempotency key is
// delivered by it, and, for a retraction, the retracted event is
// retracted. The marks become durable with the next cursor write.
func (d *Dispatcher) recordDelivered(it *item) {
	if it.ev == nil || it.req == nil {
		return
	}
	if it.fact != "" {
		d.filter.add(it.fact)
		d.marks.put(factMarkPrefix+it.fact, fact{Seq: it.entry.Seq, Digest: digestOf(it.req), EventID: it.ev.GetId()}.encode())
	}
	if r := it.ev.GetEventRetracted(); r != nil && r.GetRetractedEventId() != "" {
		d.marks.put(retractMarkPrefix+r.GetRetractedEventId(), "")
	}
}

// flushMarks writes the pending marks without moving the cursor.
func (d *Dispatcher) flushMarks() error {
	d.persistMu.Lock()
	defer d.persistMu.Unlock()
	snap := d.marks.snapshot()
	if len(snap) == 0 {
		return nil
	}
	if err := d.rlog.PutMarks(d.consumer, snap); err != nil {
		return err
	}
	d.marks.written(snap)
	return nil
}

// FactSkip describes the latest event skipped because another event had
// delivered its fact (its idempotency key) to the sink.
type FactSkip struct {
	Seq            uint64    `json:"seq"`
	EventID        string    `json:"event_id"`
	EventType      string    `json:"event_type"`
	IdempotencyKey string    `json:"idempotency_key"`
	DeliveredBy    string    `json:"delivered_by"`
	DeliveredSeq   uint64    `json:"delivered_seq"`
	Conflict       bool      `json:"conflict"`
	At             time.Time `json:"at"`
}

// checkFact decides whether a routed and rendered item must be sent, from
// the sink's record of its idempotency key: it returns true to send. When
// another event delivered the key it finishes the item as factDuplicate
// (the same request) or factConflict (another request: a second source
// reporting the fact differently), unless that event was retracted since
// (a correction is sent). In a replay, the event that delivered the key is
// sent again (the sink's idempotency absorbs it); otherwise it is finished
// as a duplicate (delivered before a restart that left the cursor behind
// it). It returns false, leaving the item unfinished, when the pipeline
// stops while the record cannot be read.
func (p *pipeline) checkFact(it *item) bool {
	d := p.d
	var (
		f   fact
		ok  bool
		err error
	)
	for attempt := 1; ; attempt++ {
		if f, ok, err = d.delivered(it.fact); err == nil {
			break
		}
		if errors.Is(err, errBadRecord) {
			// The sink's own idempotency is the backstop: send.
			d.log.Error("the delivered-fact record of this key is unreadable; sending the event", "seq", it.entry.Seq,
				"event_id", it.ev.GetId(), "err", err)
			return true
		}
		if errors.Is(err, relaylog.ErrClosed) {
			return false
		}
		d.log.Error("reading the delivered-fact record failed; retrying", "seq", it.entry.Seq, "err", err)
		if !backoff.Sleep(p.stop, d.policy.Delay(attempt, 0)) {
			return false
		}
	}
	if !ok {
		return true
	}
	id := it.ev.GetId()
	if f.EventID == id {
		if p.replay {
			return true
		}
		p.done(it, duplicate)
		return false
	}
	gone, err := d.retracted(f.EventID)
	if err != nil {
		d.log.Error("reading the retraction record failed; taking the fact as not retracted", "seq", it.entry.Seq,
			"retracted_event_id", f.EventID, "err", err)
	}
	if gone {
		d.log.Info("fact delivered by a retracted event; sending the correction", "seq", it.entry.Seq, "event_id", id,
			"idempotency_key", it.fact, "retracted_event_id", f.EventID)
		return true
	}
	conflict := f.Digest != digestOf(it.req)
	skip := &FactSkip{Seq: it.entry.Seq, EventID: id, EventType: it.ev.GetType(), IdempotencyKey: it.fact,
		DeliveredBy: f.EventID, DeliveredSeq: f.Seq, Conflict: conflict, At: time.Now()}
	d.lastSkip.Store(skip)
	args := []any{"seq", it.entry.Seq, "event_id", id, "type", skip.EventType, "idempotency_key", it.fact,
		"delivered_by", f.EventID, "delivered_seq", f.Seq}
	if conflict {
		d.log.Warn("fact already delivered by another event with a different request; not sent", args...)
		p.done(it, factConflict)
	} else {
		d.log.Info("fact already delivered by another event; not sent", args...)
		p.done(it, factDuplicate)
	}
	return false
}
