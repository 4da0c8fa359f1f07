package route

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

func stdDecode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if len(bytes.TrimLeft(b[dec.InputOffset():], " \t\r\n")) > 0 {
		return nil, bytes.ErrTooLarge // trailing data
	}
	return v, nil
}

var jsonSeeds = []string{
	`{}`, `[]`, `null`, `true`, `false`, `0`, `-0.5e+10`, `12.500`, `"x"`, ` {"a" : [1, 2, {"b": null}], "c": "d"} `,
	`"\u00e9\n\t\\\/\"\ud83d\ude00"`, `"\ud800"`, `{"a":1,"a":2}`, `[1,]`, `{"a"}`, `"\x41"`, `01`, `1.`, `-`, `"a`, `[`, "\"\xff\"",
	`{"specversion":"1.0","id":"x","data":{"movement":{"quantity":{"value":"12.500","uom":"KGM"}},"n":[1,2.5,-3e2]}}`,
}

func TestParseValueMatchesEncodingJSON(t *testing.T) {
	for _, s := range jsonSeeds {
		checkParse(t, []byte(s))
	}
}

func checkParse(t *testing.T, b []byte) {
	got, gerr := parseValue(b)
	want, werr := stdDecode(b)
	if (gerr == nil) != (werr == nil) {
		t.Fatalf("%q: parseValue err %v, encoding/json err %v", b, gerr, werr)
	}
	if gerr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: parseValue %#v; encoding/json %#v", b, got, want)
	}
}

func FuzzParseValue(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkParse)
}

func BenchmarkParseValue(b *testing.B) {
	ev := milestone(b, "MEM1", "SHP1")
	js, _ := ev.JSON()
	b.Run("parseValue", func(b *testing.B) {
		for b.Loop() {
			if _, err := parseValue(js); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			if _, err := stdDecode(js); err != nil {
				b.Fatal(err)
			}
		}
	})
}
