package ingest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"
)

// allocated returns the bytes allocated while f ran.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func readOne(in []byte, max int) (rawPacket, error) {
	pr := packetReader{r: bufio.NewReader(bytes.NewReader(in)), max: max}
	return pr.next()
}

func TestReadRefusesOversizeBeforeAllocating(t *testing.T) {
	// A PUBLISH declaring 268,435,455 bytes (the largest Remaining
	// Length) and carrying 8: packets.ReadPacket allocates 256 MiB here.
	in := []byte{0x32, 0xFF, 0xFF, 0xFF, 0x7F, 1, 2, 3, 4, 5, 6, 7, 8}
	var err error
	n := allocated(func() { _, err = readOne(in, DefaultMaxPacketSize) })
	var r *refusal
	if !errors.As(err, &r) || r.code != codePacketTooLarge {
		t.Fatalf("err = %v; want a 0x95 refusal", err)
	}
	if n > 1<<20 {
		t.Fatalf("allocated %d bytes refusing an oversize packet", n)
	}

	// Declared within the limit (15 MiB) but only 8 bytes sent: the body
	// grows with what arrives.
	in = []byte{0x32, 0x80, 0x80, 0xC0, 0x07, 1, 2, 3, 4, 5, 6, 7, 8}
	n = allocated(func() { _, err = readOne(in, DefaultMaxPacketSize) })
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v; want unexpected EOF", err)
	}
	if n > 1<<20 {
		t.Fatalf("allocated %d bytes for 8 bytes of a packet declaring 15 MiB", n)
	}
}

func TestReadLargeBody(t *testing.T) {
	body := bytes.Repeat([]byte{7}, 300_000)
	in := append([]byte{0x30, 0xE0, 0xA7, 0x12}, body...) // 300,000 = 0x493E0
	p, err := readOne(in, DefaultMaxPacketSize)
	if err != nil {
		t.Fatal(err)
	}
	if p.typ != 3 || !bytes.Equal(p.body, body) || p.size() != len(in) {
		t.Fatalf("type %d, %d body bytes, size %d; want PUBLISH, %d, %d", p.typ, len(p.body), p.size(), len(body), len(in))
	}
	// The maximum counts the whole packet, fixed header included.
	if _, err := readOne(in, len(in)-1); !isRefusal(err, codePacketTooLarge) {
		t.Fatalf("one byte over the maximum: err = %v; want 0x95", err)
	}
	if _, err := readOne(in, len(in)); err != nil {
		t.Fatalf("exactly the maximum: %v", err)
	}
}

func isRefusal(err error, code byte) bool {
	var r *refusal
	return errors.As(err, &r) && r.code == code
}

func TestReadFixedHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		code byte // 0: a read error (truncated)
	}{
		{"reserved type 0", []byte{0x00, 0x00}, codeMalformedPacket},
		{"PUBLISH QoS 3", []byte{0x36, 0x00}, codeMalformedPacket},
		{"CONNECT with flags", []byte{0x11, 0x00}, codeMalformedPacket},
		{"SUBSCRIBE flags 0", []byte{0x80, 0x00}, codeMalformedPacket},
		{"PINGREQ with flags", []byte{0xC1, 0x00}, codeMalformedPacket},
		{"DISCONNECT with flags", []byte{0xE2, 0x00}, codeMalformedPacket},
		{"five-byte remaining length", []byte{0x30, 0x80, 0x80, 0x80, 0x80, 0x01}, codeMalformedPacket},
		{"non-minimal remaining length", []byte{0xC0, 0x80, 0x00}, codeMalformedPacket},
		{"truncated remaining length", []byte{0x30, 0x80}, 0},
		{"truncated body", []byte{0x30, 0x05, 0x00}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readOne(tc.in, DefaultMaxPacketSize)
			if tc.code == 0 {
				var re *errRead
				if !errors.As(err, &re) || !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("err = %v; want a truncation", err)
				}
				return
			}
			if !isRefusal(err, tc.code) {
				t.Fatalf("err = %v; want refusal 0x%02X", err, tc.code)
			}
		})
	}
}
