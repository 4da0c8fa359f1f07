package uplink

import (
	"context"
	"github.com/draylink/dray/internal/wire"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/draylink/dray/agent/spool"
	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/relay/relaylog"
	"github.com/draylink/dray/testenv/bench"
)

// Benchmarks of the spine, agent spool → uplink → relay log, in one process
// on loopback with real certificates; the spool and the relay log both
// fsync before they acknowledge. Events are ~1 KB canonical events.
//
//	go test ./agent/uplink/ -run '^$' -bench 'Throughput' -benchtime 200000x
//	go test ./agent/uplink/ -run '^$' -bench 'Latency' -benchtime 5000x
//	go test ./agent/uplink/ -run '^$' -bench 'BacklogDrain' -benchtime 1x -timeout 30m
//
// DRAY_BENCH_BACKLOG sets the backlog of BacklogDrain (default 1,000,000).

const benchEventSize = 1000

// benchSetup is a relay, a spool and an uplink between them.
type benchSetup struct {
	r  *relay
	sp *spool.Spool
	u  *Uplink
}

func newBenchSetup(b *testing.B, transport string, cfg Config) *benchSetup {
	r := startRelay(b, nil)
	sp := openSpool(b)
	if transport == TransportQUIC {
		cfg.QUICAddr = r.quic
	} else {
		cfg.TCPAddr = r.tcp
	}
	cfg.Logger = quiet()
	return &benchSetup{r: r, sp: sp, u: runUplink(b, cfg, sp)}
}

func (s *benchSetup) waitConnected(b *testing.B) {
	waitFor(b, 10*time.Second, "a session", func() bool { return s.u.Status().Connected })
}

// Sustained throughput: producers commit events as fast as the spool takes
// them while the uplink forwards them. Four producers commit 250 events at
// a time, as several connectors would: the spool group-commits them, so
// its fsyncs do not bound the benchmark (one producer of sequential
// commits would measure the spool's commit latency instead).
func BenchmarkThroughput(b *testing.B) {
	for _, transport := range []string{TransportQUIC, TransportTCP} {
		b.Run(transport, func(b *testing.B) {
			s := newBenchSetup(b, transport, Config{})
			m := newEventMaker(b, "0000000a", benchEventSize)
			s.waitConnected(b)
			n := b.N
			b.SetBytes(benchEventSize)
			meter := bench.Start()
			b.ResetTimer()
			start := time.Now()
			busy0, appends0 := s.r.store.busyTime()
			const producers = 4
			for p := range producers {
				go func() {
					if err := commitEvents(s.sp, m, canonical.LaneOperational, p*n/producers, (p+1)*n/producers, 250); err != nil {
						b.Error(err)
					}
				}()
			}
			var maxPending uint64
			for s.r.log.LastSeq() < uint64(n) {
				maxPending = max(maxPending, pending(s.sp))
				time.Sleep(time.Millisecond)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			st := s.u.Status()
			b.ReportMetric(float64(n)/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(n)/float64(max(1, st.BatchesSent)), "events/batch")
			busy, appends := s.r.store.busyTime()
			b.ReportMetric(100*(busy-busy0).Seconds()/elapsed.Seconds(), "relay-log-busy-%")
			b.ReportMetric(float64(n)/float64(max(1, appends-appends0)), "events/relay-commit")
			// A spool that stays near empty means the uplink keeps up with
			// the producers: they are the bound, not the link.
			b.ReportMetric(float64(maxPending), "max-spool-pending")
			meter.Report(b, n)
			b.ReportMetric(0, "ns/op")
		})
	}
}

// relayTail follows the relay log and notes when tracked events arrive.
type relayTail struct {
	log *relaylog.Log

	mu      sync.Mutex
	tracked map[string]time.Time // guarded by mu: id → when the spool commit returned
	arrived map[string]time.Time // guarded by mu: id → when the relay log had it
}

func newRelayTail(l *relaylog.Log) *relayTail {
	return &relayTail{log: l, tracked: make(map[string]time.Time), arrived: make(map[string]time.Time)}
}

func (t *relayTail) committed(id string, at time.Time) {
	t.mu.Lock()
	t.tracked[id] = at
	t.mu.Unlock()
}

func (t *relayTail) run(ctx context.Context, from uint64) {
	var buf []relaylog.Entry
	for {
		ch := t.log.Notify()
		got, err := t.log.Read(from, 8192, buf[:0])
		if err != nil {
			return
		}
		now := time.Now()
		for _, e := range got {
			// Tracked events are the live ones, named by their id prefix:
			// skip the rest without decoding.
			if len(e.Event) > 10 && string(e.Event[2:10]) == liveMakerPrefix {
				if id, err := canonical.PeekIdentity(e.Event); err == nil {
					t.mu.Lock()
					t.arrived[id.ID] = now
					t.mu.Unlock()
				}
			}
		}
		if len(got) > 0 {
			from = got[len(got)-1].Seq + 1
			buf = got
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-ch:
		}
	}
}

const liveMakerPrefix = "1111111f"

// latencies returns the latencies of the tracked events that arrived, and
// how many did not.
func (t *relayTail) latencies() (lat []time.Duration, missing int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, c := range t.tracked {
		a, ok := t.arrived[id]
		if !ok {
			missing++
			continue
		}
		lat = append(lat, max(0, a.Sub(c)))
	}
	slices.Sort(lat)
	return lat, missing
}

func (t *relayTail) arrivedCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.arrived)
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// liveProducer commits tracked events at rate per second, one commit per
// tick with every event due, until stop is closed; it returns the count.
func liveProducer(b *testing.B, sp *spool.Spool, tail *relayTail, rate int, limit int, stop <-chan struct{}) int {
	m := newEventMaker(b, liveMakerPrefix, benchEventSize)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	start := time.Now()
	sent := 0
	for sent < limit {
		select {
		case <-stop:
			return sent
		case <-tick.C:
		}
		due := min(limit, int(time.Since(start).Seconds()*float64(rate))+1)
		if due <= sent {
			continue
		}
		entries := make([]spool.Entry, 0, due-sent)
		for i := sent; i < due; i++ {
			entries = append(entries, spool.Entry{Lane: canonical.LaneOperational, Event: m.event(i)})
		}
		if err := sp.Commit(context.Background(), "live", nil, entries); err != nil {
			b.Error(err)
			return sent
		}
		now := time.Now()
		for i := sent; i < due; i++ {
			tail.committed(m.id(i), now)
		}
		sent = due
	}
	return sent
}

// Latency from the spool to the relay at 1,000 events/s offered: from the
// return of the event's spool commit to the event being durable in the
// relay log (the relay writes its PUBACK right after).
func BenchmarkLatency(b *testing.B) {
	for _, transport := range []string{TransportQUIC, TransportTCP} {
		b.Run(transport, func(b *testing.B) {
			s := newBenchSetup(b, transport, Config{})
			tail := newRelayTail(s.r.log)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() { tail.run(ctx, 0) })
			defer func() { cancel(); wg.Wait() }()
			s.waitConnected(b)
			meter := bench.Start()
			b.ResetTimer()
			n := liveProducer(b, s.sp, tail, 1000, b.N, nil)
			waitFor(b, 30*time.Second, "every event at the relay", func() bool { return tail.arrivedCount() == n })
			b.StopTimer()
			lat, _ := tail.latencies()
			b.ReportMetric(ms(quantile(lat, 0.5)), "p50-ms")
			b.ReportMetric(ms(quantile(lat, 0.99)), "p99-ms")
			b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
			meter.Report(b, n)
			b.ReportMetric(0, "ns/op")
		})
	}
}

// Backlog drain: a million events wait in the spool (a long outage); the
// link comes up and live operational events arrive at 200/s meanwhile.
// Reports the drain time and the live events' latency.
func BenchmarkBacklogDrain(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("DRAY_BENCH_BACKLOG")); err == nil && v > 0 {
		n = v
	}
	for _, transport := range []string{TransportQUIC, TransportTCP} {
		b.Run(transport, func(b *testing.B) {
			for range b.N {
				backlogDrain(b, transport, n)
			}
		})
	}
}

func backlogDrain(b *testing.B, transport string, n int) {
	b.StopTimer()
	r := startRelay(b, nil)
	sp := openSpool(b)
	m := newEventMaker(b, "0000000b", benchEventSize)
	fill := time.Now()
	commit(b, sp, m, canonical.LaneOperational, 0, n, 1000)
	b.Logf("backlog of %d events committed in %v", n, time.Since(fill).Round(time.Millisecond))

	tail := newRelayTail(r.log)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() { tail.run(ctx, 0) })

	b.StartTimer()
	start := time.Now()
	busy0, appends0 := r.store.busyTime()
	cfg := Config{Logger: quiet()}
	if transport == TransportQUIC {
		cfg.QUICAddr = r.quic
	} else {
		cfg.TCPAddr = r.tcp
	}
	u := runUplink(b, cfg, sp)
	stop := make(chan struct{})
	live := make(chan int, 1)
	var rss peakRSS
	wg.Go(func() { live <- liveProducer(b, sp, tail, 200, 1<<30, stop) })
	wg.Go(func() { rss.sample(ctx) })
	for int(r.log.LastSeq())-tail.arrivedCount() < n {
		time.Sleep(5 * time.Millisecond)
	}
	drain := time.Since(start)
	busy, appends := r.store.busyTime()
	busy -= busy0
	b.StopTimer()
	close(stop)
	sent := <-live
	waitFor(b, 30*time.Second, "the live events at the relay", func() bool { return tail.arrivedCount() == sent })
	lat, _ := tail.latencies()
	st := u.Status()
	b.ReportMetric(drain.Seconds(), "drain-s")
	b.ReportMetric(float64(n)/drain.Seconds(), "backlog-events/s")
	b.ReportMetric(float64(sent), "live-events")
	b.ReportMetric(ms(quantile(lat, 0.5)), "live-p50-ms")
	b.ReportMetric(ms(quantile(lat, 0.99)), "live-p99-ms")
	b.ReportMetric(float64(n+sent)/float64(max(1, st.BatchesSent)), "events/batch")
	b.ReportMetric(float64(rss.peak())/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(100*busy.Seconds()/drain.Seconds(), "relay-log-busy-%")
	b.ReportMetric(float64(n)/float64(max(1, appends-appends0)), "events/relay-commit")
	r.store.mu.Lock()
	b.ReportMetric(ms(r.store.longest), "longest-relay-commit-ms")
	r.store.mu.Unlock()
	b.ReportMetric(float64(st.Connects), "connects")
	b.ReportMetric(0, "ns/op")
}

// peakRSS samples the process's resident set (agent and relay together).
type peakRSS struct {
	mu  sync.Mutex
	max int64
}

func (p *peakRSS) sample(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if v := currentRSS(); v > 0 {
			p.mu.Lock()
			p.max = max(p.max, v)
			p.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *peakRSS) peak() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.max
}

// currentRSS reads VmRSS from /proc (0 where there is none).
func currentRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// The agent's cost of one batch, without the network: read 1,024 events
// from the spool, frame, compress and encode the PUBLISH. Per event.
func BenchmarkBuildBatch(b *testing.B) {
	sp := openSpool(b)
	m := newEventMaker(b, "0000000c", benchEventSize)
	const n = 50 * 1024
	commit(b, sp, m, canonical.LaneOperational, 0, n, 1024)
	codec, err := wire.NewCodec(0, 64<<20)
	if err != nil {
		b.Fatal(err)
	}
	defer codec.Close()
	u, err := New(Config{Site: testSite, QUICAddr: "127.0.0.1:1", TLS: clientTLS(b), Logger: quiet()}, sp, codec)
	if err != nil {
		b.Fatal(err)
	}
	st := sp.Streams()[0]
	s := newStream(st)
	wireBytes := 0
	b.SetBytes(1024 * benchEventSize)
	b.ResetTimer()
	for b.Loop() {
		if s.next >= st.Next {
			s.next = st.Head
		}
		bt, err := u.build(s, 1024, 1<<20)
		if err != nil || bt == nil {
			b.Fatal(err)
		}
		s.next = bt.last + 1
		wireBytes += len(bt.packet)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1024), "ns/event")
	b.ReportMetric(float64(b.N*1024*benchEventSize)/float64(wireBytes), "compression")
}
