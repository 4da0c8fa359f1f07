package peers

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/draylink/dray/testenv/bench"
	"github.com/eclipse/paho.golang/paho"
)

// BenchmarkPeerMosquitto is the peer row of the spine benchmark: mosquitto
// 2.0 with persistence, QoS 1, one 1 KB message per event, a persistent
// QoS 1 subscriber draining them. It reports messages per second from the
// first publish to the last message delivered, p50/p99 of the time from a
// message's publish to its delivery (the send time travels in the payload),
// the broker's and the clients' CPU per message, and peak RSS. Compare with
// agent/uplink's BenchmarkThroughput (dray fsyncs before every ack at both
// ends; mosquitto persists on an interval, not per message).
//
//	go test ./testenv/peers/ -run '^$' -bench PeerMosquitto -benchtime 100000x -count 3
func BenchmarkPeerMosquitto(b *testing.B) {
	m, err := StartMosquitto(b.TempDir())
	if errors.Is(err, ErrNotInstalled) {
		b.Skip("mosquitto is not installed (apt-get install mosquitto, or make deps as root)")
	}
	if err != nil {
		b.Fatal(err)
	}
	defer m.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	var received atomic.Int64
	done := make(chan struct{})
	n := int64(b.N)
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N) // guarded by mu
	sub := connect(ctx, b, m.Addr, "dray-bench-sub", func(p paho.PublishReceived) (bool, error) {
		if len(p.Packet.Payload) >= 8 {
			d := time.Duration(time.Now().UnixNano() - int64(binary.BigEndian.Uint64(p.Packet.Payload)))
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
		}
		if received.Add(1) == n {
			close(done)
		}
		return true, nil
	})
	defer sub.Disconnect(&paho.Disconnect{})
	if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "bench/events", QoS: 1}}}); err != nil {
		b.Fatal(err)
	}
	pub := connect(ctx, b, m.Addr, "dray-bench-pub", nil)
	defer pub.Disconnect(&paho.Disconnect{})

	payload := make([]byte, 1024)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	b.SetBytes(int64(len(payload)))
	meter := bench.Start(m.Pid())
	broker0, _ := bench.ProcCPU(m.Pid())
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		msg := bytes.Clone(payload)
		binary.BigEndian.PutUint64(msg, uint64(time.Now().UnixNano()))
		p := &paho.Publish{Topic: "bench/events", QoS: 1, Payload: msg}
		if _, err := pub.PublishWithOptions(ctx, p, paho.PublishOptions{Method: paho.PublishMethod_AsyncSend}); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-ctx.Done():
		b.Fatalf("received %d of %d", received.Load(), b.N)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	broker1, _ := bench.ProcCPU(m.Pid())
	brokerRSS, _ := bench.ProcPeakRSS(m.Pid())
	total := meter.CPU()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(bench.Millis(bench.Quantile(lat, 0.50)), "p50-ms")
	b.ReportMetric(bench.Millis(bench.Quantile(lat, 0.99)), "p99-ms")
	b.ReportMetric(float64((broker1-broker0).Microseconds())/float64(b.N), "server-cpu-µs/msg")
	b.ReportMetric(float64((total-(broker1-broker0)).Microseconds())/float64(b.N), "client-cpu-µs/msg")
	b.ReportMetric(float64(brokerRSS)/(1<<20), "server-rss-MiB")
	meter.Report(b, b.N)
	b.ReportMetric(0, "ns/op")
}

func connect(ctx context.Context, b *testing.B, addr, id string, onMsg func(paho.PublishReceived) (bool, error)) *paho.Client {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	cfg := paho.ClientConfig{Conn: conn, ClientID: id}
	if onMsg != nil {
		cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){onMsg}
	}
	c := paho.NewClient(cfg)
	expiry := uint32(3600)
	ca, err := c.Connect(ctx, &paho.Connect{ClientID: id, KeepAlive: 30, CleanStart: true,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}})
	if err != nil {
		b.Fatal(fmt.Errorf("connect %s: %w", id, err))
	}
	if ca.ReasonCode != 0 {
		b.Fatalf("connect %s: reason %d", id, ca.ReasonCode)
	}
	return c
}
