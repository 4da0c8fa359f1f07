package relaylog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/draylink/dray/canonical"
)

// A block is the value stored under one block key: the events one batch
// stored, with what the log needs to know about them.
//
//	version   1 byte (blockVersion)
//	received  8 bytes, Unix ns, big-endian
//	count     uvarint, number of events (>= 1)
//	site      1-byte length + bytes
//	epoch     1-byte length + bytes
//	lane      4 bytes, big-endian
//	stream    uvarint
//	from      uvarint \ the stream sequences the block advanced the
//	through   uvarint / high-water mark over (events skipped by id are absent)
//	events    count × (uvarint length + canonical binary event)
//	crc       4 bytes, CRC-32C of everything before, big-endian
//
// Global sequence numbers are not stored in the value: the key holds the
// last one and the first is key - count + 1.
const blockVersion = 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// blockHeader is a block without its events.
type blockHeader struct {
	received      time.Time
	count         int
	stream        streamKey
	from, through uint64
}

// blockSize bounds the encoded size of a block with the given events.
func blockSize(h *blockHeader, eventBytes, events int) int {
	return 1 + 8 + binary.MaxVarintLen64*4 + 2 + len(h.stream.site) + len(h.stream.epoch) + 4 +
		eventBytes + events*binary.MaxVarintLen32 + 4
}

// appendBlockHeader starts a block; the caller appends events with
// appendBlockEvent and ends it with finishBlock. h.count must already be
// the number of events that will follow.
func appendBlockHeader(dst []byte, h *blockHeader) []byte {
	dst = append(dst, blockVersion)
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.received.UnixNano()))
	dst = binary.AppendUvarint(dst, uint64(h.count))
	dst = append(dst, byte(len(h.stream.site)))
	dst = append(dst, h.stream.site...)
	dst = append(dst, byte(len(h.stream.epoch)))
	dst = append(dst, h.stream.epoch...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(h.stream.lane))
	dst = binary.AppendUvarint(dst, uint64(h.stream.stream))
	dst = binary.AppendUvarint(dst, h.from)
	return binary.AppendUvarint(dst, h.through)
}

func appendBlockEvent(dst, event []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(event)))
	return append(dst, event...)
}

// finishBlock appends the checksum of block, which starts at dst[start].
func finishBlock(dst []byte, start int) []byte {
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

var errBlock = errors.New("malformed block")

// decodeBlock checks a block's checksum and reads its header; it returns
// the events part, to be walked with nextBlockEvent.
func decodeBlock(b []byte) (h blockHeader, events []byte, err error) {
	if len(b) < 1+8+4 {
		return h, nil, fmt.Errorf("%w: %w: %d bytes (value missing or cut)", ErrCorrupt, errBlock, len(b))
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return h, nil, fmt.Errorf("%w: block checksum mismatch", ErrCorrupt)
	}
	if body[0] != blockVersion {
		return h, nil, fmt.Errorf("%w: block version %d", ErrCorrupt, body[0])
	}
	h.received = time.Unix(0, int64(binary.BigEndian.Uint64(body[1:])))
	r := body[9:]
	var bad bool
	uvarint := func() uint64 {
		v, n := binary.Uvarint(r)
		if n <= 0 {
			bad = true
			return 0
		}
		r = r[n:]
		return v
	}
	str := func() string {
		if len(r) < 1 || len(r) < 1+int(r[0]) {
			bad = true
			return ""
		}
		s := string(r[1 : 1+int(r[0])])
		r = r[1+int(r[0]):]
		return s
	}
	count := uvarint()
	h.stream.site = str()
	h.stream.epoch = str()
	if len(r) < 4 {
		bad = true
	} else {
		h.stream.lane = canonical.Lane(int32(binary.BigEndian.Uint32(r)))
		r = r[4:]
	}
	stream := uvarint()
	h.from = uvarint()
	h.through = uvarint()
	if bad || count == 0 || count > uint64(len(r)) || stream > 1<<32-1 {
		return h, nil, fmt.Errorf("%w: %w: header", ErrCorrupt, errBlock)
	}
	h.count = int(count)
	h.stream.stream = uint32(stream)
	return h, r, nil
}

// nextBlockEvent splits the next event off the events part of a block.
func nextBlockEvent(r []byte) (event, rest []byte, err error) {
	n, k := binary.Uvarint(r)
	if k <= 0 || n > uint64(len(r)-k) {
		return nil, nil, fmt.Errorf("%w: %w: event length", ErrCorrupt, errBlock)
	}
	return r[k : k+int(n)], r[k+int(n):], nil
}
