// Package x12 reads ANSI X12 interchanges strictly and writes the 997
// functional acknowledgements that answer them. It knows the envelope
// (ISA/IEA, GS/GE, ST/SE) and nothing of any transaction set's content:
// every set (940, 945, 214 …) comes out as a list of segments, and the
// mapping to canonical events lives in package x12map.
//
// # Reading
//
// [Parse] reads one interchange, [ParseAll] one or more back to back. The
// delimiters come from the ISA, which must be exactly 106 bytes with the
// fixed field widths of the standard: the element separator is byte 4
// (index 3), the component separator ISA16 (index 104), the segment
// terminator the byte after it (index 105) and, for version 00402 and later,
// the repetition separator ISA11. Anything else is tolerated only where the
// standard leaves room: a UTF-8 byte order mark before the ISA, and
// whitespace (space, tab, CR, LF) between segments and after the IEA, so
// files with no newlines, LF or CRLF after each terminator all read the
// same. Whitespace inside a segment is data; a control character inside a
// segment (one that is not a delimiter) is an error, which catches a
// terminator lost in transit.
//
// Checks applied, with the stable code each failure carries ([Error.Code]):
//
//	x12_empty, x12_no_isa       nothing, or something other than an ISA, at the start
//	x12_isa_length              the ISA is not 106 bytes with fixed field widths
//	x12_delimiters              delimiters not distinct, or a letter, digit or space
//	x12_bad_element             an envelope element malformed (ISA13 not 9 digits …)
//	x12_bad_date                ISA09/10 or GS04/05 not a real date or time
//	x12_unsupported_version     ISA12 other than 00401/00501, GS08 other than 004010…/005010…
//	x12_truncated               the file ends before IEA (or mid-segment)
//	x12_control_mismatch        ISA13 ≠ IEA02, GS06 ≠ GE02 (envelope) or ST02 ≠ SE02 (set)
//	x12_group_count             IEA01 ≠ number of GS groups
//	x12_set_count               GE01 ≠ number of ST sets
//	x12_unexpected_segment      a segment out of envelope order (data between SE and ST …)
//	x12_duplicate_control       a GS06 reused in the interchange, an ST02 in the group
//	x12_trailing_data           bytes after the IEA that are not another interchange
//	x12_too_large               input over Parser.MaxBytes, a segment over MaxElements
//	x12_se_count                SE01 ≠ number of segments from ST to SE inclusive
//	x12_se_missing              an ST with no SE before the next ST or GE
//	x12_bad_segment             a segment ID that is not 2–3 capitals/digits, or a
//	                            control character inside a segment
//
// # Two levels of failure
//
// An envelope error rejects the whole interchange: Parse returns a nil
// *Interchange and an *Error, and the file goes to quarantine. A set error
// (x12_se_count, x12_se_missing, ST02 ≠ SE02, a bad segment or a duplicate
// ST02 inside a set) rejects only that set: the set stays in Group.Sets
// with its Errors, [Set.OK] reports false, and every other set of the file
// still flows. The 997 from [Acknowledge] rejects exactly those sets.
//
// Every *Error is located: the interchange, group and set control numbers
// known at that point, the segment's 1-based position within its set (ST
// is 1, as in a 997 AK3), the element position, and the byte offset in the
// file ([Position] turns it into a line and column).
//
// # Control numbers and duplicates
//
// Parse checks control numbers within one interchange only. Detecting a
// reused interchange (the same ISA13 from the same sender in a later file)
// needs memory of earlier files, which belongs to the caller: it keeps
// [Interchange.Key] (sender qualifier and id, receiver, ISA13) of every
// interchange it accepted, together with the file's content hash. The same
// key with the same hash is a re-delivered file (drop it quietly, its
// events have the same ids); the same key with another hash is a reused
// control number: quarantine the file with code
// [CodeDuplicateInterchange]. [Interchange.SetKey] does the same for one
// set, and [Interchange.Ref] renders the "ISA13=…;GS06=…;ST02=…" reference
// that events carry in sourceref.
//
// # Dates
//
// ISA09 has a two-digit year. The century pivot is fixed so that a file
// always reads the same: YY 00–79 is 2000–2079 and 80–99 is 1980–1999
// (X12 interchanges predate neither). GS04 and every other date carry
// four-digit years. Dates and times are zone-less wall readings
// ([localtime.Wall]); which zone they are in is the mapper's business.
//
// # Limits
//
// Memory is linear in the input and the input is capped: the file is copied
// once into a string, every element is a substring of it, and the parser
// allocates one string header per element and one Segment per segment from
// arenas sized by counting separators and terminators up front, so nothing
// is copied while growing. A real file costs about 10 bytes of allocation
// per input byte, the worst shape (two-byte segments) about 28
// (TestMemoryBound). Parser.MaxBytes (default 32 MiB) caps the file and
// Parser.MaxElements (default 512) a segment. FuzzParse checks that no
// input panics, that whatever parses re-encodes ([Interchange.Encode]) to
// segments that parse to the same structure, and that the 997 written for
// it is itself a valid interchange.
package x12
