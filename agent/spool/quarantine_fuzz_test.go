package spool

import (
	"testing"
	"time"
)

// FuzzDecodeChunk: a damaged quarantine chunk is refused, never a panic or
// a record read past its end; what decodes encodes to a chunk that decodes
// to the same records.
func FuzzDecodeChunk(f *testing.F) {
	f.Add(encodeChunk("counts", time.Unix(5, 0), rejects("counts", 0, 3)))
	f.Add(encodeChunk("", time.Unix(0, 0), nil))
	f.Add([]byte{chunkVersion, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeChunk(b)
		if err != nil {
			return
		}
		recs := make([]QuarantineRecord, len(c.recs))
		for i, r := range c.recs {
			recs[i] = QuarantineRecord{Origin: r.origin, Code: r.code, Reason: r.reason, Ref: r.ref, Payload: r.payload}
		}
		again, err := decodeChunk(encodeChunk(c.source, c.at, recs))
		if err != nil || again.source != c.source || !again.at.Equal(c.at) || len(again.recs) != len(c.recs) {
			t.Fatalf("%x decoded to %+v, which re-encodes to %+v (%v)", b, c, again, err)
		}
		for i := range c.recs {
			a, b := again.recs[i], c.recs[i]
			if a.origin != b.origin || a.code != b.code || a.reason != b.reason || a.ref != b.ref || string(a.payload) != string(b.payload) {
				t.Fatalf("record %d: %+v became %+v", i, b, a)
			}
		}
	})
}
