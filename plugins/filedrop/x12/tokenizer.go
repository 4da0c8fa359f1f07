package x12

import (
	"fmt"
	"strings"
)

// tokenizer cuts the data after an ISA into segments. It is the only code
// that looks at delimiters; everything above it sees Segments. One
// tokenizer serves all interchanges of a file.
type tokenizer struct {
	s           string // the whole file
	pos         int    // next byte to read
	d           Delimiters
	maxElements int

	// Element headers and segments are handed out from arenas sized for
	// the whole file at once (every element ends at an element separator
	// or a terminator, every segment at a terminator), so a parse makes a
	// few large allocations and never copies while growing.
	arena []string
	segs  []Segment
	sized Delimiters // the delimiters the arenas were sized with

	pending    *Segment // a segment pushed back by unread, and its error
	pendingErr *Error
}

// arenaChunk is the minimum number of elements or segments allocated at once.
const arenaChunk = 256

// reset starts reading at pos with the delimiters of a new interchange.
func (t *tokenizer) reset(pos int, d Delimiters) {
	t.pos, t.d, t.pending, t.pendingErr = pos, d, nil, nil
	if d == t.sized {
		return
	}
	rest := t.s[pos:]
	segs := strings.Count(rest, string(d.Segment)) + 1
	elems := strings.Count(rest, string(d.Element)) + segs
	t.arena = make([]string, 0, elems)
	t.segs = make([]Segment, 0, segs)
	t.sized = d
}

// keep stores seg after the segments kept since *first and returns the
// run t.segs[*first:]; when the arena is full the run moves to a new one.
func (t *tokenizer) keep(seg Segment, first *int) []Segment {
	if len(t.segs) == cap(t.segs) {
		n := len(t.segs) - *first
		next := make([]Segment, n, max(2*n, arenaChunk))
		copy(next, t.segs[*first:])
		t.segs, *first = next, 0
	}
	t.segs = append(t.segs, seg)
	return t.segs[*first:len(t.segs):len(t.segs)]
}

// isSpace reports whitespace the tokenizer skips between segments: space,
// tab, CR and LF, unless the interchange uses the byte as a separator inside
// segments.
func (t *tokenizer) isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n':
		return c != t.d.Element && c != t.d.Component && c != t.d.Repetition
	}
	return false
}

// skipSpace advances past whitespace and reports whether data remains.
func (t *tokenizer) skipSpace() bool {
	for t.pos < len(t.s) && t.isSpace(t.s[t.pos]) {
		t.pos++
	}
	return t.pos < len(t.s)
}

// unread pushes seg back so the next call to next returns it again.
func (t *tokenizer) unread(seg Segment, err *Error) { t.pending, t.pendingErr = &seg, err }

// next returns the next segment. ok is false at the end of the data. A
// segment that is complete but malformed (bad ID, control character) comes
// back with a non-nil err and ok true, so the caller can decide whether it
// spoils a set or the interchange; a segment with no terminator, or one
// over the element limit, ends the read (ok false, err set).
func (t *tokenizer) next() (seg Segment, err *Error, ok bool) {
	if t.pending != nil {
		seg, err = *t.pending, t.pendingErr
		t.pending, t.pendingErr = nil, nil
		return seg, err, true
	}
	if !t.skipSpace() {
		return Segment{}, nil, false
	}
	start := t.pos
	end := strings.IndexByte(t.s[start:], t.d.Segment)
	if end < 0 {
		id := t.s[start:min(len(t.s), start+3)]
		return Segment{}, &Error{code: CodeTruncated, SegmentID: printable(id), Offset: start,
			Reason: fmt.Sprintf("the data ends inside a segment: no terminator %q after byte %d", t.d.Segment, start)}, false
	}
	body := t.s[start : start+end]
	t.pos = start + end + 1

	n := strings.Count(body, string(t.d.Element)) + 1
	if n > t.maxElements+1 {
		return Segment{}, &Error{code: CodeTooLarge, SegmentID: printable(body[:min(3, len(body))]), Offset: start,
			Reason: fmt.Sprintf("segment has %d elements; the limit is %d", n-1, t.maxElements)}, false
	}
	if cap(t.arena)-len(t.arena) < n {
		t.arena = make([]string, 0, max(n, arenaChunk))
	}
	first := len(t.arena)
	rest := body
	for {
		i := strings.IndexByte(rest, t.d.Element)
		if i < 0 {
			t.arena = append(t.arena, rest)
			break
		}
		t.arena = append(t.arena, rest[:i])
		rest = rest[i+1:]
	}
	seg = Segment{ID: t.arena[first], Elements: t.arena[first:len(t.arena):len(t.arena)], Offset: start, d: t.d}

	if !validID(seg.ID) {
		return seg, &Error{code: CodeBadSegment, SegmentID: printable(seg.ID), Offset: start, ak3: "1",
			Reason: fmt.Sprintf("segment ID %q is not 2 or 3 capital letters and digits", printable(seg.ID))}, true
	}
	if i, j := t.control(seg); i > 0 {
		v := seg.Elements[i]
		return seg, &Error{code: CodeBadSegment, SegmentID: seg.ID, Element: i, Offset: start, ak3: "8", ak4: "6", value: v,
			Reason: fmt.Sprintf("control character 0x%02x in element %02d %q (a lost segment terminator?)", v[j], i, printable(v))}, true
	}
	return seg, nil, true
}

// control finds the first control character that is not a delimiter and
// returns its element and byte index, or (0, 0).
func (t *tokenizer) control(seg Segment) (elem, at int) {
	for i := 1; i < len(seg.Elements); i++ {
		e := seg.Elements[i]
		for j := 0; j < len(e); j++ {
			if c := e[j]; (c < 0x20 || c == 0x7f) && c != t.d.Component && c != t.d.Repetition {
				return i, j
			}
		}
	}
	return 0, 0
}

// validID accepts a capital letter followed by one or two capitals or digits.
func validID(id string) bool {
	if len(id) < 2 || len(id) > 3 || id[0] < 'A' || id[0] > 'Z' {
		return false
	}
	for i := 1; i < len(id); i++ {
		if c := id[i]; (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// printable replaces control and non-ASCII bytes with '?' for messages.
func printable(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] < 0x20 || b[j] >= 0x7f {
					b[j] = '?'
				}
			}
			return string(b)
		}
	}
	return s
}
