package relaylog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

// checkBadgerLogs guards against one silent-loss path of Badger's recovery.
//
// At open, Badger replays each memtable write-ahead file (*.mem) up to the
// first entry it cannot read and truncates the file there: right for a
// write torn by a crash, but a single flipped byte in the middle looks the
// same to it, and every later commit — acknowledged events — disappears
// without an error (measured: one byte flipped in the .mem file of 2000
// acknowledged events opened as an empty log). This check, run before
// badger.Open, tells the two apart and refuses corruption:
//
//   - After a kill -9 the page cache holds a prefix of the last write: an
//     incomplete entry, then zeros (files are created zero-filled). Nothing
//     readable follows.
//   - After a power loss, pages of the last, unsynced (so unacknowledged)
//     commit may have reached the disk out of order: a page of zeros, then
//     readable entries of that same commit — at most one commit, so at most
//     one end-of-transaction marker.
//   - Anything else — readable entries after an unreadable one with no
//     zero page between them, or more than one commit after it — is
//     corruption of acknowledged data.
//
// The newest value log file, which Badger also truncates at open, is
// covered by reading the newest blocks back after open (log.go).
//
// It reads Badger v4's log file format (value.go, structs.go): a 20-byte
// file header, then entries of
//
//	meta (1) | user meta (1) | uvarint key length | uvarint value length |
//	uvarint expiresAt | key (with 8-byte version) | value | CRC-32C (4, big-endian)
//
// where the checksum covers everything before it and a commit ends with an
// entry whose meta has bitFinTxn. TestWALCheckMatchesBadger pins that
// format to the Badger version in go.mod.
func checkBadgerLogs(dir string) error {
	mems, err := filepath.Glob(filepath.Join(dir, "*.mem"))
	if err != nil {
		return err
	}
	for _, f := range mems {
		if err := checkLogFile(f); err != nil {
			return fmt.Errorf("%w: %s: %w; Badger would drop everything after it, acknowledged events included: "+
				"refusing to open (restore the store, or move the file aside knowingly)", ErrCorrupt, filepath.Base(f), err)
		}
	}
	return nil
}

const (
	logFileHeader  = 20 // Badger's vlogHeaderSize
	maxEntryHeader = 2 + 3*binary.MaxVarintLen64
	maxKeyLen      = 1 << 16 // Badger refuses longer keys
	metaBits       = 0xCF    // delete, value pointer, discard, merge, txn, fin-txn
	metaFinTxn     = 0x80    // Badger's bitFinTxn: the entry that ends a commit
	scanWindow     = 1 << 20
	pageSize       = 4096
)

func checkLogFile(path string) error {
	f, err := os.Open(path) //nolint:gosec // a file of the store's own directory
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	size := info.Size()
	var buf []byte
	off := int64(logFileHeader)
	for off < size {
		n, ok := entryAt(f, off, size, &buf)
		if !ok {
			break
		}
		off += n
	}
	bad := off
	next, found, err := nextReadable(f, bad, size, &buf)
	if err != nil || !found {
		return err
	}
	// Count the commits that end after the unreadable part.
	commits := 0
	for off := next; off < size; {
		n, ok := entryAt(f, off, size, &buf)
		if !ok {
			break
		}
		if buf[0]&metaFinTxn != 0 {
			commits++
		}
		off += n
	}
	if commits <= 1 {
		hole := make([]byte, next-bad)
		if _, err := f.ReadAt(hole, bad); err != nil {
			return err
		}
		if hasZeroPage(hole, bad) {
			return nil // the last commit, torn by a power loss: never acknowledged
		}
	}
	return fmt.Errorf("readable entry at offset %d (%d commits from there) follows an unreadable one at offset %d", next, commits, bad)
}

// nextReadable returns the offset of the first readable entry after bad.
func nextReadable(f *os.File, bad, size int64, buf *[]byte) (int64, bool, error) {
	window := make([]byte, scanWindow+maxEntryHeader)
	for start := bad + 1; start < size; start += scanWindow {
		n, err := f.ReadAt(window, start)
		if err != nil && err != io.EOF {
			return 0, false, err
		}
		w := window[:n]
		for i := 0; i < min(n, scanWindow); i++ {
			if i+2 < n && w[i]|w[i+1]|w[i+2] == 0 { //nolint:gosec // i+2 < n = len(w)
				// Skip zero runs quickly (sparse, preallocated files). An
				// entry starts with at most two zero bytes (meta, user
				// meta), so resume two bytes before the run ends.
				j := nonZero(w[i:min(n, scanWindow)])
				if j < 0 {
					break
				}
				i += j - 3
				continue
			}
			if !plausibleEntry(w[i:]) {
				continue
			}
			if _, ok := entryAt(f, start+int64(i), size, buf); ok {
				return start + int64(i), true, nil
			}
		}
	}
	return 0, false, nil
}

// hasZeroPage reports whether b, read from file offset off, contains a
// whole page-aligned page of zeros.
func hasZeroPage(b []byte, off int64) bool {
	first := (pageSize - off%pageSize) % pageSize
	for p := first; p+pageSize <= int64(len(b)); p += pageSize {
		if bytes.Equal(b[p:p+pageSize], zeroPage[:]) {
			return true
		}
	}
	return false
}

var zeroPage [pageSize]byte

// nonZero returns the index of the first non-zero byte of b, or -1.
func nonZero(b []byte) int {
	i := 0
	for ; i+len(zeroPage) <= len(b); i += len(zeroPage) {
		if !bytes.Equal(b[i:i+len(zeroPage)], zeroPage[:]) {
			break
		}
	}
	for ; i < len(b); i++ {
		if b[i] != 0 {
			return i
		}
	}
	return -1
}

// plausibleEntry filters candidates cheaply before a checksum.
func plausibleEntry(b []byte) bool {
	if len(b) < 4 || b[0]&^metaBits != 0 || b[1] != 0 {
		return false
	}
	klen, n := binary.Uvarint(b[2:])
	return n > 0 && klen > 8 && klen <= maxKeyLen
}

// entryAt reads the entry at off and reports its length and whether its
// checksum holds.
func entryAt(f *os.File, off, size int64, buf *[]byte) (int64, bool) {
	var hdr [maxEntryHeader]byte
	n, _ := f.ReadAt(hdr[:min(int64(len(hdr)), size-off)], off)
	h := hdr[:n]
	if len(h) < 5 {
		return 0, false
	}
	klen, n1 := binary.Uvarint(h[2:])
	if n1 <= 0 {
		return 0, false
	}
	vlen, n2 := binary.Uvarint(h[2+n1:])
	if n2 <= 0 {
		return 0, false
	}
	_, n3 := binary.Uvarint(h[2+n1+n2:])
	if n3 <= 0 || klen == 0 || klen > maxKeyLen {
		return 0, false
	}
	total := int64(2+n1+n2+n3) + int64(klen) + int64(vlen) + 4
	if vlen > uint64(size) || off+total > size {
		return 0, false
	}
	if int64(cap(*buf)) < total {
		*buf = make([]byte, total)
	}
	b := (*buf)[:total]
	if _, err := f.ReadAt(b, off); err != nil {
		return 0, false
	}
	return total, crc32.Checksum(b[:total-4], castagnoli) == binary.BigEndian.Uint32(b[total-4:])
}
