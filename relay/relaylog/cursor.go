package relaylog

import (
	"fmt"
	"maps"

	"github.com/dgraph-io/badger/v4"
)

// SetCursor records durably that consumer (a sink dispatcher) has delivered
// every event below seq; seq is the next one it will deliver. The first
// call registers the consumer; from then on retention keeps every event at
// or after its cursor. seq may move backwards (a reset), but not below the
// oldest retained event (ErrTruncated) nor beyond LastSeq()+1.
func (l *Log) SetCursor(consumer string, seq uint64) error {
	return l.SetCursorMarks(consumer, seq, nil)
}

// Cursor returns a consumer's cursor, or ErrUnknownConsumer.
func (l *Log) Cursor(consumer string) (uint64, error) {
	if err := l.enter(); err != nil {
		return 0, err
	}
	defer l.leave()
	l.retMu.Lock()
	defer l.retMu.Unlock()
	c, ok := l.cursors[consumer]
	if !ok {
		return 0, fmt.Errorf("cursor %s: %w", consumer, ErrUnknownConsumer)
	}
	return c, nil
}

// Consumers returns every registered consumer's cursor.
func (l *Log) Consumers() (map[string]uint64, error) {
	if err := l.enter(); err != nil {
		return nil, err
	}
	defer l.leave()
	l.retMu.Lock()
	defer l.retMu.Unlock()
	return maps.Clone(l.cursors), nil
}

// RemoveConsumer forgets a consumer (a sink taken out of service) so that
// retention no longer waits for it. Removing an unknown consumer is not an
// error.
func (l *Log) RemoveConsumer(consumer string) error {
	if err := l.enter(); err != nil {
		return err
	}
	defer l.leave()
	l.retMu.Lock()
	defer l.retMu.Unlock()
	if _, ok := l.cursors[consumer]; !ok {
		return nil
	}
	err := l.db.Update(func(txn *badger.Txn) error { return txn.Delete(cursorKey(consumer)) })
	if err != nil {
		return fmt.Errorf("remove consumer %s: %w", consumer, err)
	}
	delete(l.cursors, consumer)
	return nil
}

// minCursorLocked returns the lowest cursor; ok is false with no consumers.
func (l *Log) minCursorLocked() (min uint64, ok bool) {
	for _, c := range l.cursors {
		if !ok || c < min {
			min, ok = c, true
		}
	}
	return min, ok
}
