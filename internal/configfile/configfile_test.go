package configfile

import (
	"errors"
	"strings"
	"testing"
	"time"
)

type sample struct {
	Name    string   `yaml:"name"`
	Rate    int      `yaml:"rate"`
	Timeout Duration `yaml:"timeout"`
	Max     ByteSize `yaml:"max"`
	Nested  struct {
		Addr string `yaml:"addr"`
	} `yaml:"nested"`
	defaulted bool
}

func (s *sample) SetDefaults() {
	s.defaulted = true
	if s.Timeout == 0 {
		s.Timeout = Duration(5 * time.Second)
	}
}

func (s *sample) Validate(errs *Errors) {
	if s.Name == "" {
		errs.Add("name", "required")
	}
	if s.Rate < 0 {
		errs.Add("rate", "must not be negative, got %d", s.Rate)
	}
}

func TestDecode(t *testing.T) {
	var s sample
	err := Decode([]byte("name: a\nrate: 5\nmax: 10GiB\nnested:\n  addr: x:1\n"), &s)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "a" || s.Rate != 5 || s.Max != 10<<30 || s.Nested.Addr != "x:1" || s.Timeout.D() != 5*time.Second || !s.defaulted {
		t.Fatalf("decoded %+v", s)
	}
}

func TestDecodeReportsEveryProblem(t *testing.T) {
	var s sample
	err := Decode([]byte("nmea: a\nrate: -1\ntimeout: 5 minutes\nnested:\n  adr: x\n"), &s)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v; want *Error", err)
	}
	msg := err.Error()
	for _, want := range []string{"line 1", "nmea", "line 3", "5 minutes", "line 5", "adr"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %q:\n%s", want, msg)
		}
	}
	// Validation problems are all reported too once the YAML is well formed.
	err = Decode([]byte("rate: -1\n"), &s)
	if !errors.As(err, &ce) || len(ce.Errors) != 2 || ce.Errors[0].Path != "name" || ce.Errors[1].Path != "rate" {
		t.Fatalf("err = %v; want name and rate problems", err)
	}
}

func TestDecodeRefusesTwoDocuments(t *testing.T) {
	var s sample
	if err := Decode([]byte("name: a\n---\nname: b\n"), &s); err == nil {
		t.Fatal("two documents accepted")
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"0": 0, "512": 512, "64KB": 64000, "64KiB": 65536, "1 GiB": 1 << 30, "3TB": 3e12} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1.5GiB", "ten", "9999999999999TiB"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) accepted", in)
		}
	}
}
