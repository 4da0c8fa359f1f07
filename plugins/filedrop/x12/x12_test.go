package x12

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/draylink/dray/canonical/localtime"
)

func fixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/fixtures/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const (
	f945 = "x12_945_SO-778812.edi"
	f214 = "x12_214_SHP25031407.edi"
)

func mustParse(t testing.TB, s string) *Interchange {
	t.Helper()
	ic, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return ic
}

// shape is the structure of an interchange without offsets, for comparing
// the same content in different layouts.
func shape(ic *Interchange) [][]string {
	out := [][]string{ic.Header.Elements}
	for _, g := range ic.Groups {
		out = append(out, g.Header.Elements)
		for _, s := range g.Sets {
			for _, seg := range s.Segments {
				out = append(out, seg.Elements)
			}
			for _, e := range s.Errors {
				out = append(out, []string{"error", e.Code(), e.SegmentID})
			}
		}
		out = append(out, g.Trailer.Elements)
	}
	return append(out, ic.Trailer.Elements)
}

func TestParseFixtures(t *testing.T) {
	ic := mustParse(t, fixture(t, f214))
	if got, want := ic.Delimiters, (Delimiters{Element: '*', Component: '>', Segment: '~'}); got != want {
		t.Errorf("delimiters %+v; want %+v", got, want)
	}
	if ic.SenderID != "XMPL" || ic.SenderQualifier != "02" || ic.ReceiverID != "ACMEFOODS" || ic.ControlNumber != "000007731" {
		t.Errorf("ISA fields: %q %q %q %q", ic.SenderQualifier, ic.SenderID, ic.ReceiverID, ic.ControlNumber)
	}
	if want := (localtime.Wall{Year: 2025, Month: 3, Day: 15, Hour: 9, Minute: 31}); ic.Date != want {
		t.Errorf("ISA date %v; want %v", ic.Date, want)
	}
	if ic.Newline != "\n" || ic.Version != "00401" || ic.Usage != "P" || ic.AckRequested {
		t.Errorf("newline %q version %q usage %q ack %v", ic.Newline, ic.Version, ic.Usage, ic.AckRequested)
	}
	if len(ic.Groups) != 1 || len(ic.Groups[0].Sets) != 5 {
		t.Fatalf("%d groups; want 1 with 5 sets", len(ic.Groups))
	}
	g := ic.Groups[0]
	if g.FunctionalID != "QM" || g.ControlNumber != "7731" || g.Version != "004010" ||
		g.Date != (localtime.Wall{Year: 2025, Month: 3, Day: 15, Hour: 9, Minute: 31}) {
		t.Errorf("group %+v", g)
	}
	s := g.Sets[1]
	if s.ID != "214" || s.ControlNumber != "0002" || !s.OK() || len(s.Segments) != 14 || len(s.Body()) != 12 {
		t.Errorf("set 2: id %s ctl %s ok %v segments %d", s.ID, s.ControlNumber, s.OK(), len(s.Segments))
	}
	at7 := s.Segments[9]
	if at7.ID != "AT7" || at7.Pos != 10 || at7.Elem(1) != "AF" || at7.Elem(5) != "20250314" || at7.Elem(7) != "LT" || at7.Elem(8) != "" {
		t.Errorf("AT7 = %v pos %d", at7.Elements, at7.Pos)
	}
	raw := fixture(t, f214)
	if at7.Offset != strings.Index(raw, "AT7*AF") {
		t.Errorf("AT7 offset %d; want %d", at7.Offset, strings.Index(raw, "AT7*AF"))
	}
	if !strings.HasPrefix(s.Raw, "ST*214*0002~") || !strings.HasSuffix(s.Raw, "SE*14*0002~") {
		t.Errorf("raw set = %q", s.Raw)
	}
	if got, want := ic.Ref(g, s), "ISA13=000007731;GS06=7731;ST02=0002"; got != want {
		t.Errorf("Ref = %q; want %q", got, want)
	}
	if got, want := ic.Key(), "02/XMPL/ZZ/ACMEFOODS/000007731"; got != want {
		t.Errorf("Key = %q; want %q", got, want)
	}

	ic = mustParse(t, fixture(t, f945))
	s = ic.Groups[0].Sets[0]
	if s.ID != "945" || len(s.Segments) != 23 || !s.OK() {
		t.Fatalf("945: %s %d %v", s.ID, len(s.Segments), s.Errors)
	}
	w12 := s.Segments[18]
	if w12.ID != "W12" || w12.Elem(1) != "CP" || w12.Elem(3) != "8" || w12.Elem(9) != "L2502C" || w12.Elem(17) != "UK" || w12.Elem(18) != "10614141001023" {
		t.Errorf("W12 = %v", w12.Elements)
	}
}

func TestComponentsAndRepeats(t *testing.T) {
	seg := Segment{ID: "QTY", Elements: []string{"QTY", "17", "120", "CA>2>X"}, d: Delimiters{Element: '*', Component: '>', Repetition: '^', Segment: '~'}}
	for _, c := range []struct {
		i, j int
		want string
	}{{3, 1, "CA"}, {3, 2, "2"}, {3, 3, "X"}, {3, 4, ""}, {2, 1, "120"}, {9, 1, ""}} {
		if got := seg.Component(c.i, c.j); got != c.want {
			t.Errorf("Component(%d, %d) = %q; want %q", c.i, c.j, got, c.want)
		}
	}
	seg.Elements[2] = "A^B^C"
	if got := seg.Repeats(2); !reflect.DeepEqual(got, []string{"A", "B", "C"}) {
		t.Errorf("Repeats = %q", got)
	}
	seg.d.Repetition = 0
	if got := seg.Repeats(2); !reflect.DeepEqual(got, []string{"A^B^C"}) {
		t.Errorf("Repeats without separator = %q", got)
	}
}

// TestLayouts reads the same interchange in every layout a file drop sees.
func TestLayouts(t *testing.T) {
	lf := fixture(t, f214)
	want := shape(mustParse(t, lf))
	custom := func(s string) string {
		// | elements, ^ components, newline terminators, no tildes left.
		s = strings.ReplaceAll(s, "~\n", "\n")
		s = strings.ReplaceAll(s, "*", "|")
		return strings.Replace(s, "|>\n", "|^\n", 1)
	}
	v501 := func(s string) string {
		s = strings.Replace(s, "*U*00401*", "*!*00501*", 1)
		return strings.ReplaceAll(s, "*004010~", "*005010~")
	}
	cases := []struct {
		name  string
		input string
		delim Delimiters
		nl    string
	}{
		{"lf", lf, Delimiters{'*', '>', 0, '~'}, "\n"},
		{"no newlines", strings.ReplaceAll(lf, "\n", ""), Delimiters{'*', '>', 0, '~'}, ""},
		{"crlf", strings.ReplaceAll(lf, "\n", "\r\n"), Delimiters{'*', '>', 0, '~'}, "\r\n"},
		{"bom and trailing whitespace", "\ufeff" + lf + "\n\r\n  \t\n", Delimiters{'*', '>', 0, '~'}, "\n"},
		{"blank lines between segments", strings.ReplaceAll(lf, "~\n", "~\n\n  "), Delimiters{'*', '>', 0, '~'}, "\n"},
		{"custom delimiters", custom(lf), Delimiters{'|', '^', 0, '\n'}, ""},
		{"custom delimiters crlf", strings.ReplaceAll(custom(lf), "\n", "\r\n"), Delimiters{'|', '^', 0, '\r'}, "\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ic := mustParse(t, c.input)
			if ic.Delimiters != c.delim {
				t.Errorf("delimiters %q; want %q", []byte{ic.Delimiters.Element, ic.Delimiters.Component, ic.Delimiters.Repetition, ic.Delimiters.Segment},
					[]byte{c.delim.Element, c.delim.Component, c.delim.Repetition, c.delim.Segment})
			}
			if ic.Newline != c.nl {
				t.Errorf("newline %q; want %q", ic.Newline, c.nl)
			}
			got := shape(ic)
			if c.name == "custom delimiters" || c.name == "custom delimiters crlf" {
				got[0][16] = ">" // ISA16 differs by construction
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("structure differs:\ngot  %q\nwant %q", got, want)
			}
		})
	}

	t.Run("00501 repetition separator", func(t *testing.T) {
		ic := mustParse(t, v501(lf))
		if ic.Delimiters.Repetition != '!' || ic.Version != "00501" || ic.Groups[0].Version != "005010" {
			t.Errorf("delimiters %+v version %s/%s", ic.Delimiters, ic.Version, ic.Groups[0].Version)
		}
	})
}

func TestEnvelopeErrors(t *testing.T) {
	good := fixture(t, f214)
	cut := func(marker string) string { return good[:strings.Index(good, marker)] }
	cases := []struct {
		name    string
		input   string
		code    string
		segment string
		element int
		at      string // the offset is where this text starts in input ("" for no check)
	}{
		{"empty", "  \n", CodeEmpty, "", 0, ""},
		{"not x12", "name,qty\nA,1\n", CodeNoISA, "", 0, ""},
		{"short ISA06", strings.Replace(good, "XMPL           ", "XMPL          ", 1), CodeISALength, "ISA", 6, "ISA"},
		{"long ISA13", strings.Replace(good, "*000007731*0*P", "*0000007731*0*P", 1), CodeISALength, "ISA", 13, "ISA"},
		{"short file", good[:80], CodeISALength, "ISA", 0, "ISA"},
		{"ISA13/IEA02 mismatch", strings.Replace(good, "IEA*1*000007731", "IEA*1*000007732", 1), CodeControlMismatch, "IEA", 2, "IEA*1"},
		{"IEA01 count", strings.Replace(good, "IEA*1*", "IEA*2*", 1), CodeGroupCount, "IEA", 1, "IEA*2"},
		{"GS06/GE02 mismatch", strings.Replace(good, "GE*5*7731", "GE*5*7730", 1), CodeControlMismatch, "GE", 2, "GE*5"},
		{"GE01 count", strings.Replace(good, "GE*5*7731", "GE*4*7731", 1), CodeSetCount, "GE", 1, "GE*4"},
		{"truncated before IEA", cut("IEA"), CodeTruncated, "", 0, ""},
		{"truncated before GE", cut("GE*5"), CodeTruncated, "", 0, ""},
		{"truncated mid-set", cut("ST*214*0004"), CodeTruncated, "", 0, ""},
		{"truncated mid-segment", cut("IEA") + "IEA*1*0000", CodeTruncated, "IEA", 0, "IEA*1*0000"},
		{"unsupported ISA12", strings.Replace(good, "*U*00401*", "*U*00306*", 1), CodeUnsupportedVersion, "ISA", 12, "ISA"},
		{"unsupported GS08", strings.Replace(good, "*X*004010~", "*X*003040~", 1), CodeUnsupportedVersion, "GS", 8, "GS*"},
		{"bad ISA date", strings.Replace(good, "*250315*0931*", "*250230*0931*", 1), CodeBadDate, "ISA", 9, "ISA"},
		{"bad GS time", strings.Replace(good, "*20250315*0931*", "*20250315*2461*", 1), CodeBadDate, "GS", 4, "GS*"},
		{"ISA13 not digits", strings.Replace(good, "*000007731*0*P", "*00000773A*0*P", 1), CodeBadElement, "ISA", 13, "ISA"},
		{"ISA15", strings.Replace(good, "*0*P*>~", "*0*X*>~", 1), CodeBadElement, "ISA", 15, "ISA"},
		{"delimiter clash", strings.Replace(good, "*P*>~", "*P**~", 1), CodeDelimiters, "ISA", 0, "ISA"},
		{"alphanumeric terminator", strings.Replace(good, "*P*>~", "*P*>A", 1), CodeDelimiters, "ISA", 0, "ISA"},
		{"duplicate GS06", strings.Replace(good, "IEA*1*", "GS*QM*XMPL*ACMEFOODS*20250315*0931*7731*X*004010~\nGE*0*7731~\nIEA*2*", 1),
			CodeDuplicateControl, "GS", 6, "GS*QM*XMPL*ACMEFOODS*20250315*0931*7731*X*004010~\nGE*0"},
		{"segment between sets", strings.Replace(good, "ST*214*0002", "NTE*X~\nST*214*0002", 1), CodeUnexpectedSegment, "NTE", 0, "NTE*X"},
		{"bad segment outside a set", strings.Replace(good, "GE*5", "G E*5", 1), CodeBadSegment, "G E", 0, "G E*5"},
		{"trailing data", good + "garbage", CodeTrailingData, "", 0, "garbage"},
		{"second interchange", good + good, CodeTrailingData, "", 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ic, err := Parse([]byte(c.input))
			if ic != nil {
				t.Errorf("interchange returned with an envelope error")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v; want an *Error", err)
			}
			if e.Code() != c.code || e.SegmentID != c.segment || e.Element != c.element {
				t.Errorf("got %s at %s element %d; want %s at %q element %d\n%v", e.Code(), e.SegmentID, e.Element, c.code, c.segment, c.element, e)
			}
			if !e.Envelope() {
				t.Errorf("Envelope() = false for %s", e.Code())
			}
			if c.at != "" {
				if want := strings.LastIndex(c.input, c.at); c.at == "ISA" && e.Offset != 0 || c.at != "ISA" && e.Offset != want {
					t.Errorf("offset %d; want %d", e.Offset, want)
				}
			}
			if e.SegmentID != "" && e.SegmentID != "ISA" && e.Interchange != "000007731" {
				t.Errorf("error does not name the interchange: %v", e)
			}
			if !strings.Contains(e.Error(), c.code) {
				t.Errorf("message %q lacks the code", e.Error())
			}
		})
	}
}

// TestSetErrors checks that a bad set is rejected alone, located, and the
// others still come out.
func TestSetErrors(t *testing.T) {
	good := fixture(t, f214)
	cases := []struct {
		name    string
		input   string
		bad     string // ST02 of the bad set
		code    string
		segment string
		pos     int // position within the set
		element int
		at      string // the error's offset is where this text starts
	}{
		{"SE count", strings.Replace(good, "SE*14*0002", "SE*13*0002", 1), "0002", CodeSECount, "SE", 14, 1, "SE*13*0002"},
		{"SE count not a number", strings.Replace(good, "SE*14*0002", "SE*1A*0002", 1), "0002", CodeSECount, "SE", 14, 1, "SE*1A*0002"},
		{"ST02/SE02 mismatch", strings.Replace(good, "SE*14*0003", "SE*14*0033", 1), "0003", CodeControlMismatch, "SE", 14, 2, "SE*14*0033"},
		{"missing SE", strings.Replace(good, "SE*13*0004~\n", "", 1), "0004", CodeSEMissing, "MS2", 12, 0, "MS2*XMPL*531204*TL~\nST*214*0005"},
		{"bad segment ID", strings.Replace(good, "K1*SEVERE", "k1*SEVERE", 1), "0003", CodeBadSegment, "k1", 13, 0, "k1*SEVERE"},
		{"control character", strings.Replace(good, "K1*SEVERE WEATHER", "K1*SEVERE\x01WEATHER", 1), "0003", CodeBadSegment, "K1", 13, 1, "K1*SEVERE"},
		{"lost terminator", strings.Replace(good, "MS1*BIRMINGHAM*AL*US~\n", "MS1*BIRMINGHAM*AL*US\n", 1), "0003", CodeBadSegment, "MS1", 11, 3, "MS1*BIRMINGHAM"},
		{"duplicate ST02", strings.Replace(strings.Replace(good, "ST*214*0005", "ST*214*0001", 1), "SE*15*0005", "SE*15*0001", 1), "", CodeDuplicateControl, "ST", 1, 2, "ST*214*0001~\nB10*7781204556*SHP25031407*XMPL~\nL11*06141410000123452*BM~\nL11*PO-99120*PO~\nN1*SH*NORTHWIND 3PL MEMPHIS*UL*0614141000104~\nN4*MEMPHIS*TN*38118*US~\nN1*CN*ACME RETAIL DC 7*UL*0614141000203~\nN4*ATLANTA*GA*30336*US~\nLX*1~\nAT7*D1"},
		{"bad ST02", strings.Replace(strings.Replace(good, "ST*214*0003", "ST*214*3", 1), "SE*14*0003", "SE*14*3", 1), "3", CodeBadElement, "ST", 1, 2, "ST*214*3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ic := mustParse(t, c.input)
			var bad []*Set
			n := 0
			for _, s := range ic.Sets() {
				n++
				if !s.OK() {
					bad = append(bad, s)
				}
			}
			if n != 5 || len(bad) != 1 {
				t.Fatalf("%d sets, %d bad; want 5 and 1", n, len(bad))
			}
			s := bad[0]
			if c.bad != "" && s.ControlNumber != c.bad {
				t.Errorf("bad set %s; want %s", s.ControlNumber, c.bad)
			}
			e := s.Errors[0]
			if e.Code() != c.code || e.SegmentID != c.segment || e.Segment != c.pos || e.Element != c.element {
				t.Errorf("got %s at %s #%d element %d; want %s at %s #%d element %d\n%v",
					e.Code(), e.SegmentID, e.Segment, e.Element, c.code, c.segment, c.pos, c.element, e)
			}
			if want := strings.LastIndex(c.input, c.at); e.Offset != want {
				t.Errorf("offset %d; want %d", e.Offset, want)
			}
			if e.Envelope() || e.Interchange != "000007731" || e.Group != "7731" || e.Set != s.ControlNumber || e.SetID != "214" {
				t.Errorf("location: %+v", e)
			}
		})
	}
}

func TestParseAll(t *testing.T) {
	a, b := fixture(t, f945), fixture(t, f214)
	ics, err := ParseAll([]byte(a + "\r\n" + b))
	if err != nil || len(ics) != 2 || ics[0].ControlNumber != "000004512" || ics[1].ControlNumber != "000007731" {
		t.Fatalf("ParseAll = %d interchanges, %v", len(ics), err)
	}
	if ics[1].Offset != len(a)+2 || ics[0].End > ics[1].Offset {
		t.Errorf("offsets %d..%d, %d", ics[0].Offset, ics[0].End, ics[1].Offset)
	}
	ics, err = ParseAll([]byte(a + strings.Replace(b, "IEA*1*000007731", "IEA*1*000007732", 1)))
	if len(ics) != 1 || err == nil {
		t.Errorf("ParseAll with a bad second interchange = %d, %v; want the first and an error", len(ics), err)
	}
}

func TestLimits(t *testing.T) {
	good := fixture(t, f214)
	if _, err := (Parser{MaxBytes: 100}).Parse([]byte(good)); codeOf(err) != CodeTooLarge {
		t.Errorf("MaxBytes: %v", err)
	}
	wide := strings.Replace(good, "K1*SEVERE", "K1"+strings.Repeat("*", 20)+"SEVERE", 1)
	if _, err := (Parser{MaxElements: 10}).Parse([]byte(wide)); codeOf(err) != CodeTooLarge {
		t.Errorf("MaxElements: %v", err)
	}
	if _, err := (Parser{MaxElements: 30}).Parse([]byte(wide)); err != nil {
		t.Errorf("within MaxElements: %v", err)
	}
}

func codeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return ""
}

func TestParseDateTime(t *testing.T) {
	w := func(y, mo, d, h, mi, s, ns int) localtime.Wall {
		return localtime.Wall{Year: y, Month: time.Month(mo), Day: d, Hour: h, Minute: mi, Second: s, Nanosecond: ns}
	}
	cases := []struct {
		date, tm string
		want     localtime.Wall
		ok       bool
	}{
		{"250314", "1601", w(2025, 3, 14, 16, 1, 0, 0), true},
		{"790101", "", w(2079, 1, 1, 0, 0, 0, 0), true},
		{"800101", "", w(1980, 1, 1, 0, 0, 0, 0), true},
		{"991231", "2359", w(1999, 12, 31, 23, 59, 0, 0), true},
		{"20250314", "154830", w(2025, 3, 14, 15, 48, 30, 0), true},
		{"20250314", "1548305", w(2025, 3, 14, 15, 48, 30, 500_000_000), true},
		{"20250314", "15483012", w(2025, 3, 14, 15, 48, 30, 120_000_000), true},
		{"20240229", "", w(2024, 2, 29, 0, 0, 0, 0), true},
		{"20250229", "", localtime.Wall{}, false},
		{"20251301", "", localtime.Wall{}, false},
		{"2025031", "", localtime.Wall{}, false},
		{"20250314", "2400", localtime.Wall{}, false},
		{"20250314", "12601", localtime.Wall{}, false},
		{"20250314", "1260", localtime.Wall{}, false},
		{"2025-3-1", "", localtime.Wall{}, false},
	}
	for _, c := range cases {
		got, err := ParseDateTime(c.date, c.tm)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseDateTime(%q, %q) = %v, %v; want %v ok=%v", c.date, c.tm, got, err, c.want, c.ok)
		}
		var ie *localtime.InvalidError
		if err != nil && (!errors.As(err, &ie) || ie.Code() != "time_invalid") {
			t.Errorf("error %v is not time_invalid", err)
		}
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	for _, name := range []string{f945, f214} {
		in := fixture(t, name)
		ic := mustParse(t, in)
		out := ic.Encode()
		if string(out) != in {
			t.Errorf("%s: Encode differs from the input:\n%s", name, out)
		}
	}
}

func TestPosition(t *testing.T) {
	data := []byte("ab\ncd\r\nef")
	for _, c := range []struct{ off, line, col int }{{0, 1, 1}, {1, 1, 2}, {3, 2, 1}, {7, 3, 1}, {8, 3, 2}, {99, 3, 3}} {
		if l, col := Position(data, c.off); l != c.line || col != c.col {
			t.Errorf("Position(%d) = %d:%d; want %d:%d", c.off, l, col, c.line, c.col)
		}
	}
}
