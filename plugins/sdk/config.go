package sdk

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DecodeConfig decodes a JSON configuration into v, a pointer to a struct,
// strictly: a key that matches no field (by its `json` tag, or its name when
// untagged; exact case) is an error, and so is a value of the wrong type.
// time.Duration fields take strings such as "2s" or "1m30s". It returns every
// problem found, with its path, in key order; decoding goes on past each one.
// A connector appends its own checks (required fields, ranges) and returns
// &ConfigError{Fields: problems} when there are any.
//
// Empty input and "null" decode as an empty object.
func DecodeConfig(data []byte, v any) []FieldError {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		panic("sdk.DecodeConfig: v must be a non-nil pointer to a struct")
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		data = []byte("{}")
	}
	if !json.Valid(data) {
		var x any
		err := json.Unmarshal(data, &x)
		return []FieldError{{Msg: "not valid JSON: " + strings.TrimPrefix(err.Error(), "json: ")}}
	}
	var d configDecoder
	d.value("", data, rv.Elem())
	return d.problems
}

type configDecoder struct {
	problems []FieldError
}

func (d *configDecoder) fail(path, format string, args ...any) {
	d.problems = append(d.problems, FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

var (
	durationType    = reflect.TypeFor[time.Duration]()
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// value decodes raw (valid JSON) into rv, which is settable.
func (d *configDecoder) value(path string, raw json.RawMessage, rv reflect.Value) {
	t := rv.Type()
	if string(raw) == "null" {
		// null leaves the zero value, as encoding/json does.
		rv.SetZero()
		return
	}
	if t == durationType {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			d.fail(path, "want a duration such as \"2s\" or \"1m30s\", got %s", kindOf(raw))
			return
		}
		dur, err := time.ParseDuration(s)
		if err != nil {
			d.fail(path, "want a duration such as \"2s\" or \"1m30s\", got %q", s)
			return
		}
		rv.SetInt(int64(dur))
		return
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		d.leaf(path, raw, rv)
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if rv.IsNil() {
			rv.Set(reflect.New(t.Elem()))
		}
		d.value(path, raw, rv.Elem())
	case reflect.Struct:
		obj, ok := d.object(path, raw)
		if !ok {
			return
		}
		fields := structFields(t)
		for _, k := range sortedKeys(obj) {
			i, ok := fields[k]
			if !ok {
				d.fail(join(path, k), "unknown field")
				continue
			}
			d.value(join(path, k), obj[k], rv.Field(i))
		}
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			d.leaf(path, raw, rv)
			return
		}
		obj, ok := d.object(path, raw)
		if !ok {
			return
		}
		m := reflect.MakeMapWithSize(t, len(obj))
		for _, k := range sortedKeys(obj) {
			ev := reflect.New(t.Elem()).Elem()
			d.value(join(path, k), obj[k], ev)
			m.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), ev)
		}
		rv.Set(m)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			d.leaf(path, raw, rv) // []byte: base64, as encoding/json
			return
		}
		var arr []json.RawMessage
		if err := json.Unmarshal(raw, &arr); err != nil {
			d.fail(path, "want a list, got %s", kindOf(raw))
			return
		}
		s := reflect.MakeSlice(t, len(arr), len(arr))
		for i, el := range arr {
			d.value(path+"["+strconv.Itoa(i)+"]", el, s.Index(i))
		}
		rv.Set(s)
	default:
		d.leaf(path, raw, rv)
	}
}

func (d *configDecoder) object(path string, raw json.RawMessage) (map[string]json.RawMessage, bool) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		d.fail(path, "want an object, got %s", kindOf(raw))
		return nil, false
	}
	return obj, true
}

// leaf decodes a scalar (or a type with its own decoding) with encoding/json.
func (d *configDecoder) leaf(path string, raw json.RawMessage, rv reflect.Value) {
	p := reflect.New(rv.Type())
	if err := json.Unmarshal(raw, p.Interface()); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			d.fail(path, "want %s, got %s", describe(rv.Type()), kindOf(raw))
		} else {
			d.fail(path, "%s", strings.TrimPrefix(err.Error(), "json: "))
		}
		return
	}
	rv.Set(p.Elem())
}

// structFields maps JSON names to field indexes: the `json` tag's name, or the
// field name when untagged; "-" and unexported fields are left out.
func structFields(t reflect.Type) map[string]int {
	out := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Name
		if tag, ok := f.Tag.Lookup("json"); ok {
			n, _, _ := strings.Cut(tag, ",")
			if n == "-" {
				continue
			}
			if n != "" {
				name = n
			}
		}
		out[name] = i
	}
	return out
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindOf(raw json.RawMessage) string {
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number (" + string(raw) + ")"
	}
}

func describe(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	default:
		return t.String()
	}
}
