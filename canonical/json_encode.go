package canonical

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// The JSON form is CloudEvents 1.0 structured mode: the envelope's attributes
// at the top level (extensions in lower case), "datacontenttype":
// "application/json" and the payload under "data" with lowerCamelCase names.
// Zero values are left out; enums are their canonical names ("in_transit");
// times are RFC 3339 in UTC; decimals stay strings.
//
// The per-message code is generated (*_json.pb.go, by
// internal/jsongen/protoc-gen-dray-json) and calls the runtime below.

const (
	specVersion     = "1.0"
	jsonContentType = "application/json"
)

// EncodeError is an event that has no JSON form (invalid UTF-8 in a string,
// an enum number the schema does not define).
type EncodeError struct {
	Path string
	Msg  string
}

func (e *EncodeError) Error() string { return "encode json: " + e.Path + ": " + e.Msg }

// MarshalJSON encodes an event as CloudEvents structured JSON.
func MarshalJSON(e *Event) ([]byte, error) {
	return AppendJSON(make([]byte, 0, 1536), e)
}

// AppendJSON appends the CloudEvents structured JSON of e to buf.
func AppendJSON(buf []byte, e *Event) ([]byte, error) {
	enc := jsonEncoder{buf: buf}
	enc.buf = append(enc.buf, `{"specversion":"1.0"`...)
	e.appendEnvelopeJSON(&enc)
	if enc.err == nil {
		mark := len(enc.buf)
		enc.buf = append(enc.buf, `,"datacontenttype":"application/json","data":`...)
		if !e.appendDataJSON(&enc) {
			enc.buf = enc.buf[:mark]
		} else if enc.err != nil {
			enc.in("data")
		}
	}
	if enc.err != nil {
		return buf, enc.error()
	}
	return append(enc.buf, '}'), nil
}

// MarshalJSON makes *Event a json.Marshaler that writes CloudEvents JSON.
func (e *Event) MarshalJSON() ([]byte, error) { return MarshalJSON(e) }

// jsonEncoder is the state of one encoding. On an error, the generated code
// unwinds and each level adds its field name (in/at), so the happy path
// tracks no path at all.
type jsonEncoder struct {
	buf  []byte
	err  *string
	path []pathElem // innermost first, built while unwinding
}

func (e *jsonEncoder) fail(msg string) { e.err = &msg }
func (e *jsonEncoder) in(field string) { e.path = append(e.path, pathElem{name: field, index: -1}) }
func (e *jsonEncoder) at(i int)        { e.path = append(e.path, pathElem{index: i}) }

func (e *jsonEncoder) error() error {
	var ps pathStack
	for i := len(e.path) - 1; i >= 0; i-- {
		ps.elems = append(ps.elems, e.path[i])
	}
	return &EncodeError{Path: ps.String(), Msg: *e.err}
}

// key writes a member name (k is the quoted name and colon), after a comma
// unless it is the object's first member.
func (e *jsonEncoder) key(first *bool, k string) {
	if !*first {
		e.buf = append(e.buf, ',')
	}
	*first = false
	e.buf = append(e.buf, k...)
}

func (e *jsonEncoder) str(s string) bool {
	if !utf8.ValidString(s) {
		e.fail("string is not valid UTF-8")
		return false
	}
	e.buf = appendJSONString(e.buf, s)
	return true
}

func (e *jsonEncoder) boolean(b bool)  { e.buf = strconv.AppendBool(e.buf, b) }
func (e *jsonEncoder) integer(n int64) { e.buf = strconv.AppendInt(e.buf, n, 10) }

func (e *jsonEncoder) enum(names []string, n int32) bool {
	if n < 0 || int(n) >= len(names) || names[n] == "" {
		e.fail("enum value " + strconv.Itoa(int(n)) + " is not defined")
		return false
	}
	e.buf = append(e.buf, '"')
	e.buf = append(e.buf, names[n]...)
	e.buf = append(e.buf, '"')
	return true
}

func (e *jsonEncoder) timestamp(ts *timestamppb.Timestamp) bool {
	if err := ts.CheckValid(); err != nil {
		e.fail(strings.TrimPrefix(err.Error(), "proto: "))
		return false
	}
	e.buf = append(e.buf, '"')
	e.buf = time.Unix(ts.GetSeconds(), int64(ts.GetNanos())).UTC().AppendFormat(e.buf, time.RFC3339Nano)
	e.buf = append(e.buf, '"')
	return true
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. s must be valid UTF-8.
func appendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
			continue
		}
		buf = append(buf, s[start:i]...)
		switch c {
		case '"', '\\':
			buf = append(buf, '\\', c)
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\t':
			buf = append(buf, '\\', 't')
		default:
			buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
