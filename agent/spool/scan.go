package spool

import (
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Walking a stream's blocks. Every walk Seeks from a sequence at or after
// the stream's purged mark, never from the start of the stream: deleted
// blocks leave tombstones there, and stepping over them costs thousands of
// times more than a Seek (LIBRARIES.md).

// blockIterator returns a key-only iterator over the blocks of a stream.
// Values are fetched on demand, so walking keys touches neither the value
// log nor the value checksums.
func blockIterator(txn *badger.Txn, id StreamID, reverse bool) *badger.Iterator {
	return txn.NewIterator(badger.IteratorOptions{
		Prefix:         blockPrefix(id),
		PrefetchValues: false,
		Reverse:        reverse,
	})
}

// eachBlockKey calls fn with the last sequence and the approximate stored
// size of each block of a stream whose last event is at or after from, in
// order, until fn returns false.
func eachBlockKey(txn *badger.Txn, id StreamID, from uint64, fn func(last uint64, size int64) bool) error {
	it := blockIterator(txn, id, false)
	defer it.Close()
	for it.Seek(blockKey(id, from)); it.Valid(); it.Next() {
		item := it.Item()
		last, err := blockLast(item.Key())
		if err != nil {
			return err
		}
		if !fn(last, item.ValueSize()) {
			return nil
		}
	}
	return nil
}

// lastBlock returns the last sequence of the stream's last block, or ok
// false when it has none.
func lastBlock(txn *badger.Txn, id StreamID) (last uint64, ok bool, err error) {
	it := blockIterator(txn, id, true)
	defer it.Close()
	it.Seek(lastStreamKey(id))
	if !it.Valid() {
		return 0, false, nil
	}
	last, err = blockLast(it.Item().Key())
	return last, err == nil, err
}

// headBlock returns the header and the last sequence of the block holding
// seq, ok false when no block ends at or after seq, and an ErrCorrupt error
// when the next block starts after seq.
func headBlock(txn *badger.Txn, id StreamID, seq uint64) (h blockHeader, last uint64, ok bool, err error) {
	it := blockIterator(txn, id, false)
	defer it.Close()
	it.Seek(blockKey(id, seq))
	if !it.Valid() {
		return blockHeader{}, 0, false, nil
	}
	item := it.Item()
	if last, err = blockLast(item.Key()); err != nil {
		return blockHeader{}, 0, false, err
	}
	err = item.Value(func(v []byte) error {
		h, err = parseBlockHeader(v)
		return err
	})
	if err != nil {
		return blockHeader{}, 0, false, fmt.Errorf("block %v/%d: %w", id, last, err)
	}
	if uint64(h.count) > last || last-uint64(h.count)+1 > seq {
		return h, last, false, fmt.Errorf("%w: stream %v: event %d missing (next block ends at %d with %d events)", ErrCorrupt, id, seq, last, h.count)
	}
	return h, last, true, nil
}

// blocksBefore returns the keys and total size of up to limit blocks of a
// stream whose last event is in [from, before), and whether more follow.
func (s *Spool) blocksBefore(id StreamID, from, before uint64, limit int) (keys [][]byte, size int64, more bool, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		return eachBlockKey(txn, id, from, func(last uint64, sz int64) bool {
			if last >= before {
				return false
			}
			if len(keys) == limit {
				more = true
				return false
			}
			keys = append(keys, blockKey(id, last))
			size += sz
			return true
		})
	})
	return keys, size, more, err
}
