package x12

import (
	"bytes"
	"fmt"
	"strings"
)

// Stable error codes; see the package documentation for what each means.
const (
	CodeEmpty              = "x12_empty"
	CodeNoISA              = "x12_no_isa"
	CodeISALength          = "x12_isa_length"
	CodeDelimiters         = "x12_delimiters"
	CodeBadElement         = "x12_bad_element"
	CodeBadDate            = "x12_bad_date"
	CodeUnsupportedVersion = "x12_unsupported_version"
	CodeTruncated          = "x12_truncated"
	CodeControlMismatch    = "x12_control_mismatch"
	CodeGroupCount         = "x12_group_count"
	CodeSetCount           = "x12_set_count"
	CodeUnexpectedSegment  = "x12_unexpected_segment"
	CodeDuplicateControl   = "x12_duplicate_control"
	CodeTrailingData       = "x12_trailing_data"
	CodeTooLarge           = "x12_too_large"
	CodeSECount            = "x12_se_count"
	CodeSEMissing          = "x12_se_missing"
	CodeBadSegment         = "x12_bad_segment"

	// CodeSetNotSupported marks a set Acknowledge rejected because the
	// receiver does not handle its ST01.
	CodeSetNotSupported = "x12_set_not_supported"
	// CodeDuplicateInterchange is for callers that detect a reused
	// interchange control number across files (see the package doc).
	CodeDuplicateInterchange = "x12_duplicate_interchange"
)

// Error is a located failure to read an interchange.
type Error struct {
	code string
	// Reason says what is wrong, without the location.
	Reason string

	Interchange string // ISA13, when known
	Group       string // GS06, when inside a group
	Set         string // ST02, when inside a set
	SetID       string // ST01, when inside a set
	SegmentID   string // the segment at fault, when there is one
	// Segment is the 1-based position of the segment within its set (ST is
	// 1); 0 for envelope segments.
	Segment int
	// Element is the 1-based element position, 0 for the segment as a whole.
	Element int
	// Offset is the byte offset in the file of the segment at fault (or of
	// the end of the data for a truncated file).
	Offset int

	// 997 codes: AK5 (element 718), AK3 (720) and AK4 (723); empty when
	// the error has no such detail.
	ak5, ak3, ak4 string
	value         string // the bad element's value, for AK4-04
}

// Code returns the stable machine code, e.g. "x12_se_count".
func (e *Error) Code() string { return e.code }

// AK5 returns the 997 AK5 syntax error code (element 718) a set error
// rejects its set with, e.g. "4" for a wrong SE01; "" for envelope errors.
func (e *Error) AK5() string { return e.ak5 }

// Envelope reports whether the error rejects the whole interchange rather
// than one set.
func (e *Error) Envelope() bool { return e.ak5 == "" }

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("x12: ")
	var loc []string
	if e.Interchange != "" {
		loc = append(loc, "ISA13="+e.Interchange)
	}
	if e.Group != "" {
		loc = append(loc, "GS06="+e.Group)
	}
	if e.Set != "" || e.SetID != "" {
		loc = append(loc, "ST02="+e.Set+" ("+e.SetID+")")
	}
	if e.SegmentID != "" {
		s := "segment " + e.SegmentID
		if e.Segment > 0 {
			s += fmt.Sprintf(" #%d", e.Segment)
		}
		if e.Element > 0 {
			s += fmt.Sprintf(" element %02d", e.Element)
		}
		loc = append(loc, s)
	}
	loc = append(loc, fmt.Sprintf("byte %d", e.Offset))
	b.WriteString(strings.Join(loc, " "))
	b.WriteString(": ")
	b.WriteString(e.Reason)
	b.WriteString(" (")
	b.WriteString(e.code)
	b.WriteString(")")
	return b.String()
}

// Position turns a byte offset into a 1-based line and column (in bytes),
// for messages about files that have newlines.
func Position(data []byte, offset int) (line, col int) {
	offset = min(max(offset, 0), len(data))
	before := data[:offset]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = offset - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// envErr makes an envelope-level error at a segment.
func envErr(code string, seg Segment, elem int, format string, args ...any) *Error {
	return &Error{code: code, Reason: fmt.Sprintf(format, args...), SegmentID: seg.ID, Element: elem, Offset: seg.Offset}
}

// setErr makes a set-level error with its 997 codes.
func setErr(code, ak5 string, seg Segment, elem int, format string, args ...any) *Error {
	return &Error{code: code, Reason: fmt.Sprintf(format, args...), SegmentID: seg.ID, Segment: seg.Pos,
		Element: elem, Offset: seg.Offset, ak5: ak5}
}
