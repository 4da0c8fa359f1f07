package x12

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden 997 files")

var chicago = func() *time.Location {
	loc, err := time.LoadLocation("America/Chicago")
	if err != nil {
		panic(err)
	}
	return loc
}()

// ackTime is when the test 997s are made: 2025-03-15 09:40 in Memphis.
var ackTime = time.Date(2025, 3, 15, 9, 40, 0, 0, chicago)

func counterFrom(n uint64) Counter {
	return CounterFunc(func() (uint64, error) { n++; return n, nil })
}

// supportedSets is what dray maps; an 810 is refused with AK5 code 1.
func supportedSets(id string) bool {
	switch id {
	case "940", "943", "944", "945", "846", "856", "204", "214", "210":
		return true
	}
	return false
}

// TestAck997Golden builds the 997 for every input under testdata/ack and
// compares it with want.997 (rewrite with -update).
func TestAck997Golden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/ack/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join(dir, "input.edi"))
			if err != nil {
				t.Fatal(err)
			}
			ic := mustParse(t, string(in))
			a := Acknowledge(ic, supportedSets)
			got, err := a.Encode997(Outbound{Counter: counterFrom(900), Now: ackTime})
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "want.997")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("997 differs from %s:\ngot:\n%s\nwant:\n%s", path, got, want)
			}
			check997(t, ic, a, got)
		})
	}
}

// check997 parses a generated 997 and checks its envelope against the
// interchange it answers.
func check997(t *testing.T, ic *Interchange, a *Ack, b []byte) {
	t.Helper()
	out, err := Parse(b)
	if err != nil {
		t.Fatalf("the 997 does not parse: %v\n%s", err, b)
	}
	if out.Delimiters != ic.Delimiters || out.Version != ic.Version || out.Newline != ic.Newline {
		t.Errorf("997 delimiters %+v version %s; want %+v %s", out.Delimiters, out.Version, ic.Delimiters, ic.Version)
	}
	if out.SenderID != ic.ReceiverID || out.ReceiverID != ic.SenderID ||
		out.SenderQualifier != ic.ReceiverQualifier || out.ReceiverQualifier != ic.SenderQualifier {
		t.Errorf("997 from %s to %s; want sender and receiver of %s swapped", out.SenderID, out.ReceiverID, ic.Key())
	}
	if out.ControlNumber == ic.ControlNumber || out.AckRequested {
		t.Errorf("997 ISA13 %s (received %s), ISA14 %v", out.ControlNumber, ic.ControlNumber, out.AckRequested)
	}
	if len(out.Groups) != 1 || out.Groups[0].FunctionalID != "FA" || len(out.Groups[0].Sets) != len(a.Groups) {
		t.Fatalf("997 groups: %+v", out.Groups)
	}
	for _, s := range out.Groups[0].Sets {
		if !s.OK() || s.ID != "997" {
			t.Errorf("997 set %s: %v", s.ID, s.Errors)
		}
	}
}

func TestAcknowledgeSEMismatch(t *testing.T) {
	in := strings.Replace(fixture(t, f214), "SE*14*0002", "SE*13*0002", 1)
	a := Acknowledge(mustParse(t, in), supportedSets)
	g := a.Groups[0]
	if g.Code != AckPartial || g.Included != 5 || g.Received != 5 || g.Accepted != 4 {
		t.Errorf("AK9 %s %d %d %d; want P 5 5 4", g.Code, g.Included, g.Received, g.Accepted)
	}
	for i, s := range g.Sets {
		want := SetAck{SetID: "214", ControlNumber: s.ControlNumber, Code: AckAccepted}
		if i == 1 {
			want.Code, want.Errors, want.Causes = AckRejected, []string{"4"}, s.Causes
			if len(s.Causes) != 1 || s.Causes[0].Code() != CodeSECount {
				t.Errorf("causes %v", s.Causes)
			}
		}
		if !reflect.DeepEqual(s, want) {
			t.Errorf("set %d: %+v; want %+v", i+1, s, want)
		}
	}
	if a.Status() != AckPartial {
		t.Errorf("status %s", a.Status())
	}
}

func TestAcknowledgeNothing(t *testing.T) {
	// An inbound 997 is never acknowledged.
	in := fixture(t, f945)
	ic := mustParse(t, in)
	b, err := Acknowledge(ic, nil).Encode997(Outbound{Counter: counterFrom(0), Now: ackTime})
	if err != nil {
		t.Fatal(err)
	}
	fa := mustParse(t, string(b))
	if a := Acknowledge(fa, nil); a != nil {
		t.Errorf("Acknowledge(997) = %+v; want nil", a)
	}
}

func TestEncode997Errors(t *testing.T) {
	a := Acknowledge(mustParse(t, fixture(t, f945)), nil)
	failing := CounterFunc(func() (uint64, error) { return 0, errors.New("disk full") })
	cases := []struct {
		name string
		o    Outbound
	}{
		{"no counter", Outbound{Now: ackTime}},
		{"no time", Outbound{Counter: counterFrom(0)}},
		{"counter fails", Outbound{Counter: failing, Now: ackTime}},
		{"out of range", Outbound{Counter: counterFrom(999_999_999), Now: ackTime}},
	}
	for _, c := range cases {
		if b, err := a.Encode997(c.o); err == nil || b != nil {
			t.Errorf("%s: got %q, %v; want an error", c.name, b, err)
		}
	}
}
