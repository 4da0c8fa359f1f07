package canonical

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// JSONValue returns the CloudEvents structured JSON of e as the Go values
// encoding/json (with UseNumber) decodes it into: objects as
// map[string]any, arrays as []any, strings, json.Number, true. It equals
// decoding MarshalJSON's output, without writing and re-reading it — the
// form jq (the relay's routes) takes as input. An event that has no JSON
// form gets MarshalJSON's located error.
//
// The strings are the event's own (not copied): they stay valid after the
// event is released (decoded strings share a private copy of the input
// that nothing writes to), but the value must not be modified in place by
// anyone who shares it.
func JSONValue(e *Event) (map[string]any, error) {
	enc := valueEncoder{}
	v := e.jsonValue(&enc)
	if enc.failed {
		if _, err := MarshalJSON(e); err != nil {
			return nil, err
		}
		// The two generated walks disagree: a generator bug.
		return nil, &EncodeError{Path: "", Msg: "JSONValue refused an event MarshalJSON encodes"}
	}
	return v, nil
}

// valueEncoder is the state of one JSONValue walk (the generated jsonValue
// methods call it). A value the JSON form cannot encode sets failed; the
// location comes from the JSON encoder, on that rare path only.
type valueEncoder struct{ failed bool }

// check notes a value without a JSON form.
func (e *valueEncoder) check(v any, ok bool) any {
	if !ok {
		e.failed = true
	}
	return v
}

// JQDoc is the event's jq value (JSONValue) read on demand: JQMember
// converts one member when it is read, and a sub-message is itself a
// JQObject (the message: nothing is allocated for it), so a mapping that
// reads ten members of a 40-member event converts ten. JQValue builds a
// whole object, equal to JSONValue's. The event must not change while its
// document is read; reading is safe from many goroutines.
func JQDoc(e *Event) JQObject { return e }

// JQObject is a message of an event's on-demand jq document (JQDoc).
type JQObject interface {
	jqMember(key string) (any, bool)
	jsonValue(e *valueEncoder) map[string]any
}

// JQMember is the object's member key: a string, json.Number, bool, []any
// (whose messages are JQObjects) or JQObject; nil when the object has no
// such member. ok is false when the member has no JSON form (a string
// that is not valid UTF-8, an unknown enum value, a bad timestamp): the
// event's JSONValue fails, and says where.
func JQMember(o JQObject, key string) (v any, ok bool) { return o.jqMember(key) }

// JQValue is the whole object as JSONValue builds it; ok as for JQMember.
func JQValue(o JQObject) (v map[string]any, ok bool) {
	var e valueEncoder
	v = o.jsonValue(&e)
	return v, !e.failed
}

func jqString(s string) (any, bool) { return s, utf8.ValidString(s) }

func jqInteger(n int64) (any, bool) { return json.Number(strconv.FormatInt(n, 10)), true }

func jqEnum(names []string, n int32) (any, bool) {
	if n < 0 || int(n) >= len(names) || names[n] == "" {
		return nil, false
	}
	return names[n], true
}

func jqTimestamp(ts *timestamppb.Timestamp) (any, bool) {
	if ts.CheckValid() != nil {
		return nil, false
	}
	return time.Unix(ts.GetSeconds(), int64(ts.GetNanos())).UTC().Format(time.RFC3339Nano), true
}
