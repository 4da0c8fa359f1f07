package spool

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"
)

// load reads the spool's state from Badger at Open, or creates it in an
// empty database. It finishes what a crash interrupted: an Ack whose block
// deletions spanned several transactions, and retired streams left empty.
func (s *Spool) load(m marker) error {
	if err := s.loadMeta(m); err != nil {
		return err
	}
	if err := s.loadStreams(); err != nil {
		return err
	}
	if err := s.loadQuarantine(); err != nil {
		return err
	}
	// Finish interrupted purges; drop empty retired streams.
	for i := range s.lanes {
		for _, st := range slices.Clone(s.lanes[i].streams) {
			if st.purged < st.head || (st.pending() == 0 && s.lanes[i].live() != st) {
				if err := s.advanceHead(st, st.head, false); err != nil {
					return fmt.Errorf("finish purge of stream %v: %w", st.id, err)
				}
			}
		}
	}
	return nil
}

// loadMeta checks the epoch and format against the marker, and initialises
// an empty database.
func (s *Spool) loadMeta(m marker) error {
	var epoch, format []byte
	empty := true
	err := s.db.View(func(txn *badger.Txn) error {
		for _, kv := range []struct {
			key []byte
			dst *[]byte
		}{{metaEpochKey, &epoch}, {metaFormatKey, &format}} {
			item, err := txn.Get(kv.key)
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if *kv.dst, err = item.ValueCopy(nil); err != nil {
				return err
			}
		}
		if epoch == nil {
			// Only a database without an epoch is walked from its first key:
			// one that is new, or damaged.
			it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				if k := it.Item().Key(); len(k) == 0 || k[0] != prefixFlush {
					empty = false
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if epoch == nil {
		if m.state != markerCreating || !empty {
			return fmt.Errorf("%w: the database has no epoch (marker state %q)", ErrCorrupt, m.state)
		}
		return s.initialise(m.epoch)
	}
	if got := hex.EncodeToString(epoch); got != m.epoch {
		return fmt.Errorf("%w: database epoch %s differs from the marker's %s", ErrCorrupt, got, m.epoch)
	}
	if len(format) != 8 || binary.BigEndian.Uint64(format) != formatVersion {
		return fmt.Errorf("%w: unsupported format %x (this build reads %d)", ErrCorrupt, format, formatVersion)
	}
	return nil
}

// initialise writes the epoch, the format and stream 1 of each lane.
func (s *Spool) initialise(epoch string) error {
	raw, err := hex.DecodeString(epoch)
	if err != nil {
		return err
	}
	return s.db.Update(func(txn *badger.Txn) error {
		if err := txn.Set(metaEpochKey, raw); err != nil {
			return err
		}
		if err := txn.Set(metaFormatKey, binary.BigEndian.AppendUint64(nil, formatVersion)); err != nil {
			return err
		}
		for _, l := range lanes {
			id := StreamID{Lane: l, Stream: 1}
			if err := txn.Set(streamKey(id), streamRecord{head: 1, purged: 1}.encode()); err != nil {
				return err
			}
		}
		return nil
	})
}

// loadStreams rebuilds the in-memory streams: records give head, purged and
// dropped; the last block key gives next; a key-only walk from head gives
// the pending bytes; the head block gives the oldest append time.
func (s *Spool) loadStreams() error {
	return s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixStream}, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			id, err := parseStreamKey(it.Item().Key())
			if err != nil {
				return fmt.Errorf("%w: %w", ErrCorrupt, err)
			}
			var rec streamRecord
			if err := it.Item().Value(func(v []byte) error {
				rec, err = parseStreamRecord(v)
				return err
			}); err != nil {
				return fmt.Errorf("%w: stream %v: %w", ErrCorrupt, id, err)
			}
			st := &stream{id: id, head: rec.head, next: rec.head, purged: rec.purged, dropped: rec.dropped}
			if err := loadStream(txn, st); err != nil {
				return err
			}
			l := &s.lanes[laneIndex(id.Lane)]
			l.streams = append(l.streams, st) // keys come in stream order
		}
		for i, l := range lanes {
			if len(s.lanes[i].streams) == 0 {
				return fmt.Errorf("%w: lane %v has no stream", ErrCorrupt, l)
			}
		}
		return nil
	})
}

func loadStream(txn *badger.Txn, st *stream) error {
	last, ok, err := lastBlock(txn, st.id)
	if err != nil {
		return err
	}
	if ok && last >= st.head {
		st.next = last + 1
	}
	if st.pending() == 0 {
		return nil
	}
	h, _, ok, err := headBlock(txn, st.id, st.head)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: stream %v: no block holds head %d", ErrCorrupt, st.id, st.head)
	}
	st.oldest = h.appended
	return eachBlockKey(txn, st.id, st.head, func(_ uint64, size int64) bool {
		st.bytes += size
		return true
	})
}
