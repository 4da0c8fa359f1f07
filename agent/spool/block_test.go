package spool

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func buildBlock(t time.Time, events ...[]byte) []byte {
	var b blockBuilder
	b.reset()
	b.open(t)
	for _, ev := range events {
		b.add(ev)
	}
	blk, _ := b.close()
	return blk
}

func TestBlockRoundTrip(t *testing.T) {
	at := time.Date(2026, 5, 4, 3, 2, 1, 123456789, time.UTC)
	tests := []struct {
		name   string
		events [][]byte
	}{
		{"one event", [][]byte{[]byte("a")}},
		{"several", [][]byte{[]byte("first"), bytes.Repeat([]byte{7}, 1000), []byte("x")}},
		{"large", [][]byte{make([]byte, maxBlockBytes+10)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blk := buildBlock(at, tt.events...)
			h, err := parseBlockHeader(blk)
			if err != nil || !h.appended.Equal(at) || int(h.count) != len(tt.events) {
				t.Fatalf("header %+v, %v; want %v and %d events", h, err, at, len(tt.events))
			}
			var got [][]byte
			if err := eachEvent(blk, func(i uint32, ev []byte) bool {
				got = append(got, ev)
				return true
			}); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.events) {
				t.Fatalf("%d events; want %d", len(got), len(tt.events))
			}
			for i := range got {
				if !bytes.Equal(got[i], tt.events[i]) {
					t.Errorf("event %d differs", i)
				}
			}
		})
	}
}

func TestBlockBuilderSplits(t *testing.T) {
	var b blockBuilder
	b.reset()
	b.open(time.Now())
	ev := make([]byte, 1000)
	n := 0
	for b.fits(len(ev)) {
		b.add(ev)
		n++
	}
	blk, count := b.close()
	if int(count) != n || len(blk) > maxBlockBytes || len(blk)+eventHeaderSize+len(ev) <= maxBlockBytes {
		t.Errorf("block of %d bytes with %d events; want the most 1000-byte events under %d", len(blk), count, maxBlockBytes)
	}
	// An empty block takes any event, however large.
	b.open(time.Now())
	if !b.fits(2 * maxBlockBytes) {
		t.Error("an empty block refuses a large event")
	}
}

func TestBlockRejectsDamage(t *testing.T) {
	good := buildBlock(time.Now(), []byte("hello"), []byte("world"))
	tests := []struct {
		name string
		blk  []byte
	}{
		{"empty", nil},
		{"short header", good[:blockHeaderSize-1]},
		{"bad version", append([]byte{9}, good[1:]...)},
		{"zero count", append(append([]byte{}, good[:9]...), 0, 0, 0, 0)},
		{"truncated event", good[:len(good)-1]},
		{"trailing bytes", append(append([]byte{}, good...), 0)},
		{"length beyond end", func() []byte {
			b := append([]byte{}, good...)
			b[blockHeaderSize] = 0xff
			return b
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := eachEvent(tt.blk, func(uint32, []byte) bool { return true })
			if !errors.Is(err, errBadBlock) {
				t.Errorf("err = %v; want errBadBlock", err)
			}
		})
	}
}

func FuzzEachEvent(f *testing.F) {
	f.Add(buildBlock(time.Unix(0, 0), []byte("a"), []byte("bc")))
	f.Add([]byte{blockVersion, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, blk []byte) {
		total := 0
		err := eachEvent(blk, func(i uint32, ev []byte) bool {
			total += len(ev)
			return true
		})
		if err == nil {
			h, _ := parseBlockHeader(blk)
			if want := len(blk) - blockHeaderSize - int(h.count)*eventHeaderSize; total != want {
				t.Fatalf("events hold %d bytes; the block %d", total, want)
			}
		}
	})
}
