package dlq

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Errors.
var (
	// ErrNotFound: no dead letter with that sink and id.
	ErrNotFound = errors.New("dead letter not found")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("dead-letter store closed")
)

// Record is one dead letter: an event a sink refused for good (or a route
// could not render), with everything needed to understand and re-drive it.
type Record struct {
	// ID names the dead letter within its sink: the event's relay log
	// sequence, in decimal.
	ID   string `json:"id"`
	Sink string `json:"sink"`
	// Route is the route that rendered (or failed to render) the request.
	Route string `json:"route"`
	// Seq, Site, Received and Lane are the event's relay log entry.
	Seq      uint64    `json:"seq"`
	Site     string    `json:"site"`
	Received time.Time `json:"received"`
	Lane     int32     `json:"lane"`
	// EventID, EventType and PartitionKey are copied from the event for
	// listing without decoding it.
	EventID      string `json:"event_id"`
	EventType    string `json:"event_type"`
	PartitionKey string `json:"partition_key"`
	// Event is the canonical binary event.
	Event []byte `json:"event"`
	// Request is what was sent (nil when the route could not render it).
	Request *Request `json:"request,omitempty"`
	// Status is the response status (0: no response, e.g. a render error).
	Status int `json:"status"`
	// ResponseBody is the start of the response body.
	ResponseBody string `json:"response_body,omitempty"`
	// Reason says why in one line: "HTTP 422", "route tms: transform: …".
	Reason string `json:"reason"`
	// Attempts counts the requests made for the event, over every delivery,
	// replay and redrive.
	Attempts int       `json:"attempts"`
	FirstAt  time.Time `json:"first_at"`
	LastAt   time.Time `json:"last_at"`
}

// Request is a rendered request as stored: no credentials (the sink adds
// them when sending, and routes may not set Authorization).
type Request struct {
	Method string      `json:"method"`
	URL    string      `json:"url"`
	Header http.Header `json:"header"`
	Body   string      `json:"body"`
}

// Summary is a Record without its event, request and response bodies.
type Summary struct {
	ID, Sink, Route    string
	Seq                uint64
	Site               string
	EventID, EventType string
	PartitionKey       string
	Status             int
	Reason             string
	Attempts           int
	FirstAt, LastAt    time.Time
}

// Summary returns the record's summary.
func (r *Record) Summary() Summary {
	return Summary{ID: r.ID, Sink: r.Sink, Route: r.Route, Seq: r.Seq, Site: r.Site, EventID: r.EventID,
		EventType: r.EventType, PartitionKey: r.PartitionKey, Status: r.Status, Reason: r.Reason,
		Attempts: r.Attempts, FirstAt: r.FirstAt, LastAt: r.LastAt}
}

// IDOf is the id of the dead letter of the event at seq.
func IDOf(seq uint64) string { return strconv.FormatUint(seq, 10) }

// Options configure Open.
type Options struct {
	// Dir is the Badger directory (e.g. <data>/dlq). Required.
	Dir    string
	Logger *slog.Logger
}

// Store is the dead-letter store of every sink. It is safe for concurrent
// use.
type Store struct {
	db  *badger.DB
	log *slog.Logger

	mu     sync.RWMutex // held shared by operations, exclusively by Close
	closed bool         // guarded by mu

	countMu sync.Mutex
	counts  map[string]int // guarded by countMu: dead letters per sink
}

// Key layout: "r" | sink | 0x00 | seq (8, big endian) -> Record JSON.
const prefixRecord = 'r'

func key(sink string, seq uint64) []byte {
	k := make([]byte, 0, len(sink)+10)
	k = append(k, prefixRecord)
	k = append(k, sink...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

func sinkPrefix(sink string) []byte {
	return append(append([]byte{prefixRecord}, sink...), 0)
}

func parseID(id string) (uint64, error) {
	seq, err := strconv.ParseUint(id, 10, 64)
	if err != nil || seq == 0 {
		return 0, fmt.Errorf("%w: %q is not a dead-letter id", ErrNotFound, id)
	}
	return seq, nil
}

// Open opens (or creates) the store.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("open dead-letter store: Dir is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("open dead-letter store: %w", err)
	}
	log := opts.Logger.With("component", "dlq")
	bo := badger.DefaultOptions(opts.Dir).
		WithLogger(badgerLogger{log}).
		WithSyncWrites(true).
		WithNumVersionsToKeep(1).
		WithMetricsEnabled(false).
		WithCompression(options.None).
		WithBlockCacheSize(0).
		WithIndexCacheSize(0).
		WithMemTableSize(4 << 20).
		WithNumMemtables(2).
		// Records up to 256 KiB stay in the LSM and its fsynced
		// write-ahead log (a 4 MiB memtable allows at most ~600 KiB).
		WithValueThreshold(256 << 10).
		WithValueLogFileSize(16 << 20).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(8).
		WithBaseTableSize(2 << 20).
		WithBaseLevelSize(8 << 20).
		WithNumCompactors(2).
		WithNumGoroutines(1)
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("open dead-letter store %s: %w", opts.Dir, err)
	}
	s := &Store{db: db, log: log, counts: map[string]int{}}
	err = db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixRecord}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if i := strings.IndexByte(string(k[1:]), 0); i >= 0 {
				s.counts[string(k[1:1+i])]++
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open dead-letter store %s: %w", opts.Dir, err)
	}
	return s, nil
}

func (s *Store) enter() error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	return nil
}

func (s *Store) leave() { s.mu.RUnlock() }

// Put stores a dead letter durably (fsynced) before it returns. When the
// event is already dead-lettered for the sink (a replay or a redrive that
// failed again), the record is replaced but keeps its FirstAt, and
// Attempts adds up.
func (s *Store) Put(r *Record) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if r.Sink == "" || r.Seq == 0 {
		return errors.New("put dead letter: sink and seq are required")
	}
	r.ID = IDOf(r.Seq)
	k := key(r.Sink, r.Seq)
	added := false
	err := s.db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(k)
		switch {
		case errors.Is(err, badger.ErrKeyNotFound):
			added = true
		case err != nil:
			return err
		default:
			var old Record
			if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &old) }); err != nil {
				return fmt.Errorf("decode %s/%s: %w", r.Sink, r.ID, err)
			}
			if !old.FirstAt.IsZero() && (r.FirstAt.IsZero() || old.FirstAt.Before(r.FirstAt)) {
				r.FirstAt = old.FirstAt
			}
			r.Attempts += old.Attempts
		}
		v, err := json.Marshal(r)
		if err != nil {
			return err
		}
		return txn.Set(k, v)
	})
	if err != nil {
		return fmt.Errorf("put dead letter %s/%s: %w", r.Sink, r.ID, err)
	}
	if added {
		s.countMu.Lock()
		s.counts[r.Sink]++
		s.countMu.Unlock()
	}
	return nil
}

// Get returns one dead letter, or an error wrapping ErrNotFound.
func (s *Store) Get(sink, id string) (*Record, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	seq, err := parseID(id)
	if err != nil {
		return nil, err
	}
	var r Record
	err = s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key(sink, seq))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("%s/%s: %w", sink, id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error { return json.Unmarshal(v, &r) })
	})
	if err != nil {
		return nil, fmt.Errorf("get dead letter: %w", err)
	}
	return &r, nil
}

// List returns up to limit summaries of a sink's dead letters in sequence
// order, starting after the id after ("" for the first), and the id to
// pass as after for the next page ("" when there is none).
func (s *Store) List(sink, after string, limit int) ([]Summary, string, error) {
	if err := s.enter(); err != nil {
		return nil, "", err
	}
	defer s.leave()
	var from uint64 = 1
	if after != "" {
		seq, err := parseID(after)
		if err != nil {
			return nil, "", err
		}
		from = seq + 1
	}
	if limit <= 0 {
		limit = 100
	}
	var out []Summary
	next := ""
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: sinkPrefix(sink), PrefetchValues: true, PrefetchSize: min(limit, 100)})
		defer it.Close()
		for it.Seek(key(sink, from)); it.Valid(); it.Next() {
			if len(out) == limit {
				next = out[len(out)-1].ID
				return nil
			}
			var r Record
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &r) }); err != nil {
				return err
			}
			out = append(out, r.Summary())
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("list dead letters of %s: %w", sink, err)
	}
	return out, next, nil
}

// Delete removes a dead letter (after a successful redrive, or a discard)
// durably; it returns the removed record, or an error wrapping ErrNotFound.
func (s *Store) Delete(sink, id string) (*Record, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	seq, err := parseID(id)
	if err != nil {
		return nil, err
	}
	var r Record
	err = s.db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(key(sink, seq))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("%s/%s: %w", sink, id, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &r) }); err != nil {
			return err
		}
		return txn.Delete(key(sink, seq))
	})
	if err != nil {
		return nil, fmt.Errorf("delete dead letter: %w", err)
	}
	s.countMu.Lock()
	s.counts[sink]--
	s.countMu.Unlock()
	return &r, nil
}

// Count returns the number of a sink's dead letters.
func (s *Store) Count(sink string) int {
	s.countMu.Lock()
	defer s.countMu.Unlock()
	return s.counts[sink]
}

// Close closes the store; it is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close dead-letter store: %w", err)
	}
	return nil
}

// badgerLogger passes Badger's warnings and errors to slog.
type badgerLogger struct{ log *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.log.Log(context.Background(), slog.LevelError, strings.TrimSpace(fmt.Sprintf(f, a...)))
}

func (b badgerLogger) Warningf(f string, a ...any) {
	b.log.Log(context.Background(), slog.LevelWarn, strings.TrimSpace(fmt.Sprintf(f, a...)))
}

func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}
