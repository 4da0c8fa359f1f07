package uplink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/draylink/dray/internal/backoff"

	"github.com/draylink/dray/agent/spool"
	"github.com/draylink/dray/internal/wire"
	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
)

// Uplink forwards a spool's events to the relay. Make it with New; Run it
// once.
type Uplink struct {
	cfg   Config
	sp    *spool.Spool
	codec *wire.Codec
	log   *slog.Logger
	topic string
	epoch string
	back  backoff.Policy
	ran   atomic.Bool

	out *outbox
	tr  *transport
	ack *acker

	// Scheduler state: owned by the goroutine running Run's loop.
	gen            uint64 // the connection batches are built for (0: down)
	connected      bool
	recvMax        int // the relay's Receive Maximum
	maxBody        int // batch byte limit from the relay's Maximum Packet Size
	streams        map[spool.StreamID]*stream
	order          []*stream // streams in priority order (see stream.less)
	refreshes      uint64
	inFlight       int // batches pushed and not yet answered (this connection)
	inFlightBytes  int
	backlogBatches int // the part of inFlight from backlog streams
	backlogBytes   int
	pausedUntil    time.Time // quota refusal (0x97): the whole site waits
	quotaFailures  int
	switching      bool // moving to QUIC: no new batches until in flight drains
	switchDeadline time.Time
	recs           []spool.Record
	body           []byte
	events         []linkEvent
	counters       counters

	mu     sync.Mutex
	status Status // guarded by mu: published by the scheduler
	upAt   time.Time
	flaps  int // guarded by mu: short-lived connections in a row
}

// counters are the cumulative figures of Status, owned by the scheduler.
type counters struct {
	eventsAcked, batchesSent, batchesRefused, connects uint64
}

// New checks cfg and returns an uplink for sp. codec seals batch payloads
// (it is shared and safe for concurrent use).
func New(cfg Config, sp *spool.Spool, codec *wire.Codec) (*Uplink, error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, fmt.Errorf("uplink config: %w", err)
	}
	if sp == nil || codec == nil {
		return nil, errors.New("uplink: a spool and a codec are required")
	}
	cfg.TLS = cfg.TLS.Clone()
	log := cfg.Logger.With("component", "uplink", "site", cfg.Site)
	u := &Uplink{
		cfg:     cfg,
		sp:      sp,
		codec:   codec,
		log:     log,
		topic:   wire.EventsTopic(cfg.Site),
		epoch:   sp.Epoch(),
		back:    backoff.Policy{Initial: cfg.BackoffMin, Max: cfg.BackoffMax},
		streams: make(map[spool.StreamID]*stream),
	}
	u.out = newOutbox(log)
	u.tr = newTransport(&u.cfg, log)
	u.ack = newAcker(sp, log)
	return u, nil
}

// flapWindow: a connection that ends sooner than this after it came up
// counts as a flap, and the next reconnect backs off as if it had failed.
const flapWindow = 30 * time.Second

// Run connects to the relay and forwards the spool until ctx ends, over
// one connection at a time, reconnecting with jittered exponential
// backoff. It returns nil when ctx ends, or an error when the spool fails
// (ErrClosed when it was closed underneath). Either way it returns only
// after every goroutine it started has stopped. Run may be called once.
func (u *Uplink) Run(ctx context.Context) error {
	if !u.ran.CompareAndSwap(false, true) {
		return errors.New("uplink: Run called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	addr := u.cfg.QUICAddr
	if addr == "" {
		addr = u.cfg.TCPAddr
	}
	pahoLog := pahoLogger{u.log.With("lib", "paho")}
	cm, err := autopaho.NewConnection(ctx, autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{{Scheme: "mqtts", Host: addr}}, // dialled by transport.attempt
		KeepAlive:                     uint16(u.cfg.KeepAlive / time.Second),
		CleanStartOnInitialConnection: true,
		ReconnectBackoff:              u.reconnectDelay,
		// autopaho starts ConnectTimeout before AttemptConnection, which
		// may dial twice (QUIC, then TCP), each bounded by DialTimeout.
		ConnectTimeout:    3 * u.cfg.DialTimeout,
		Queue:             u.out,
		AttemptConnection: u.tr.attempt,
		ConnectPacketBuilder: func(cp *paho.Connect, _ *url.URL) (*paho.Connect, error) {
			cp.CleanStart = true // every session, not just the first: the spool is the store
			return cp, nil
		},
		OnConnectionUp:   func(*autopaho.ConnectionManager, *paho.Connack) { u.connectionUp() },
		OnConnectionDown: func() bool { u.connectionDown(); return true },
		OnConnectError: func(err error) {
			u.tr.connectFailed()
			u.setError(err)
			u.log.Warn("relay connection attempt failed", "err", err)
		},
		Errors:     pahoLog,
		PahoErrors: pahoLog,
		ClientConfig: paho.ClientConfig{
			ClientID:      u.cfg.Site,
			Session:       u.out,
			PacketTimeout: u.cfg.DialTimeout, // bounds the wait for CONNACK
			OnClientError: func(err error) {
				if u.tr.movingToQUIC() {
					u.log.Info("closed the TLS/TCP session to move to QUIC")
					return
				}
				u.setError(err)
				u.log.Warn("relay connection lost", "err", err)
			},
			OnServerDisconnect: func(d *paho.Disconnect) {
				reason := ""
				if d.Properties != nil {
					reason = d.Properties.ReasonString
				}
				u.setError(fmt.Errorf("relay disconnected: reason 0x%02X %s", d.ReasonCode, reason))
				u.log.Warn("relay closed the session", "reason_code", fmt.Sprintf("0x%02X", d.ReasonCode), "reason", reason)
			},
		},
	})
	if err != nil {
		return fmt.Errorf("uplink: %w", err)
	}

	var wg sync.WaitGroup
	probed := make(chan struct{}, 1)
	wg.Go(func() { u.probeLoop(ctx, probed) })
	wg.Go(func() { u.ack.run(ctx, u.out.wake) })

	err = u.loop(ctx, probed)

	cancel()
	// autopaho's connection and queue goroutines have ended, and with them
	// the paho client's workers (Disconnect waits for them).
	<-cm.Done()
	wg.Wait() // the prober, and the acker after its last acks
	u.tr.wait(2 * time.Second)
	u.sp.SetLinkUp(false)
	u.mu.Lock()
	u.status.Connected, u.status.Transport = false, ""
	u.mu.Unlock()
	return err
}

// probeLoop probes QUIC while the uplink runs on the TLS/TCP fallback and
// tells the scheduler when QUIC works again.
func (u *Uplink) probeLoop(ctx context.Context, probed chan<- struct{}) {
	if u.cfg.QUICAddr == "" || u.cfg.TCPAddr == "" {
		return
	}
	tick := time.NewTicker(min(u.cfg.QUICRetry, 10*time.Second))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		u.tr.prune()
		if st := u.Status(); !st.Connected || st.Transport != TransportTCP {
			continue
		}
		if u.tr.probe(ctx) {
			select {
			case probed <- struct{}{}:
			default:
			}
		}
	}
}

// reconnectDelay is autopaho's ReconnectBackoff: attempt 0 follows a lost
// connection and waits nothing unless connections keep dying young.
func (u *Uplink) reconnectDelay(attempt int) time.Duration {
	u.mu.Lock()
	flaps := u.flaps
	u.mu.Unlock()
	return u.back.Delay(attempt+flaps, 0)
}

func (u *Uplink) connectionUp() {
	u.tr.connected()
	kind := u.tr.current()
	u.mu.Lock()
	u.upAt = time.Now()
	u.mu.Unlock()
	u.log.Info("connected to the relay", "transport", kind)
}

func (u *Uplink) connectionDown() {
	moving := u.tr.movingToQUIC()
	u.mu.Lock()
	switch {
	case moving:
	case time.Since(u.upAt) < flapWindow:
		u.flaps++
	default:
		u.flaps = 0
	}
	u.mu.Unlock()
	u.log.Info("disconnected from the relay; reconnecting")
}

func (u *Uplink) setError(err error) {
	u.mu.Lock()
	u.status.LastError = err.Error()
	u.status.LastErrorAt = time.Now()
	u.mu.Unlock()
}

// Status returns a snapshot of the uplink. It may be called at any time,
// from any goroutine.
func (u *Uplink) Status() Status {
	u.mu.Lock()
	defer u.mu.Unlock()
	st := u.status
	st.Streams = append([]StreamStatus(nil), u.status.Streams...)
	return st
}

// pahoLogger sends paho's error log to slog.
type pahoLogger struct{ l *slog.Logger }

func (p pahoLogger) Println(v ...any) { p.l.Debug(fmt.Sprint(v...)) }
func (p pahoLogger) Printf(format string, v ...any) {
	p.l.Debug(fmt.Sprintf(format, v...))
}
