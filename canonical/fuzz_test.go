package canonical_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/draylink/dray/canonical"
	"google.golang.org/protobuf/proto"
)

func goldenSeeds(f *testing.F) [][]byte {
	f.Helper()
	files, _ := filepath.Glob(filepath.Join(goldenDir, "*.json"))
	var out [][]byte
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzUnmarshalJSON: the strict decoder never panics, and whatever it
// accepts encodes and decodes back to the same event.
func FuzzUnmarshalJSON(f *testing.F) {
	for _, b := range goldenSeeds(f) {
		f.Add(b)
	}
	f.Add([]byte(minimal))
	f.Add([]byte(`{"specversion":"1.0","data":{"a":[1,2,{"b":"\ud83d\ude9a"}]},"type":"x"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		e, err := canonical.UnmarshalJSON(in)
		if err != nil {
			var de *canonical.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		_ = canonical.Validate(e)
		out, err := canonical.MarshalJSON(e)
		if err != nil {
			t.Fatalf("accepted input does not re-encode: %v", err)
		}
		back, err := canonical.UnmarshalJSON(out)
		if err != nil {
			t.Fatalf("re-encoded output does not decode: %v\n%s", err, out)
		}
		if !proto.Equal(e, back) {
			t.Fatalf("JSON round trip changed the event")
		}
	})
}

// FuzzUnmarshalBinary: the binary decoder never panics, and what it accepts
// re-encodes to bytes that decode to the same event.
func FuzzUnmarshalBinary(f *testing.F) {
	for _, b := range goldenSeeds(f) {
		e, err := canonical.UnmarshalJSON(b)
		if err != nil {
			f.Fatal(err)
		}
		bin, err := canonical.MarshalBinary(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bin)
	}
	f.Add([]byte{0x0a, 0x80})
	f.Fuzz(func(t *testing.T, in []byte) {
		e, err := canonical.UnmarshalBinary(in)
		if err != nil {
			return
		}
		_ = canonical.Validate(e)
		out, err := canonical.MarshalBinary(e)
		if err != nil {
			t.Fatalf("accepted input does not re-encode: %v", err)
		}
		back, err := canonical.UnmarshalBinary(out)
		if err != nil || !proto.Equal(e, back) {
			t.Fatalf("binary round trip changed the event: %v", err)
		}
		if canonical.Validate(e) == nil {
			// A valid event must have a JSON form that decodes to it.
			j, err := canonical.MarshalJSON(e)
			if err != nil {
				t.Fatalf("valid event without JSON form: %v", err)
			}
			if _, err := canonical.UnmarshalJSON(j); err != nil {
				t.Fatalf("JSON of a valid event does not decode: %v", err)
			}
		}
	})
}

// FuzzParseDecimal: accepted strings have the canonical grammar and keep
// their value through the decimal type.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"0", "12.500", "-1", "1e3", "+1", ".5", "1.", "١", "99999999999999999999.99999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := canonical.ParseDecimal(s)
		if err != nil {
			return
		}
		if len(s) > canonical.MaxDecimalLen {
			t.Fatalf("accepted %d characters", len(s))
		}
		for i := 0; i < len(s); i++ {
			c := s[i]
			if (c < '0' || c > '9') && c != '.' && (c != '-' || i != 0) {
				t.Fatalf("accepted %q with %q", s, c)
			}
		}
		back, err := canonical.ParseDecimal(d.String())
		if err != nil || !back.Equal(d) {
			t.Fatalf("%q → %s does not parse back: %v", s, d.String(), err)
		}
		if bytes.Count([]byte(s), []byte(".")) > 1 {
			t.Fatalf("accepted two points: %q", s)
		}
	})
}
