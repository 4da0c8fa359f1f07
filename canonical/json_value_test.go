package canonical_test

import (
	"bytes"
	"encoding/json"
	"fmt"
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

// TestJQDocMatchesJSONValue: the on-demand document reads, member by
// member and at every depth, what JSONValue builds, for every type's
// sample; Value is JSONValue; a member never in JSONValue is nil; reading
// an invalid string marks the document failed, and only reading it does.
func TestJQDocMatchesJSONValue(t *testing.T) {
	for _, e := range buildSamples() {
		want, err := canonical.JSONValue(e)
		if err != nil {
			t.Fatal(err)
		}
		doc := canonical.JQDoc(e)
		if got, ok := canonical.JQValue(doc); !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: JQValue differs from JSONValue (ok %v)\n got  %#v\n want %#v", e.GetType(), ok, got, want)
		}
		checkMembers(t, e.GetType(), doc, want)

		bad := proto.Clone(e).(*canonical.Event)
		bad.Subject = "bad \xff"
		bd := canonical.JQDoc(bad)
		if _, ok := canonical.JQMember(bd, "id"); !ok {
			t.Errorf("%s: a valid member of a bad event refused", e.GetType())
		}
		if _, ok := canonical.JQMember(bd, "subject"); ok {
			t.Errorf("%s: an invalid string read without a refusal", e.GetType())
		}
		if _, ok := canonical.JQValue(bd); ok {
			t.Errorf("%s: JQValue of a bad event without a refusal", e.GetType())
		}
	}
}

// checkMembers compares every member of an on-demand object with the
// built one, recursively, and a member the built one lacks.
func checkMembers(t *testing.T, path string, o canonical.JQObject, want map[string]any) {
	t.Helper()
	for k, w := range want {
		v, ok := canonical.JQMember(o, k)
		if !ok {
			t.Errorf("%s.%s refused", path, k)
		}
		checkMember(t, path+"."+k, v, w)
	}
	if v, ok := canonical.JQMember(o, "noSuchMember"); v != nil || !ok {
		t.Errorf("%s.noSuchMember = %#v, %v; want nil", path, v, ok)
	}
}

func checkMember(t *testing.T, path string, got, want any) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		o, ok := got.(canonical.JQObject)
		if !ok {
			t.Errorf("%s: %T, want a JQObject", path, got)
			return
		}
		checkMembers(t, path, o, w)
	case []any:
		l, ok := got.([]any)
		if !ok || len(l) != len(w) {
			t.Errorf("%s: %#v, want %d elements", path, got, len(w))
			return
		}
		for i := range w {
			checkMember(t, fmt.Sprintf("%s[%d]", path, i), l[i], w[i])
		}
	default:
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v; want %#v", path, got, want)
		}
	}
}
