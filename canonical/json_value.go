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

func (e *valueEncoder) str(s string) any {
	if !utf8.ValidString(s) {
		e.failed = true
	}
	return s
}

func (e *valueEncoder) integer(n int64) any { return json.Number(strconv.FormatInt(n, 10)) }

func (e *valueEncoder) enum(names []string, n int32) any {
	if n < 0 || int(n) >= len(names) || names[n] == "" {
		e.failed = true
		return nil
	}
	return names[n]
}

func (e *valueEncoder) timestamp(ts *timestamppb.Timestamp) any {
	if ts.CheckValid() != nil {
		e.failed = true
		return nil
	}
	return time.Unix(ts.GetSeconds(), int64(ts.GetNanos())).UTC().Format(time.RFC3339Nano)
}

// JQDoc is the event's jq value (JSONValue) built on demand: a member is
// converted when it is read, and a sub-message is itself a JQObject, so a
// mapping that reads ten members of a 40-member event converts ten. Value
// builds the whole object, equal to JSONValue's. A string that is not
// valid UTF-8 (which JSONValue refuses) marks the document Failed when it
// is read; what was not read cannot have reached the result.
func JQDoc(e *Event) JQObject { return JQObject{e, &valueEncoder{}} }

// JQObject is a message's jq object, converted member by member (JQDoc).
// It is read-only and, like the event it reads, safe to share between
// goroutines only when nothing converts it concurrently (Failed is not
// synchronised).
type JQObject struct {
	m jqMessage
	e *valueEncoder
}

// jqMessage is what the generated code gives every message.
type jqMessage interface {
	jqMember(e *valueEncoder, key string) any
	jsonValue(e *valueEncoder) map[string]any
}

// Member is the object's member key: a string, json.Number, bool, []any
// (whose messages are JQObjects) or JQObject; nil when the object has no
// such member.
func (o JQObject) Member(key string) any { return o.m.jqMember(o.e, key) }

// Value is the whole object as JSONValue builds it.
func (o JQObject) Value() map[string]any { return o.m.jsonValue(o.e) }

// Failed reports whether a member read so far has no JSON form (the
// event's JSONValue fails: build it for the located error).
func (o JQObject) Failed() bool { return o.e.failed }
