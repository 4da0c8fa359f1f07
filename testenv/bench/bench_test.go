package bench

import (
	"errors"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/draylink/dray/testenv/peers
cpu: AMD EPYC
BenchmarkPeerJetStream/always/sync-16-2         	    5000	         0 ns/op	   4.51 MB/s	        12.5 cpu-µs/event	      3.21 p50-ms	     9.80 p99-ms	  4400 msgs/s	  61.2 peak-rss-MiB
BenchmarkPeerJetStream/always/sync-1-2
a line the benchmark printed
    2000	         0 ns/op	  910 msgs/s	     1.05 p50-ms
--- SKIP: BenchmarkPeerMosquitto
    mosquitto_bench_test.go:33: mosquitto is not installed
--- FAIL: BenchmarkRawFsync
    raw_bench_test.go:40: write: no space left on device
    second line
BenchmarkRawLoopback/quic 	    3000	    215000 ns/op	 305.00 MB/s	298000 events/s
PASS
`

func TestParse(t *testing.T) {
	o, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Results) != 3 {
		t.Fatalf("%d results: %+v", len(o.Results), o.Results)
	}
	r, ok := o.Find("BenchmarkPeerJetStream/always/sync-16")
	if !ok || r.N != 5000 || r.Metrics["msgs/s"] != 4400 || r.Metrics["cpu-µs/event"] != 12.5 || r.Metrics["MB/s"] != 4.51 {
		t.Fatalf("sync-16: %+v", r)
	}
	// "sync-1" must not match "sync-16-2", and the name printed alone is
	// joined with its figures.
	r, ok = o.Find("BenchmarkPeerJetStream/always/sync-1")
	if !ok || r.N != 2000 || r.Metrics["msgs/s"] != 910 || r.Metrics["p50-ms"] != 1.05 {
		t.Fatalf("sync-1: %+v", r)
	}
	if r, ok := o.Find("BenchmarkRawLoopback/quic"); !ok || r.Metrics["events/s"] != 298000 {
		t.Fatalf("quic (no GOMAXPROCS suffix): %+v", r)
	}
	if _, ok := o.Find("BenchmarkRawLoopback"); ok {
		t.Fatal("a parent name matched its sub-benchmark")
	}
	if got := o.Skipped["BenchmarkPeerMosquitto"]; !strings.Contains(got, "not installed") {
		t.Fatalf("skip reason %q", got)
	}
	if got := o.Failed["BenchmarkRawFsync"]; got != "raw_bench_test.go:40: write: no space left on device\nsecond line" {
		t.Fatalf("failure %q", got)
	}
}

func TestParseBadValue(t *testing.T) {
	_, err := Parse(strings.NewReader("x\nBenchmarkA-2  10  1.5.3 ns/op\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "1.5.3") {
		t.Fatalf("err = %v", err)
	}
	_, err = Parse(strings.NewReader("BenchmarkA-2  10  1.5 ns/op 3\n"))
	if err == nil || !strings.Contains(err.Error(), "value-unit pairs") {
		t.Fatalf("err = %v", err)
	}
}

func TestBenchPattern(t *testing.T) {
	p := BenchPattern("BenchmarkPluginStream/sdk/batch=100")
	re := regexp.MustCompile(strings.Split(p, "/")[2])
	if p != `^BenchmarkPluginStream$/^sdk$/^batch=100$` || re.MatchString("batch=1000") {
		t.Fatalf("pattern %q", p)
	}
}

func TestDeriveAndRatio(t *testing.T) {
	d := Measured{Scenario: Scenario{Rate: "events/s", EventBytes: 1024, CPU: []Term{{"a-cpu-µs/event", 1}, {"b-cpu-µs/event", 1}}},
		Result:     Result{Metrics: map[string]float64{"events/s": 50000, "a-cpu-µs/event": 3, "b-cpu-µs/event": 4.5}},
		ProcMaxRSS: 100 << 20}.derive()
	if d.Rate != 50000 || math.Abs(d.MBps-51.2) > 1e-9 || d.CPUMicros != 7.5 || d.RSSMiB != 100 || !d.RSSOfProcess {
		t.Fatalf("derived %+v", d)
	}
	p := Measured{Scenario: Scenario{Rate: "ns/op", CPU: []Term{{"ns/op", 1e-3}}},
		Result: Result{Metrics: map[string]float64{"ns/op": 40000, UnitRSS: 20}}}.derive()
	if p.Rate != 25000 || p.CPUMicros != 40 || p.RSSMiB != 20 || p.RSSOfProcess || !math.IsNaN(p.MBps) || !math.IsNaN(p.P99) {
		t.Fatalf("derived %+v", p)
	}
	if r := Ratio(d, p, OnRate); r != 2 {
		t.Fatalf("ratio %v", r)
	}
	if r := Ratio(d, p, OnP99); !math.IsNaN(r) {
		t.Fatalf("p99 ratio without p99: %v", r)
	}
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{123456: "123,000", 1234: "1,230", 999.6: "1,000", 45.678: "45.7", 0.01234: "0.0123", 7: "7.00"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
	if num(math.NaN()) != "—" {
		t.Error("NaN")
	}
}

func TestRewrite(t *testing.T) {
	doc := "# Performance\n\nintro\n\n## canonical\n\ntext\n"
	once, err := Rewrite(doc, "## make bench\n\nv1\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "# Performance\n\nintro\n\n" + BeginMarker + "\n## make bench\n\nv1\n" + EndMarker + "\n\n## canonical\n\ntext\n"
	if once != want {
		t.Fatalf("first write:\n%s", once)
	}
	// Someone edits another section meanwhile; a second run replaces only
	// its own.
	edited := strings.Replace(once, "text\n", "text edited\n", 1)
	twice, err := Rewrite(edited, "## make bench\n\nv2\n")
	if err != nil {
		t.Fatal(err)
	}
	if twice != strings.Replace(strings.Replace(want, "v1", "v2", 1), "text\n", "text edited\n", 1) {
		t.Fatalf("second write:\n%s", twice)
	}
	if _, err := Rewrite("a\n"+BeginMarker+"\nb\n", "x"); err == nil {
		t.Fatal("a lone marker was accepted")
	}
}

func TestDefaultSuite(t *testing.T) {
	s := Default()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	// Selecting a dray scenario brings its peers along.
	var ids []string
	for _, sc := range s.Select(regexp.MustCompile(`^lat-quic$`)) {
		ids = append(ids, sc.ID)
	}
	if strings.Join(ids, ",") != "lat-quic,js-always-sync-1,raw-fsync" {
		t.Fatalf("selected %v", ids)
	}
}

func TestQuantile(t *testing.T) {
	d := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if Quantile(d, 0.5) != 6 || Quantile(d, 0.99) != 10 || Quantile(nil, 0.5) != 0 {
		t.Fatal(Quantile(d, 0.5), Quantile(d, 0.99))
	}
}

func TestRender(t *testing.T) {
	s := &Suite{
		Scenarios: []Scenario{
			{ID: "d", Title: "dray thing", Pkg: "p", Bench: "BenchmarkD", Benchtime: "1x", Rate: "events/s", How: "how d"},
			{ID: "p", Title: "peer thing", Pkg: "p", Bench: "BenchmarkP", Benchtime: "1x", Rate: "msgs/s", Peer: true, How: "how p"},
			{ID: "q", Title: "broken peer", Pkg: "p", Bench: "BenchmarkQ", Benchtime: "1x", Rate: "msgs/s", Peer: true, How: "how q"},
		},
		Groups: []Group{{Dray: "d", Peers: []Compare{{"p", OnRate}, {"q", OnRate}}}},
	}
	got := map[string]Measured{
		"d": Measured{Scenario: s.Scenarios[0], Result: Result{Metrics: map[string]float64{"events/s": 30000, "p99-ms": 12.5}}}.derive(),
		"p": Measured{Scenario: s.Scenarios[1], Result: Result{Metrics: map[string]float64{"msgs/s": 12000}}}.derive(),
		"q": Measured{Scenario: s.Scenarios[2], Err: errors.New("skipped: nats-server | not installed")}.derive(),
	}
	out := Render(s, got, RunInfo{Order: []string{"p", "d", "q"}})
	for _, want := range []string{
		"| **dray thing** | 30,000 | — | — | 12.5 | — | — | **2.50×** vs ↓ (events/s) |",
		"| ↳ peer thing | 12,000 | — | — | — | — | — | 2.50× (events/s) |",
		"| ↳ broken peer | — | — | — | — | — | — | **skipped: nats-server / not installed** |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if strings.Index(out, "- peer thing") > strings.Index(out, "- dray thing") {
		t.Errorf("notes not in run order:\n%s", out)
	}
}
