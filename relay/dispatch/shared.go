package dispatch

import (
	"sync"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/relay/relaylog"
	"github.com/draylink/dray/relay/route"
)

// Decoded shares the decoding of relay log entries between the
// dispatchers of several sinks: each sink reads every entry, and without
// it each decoded the binary event and built jq's input from it again
// (together a fifth of the relay's CPU with two sinks). It remembers the
// last size entries handed out, by sequence number; a dispatcher that
// reads an entry the others took long ago (a sink catching up) decodes it
// itself. Safe for concurrent use.
//
// Shared events are never handed back to canonical's pool (another sink
// may still read them): the garbage collector frees them.
type Decoded struct {
	mu    sync.Mutex
	slots []decodedSlot
}

type decodedSlot struct {
	seq uint64
	d   *decodedEntry
}

// decodedEntry is one entry decoded for every sink: the event (read-only
// from here on) and its jq input, computed on first use.
type decodedEntry struct {
	ev  *canonical.Event
	err error
	doc route.SharedDoc
}

// NewDecoded remembers the last size decoded entries (at least 1).
func NewDecoded(size int) *Decoded {
	return &Decoded{slots: make([]decodedSlot, max(size, 1))}
}

func (c *Decoded) get(e relaylog.Entry) *decodedEntry {
	s := &c.slots[e.Seq%uint64(len(c.slots))]
	c.mu.Lock()
	if s.d != nil && s.seq == e.Seq {
		d := s.d
		c.mu.Unlock()
		return d
	}
	c.mu.Unlock()
	d := &decodedEntry{}
	d.ev, d.err = canonical.UnmarshalBinary(e.Event)
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.d != nil && s.seq == e.Seq { // another sink decoded it meanwhile
		return s.d
	}
	s.seq, s.d = e.Seq, d
	return d
}
