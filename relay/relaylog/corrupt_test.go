package relaylog

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// crashImage copies the files of an open log: what a kill -9 would leave
// (every write is in the page cache, which the copy reads).
func crashImage(t *testing.T, dir string) string {
	t.Helper()
	img := t.TempDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() == "LOCK" || e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		writeSparse(t, filepath.Join(img, e.Name()), b)
	}
	return img
}

func fileID(path string) int64 {
	base := filepath.Base(path)
	id, _ := strconv.ParseInt(strings.TrimSuffix(base, filepath.Ext(base)), 10, 64)
	return id
}

// commitEnds parses a Badger write-ahead file and returns the offsets at
// which its commits end.
func commitEnds(t *testing.T, b []byte) []int64 {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "wal")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	var buf []byte
	var ends []int64
	for off := int64(logFileHeader); ; {
		n, ok := entryAt(f, off, int64(len(b)), &buf)
		if !ok {
			return ends
		}
		off += n
		if buf[0]&metaFinTxn != 0 {
			ends = append(ends, off)
		}
	}
}

// zeroPageIn clears the first whole page in [from, to) of b.
func zeroPageIn(t *testing.T, b []byte, from, to int64) {
	t.Helper()
	p := (from + pageSize - 1) / pageSize * pageSize
	if p+pageSize > to {
		t.Fatalf("no whole page in [%d, %d)", from, to)
	}
	clear(b[p : p+pageSize])
}

// writeSparse writes b leaving holes for zero pages, as Badger's
// preallocated files have.
func writeSparse(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for off := 0; off < len(b); off += pageSize {
		p := b[off:min(off+pageSize, len(b))]
		if bytes.Equal(p, zeroPage[:len(p)]) {
			continue
		}
		if _, err := f.WriteAt(p, int64(off)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(int64(len(b))); err != nil {
		t.Fatal(err)
	}
}

// usedEnd returns the offset after the last non-zero byte of b.
func usedEnd(b []byte) int {
	n := len(b)
	for n > 0 && b[n-1] == 0 {
		n--
	}
	return n
}

// mutate rewrites the newest file matching glob in dir.
func mutate(t *testing.T, dir, glob string, f func(b []byte) []byte) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, glob))
	if len(files) == 0 {
		t.Fatalf("no %s in %s", glob, dir)
	}
	slices.SortFunc(files, func(a, b string) int { return int(fileID(a) - fileID(b)) })
	path := files[len(files)-1]
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	writeSparse(t, path, f(b))
}

func flipAt(frac float64) func([]byte) []byte {
	return func(b []byte) []byte {
		b[int(float64(usedEnd(b))*frac)] ^= 0x5a
		return b
	}
}

func TestCorruptStoreRefusesToOpen(t *testing.T) {
	tests := []struct {
		name string
		// prepare returns the directory to open; dir holds a log with 2000
		// events, still open (crash images) or closed.
		prepare func(t *testing.T, l *Log, dir string) string
		// wantErr is a substring of the open error, "" to expect success.
		wantErr string
	}{{
		name:    "crash image opens with every event",
		prepare: func(t *testing.T, l *Log, dir string) string { return crashImage(t, dir) },
	}, {
		name: "torn tail of the write-ahead file opens",
		prepare: func(t *testing.T, l *Log, dir string) string {
			img := crashImage(t, dir)
			mutate(t, img, "*.mem", func(b []byte) []byte {
				// The last commit was being written when the process died:
				// its last 40 bytes never reached the page cache.
				end := usedEnd(b)
				clear(b[end-40 : end])
				return b
			})
			return img
		},
	}, {
		name: "flipped byte inside the write-ahead file",
		prepare: func(t *testing.T, l *Log, dir string) string {
			img := crashImage(t, dir)
			mutate(t, img, "*.mem", flipAt(0.5))
			return img
		},
		wantErr: ".mem: readable entry at offset",
	}, {
		name: "flipped byte at the start of the write-ahead file",
		prepare: func(t *testing.T, l *Log, dir string) string {
			img := crashImage(t, dir)
			mutate(t, img, "*.mem", func(b []byte) []byte { b[logFileHeader+3] ^= 0xff; return b })
			return img
		},
		wantErr: "follows an unreadable one",
	}, {
		// A power loss persisted pages of the last, unacknowledged commit
		// out of order: a page of it is missing, later ones are there.
		name: "last commit torn by a power loss opens",
		prepare: func(t *testing.T, l *Log, dir string) string {
			img := crashImage(t, dir)
			mutate(t, img, "*.mem", func(b []byte) []byte {
				ends := commitEnds(t, b)
				zeroPageIn(t, b, ends[len(ends)-2], ends[len(ends)-1])
				return b
			})
			return img
		},
	}, {
		name: "lost page under acknowledged commits",
		prepare: func(t *testing.T, l *Log, dir string) string {
			img := crashImage(t, dir)
			mutate(t, img, "*.mem", func(b []byte) []byte {
				ends := commitEnds(t, b)
				zeroPageIn(t, b, ends[len(ends)-3], ends[len(ends)-2])
				return b
			})
			return img
		},
		wantErr: "commits from there) follows an unreadable one",
	}, {
		name: "flipped byte inside the newest value log file",
		prepare: func(t *testing.T, l *Log, dir string) string {
			img := crashImage(t, dir)
			mutate(t, img, "*.vlog", flipAt(0.4))
			return img
		},
		wantErr: "relay log corrupt: malformed block",
	}, {
		// Blocks of one commit reach the value log in any order (Badger
		// walks a map): the cut hits one of the last commit's blocks.
		name: "truncated value log",
		prepare: func(t *testing.T, l *Log, dir string) string {
			closeLog(t, l)
			mutate(t, dir, "*.vlog", func(b []byte) []byte { return b[:usedEnd(b)-1000] })
			return dir
		},
		wantErr: "relay log corrupt: malformed block",
	}, {
		name: "flipped byte in a table",
		prepare: func(t *testing.T, l *Log, dir string) string {
			closeLog(t, l) // flushes the memtable into a table
			mutate(t, dir, "*.sst", flipAt(0.5))
			return dir
		},
		wantErr: "checksum",
	}, {
		name: "flipped byte in the manifest",
		prepare: func(t *testing.T, l *Log, dir string) string {
			closeLog(t, l)
			mutate(t, dir, "MANIFEST", flipAt(0.9))
			return dir
		},
		wantErr: "manifest",
	}, {
		name: "a Badger store that is not a relay log",
		prepare: func(t *testing.T, l *Log, dir string) string {
			other := t.TempDir()
			db, err := badger.Open(badger.DefaultOptions(other).WithLogger(nil))
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(func(txn *badger.Txn) error { return txn.Set([]byte("queue/1"), []byte("x")) }); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			return other
		},
		wantErr: "not a relay log",
	}, {
		name: "a newer format",
		prepare: func(t *testing.T, l *Log, dir string) string {
			if err := l.db.Update(func(txn *badger.Txn) error { return txn.Set(keyFormat, []byte{formatVersion + 1}) }); err != nil {
				t.Fatal(err)
			}
			closeLog(t, l)
			return dir
		},
		wantErr: "format version",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l, err := Open(Options{Dir: dir, Logger: discardLogger, RetentionInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			want := fill(t, l, 2000, 256)
			open := tt.prepare(t, l, dir)
			got, err := Open(Options{Dir: open, Logger: testLogger(t), RetentionInterval: -1})
			if tt.wantErr != "" {
				if err == nil {
					got.Close()
					t.Fatalf("opened; want an error containing %q", tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %q; want it to contain %q", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), "badger") && !errors.Is(err, ErrCorrupt) {
					t.Errorf("error %q is neither ErrCorrupt nor Badger's", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			ids := ids(t, readAll(t, got))
			if strings.Contains(tt.name, "torn") || strings.Contains(tt.name, "power loss") {
				// The torn commit was never acknowledged: a prefix survives.
				want = want[:len(ids)]
			}
			if !slices.Equal(ids, want) {
				t.Errorf("reopened log holds %d events; want %d", len(ids), len(want))
			}
		})
	}
}

func closeLog(t *testing.T, l *Log) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestBlockChecksum(t *testing.T) {
	h := blockHeader{count: 2, stream: streamKey{"MEM1", "e1", op, 3}, from: 5, through: 6}
	b := appendBlockHeader(nil, &h)
	b = appendBlockEvent(b, []byte("first"))
	b = appendBlockEvent(b, []byte("second"))
	b = finishBlock(b, 0)
	got, events, err := decodeBlock(b)
	if err != nil || got.count != 2 || got.stream != h.stream || got.from != 5 || got.through != 6 {
		t.Fatalf("decode = %+v, %v", got, err)
	}
	e1, rest, _ := nextBlockEvent(events)
	e2, rest, _ := nextBlockEvent(rest)
	if string(e1) != "first" || string(e2) != "second" || len(rest) != 0 {
		t.Errorf("events %q %q rest %d", e1, e2, len(rest))
	}
	for i := range b {
		c := slices.Clone(b)
		c[i] ^= 0x01
		if _, _, err := decodeBlock(c); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("byte %d flipped: %v; want ErrCorrupt", i, err)
		}
	}
	if _, _, err := decodeBlock(b[:len(b)-1]); !errors.Is(err, ErrCorrupt) {
		t.Errorf("truncated block: %v; want ErrCorrupt", err)
	}
}

// TestWALCheckMatchesBadger pins checkLogFile's reading of Badger's log
// file format to the Badger in go.mod: in the write-ahead and value log
// files of a live store, every byte up to the last non-zero one parses as
// entries with valid checksums.
func TestWALCheckMatchesBadger(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, Options{Dir: dir})
	fill(t, l, 3000, 1, 64, 256)
	if err := l.SetCursor("erp", 7); err != nil {
		t.Fatal(err)
	}
	img := crashImage(t, dir)
	for _, glob := range []string{"*.mem", "*.vlog"} {
		files, _ := filepath.Glob(filepath.Join(img, glob))
		if len(files) == 0 {
			t.Fatalf("no %s files", glob)
		}
		for _, path := range files {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			var buf []byte
			off, entries := int64(logFileHeader), 0
			for {
				n, ok := entryAt(f, off, int64(len(b)), &buf)
				if !ok {
					break
				}
				off += n
				entries++
			}
			f.Close()
			if entries == 0 || off != int64(usedEnd(b)) {
				t.Errorf("%s: %d entries parse up to offset %d; data ends at %d", filepath.Base(path), entries, off, usedEnd(b))
			}
			if err := checkLogFile(path); err != nil {
				t.Errorf("%s: %v", filepath.Base(path), err)
			}
		}
	}
}
