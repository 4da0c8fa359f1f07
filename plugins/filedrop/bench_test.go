//go:build unix

package filedrop

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/draylink/dray/agent/spool"
	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/pluginhost"
)

// BenchmarkIntegrationSpool measures the connector end to end, as the agent
// runs it: files dropped in an inbox, the plugin process (go-plugin, gRPC,
// AutoMTLS) claiming, hashing, reading and mapping them, every event
// validated by the SDK and sent in batches, and a host loop that decodes
// each event for its lane and commits each batch with its cursor to a real
// agent spool (Badger, fsync per commit) before acknowledging it; the
// plugin then journals and archives the files. The clock runs from the
// first Read to the last file archived.
//
//   - csv: one movement CSV of b.N rows (batch_size 500); reports rows/s.
//   - x12: b.N X12 files of ~3.5 KB (a 214 with ten status sets, each file
//     its own interchange); reports files/s, with a 997 written per file.
//
// Rerun: go test ./plugins/filedrop/ -run '^$' -bench IntegrationSpool -benchtime 100000x (csv) / 2000x (x12) -count 3
func BenchmarkIntegrationSpool(b *testing.B) {
	b.Run("csv", func(b *testing.B) {
		s := mem1(b)
		s.cfg["batch_size"] = 500
		p := s.cfg["inboxes"].([]any)[0].(map[string]any)["pickup"].(map[string]any)
		p["mode"] = "rename"
		s.drop(b, "wms", "movements.csv", csvRows(1, b.N))
		benchSpool(b, s, 1, b.N, "rows/s")
	})
	b.Run("x12", func(b *testing.B) {
		s := mem1(b)
		s.cfg["batch_size"] = 500
		body := tenSets(string(readFixture(b, "x12_214_SHP25031407.edi")))
		for i := range b.N {
			s.drop(b, "edi", fmt.Sprintf("214-%06d.edi", i), []byte(withControlNumber(body, 100000+i)))
		}
		benchSpool(b, s, b.N, b.N, "files/s")
	})
}

// BenchmarkInProcess is the connector's own share of the cost: the same
// drops read by Connector.Read in this process, with a host that commits
// at once and does not validate (the SDK's validation, the gRPC stream and
// the spool are left out). Compare its CPU per row or file with the
// plugin's in BenchmarkIntegrationSpool.
//
// Rerun: go test ./plugins/filedrop/ -run '^$' -bench InProcess -benchtime 100000x (csv) / 2000x (x12)
func BenchmarkInProcess(b *testing.B) {
	b.Run("csv", func(b *testing.B) {
		s := mem1(b)
		s.cfg["batch_size"] = 500
		p := s.cfg["inboxes"].([]any)[0].(map[string]any)["pickup"].(map[string]any)
		p["mode"] = "rename"
		s.drop(b, "wms", "movements.csv", csvRows(1, b.N))
		c := configure(b, s)
		h := &host{noValidate: true}
		b.ResetTimer()
		readUntil(b, c, nil, h, s.idle)
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("x12", func(b *testing.B) {
		s := mem1(b)
		s.cfg["batch_size"] = 500
		body := tenSets(string(readFixture(b, "x12_214_SHP25031407.edi")))
		for i := range b.N {
			s.drop(b, "edi", fmt.Sprintf("214-%06d.edi", i), []byte(withControlNumber(body, 100000+i)))
		}
		c := configure(b, s)
		h := &host{noValidate: true}
		b.ResetTimer()
		readUntil(b, c, nil, h, s.idle)
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "files/s")
	})
}

// tenSets turns the 214 fixture (five sets) into one of ten sets.
func tenSets(f214 string) string {
	start, end := strings.Index(f214, "ST*214*0001"), strings.Index(f214, "GE*5*")
	sets := f214[start:end]
	more := sets
	for i := 1; i <= 5; i++ {
		more = strings.ReplaceAll(more, fmt.Sprintf("214*%04d~", i), fmt.Sprintf("214*%04d~", i+5))
		more = strings.ReplaceAll(more, fmt.Sprintf("*%04d~\n", i), fmt.Sprintf("*%04d~\n", i+5))
	}
	return f214[:end] + more + strings.Replace(f214[end:], "GE*5*", "GE*10*", 1)
}

func withControlNumber(f214 string, n int) string {
	isa := fmt.Sprintf("%09d", n)
	x := strings.ReplaceAll(f214, "000007731", isa)
	x = strings.ReplaceAll(x, "*7731*", "*"+strconv.Itoa(n)+"*")
	return strings.ReplaceAll(x, "*7731~", "*"+strconv.Itoa(n)+"~")
}

func benchSpool(b *testing.B, s *site, nfiles, units int, unit string) {
	sp, err := spool.Open(spool.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer sp.Close()
	pl := startPlugin(b, s, strings.Fields(os.Getenv("FILEDROP_BENCH_ENV")), nil)
	defer pl.Kill()
	var events, batches atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	cpu0, host0 := pluginCPU(pl.Pid()), selfCPU()
	start := time.Now()
	b.ResetTimer()
	go func() {
		errc <- pl.Read(ctx, nil, func(ctx context.Context, hb pluginhost.HostBatch) error {
			entries := make([]spool.Entry, len(hb.Events))
			for i, raw := range hb.Events {
				e, err := canonical.UnmarshalBinary(raw)
				if err != nil {
					return err
				}
				entries[i] = spool.Entry{Lane: canonical.LaneOf(e.GetType()), Event: raw}
				e.ReturnToVTPool()
			}
			if err := sp.Commit(ctx, "filedrop", hb.Cursor, entries); err != nil {
				return err
			}
			events.Add(int64(len(hb.Events)))
			batches.Add(1)
			return nil
		})
	}()
	for !s.idle() { // every file out of inbox/ and work/: archived
		select {
		case err := <-errc:
			b.Fatalf("read ended: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Since(start) > 10*time.Minute {
			b.Fatal("not done in 10 minutes")
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	<-errc
	b.ReportMetric(float64(units)/elapsed.Seconds(), unit)
	b.ReportMetric(float64(events.Load())/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(events.Load())/float64(max(batches.Load(), 1)), "events/batch")
	if n := len(files(b, s.dir("wms", "archive"))) + len(files(b, s.dir("edi", "archive"))); n != nfiles {
		b.Fatalf("%d files archived; want %d", n, nfiles)
	}
	if cpu1 := pluginCPU(pl.Pid()); cpu0 >= 0 && cpu1 >= 0 {
		b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(units), "plugin-cpu-µs/"+strings.TrimSuffix(unit, "/s"))
	}
	b.ReportMetric(float64((selfCPU()-host0).Microseconds())/float64(units), "host-cpu-µs/"+strings.TrimSuffix(unit, "/s"))
}

// pluginCPU is the user+system CPU time of pid from /proc (clock ticks of
// 10 ms), or -1 where there is no /proc.
func pluginCPU(pid int) time.Duration {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	st := string(raw)
	f := strings.Fields(st[strings.LastIndexByte(st, ')')+1:])
	if len(f) < 13 {
		return -1
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
