package uplink

import (
	"context"
	"github.com/draylink/dray/internal/mqttquic"
	"runtime"

	"github.com/draylink/dray/internal/wire"
	"sync"

	"github.com/draylink/dray/agent/spool"
	"slices"
	"strings"

	"github.com/draylink/dray/relay/ingest"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
)

// deliver checks that n events committed to the spool reach the relay log
// exactly once, in order, and leave the spool.
func deliver(t *testing.T, cfg Config, r *relay, n int, transport string) {
	sp := openSpool(t)
	m := newEventMaker(t, "00000001", 1000)
	commit(t, sp, m, canonical.LaneOperational, 0, n/2, 100)
	u := runUplink(t, cfg, sp)
	commit(t, sp, m, canonical.LaneOperational, n/2, n, 7)
	waitFor(t, 30*time.Second, "the spool to drain", func() bool { return pending(sp) == 0 })
	got := r.ids(t)
	// Events committed before the link came up are one stream, those after
	// it another (the spool opens a live stream when a backlog exists).
	checkOnce(t, got, idRange(m, 0, n/2), idRange(m, n/2, n))
	st := u.Status()
	if !st.Connected || st.Transport != transport || st.EventsAcked != uint64(n) {
		t.Fatalf("status %+v; want connected over %s with %d events acked", st, transport, n)
	}
}

func TestIntegrationDeliverQUIC(t *testing.T) {
	skipShort(t)
	r := startRelay(t, nil)
	deliver(t, Config{QUICAddr: r.quic, TCPAddr: r.tcp}, r, 3000, TransportQUIC)
}

func TestIntegrationDeliverTCP(t *testing.T) {
	skipShort(t)
	r := startRelay(t, nil)
	deliver(t, Config{TCPAddr: r.tcp}, r, 3000, TransportTCP)
}

// With UDP dropped, the uplink falls back to TLS/TCP within a bounded time
// and delivers everything.
func TestIntegrationUDPBlocked(t *testing.T) {
	skipShort(t)
	r := startRelay(t, nil)
	start := time.Now()
	deliver(t, Config{QUICAddr: blackhole(t), TCPAddr: r.tcp, DialTimeout: time.Second}, r, 1000, TransportTCP)
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("delivery over the TCP fallback took %v", d)
	}
}

// With nothing listening on the QUIC port, the same.
func TestIntegrationQUICPortClosed(t *testing.T) {
	skipShort(t)
	r := startRelay(t, nil)
	deliver(t, Config{QUICAddr: "127.0.0.1:9", TCPAddr: r.tcp, DialTimeout: time.Second}, r, 1000, TransportTCP)
}

// On the TCP fallback the uplink probes QUIC and moves back when UDP
// passes again; nothing is lost or duplicated across the move.
func TestIntegrationBackToQUIC(t *testing.T) {
	skipShort(t)
	r := startRelay(t, nil)
	gate := newUDPGate(t, r.quic)
	sp := openSpool(t)
	m := newEventMaker(t, "00000002", 500)
	u := runUplink(t, Config{QUICAddr: gate.addr(), TCPAddr: r.tcp, DialTimeout: time.Second, QUICRetry: time.Second}, sp)
	waitFor(t, 15*time.Second, "a TCP session", func() bool { return u.Status().Transport == TransportTCP })
	commit(t, sp, m, canonical.LaneOperational, 0, 500, 10)
	waitFor(t, 15*time.Second, "the spool to drain", func() bool { return pending(sp) == 0 })

	gate.open.Store(true)
	done := make(chan struct{})
	go func() { // keep events flowing during the move
		defer close(done)
		if err := commitEvents(sp, m, canonical.LaneOperational, 500, 1500, 5); err != nil {
			t.Error(err)
		}
	}()
	waitFor(t, 20*time.Second, "a QUIC session", func() bool { return u.Status().Transport == TransportQUIC })
	<-done
	waitFor(t, 15*time.Second, "the spool to drain", func() bool { return pending(sp) == 0 })
	checkOnce(t, r.ids(t), idRange(m, 0, 1500))
}

// A relay restart in the middle of a stream: after the reconnect the
// uplink re-sends from the spool and the relay log has every event once.
func TestIntegrationRelayRestart(t *testing.T) {
	skipShort(t)
	r := startRelay(t, nil)
	sp := openSpool(t)
	m := newEventMaker(t, "00000003", 1000)
	u := runUplink(t, Config{QUICAddr: r.quic, TCPAddr: r.tcp, BackoffMin: 100 * time.Millisecond, BackoffMax: time.Second}, sp)
	const n = 20000
	done := make(chan struct{})
	byStream := streams{}
	go func() {
		defer close(done)
		if err := commitByStream(sp, m, canonical.LaneOperational, 0, n, 50, byStream); err != nil {
			t.Error(err)
		}
	}()
	waitFor(t, 30*time.Second, "the relay to store some events", func() bool { return r.log.LastSeq() > 2000 })
	r.restart()
	<-done
	waitFor(t, 60*time.Second, "the spool to drain", func() bool { return pending(sp) == 0 })
	checkOnce(t, r.ids(t), byStream.groups()...)
	t.Logf("%d streams", len(byStream))
	if st := u.Status(); st.Connects < 2 || st.Transport != TransportQUIC {
		t.Fatalf("%d connects, now over %q; want a reconnect, over QUIC again", st.Connects, st.Transport)
	}
}

// A relay with a low rate limit refuses batches with 0x97: the uplink backs
// off and re-sends, and everything arrives once, in order.
func TestIntegrationRateLimited(t *testing.T) {
	skipShort(t)
	r := startRelay(t, func(c *ingest.Config) { c.RatePerSite, c.RateBurst = 4000, 500 })
	sp := openSpool(t)
	m := newEventMaker(t, "00000004", 300)
	const n = 8000
	commit(t, sp, m, canonical.LaneOperational, 0, n/2, 200)
	u := runUplink(t, Config{QUICAddr: r.quic, BackoffMin: 50 * time.Millisecond, BackoffMax: 500 * time.Millisecond}, sp)
	commit(t, sp, m, canonical.LaneOperational, n/2, n, 20)
	waitFor(t, 60*time.Second, "the spool to drain", func() bool { return pending(sp) == 0 })
	checkOnce(t, r.ids(t), idRange(m, 0, n/2), idRange(m, n/2, n))
	if st := u.Status(); st.BatchesRefused == 0 {
		t.Fatal("no batch was refused: the rate limit was not exercised")
	}
}

// A batch the relay will never take (an event naming another site: 0x87)
// is re-sent with backoff, never skipped: the events after it wait.
func TestIntegrationRefusedNeverSkipped(t *testing.T) {
	skipShort(t)
	r := startRelay(t, nil)
	sp := openSpool(t)
	good := newEventMaker(t, "00000005", 300)
	foreign := newSiteEventMaker(t, "DAL2", "00000006", 300)
	u := runUplink(t, Config{QUICAddr: r.quic, BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond}, sp)
	commit(t, sp, good, canonical.LaneOperational, 0, 10, 10)
	waitFor(t, 15*time.Second, "the spool to drain", func() bool { return pending(sp) == 0 })
	commit(t, sp, foreign, canonical.LaneOperational, 0, 1, 1)
	commit(t, sp, good, canonical.LaneOperational, 10, 20, 10)
	waitFor(t, 15*time.Second, "repeated refusals", func() bool { return u.Status().BatchesRefused >= 3 })
	checkOnce(t, r.ids(t), idRange(good, 0, 10))
	if p := pending(sp); p != 11 {
		t.Fatalf("%d events pending; want the refused one and the 10 after it", p)
	}
	if st := u.Status(); !strings.Contains(st.LastError, "0x87") {
		t.Fatalf("last error %q does not name the reason code", st.LastError)
	}
}

// A backlog and a live stream: everything arrives once, in order per
// stream, and live events do not wait for the backlog to drain.
func TestIntegrationLiveOvertakesBacklog(t *testing.T) {
	skipShort(t)
	r := startRelay(t, nil)
	sp := openSpool(t)
	backlog := newEventMaker(t, "00000007", 1000)
	live := newEventMaker(t, "00000008", 1000)
	const nb, nl = 40000, 100
	commit(t, sp, backlog, canonical.LaneOperational, 0, nb, 1000)
	u := runUplink(t, Config{QUICAddr: r.quic}, sp)
	// Live events committed once the link is up go to a new live stream
	// (before, they would join the backlog's stream, behind it).
	waitFor(t, 10*time.Second, "a session", func() bool { return u.Status().Connected })
	for i := range nl {
		commit(t, sp, live, canonical.LaneOperational, i, i+1, 1)
		time.Sleep(2 * time.Millisecond)
	}
	waitFor(t, 60*time.Second, "the spool to drain", func() bool { return pending(sp) == 0 })
	got := r.ids(t)
	checkOnce(t, got, idRange(backlog, 0, nb), idRange(live, 0, nl))
	lastBacklog := slices.Index(got, backlog.id(nb-1))
	firstLive := slices.Index(got, live.id(0))
	t.Logf("first live event at relay log position %d; last backlog event at %d", firstLive, lastBacklog)
	if firstLive > lastBacklog {
		t.Fatalf("the first live event was stored after the whole backlog (%d > %d)", firstLive, lastBacklog)
	}
}

// With an idle link a lone event leaves at once: no linger.
func TestIntegrationLoneEvent(t *testing.T) {
	skipShort(t)
	r := startRelay(t, nil)
	sp := openSpool(t)
	m := newEventMaker(t, "00000009", 500)
	u := runUplink(t, Config{QUICAddr: r.quic}, sp)
	waitFor(t, 10*time.Second, "a session", func() bool { return u.Status().Connected })
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	commit(t, sp, m, canonical.LaneOperational, 0, 1, 1)
	waitFor(t, 5*time.Second, "the lone event at the relay", func() bool { return r.log.LastSeq() == 1 })
	t.Logf("lone event stored %v after its commit returned", time.Since(start))
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Events removed by a drop policy before they were sent: the first batch
// after the gap announces it (DroppedThrough) and the relay accepts it.
func TestIntegrationDroppedThrough(t *testing.T) {
	skipShort(t)
	r := startRelay(t, nil)
	clock := &fakeClock{now: time.Now()}
	sp, err := spool.Open(spool.Options{Dir: t.TempDir(), Logger: quiet(), MaxAge: time.Hour,
		Policies: map[canonical.Lane]spool.Policy{canonical.LaneBulk: spool.DropOldest},
		Now:      clock.Now, RefreshInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sp.Close() })
	m := newEventMaker(t, "0000000d", 300)
	commit(t, sp, m, canonical.LaneBulk, 0, 30, 10)
	clock.Advance(30 * time.Minute)
	commit(t, sp, m, canonical.LaneBulk, 30, 40, 10)
	clock.Advance(45 * time.Minute) // events 0..29 are 75 minutes old: dropped
	waitFor(t, 10*time.Second, "the drop", func() bool { return sp.Stats().Dropped[canonical.LaneBulk] == 30 })

	runUplink(t, Config{QUICAddr: r.quic}, sp)
	waitFor(t, 15*time.Second, "the spool to drain", func() bool { return pending(sp) == 0 })
	checkOnce(t, r.ids(t), idRange(m, 30, 40))
}

// A relay that stops acknowledging: the window (Receive Maximum, byte cap)
// and the outbox queue bound what the uplink holds; when acks resume
// everything arrives once.
func TestIntegrationStalledRelay(t *testing.T) {
	skipShort(t)
	r := startRelay(t, func(c *ingest.Config) { c.ReceiveMaximum = 64 })
	proxy := newTCPStall(t, r.tcp)
	sp := openSpool(t)
	m := newEventMaker(t, "0000000e", 1000)
	cfg := Config{TCPAddr: proxy.addr(), MaxInFlightBytes: 2 << 20, MaxBatchBytes: 256 << 10}
	u := runUplink(t, cfg, sp)
	waitFor(t, 10*time.Second, "a session", func() bool { return u.Status().Connected })
	proxy.stall.Store(true)
	// Fewer than the spool's RotateAfter: one stream, so one order.
	const n = 8000
	commit(t, sp, m, canonical.LaneOperational, 0, n, 200)
	for range 20 {
		st := u.Status()
		if st.InFlightBatches > 64 || st.InFlightBytes > cfg.MaxInFlightBytes+cfg.MaxBatchBytes {
			t.Fatalf("in flight %d batches, %d bytes; want at most 64 and about %d", st.InFlightBatches, st.InFlightBytes, cfg.MaxInFlightBytes)
		}
		if q := u.out.queued(); q > maxQueued {
			t.Fatalf("%d batches queued; want at most %d", q, maxQueued)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := u.Status(); st.InFlightBytes == 0 {
		t.Fatal("nothing in flight: the stall was not exercised")
	}
	proxy.stall.Store(false)
	waitFor(t, 60*time.Second, "the spool to drain", func() bool { return pending(sp) == 0 })
	checkOnce(t, r.ids(t), idRange(m, 0, n))
}

// Run returns only after every goroutine it started has stopped.
func TestIntegrationRunStopsEverything(t *testing.T) {
	skipShort(t)
	for _, transport := range []string{TransportQUIC, TransportTCP} {
		t.Run(transport, func(t *testing.T) {
			r := startRelay(t, nil)
			sp := openSpool(t)
			m := newEventMaker(t, "0000000f", 500)
			codec, err := wire.NewCodec(0, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			defer codec.Close()
			time.Sleep(100 * time.Millisecond)
			before := runtime.NumGoroutine()
			cfg := Config{Site: testSite, TLS: clientTLS(t), Logger: testLogger(t)}
			if transport == TransportQUIC {
				cfg.QUICAddr = r.quic
			} else {
				cfg.TCPAddr = r.tcp
			}
			u, err := New(cfg, sp, codec)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- u.Run(ctx) }()
			commit(t, sp, m, canonical.LaneOperational, 0, 100, 10)
			waitFor(t, 10*time.Second, "the spool to drain", func() bool { return pending(sp) == 0 })
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			// The relay notices the session's end in its own time; the
			// uplink's goroutines are gone when Run returns.
			var after int
			waitFor(t, 5*time.Second, "the goroutines to end", func() bool {
				after = runtime.NumGoroutine()
				return after <= before
			})
		})
	}
}

// A QUIC endpoint that completes the handshake but never carries a session
// (something in between passes the QUIC handshake only): after a few tries
// the uplink falls back to TCP and delivers.
func TestIntegrationQUICWithoutSession(t *testing.T) {
	skipShort(t)
	r := startRelay(t, nil)
	ln, err := mqttquic.Listen("127.0.0.1:0", testPKI().ServerTLS(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept(ctx)
			if err != nil {
				return
			}
			_ = c.Abort(0, "no")
		}
	})
	t.Cleanup(func() { cancel(); _ = ln.Close(); wg.Wait() })
	deliver(t, Config{QUICAddr: ln.Addr().String(), TCPAddr: r.tcp, DialTimeout: time.Second,
		BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond}, r, 500, TransportTCP)
}
