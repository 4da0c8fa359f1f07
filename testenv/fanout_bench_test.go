package testenv_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/draylink/dray/agent/synthetic"
	"github.com/draylink/dray/internal/configfile"
	"github.com/draylink/dray/relay"
	"github.com/draylink/dray/relay/dispatch"
	"github.com/draylink/dray/relay/route"
	"github.com/draylink/dray/relay/sink"
	"github.com/draylink/dray/testenv"
	"github.com/draylink/dray/testenv/refsink"
)

// BenchmarkFanOut measures the relay delivering to two reference ERPs
// (dray-refsink processes, ledger fsynced before every answer) on
// loopback, every event to both, through the jq goods-movement route.
// b.N events (1 KB synthetic inventory moves) are first put in the relay
// log by a dray-agent; the relay is then restarted with the two sinks and
// the clock runs from its start until both ledgers hold every event.
//
//	go test ./testenv/ -run '^$' -bench 'FanOut/batched'  -benchtime 100000x
//	go test ./testenv/ -run '^$' -bench 'FanOut/single'   -benchtime 30000x
//	go test ./testenv/ -run '^$' -bench 'FanOut/latency'  -benchtime 20000x
//
// Metrics: events/s/sink (the slower sink), relay-cpu-µs/delivery (the
// relay process's CPU per event per sink), sink-cpu-µs/event and, when
// batching, events/request (how full the batches were); latency:
// p50/p99 from the relay receiving an event to a sink applying it, at
// 1,000 events/s offered.
func BenchmarkFanOut(b *testing.B) {
	b.Run("batched", func(b *testing.B) { benchThroughput(b, benchBatchJQ) })
	b.Run("batched-cloudevents", func(b *testing.B) { benchThroughput(b, benchBatchCE) })
	b.Run("single", func(b *testing.B) { benchThroughput(b, benchSingle) })
	b.Run("latency-batched", func(b *testing.B) { benchLatency(b, benchBatchJQ) })
	b.Run("latency-single", func(b *testing.B) { benchLatency(b, benchSingle) })
}

// Delivery modes of the throughput benchmark.
const (
	// benchSingle: one request per event, jq goods-movement mapping.
	benchSingle = iota
	// benchBatchJQ: the jq mapping, 100 events per OData JSON batch.
	benchBatchJQ
	// benchBatchCE: events unchanged, 100 per CloudEvents batch.
	benchBatchCE
)

// benchSinks configures the relay to deliver every synthetic event to each
// sink in one of the bench modes.
func benchSinks(b *testing.B, r *testenv.Relay, sinks []*testenv.RefSink, mode int) {
	r.Config.Sinks, r.Config.Routes = nil, nil
	tok := filepath.Join(filepath.Dir(r.Config.DataDir), "bench-admin-token")
	if err := os.WriteFile(tok, []byte(r.Admin().Token), 0o600); err != nil {
		b.Fatal(err)
	}
	r.Config.Admin = relay.AdminConfig{Listen: testenv.Addr(testenv.FreePort(b)),
		Tokens: []relay.AdminToken{{Name: "bench", Secret: sink.Secret{File: tok}}}}
	for _, s := range sinks {
		d := dispatch.Config{Workers: 32}
		routes := testenv.ERPRoutes(s.Name)[:2]
		switch mode {
		case benchBatchJQ:
			d.Workers = 8
			d.Batch = &dispatch.BatchConfig{Path: "/erp/v1/batch", Format: route.BatchJSON, MaxEvents: 100,
				MaxWait: configfile.Duration(5 * time.Millisecond)}
		case benchBatchCE:
			d.Workers = 8
			d.Batch = &dispatch.BatchConfig{Path: "/erp/v1/goods-movements", Format: route.BatchCloudEvents, MaxEvents: 100,
				MaxWait: configfile.Duration(5 * time.Millisecond), Results: `[.results[] | .status]`}
			routes = []route.Config{{Name: s.Name + "-moves", Sink: s.Name, Mode: route.ModeCloudEvents, Path: `"/erp/v1/goods-movements"`}}
		}
		r.Config.Sinks = append(r.Config.Sinks, relay.SinkConfig{HTTP: sink.Config{Name: s.Name, URL: s.URL(), MaxConns: 64}, Delivery: d})
		r.Config.Routes = append(r.Config.Routes, routes...)
	}
}

func benchEnv(b *testing.B) (*testenv.Env, *testenv.Relay, []*testenv.RefSink) {
	env := testenv.New(b)
	r := env.NewRelay("relay")
	r.Config.Log.Level = "warn"
	var sinks []*testenv.RefSink
	for _, name := range []string{"erp1", "erp2"} {
		s := env.NewRefSink(name, refsink.KindERP)
		s.Start()
		sinks = append(sinks, s)
	}
	return env, r, sinks
}

func benchThroughput(b *testing.B, mode int) {
	n := uint64(b.N)
	env, r, sinks := benchEnv(b)
	// Fill the relay log.
	r.Start()
	src := synthetic.Config{Rate: 50000, Count: n, MaxBatch: 2000}
	a := env.NewAgent("MEM1", r.Config.Listen.QUIC, r.Config.Listen.TCP, src)
	a.Config.Status.Listen = testenv.Addr(testenv.FreePort(b))
	a.Start()
	a.WaitDrained("synthetic", n, 10*time.Minute)
	a.Proc.Stop(30 * time.Second)
	r.Proc.Stop(30 * time.Second)

	benchSinks(b, r, sinks, mode)
	cpu0 := make([]time.Duration, len(sinks))
	for i, s := range sinks {
		cpu0[i] = procCPU(b, pidOf(b, s.DataDir))
	}
	b.ResetTimer()
	start := time.Now()
	r.Start()
	pid := pidOf(b, r.ConfigPath)
	profileRelay(b, r)
	done := make([]time.Duration, len(sinks))
	testenv.Eventually(b, 10*time.Minute, 50*time.Millisecond, "both sinks to apply every event", func() bool {
		all := true
		for i, s := range sinks {
			if done[i] != 0 {
				continue
			}
			st, err := s.Client.Stats(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			if st.Applied >= n {
				done[i] = time.Since(start)
			} else {
				all = false
			}
		}
		return all
	})
	b.StopTimer()
	relayCPU := procCPU(b, pid)
	var sinkCPU time.Duration
	for i, s := range sinks {
		sinkCPU += procCPU(b, pidOf(b, s.DataDir)) - cpu0[i]
		if st, _ := s.Client.Stats(context.Background()); st.Applied != n || st.Rejected != 0 || st.Conflicts != 0 {
			b.Fatalf("%s: %+v; want %d applied", s.Name, st, n)
		}
	}
	slowest := slices.Max(done)
	if mode != benchSingle { // how full the batches were
		m := r.Metrics()
		var requests float64
		for _, s := range sinks {
			requests += m[`dray_relay_sink_batch_requests_total{sink="`+s.Name+`"}`]
		}
		b.ReportMetric(float64(2*n)/max(requests, 1), "events/request")
	}
	b.ReportMetric(float64(n)/slowest.Seconds(), "events/s/sink")
	b.ReportMetric(float64(relayCPU.Microseconds())/float64(2*n), "relay-cpu-µs/delivery")
	b.ReportMetric(float64(sinkCPU.Microseconds())/float64(2*n), "sink-cpu-µs/event")
	b.ReportMetric(0, "ns/op")
	r.Proc.Stop(30 * time.Second)
	for _, s := range sinks { // SIGTERM: a $DRAY_REFSINK_CPU_PROFILE is written
		s.Proc.Stop(30 * time.Second)
	}
}

// benchLatency offers 1,000 events/s from a dray-agent for b.N events and
// measures, per event and sink, the time from the relay reading the
// event's batch (relay log received time, before the append's fsync) to
// the sink recording it (after it parsed and validated the request): the
// relay's added delay plus the sink's own work.
func benchLatency(b *testing.B, mode int) {
	n := uint64(b.N)
	env, r, sinks := benchEnv(b)
	benchSinks(b, r, sinks, mode)
	r.Start()
	src := synthetic.Config{Rate: 1000, Count: n}
	a := env.NewAgent("MEM1", r.Config.Listen.QUIC, r.Config.Listen.TCP, src)
	a.Config.Status.Listen = testenv.Addr(testenv.FreePort(b))
	b.ResetTimer()
	a.Start()
	a.WaitDrained("synthetic", n, 10*time.Minute)
	for _, s := range sinks {
		testenv.Eventually(b, 5*time.Minute, 100*time.Millisecond, s.Name+" to apply every event", func() bool {
			st, err := s.Client.Stats(context.Background())
			return err == nil && st.Applied >= n
		})
	}
	b.StopTimer()
	a.Proc.Stop(30 * time.Second)
	r.Proc.Stop(30 * time.Second)
	received := map[string]time.Time{}
	for _, l := range r.Dump() {
		t, err := time.Parse("2006-01-02T15:04:05.000Z", l.Received)
		if err != nil {
			b.Fatal(err)
		}
		received[l.Event.GetId()] = t
	}
	var all []time.Duration
	for _, s := range sinks {
		var d []time.Duration
		for _, rec := range s.Records() {
			if t, ok := received[rec.EventID]; ok && rec.Outcome == refsink.OutcomeApplied {
				d = append(d, rec.Time.Sub(t))
			}
		}
		slices.Sort(d)
		b.Logf("%s: %d events, received → applied p50 %v, p99 %v, max %v", s.Name, len(d), d[len(d)/2], d[len(d)*99/100], d[len(d)-1])
		all = append(all, d...)
	}
	slices.Sort(all)
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1e3, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1e3, "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// profileRelay saves a CPU profile of the relay (fetched from its admin
// API) to $DRAY_BENCH_PROFILE, when that is set.
func profileRelay(b *testing.B, r *testenv.Relay) {
	path := os.Getenv("DRAY_BENCH_PROFILE")
	if path == "" {
		return
	}
	go func() {
		req, _ := http.NewRequest(http.MethodGet, "http://"+r.Config.Admin.Listen+"/debug/pprof/profile?seconds=5", nil)
		req.Header.Set("Authorization", "Bearer "+r.Admin().Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Logf("profile: %v", err)
			return
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		_ = os.WriteFile(path, data, 0o644)
	}()
}

// pidOf finds the process whose command line contains arg.
func pidOf(b *testing.B, arg string) int {
	b.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cl, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cl, []byte(arg)) && !bytes.Contains(cl, []byte(".test")) {
			return pid
		}
	}
	b.Fatalf("no process with %q in its command line", arg)
	return 0
}

// procCPU is a process's user + system CPU time (Linux).
func procCPU(b *testing.B, pid int) time.Duration {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ = 100
}
