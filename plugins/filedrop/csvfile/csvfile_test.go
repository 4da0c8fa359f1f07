package csvfile

import (
	"encoding/csv"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// item is what one Read gave, for comparison.
type item struct {
	Fields []string
	Line   int
	Code   string
	Col    int
}

func readAll(t testing.TB, input string, o Options) ([]item, int64) {
	t.Helper()
	r := NewReader(strings.NewReader(input), 0, 0, o)
	var out []item
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, r.Offset()
		}
		var e *Error
		switch {
		case errors.As(err, &e):
			out = append(out, item{Line: e.Line, Code: e.Code, Col: e.Col})
		case err != nil:
			t.Fatal(err)
		default:
			out = append(out, item{Fields: rec.Fields, Line: rec.Line})
		}
	}
}

func TestRead(t *testing.T) {
	tests := []struct {
		name  string
		input string
		o     Options
		want  []item
	}{
		{"plain", "a,b,c\n1,2,3\n", Options{}, []item{{Fields: []string{"a", "b", "c"}, Line: 1}, {Fields: []string{"1", "2", "3"}, Line: 2}}},
		{"bom crlf no final newline", "\uFEFFa,b\r\n1,2", Options{}, []item{{Fields: []string{"a", "b"}, Line: 1}, {Fields: []string{"1", "2"}, Line: 2}}},
		{"semicolon decimal comma", "qty;uom\n\"12,5\";KG\n", Options{Comma: ';'}, []item{{Fields: []string{"qty", "uom"}, Line: 1}, {Fields: []string{"12,5", "KG"}, Line: 2}}},
		{"quoted delimiter and doubled quote", `a,"b,""c""",d` + "\n", Options{}, []item{{Fields: []string{"a", `b,"c"`, "d"}, Line: 1}}},
		{"empty fields", ",,\n", Options{}, []item{{Fields: []string{"", "", ""}, Line: 1}}},
		{"blank lines skipped", "a\n\n\r\nb\n", Options{}, []item{{Fields: []string{"a"}, Line: 1}, {Fields: []string{"b"}, Line: 4}}},
		{"multi-line quoted", "a,\"x\r\ny\",b\nc,d,e\n", Options{FieldsPerRecord: 3}, []item{{Fields: []string{"a", "x\ny", "b"}, Line: 1}, {Fields: []string{"c", "d", "e"}, Line: 3}}},
		{"unclosed quote recovers", "a,b,c\n1,\"oops,3\n4,5,6\n7,8,9\n", Options{FieldsPerRecord: 3}, []item{
			{Fields: []string{"a", "b", "c"}, Line: 1}, {Line: 2, Code: CodeUnclosedQuote, Col: 3},
			{Fields: []string{"4", "5", "6"}, Line: 3}, {Fields: []string{"7", "8", "9"}, Line: 4}}},
		{"unclosed quote joining into wrong shape", "1,\"oops,3\n4,\"5\",6\n", Options{FieldsPerRecord: 3}, []item{
			{Line: 1, Code: CodeUnclosedQuote, Col: 3}, {Fields: []string{"4", "5", "6"}, Line: 2}}},
		{"unclosed at eof", "1,\"x", Options{}, []item{{Line: 1, Code: CodeUnclosedQuote, Col: 3}}},
		{"bare quote", "a,b\"c,d\n1,2,3\n", Options{}, []item{{Line: 1, Code: CodeBareQuote, Col: 4}, {Fields: []string{"1", "2", "3"}, Line: 2}}},
		{"bare quote lazy", "a,b\"c,d\n", Options{LazyQuotes: true}, []item{{Fields: []string{"a", "b\"c", "d"}, Line: 1}}},
		{"after closing quote", "\"a\"x,b\n", Options{}, []item{{Line: 1, Code: CodeQuote, Col: 4}}},
		{"field count", "a,b\n1,2,3\n4,5\n", Options{FieldsPerRecord: 2}, []item{
			{Fields: []string{"a", "b"}, Line: 1}, {Line: 2, Code: CodeFieldCount, Col: 1}, {Fields: []string{"4", "5"}, Line: 3}}},
		{"bad utf-8", "a,b\n1,\xff\n3,4\n", Options{}, []item{
			{Fields: []string{"a", "b"}, Line: 1}, {Line: 2, Code: CodeBadEncoding, Col: 3}, {Fields: []string{"3", "4"}, Line: 3}}},
		{"latin1", "a,\xe9\n", Options{Encoding: Latin1}, []item{{Fields: []string{"a", "é"}, Line: 1}}},
		{"line too long", "a,b\n" + strings.Repeat("x", 40) + "\n1,2\n", Options{MaxLineBytes: 16}, []item{
			{Fields: []string{"a", "b"}, Line: 1}, {Line: 2, Code: CodeLineTooLong, Col: 17}, {Fields: []string{"1", "2"}, Line: 3}}},
		{"no quoting", "a\"b,\"c\n", Options{NoQuote: true}, []item{{Fields: []string{"a\"b", "\"c"}, Line: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, end := readAll(t, tt.input, tt.o)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v; want %+v", got, tt.want)
			}
			if end != int64(len(tt.input)) {
				t.Errorf("offset at the end %d; want %d", end, len(tt.input))
			}
		})
	}
}

// TestResume reads a file, then reads it again from every record's end
// offset and line: the rest must be the same.
func TestResume(t *testing.T) {
	input := "\uFEFFa;b;c\r\n1;\"x\ny\";3\r\n\r\n4;5;6\n7;\"bad;9\n10;11;12"
	o := Options{Comma: ';', FieldsPerRecord: 3}
	all, _ := readAll(t, input, o)
	r := NewReader(strings.NewReader(input), 0, 0, o)
	for i := 0; ; i++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Fatal(err)
		}
		off, line := r.Offset(), r.Line()
		rest, _ := readAll(t, "", o)
		r2 := NewReader(strings.NewReader(input[off:]), off, line, o)
		for {
			rec2, err2 := r2.Read()
			if errors.Is(err2, io.EOF) {
				break
			}
			var e2 *Error
			switch {
			case errors.As(err2, &e2):
				rest = append(rest, item{Line: e2.Line, Code: e2.Code, Col: e2.Col})
			case err2 != nil:
				t.Fatal(err2)
			default:
				rest = append(rest, item{Fields: rec2.Fields, Line: rec2.Line})
			}
		}
		if len(rest)+len(all[i+1:]) > 0 && !reflect.DeepEqual(rest, all[i+1:]) {
			t.Errorf("after record %d (offset %d, line %d): got %+v; want %+v", i, off, line, rest, all[i+1:])
		}
		_ = rec
	}
}

// TestAgreesWithEncodingCSV compares well-formed inputs with encoding/csv.
func TestAgreesWithEncodingCSV(t *testing.T) {
	for _, in := range []string{
		"a,b,c\n1,2,3\n",
		"\"a\",\"b\"\"\",c\r\n\"multi\nline\",x,y\n",
		",,\n\"\",\"\",\"\"\n",
	} {
		want, err := csv.NewReader(strings.NewReader(in)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := readAll(t, in, Options{})
		var fields [][]string
		for _, g := range got {
			fields = append(fields, g.Fields)
		}
		if !reflect.DeepEqual(fields, want) {
			t.Errorf("%q: got %q; encoding/csv %q", in, fields, want)
		}
	}
}
