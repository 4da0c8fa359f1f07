package dispatch

import (
	"testing"
	"time"

	"github.com/draylink/dray/relay/relaylog"
)

// TestSharedDecoding: two sinks' dispatchers sharing their decoding (the
// relay's setup with several sinks), jq routes on both, one sink failing
// a fifth of its first attempts so the two drift apart: each applies
// every event once, in order per key (run under -race: the shared events
// and jq inputs are read by both at once).
func TestSharedDecoding(t *testing.T) {
	l := openLog(t)
	a, b := newFakeSink(t), newFakeSink(t)
	b.fail = func(n, attempt int) int {
		if attempt == 1 && n%5 == 0 {
			return 503
		}
		return 0
	}
	store := openDLQ(t)
	shared := NewDecoded(64) // small: entries are also evicted and decoded again
	mk := func(name string, f *fakeSink) *Dispatcher {
		d, err := New(Options{Name: name, Config: fastConfig(), Log: l, Routes: table(t, name, jqRoute),
			Sink: newSinkClient(t, f.srv.URL), DLQ: store, Logger: quiet, Decoded: shared})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	stopA, stopB := running(t, mk("tms", a)), running(t, mk("erp", b))
	const n = 1000
	feed(t, l, "MEM1", 1, n, 10)
	eventually(t, 30*time.Second, "both sinks to get everything", func() bool {
		return a.appliedCount() == n && b.appliedCount() == n
	})
	stopA()
	stopB()
	a.check(1, n, 10, nil)
	b.check(1, n, 10, nil)
}

// TestDecodedGetShares: the same entry yields the same decoded event for
// every caller while it is remembered, and a fresh decode once evicted.
func TestDecodedGetShares(t *testing.T) {
	bin := milestone(t, "MEM1", 1, 1)
	c := NewDecoded(2)
	e1 := relaylog.Entry{Seq: 1, Event: bin}
	first := c.get(e1)
	if first.err != nil || first.ev == nil {
		t.Fatalf("decode: %v", first.err)
	}
	if again := c.get(e1); again != first {
		t.Error("a second get of the same entry decoded it again")
	}
	c.get(relaylog.Entry{Seq: 3, Event: bin}) // same slot as 1
	if again := c.get(e1); again == first {
		t.Error("an evicted entry was still shared")
	}
	bad := c.get(relaylog.Entry{Seq: 2, Event: []byte{0xff, 0xff}})
	if bad.err == nil || bad.ev != nil {
		t.Errorf("undecodable entry: ev %v, err %v", bad.ev, bad.err)
	}
}
