package wire

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/draylink/dray/canonical"
)

func newCodec(t testing.TB) *Codec {
	c, err := NewCodec(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestTopics(t *testing.T) {
	if EventsTopic("MEM1") != "dray/v1/MEM1/events" || CommandsTopic("MEM1") != "dray/v1/MEM1/commands" {
		t.Fatal("topic names")
	}
	for topic, want := range map[string]string{
		"dray/v1/MEM1/events": "MEM1", "dray/v1/ME/M1/events": "", "dray/v1//events": "", "dray/v1/MEM1/commands": "",
		"dray/v2/MEM1/events": "", "dray/v1/+/events": "", "dray/v1/#/events": "",
	} {
		site, ok := ParseEventsTopic(topic)
		if site != want || ok != (want != "") {
			t.Errorf("ParseEventsTopic(%q) = %q, %v; want %q", topic, site, ok, want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	c := newCodec(t)
	for _, n := range []int{1, 3, 200} {
		var body []byte
		var want [][]byte
		for i := 0; i < n; i++ {
			ev := []byte(fmt.Sprintf("event %d %s", i, bytes.Repeat([]byte("x"), 40)))
			want = append(want, ev)
			body = AppendRecord(body, ev)
		}
		h := Header{Epoch: "0123456789abcdef", Lane: canonical.LaneBulk, Stream: 2, First: 10, Last: uint64(9 + n)}
		payload := c.Seal(&h, body)
		if h.Compressed != (len(body) >= DefaultCompressThreshold) {
			t.Errorf("n=%d: compressed=%v for %d bytes", n, h.Compressed, len(body))
		}
		back, err := ParseHeader(h.Properties())
		if err != nil || back != h {
			t.Fatalf("header round trip: %+v, %v; want %+v", back, err, h)
		}
		got, err := c.Open(back, payload)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("%d events; want %d", len(got), n)
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("event %d differs", i)
			}
		}
	}
}

func TestParseHeaderRefuses(t *testing.T) {
	good := Header{Epoch: "e", Lane: canonical.LaneOperational, Stream: 0, First: 1, Last: 1}.Properties()
	with := func(k, v string) []Property {
		var out []Property
		for _, p := range good {
			if p.Key == k {
				if v != "-" {
					out = append(out, Property{k, v})
				}
				continue
			}
			out = append(out, p)
		}
		return out
	}
	cases := map[string][]Property{
		"missing epoch":     with(PropEpoch, "-"),
		"empty epoch":       with(PropEpoch, ""),
		"unknown lane":      with(PropLane, "express"),
		"negative first":    with(PropFirst, "-1"),
		"zero first":        with(PropFirst, "0"),
		"last before first": with(PropFirst, "5"),
		"stream too big":    with(PropStream, "4294967296"),
		"other codec":       with(PropCodec, "json"),
		"bad compression":   append(good, Property{PropCompression, "gzip"}),
		"duplicate":         append(good, Property{PropLast, "1"}),
		"unknown dray prop": append(good, Property{"dray-priority", "1"}),
	}
	for name, props := range cases {
		var he *HeaderError
		if _, err := ParseHeader(props); !errors.As(err, &he) {
			t.Errorf("%s: err = %v; want a *HeaderError", name, err)
		}
	}
	if _, err := ParseHeader(append(good, Property{"traceparent", "x"})); err != nil {
		t.Errorf("foreign user property refused: %v", err)
	}
}

func TestOpenRefuses(t *testing.T) {
	c := newCodec(t)
	body := AppendRecord(AppendRecord(nil, []byte("a")), []byte("b"))
	h := Header{Epoch: "e", Lane: canonical.LaneOperational, First: 1, Last: 2}
	cases := map[string]struct {
		h       Header
		payload []byte
	}{
		"fewer events than announced": {Header{Epoch: "e", First: 1, Last: 3}, body},
		"more events than announced":  {Header{Epoch: "e", First: 1, Last: 1}, body},
		"truncated record":            {h, body[:len(body)-1]},
		"empty record":                {Header{Epoch: "e", First: 1, Last: 1}, []byte{0}},
		"bad varint":                  {h, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		"not zstd":                    {Header{Epoch: "e", First: 1, Last: 2, Compressed: true}, body},
		"absurd count":                {Header{Epoch: "e", First: 1, Last: 1 << 40}, body},
	}
	for name, tc := range cases {
		var pe *PayloadError
		if _, err := c.Open(tc.h, tc.payload); !errors.As(err, &pe) {
			t.Errorf("%s: err = %v; want a *PayloadError", name, err)
		}
	}
	// A zip bomb: 4 MiB of zeros compresses to a few hundred bytes and must
	// be refused by a codec limited to 1 MiB.
	big := AppendRecord(nil, make([]byte, 4<<20))
	bomb := c.enc.EncodeAll(big, nil)
	if len(bomb) > 64<<10 {
		t.Fatalf("bomb is %d bytes", len(bomb))
	}
	if _, err := c.Open(Header{Epoch: "e", First: 1, Last: 1, Compressed: true}, bomb); err == nil {
		t.Fatal("decompressed past the limit")
	}
}

func FuzzOpen(f *testing.F) {
	c := newCodec(f)
	f.Add(uint64(1), uint64(2), false, AppendRecord(AppendRecord(nil, []byte("a")), []byte("bc")))
	f.Add(uint64(1), uint64(1), true, c.enc.EncodeAll(AppendRecord(nil, []byte("abc")), nil))
	f.Fuzz(func(t *testing.T, first, last uint64, compressed bool, payload []byte) {
		h := Header{Epoch: "e", First: first, Last: last, Compressed: compressed}
		if first == 0 || last < first {
			return
		}
		events, err := c.Open(h, payload)
		if err != nil {
			return
		}
		if uint64(len(events)) != h.Count() {
			t.Fatalf("%d events for %d announced", len(events), h.Count())
		}
		var body []byte
		for _, e := range events {
			body = AppendRecord(body, e)
		}
		again, err := c.Open(Header{Epoch: "e", First: first, Last: last}, body)
		if err != nil || len(again) != len(events) {
			t.Fatalf("re-encoded body does not open: %v", err)
		}
	})
}

func FuzzParseHeader(f *testing.F) {
	f.Add("e", "operational", "0", "1", "5", CodecEventsV1, "")
	f.Fuzz(func(t *testing.T, epoch, lane, stream, first, last, codec, compression string) {
		props := []Property{{PropEpoch, epoch}, {PropLane, lane}, {PropStream, stream}, {PropFirst, first}, {PropLast, last}, {PropCodec, codec}}
		if compression != "" {
			props = append(props, Property{PropCompression, compression})
		}
		h, err := ParseHeader(props)
		if err != nil {
			return
		}
		back, err := ParseHeader(h.Properties())
		if err != nil || back != h {
			t.Fatalf("accepted header does not round trip: %+v %v", back, err)
		}
	})
}
