package canonical_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/draylink/dray/canonical"
)

// TestJSONValueMatchesMarshalJSON: for a sample event of every type,
// JSONValue equals MarshalJSON's output decoded by encoding/json with
// UseNumber; an event without a JSON form gets MarshalJSON's error.
func TestJSONValueMatchesMarshalJSON(t *testing.T) {
	for _, e := range buildSamples() {
		b, err := canonical.MarshalJSON(e)
		if err != nil {
			t.Fatalf("%s: marshal: %v", e.GetType(), err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var want any
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("%s: decode: %v", e.GetType(), err)
		}
		got, err := canonical.JSONValue(e)
		if err != nil {
			t.Fatalf("%s: JSONValue: %v", e.GetType(), err)
		}
		if !reflect.DeepEqual(any(got), want) {
			t.Errorf("%s: JSONValue differs from the decoded JSON\n got  %#v\n want %#v", e.GetType(), got, want)
		}

		bad := proto.Clone(e).(*canonical.Event)
		bad.Subject = "bad \xff"
		_, werr := canonical.MarshalJSON(bad)
		_, gerr := canonical.JSONValue(bad)
		if werr == nil || gerr == nil || gerr.Error() != werr.Error() {
			t.Errorf("%s: invalid UTF-8: JSONValue error %v, MarshalJSON error %v", e.GetType(), gerr, werr)
		}
	}
}
