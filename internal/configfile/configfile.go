// Package configfile loads dray's YAML configuration files the same way for
// every binary: strictly (an unknown key is an error, reported with its line,
// so a typo never silently falls back to a default), then validated with
// every field error reported at once, each with its path.
package configfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Validator is implemented by configuration structs: Validate appends every
// problem it finds to errs (with paths) instead of stopping at the first.
type Validator interface {
	Validate(errs *Errors)
}

// Defaulter is implemented by configuration structs that fill defaults after
// decoding and before validation.
type Defaulter interface {
	SetDefaults()
}

// FieldError is one problem with a configuration value.
type FieldError struct {
	Path string // e.g. "relay.quic" or "sources[1].synthetic.rate"
	Msg  string
}

func (e FieldError) Error() string { return e.Path + ": " + e.Msg }

// Errors collects field errors.
type Errors []FieldError

// Add records a problem at path.
func (e *Errors) Add(path, format string, args ...any) {
	*e = append(*e, FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Err returns the errors as one error, or nil when there are none.
func (e Errors) Err() error {
	if len(e) == 0 {
		return nil
	}
	return &Error{Errors: e}
}

// Error is an invalid configuration: every problem found.
type Error struct {
	File   string
	Errors Errors
}

func (e *Error) Error() string {
	var b strings.Builder
	name := e.File
	if name == "" {
		name = "configuration"
	}
	fmt.Fprintf(&b, "%s: %d problem(s):", name, len(e.Errors))
	for _, fe := range e.Errors {
		b.WriteString("\n  ")
		b.WriteString(fe.Error())
	}
	return b.String()
}

// Load reads and decodes the file at path into v (see Decode).
func Load(path string, v any) error {
	data, err := os.ReadFile(path) //nolint:gosec // the operator names the configuration file
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	if err := Decode(data, v); err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			ce.File = path
		}
		return err
	}
	return nil
}

var lineRE = regexp.MustCompile(`^line (\d+): (.*)$`)

// Decode decodes YAML strictly into v, applies defaults and validates. A
// document with unknown keys, wrong types or invalid values returns an
// *Error listing every problem.
func Decode(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(v)
	var errs Errors
	switch {
	case errors.Is(err, io.EOF):
		// An empty document: defaults and validation decide.
	case err != nil:
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return &Error{Errors: Errors{{Path: "(yaml)", Msg: err.Error()}}}
		}
		for _, msg := range te.Errors {
			if m := lineRE.FindStringSubmatch(msg); m != nil {
				errs.Add("line "+m[1], "%s", m[2])
			} else {
				errs.Add("(yaml)", "%s", msg)
			}
		}
		return errs.Err()
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return &Error{Errors: Errors{{Path: "(yaml)", Msg: "more than one YAML document"}}}
	}
	if d, ok := v.(Defaulter); ok {
		d.SetDefaults()
	}
	if val, ok := v.(Validator); ok {
		val.Validate(&errs)
	}
	return errs.Err()
}

// lineError reports a bad value the way yaml.v3 reports type errors, so
// decoding goes on and every problem of the file is listed.
func lineError(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", n.Line, fmt.Sprintf(format, args...))}}
}

// Duration is a time.Duration written as "90s", "5m", "168h".
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return lineError(n, "%q is not a duration like 90s or 5m", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// ByteSize is a size written as a number of bytes or with a unit: "512MiB",
// "10GiB", "64KB" (KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024).
type ByteSize int64

var sizeUnits = []struct {
	suffix string
	factor int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

// ParseByteSize reads a ByteSize.
func ParseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	factor := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, factor = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || (factor > 1 && n > (1<<62)/factor) {
		return 0, fmt.Errorf("%q is not a size like 512MiB or 10GiB", s)
	}
	return ByteSize(n * factor), nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := ParseByteSize(s)
	if err != nil {
		return lineError(n, "%v", err)
	}
	*b = v
	return nil
}
