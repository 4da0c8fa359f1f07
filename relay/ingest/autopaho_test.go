package ingest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/draylink/dray/internal/mqttquic"
	"github.com/draylink/dray/internal/wire"
	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
)

// pahoClient connects an autopaho client (the agent's client library) over
// transport and waits for the connection.
func pahoClient(t testing.TB, ts *testServer, site, transport string) *autopaho.ConnectionManager {
	t.Helper()
	tlsConf := clientTLS(t, site)
	addr := ts.TCPAddr().String()
	if transport == TransportQUIC {
		addr = ts.QUICAddr().String()
	}
	u := &url.URL{Scheme: "tls", Host: addr}
	cfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		TlsCfg:                        tlsConf,
		KeepAlive:                     30,
		CleanStartOnInitialConnection: true,
		ConnectTimeout:                5 * time.Second,
		ReconnectBackoff:              autopaho.NewExponentialBackoff(50*time.Millisecond, time.Second, 100*time.Millisecond, 2),
		ClientConfig:                  paho.ClientConfig{ClientID: site},
	}
	if transport == TransportQUIC {
		// autopaho passes its outer context: bound the dial ourselves.
		cfg.AttemptConnection = func(ctx context.Context, _ autopaho.ClientConfig, u *url.URL) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return mqttquic.Dial(ctx, u.Host, tlsConf, nil)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cm, err := autopaho.NewConnection(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = cm.Disconnect(dctx)
		dcancel()
		cancel()
		<-cm.Done()
	})
	actx, acancel := context.WithTimeout(ctx, 10*time.Second)
	defer acancel()
	if err := cm.AwaitConnection(actx); err != nil {
		t.Fatalf("autopaho over %s: %v", transport, err)
	}
	return cm
}

func pahoPublish(ctx context.Context, cm *autopaho.ConnectionManager, site string, b batch) (*paho.PublishResponse, error) {
	props := &paho.PublishProperties{ContentType: wire.ContentType}
	for _, u := range b.props {
		props.User = append(props.User, paho.UserProperty{Key: u.Key, Value: u.Value})
	}
	return cm.Publish(ctx, &paho.Publish{QoS: 1, Topic: wire.EventsTopic(site), Payload: b.payload, Properties: props})
}

func TestIntegrationAutopaho(t *testing.T) {
	skipShort(t)
	for _, transport := range []string{TransportTCP, TransportQUIC} {
		t.Run(transport, func(t *testing.T) {
			ts := startServer(t, nil, nil)
			cm := pahoClient(t, ts, "MEM1", transport)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			// Four streams publish concurrently (four batches in flight),
			// each stream's batches in order: the order a stream needs.
			const streams, batches, per = 4, 5, 16
			all := make([][][]byte, streams)
			errs := make(chan error, streams)
			for st := range streams {
				all[st] = testEvents(t, "MEM1", uint64(st*1000+1), batches*per, 1000)
				go func() {
					for i := range batches {
						b := makeStreamBatch(ts.codec, "epoch-1", uint32(st), uint64(i*per+1), all[st][i*per:(i+1)*per])
						pr, err := pahoPublish(ctx, cm, "MEM1", b)
						if err == nil && pr.ReasonCode != 0 {
							err = fmt.Errorf("PUBACK 0x%02X", pr.ReasonCode)
						}
						if err != nil {
							errs <- err
							return
						}
					}
					errs <- nil
				}()
			}
			for range streams {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			// Stored once each, in order within each stream.
			got := stored(t, ts.log)
			if len(got) != streams*batches*per {
				t.Fatalf("%d events stored; want %d", len(got), streams*batches*per)
			}
			next := make([]int, streams)
			for _, e := range got {
				st := -1
				for s := range streams {
					if next[s] < len(all[s]) && bytes.Equal(e.Event, all[s][next[s]]) {
						st = s
					}
				}
				if st < 0 || e.Site != "MEM1" {
					t.Fatalf("event %d is out of order, unknown or duplicated (site %q)", e.Seq, e.Site)
				}
				next[st]++
			}

			// A re-sent batch is acknowledged and not stored again.
			total := uint64(streams * batches * per)
			pr, err := pahoPublish(ctx, cm, "MEM1", makeStreamBatch(ts.codec, "epoch-1", 2, 1, all[2][:per]))
			if err != nil || pr.ReasonCode != 0 {
				t.Fatalf("duplicate: %v, %+v; want PUBACK 0x00", err, pr)
			}
			if n := ts.log.LastSeq(); n != total {
				t.Fatalf("LastSeq %d after a duplicate; want %d", n, total)
			}

			// A gap is refused with 0x83 and the sequence to resume from.
			gapped := makeStreamBatch(ts.codec, "epoch-1", 1, batches*per+6, testEvents(t, "MEM1", 9001, 2, 500))
			pr, err = pahoPublish(ctx, cm, "MEM1", gapped)
			if err == nil || pr == nil || pr.ReasonCode != codeImplementationSpecific {
				t.Fatalf("gap: %v, %+v; want PUBACK 0x83", err, pr)
			}
			if got, want := pr.Properties.User.Get(wire.PropExpected), fmt.Sprint(batches*per+1); got != want {
				t.Fatalf("%s = %q; want %s", wire.PropExpected, got, want)
			}
			if pr.Properties.ReasonString == "" {
				t.Error("gap PUBACK without a reason string")
			}
			ts.logs.waitAudit(t, codeImplementationSpecific, "gap")
			if n := ts.log.LastSeq(); n != total {
				t.Fatalf("LastSeq %d after a gap; want %d", n, total)
			}
		})
	}
}

// The relay log rejects a batch whose events name another site; the
// endpoint maps that to 0x87 (the mapping reads relaylog's reason text).
func TestIntegrationRejectedForeignEvent(t *testing.T) {
	skipShort(t)
	ts := startServer(t, nil, nil)
	c := connected(t, ts, "MEM1")
	b := makeBatch(ts.codec, "e", 1, testEvents(t, "ATL2", 1, 2, 300)) // ATL2's events on MEM1's topic
	c.send(publishPacket(1, wire.EventsTopic("MEM1"), b))
	if pa := c.puback(); pa.ReasonCode != codeNotAuthorized {
		t.Fatalf("PUBACK 0x%02X (%s); want 0x87", pa.ReasonCode, pa.Properties.ReasonString)
	}
	ts.logs.waitAudit(t, codeNotAuthorized, "names site")
	if n := ts.log.LastSeq(); n != 0 {
		t.Fatalf("%d events stored", n)
	}
}
