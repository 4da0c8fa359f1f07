package refsink

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
)

// Request JSON is read with jsontext (encoding/json/v2's syntactic layer):
// one validating pass, no reflection, several times cheaper than
// encoding/json's scanner plus reflection. The readers here are the fast
// path only: jsontext is stricter than encoding/json by default (duplicate
// member names and invalid UTF-8 are errors), and any error sends the
// caller back to encoding/json, which then gives exactly the value, or the
// error text, it always gave. So what a client sees does not depend on
// which path ran.

// compactOptions make jsontext's compaction that of encoding/json.Compact
// (which Go's own jsonv2 build implements with the same options): member
// names may repeat, invalid UTF-8 is kept, strings are copied verbatim.
var compactOptions = []jsontext.Options{
	jsontext.AllowDuplicateNames(true),
	jsontext.AllowInvalidUTF8(true),
	jsontext.PreserveRawStrings(true),
}

// compactJSON appends src with insignificant whitespace removed, as
// json.Compact does, including its error for input that is not one JSON
// value.
func compactJSON(dst, src []byte) ([]byte, error) {
	n := len(dst)
	out, err := jsontext.AppendFormat(dst, src, compactOptions...)
	if err == nil {
		return out, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, src); err != nil {
		return dst[:n], err
	}
	// jsontext refused what encoding/json takes: encoding/json decides.
	return append(dst[:n], buf.Bytes()...), nil
}

// isCompactJSON reports whether b is one JSON value that json.Compact
// would leave as it is (no whitespace byte at all, so none outside
// strings); valid says b, if not empty, was read as one JSON value already.
func isCompactJSON(b []byte, valid bool) bool {
	return len(b) > 0 && !containsAnyByte(b, ' ', '\n', '\t', '\r') && (valid || jsontext.Value(b).IsValid(compactOptions...))
}

// containsAnyByte reports whether b holds any of cs: one vectorised
// bytes.IndexByte per byte value, several times faster than
// bytes.ContainsAny's byte-by-byte loop on bodies of a few hundred bytes.
func containsAnyByte(b []byte, cs ...byte) bool {
	for _, c := range cs {
		if bytes.IndexByte(b, c) >= 0 {
			return true
		}
	}
	return false
}

// decoders recycles jsontext decoders (each holds its state machine).
var decoders = sync.Pool{New: func() any { return new(jsontext.Decoder) }}

// decodeAny decodes the first JSON value of b as a json.Decoder with
// UseNumber does into an any: map[string]any, []any, string, json.Number,
// bool or nil.
func decodeAny(b []byte) (any, error) {
	dec := decoders.Get().(*jsontext.Decoder)
	dec.Reset(bytes.NewBuffer(b))
	v, err := readAny(dec)
	if err == nil {
		err = atEOF(dec)
	}
	decoders.Put(dec)
	if err == nil {
		return v, nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// atEOF reports an error unless dec has nothing left but whitespace.
func atEOF(dec *jsontext.Decoder) error {
	switch _, err := dec.ReadToken(); {
	case err == nil:
		return errTrailingData
	case errors.Is(err, io.EOF):
		return nil
	default:
		return err
	}
}

// errTrailingData: more than one JSON value.
var errTrailingData = errors.New("trailing data after the JSON value")

// readAny reads the next value from dec (see decodeAny).
func readAny(dec *jsontext.Decoder) (any, error) {
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	switch tok.Kind() {
	case '{':
		m := map[string]any{}
		for dec.PeekKind() != '}' {
			tok, err := dec.ReadToken()
			if err != nil {
				return nil, err
			}
			name := tok.String() // before the next read voids tok
			v, err := readAny(dec)
			if err != nil {
				return nil, err
			}
			m[name] = v
		}
		_, err := dec.ReadToken()
		return m, err
	case '[':
		a := []any{}
		for dec.PeekKind() != ']' {
			v, err := readAny(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := dec.ReadToken()
		return a, err
	case '"':
		return tok.String(), nil
	case '0':
		return json.Number(tok.String()), nil
	case 't', 'f':
		return tok.Bool(), nil
	default: // 'n'
		return nil, nil
	}
}
