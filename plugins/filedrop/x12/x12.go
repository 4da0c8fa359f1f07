package x12

import (
	"iter"
	"strings"

	"github.com/draylink/dray/canonical/localtime"
)

// Delimiters are the separators an interchange declares in its ISA.
type Delimiters struct {
	Element    byte // ISA byte 4 (index 3)
	Component  byte // ISA16 (index 104)
	Repetition byte // ISA11 for version 00402 and later; 0 for 00401
	Segment    byte // the byte after ISA16 (index 105)
}

// Segment is one segment as received. Elements[0] is the segment ID and
// Elements[i] element i, so that Elem(5) of an AT7 is AT7-05.
type Segment struct {
	ID       string
	Elements []string
	// Pos is the 1-based position within its transaction set (ST is 1),
	// the position a 997 AK3 reports; 0 for ISA, GS, GE and IEA.
	Pos int
	// Offset is the byte offset of the segment's first byte in the file.
	Offset int

	d Delimiters
}

// Elem returns element i (1-based), or "" when the segment has fewer.
func (s Segment) Elem(i int) string {
	if i <= 0 || i >= len(s.Elements) {
		return ""
	}
	return s.Elements[i]
}

// Count is the number of data elements, trailing empty ones included.
func (s Segment) Count() int { return max(len(s.Elements)-1, 0) }

// Component returns component j (1-based) of element i, e.g. the unit code
// C001-01 of QTY-03 is Component(3, 1). An element without component
// separators is its own first component.
func (s Segment) Component(i, j int) string {
	e := s.Elem(i)
	for k := 1; k < j; k++ {
		n := strings.IndexByte(e, s.d.Component)
		if n < 0 {
			return ""
		}
		e = e[n+1:]
	}
	if n := strings.IndexByte(e, s.d.Component); n >= 0 {
		return e[:n]
	}
	return e
}

// Repeats splits element i at the repetition separator (00402 and later);
// for 00401 it returns the element alone. An empty element gives nil.
func (s Segment) Repeats(i int) []string {
	e := s.Elem(i)
	if e == "" {
		return nil
	}
	if s.d.Repetition == 0 {
		return []string{e}
	}
	return strings.Split(e, string(s.d.Repetition))
}

// String renders the segment with its own delimiters, without terminator.
func (s Segment) String() string {
	return strings.Join(s.Elements, string(s.d.Element))
}

// Set is one transaction set, ST through SE.
type Set struct {
	ID            string // ST01, e.g. "945"
	ControlNumber string // ST02
	Convention    string // ST03 (00501 implementation convention reference), if any
	// Segments holds ST through SE inclusive; Segments[i].Pos == i+1. When
	// the SE is missing (x12_se_missing) the set ends before the segment
	// that interrupted it.
	Segments []Segment
	// Offset and End delimit the set's bytes in the file; Raw is them.
	Offset, End int
	Raw         string
	// Errors lists what is wrong with the set; empty when it passed every check.
	Errors []*Error
}

// OK reports whether the set passed every check.
func (s *Set) OK() bool { return len(s.Errors) == 0 }

// Body returns the segments between ST and SE.
func (s *Set) Body() []Segment {
	segs := s.Segments
	if len(segs) > 0 && segs[0].ID == "ST" {
		segs = segs[1:]
	}
	if len(segs) > 0 && segs[len(segs)-1].ID == "SE" {
		segs = segs[:len(segs)-1]
	}
	return segs
}

// Group is one functional group, GS through GE.
type Group struct {
	FunctionalID  string         // GS01, e.g. "SW" for 945s
	Sender        string         // GS02, application sender's code
	Receiver      string         // GS03
	Date          localtime.Wall // GS04 and GS05, a zone-less wall reading
	ControlNumber string         // GS06
	Agency        string         // GS07, "X"
	Version       string         // GS08, e.g. "004010" or "004010VICS"
	Sets          []*Set
	Header        Segment // GS
	Trailer       Segment // GE
}

// Interchange is one interchange, ISA through IEA.
type Interchange struct {
	Delimiters Delimiters
	Header     Segment // ISA, elements exactly as received (padded)
	Trailer    Segment // IEA

	SenderQualifier   string         // ISA05
	SenderID          string         // ISA06, trailing spaces removed
	ReceiverQualifier string         // ISA07
	ReceiverID        string         // ISA08, trailing spaces removed
	Date              localtime.Wall // ISA09 (century by the pivot in the package doc) and ISA10
	Version           string         // ISA12, "00401" or "00501"
	ControlNumber     string         // ISA13, 9 digits
	AckRequested      bool           // ISA14 == "1" (a TA1 is requested)
	Usage             string         // ISA15: P production, T test, I information
	Groups            []*Group

	// Offset and End delimit the interchange in the file.
	Offset, End int
	// Newline is what followed the ISA's terminator ("", "\n" or "\r\n");
	// Encode and the 997 writer follow the same style.
	Newline string
}

// Sets iterates over every set of every group, good and bad, in file order.
func (ic *Interchange) Sets() iter.Seq2[*Group, *Set] {
	return func(yield func(*Group, *Set) bool) {
		for _, g := range ic.Groups {
			for _, s := range g.Sets {
				if !yield(g, s) {
					return
				}
			}
		}
	}
}

// Ref renders the reference events carry in sourceref and use as record
// key: "ISA13=000007731;GS06=7731;ST02=0002".
func (ic *Interchange) Ref(g *Group, s *Set) string {
	return "ISA13=" + ic.ControlNumber + ";GS06=" + g.ControlNumber + ";ST02=" + s.ControlNumber
}

// Key identifies the interchange for duplicate detection across files:
// control numbers are unique per sender (and receiver), not globally, so
// the key is "<ISA05>/<ISA06>/<ISA07>/<ISA08>/<ISA13>" with the ids trimmed.
func (ic *Interchange) Key() string {
	return ic.SenderQualifier + "/" + ic.SenderID + "/" + ic.ReceiverQualifier + "/" + ic.ReceiverID + "/" + ic.ControlNumber
}

// SetKey identifies one set for duplicate detection: Key plus GS06 and ST02.
func (ic *Interchange) SetKey(g *Group, s *Set) string {
	return ic.Key() + "/" + g.ControlNumber + "/" + s.ControlNumber
}
