package x12

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Ack is what the 997 for one received interchange says: one GroupAck per
// functional group, one SetAck per transaction set. It is computed from the
// parse alone (Acknowledge), so the event that reports the 997 and the 997
// bytes (Encode997) cannot disagree.
type Ack struct {
	// Interchange is the acknowledged interchange.
	Interchange *Interchange
	Groups      []GroupAck
}

// Acknowledgement codes (X12 element 717), as written in AK5-01 and AK9-01.
const (
	AckAccepted          = "A"
	AckAcceptedWithError = "E"
	AckPartial           = "P" // AK9 only: some sets rejected
	AckRejected          = "R"
)

// GroupAck acknowledges one functional group (AK1 … AK9).
type GroupAck struct {
	FunctionalID  string // AK1-01 = GS01
	ControlNumber string // AK1-02 = GS06
	Version       string // AK1-03 = GS08 (written for 00501 only)
	Code          string // AK9-01: A, E, P or R
	Included      int    // AK9-02: the sets GE01 announced
	Received      int    // AK9-03
	Accepted      int    // AK9-04
	Sets          []SetAck
}

// SetAck acknowledges one transaction set (AK2 … AK5).
type SetAck struct {
	SetID         string // AK2-01 = ST01
	ControlNumber string // AK2-02 = ST02
	Convention    string // AK2-03 = ST03 (00501 only)
	Code          string // AK5-01: A or R
	// Errors are the AK5-02 … AK5-06 syntax error codes (element 718),
	// e.g. "4" for a wrong SE01.
	Errors   []string
	Segments []SegmentAck // AK3 loops
	// Causes are the parse errors behind a rejection.
	Causes []*Error
}

// SegmentAck reports one segment in error (AK3, with its AK4s).
type SegmentAck struct {
	SegmentID string // AK3-01
	Position  int    // AK3-02: position in the set, ST = 1
	Code      string // AK3-04 (element 720), e.g. "1" unrecognized segment ID, "8" element errors
	Elements  []ElementAck
}

// ElementAck reports one element in error (AK4).
type ElementAck struct {
	Position int    // AK4-01: position in the segment
	Code     string // AK4-03 (element 723), e.g. "6" invalid character
	Value    string // AK4-04: a copy of the bad data, made safe to write
}

// maxAK5Codes is how many syntax error codes an AK5 carries (AK5-02…06).
const maxAK5Codes = 5

// Acknowledge computes the 997 for ic: every set without errors is
// accepted, every set with errors rejected with the AK5/AK3/AK4 codes of
// its errors. supported, when not nil, names the transaction sets the
// receiver handles; a set it rejects is refused with AK5 code 1
// (transaction set not supported). Groups of acknowledgements (GS01 "FA")
// are never acknowledged; Acknowledge returns nil when nothing is left.
func Acknowledge(ic *Interchange, supported func(setID string) bool) *Ack {
	a := &Ack{Interchange: ic}
	for _, g := range ic.Groups {
		if g.FunctionalID == "FA" {
			continue
		}
		ga := GroupAck{FunctionalID: g.FunctionalID, ControlNumber: g.ControlNumber, Version: g.Version,
			Received: len(g.Sets)}
		ga.Included, _ = count(g.Trailer.Elem(1))
		for _, s := range g.Sets {
			sa := setAck(s, supported)
			if sa.Code == AckAccepted {
				ga.Accepted++
			}
			ga.Sets = append(ga.Sets, sa)
		}
		switch ga.Accepted {
		case ga.Received:
			ga.Code = AckAccepted
		case 0:
			ga.Code = AckRejected
		default:
			ga.Code = AckPartial
		}
		a.Groups = append(a.Groups, ga)
	}
	if len(a.Groups) == 0 {
		return nil
	}
	return a
}

func setAck(s *Set, supported func(string) bool) SetAck {
	sa := SetAck{SetID: s.ID, ControlNumber: s.ControlNumber, Convention: s.Convention, Code: AckAccepted}
	causes := s.Errors
	if s.OK() && supported != nil && !supported(s.ID) {
		st := s.Segments[0]
		e := setErr(CodeSetNotSupported, "1", st, 1, "transaction set %s is not supported", s.ID)
		e.Set, e.SetID = s.ControlNumber, s.ID
		causes = []*Error{e}
	}
	if len(causes) == 0 {
		return sa
	}
	sa.Code = AckRejected
	sa.Causes = causes
	for _, e := range causes {
		if !slices.Contains(sa.Errors, e.ak5) && len(sa.Errors) < maxAK5Codes {
			sa.Errors = append(sa.Errors, e.ak5)
		}
		if e.ak3 == "" {
			continue
		}
		seg := SegmentAck{SegmentID: e.SegmentID, Position: e.Segment, Code: e.ak3}
		if e.ak4 != "" {
			seg.Elements = append(seg.Elements, ElementAck{Position: e.Element, Code: e.ak4, Value: e.value})
		}
		sa.Segments = append(sa.Segments, seg)
	}
	return sa
}

// Status is the overall outcome: AckAccepted when every group was
// accepted, AckRejected when every group was rejected, else AckPartial.
func (a *Ack) Status() string {
	acc, rej := 0, 0
	for _, g := range a.Groups {
		switch g.Code {
		case AckAccepted, AckAcceptedWithError:
			acc++
		case AckRejected:
			rej++
		}
	}
	switch {
	case acc == len(a.Groups):
		return AckAccepted
	case rej == len(a.Groups):
		return AckRejected
	}
	return AckPartial
}

// Counter hands out control numbers for outbound interchanges. The caller
// owns it and persists what it hands out, so numbers are never reused
// across restarts.
type Counter interface {
	// Next returns the next control number, 1 … 999999999.
	Next() (uint64, error)
}

// CounterFunc adapts a function to Counter.
type CounterFunc func() (uint64, error)

// Next calls f.
func (f CounterFunc) Next() (uint64, error) { return f() }

// Outbound is what Encode997 needs besides the acknowledgement.
type Outbound struct {
	// Counter gives the 997 interchange's ISA13; its GS06 is the same number.
	Counter Counter
	// Now is written to ISA09/ISA10 and GS04/GS05, as a wall time in Now's
	// location (pass the site's zone).
	Now time.Time
}

// ErrNoCounter is returned by Encode997 without a Counter.
var ErrNoCounter = errors.New("encode 997: no control number counter")

// Encode997 writes the 997 interchange: the received interchange's
// delimiters, version and usage indicator, sender and receiver swapped, a
// fresh ISA13 and GS06 from o.Counter, one functional group "FA" holding one
// 997 per acknowledged group (ST02 0001, 0002 …), and no TA1 requested.
func (a *Ack) Encode997(o Outbound) ([]byte, error) {
	if o.Counter == nil {
		return nil, ErrNoCounter
	}
	if o.Now.IsZero() {
		return nil, errors.New("encode 997: no time")
	}
	n, err := o.Counter.Next()
	if err != nil {
		return nil, fmt.Errorf("encode 997: control number: %w", err)
	}
	if n < 1 || n > 999_999_999 {
		return nil, fmt.Errorf("encode 997: control number %d out of range 1..999999999", n)
	}
	ic := a.Interchange
	d := ic.Delimiters
	ctl := fmt.Sprintf("%09d", n)
	gctl := strconv.FormatUint(n, 10)
	isa := ic.Header.Elements
	w := writer{d: d, nl: ic.Newline}
	w.generated([]string{"ISA", "00", pad("", 10), "00", pad("", 10),
		isa[7], isa[8], isa[5], isa[6],
		o.Now.Format("060102"), o.Now.Format("1504"),
		isa[11], isa[12], ctl, "0", isa[15], isa[16]})
	first := ic.Groups[0]
	for _, g := range ic.Groups {
		if g.FunctionalID != "FA" {
			first = g
			break
		}
	}
	version := "004010"
	if ic.Version == "00501" {
		version = "005010"
	}
	w.generated([]string{"GS", "FA", first.Receiver, first.Sender, o.Now.Format("20060102"), o.Now.Format("1504"), gctl, "X", version})
	for i, g := range a.Groups {
		segs := g.segments(ic.Version == "00501", d)
		st := fmt.Sprintf("%04d", i+1)
		w.generated([]string{"ST", "997", st})
		for _, s := range segs {
			w.generated(s)
		}
		w.generated([]string{"SE", strconv.Itoa(len(segs) + 2), st})
	}
	w.generated([]string{"GE", strconv.Itoa(len(a.Groups)), gctl})
	w.generated([]string{"IEA", "1", ctl})
	return w.b, nil
}

// segments renders the body of one 997 (AK1 … AK9), without ST and SE.
func (g GroupAck) segments(v5 bool, d Delimiters) [][]string {
	var out [][]string
	ak1 := []string{"AK1", g.FunctionalID, g.ControlNumber}
	if v5 {
		ak1 = append(ak1, d.clean(g.Version, 12))
	}
	out = append(out, ak1)
	for _, s := range g.Sets {
		ak2 := []string{"AK2", d.clean(s.SetID, 3), d.clean(s.ControlNumber, 9)}
		if v5 && s.Convention != "" {
			ak2 = append(ak2, d.clean(s.Convention, 35))
		}
		out = append(out, ak2)
		for _, seg := range s.Segments {
			id := seg.SegmentID
			if !validID(id) {
				id = d.clean(id, 3)
			}
			out = append(out, []string{"AK3", id, strconv.Itoa(seg.Position), "", seg.Code})
			for _, e := range seg.Elements {
				out = append(out, []string{"AK4", strconv.Itoa(e.Position), "", e.Code, d.clean(e.Value, 99)})
			}
		}
		out = append(out, append([]string{"AK5", s.Code}, s.Errors...))
	}
	out = append(out, []string{"AK9", g.Code, strconv.Itoa(g.Included), strconv.Itoa(g.Received), strconv.Itoa(g.Accepted)})
	return out
}
