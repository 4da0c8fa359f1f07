package relaylog

import (
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Mark is a small record a consumer keeps beside its cursor, e.g. a sink
// dispatcher's "idempotency key K was delivered by event E". Marks expire
// Options.MarkRetention after they are written (Badger TTL).
type Mark struct {
	// Name is unique within the consumer (at most MaxMarkName bytes).
	Name string
	// Value is what the consumer keeps (at most MaxMarkValue bytes).
	Value []byte
}

// Limits of a mark.
const (
	MaxMarkName  = 1024
	MaxMarkValue = 4096
)

// marksPerTxn bounds the marks of one Badger transaction; SetCursorMarks
// writes more in several, the cursor in the last.
const marksPerTxn = 4096

func markKey(consumer, name string) []byte {
	k := make([]byte, 0, 2+len(consumer)+len(name))
	k = append(k, prefixMark, byte(len(consumer)))
	k = append(k, consumer...)
	return append(k, name...)
}

// SetCursorMarks stores marks of a consumer and then its cursor (as
// SetCursor), so that once the cursor is durable every mark written with it
// is too: a crash leaves either both or the marks alone (a mark never
// describes an event the cursor has passed without it). Each transaction is
// fsynced. With no marks it is SetCursor.
func (l *Log) SetCursorMarks(consumer string, seq uint64, marks []Mark) error {
	if err := l.enter(); err != nil {
		return err
	}
	defer l.leave()
	if err := checkConsumer(consumer); err != nil {
		return fmt.Errorf("set cursor: %w", err)
	}
	l.retMu.Lock()
	defer l.retMu.Unlock()
	if seq == 0 {
		return fmt.Errorf("set cursor %s: sequences start at 1", consumer)
	}
	if oldest := l.floor.Load().oldest; seq < oldest {
		return fmt.Errorf("set cursor %s to %d: %w (oldest is %d)", consumer, seq, ErrTruncated, oldest)
	}
	if last := l.lastSeq.Load(); seq > last+1 {
		return fmt.Errorf("set cursor %s to %d: beyond the end of the log (%d)", consumer, seq, last)
	}
	for len(marks) > marksPerTxn {
		if err := l.db.Update(func(txn *badger.Txn) error { return l.setMarks(txn, consumer, marks[:marksPerTxn]) }); err != nil {
			return fmt.Errorf("set cursor %s: marks: %w", consumer, err)
		}
		marks = marks[marksPerTxn:]
	}
	err := l.db.Update(func(txn *badger.Txn) error {
		if err := l.setMarks(txn, consumer, marks); err != nil {
			return err
		}
		return txn.Set(cursorKey(consumer), u64(seq))
	})
	if err != nil {
		return fmt.Errorf("set cursor %s: %w", consumer, err)
	}
	l.cursors[consumer] = seq
	return nil
}

// PutMarks stores marks of a consumer without touching its cursor (fsynced).
func (l *Log) PutMarks(consumer string, marks []Mark) error {
	if err := l.enter(); err != nil {
		return err
	}
	defer l.leave()
	if err := checkConsumer(consumer); err != nil {
		return fmt.Errorf("put marks: %w", err)
	}
	for len(marks) > 0 {
		n := min(len(marks), marksPerTxn)
		if err := l.db.Update(func(txn *badger.Txn) error { return l.setMarks(txn, consumer, marks[:n]) }); err != nil {
			return fmt.Errorf("put marks of %s: %w", consumer, err)
		}
		marks = marks[n:]
	}
	return nil
}

func (l *Log) setMarks(txn *badger.Txn, consumer string, marks []Mark) error {
	ttl := l.opts.MarkRetention
	for _, m := range marks {
		if m.Name == "" || len(m.Name) > MaxMarkName || len(m.Value) > MaxMarkValue {
			return fmt.Errorf("mark %.40q: name must be 1 to %d bytes and value at most %d", m.Name, MaxMarkName, MaxMarkValue)
		}
		if err := txn.SetEntry(badger.NewEntry(markKey(consumer, m.Name), m.Value).WithTTL(ttl)); err != nil {
			return err
		}
	}
	return nil
}

// GetMark returns a consumer's mark by name; ok is false when there is none
// (never written, or expired).
func (l *Log) GetMark(consumer, name string) (value []byte, ok bool, err error) {
	if err := l.enter(); err != nil {
		return nil, false, err
	}
	defer l.leave()
	err = l.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(markKey(consumer, name))
		if err != nil {
			return err
		}
		value, err = it.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("get mark of %s: %w", consumer, err)
	}
	return value, true, nil
}

// MarkRetention is how long a mark is kept after it is written
// (Options.MarkRetention).
func (l *Log) MarkRetention() time.Duration { return l.opts.MarkRetention }

func checkConsumer(consumer string) error {
	if consumer == "" || len(consumer) > maxConsumer {
		return fmt.Errorf("consumer name must be 1 to %d bytes", maxConsumer)
	}
	return nil
}

// ScanMarks calls fn with the name of every live mark of a consumer whose
// name starts with prefix, in name order, until fn returns an error (which
// it returns). It reads keys only.
func (l *Log) ScanMarks(consumer, prefix string, fn func(name string) error) error {
	if err := l.enter(); err != nil {
		return err
	}
	defer l.leave()
	start := markKey(consumer, prefix)
	skip := len(start) - len(prefix)
	return l.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: start})
		defer it.Close()
		for it.Seek(start); it.Valid(); it.Next() {
			if err := fn(string(it.Item().Key()[skip:])); err != nil {
				return err
			}
		}
		return nil
	})
}
