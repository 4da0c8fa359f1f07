package peers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// BenchmarkPeerMosquitto is the peer row of the spine benchmark: mosquitto
// 2.0 with persistence, QoS 1, one 1 KB message per event, a persistent
// QoS 1 subscriber draining them. It reports messages per second from the
// first publish to the last message delivered. Compare with
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
	sub := connect(ctx, b, m.Addr, "dray-bench-sub", func(paho.PublishReceived) (bool, error) {
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
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		p := &paho.Publish{Topic: "bench/events", QoS: 1, Payload: payload}
		if _, err := pub.PublishWithOptions(ctx, p, paho.PublishOptions{Method: paho.PublishMethod_AsyncSend}); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-ctx.Done():
		b.Fatalf("received %d of %d", received.Load(), b.N)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
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
