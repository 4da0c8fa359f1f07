package x12

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// FuzzParse checks that no input panics, that memory stays linear in the
// input, that whatever parses re-encodes to segments that parse to the same
// structure, and that the 997 for it is itself a valid interchange.
// `go test` runs the seeds; `go test -fuzz FuzzParse` explores.
func FuzzParse(f *testing.F) {
	for _, name := range []string{f945, f214} {
		b, err := os.ReadFile(filepath.Join("testdata/fixtures", name))
		if err != nil {
			f.Fatal(err)
		}
		s := string(b)
		f.Add(b)
		f.Add([]byte(strings.ReplaceAll(s, "\n", "")))
		f.Add([]byte(strings.ReplaceAll(s, "\n", "\r\n")))
		f.Add([]byte(strings.Replace(s, "SE*", "SE*9", 1)))
		f.Add([]byte(s[:len(s)/2]))
		f.Add([]byte(s + s))
	}
	inputs, _ := filepath.Glob("testdata/ack/*/input.edi")
	for _, p := range inputs {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("ISA"))
	f.Add([]byte("\ufeffISA*00*          *00*          *ZZ*A              *ZZ*B              *250314*1601*U*00401*000000001*0*P*>~IEA*0*000000001~"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ics, err := ParseAll(data)
		if err != nil {
			if e := (*Error)(nil); !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
		}
		for _, ic := range ics {
			out := ic.Encode()
			if len(out) > 3*len(data)+8 {
				t.Fatalf("encoded %d bytes from %d", len(out), len(data))
			}
			again, err := Parse(out)
			if err != nil {
				t.Fatalf("re-encoded interchange does not parse: %v\n%q", err, out)
			}
			if got, want := shape(again), shape(ic); !reflect.DeepEqual(got, want) {
				t.Fatalf("re-encoded structure differs:\ngot  %q\nwant %q", got, want)
			}
			if a := Acknowledge(ic, nil); a != nil {
				b, err := a.Encode997(Outbound{Counter: counterFrom(0), Now: ackTime})
				if err != nil {
					t.Fatal(err)
				}
				fa, err := Parse(b)
				if err != nil {
					t.Fatalf("997 does not parse: %v\n%s", err, b)
				}
				for _, s := range fa.Groups[0].Sets {
					if !s.OK() {
						t.Fatalf("997 set invalid: %v\n%s", s.Errors, b)
					}
				}
			}
		}
	})
}

// TestMemoryBound measures what a parse allocates per input byte, for a
// real file and for the worst shape (the smallest possible segments).
func TestMemoryBound(t *testing.T) {
	isa := "ISA*00*          *00*          *ZZ*A              *ZZ*B              *250314*1601*U*00401*000000001*0*P*>~"
	var worst strings.Builder
	worst.WriteString(isa + "GS*SW*A*B*20250314*1601*1*X*004010~ST*945*0001~")
	const n = 200_000
	for range n {
		worst.WriteString("AB~")
	}
	worst.WriteString("SE*200002*0001~GE*1*1~IEA*1*000000001~")
	cases := []struct {
		name   string
		data   []byte
		factor float64
	}{
		{"214 fixture", []byte(fixture(t, f214)), 12},
		{"2-byte segments", []byte(worst.String()), 40},
	}
	for _, c := range cases {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		ic, err := Parse(c.data)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		got := float64(after.TotalAlloc-before.TotalAlloc) / float64(len(c.data))
		t.Logf("%s: %d bytes in, %.1f bytes allocated per byte", c.name, len(c.data), got)
		if got > c.factor {
			t.Errorf("%s: %.1f bytes allocated per input byte; want at most %.0f", c.name, got, c.factor)
		}
		runtime.KeepAlive(ic)
	}
}

func BenchmarkParse(b *testing.B) {
	data := []byte(fixture(b, f214))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
