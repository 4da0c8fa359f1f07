package peers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/draylink/dray/testenv/bench"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// BenchmarkPeerJetStream is the NATS JetStream peer: nats-server (the
// Makefile's pinned build) on loopback with file storage in a temporary
// directory, one stream, 1 KB messages, one message per event, every
// publish acknowledged by the server after it stored the message.
//
//   - lazy: the server's default, an fsync every 2 minutes (a stored
//     message is in the page cache when acknowledged);
//     always: `sync_interval: always`, an fsync before every acknowledgement.
//   - sync-1, sync-16: 1 or 16 connections, each publishing and waiting for
//     the ack before the next message.
//   - async: one connection, PublishAsync with at most asyncWindow acks
//     outstanding.
//   - batch-100, batch-1000: one connection, atomic batches (JetStream 2.12,
//     stream `allow_atomic`): every message of a batch carries Nats-Batch-Id
//     and Nats-Batch-Sequence, the last also Nats-Batch-Commit: 1 and is a
//     request whose reply is the batch's ack; the next batch starts after
//     it. nats.go v1.55 has the stream setting but no batch publisher, so the
//     headers are set here.
//
// Metrics: msgs/s; p50/p99 of the publish → ack time (per message, or per
// batch from its first message to the commit's ack); server- and
// client-cpu-µs/msg; cpu-µs/event (both); peak RSS of the server and of
// both (peak-rss-MiB).
//
//	go test ./testenv/peers/ -run '^$' -bench PeerJetStream -benchtime 3s
func BenchmarkPeerJetStream(b *testing.B) {
	for _, sync := range []string{"lazy", "always"} {
		for _, mode := range []string{"sync-1", "sync-16", "async", "batch-100", "batch-1000"} {
			b.Run(sync+"/"+mode, func(b *testing.B) { benchJetStream(b, sync == "always", mode) })
		}
	}
}

const (
	jsSubject   = "bench.events"
	asyncWindow = 256
)

func benchJetStream(b *testing.B, syncAlways bool, mode string) {
	srv, err := StartNATS(b.TempDir(), syncAlways)
	if errors.Is(err, ErrNotInstalled) {
		b.Skip("nats-server is not installed (make bench installs the pinned build into .tools/bin)")
	}
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	nc, js := jsConnect(b, srv.URL)
	defer nc.Close()
	batch := 0
	if n, ok := cutPrefixInt(mode, "batch-"); ok {
		batch = n
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "BENCH", Subjects: []string{"bench.>"},
		Storage: jetstream.FileStorage, Replicas: 1, AllowAtomicPublish: batch > 0}); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 1024)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}

	meter := bench.Start(srv.Pid())
	server0, _ := bench.ProcCPU(srv.Pid())
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	start := time.Now()
	var lat []time.Duration
	switch {
	case mode == "async":
		lat = jsAsync(ctx, b, js, payload)
	case batch > 0:
		lat = jsBatches(ctx, b, nc, payload, batch)
	default:
		clients, _ := cutPrefixInt(mode, "sync-")
		lat = jsSync(ctx, b, srv.URL, js, payload, clients)
	}
	elapsed := time.Since(start)
	b.StopTimer()

	info, err := js.Stream(ctx, "BENCH")
	if err != nil {
		b.Fatal(err)
	}
	if got := info.CachedInfo().State.Msgs; got != uint64(b.N) {
		b.Fatalf("the stream holds %d messages; want %d", got, b.N)
	}
	server1, _ := bench.ProcCPU(srv.Pid())
	serverRSS, _ := bench.ProcPeakRSS(srv.Pid())
	total := meter.CPU()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(bench.Millis(bench.Quantile(lat, 0.50)), "p50-ms")
	b.ReportMetric(bench.Millis(bench.Quantile(lat, 0.99)), "p99-ms")
	b.ReportMetric(float64((server1-server0).Microseconds())/float64(b.N), "server-cpu-µs/msg")
	b.ReportMetric(float64((total-(server1-server0)).Microseconds())/float64(b.N), "client-cpu-µs/msg")
	b.ReportMetric(float64(serverRSS)/(1<<20), "server-rss-MiB")
	meter.Report(b, b.N)
	b.ReportMetric(0, "ns/op")
}

func jsConnect(b *testing.B, url string) (*nats.Conn, jetstream.JetStream) {
	nc, err := nats.Connect(url, nats.Name("dray-bench"))
	if err != nil {
		b.Fatal(err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(asyncWindow))
	if err != nil {
		b.Fatal(err)
	}
	return nc, js
}

// jsSync publishes b.N messages from clients connections (the first is
// js's), each waiting for every ack.
func jsSync(ctx context.Context, b *testing.B, url string, js jetstream.JetStream, payload []byte, clients int) []time.Duration {
	var next atomic.Int64
	lats := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	for c := range clients {
		cjs := js
		if c > 0 {
			cnc, j := jsConnect(b, url)
			defer cnc.Close()
			cjs = j
		}
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				t := time.Now()
				if _, err := cjs.Publish(ctx, jsSubject, payload); err != nil {
					b.Error(err)
					return
				}
				lats[c] = append(lats[c], time.Since(t))
			}
		})
	}
	wg.Wait()
	return slices.Concat(lats...)
}

// jsAsync publishes b.N messages with PublishAsync, at most asyncWindow
// unacknowledged; a collector takes the acks in order and times them.
func jsAsync(ctx context.Context, b *testing.B, js jetstream.JetStream, payload []byte) []time.Duration {
	type sent struct {
		f  jetstream.PubAckFuture
		at time.Time
	}
	pending := make(chan sent, asyncWindow)
	lat := make([]time.Duration, 0, b.N)
	done := make(chan error, 1)
	go func() {
		for s := range pending {
			select {
			case <-s.f.Ok():
				lat = append(lat, time.Since(s.at))
			case err := <-s.f.Err():
				done <- err
				for range pending {
				}
				return
			case <-ctx.Done():
				done <- ctx.Err()
				for range pending {
				}
				return
			}
		}
		done <- nil
	}()
	for range b.N {
		t := time.Now()
		f, err := js.PublishAsync(jsSubject, payload, jetstream.WithStallWait(time.Minute))
		if err != nil {
			b.Error(err)
			break
		}
		pending <- sent{f, t}
	}
	close(pending)
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return lat
}

// jsBatches publishes b.N messages in atomic batches of size messages and
// returns each batch's time from its first message to the commit's ack.
func jsBatches(ctx context.Context, b *testing.B, nc *nats.Conn, payload []byte, size int) []time.Duration {
	var lat []time.Duration
	for sent, id := 0, 0; sent < b.N; id++ {
		n := min(size, b.N-sent)
		batchID := fmt.Sprintf("bench-%d", id)
		t := time.Now()
		for seq := 1; seq <= n; seq++ {
			m := nats.NewMsg(jsSubject)
			m.Data = payload
			m.Header.Set("Nats-Batch-Id", batchID)
			m.Header.Set("Nats-Batch-Sequence", strconv.Itoa(seq))
			if seq < n {
				if err := nc.PublishMsg(m); err != nil {
					b.Fatal(err)
				}
				continue
			}
			m.Header.Set("Nats-Batch-Commit", "1")
			resp, err := nc.RequestMsgWithContext(ctx, m)
			if err != nil {
				b.Fatal(err)
			}
			var ack struct {
				Stream string `json:"stream"`
				Batch  string `json:"batch"`
				Count  int    `json:"count"`
				Error  *struct {
					Code        int    `json:"code"`
					ErrCode     int    `json:"err_code"`
					Description string `json:"description"`
				} `json:"error"`
			}
			if err := json.Unmarshal(resp.Data, &ack); err != nil {
				b.Fatalf("batch ack %q: %v", resp.Data, err)
			}
			if ack.Error != nil || ack.Batch != batchID || ack.Count != n {
				b.Fatalf("batch %s of %d: ack %s", batchID, n, resp.Data)
			}
		}
		lat = append(lat, time.Since(t))
		sent += n
	}
	return lat
}

func cutPrefixInt(s, prefix string) (int, bool) {
	if len(s) <= len(prefix) || s[:len(prefix)] != prefix {
		return 0, false
	}
	n, err := strconv.Atoi(s[len(prefix):])
	return n, err == nil
}
