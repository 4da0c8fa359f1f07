package uplink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/mqttquic"
	"github.com/draylink/dray/internal/wire"
	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
)

// How to learn each PUBLISH's outcome, measured: the same batches (64
// events of 1 KB each, one stream) sent to the real relay over QUIC
//
//   - outbox: the uplink's way, autopaho's single queue goroutine
//     (AsyncSend) with the outbox as session state observing PUBACKs;
//   - blocking: cm.Publish (which returns the PUBACK) from 64 goroutines,
//     each taking the next batch in sequence order.
//
// Reported: acknowledged events per second and the share of batches the
// relay refused as gaps (they overtook their predecessor on the wire).
//
//	go test ./agent/uplink/ -run '^$' -bench PublishPath -benchtime 2000x
func BenchmarkPublishPath(b *testing.B) {
	b.Run("outbox", func(b *testing.B) { publishPath(b, false) })
	b.Run("blocking", func(b *testing.B) { publishPath(b, true) })
}

func publishPath(b *testing.B, blocking bool) {
	r := startRelay(b, nil)
	codec, err := wire.NewCodec(0, 64<<20)
	if err != nil {
		b.Fatal(err)
	}
	defer codec.Close()
	m := newEventMaker(b, "0000000c", benchEventSize)
	var e [8]byte
	_, _ = rand.Read(e[:])
	epoch := hex.EncodeToString(e[:])
	const per = 64
	n := b.N
	pubs := make([]*paho.Publish, n)
	for i := range pubs {
		h := wire.Header{Epoch: epoch, Lane: canonical.LaneOperational, Stream: 1,
			First: uint64(i*per + 1), Last: uint64((i + 1) * per)}
		var body []byte
		for j := range per {
			body = wire.AppendRecord(body, m.event(i*per+j))
		}
		payload := codec.Seal(&h, body)
		var user paho.UserProperties
		for _, p := range h.Properties() {
			user = append(user, paho.UserProperty{Key: p.Key, Value: p.Value})
		}
		pubs[i] = &paho.Publish{QoS: 1, Topic: wire.EventsTopic(testSite), Payload: payload,
			Properties: &paho.PublishProperties{ContentType: wire.ContentType, User: user}}
	}

	tlsConf := clientTLS(b)
	o := newOutbox(quiet())
	cfg := autopaho.ClientConfig{
		ServerUrls: []*url.URL{{Scheme: "mqtts", Host: r.quic}},
		KeepAlive:  30,
		AttemptConnection: func(ctx context.Context, _ autopaho.ClientConfig, _ *url.URL) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return mqttquic.Dial(ctx, r.quic, tlsConf, nil)
		},
		ClientConfig: paho.ClientConfig{ClientID: testSite, PacketTimeout: time.Minute},
	}
	if !blocking {
		cfg.Queue = o
		cfg.Session = o
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cm, err := autopaho.NewConnection(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { cancel(); <-cm.Done() }()
	if err := cm.AwaitConnection(ctx); err != nil {
		b.Fatal(err)
	}

	var acked, gaps atomic.Int64
	b.ResetTimer()
	start := time.Now()
	if blocking {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range 64 {
			wg.Go(func() {
				for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
					resp, _ := cm.Publish(ctx, pubs[i])
					switch {
					case resp == nil:
					case resp.ReasonCode == 0:
						acked.Add(1)
					case resp.ReasonCode == codeImplSpecific:
						gaps.Add(1)
					}
				}
			})
		}
		wg.Wait()
	} else {
		const window = 256
		sent, answered := 0, 0
		var evs []linkEvent
		for answered < n {
			for sent < n && sent-answered < window && o.queued() < maxQueued {
				bt := &batch{gen: 1, packet: encodePub(b, pubs[sent])}
				if !o.push(bt) {
					b.Fatal("push refused")
				}
				sent++
			}
			<-o.wake
			evs = o.take(evs[:0])
			for _, ev := range evs {
				if ev.kind != evOutcome {
					continue
				}
				answered++
				switch {
				case ev.lost:
				case ev.code == 0:
					acked.Add(1)
				case ev.code == codeImplSpecific:
					gaps.Add(1)
				}
			}
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(acked.Load()*per)/elapsed.Seconds(), "acked-events/s")
	b.ReportMetric(100*float64(gaps.Load())/float64(n), "gap-refused-%")
	b.ReportMetric(0, "ns/op")
}

func encodePub(b *testing.B, p *paho.Publish) []byte {
	var buf []byte
	w := &sliceWriter{buf}
	if _, err := p.Packet().WriteTo(w); err != nil {
		b.Fatal(err)
	}
	return w.b
}

type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }
