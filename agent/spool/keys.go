package spool

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/draylink/dray/canonical"
)

// Key layout. Every key starts with one prefix byte; integers are big-endian
// so that Badger's byte order is numeric order.
//
//	'b' lane(1) stream(4) last(8)  block: the events of one lane appended by
//	                               one transaction, keyed by the sequence of
//	                               its LAST event, so Seek(from) lands on the
//	                               block that holds `from`
//	'c' source                     cursor of a source
//	'm' name                       spool metadata ("epoch", "format")
//	'n' source                     number of records of a source in
//	                               quarantine (quarantine_store.go)
//	'p' chunk(8) idx(4)            patch of a quarantine record
//	'q' chunk(8)                   quarantine chunk: the records one commit
//	                               quarantined
//	's' lane(1) stream(4)          stream record (head, purged, dropped)
//	'z'                            scratch key used to flush the memtable
//	                               (reclaim.go); never holds data
const (
	prefixBlock  = 'b'
	prefixCursor = 'c'
	prefixMeta   = 'm'
	prefixStream = 's'

	prefixQuarantineCount = 'n'
	prefixPatch           = 'p'
	prefixQuarantine      = 'q'
	prefixFlush           = 'z'
)

const (
	streamPrefixLen = 1 + 1 + 4 // prefix, lane, stream
	blockKeyLen     = streamPrefixLen + 8
)

var (
	metaEpochKey  = []byte{prefixMeta, 'e', 'p', 'o', 'c', 'h'}
	metaFormatKey = []byte{prefixMeta, 'f', 'o', 'r', 'm', 'a', 't'}
	flushKey      = []byte{prefixFlush}
)

// formatVersion is stored under metaFormatKey; a spool written by a newer
// format is refused.
const formatVersion = 1

// laneByte is the lane's one-byte encoding in keys.
func laneByte(l canonical.Lane) byte { return byte(l) }

// validLane reports whether the spool stores events of lane l.
func validLane(l canonical.Lane) bool {
	return l == canonical.LaneOperational || l == canonical.LaneBulk
}

// lanes lists the lanes in the order the spool walks them.
var lanes = [...]canonical.Lane{canonical.LaneOperational, canonical.LaneBulk}

func streamKey(id StreamID) []byte {
	k := make([]byte, streamPrefixLen)
	k[0] = prefixStream
	k[1] = laneByte(id.Lane)
	binary.BigEndian.PutUint32(k[2:], id.Stream)
	return k
}

func parseStreamKey(k []byte) (StreamID, error) {
	if len(k) != streamPrefixLen || k[0] != prefixStream {
		return StreamID{}, fmt.Errorf("bad stream key %x", k)
	}
	id := StreamID{Lane: canonical.Lane(k[1]), Stream: binary.BigEndian.Uint32(k[2:])}
	if !validLane(id.Lane) || id.Stream == 0 {
		return StreamID{}, fmt.Errorf("bad stream key %x", k)
	}
	return id, nil
}

// blockPrefix is the prefix shared by every block of a stream.
func blockPrefix(id StreamID) []byte {
	k := make([]byte, streamPrefixLen, blockKeyLen)
	k[0] = prefixBlock
	k[1] = laneByte(id.Lane)
	binary.BigEndian.PutUint32(k[2:], id.Stream)
	return k
}

// blockKey is the key of the block whose last event has sequence last; used
// with Seek it finds the first block whose last event is at or after last.
func blockKey(id StreamID, last uint64) []byte {
	return binary.BigEndian.AppendUint64(blockPrefix(id), last)
}

// lastStreamKey sorts after every block of the stream.
func lastStreamKey(id StreamID) []byte { return blockKey(id, math.MaxUint64) }

// blockLast returns the sequence of the last event of a block from its key.
func blockLast(k []byte) (uint64, error) {
	if len(k) != blockKeyLen || k[0] != prefixBlock {
		return 0, fmt.Errorf("bad block key %x", k)
	}
	return binary.BigEndian.Uint64(k[streamPrefixLen:]), nil
}

func cursorKey(source string) []byte {
	return append([]byte{prefixCursor}, source...)
}
