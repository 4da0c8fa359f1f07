package canonical

import (
	"fmt"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// maxJSONDepth bounds nesting; the model is at most 8 levels deep.
const maxJSONDepth = 32

// DecodeError is JSON input the strict decoder refuses, located by the field
// path and the byte offset where the problem starts.
type DecodeError struct {
	Path   string
	Offset int
	// Code is stable: syntax_error, unexpected_eof, trailing_data,
	// unknown_field, duplicate_key, wrong_type, null_value, invalid_utf8,
	// invalid_escape, invalid_surrogate, control_character, invalid_number,
	// number_out_of_range, too_deep, unknown_enum, invalid_time,
	// time_without_zone, bad_specversion, missing_specversion,
	// bad_datacontenttype, missing_type, unknown_type.
	Code string
	Msg  string
}

func (e *DecodeError) Error() string {
	path := e.Path
	if path == "" {
		path = "(root)"
	}
	return fmt.Sprintf("decode json: %s at byte %d: %s (%s)", path, e.Offset, e.Msg, e.Code)
}

// UnmarshalJSON decodes CloudEvents structured JSON strictly: unknown fields,
// duplicate keys, trailing data, invalid UTF-8, lone surrogates, nulls, wrong
// types, out-of-range numbers and times without a zone are errors. It checks
// structure only; call Validate for the model's rules. data is not retained.
func UnmarshalJSON(data []byte) (*Event, error) {
	e := EventFromVTPool()
	if err := decodeEventJSON(data, e); err != nil {
		e.ReturnToVTPool()
		return nil, err
	}
	return e, nil
}

// UnmarshalJSON makes *Event a json.Unmarshaler with the strict decoder. The
// event is reset first.
func (e *Event) UnmarshalJSON(data []byte) error {
	e.Reset()
	return decodeEventJSON(data, e)
}

func decodeEventJSON(data []byte, e *Event) error {
	d := &decoder{data: data}
	d.event(e)
	if d.err == nil {
		d.ws()
		if d.pos != len(d.data) {
			d.fail("trailing_data", "unexpected data after the event")
		}
	}
	if d.err != nil {
		return d.err
	}
	return nil
}

// decoder is the state of one strict decode. The generated decodeJSON
// methods drive it: beginObject/nextKey/once for objects,
// beginArray/nextElem for arrays, and one method per scalar kind.
type decoder struct {
	data  []byte
	pos   int
	depth int
	path  pathStack
	err   *DecodeError
	key   []byte // the member name nextKey read; valid until the next call
	// arena holds the bytes of every decoded string value: one allocation
	// per decode instead of one per string. Strings point into it; it is
	// never written below its length again, and its capacity (the input's
	// length) bounds all unescaped values, so it is never reallocated.
	arena   []byte
	scratch []byte
}

func (d *decoder) fail(code, format string, args ...any) {
	if d.err == nil {
		d.err = &DecodeError{Path: d.path.String(), Offset: d.pos, Code: code, Msg: fmt.Sprintf(format, args...)}
	}
}

func (d *decoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (d *decoder) peek() byte {
	d.ws()
	if d.pos >= len(d.data) {
		return 0
	}
	return d.data[d.pos]
}

func (d *decoder) expect(c byte) bool {
	switch got := d.peek(); got {
	case c:
		d.pos++
		return true
	case 0:
		d.fail("unexpected_eof", "want %q, input ended", c)
	default:
		d.fail("syntax_error", "want %q, got %q", c, got)
	}
	return false
}

// beginObject consumes '{' (a null or another type is an error).
func (d *decoder) beginObject() bool {
	switch d.peek() {
	case '{':
	case 'n':
		d.fail("null_value", "null is not allowed; leave the member out")
		return false
	default:
		d.wrongType("an object")
		return false
	}
	d.pos++
	if d.depth++; d.depth > maxJSONDepth {
		d.fail("too_deep", "nesting deeper than %d", maxJSONDepth)
		return false
	}
	return true
}

// nextKey reads member i's name into d.key and consumes its colon; it
// returns false at the end of the object or on an error.
func (d *decoder) nextKey(i int) bool {
	if d.err != nil {
		return false
	}
	c := d.peek()
	if c == '}' {
		d.pos++
		d.depth--
		return false
	}
	if i > 0 {
		if c != ',' {
			if c == 0 {
				d.fail("unexpected_eof", "object not closed")
			} else {
				d.fail("syntax_error", "want ',' or '}' after a member")
			}
			return false
		}
		d.pos++
		c = d.peek()
	}
	if c != '"' {
		if c == 0 {
			d.fail("unexpected_eof", "object not closed")
		} else {
			d.fail("syntax_error", "want a member name")
		}
		return false
	}
	d.key = d.rawStr()
	if d.err != nil || !d.expect(':') {
		return false
	}
	d.ws()
	return true
}

// once marks a member as seen; a second occurrence is a duplicate key.
func (d *decoder) once(seen *uint64, bit uint) bool {
	if *seen&(1<<bit) != 0 {
		d.fail("duplicate_key", "member %q appears twice", d.key)
		return false
	}
	*seen |= 1 << bit
	return true
}

func (d *decoder) unknownField(msg string) {
	d.fail("unknown_field", "unknown field %q in %s", d.key, msg)
}

// beginArray consumes '['.
func (d *decoder) beginArray() bool {
	switch d.peek() {
	case '[':
	case 'n':
		d.fail("null_value", "null is not allowed; leave the member out")
		return false
	default:
		d.wrongType("an array")
		return false
	}
	d.pos++
	if d.depth++; d.depth > maxJSONDepth {
		d.fail("too_deep", "nesting deeper than %d", maxJSONDepth)
		return false
	}
	return true
}

// nextElem positions at element i of an array; it returns false at the end
// of the array or on an error.
func (d *decoder) nextElem(i int) bool {
	if d.err != nil {
		return false
	}
	c := d.peek()
	if c == ']' {
		d.pos++
		d.depth--
		return false
	}
	if i > 0 {
		if c != ',' {
			if c == 0 {
				d.fail("unexpected_eof", "array not closed")
			} else {
				d.fail("syntax_error", "want ',' or ']' after an element")
			}
			return false
		}
		d.pos++
		c = d.peek()
	}
	if c == 0 {
		d.fail("unexpected_eof", "array not closed")
		return false
	}
	return true
}

func (d *decoder) literal(lit string) bool {
	if len(d.data)-d.pos >= len(lit) && string(d.data[d.pos:d.pos+len(lit)]) == lit {
		d.pos += len(lit)
		return true
	}
	return false
}

func (d *decoder) wrongType(want string) {
	got := "end of input"
	switch c := d.peek(); {
	case c == '"':
		got = "a string"
	case c == '{':
		got = "an object"
	case c == '[':
		got = "an array"
	case c == 't' || c == 'f':
		got = "a boolean"
	case c == 'n':
		got = "null"
	case c == '-' || (c >= '0' && c <= '9'):
		got = "a number"
	case c != 0:
		got = fmt.Sprintf("%q", c)
	}
	code := "wrong_type"
	switch got {
	case "null":
		code = "null_value"
	case "end of input":
		code = "unexpected_eof"
	}
	d.fail(code, "want %s, got %s", want, got)
}

func (d *decoder) boolean() bool {
	switch {
	case d.peek() == 't' && d.literal("true"):
		return true
	case d.peek() == 'f' && d.literal("false"):
		return false
	}
	d.wrongType("true or false")
	return false
}

// integer reads a JSON number that must be an integer within [min, max].
func (d *decoder) integer(min, max int64) int64 {
	start := d.pos
	end, isInt := d.number()
	if d.err != nil {
		return 0
	}
	if !isInt {
		d.pos = start
		d.fail("wrong_type", "want an integer, got %s", d.data[start:end])
		return 0
	}
	neg := d.data[start] == '-'
	var n int64
	i := start
	if neg {
		i++
	}
	for ; i < end; i++ {
		digit := int64(d.data[i] - '0')
		if n > (1<<63-1-digit)/10 {
			d.pos = start
			d.fail("number_out_of_range", "%s is out of range", d.data[start:end])
			return 0
		}
		n = n*10 + digit
	}
	if neg {
		n = -n
	}
	if n < min || n > max {
		d.pos = start
		d.fail("number_out_of_range", "%d is outside [%d, %d]", n, min, max)
		return 0
	}
	d.pos = end
	return n
}

// number scans a JSON number at d.pos and returns where it ends and whether
// it is an integer literal. d.pos is left at the end.
func (d *decoder) number() (end int, isInt bool) {
	i := d.pos
	s := d.data
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		d.wrongType("a number")
		return i, false
	}
	isInt = true
	if i < len(s) && s[i] == '.' {
		isInt = false
		i++
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == j {
			d.pos = i
			d.fail("invalid_number", "want digits after '.'")
			return i, false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		isInt = false
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == j {
			d.pos = i
			d.fail("invalid_number", "want digits in the exponent")
			return i, false
		}
	}
	d.pos = i
	return i, isInt
}

// str reads a string value and keeps it (in the arena).
func (d *decoder) str() string {
	if d.peek() != '"' {
		d.wrongType("a string")
		return ""
	}
	b := d.rawStr()
	if d.err != nil || len(b) == 0 {
		return ""
	}
	if d.arena == nil {
		d.arena = make([]byte, 0, len(d.data))
	}
	start := len(d.arena)
	d.arena = append(d.arena, b...)
	return unsafe.String(&d.arena[start], len(b)) //nolint:gosec // the arena is append-only and never reallocated (see decoder.arena)
}

// enumString reads a string value without keeping it.
func (d *decoder) enumString() ([]byte, bool) {
	if d.peek() != '"' {
		d.wrongType("a string")
		return nil, false
	}
	b := d.rawStr()
	return b, d.err == nil
}

func (d *decoder) unknownEnum(s []byte, enum string) {
	d.fail("unknown_enum", "%q is not a value of %s", s, enum)
}

// rawStr reads a JSON string at d.pos (which is '"'). The result aliases the
// input or the decoder's scratch buffer, valid until the next read.
func (d *decoder) rawStr() []byte {
	d.pos++ // opening quote
	start := d.pos
	s := d.data
	i := start
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return s[start:i]
		case c == '\\':
			return d.strSlow(start, i)
		case c < 0x20:
			d.pos = i
			d.fail("control_character", "control character %#02x in a string", c)
			return nil
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size <= 1 {
				d.pos = i
				d.fail("invalid_utf8", "invalid UTF-8 in a string")
				return nil
			}
			i += size
		}
	}
	d.pos = i
	d.fail("unexpected_eof", "string not closed")
	return nil
}

// strSlow continues rawStr from the first escape at i, unescaping into scratch.
func (d *decoder) strSlow(start, i int) []byte {
	s := d.data
	out := append(d.scratch[:0], s[start:i]...)
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			d.pos = i + 1
			d.scratch = out
			return out
		case c < 0x20:
			d.pos = i
			d.fail("control_character", "control character %#02x in a string", c)
			return nil
		case c == '\\':
			if i+1 >= len(s) {
				d.pos = i
				d.fail("unexpected_eof", "string not closed")
				return nil
			}
			switch e := s[i+1]; e {
			case '"', '\\', '/':
				out = append(out, e)
				i += 2
			case 'b':
				out, i = append(out, '\b'), i+2
			case 'f':
				out, i = append(out, '\f'), i+2
			case 'n':
				out, i = append(out, '\n'), i+2
			case 'r':
				out, i = append(out, '\r'), i+2
			case 't':
				out, i = append(out, '\t'), i+2
			case 'u':
				r, n := d.unicodeEscape(i)
				if d.err != nil {
					return nil
				}
				out = utf8.AppendRune(out, r)
				i += n
			default:
				d.pos = i
				d.fail("invalid_escape", "invalid escape \\%c", e)
				return nil
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size <= 1 {
				d.pos = i
				d.fail("invalid_utf8", "invalid UTF-8 in a string")
				return nil
			}
			out = append(out, s[i:i+size]...)
			i += size
		}
	}
	d.pos = i
	d.fail("unexpected_eof", "string not closed")
	return nil
}

// unicodeEscape decodes \uXXXX (and a following low surrogate) at i and
// returns the rune and the bytes consumed. Lone surrogates are errors.
func (d *decoder) unicodeEscape(i int) (rune, int) {
	r1, ok := d.hex4(i)
	if !ok {
		return 0, 0
	}
	if !utf16.IsSurrogate(r1) {
		return r1, 6
	}
	if r1 >= 0xDC00 {
		d.pos = i
		d.fail("invalid_surrogate", "lone low surrogate \\u%04X", r1)
		return 0, 0
	}
	if i+12 > len(d.data) || d.data[i+6] != '\\' || d.data[i+7] != 'u' {
		d.pos = i
		d.fail("invalid_surrogate", "high surrogate \\u%04X without a low surrogate", r1)
		return 0, 0
	}
	r2, ok := d.hex4(i + 6)
	if !ok {
		return 0, 0
	}
	r := utf16.DecodeRune(r1, r2)
	if r == utf8.RuneError {
		d.pos = i
		d.fail("invalid_surrogate", "\\u%04X\\u%04X is not a surrogate pair", r1, r2)
		return 0, 0
	}
	return r, 12
}

func (d *decoder) hex4(i int) (rune, bool) {
	if i+6 > len(d.data) {
		d.pos = i
		d.fail("invalid_escape", "truncated \\u escape")
		return 0, false
	}
	var r rune
	for _, c := range d.data[i+2 : i+6] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			d.pos = i
			d.fail("invalid_escape", "invalid \\u escape")
			return 0, false
		}
	}
	return r, true
}

const wallLayout = "2006-01-02T15:04:05.999999999"

func (d *decoder) timestamp() *timestamppb.Timestamp {
	start := d.pos
	if d.peek() != '"' {
		d.wrongType("an RFC 3339 time string")
		return nil
	}
	s := d.rawStr()
	if d.err != nil {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, string(s))
	if err != nil {
		d.pos = start
		if _, werr := time.Parse(wallLayout, string(s)); werr == nil {
			d.fail("time_without_zone", "time %q has no zone or offset", s)
		} else {
			d.fail("invalid_time", "time %q is not RFC 3339", s)
		}
		return nil
	}
	ts := &timestamppb.Timestamp{Seconds: t.Unix(), Nanos: int32(t.Nanosecond())}
	if ts.CheckValid() != nil { // year 0000 parses, and has no JSON form
		d.pos = start
		d.fail("invalid_time", "time %q is outside 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z", s)
		return nil
	}
	return ts
}

// skip passes over one JSON value, checking its syntax.
func (d *decoder) skip() {
	switch c := d.peek(); {
	case c == '{':
		d.beginObject()
		for i := 0; d.nextKey(i); i++ {
			d.skip()
		}
	case c == '[':
		if d.beginArray() {
			for i := 0; d.nextElem(i); i++ {
				d.skip()
			}
		}
	case c == '"':
		d.rawStr()
	case c == 't':
		if !d.literal("true") {
			d.fail("syntax_error", "invalid literal")
		}
	case c == 'f':
		if !d.literal("false") {
			d.fail("syntax_error", "invalid literal")
		}
	case c == 'n':
		d.fail("null_value", "null is not allowed")
	case c == '-' || (c >= '0' && c <= '9'):
		d.number()
	case c == 0:
		d.fail("unexpected_eof", "want a value, input ended")
	default:
		d.fail("syntax_error", "unexpected %q", c)
	}
}

// event decodes the envelope; data may come before type, in which case it
// is skipped and decoded once the type is known.
func (d *decoder) event(e *Event) {
	if !d.beginObject() {
		return
	}
	var seen uint64
	var sawSpec, sawContentType, sawData bool
	dataStart := -1
	for i := 0; d.nextKey(i); i++ {
		switch string(d.key) {
		case "specversion":
			if sawSpec {
				d.fail("duplicate_key", "member %q appears twice", d.key)
				return
			}
			sawSpec = true
			d.path.push("specversion")
			if s := d.str(); d.err == nil && s != specVersion {
				d.fail("bad_specversion", "specversion %q, want %q", s, specVersion)
			}
			d.path.pop()
		case "datacontenttype":
			if sawContentType {
				d.fail("duplicate_key", "member %q appears twice", d.key)
				return
			}
			sawContentType = true
			d.path.push("datacontenttype")
			if s := d.str(); d.err == nil && s != jsonContentType {
				d.fail("bad_datacontenttype", "datacontenttype %q, want %q", s, jsonContentType)
			}
			d.path.pop()
		case "data":
			if sawData {
				d.fail("duplicate_key", "member \"data\" appears twice")
				return
			}
			sawData = true
			if seen&(1<<envelopeTypeBit) == 0 {
				// The type comes later: skip now, decode once it is known.
				dataStart = d.pos
				d.skip()
			} else {
				d.eventData(e)
			}
		default:
			if !e.decodeEnvelopeJSON(d, &seen) {
				d.fail("unknown_field", "unknown attribute %q", d.key)
				return
			}
		}
		if d.err != nil {
			return
		}
	}
	if d.err != nil {
		return
	}
	if !sawSpec {
		d.fail("missing_specversion", "specversion is missing")
		return
	}
	if dataStart >= 0 {
		end, depth := d.pos, d.depth
		d.pos = dataStart
		d.eventData(e)
		d.pos, d.depth = end, depth
	}
}

// envelopeTypeBit is the duplicate-key bit of "type": its position among
// Event's attributes (the generated decoder numbers them in field order).
const envelopeTypeBit = 2

func (d *decoder) eventData(e *Event) {
	d.path.push("data")
	defer d.path.pop()
	if e.GetType() == "" {
		d.fail("missing_type", "data without a type")
		return
	}
	t, ok := reg().byName[e.GetType()]
	if !ok {
		d.fail("unknown_type", "unknown event type %q", e.GetType())
		return
	}
	e.decodeDataJSON(d, int32(t.field.Number()))
}
