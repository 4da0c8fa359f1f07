package route

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// appendJQ appends the JSON of a jq value exactly as gojq.Marshal writes
// it (object members sorted, NaN as null, infinities as ±MaxFloat64, \b
// and \f escapes, no HTML escapes), optionally leaving out null members of
// objects at every depth (drop_nulls; nulls in arrays stay). Request bodies
// must not change bytes between relay versions — a sink's idempotency
// fingerprint and the relay's fact digests are over them — so the tests
// hold this to gojq.Marshal over generated values. It replaces gojq.Marshal
// after copying the value without its nulls: one pass, no copy, and a
// buffer the caller sizes.
func appendJQ(buf []byte, v any, dropNulls bool) []byte {
	switch v := v.(type) {
	case nil:
		return append(buf, "null"...)
	case bool:
		return strconv.AppendBool(buf, v)
	case int:
		return strconv.AppendInt(buf, int64(v), 10)
	case float64:
		return appendJQFloat(buf, v)
	case *big.Int:
		return v.Append(buf, 10)
	case json.Number:
		return append(buf, v...)
	case string:
		return appendJQString(buf, v)
	case []any:
		buf = append(buf, '[')
		for i, e := range v {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJQ(buf, e, dropNulls)
		}
		return append(buf, ']')
	case map[string]any:
		return appendJQObject(buf, v, dropNulls)
	default:
		// gojq yields no other type; Marshal panics on one.
		panic(fmt.Sprintf("route: not a jq value: %T", v))
	}
}

// appendJQObject writes an object's members sorted by name.
func appendJQObject(buf []byte, m map[string]any, dropNulls bool) []byte {
	var small [16]string
	keys := small[:0]
	for k, e := range m {
		if e != nil || !dropNulls {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, strings.Compare)
	buf = append(buf, '{')
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendJQString(buf, k)
		buf = append(buf, ':')
		buf = appendJQ(buf, m[k], dropNulls)
	}
	return append(buf, '}')
}

// appendJQFloat is gojq's float format (encoding/json's, with NaN as null
// and infinities clamped).
func appendJQFloat(buf []byte, f float64) []byte {
	if math.IsNaN(f) {
		return append(buf, "null"...)
	}
	f = min(max(f, -math.MaxFloat64), math.MaxFloat64)
	format := byte('f')
	if x := math.Abs(f); x != 0 && x < 1e-6 || x >= 1e21 {
		format = 'e'
	}
	start := len(buf)
	buf = strconv.AppendFloat(buf, f, format, -1, 64)
	if format == 'e' {
		// e-09 → e-9
		if n := len(buf) - start; n >= 4 && buf[len(buf)-4] == 'e' && buf[len(buf)-3] == '-' && buf[len(buf)-2] == '0' {
			buf[len(buf)-2] = buf[len(buf)-1]
			buf = buf[:len(buf)-1]
		}
	}
	return buf
}

// appendJQString is gojq's string escaping: printable ASCII as is except "
// and \, short escapes for \b \f \n \r \t, \u00XX for other control
// characters, invalid UTF-8 as \ufffd, other UTF-8 unchanged.
func appendJQString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if ' ' <= b && b <= '~' && b != '"' && b != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch b {
			case '"':
				buf = append(buf, `\"`...)
			case '\\':
				buf = append(buf, `\\`...)
			case '\b':
				buf = append(buf, `\b`...)
			case '\f':
				buf = append(buf, `\f`...)
			case '\n':
				buf = append(buf, `\n`...)
			case '\r':
				buf = append(buf, `\r`...)
			case '\t':
				buf = append(buf, `\t`...)
			default:
				const hex = "0123456789abcdef"
				buf = append(buf, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
