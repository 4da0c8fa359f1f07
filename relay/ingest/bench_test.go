package ingest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/wire"
)

// BenchmarkIngestQUIC and BenchmarkIngestTCP measure the whole path on one
// machine: autopaho publishers (the agent's client) building and sealing
// batches of K 1 KB canonical events, the endpoint, and the real relay log
// in a temporary directory with an fsync before every PUBACK. One site,
// INFLIGHT streams (default 32) published concurrently, one batch in flight
// each. Reports events/s.
//
//	go test -run '^$' -bench 'BenchmarkIngest' -benchtime 20000x ./relay/ingest/
func BenchmarkIngestQUIC(b *testing.B) { benchIngest(b, TransportQUIC) }

// BenchmarkIngestTCP: see BenchmarkIngestQUIC.
func BenchmarkIngestTCP(b *testing.B) { benchIngest(b, TransportTCP) }

// INFLIGHT sets the number of batches in flight (default 32); BENCHLOG
// names a file for the endpoint's debug log (one line per group commit).
var benchLog = func() io.Writer {
	if p := os.Getenv("BENCHLOG"); p != "" {
		if f, err := os.Create(p); err == nil {
			return f
		}
	}
	return nil
}()

func benchInFlight() int {
	if n, err := strconv.Atoi(os.Getenv("INFLIGHT")); err == nil {
		return n
	}
	return 32
}

func benchIngest(b *testing.B, transport string) {
	for _, k := range []int{64, 256} {
		b.Run(fmt.Sprintf("K=%d", k), func(b *testing.B) {
			ts := startServer(b, nil, func(c *Config) {
				c.Logger = slog.New(slog.DiscardHandler)
				if benchLog != nil {
					c.Logger = slog.New(slog.NewTextHandler(benchLog, &slog.HandlerOptions{Level: slog.LevelDebug}))
				}
			})
			cm := pahoClient(b, ts, "MEM1", transport)
			gen := newEventGen(b, "MEM1")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()

			var next atomic.Int64
			var failed atomic.Value
			var wg sync.WaitGroup
			b.ResetTimer()
			start, cpuStart := time.Now(), cpuTime()
			for w := range benchInFlight() {
				wg.Go(func() {
					seq := uint64(1)
					body := make([]byte, 0, k*1100)
					for next.Add(1) <= int64(b.N) {
						body = body[:0]
						for range k {
							body = wire.AppendRecord(body, gen.next())
						}
						h := wire.Header{Epoch: "bench", Lane: canonical.LaneOperational, Stream: uint32(w), First: seq, Last: seq + uint64(k) - 1}
						payload := ts.codec.Seal(&h, body)
						bt := batch{header: h, payload: payload}
						for _, p := range h.Properties() {
							bt.props = append(bt.props, userProp(p))
						}
						pr, err := pahoPublish(ctx, cm, "MEM1", bt)
						if err == nil && pr.ReasonCode != 0 {
							err = fmt.Errorf("PUBACK 0x%02X", pr.ReasonCode)
						}
						if err != nil {
							failed.Store(err)
							return
						}
						seq += uint64(k)
					}
				})
			}
			wg.Wait()
			elapsed, cpu := time.Since(start), cpuTime()-cpuStart
			b.StopTimer()
			if err := failed.Load(); err != nil {
				b.Fatal(err)
			}
			events := float64(b.N) * float64(k)
			if got := ts.log.LastSeq(); got != uint64(events) {
				b.Fatalf("%d events stored; want %.0f", got, events)
			}
			b.ReportMetric(events/elapsed.Seconds(), "events/s")
			// CPU of the whole process (client, endpoint and relay log)
			// per event: steadier than events/s on a shared machine.
			b.ReportMetric(float64(cpu.Microseconds())/events, "cpu-µs/event")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// eventGen makes distinct ~1 KB canonical events cheaply: one real event
// with its id replaced by a counter of the same length.
type eventGen struct {
	template []byte
	id       []byte
	n        atomic.Uint64
}

func newEventGen(tb testing.TB, site string) *eventGen {
	tmpl := testEvents(tb, site, 1, 1, 1000)[0]
	id, err := canonical.PeekIdentity(tmpl)
	if err != nil || len(id.ID) != 36 {
		tb.Fatalf("template id %q: %v", id.ID, err)
	}
	return &eventGen{template: tmpl, id: []byte(id.ID)}
}

func (g *eventGen) next() []byte {
	id := fmt.Appendf(nil, "00000000-0000-5000-8000-%012x", g.n.Add(1))
	return bytes.Replace(g.template, g.id, id, 1)
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
