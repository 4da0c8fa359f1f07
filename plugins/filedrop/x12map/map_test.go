package x12map

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/filedrop/x12"
)

var update = flag.Bool("update", false, "rewrite the golden want.json files")

// ackTime is when the test site makes its 997s.
var ackTime = time.Date(2025, 3, 15, 14, 40, 0, 0, time.UTC)

// testConfig is site MEM1, the Memphis 3PL of the fixtures: it holds ACME's
// goods, runs as NORTHWIND3PL, and works with carrier XMPL.
func testConfig() Config {
	charges := maps.Clone(DefaultChargeCodes)
	charges["DSC"] = canonical.ChargeCode_CHARGE_CODE_DISCOUNT
	return Config{
		SiteID:   "MEM1",
		TimeZone: "America/Chicago",
		Partners: map[string]Partner{
			"ACMEFOODS":    {OwnerID: "ACME"},
			"NORTHWIND3PL": {},
			"XMPL":         {SCAC: "XMPL", Name: "XAMPLE FREIGHT LINES"},
		},
		ChargeCodes: charges,
		Now:         func() time.Time { return ackTime },
	}
}

// outcome is what one input file gives: the parse error, or the mapping
// result and the 997 bytes.
type outcome struct {
	ParseError *parseError       `json:"parseError,omitempty"`
	Events     []json.RawMessage `json:"events,omitempty"`
	Rejects    []rejectJSON      `json:"rejects,omitempty"`
	Warnings   []rejectJSON      `json:"warnings,omitempty"`
	Ack        json.RawMessage   `json:"ack,omitempty"`
	Ack997     []string          `json:"ack997,omitempty"`

	res Result
	ic  *x12.Interchange
}

type parseError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
}

// rejectJSON is a Reject without its payload, which is the set's text.
type rejectJSON struct {
	Code, Reason, Ref, SetID, SegmentID string
	Segment, Element, Offset            int
	PayloadBytes                        int
}

func toJSON(rs []Reject) []rejectJSON {
	var out []rejectJSON
	for _, r := range rs {
		out = append(out, rejectJSON{r.Code, r.Reason, r.Ref, r.SetID, r.SegmentID, r.Segment, r.Element, r.Offset, len(r.Payload)})
	}
	return out
}

// run parses, maps and acknowledges one file, as the connector will.
func run(t testing.TB, data []byte) outcome {
	t.Helper()
	ic, err := x12.Parse(data)
	if err != nil {
		var xe *x12.Error
		if !errors.As(err, &xe) {
			t.Fatalf("parse error %T: %v", err, err)
		}
		line, col := x12.Position(data, xe.Offset)
		return outcome{ParseError: &parseError{Code: xe.Code(), Message: xe.Error(), Line: line, Column: col}}
	}
	res, err := Map(testConfig(), ic)
	if err != nil {
		t.Fatalf("map: %v", err)
	}
	o := outcome{res: res, ic: ic, Rejects: toJSON(res.Rejects), Warnings: toJSON(res.Warnings)}
	for _, e := range res.Events {
		o.Events = append(o.Events, marshal(t, e))
	}
	if res.Ack != nil {
		o.Ack = marshal(t, res.Ack)
		b, err := x12.Acknowledge(ic, Supported).Encode997(x12.Outbound{
			Counter: x12.CounterFunc(func() (uint64, error) { return 9001, nil }), Now: ackTime.In(chicago)})
		if err != nil {
			t.Fatal(err)
		}
		o.Ack997 = strings.SplitAfter(strings.TrimSpace(string(b)), "~\n")
	}
	return o
}

func marshal(t testing.TB, e *canonical.Event) json.RawMessage {
	t.Helper()
	b, err := canonical.MarshalJSON(e)
	if err != nil {
		t.Fatalf("marshal %s: %v", e.GetType(), err)
	}
	if _, err := canonical.UnmarshalJSON(b); err != nil {
		t.Fatalf("%s does not read back: %v", e.GetType(), err)
	}
	return b
}

// TestGolden maps every testdata/<case>/input.edi and compares the outcome
// with want.json (rewrite with -update).
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/input.edi")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, in := range dirs {
		dir := filepath.Dir(in)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			o := run(t, data)
			b, err := json.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := json.Indent(&got, b, "", "  "); err != nil {
				t.Fatal(err)
			}
			got.WriteByte('\n')
			path := filepath.Join(dir, "want.json")
			if *update {
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("outcome differs from %s:\n%s", path, diff(string(want), got.String()))
			}
		})
	}
}

// diff shows the first lines where two texts differ.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\nwant: " + a + "\ngot:  " + b
		}
	}
	return "(no difference)"
}

var chicago = func() *time.Location {
	loc, err := time.LoadLocation("America/Chicago")
	if err != nil {
		panic(err)
	}
	return loc
}()
