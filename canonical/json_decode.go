package canonical

import (
	"fmt"
	"math"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
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
// structure only; call Validate for the model's rules.
func UnmarshalJSON(data []byte) (*Event, error) {
	e := &Event{}
	if err := decodeEventJSON(data, e); err != nil {
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

type decoder struct {
	data    []byte
	pos     int
	depth   int
	path    pathStack
	err     *DecodeError
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

// object walks the members of an object, calling member with each key (valid
// only during the call) positioned at the value.
func (d *decoder) object(member func(key []byte)) {
	if !d.expect('{') {
		return
	}
	if d.depth++; d.depth > maxJSONDepth {
		d.fail("too_deep", "nesting deeper than %d", maxJSONDepth)
		return
	}
	defer func() { d.depth-- }()
	if d.peek() == '}' {
		d.pos++
		return
	}
	for d.err == nil {
		if d.peek() != '"' {
			d.fail("syntax_error", "want a member name")
			return
		}
		key := d.str()
		if d.err != nil || !d.expect(':') {
			return
		}
		d.ws()
		member(key)
		if d.err != nil {
			return
		}
		switch d.peek() {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return
		case 0:
			d.fail("unexpected_eof", "object not closed")
		default:
			d.fail("syntax_error", "want ',' or '}' after a member")
		}
	}
}

// array walks the elements of an array, calling elem with each index.
func (d *decoder) array(elem func(i int)) {
	if !d.expect('[') {
		return
	}
	if d.depth++; d.depth > maxJSONDepth {
		d.fail("too_deep", "nesting deeper than %d", maxJSONDepth)
		return
	}
	defer func() { d.depth-- }()
	if d.peek() == ']' {
		d.pos++
		return
	}
	for i := 0; d.err == nil; i++ {
		d.ws()
		elem(i)
		if d.err != nil {
			return
		}
		switch d.peek() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return
		case 0:
			d.fail("unexpected_eof", "array not closed")
		default:
			d.fail("syntax_error", "want ',' or ']' after an element")
		}
	}
}

func (d *decoder) event(e *Event) {
	m := e.ProtoReflect()
	var seen uint64
	var sawSpec, sawContentType bool
	dataStart := -1
	var t *EventType
	d.object(func(key []byte) {
		switch string(key) {
		case "specversion":
			if sawSpec {
				d.fail("duplicate_key", "member %q appears twice", key)
				return
			}
			sawSpec = true
			d.path.push("specversion")
			if s, ok := d.stringValue(); ok && s != specVersion {
				d.fail("bad_specversion", "specversion %q, want %q", s, specVersion)
			}
			d.path.pop()
		case "datacontenttype":
			if sawContentType {
				d.fail("duplicate_key", "member %q appears twice", key)
				return
			}
			sawContentType = true
			d.path.push("datacontenttype")
			if s, ok := d.stringValue(); ok && s != jsonContentType {
				d.fail("bad_datacontenttype", "datacontenttype %q, want %q", s, jsonContentType)
			}
			d.path.pop()
		case "data":
			if dataStart >= 0 || m.WhichOneof(reg().dataOneof) != nil {
				d.fail("duplicate_key", "member \"data\" appears twice")
				return
			}
			if t == nil {
				// The type comes later: skip now, decode once it is known.
				dataStart = d.pos
				d.skip()
				return
			}
			d.data_(m, t)
		default:
			f := reg().envelopeFields[string(key)]
			if f == nil {
				d.fail("unknown_field", "unknown attribute %q", key)
				return
			}
			if seen&(1<<f.index) != 0 {
				d.fail("duplicate_key", "member %q appears twice", key)
				return
			}
			seen |= 1 << f.index
			d.path.push(f.name)
			d.field(m, f)
			d.path.pop()
			if f.fd.Number() == typeFieldNumber && d.err == nil {
				t = reg().byName[e.GetType()]
			}
		}
	})
	if d.err != nil {
		return
	}
	if !sawSpec {
		d.fail("missing_specversion", "specversion is missing")
		return
	}
	if dataStart >= 0 {
		end := d.pos
		d.pos = dataStart
		d.data_(m, t)
		d.pos = end
	}
}

const typeFieldNumber = 3

func (d *decoder) data_(m protoreflect.Message, t *EventType) {
	d.path.push("data")
	defer d.path.pop()
	if t == nil {
		if m.Has(reg().eventDesc.Fields().ByNumber(typeFieldNumber)) {
			d.fail("unknown_type", "unknown event type %q", m.Get(reg().eventDesc.Fields().ByNumber(typeFieldNumber)).String())
		} else {
			d.fail("missing_type", "data without a type")
		}
		return
	}
	if d.peek() == 'n' {
		d.fail("null_value", "null is not allowed; leave the member out")
		return
	}
	d.message(m.Mutable(t.field).Message(), planOf(t.desc))
}

func (d *decoder) message(m protoreflect.Message, p *msgPlan) {
	if p.timestamp {
		d.timestamp(m.Interface().(*timestamppb.Timestamp))
		return
	}
	if c := d.peek(); c != '{' {
		d.wrongType("an object")
		return
	}
	var seen uint64
	d.object(func(key []byte) {
		f := p.byJSON[string(key)]
		if f == nil {
			d.fail("unknown_field", "unknown field %q in %s", key, p.desc.Name())
			return
		}
		if seen&(1<<f.index) != 0 {
			d.fail("duplicate_key", "member %q appears twice", key)
			return
		}
		seen |= 1 << f.index
		d.path.push(f.name)
		d.field(m, f)
		d.path.pop()
	})
}

func (d *decoder) field(m protoreflect.Message, f *fieldPlan) {
	if d.peek() == 'n' {
		d.fail("null_value", "null is not allowed; leave the member out")
		return
	}
	if !f.list {
		if f.kind == protoreflect.MessageKind {
			d.message(m.Mutable(f.fd).Message(), f.msg)
			return
		}
		if v, ok := d.scalar(f); ok {
			m.Set(f.fd, v)
		}
		return
	}
	if d.peek() != '[' {
		d.wrongType("an array")
		return
	}
	l := m.Mutable(f.fd).List()
	d.array(func(i int) {
		d.path.index(i)
		defer d.path.pop()
		if d.peek() == 'n' {
			d.fail("null_value", "null is not allowed in an array")
			return
		}
		if f.kind == protoreflect.MessageKind {
			d.message(l.AppendMutable().Message(), f.msg)
			return
		}
		if v, ok := d.scalar(f); ok {
			l.Append(v)
		}
	})
}

func (d *decoder) scalar(f *fieldPlan) (protoreflect.Value, bool) {
	switch f.kind {
	case protoreflect.StringKind:
		if s, ok := d.stringValue(); ok {
			return protoreflect.ValueOfString(s), true
		}
	case protoreflect.EnumKind:
		start := d.pos
		if s, ok := d.stringValue(); ok {
			n, known := f.enum.values[s]
			if !known {
				d.pos = start
				d.fail("unknown_enum", "%q is not a value of %s", s, f.fd.Enum().Name())
				return protoreflect.Value{}, false
			}
			return protoreflect.ValueOfEnum(n), true
		}
	case protoreflect.BoolKind:
		switch {
		case d.literal("true"):
			return protoreflect.ValueOfBool(true), true
		case d.literal("false"):
			return protoreflect.ValueOfBool(false), true
		default:
			d.wrongType("true or false")
		}
	case protoreflect.Int32Kind:
		if n, ok := d.integer(math.MinInt32, math.MaxInt32); ok {
			return protoreflect.ValueOfInt32(int32(n)), true
		}
	case protoreflect.Int64Kind:
		// JSON numbers beyond 2^53 lose precision in most readers.
		if n, ok := d.integer(-(1<<53 - 1), 1<<53-1); ok {
			return protoreflect.ValueOfInt64(n), true
		}
	default:
		d.fail("wrong_type", "unsupported field kind %v", f.kind)
	}
	return protoreflect.Value{}, false
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
	d.fail("wrong_type", "want %s, got %s", want, got)
}

// integer reads a JSON number that must be an integer within [min, max].
func (d *decoder) integer(min, max int64) (int64, bool) {
	start := d.pos
	end, isInt := d.number()
	if d.err != nil {
		return 0, false
	}
	if !isInt {
		d.pos = start
		d.fail("wrong_type", "want an integer, got %s", d.data[start:end])
		return 0, false
	}
	neg := d.data[start] == '-'
	var n int64
	i := start
	if neg {
		i++
	}
	for ; i < end; i++ {
		digit := int64(d.data[i] - '0')
		if n > (math.MaxInt64-digit)/10 {
			d.pos = start
			d.fail("number_out_of_range", "%s is out of range", d.data[start:end])
			return 0, false
		}
		n = n*10 + digit
	}
	if neg {
		n = -n
	}
	if n < min || n > max {
		d.pos = start
		d.fail("number_out_of_range", "%d is outside [%d, %d]", n, min, max)
		return 0, false
	}
	d.pos = end
	return n, true
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

func (d *decoder) stringValue() (string, bool) {
	if d.peek() != '"' {
		d.wrongType("a string")
		return "", false
	}
	b := d.str()
	if d.err != nil {
		return "", false
	}
	return string(b), true
}

// str reads a JSON string at d.pos (which is '"'). The result aliases the
// input or the decoder's scratch buffer; copy it to keep it.
func (d *decoder) str() []byte {
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

// strSlow continues str from the first escape at i, unescaping into scratch.
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

func (d *decoder) timestamp(ts *timestamppb.Timestamp) {
	start := d.pos
	s, ok := d.stringValue()
	if !ok {
		return
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		d.pos = start
		if _, werr := time.Parse(wallLayout, s); werr == nil {
			d.fail("time_without_zone", "time %q has no zone or offset", s)
		} else {
			d.fail("invalid_time", "time %q is not RFC 3339", s)
		}
		return
	}
	ts.Seconds, ts.Nanos = t.Unix(), int32(t.Nanosecond())
}

// skip passes over one JSON value, checking its syntax.
func (d *decoder) skip() {
	switch c := d.peek(); {
	case c == '{':
		d.object(func([]byte) { d.skip() })
	case c == '[':
		d.array(func(int) { d.skip() })
	case c == '"':
		d.str()
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
