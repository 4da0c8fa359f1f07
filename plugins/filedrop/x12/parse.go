package x12

import (
	"fmt"
	"strconv"
	"strings"
)

// Parser holds the limits of a parse; the zero value uses the defaults.
type Parser struct {
	// MaxBytes caps the input (default DefaultMaxBytes).
	MaxBytes int
	// MaxElements caps the data elements of one segment (default DefaultMaxElements).
	MaxElements int
}

// Default limits.
const (
	DefaultMaxBytes    = 32 << 20
	DefaultMaxElements = 512
)

// Parse reads exactly one interchange with the default limits.
func Parse(data []byte) (*Interchange, error) { return Parser{}.Parse(data) }

// ParseAll reads one or more interchanges with the default limits.
func ParseAll(data []byte) ([]*Interchange, error) { return Parser{}.ParseAll(data) }

// Parse reads exactly one interchange: anything after its IEA other than
// whitespace, including a second interchange, is x12_trailing_data. On an
// envelope error it returns nil and an *Error; set errors stay with their
// sets (see Set.OK).
func (p Parser) Parse(data []byte) (*Interchange, error) {
	ics, err := p.parse(data, true)
	if err != nil {
		return nil, err
	}
	return ics[0], nil
}

// ParseAll reads interchanges back to back until the end of the data. It
// stops at the first envelope error and returns the interchanges read
// before it together with the *Error.
func (p Parser) ParseAll(data []byte) ([]*Interchange, error) {
	return p.parse(data, false)
}

func (p Parser) parse(data []byte, one bool) ([]*Interchange, error) {
	maxBytes, maxElems := p.MaxBytes, p.MaxElements
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if maxElems <= 0 {
		maxElems = DefaultMaxElements
	}
	if len(data) > maxBytes {
		return nil, &Error{code: CodeTooLarge, Reason: fmt.Sprintf("%d bytes; the limit is %d", len(data), maxBytes)}
	}
	s := string(data)
	pos := 0
	if strings.HasPrefix(s, "\ufeff") {
		pos = 3
	}
	t := &tokenizer{s: s, maxElements: maxElems}
	var out []*Interchange
	for {
		pos = skipBlank(s, pos)
		if pos == len(s) {
			if len(out) == 0 {
				return nil, &Error{code: CodeEmpty, Offset: pos, Reason: "no interchange: the file is empty or only whitespace"}
			}
			return out, nil
		}
		if len(out) > 0 && one {
			return nil, &Error{code: CodeTrailingData, Interchange: out[0].ControlNumber, Offset: pos,
				Reason: fmt.Sprintf("data after the IEA: %q", printable(s[pos:min(len(s), pos+20)]))}
		}
		ic, end, err := parseInterchange(t, pos)
		if err != nil {
			return out, err
		}
		out = append(out, ic)
		pos = end
	}
}

// skipBlank skips the whitespace allowed before an ISA and after an IEA.
func skipBlank(s string, pos int) int {
	for pos < len(s) && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\r' || s[pos] == '\n') {
		pos++
	}
	return pos
}

// isaWidths are the fixed widths of ISA01 … ISA16.
var isaWidths = [16]int{2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1}

// isaLen is the length of an ISA including its terminator.
const isaLen = 106

// readISA checks the ISA at pos and returns its segment and delimiters.
func readISA(s string, pos int) (Segment, Delimiters, *Error) {
	at := Segment{ID: "ISA", Offset: pos}
	if !strings.HasPrefix(s[pos:], "ISA") {
		return at, Delimiters{}, &Error{code: CodeNoISA, Offset: pos,
			Reason: fmt.Sprintf("an interchange starts with ISA, not %q", printable(s[pos:min(len(s), pos+3)]))}
	}
	if len(s)-pos < isaLen {
		return at, Delimiters{}, envErr(CodeISALength, at, 0, "the data holds %d bytes from ISA on; an ISA is %d", len(s)-pos, isaLen)
	}
	sep := s[pos+3]
	elems := make([]string, 17)
	elems[0] = "ISA"
	i := pos + 3 // at the separator before ISA01
	for f := range 16 {
		// s[i] is the separator before ISA(f+1): index 3 at first, then
		// where the width check below found it.
		start := i + 1
		w := isaWidths[f]
		if f < 15 {
			n := strings.IndexByte(s[start:], sep)
			if n != w {
				got := n
				if n < 0 {
					got = len(s) - start
				}
				return at, Delimiters{}, envErr(CodeISALength, at, f+1, "ISA%02d is %d bytes, want %d: the ISA has fixed widths and is %d bytes",
					f+1, got, w, isaLen)
			}
		}
		elems[f+1] = s[start : start+w]
		i = start + w
	}
	d := Delimiters{Element: sep, Component: s[pos+104], Segment: s[pos+105]}
	at.Elements = elems
	at.d = d
	if elems[12] == "00501" {
		// From 00402 on, ISA11 is the repetition separator.
		d.Repetition = elems[11][0]
		at.d = d
	}
	if err := checkDelimiters(d); err != "" {
		return at, d, envErr(CodeDelimiters, at, 0, "%s", err)
	}
	for f := 1; f <= 15; f++ {
		for j := 0; j < len(elems[f]); j++ {
			if c := elems[f][j]; c < 0x20 || c == 0x7f {
				return at, d, envErr(CodeBadElement, at, f, "control character 0x%02x in ISA%02d", c, f)
			}
		}
	}
	return at, d, nil
}

// checkDelimiters returns why d cannot work, or "".
func checkDelimiters(d Delimiters) string {
	type named struct {
		name string
		c    byte
	}
	all := []named{{"element separator", d.Element}, {"component separator (ISA16)", d.Component}, {"segment terminator", d.Segment}}
	if d.Repetition != 0 {
		all = append(all, named{"repetition separator (ISA11)", d.Repetition})
	}
	for i, a := range all {
		switch {
		case a.c >= 'A' && a.c <= 'Z', a.c >= 'a' && a.c <= 'z', a.c >= '0' && a.c <= '9':
			return fmt.Sprintf("%s %q is a letter or digit", a.name, a.c)
		case a.c == ' ' || a.c == '\t':
			return fmt.Sprintf("%s is whitespace", a.name)
		case (a.c == '\r' || a.c == '\n') && a.name != "segment terminator":
			return fmt.Sprintf("%s is a line break", a.name)
		}
		for _, b := range all[:i] {
			if a.c == b.c {
				return fmt.Sprintf("%s and %s are both %q", b.name, a.name, a.c)
			}
		}
	}
	return ""
}

// parseInterchange reads the interchange whose ISA starts at pos and
// returns it with the offset just past its IEA.
func parseInterchange(t *tokenizer, pos int) (*Interchange, int, *Error) {
	s := t.s
	isa, d, err := readISA(s, pos)
	if err != nil {
		return nil, 0, err
	}
	ic := &Interchange{
		Delimiters:        d,
		Header:            isa,
		SenderQualifier:   isa.Elements[5],
		SenderID:          strings.TrimRight(isa.Elements[6], " "),
		ReceiverQualifier: isa.Elements[7],
		ReceiverID:        strings.TrimRight(isa.Elements[8], " "),
		Version:           isa.Elements[12],
		ControlNumber:     isa.Elements[13],
		AckRequested:      isa.Elements[14] == "1",
		Usage:             isa.Elements[15],
		Offset:            pos,
	}
	if err := ic.checkISA(); err != nil {
		return nil, 0, err
	}
	after := pos + isaLen
	switch {
	case strings.HasPrefix(s[after:], "\r\n"):
		ic.Newline = "\r\n"
	case strings.HasPrefix(s[after:], "\n"):
		ic.Newline = "\n"
	}
	t.reset(after, d)
	p := &envParser{t: t, ic: ic}
	if err := p.run(); err != nil {
		err.Interchange = ic.ControlNumber
		return nil, 0, err
	}
	ic.End = p.t.pos
	return ic, p.t.pos, nil
}

// checkISA validates the ISA's fields beyond their widths.
func (ic *Interchange) checkISA() *Error {
	isa := ic.Header
	bad := func(code string, f int, format string, args ...any) *Error {
		e := envErr(code, isa, f, format, args...)
		if isDigits(ic.ControlNumber) {
			e.Interchange = ic.ControlNumber
		}
		return e
	}
	switch ic.Version {
	case "00401", "00501":
	default:
		return bad(CodeUnsupportedVersion, 12, "unsupported version %q: ISA12 must be 00401 or 00501", printable(ic.Version))
	}
	if ic.Version == "00401" && isa.Elements[11] != "U" {
		return bad(CodeBadElement, 11, "ISA11 is %q; version 00401 wants U (U.S. EDI Community)", printable(isa.Elements[11]))
	}
	if !isDigits(ic.ControlNumber) {
		return bad(CodeBadElement, 13, "ISA13 %q is not 9 digits", printable(ic.ControlNumber))
	}
	if strings.TrimSpace(ic.SenderID) == "" || strings.TrimSpace(ic.ReceiverID) == "" {
		return bad(CodeBadElement, 6, "ISA06 and ISA08 must name the sender and the receiver")
	}
	if e := isa.Elements[14]; e != "0" && e != "1" {
		return bad(CodeBadElement, 14, "ISA14 is %q, want 0 or 1", printable(isa.Elements[14]))
	}
	switch ic.Usage {
	case "P", "T", "I":
	default:
		return bad(CodeBadElement, 15, "ISA15 is %q, want P, T or I", printable(ic.Usage))
	}
	w, derr := ParseDateTime(isa.Elements[9], isa.Elements[10])
	if derr != nil {
		return bad(CodeBadDate, 9, "ISA09/ISA10 %s %s: %v", printable(isa.Elements[9]), printable(isa.Elements[10]), derr)
	}
	ic.Date = w
	return nil
}

// envParser walks the segments of one interchange after its ISA.
type envParser struct {
	t  *tokenizer
	ic *Interchange
}

// read returns the next segment, turning a malformed one outside a set
// into an envelope error.
func (p *envParser) read(missing string) (Segment, *Error) {
	seg, err, ok := p.t.next()
	if err != nil && (!ok || err.Code() != CodeBadSegment) {
		return seg, err
	}
	if !ok {
		return seg, &Error{code: CodeTruncated, Offset: len(p.t.s), Reason: "the data ends before the " + missing}
	}
	if err != nil {
		err.ak3, err.ak4 = "", ""
		return seg, err
	}
	return seg, nil
}

func (p *envParser) run() *Error {
	ic := p.ic
	seenGroups := map[string]bool{}
	for {
		seg, err := p.read("IEA")
		if err != nil {
			return err
		}
		switch seg.ID {
		case "GS":
			g, err := p.group(seg)
			if err != nil {
				if err.Group == "" {
					err.Group = g.ControlNumber
				}
				return err
			}
			if seenGroups[g.ControlNumber] {
				return &Error{code: CodeDuplicateControl, Group: g.ControlNumber, SegmentID: "GS", Element: 6, Offset: seg.Offset,
					Reason: fmt.Sprintf("GS06 %s appears twice in the interchange", g.ControlNumber)}
			}
			seenGroups[g.ControlNumber] = true
			ic.Groups = append(ic.Groups, g)
		case "IEA":
			ic.Trailer = seg
			if n, ok := count(seg.Elem(1)); !ok || n != len(ic.Groups) {
				return envErr(CodeGroupCount, seg, 1, "IEA01 says %q groups, the interchange holds %d", printable(seg.Elem(1)), len(ic.Groups))
			}
			if seg.Elem(2) != ic.ControlNumber {
				return envErr(CodeControlMismatch, seg, 2, "IEA02 %q does not match ISA13 %q", printable(seg.Elem(2)), ic.ControlNumber)
			}
			return nil
		default:
			return envErr(CodeUnexpectedSegment, seg, 0, "%s where a GS or the IEA belongs", seg.ID)
		}
	}
}

// group reads a functional group from its GS through its GE.
func (p *envParser) group(gs Segment) (*Group, *Error) {
	g := &Group{
		FunctionalID:  gs.Elem(1),
		Sender:        gs.Elem(2),
		Receiver:      gs.Elem(3),
		ControlNumber: gs.Elem(6),
		Agency:        gs.Elem(7),
		Version:       gs.Elem(8),
		Header:        gs,
	}
	if err := checkGS(gs); err != nil {
		return g, err
	}
	w, derr := ParseDateTime(gs.Elem(4), gs.Elem(5))
	if derr != nil {
		return g, envErr(CodeBadDate, gs, 4, "GS04/GS05 %s %s: %v", printable(gs.Elem(4)), printable(gs.Elem(5)), derr)
	}
	g.Date = w
	seen := map[string]bool{}
	for {
		seg, err := p.read("GE of group " + g.ControlNumber)
		if err != nil {
			return g, err
		}
		switch seg.ID {
		case "ST":
			set, err := p.set(seg)
			if err != nil {
				err.Set, err.SetID = set.ControlNumber, set.ID
				return g, err
			}
			if seen[set.ControlNumber] && set.ControlNumber != "" {
				set.Errors = append(set.Errors, setErr(CodeDuplicateControl, "23", set.Segments[0], 2,
					"ST02 %s appears twice in group %s", set.ControlNumber, g.ControlNumber))
			}
			seen[set.ControlNumber] = true
			for _, e := range set.Errors {
				e.Interchange, e.Group, e.Set, e.SetID = p.ic.ControlNumber, g.ControlNumber, set.ControlNumber, set.ID
			}
			g.Sets = append(g.Sets, set)
		case "GE":
			g.Trailer = seg
			if n, ok := count(seg.Elem(1)); !ok || n != len(g.Sets) {
				return g, envErr(CodeSetCount, seg, 1, "GE01 says %q sets, the group holds %d", printable(seg.Elem(1)), len(g.Sets))
			}
			if seg.Elem(2) != g.ControlNumber {
				return g, envErr(CodeControlMismatch, seg, 2, "GE02 %q does not match GS06 %q", printable(seg.Elem(2)), g.ControlNumber)
			}
			return g, nil
		default:
			return g, envErr(CodeUnexpectedSegment, seg, 0, "%s where an ST or the GE belongs", seg.ID)
		}
	}
}

// checkGS validates a GS header's elements other than the date.
func checkGS(gs Segment) *Error {
	switch {
	case len(gs.Elem(1)) != 2:
		return envErr(CodeBadElement, gs, 1, "GS01 %q is not a 2-character functional identifier", printable(gs.Elem(1)))
	case gs.Elem(2) == "" || len(gs.Elem(2)) > 15:
		return envErr(CodeBadElement, gs, 2, "GS02 must hold 1 to 15 characters")
	case gs.Elem(3) == "" || len(gs.Elem(3)) > 15:
		return envErr(CodeBadElement, gs, 3, "GS03 must hold 1 to 15 characters")
	case len(gs.Elem(6)) > 9 || !isDigits(gs.Elem(6)):
		return envErr(CodeBadElement, gs, 6, "GS06 %q is not 1 to 9 digits", printable(gs.Elem(6)))
	case gs.Elem(7) != "X" && gs.Elem(7) != "T":
		return envErr(CodeBadElement, gs, 7, "GS07 is %q, want X", printable(gs.Elem(7)))
	}
	v := gs.Elem(8)
	if !strings.HasPrefix(v, "004010") && !strings.HasPrefix(v, "005010") {
		return envErr(CodeUnsupportedVersion, gs, 8, "unsupported version %q: GS08 must be 004010… or 005010…", printable(v))
	}
	return nil
}

// set reads a transaction set from its ST through its SE. A set-level
// problem is recorded in the set; the returned error is an envelope one.
func (p *envParser) set(st Segment) (*Set, *Error) {
	st.Pos = 1
	set := &Set{ID: st.Elem(1), ControlNumber: st.Elem(2), Convention: st.Elem(3), Offset: st.Offset}
	first := len(p.t.segs)
	set.Segments = p.t.keep(st, &first)
	if len(set.ID) != 3 || !isDigits(set.ID) {
		set.Errors = append(set.Errors, setErr(CodeBadElement, "6", st, 1, "ST01 %q is not a 3-digit transaction set identifier", printable(set.ID)))
	}
	if n := len(set.ControlNumber); n < 4 || n > 9 {
		set.Errors = append(set.Errors, setErr(CodeBadElement, "7", st, 2, "ST02 %q is not 4 to 9 characters", printable(set.ControlNumber)))
	}
	end := func() {
		last := set.Segments[len(set.Segments)-1]
		set.End = p.t.pos
		if last.ID != "SE" {
			set.End = last.Offset + len(last.String()) + 1
		}
		set.Raw = p.t.s[set.Offset:set.End]
	}
	for {
		seg, err, ok := p.t.next()
		if !ok {
			if err != nil {
				return set, err
			}
			return set, &Error{code: CodeTruncated, Offset: len(p.t.s), Reason: "the data ends inside set " + set.ControlNumber + ": no SE"}
		}
		switch seg.ID {
		case "ST", "GE", "GS", "IEA", "ISA":
			p.t.unread(seg, err)
			last := set.Segments[len(set.Segments)-1]
			set.Errors = append(set.Errors, setErr(CodeSEMissing, "2", last, 0,
				"no SE: the set ends at %s, where the next %s begins", last.ID, seg.ID))
			end()
			return set, nil
		}
		seg.Pos = len(set.Segments) + 1
		set.Segments = p.t.keep(seg, &first)
		if err != nil {
			err.Segment = seg.Pos
			err.ak5 = "5"
			set.Errors = append(set.Errors, err)
			continue
		}
		if seg.ID != "SE" {
			continue
		}
		if n, ok := count(seg.Elem(1)); !ok || n != seg.Pos {
			set.Errors = append(set.Errors, setErr(CodeSECount, "4", seg, 1,
				"SE01 says %q segments, the set has %d from ST to SE", printable(seg.Elem(1)), seg.Pos))
		}
		if seg.Elem(2) != set.ControlNumber {
			set.Errors = append(set.Errors, setErr(CodeControlMismatch, "3", seg, 2,
				"SE02 %q does not match ST02 %q", printable(seg.Elem(2)), printable(set.ControlNumber)))
		}
		end()
		return set, nil
	}
}

// count parses a control count (N0, 1 to 10 digits).
func count(s string) (int, bool) {
	if s == "" || len(s) > 10 || !isDigits(s) {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
