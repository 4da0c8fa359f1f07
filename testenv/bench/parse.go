package bench

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Result is one benchmark result line of `go test -bench` output.
type Result struct {
	// Name is the benchmark's full name as printed, with the -GOMAXPROCS
	// suffix when there is one ("BenchmarkX/sub-2").
	Name string
	// N is the number of iterations.
	N int64
	// Metrics maps each unit to its value: ns/op, MB/s, B/op, allocs/op and
	// every unit the benchmark reported with ReportMetric.
	Metrics map[string]float64
}

// Matches reports whether r is the result of the benchmark named name
// ("BenchmarkX/sub"), with or without a -GOMAXPROCS suffix.
func (r Result) Matches(name string) bool {
	rest, ok := strings.CutPrefix(r.Name, name)
	if !ok {
		return false
	}
	if rest == "" {
		return true
	}
	n, ok := strings.CutPrefix(rest, "-")
	if !ok || n == "" {
		return false
	}
	_, err := strconv.Atoi(n)
	return err == nil
}

// Output is what Parse read from one run of a test binary.
type Output struct {
	Results []Result
	// Failed and Skipped map a benchmark's name (as printed, without
	// suffix) to the lines of output that followed its --- FAIL or --- SKIP.
	Failed  map[string]string
	Skipped map[string]string
}

// Find is the result of the benchmark named name, if any.
func (o *Output) Find(name string) (Result, bool) {
	for _, r := range o.Results {
		if r.Matches(name) {
			return r, true
		}
	}
	return Result{}, false
}

var (
	resultLine  = regexp.MustCompile(`^(Benchmark\S+)\s+(\d+)\s+(.*)$`)
	nameOnly    = regexp.MustCompile(`^(Benchmark\S+)\s*$`)
	figuresOnly = regexp.MustCompile(`^\s*(\d+)\s+(\S+\s+\S+.*)$`)
	statusLine  = regexp.MustCompile(`^\s*--- (FAIL|SKIP|BENCH): (\S+)`)
)

// Parse reads `go test -bench` output. A result line is the name, the
// iteration count, then value-unit pairs; a result whose name was printed
// on a line of its own (the benchmark wrote output while it ran) is joined
// with the figures that follow. A malformed value is an error naming its
// line.
func Parse(r io.Reader) (*Output, error) {
	out := &Output{Failed: map[string]string{}, Skipped: map[string]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	pending := ""               // a name printed alone, waiting for its figures
	var notes map[string]string // where indented lines after --- FAIL/SKIP go
	noteName := ""
	for lineNo := 1; sc.Scan(); lineNo++ {
		line := sc.Text()
		if m := statusLine.FindStringSubmatch(line); m != nil {
			noteName, notes = m[2], nil
			switch m[1] {
			case "FAIL":
				notes = out.Failed
			case "SKIP":
				notes = out.Skipped
			}
			if notes != nil {
				notes[noteName] = ""
			}
			continue
		}
		if notes != nil && strings.HasPrefix(line, "    ") {
			notes[noteName] = strings.TrimSpace(notes[noteName] + "\n" + strings.TrimSpace(line))
			continue
		}
		notes = nil
		name, n, figures := "", "", ""
		if m := resultLine.FindStringSubmatch(line); m != nil {
			name, n, figures = m[1], m[2], m[3]
		} else if m := figuresOnly.FindStringSubmatch(line); m != nil && pending != "" {
			name, n, figures = pending, m[1], m[2]
		} else if m := nameOnly.FindStringSubmatch(line); m != nil {
			pending = m[1]
			continue
		} else {
			continue
		}
		pending = ""
		res, err := parseFigures(name, n, figures)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		out.Results = append(out.Results, res)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func parseFigures(name, n, figures string) (Result, error) {
	iters, err := strconv.ParseInt(n, 10, 64)
	if err != nil {
		return Result{}, fmt.Errorf("%s: iterations %q: %w", name, n, err)
	}
	f := strings.Fields(figures)
	if len(f)%2 != 0 {
		return Result{}, fmt.Errorf("%s: %q is not value-unit pairs", name, figures)
	}
	res := Result{Name: name, N: iters, Metrics: make(map[string]float64, len(f)/2)}
	for i := 0; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return Result{}, fmt.Errorf("%s: value %q of %s: %w", name, f[i], f[i+1], err)
		}
		res.Metrics[f[i+1]] = v
	}
	return res, nil
}
