package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// A block is the value stored under one block key: the events one
// transaction appended to one stream, in order.
//
//	offset 0   version (1)
//	offset 1   append time, Unix nanoseconds (int64, big-endian)
//	offset 9   event count n (uint32, big-endian), n >= 1
//	offset 13  n times: event length (uint32, big-endian), event bytes
//
// Badger checksums the bytes (value-log entries and table blocks); decoding
// still checks every length so a damaged block is an error, never a panic or
// a short read.
const (
	blockVersion    = 1
	blockHeaderSize = 13
	eventHeaderSize = 4
	// maxBlockBytes is the size a block is closed at. A single event larger
	// than this gets a block of its own.
	maxBlockBytes = 256 << 10
)

var errBadBlock = errors.New("bad block")

// blockBuilder appends blocks to a reusable buffer.
type blockBuilder struct {
	buf   []byte
	start int // offset of the open block in buf, -1 if none
	count uint32
}

// open starts a block appended at t.
func (b *blockBuilder) open(t time.Time) {
	b.start = len(b.buf)
	b.count = 0
	b.buf = append(b.buf, blockVersion)
	b.buf = binary.BigEndian.AppendUint64(b.buf, uint64(t.UnixNano()))
	b.buf = binary.BigEndian.AppendUint32(b.buf, 0)
}

// isOpen reports whether a block is being built.
func (b *blockBuilder) isOpen() bool { return b.start >= 0 }

// fits reports whether an event of n bytes fits in the open block.
func (b *blockBuilder) fits(n int) bool {
	return b.count == 0 || len(b.buf)-b.start+eventHeaderSize+n <= maxBlockBytes
}

// add appends one event to the open block.
func (b *blockBuilder) add(ev []byte) {
	b.buf = binary.BigEndian.AppendUint32(b.buf, uint32(len(ev)))
	b.buf = append(b.buf, ev...)
	b.count++
}

// close finishes the open block and returns it and its event count. The
// returned slice stays valid until reset, even if later blocks grow buf.
func (b *blockBuilder) close() ([]byte, uint32) {
	blk := b.buf[b.start:len(b.buf):len(b.buf)]
	binary.BigEndian.PutUint32(blk[9:], b.count)
	n := b.count
	b.start, b.count = -1, 0
	return blk, n
}

// reset forgets every block built so far and keeps the buffer.
func (b *blockBuilder) reset() {
	b.buf = b.buf[:0]
	b.start, b.count = -1, 0
}

// blockHeader is the decoded fixed part of a block.
type blockHeader struct {
	appended time.Time
	count    uint32
}

func parseBlockHeader(v []byte) (blockHeader, error) {
	if len(v) < blockHeaderSize {
		return blockHeader{}, fmt.Errorf("%w: %d bytes", errBadBlock, len(v))
	}
	if v[0] != blockVersion {
		return blockHeader{}, fmt.Errorf("%w: version %d", errBadBlock, v[0])
	}
	h := blockHeader{
		appended: time.Unix(0, int64(binary.BigEndian.Uint64(v[1:]))),
		count:    binary.BigEndian.Uint32(v[9:]),
	}
	if h.count == 0 {
		return blockHeader{}, fmt.Errorf("%w: no events", errBadBlock)
	}
	return h, nil
}

// eachEvent calls fn for the events of block v in order, with their index,
// until fn returns false. The event slice aliases v. It checks the whole
// layout of the events it visits and, when fn never stops it, that the block
// holds exactly the announced count and nothing after.
func eachEvent(v []byte, fn func(i uint32, ev []byte) bool) error {
	h, err := parseBlockHeader(v)
	if err != nil {
		return err
	}
	off := blockHeaderSize
	for i := range h.count {
		if len(v)-off < eventHeaderSize {
			return fmt.Errorf("%w: event %d of %d truncated", errBadBlock, i, h.count)
		}
		n := int(binary.BigEndian.Uint32(v[off:]))
		off += eventHeaderSize
		if n > len(v)-off {
			return fmt.Errorf("%w: event %d of %d: length %d beyond end", errBadBlock, i, h.count, n)
		}
		if !fn(i, v[off:off+n:off+n]) {
			return nil
		}
		off += n
	}
	if off != len(v) {
		return fmt.Errorf("%w: %d trailing bytes", errBadBlock, len(v)-off)
	}
	return nil
}
