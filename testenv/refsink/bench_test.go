package refsink_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/draylink/dray/testenv/refsink"
)

// peerEnv makes the test binary a no-op HTTP server (the raw-limit peer of
// the benchmark) that writes its address to the file after --addr-file.
const peerEnv = "REFSINK_BENCH_NOOP_PEER"

func TestMain(m *testing.M) {
	if os.Getenv(peerEnv) != "" {
		addrFile := ""
		for i, a := range os.Args {
			if a == "--addr-file" && i+1 < len(os.Args) {
				addrFile = os.Args[i+1]
			}
		}
		if err := runNoopPeer(addrFile); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// runNoopPeer serves net/http with a handler that reads the body and
// answers a fixed 201: no validation, no ledger.
func runNoopPeer(addrFile string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if err := os.WriteFile(addrFile, []byte(ln.Addr().String()), 0o644); err != nil {
		return err
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"documentId":"490000000001","resource":"goods-movements","status":"applied","idempotencyKey":"k1","ledgerSeq":1}`))
	})}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// BenchmarkGoodsMovement measures the ERP goods-movement endpoint of the
// real binary, as a separate process, on loopback, with its ledger fsynced
// on the real disk; the load comes from this process. Metrics: events/s;
// server-cpu-µs/event (the dray-refsink process alone, from /proc), from
// which events/s per server core = 1e6 / it; client-cpu-µs/event (this
// process). The peer is net/http with a no-op handler in its own process,
// measured the same way. Targets: the relay sends ≥ 5,000 events/s per sink
// one request per event and ≥ 20,000/s batched; the sink must not be the
// bottleneck.
//
//	go test ./testenv/refsink/ -run '^$' -bench GoodsMovement -benchtime 5s -count 3
func BenchmarkGoodsMovement(b *testing.B) {
	for _, bc := range []struct {
		name        string
		concurrency int
		batch       int
		ce, peer    bool
		odata       bool // the batch as the relay sends it: POST /erp/v1/batch, OData JSON
	}{
		{name: "single/c1", concurrency: 1},
		{name: "single/c32", concurrency: 32},
		{name: "single-cloudevents/c32", concurrency: 32, ce: true},
		{name: "batch100/c1", concurrency: 1, batch: 100},
		{name: "batch100/c4", concurrency: 4, batch: 100},
		{name: "odata100/c4", concurrency: 4, batch: 100, odata: true},
		{name: "peer-nethttp-noop/c32", concurrency: 32, peer: true},
	} {
		var p *proc
		parent := b
		b.Run(bc.name, func(b *testing.B) {
			if p == nil {
				// One server per case, kept across the b.N rounds (so it
				// belongs to the parent benchmark).
				if bc.peer {
					p = startProcEnv(parent, []string{peerEnv + "=1"}, os.Args[0])
				} else {
					p = startProc(parent, buildBinary(b), "--kind", "erp", "--data", parent.TempDir(), "--log-level", "warn")
				}
			}
			benchGoodsMovement(b, p, bc.concurrency, bc.batch, bc.ce, bc.odata)
		})
	}
}

var benchRound atomic.Int64

func benchGoodsMovement(b *testing.B, p *proc, concurrency, batch int, ce, odata bool) {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency, MaxConnsPerHost: concurrency}}
	url, ct := p.url()+"/erp/v1/goods-movements", "application/json"
	switch {
	case odata:
		url = p.url() + "/erp/v1/batch"
	case batch > 0:
		url += ":batch"
	case ce:
		ct = "application/cloudevents+json"
	}
	ceBody := event(b, "inventory.moved")
	round := benchRound.Add(1)
	body := func(n int64) []byte {
		if batch == 0 {
			if ce {
				return ceBody
			}
			return []byte(gm(int(n % 1000)))
		}
		var buf bytes.Buffer
		if odata {
			return odataBatch(&buf, round, n, batch)
		}
		buf.WriteByte('[')
		for i := range batch {
			if i > 0 {
				buf.WriteByte(',')
			}
			fmt.Fprintf(&buf, `{"idempotencyKey":"b%d-%d-%d","site":"MEM1","body":%s}`, round, n, i, gm(i))
		}
		buf.WriteByte(']')
		return buf.Bytes()
	}
	wantStatus := http.StatusCreated
	if batch > 0 {
		wantStatus = http.StatusOK
	}
	var seq atomic.Int64
	var self0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self0)
	server0 := p.cpu()
	start := time.Now()
	b.ResetTimer()
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for {
				n := seq.Add(1)
				if n > int64(b.N) {
					return
				}
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body(n)))
				req.Header.Set("Content-Type", ct)
				req.Header.Set("Idempotency-Key", fmt.Sprintf("k%d-%d", round, n))
				req.Header.Set("Dray-Site", "MEM1")
				res, err := hc.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != wantStatus {
					b.Errorf("status %d", res.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	elapsed := time.Since(start)
	serverCPU := p.cpu() - server0
	var self1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self1)
	events := float64(b.N * max(batch, 1))
	b.ReportMetric(events/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(serverCPU.Microseconds())/events, "server-cpu-µs/event")
	b.ReportMetric(float64(cpuTime(self1)-cpuTime(self0))/1e3/events, "client-cpu-µs/event")
	hc.CloseIdleConnections()
}

// odataBatch renders a /erp/v1/batch body the way the relay does
// (relay/route jsonBatchBody, with the goods-movement mapping of
// testenv.ERPRoutes): sorted sub-request headers, gojq's sorted body
// members.
func odataBatch(buf *bytes.Buffer, round, n int64, batch int) []byte {
	buf.WriteString(`{"requests":[`)
	for i := range batch {
		if i > 0 {
			buf.WriteByte(',')
		}
		id := fmt.Sprintf("0192f0c4-%04x-7000-8000-%012x", round&0xffff, n*1000+int64(i))
		fmt.Fprintf(buf, `{"id":"%d","method":"POST","url":"/erp/v1/goods-movements","headers":{`+
			`"Ce-Id":%q,"Content-Type":"application/json","Dray-Site":"MEM1","Idempotency-Key":%q,`+
			`"Traceparent":"00-0192f0c4%04x70008000%012x-%016x-01"},`, i+1, id, id, round&0xffff, n*1000+int64(i), n)
		fmt.Fprintf(buf, `"body":{"batch":"L%d","material":"AF-1002","movementType":"311","occurredAt":"2026-11-27T07:52:26.404Z",`+
			`"plant":"MEM1","quantity":"%d.000","reference":"wms-move-%d-%d","storageLocation":"A-01-02","toStorageLocation":"B-03-04","unit":"EA"}}`,
			i%7, i+1, n, i)
	}
	buf.WriteString(`]}`)
	return buf.Bytes()
}

func cpuTime(r syscall.Rusage) int64 {
	return r.Utime.Nano() + r.Stime.Nano()
}

// BenchmarkHandler serves what BenchmarkGoodsMovement sends in-process,
// through the server's fasthttp request handler (no connection, no
// separate process; the ledger is still fsynced), to profile the sink's
// own work:
//
//	go test ./testenv/refsink/ -run '^$' -bench Handler -benchtime 400x -cpuprofile cpu.out
func BenchmarkHandler(b *testing.B) {
	srv, err := refsink.NewServer(refsink.Config{Kind: refsink.KindERP, DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	var ctx fasthttp.RequestCtx
	var req fasthttp.Request
	remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
	serve := func(b *testing.B, path string, body []byte, want int, headers ...string) {
		req.Reset()
		req.Header.SetMethod(fasthttp.MethodPost)
		req.SetRequestURI(path)
		req.Header.SetContentType("application/json")
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		req.SetBody(body)
		ctx.Init(&req, remote, nil)
		srv.ServeRequest(&ctx)
		if got := ctx.Response.StatusCode(); got != want {
			b.Fatalf("status %d: %s", got, ctx.Response.Body())
		}
	}
	round := benchRound.Add(1)
	b.Run("odata100", func(b *testing.B) {
		var buf bytes.Buffer
		for n := int64(0); b.Loop(); n++ {
			buf.Reset()
			serve(b, "/erp/v1/batch", odataBatch(&buf, round, n, 100), http.StatusOK)
		}
	})
	b.Run("single", func(b *testing.B) {
		for n := 0; b.Loop(); n++ {
			serve(b, "/erp/v1/goods-movements", []byte(gm(n%1000)), http.StatusCreated,
				"Idempotency-Key", fmt.Sprintf("h%d-%d", round, n), "Dray-Site", "MEM1")
		}
	})
}
