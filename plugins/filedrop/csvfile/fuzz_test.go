package csvfile

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// FuzzRead checks that no input panics or loops, that records and errors
// cover the input in order without overlap and end at its end, that memory
// per record is bounded, and that resuming after any record reads the same
// rest. `go test` runs the seeds; `go test -fuzz FuzzRead` explores.
func FuzzRead(f *testing.F) {
	f.Add("a,b,c\n1,2,3\n", byte(','), 3)
	f.Add("\uFEFFa;b\r\n\"1;x\";\"y\"\"z\"\r\n", byte(';'), 2)
	f.Add("1,\"oops,3\n4,5,6\n", byte(','), 3)
	f.Add("a,\"x\ny\",b\n\"", byte(','), 0)
	f.Add("\xff\xfe,\"\"\"\n\n\r\n", byte(','), 1)
	f.Add(strings.Repeat("x", 100)+"\n1\n", byte('\t'), 1)
	f.Fuzz(func(t *testing.T, input string, comma byte, n int) {
		o := Options{Comma: comma, FieldsPerRecord: n % 8, MaxLineBytes: 64, MaxRecordLines: 4}
		if o.Check() != nil {
			return
		}
		r := NewReader(strings.NewReader(input), 0, 0, o)
		prevEnd, prevLine := int64(0), 0
		var ends []int64
		var lines []int
		for i := 0; ; i++ {
			if i > len(input)+1 {
				t.Fatalf("more reads than bytes: a loop")
			}
			rec, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			var off, end int64
			var line int
			var e *Error
			switch {
			case errors.As(err, &e):
				off, end, line = e.Offset, e.End, e.Line
				if e.Code == "" || e.Col < 1 {
					t.Fatalf("error without code or column: %+v", e)
				}
				if len(e.Raw) > 64*4+4 {
					t.Fatalf("error holds %d bytes", len(e.Raw))
				}
			case err != nil:
				t.Fatal(err)
			default:
				off, end, line = rec.Offset, rec.End, rec.Line
				if o.FieldsPerRecord > 0 && len(rec.Fields) != o.FieldsPerRecord {
					t.Fatalf("record with %d fields passed a check for %d", len(rec.Fields), o.FieldsPerRecord)
				}
			}
			if off < prevEnd || end <= off || line <= prevLine {
				t.Fatalf("record %d covers [%d,%d) line %d after [..,%d) line %d", i, off, end, line, prevEnd, prevLine)
			}
			prevEnd, prevLine = end, line
			ends = append(ends, r.Offset())
			lines = append(lines, r.Line())
		}
		if r.Offset() != int64(len(input)) {
			t.Fatalf("ended at %d of %d bytes", r.Offset(), len(input))
		}
		// Resume after the first record: the same number of items follow.
		if len(ends) > 1 {
			r2 := NewReader(strings.NewReader(input[ends[0]:]), ends[0], lines[0], o)
			k := 0
			for {
				_, err := r2.Read()
				if errors.Is(err, io.EOF) {
					break
				}
				var e *Error
				if err != nil && !errors.As(err, &e) {
					t.Fatal(err)
				}
				k++
			}
			if k != len(ends)-1 {
				t.Fatalf("resumed after the first record: %d items; want %d", k, len(ends)-1)
			}
		}
	})
}
