package refsink

import (
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// problem is one field-level reason for a 422, in the "errors" member of a
// problem body (RFC 9457 §3, pointer = JSON Pointer into the body).
type problem struct {
	Pointer string `json:"pointer"`
	Code    string `json:"code"`
	Detail  string `json:"detail"`
}

func (p problem) String() string { return p.Pointer + ": " + p.Code }

// ftype is the type of a field in a resource schema.
type ftype int

const (
	tString  ftype = iota // non-empty string
	tDecimal              // decimal string: "12.500", never a JSON number
	tTime                 // RFC 3339 timestamp with a zone
	tDate                 // YYYY-MM-DD
	tInt                  // JSON integer ≥ min
	tCode                 // string matching pattern
	tEnum                 // one of enum
	tObject               // object with fields
	tArray                // array (≥ min items) of objects with fields
)

// field is one member of a resource schema.
type field struct {
	name     string
	t        ftype
	required bool
	enum     []string
	pattern  codePattern
	what     string // what the pattern means, for the message
	fields   []field
	min      int
}

var (
	codeUnit     = codePattern{min: 1, max: 3, digits: true} // ^[A-Z0-9]{1,3}$
	codeSCAC     = codePattern{min: 2, max: 4}               // ^[A-Z]{2,4}$
	codeCurrency = codePattern{min: 3, max: 3}               // ^[A-Z]{3}$
	codeCountry  = codePattern{min: 2, max: 2}               // ^[A-Z]{2}$
	// A timestamp that would be RFC 3339 but for its missing zone.
	reZoneless = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$`)
)

// codePattern is a code of min to max capital letters (and digits, if
// digits), as the regular expression ^[A-Z]{min,max}$ or ^[A-Z0-9]{min,max}$
// (checked by hand: a regexp cost more than the rest of a field's check).
type codePattern struct {
	min, max int
	digits   bool
}

func (p codePattern) match(s string) bool {
	if len(s) < p.min || len(s) > p.max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'A' || c > 'Z') && (!p.digits || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// isDecimal reports whether s is a decimal number as ^[+-]?[0-9]+(\.[0-9]+)?$
// matches it.
func isDecimal(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	intPart, frac, dot := strings.Cut(s, ".")
	return allDigits(intPart) && (!dot || allDigits(frac))
}

// allDigits reports whether s is one or more ASCII digits.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func req(name string, t ftype) field { return field{name: name, t: t, required: true} }
func opt(name string, t ftype) field { return field{name: name, t: t} }

func code(name string, required bool, p codePattern, what string) field {
	return field{name: name, t: tCode, required: required, pattern: p, what: what}
}

func enum(name string, required bool, values ...string) field {
	return field{name: name, t: tEnum, required: required, enum: values}
}

func object(name string, required bool, fields ...field) field {
	return field{name: name, t: tObject, required: required, fields: fields}
}

func array(name string, required bool, minItems int, fields ...field) field {
	return field{name: name, t: tArray, required: required, min: minItems, fields: fields}
}

// validateObject checks m against fields, appending problems; ptr is the
// JSON Pointer of m. Members not in the schema are ignored, as most real
// APIs do (a mapping may carry extra references).
func validateObject(m map[string]any, fields []field, ptr string, out *[]problem) {
	for i := range fields {
		f := &fields[i]
		v, ok := m[f.name]
		if !ok || v == nil {
			if f.required {
				*out = append(*out, problem{ptr + "/" + f.name, "required", f.name + " is required"})
			}
			continue
		}
		validateValue(v, f, ptr, out)
	}
}

// validateValue checks member f of the object at JSON Pointer ptr.
func validateValue(v any, f *field, ptr string, out *[]problem) {
	switch v := v.(type) {
	case map[string]any:
		if f.t == tObject {
			validateObject(v, f.fields, ptr+"/"+f.name, out)
			return
		}
	case []any:
		if f.t == tArray {
			validateArray(v, f, ptr, out)
			return
		}
	}
	checkScalar(scalarOf(v), f, ptr, out)
}

// scalar is what checkScalar looks at in a JSON value: its kind ('"', '0',
// 't', 'f', 'n', '{' or '[') and, for a string or a number, its text.
type scalar struct {
	kind byte
	text string
}

// scalarOf is the scalar of a value decoded by encoding/json with UseNumber.
func scalarOf(v any) scalar {
	switch v := v.(type) {
	case string:
		return scalar{'"', v}
	case json.Number:
		return scalar{'0', string(v)}
	case bool:
		if v {
			return scalar{kind: 't'}
		}
		return scalar{kind: 'f'}
	case map[string]any:
		return scalar{kind: '{'}
	case []any:
		return scalar{kind: '['}
	default:
		return scalar{kind: 'n'}
	}
}

// checkScalar checks member f of the object at ptr, a value that is not
// an object or array its field descends into.
func checkScalar(v scalar, f *field, ptr string, out *[]problem) {
	bad := func(code, format string, args ...any) {
		*out = append(*out, problem{ptr + "/" + f.name, code, fmt.Sprintf(format, args...)})
	}
	str, isStr := v.text, v.kind == '"'
	switch f.t {
	case tString:
		if !isStr {
			bad("wrong_type", "want a string")
		} else if f.required && strings.TrimSpace(str) == "" {
			bad("required", "%s must not be empty", f.name)
		}
	case tDecimal:
		switch {
		case !isStr:
			if v.kind == '0' {
				bad("wrong_type", "want a decimal string such as \"12.500\", not a JSON number")
			} else {
				bad("wrong_type", "want a decimal string")
			}
		case !isDecimal(str):
			bad("invalid_decimal", "%q is not a decimal number", str)
		}
	case tTime:
		if !isStr {
			bad("wrong_type", "want an RFC 3339 timestamp string")
		} else if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
			if reZoneless.MatchString(str) {
				bad("time_without_zone", "%q has no zone offset (want e.g. 2025-03-14T15:48:00-05:00 or …Z)", str)
			} else {
				bad("invalid_time", "%q is not an RFC 3339 timestamp", str)
			}
		}
	case tDate:
		if !isStr {
			bad("wrong_type", "want a date string YYYY-MM-DD")
		} else if _, err := time.Parse(time.DateOnly, str); err != nil {
			bad("invalid_date", "%q is not a date YYYY-MM-DD", str)
		}
	case tInt:
		if v.kind != '0' {
			bad("wrong_type", "want an integer")
			return
		}
		i, err := strconv.ParseInt(v.text, 10, 64)
		if err != nil {
			bad("wrong_type", "want an integer, got %s", v.text)
		} else if i < int64(f.min) {
			bad("out_of_range", "must be at least %d", f.min)
		}
	case tCode:
		if !isStr {
			bad("wrong_type", "want a string")
		} else if !f.pattern.match(str) {
			bad("invalid_code", "%q is not %s", str, f.what)
		}
	case tEnum:
		if !isStr {
			bad("wrong_type", "want a string")
		} else if !slices.Contains(f.enum, str) {
			bad("unknown_value", "%q is not one of %s", str, strings.Join(f.enum, ", "))
		}
	case tObject:
		bad("wrong_type", "want an object")
	case tArray:
		bad("wrong_type", "want an array")
	}
}

// validateArray checks the array a, member f of the object at ptr.
func validateArray(a []any, f *field, ptr string, out *[]problem) {
	p := ptr + "/" + f.name
	if len(a) < f.min {
		*out = append(*out, problem{p, "too_few_items", fmt.Sprintf("want at least %d item(s)", f.min)})
	}
	for i, el := range a {
		ep := p + "/" + strconv.Itoa(i)
		m, ok := el.(map[string]any)
		if !ok {
			*out = append(*out, problem{ep, "wrong_type", "want an object"})
			continue
		}
		validateObject(m, f.fields, ep, out)
	}
}

// decimalOf parses a decimal string exactly (ok false if it is not one).
func decimalOf(v any) (*big.Rat, bool) {
	s, ok := v.(string)
	if !ok || !isDecimal(s) {
		return nil, false
	}
	return new(big.Rat).SetString(strings.TrimPrefix(s, "+"))
}
