package sink

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// noopServerEnv makes the test binary a no-op HTTP server on loopback (the
// other process of BenchmarkDo), printing its address.
const noopServerEnv = "SINK_BENCH_NOOP_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(noopServerEnv) != "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(ln.Addr().String())
		go func() { _, _ = io.Copy(io.Discard, os.Stdin); os.Exit(0) }() // ends with its parent
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"id":"4711","status":"applied"}`))
		}))
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// BenchmarkDo measures the client side of one request per event: Sink.Do
// (fasthttp) against net/http's client making the same requests, 32 in
// flight, to a net/http no-op server in another process on loopback. The
// metric is this process's CPU per request, the relay's cost of a
// delivery's HTTP exchange.
//
//	go test ./relay/sink -run '^$' -bench '^BenchmarkDo$' -benchtime 50000x
func BenchmarkDo(b *testing.B) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), noopServerEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	base := "http://" + strings.TrimSpace(addr) + "/erp/v1"
	body := bytes.Repeat([]byte("x"), 600)
	header := func() http.Header {
		return http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"MEM1-7-0-4711"},
			"Traceparent": {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}, "Dray-Site": {"MEM1"}}
	}
	const inFlight = 32
	run := func(b *testing.B, do func() error) {
		var next atomic.Int64
		var wg sync.WaitGroup
		var failed atomic.Pointer[error]
		cpu0, t0 := selfCPU(), time.Now()
		for range inFlight {
			wg.Go(func() {
				for next.Add(1) <= int64(b.N) {
					if err := do(); err != nil {
						failed.Store(&err)
						return
					}
				}
			})
		}
		wg.Wait()
		el, cpu := time.Since(t0), selfCPU()-cpu0
		if p := failed.Load(); p != nil {
			b.Fatal(*p)
		}
		b.ReportMetric(float64(b.N)/el.Seconds(), "requests/s")
		b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N), "cpu-µs/request")
		b.ReportMetric(0, "ns/op")
	}
	b.Run("sink", func(b *testing.B) {
		s, err := New(Config{Name: "erp", URL: base, Breaker: BreakerConfig{Failures: -1}}, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		run(b, func() error {
			res := s.Do(context.Background(), &Request{Method: http.MethodPost, Path: "/goods-movements", Header: header(), Body: body})
			if res.Outcome != Done {
				return fmt.Errorf("%+v", res)
			}
			return nil
		})
	})
	b.Run("peer-nethttp", func(b *testing.B) {
		c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64, DisableCompression: true}}
		defer c.CloseIdleConnections()
		run(b, func() error {
			req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, base+"/goods-movements", bytes.NewReader(body))
			if err != nil {
				return err
			}
			req.Header = header()
			resp, err := c.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if _, err := io.Copy(io.Discard, resp.Body); err != nil || resp.StatusCode != http.StatusCreated {
				return fmt.Errorf("HTTP %d, %w", resp.StatusCode, err)
			}
			return nil
		})
	})
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
