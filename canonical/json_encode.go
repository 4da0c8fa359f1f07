package canonical

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The JSON form is CloudEvents 1.0 structured mode: the envelope's attributes
// at the top level (extensions in lower case), "datacontenttype":
// "application/json" and the payload under "data" with lowerCamelCase names.
// Zero values are left out; enums are their canonical names ("in_transit");
// times are RFC 3339 in UTC; decimals stay strings.

const (
	specVersion     = "1.0"
	jsonContentType = "application/json"
)

// MarshalJSON encodes an event as CloudEvents structured JSON.
func MarshalJSON(e *Event) ([]byte, error) {
	return AppendJSON(make([]byte, 0, 1536), e)
}

// AppendJSON appends the CloudEvents structured JSON of e to buf.
func AppendJSON(buf []byte, e *Event) ([]byte, error) {
	enc := encoder{buf: buf}
	enc.event(e)
	if enc.err != nil {
		return buf, enc.err
	}
	return enc.buf, nil
}

// MarshalJSON makes *Event a json.Marshaler that writes CloudEvents JSON.
func (e *Event) MarshalJSON() ([]byte, error) { return MarshalJSON(e) }

type encoder struct {
	buf  []byte
	err  error
	path pathStack
}

func (enc *encoder) fail(format string, args ...any) {
	if enc.err == nil {
		enc.err = fmt.Errorf("encode json: %s: %s", enc.path.String(), fmt.Sprintf(format, args...))
	}
}

func (enc *encoder) event(e *Event) {
	m := e.ProtoReflect()
	enc.buf = append(enc.buf, `{"specversion":"1.0"`...)
	for _, f := range reg().eventPlan.fields {
		if f.fd.ContainingOneof() != nil || !m.Has(f.fd) {
			continue
		}
		enc.buf = append(enc.buf, ',')
		enc.buf = append(enc.buf, f.key...)
		enc.path.push(f.name)
		enc.single(m.Get(f.fd), f)
		enc.path.pop()
	}
	if fd := m.WhichOneof(reg().dataOneof); fd != nil {
		enc.buf = append(enc.buf, `,"datacontenttype":"application/json","data":`...)
		enc.path.push("data")
		enc.message(m.Get(fd).Message(), planOf(fd.Message()))
		enc.path.pop()
	}
	enc.buf = append(enc.buf, '}')
}

func (enc *encoder) message(m protoreflect.Message, p *msgPlan) {
	if p.timestamp {
		enc.timestamp(m.Interface().(*timestamppb.Timestamp))
		return
	}
	enc.buf = append(enc.buf, '{')
	first := true
	for _, f := range p.fields {
		if !m.Has(f.fd) {
			continue
		}
		if !first {
			enc.buf = append(enc.buf, ',')
		}
		first = false
		enc.buf = append(enc.buf, f.key...)
		enc.path.push(f.name)
		if f.list {
			enc.list(m.Get(f.fd).List(), f)
		} else {
			enc.single(m.Get(f.fd), f)
		}
		enc.path.pop()
	}
	enc.buf = append(enc.buf, '}')
}

func (enc *encoder) list(l protoreflect.List, f *fieldPlan) {
	enc.buf = append(enc.buf, '[')
	for i := 0; i < l.Len(); i++ {
		if i > 0 {
			enc.buf = append(enc.buf, ',')
		}
		enc.path.index(i)
		enc.single(l.Get(i), f)
		enc.path.pop()
	}
	enc.buf = append(enc.buf, ']')
}

func (enc *encoder) single(v protoreflect.Value, f *fieldPlan) {
	switch f.kind {
	case protoreflect.StringKind:
		s := v.String()
		if !utf8.ValidString(s) {
			enc.fail("string is not valid UTF-8")
			return
		}
		enc.buf = appendJSONString(enc.buf, s)
	case protoreflect.MessageKind:
		enc.message(v.Message(), f.msg)
	case protoreflect.EnumKind:
		name, ok := f.enum.names[v.Enum()]
		if !ok {
			enc.fail("enum value %d is not defined", v.Enum())
			return
		}
		enc.buf = appendJSONString(enc.buf, name)
	case protoreflect.BoolKind:
		enc.buf = strconv.AppendBool(enc.buf, v.Bool())
	case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		enc.buf = strconv.AppendInt(enc.buf, v.Int(), 10)
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind:
		enc.buf = strconv.AppendUint(enc.buf, v.Uint(), 10)
	default:
		enc.fail("unsupported field kind %v", f.kind)
	}
}

func (enc *encoder) timestamp(ts *timestamppb.Timestamp) {
	if err := ts.CheckValid(); err != nil {
		enc.fail("%v", err)
		return
	}
	enc.buf = append(enc.buf, '"')
	enc.buf = ts.AsTime().UTC().AppendFormat(enc.buf, time.RFC3339Nano)
	enc.buf = append(enc.buf, '"')
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
