package supervisor

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkSupervisorToSpool measures events per second from a connector
// plugin into the spool through the supervisor, as the agent runs it: the
// test connector emits ~1 KB inventory counts (prebuilt, validated and
// encoded by the SDK in the plugin) in batches over go-plugin gRPC with
// AutoMTLS; the supervisor decodes and validates every event again, routes
// it to its lane and commits each batch with its cursor in one fsynced
// spool transaction before acknowledging it. The CPU time of the plugin and
// of this process (supervisor, pluginhost, spool, Badger) per event comes
// from /proc and getrusage. docs/PERFORMANCE.md ("supervisor") has figures.
func BenchmarkSupervisorToSpool(b *testing.B) {
	for _, batch := range []int{100, 500} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			bin := build(b, testConnectorPkg)
			cfg := fmt.Sprintf(`{"events": %d, "batch": %d, "prebuilt": true, "then": "wait"}`, b.N, batch)
			h := startHarness(b, Config{Plugin: pluginConfig(b, bin), Connector: []byte(cfg)}, nil)
			var pid int
			waitFor(b, 20*time.Second, "the plugin to read", func() bool {
				st := h.sup.Status()
				pid = st.PID
				return st.State == StateRunning
			})
			plugin0, _ := procCPU(pid)
			self0 := selfCPU()
			b.ResetTimer()
			for h.sup.Status().Events < uint64(b.N) {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			if p, ok := procCPU(pid); ok {
				b.ReportMetric(float64((p-plugin0).Microseconds())/float64(b.N), "plugin-cpu-µs/event")
			}
			b.ReportMetric(float64((selfCPU()-self0).Microseconds())/float64(b.N), "agent-cpu-µs/event")
			st := h.sup.Status()
			b.ReportMetric(float64(st.Events)/float64(st.Batches), "events/commit")
			h.stop()
		})
	}
}

// BenchmarkHostCheck measures the supervisor's own check of a batch (decode,
// canonical.Validate, site, declared type, lane) of ~1 KB events, wall time
// per event, in-process (batches of 128 and more use every core).
func BenchmarkHostCheck(b *testing.B) {
	s, r := testSupervisor(b, "logistics.inventory.counted")
	for _, batch := range []int{1, 100, 500} {
		events := make([][]byte, batch)
		for i := range events {
			ev := testEvent(b, "MEM1", strconv.Itoa(i), counted(strconv.Itoa(i)))
			ev.GetInventoryCounted().Item.Description = strings.Repeat("ACME SPRING WATER 24x500ML CASE ", 15)
			events[i] = encode(b, ev)
		}
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				entries, q := s.check(r, events, nil, "batch/1")
				if len(entries) != batch || len(q) != 0 {
					b.Fatalf("%d entries, %d quarantined (%+v)", len(entries), len(q), q[:min(len(q), 1)])
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch)/1000, "µs/event")
		})
	}
}

// procCPU is the user+system CPU time of pid, from /proc (10 ms ticks).
func procCPU(pid int) (time.Duration, bool) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, false
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond, true
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
