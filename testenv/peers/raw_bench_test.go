package peers

import (
	"context"
	"crypto/tls"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/draylink/dray/internal/mqttquic"
	"github.com/draylink/dray/internal/pki"
	"github.com/draylink/dray/testenv/bench"
)

// BenchmarkRawFsync is the disk's fsync rate, the bound of every
// acknowledge-after-fsync path: append 4 KiB to a file in the test's
// temporary directory and fsync it, in a loop. One op is one write + fsync.
// Metrics: fsyncs/s, p50/p99 of one write + fsync.
//
//	go test ./testenv/peers/ -run '^$' -bench RawFsync -benchtime 3s
func BenchmarkRawFsync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "fsync"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for i := range buf {
		buf[i] = byte(i)
	}
	lat := make([]time.Duration, 0, b.N)
	meter := bench.Start()
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for range b.N {
		t := time.Now()
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fsyncs/s")
	b.ReportMetric(bench.Millis(bench.Quantile(lat, 0.50)), "p50-ms")
	b.ReportMetric(bench.Millis(bench.Quantile(lat, 0.99)), "p99-ms")
	meter.Report(b, b.N)
}

// BenchmarkRawLoopback is the transport's raw limit: one stream on
// 127.0.0.1 carrying 64 KiB writes one way as fast as the reader takes
// them, both ends in this process. quic: quic-go with internal/mqttquic's
// configuration (the uplink's); tls-tcp: TLS 1.3 over TCP with the same
// certificates. One op is one 64 KiB write. Metrics: MB/s, events/s in 1 KiB
// units (the size of an event), cpu-µs/event (both ends, per KiB).
//
//	go test ./testenv/peers/ -run '^$' -bench RawLoopback -benchtime 3s
func BenchmarkRawLoopback(b *testing.B) {
	ts, err := pki.NewTestSetup()
	if err != nil {
		b.Fatal(err)
	}
	client, err := ts.ClientTLS("MEM1")
	if err != nil {
		b.Fatal(err)
	}
	for _, transport := range []string{"quic", "tls-tcp"} {
		b.Run(transport, func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			var dial func() (io.WriteCloser, error)
			accepted := make(chan io.ReadCloser, 1)
			switch transport {
			case "quic":
				l, err := mqttquic.Listen("127.0.0.1:0", ts.ServerTLS(), nil)
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				go func() {
					if c, err := l.Accept(ctx); err == nil {
						accepted <- c
					}
				}()
				dial = func() (io.WriteCloser, error) { return mqttquic.Dial(ctx, l.Addr().String(), client, nil) }
			default:
				l, err := tls.Listen("tcp", "127.0.0.1:0", ts.ServerTLS())
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				go func() {
					c, err := l.Accept()
					if err != nil {
						return
					}
					// tls.Dial returns after the handshake, which the
					// server must run meanwhile.
					if err := c.(*tls.Conn).HandshakeContext(ctx); err == nil {
						accepted <- c
					}
				}()
				dial = func() (io.WriteCloser, error) { return tls.Dial("tcp", l.Addr().String(), client) }
			}
			w, err := dial()
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			chunk := make([]byte, 64<<10)
			for i := range chunk {
				chunk[i] = byte(i * 7)
			}
			// The QUIC stream exists for the peer once data arrives.
			if _, err := w.Write(chunk[:1]); err != nil {
				b.Fatal(err)
			}
			var r io.ReadCloser
			select {
			case r = <-accepted:
			case <-ctx.Done():
				b.Fatal("no connection accepted")
			}
			defer r.Close()
			if _, err := io.ReadFull(r, make([]byte, 1)); err != nil {
				b.Fatal(err)
			}
			want := int64(b.N) * int64(len(chunk))
			got := make(chan error, 1)
			meter := bench.Start()
			b.SetBytes(int64(len(chunk)))
			b.ResetTimer()
			go func() {
				_, err := io.CopyN(io.Discard, r, want)
				got <- err
			}()
			for range b.N {
				if _, err := w.Write(chunk); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-got; err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			events := int(want >> 10)
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
			meter.Report(b, events)
		})
	}
}
