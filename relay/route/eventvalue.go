package route

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/draylink/dray/canonical"
)

// eventValue builds the jq input of an event straight from the message:
// the value parseValue(canonical.MarshalJSON(ev)) yields, without writing
// and re-reading the JSON (the round trip was the largest cost per event in
// the relay's profile). The shape is canonical's CloudEvents structured
// JSON: specversion, the envelope attributes under their JSON names, then
// datacontenttype and data when the data oneof is set; zero values left
// out; enums by their canonical names; times RFC 3339 in UTC; integers as
// json.Number. A test holds it equal to the round trip over every golden
// event.
//
// An event the JSON form cannot encode (invalid UTF-8, an undefined enum
// number, an invalid time) yields errNoFastValue; Doc then takes the JSON
// path, whose error names the field.
func eventValue(ev *canonical.Event) (map[string]any, error) {
	m := ev.ProtoReflect()
	out := make(map[string]any, 16)
	out["specversion"] = "1.0"
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			var data map[string]any
			if data, err = messageValue(v.Message()); err == nil {
				out["datacontenttype"] = "application/json"
				out["data"] = data
			}
			return err == nil
		}
		var x any
		if x, err = fieldValue(fd, v); err == nil {
			out[fd.JSONName()] = x
		}
		return err == nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// errNoFastValue is an event eventValue leaves to the JSON path.
var errNoFastValue = errors.New("no direct jq value")

func messageValue(m protoreflect.Message) (map[string]any, error) {
	out := make(map[string]any, m.Descriptor().Fields().Len())
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		var x any
		if x, err = fieldValue(fd, v); err == nil {
			out[fd.JSONName()] = x
		}
		return err == nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// fieldValue is the value of a populated field (Range visits only those:
// proto3 scalars that are not zero, non-empty lists, set messages), as the
// generated JSON encoder writes it.
func fieldValue(fd protoreflect.FieldDescriptor, v protoreflect.Value) (any, error) {
	if fd.IsList() {
		l := v.List()
		out := make([]any, l.Len())
		for i := range out {
			x, err := singleValue(fd, l.Get(i))
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	}
	if fd.IsMap() {
		return nil, errNoFastValue
	}
	return singleValue(fd, v)
}

func singleValue(fd protoreflect.FieldDescriptor, v protoreflect.Value) (any, error) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		s := v.String()
		if !utf8.ValidString(s) {
			return nil, errNoFastValue
		}
		return s, nil
	case protoreflect.BoolKind:
		return v.Bool(), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Int64Kind, protoreflect.Sint64Kind:
		return json.Number(strconv.FormatInt(v.Int(), 10)), nil
	case protoreflect.EnumKind:
		name := enumNames(fd.Enum()).name(v.Enum())
		if name == "" {
			return nil, errNoFastValue
		}
		return name, nil
	case protoreflect.MessageKind:
		m := v.Message()
		if fd.Message().FullName() == "google.protobuf.Timestamp" {
			ts, ok := m.Interface().(*timestamppb.Timestamp)
			if !ok || ts.CheckValid() != nil {
				return nil, errNoFastValue
			}
			return time.Unix(ts.GetSeconds(), int64(ts.GetNanos())).UTC().Format(time.RFC3339Nano), nil
		}
		return messageValue(m)
	default:
		return nil, errNoFastValue
	}
}

// enumNameTable holds an enum's canonical names by number (canonical.EnumName
// for each defined value), built once per enum.
type enumNameTable struct {
	byNumber map[protoreflect.EnumNumber]string
}

func (t *enumNameTable) name(n protoreflect.EnumNumber) string { return t.byNumber[n] }

var enumTables sync.Map // protoreflect.FullName → *enumNameTable

func enumNames(ed protoreflect.EnumDescriptor) *enumNameTable {
	if t, ok := enumTables.Load(ed.FullName()); ok {
		return t.(*enumNameTable)
	}
	t := &enumNameTable{byNumber: map[protoreflect.EnumNumber]string{}}
	if et, err := protoregistry.GlobalTypes.FindEnumByName(ed.FullName()); err == nil {
		vals := ed.Values()
		for i := 0; i < vals.Len(); i++ {
			n := vals.Get(i).Number()
			if name := canonical.EnumName(et.New(n)); name != "" {
				t.byNumber[n] = name
			}
		}
	}
	actual, _ := enumTables.LoadOrStore(ed.FullName(), t)
	return actual.(*enumNameTable)
}

// docFromJSON is the jq input through the JSON form: the reference
// eventValue is held to, and the path for events it leaves (its errors
// name the field).
func docFromJSON(e *Event) (any, error) {
	b, err := e.JSON()
	if err != nil {
		return nil, err
	}
	v, err := parseValue(b)
	if err != nil {
		return nil, fmt.Errorf("decode event json: %w", err)
	}
	return v, nil
}
