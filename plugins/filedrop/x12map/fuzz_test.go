package x12map

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/draylink/dray/plugins/filedrop/x12"
)

// FuzzMap maps whatever parses: no input may panic, every set ends up as
// events or rejects, and every event is valid (NewEvent validated it).
func FuzzMap(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/*/input.edi")
	for _, p := range inputs {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	m, err := NewMapper(testConfig())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ic, err := x12.Parse(data)
		if err != nil {
			return
		}
		res, err := m.Map(ic)
		if err != nil {
			t.Fatal(err)
		}
		sets := 0
		for range ic.Sets() {
			sets++
		}
		if sets > 0 && len(res.Events) == 0 && len(res.Rejects) == 0 {
			t.Fatalf("%d sets gave neither events nor rejects", sets)
		}
		for _, r := range res.Rejects {
			if r.Code == "" || r.Reason == "" || r.Ref == "" {
				t.Fatalf("reject without code, reason or ref: %+v", r)
			}
		}
	})
}

// BenchmarkParseMap measures the X12 part of the file-drop pipeline for the
// 214 fixture (1.8 KB, five sets, six events plus the 997 event): parse,
// map with a prepared Mapper, and write the 997.
func BenchmarkParseMap(b *testing.B) {
	for _, c := range []string{"fixture_214", "fixture_945"} {
		b.Run(c, func(b *testing.B) {
			data := input(b, c)
			m, err := NewMapper(testConfig())
			if err != nil {
				b.Fatal(err)
			}
			counter := x12.CounterFunc(func() (uint64, error) { return 1, nil })
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				ic, err := x12.Parse(data)
				if err != nil {
					b.Fatal(err)
				}
				res, err := m.Map(ic)
				if err != nil || len(res.Rejects) > 0 {
					b.Fatal(err, res.Rejects)
				}
				if _, err := x12.Acknowledge(ic, Supported).Encode997(x12.Outbound{Counter: counter, Now: ackTime}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "files/s")
			if cpu := cpuTime() - cpu0; cpu > 0 {
				// The benchmark is single-threaded apart from the GC, which
				// runs on the other core: CPU time per file is its cost.
				b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/file")
			}
		})
	}
}

// BenchmarkMapWithConfig is Map(cfg, ic) as the brief's signature has it:
// the config is compiled on every call.
func BenchmarkMapWithConfig(b *testing.B) {
	data := input(b, "fixture_214")
	cfg := testConfig()
	b.ReportAllocs()
	for b.Loop() {
		ic, err := x12.Parse(data)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Map(cfg, ic); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "files/s")
}
