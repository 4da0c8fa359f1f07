package relaylog

import (
	"encoding/binary"
	"fmt"

	"github.com/draylink/dray/canonical"
)

// Key prefixes. Every key starts with one of these bytes; numbers are
// big-endian so that Badger's byte order is numeric order. See doc.go.
const (
	prefixBlock   = 'b' // b | last global seq (8)            -> block (block.go)
	prefixTime    = 't' // t | index time ns (8) | last seq (8) -> first seq (8)
	prefixHWM     = 'h' // h | len site (1) | site | len epoch (1) | epoch | lane (4) | stream (4) -> hwm (8)
	prefixUUID    = 'i' // i | 16 bytes of a canonical UUID id  -> global seq (8), TTL IDRetention
	prefixRawID   = 'j' // j | id bytes (ids not in canonical UUID form) -> global seq (8), TTL IDRetention
	prefixCursor  = 'c' // c | consumer name                    -> next seq to deliver (8)
	prefixMeta    = 'm' // m | name                             -> meta value
	prefixMark    = 'k' // k | len consumer (1) | consumer | name -> mark value, TTL MarkRetention
	blockKeyLen   = 1 + 8
	timeKeyLen    = 1 + 8 + 8
	maxConsumer   = 200
	maxStreamPart = 255 // site and epoch are length-prefixed with one byte
)

var (
	keyFormat = []byte("mformat") // -> format version (1 byte)
	keyFloor  = []byte("mfloor")  // -> oldest retained seq (8) | index time of the last deleted block (8)
)

// formatVersion is the on-disk format written by this code.
const formatVersion = 1

func blockKey(lastSeq uint64) []byte {
	k := make([]byte, blockKeyLen)
	k[0] = prefixBlock
	binary.BigEndian.PutUint64(k[1:], lastSeq)
	return k
}

func parseBlockKey(k []byte) (uint64, error) {
	if len(k) != blockKeyLen || k[0] != prefixBlock {
		return 0, fmt.Errorf("%w: block key %x", ErrCorrupt, k)
	}
	return binary.BigEndian.Uint64(k[1:]), nil
}

func timeKey(indexTime int64, lastSeq uint64) []byte {
	k := make([]byte, timeKeyLen)
	k[0] = prefixTime
	binary.BigEndian.PutUint64(k[1:], uint64(indexTime))
	binary.BigEndian.PutUint64(k[9:], lastSeq)
	return k
}

func parseTimeKey(k []byte) (indexTime int64, lastSeq uint64, err error) {
	if len(k) != timeKeyLen || k[0] != prefixTime {
		return 0, 0, fmt.Errorf("%w: time key %x", ErrCorrupt, k)
	}
	return int64(binary.BigEndian.Uint64(k[1:])), binary.BigEndian.Uint64(k[9:]), nil
}

// streamKey names one gapless sequence of one spool.
type streamKey struct {
	site, epoch string
	lane        canonical.Lane
	stream      uint32
}

func (s streamKey) key() []byte {
	k := make([]byte, 0, 1+1+len(s.site)+1+len(s.epoch)+8)
	k = append(k, prefixHWM, byte(len(s.site)))
	k = append(k, s.site...)
	k = append(k, byte(len(s.epoch)))
	k = append(k, s.epoch...)
	k = binary.BigEndian.AppendUint32(k, uint32(s.lane))
	return binary.BigEndian.AppendUint32(k, s.stream)
}

func parseStreamKey(k []byte) (streamKey, error) {
	var s streamKey
	bad := fmt.Errorf("%w: high-water key %x", ErrCorrupt, k)
	if len(k) < 2 || k[0] != prefixHWM {
		return s, bad
	}
	k = k[1:]
	n := int(k[0])
	if len(k) < 1+n+1 {
		return s, bad
	}
	s.site, k = string(k[1:1+n]), k[1+n:]
	n = int(k[0])
	if len(k) != 1+n+8 {
		return s, bad
	}
	s.epoch, k = string(k[1:1+n]), k[1+n:]
	s.lane = canonical.Lane(int32(binary.BigEndian.Uint32(k)))
	s.stream = binary.BigEndian.Uint32(k[4:])
	return s, nil
}

// appendIDKey appends the id-index key of id to dst. Ids in canonical UUID
// form (lowercase, hyphenated: what canonical.EventID makes) take 16 bytes;
// anything else is stored as it is under another prefix, so two different
// strings never share a key.
func appendIDKey(dst []byte, id string) []byte {
	if u, ok := parseUUID(id); ok {
		dst = append(dst, prefixUUID)
		return append(dst, u[:]...)
	}
	dst = append(dst, prefixRawID)
	return append(dst, id...)
}

// parseUUID accepts exactly the lowercase 8-4-4-4-12 form.
func parseUUID(s string) (u [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
			continue
		}
		hi, ok1 := lowerHex(s[i])
		lo, ok2 := lowerHex(s[i+1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[j] = hi<<4 | lo
		j++
		i += 2
	}
	return u, true
}

func lowerHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func cursorKey(consumer string) []byte {
	return append([]byte{prefixCursor}, consumer...)
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v) }

func parseU64(what string, v []byte) (uint64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: %s value of %d bytes", ErrCorrupt, what, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

func floorValue(oldest uint64, floorTime int64) []byte {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 16), oldest)
	return binary.BigEndian.AppendUint64(v, uint64(floorTime))
}

func parseFloor(v []byte) (oldest uint64, floorTime int64, err error) {
	if len(v) != 16 || binary.BigEndian.Uint64(v) == 0 {
		return 0, 0, fmt.Errorf("%w: retention floor %x", ErrCorrupt, v)
	}
	return binary.BigEndian.Uint64(v), int64(binary.BigEndian.Uint64(v[8:])), nil
}
