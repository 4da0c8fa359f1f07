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
