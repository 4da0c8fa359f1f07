package x12

import "strings"

// Encode writes the interchange back out with its own delimiters, one
// segment per terminator followed by ic.Newline. Segments are written as
// parsed, so a set with errors encodes to the same errors.
func (ic *Interchange) Encode() []byte {
	w := writer{d: ic.Delimiters, nl: ic.Newline}
	w.segment(ic.Header.Elements)
	for _, g := range ic.Groups {
		w.segment(g.Header.Elements)
		for _, s := range g.Sets {
			for _, seg := range s.Segments {
				w.segment(seg.Elements)
			}
		}
		w.segment(g.Trailer.Elements)
	}
	w.segment(ic.Trailer.Elements)
	return w.b
}

// writer appends segments with fixed delimiters.
type writer struct {
	b  []byte
	d  Delimiters
	nl string
}

// generated writes a segment made here, leaving out trailing empty
// elements as the standard requires.
func (w *writer) generated(elems []string) {
	for len(elems) > 1 && elems[len(elems)-1] == "" {
		elems = elems[:len(elems)-1]
	}
	w.segment(elems)
}

func (w *writer) segment(elems []string) {
	for i, e := range elems {
		if i > 0 {
			w.b = append(w.b, w.d.Element)
		}
		w.b = append(w.b, e...)
	}
	w.b = append(w.b, w.d.Segment)
	w.b = append(w.b, w.nl...)
}

// clean makes a value safe to write as one element with d: delimiters and
// control characters become '?', and it is cut to max bytes.
func (d Delimiters) clean(v string, maxLen int) string {
	if len(v) > maxLen {
		v = v[:maxLen]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == rune(d.Element) || r == rune(d.Component) || r == rune(d.Segment) ||
			(d.Repetition != 0 && r == rune(d.Repetition)) || r >= 0x80 {
			return '?'
		}
		return r
	}, v)
}

// pad left-justifies v in a field of n bytes, as the ISA's fixed widths need.
func pad(v string, n int) string {
	if len(v) >= n {
		return v[:n]
	}
	return v + strings.Repeat(" ", n-len(v))
}
