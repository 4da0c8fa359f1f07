package uplink

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/draylink/dray/agent/spool"
	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/pki"
	"github.com/draylink/dray/internal/wire"
	"github.com/draylink/dray/relay/ingest"
	"github.com/draylink/dray/relay/relaylog"
)

const testSite = "MEM1"

// testPKI is one CA and server certificate for the whole test binary.
var testPKI = sync.OnceValue(func() *pki.TestSetup {
	ts, err := pki.NewTestSetup()
	if err != nil {
		panic(err)
	}
	return ts
})

func clientTLS(t testing.TB) *tls.Config {
	t.Helper()
	c, err := testPKI().ClientTLS(testSite)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func skipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
}

// testLogger logs to the test at warning level and above (DRAY_TEST_LOG=debug
// for everything).
func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("DRAY_TEST_LOG") == "debug" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: level}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// relay is an in-process relay: a relay log and the ingest endpoint on
// 127.0.0.1, restartable on the same directory and ports.
type relay struct {
	t      testing.TB
	dir    string
	edit   func(*ingest.Config)
	logger *slog.Logger
	codec  *wire.Codec

	log      *relaylog.Log
	store    *meteredStore
	srv      *ingest.Server
	quic     string // bound addresses, kept across restarts
	tcp      string
	cancel   context.CancelFunc
	done     chan error
	stopOnce sync.Once
}

// startRelay starts a relay with QUIC and TCP on free ports; edit may
// change the ingest config.
func startRelay(t testing.TB, edit func(*ingest.Config)) *relay {
	t.Helper()
	codec, err := wire.NewCodec(0, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(codec.Close)
	r := &relay{t: t, dir: t.TempDir(), edit: edit, logger: quiet(), codec: codec,
		quic: "127.0.0.1:0", tcp: "127.0.0.1:0"}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *relay) start() {
	r.t.Helper()
	l, err := relaylog.Open(relaylog.Options{Dir: r.dir, RetentionInterval: -1, Logger: r.logger})
	if err != nil {
		r.t.Fatal(err)
	}
	cfg := ingest.Config{QUICAddr: r.quic, TCPAddr: r.tcp, TLS: testPKI().ServerTLS(), Logger: r.logger}
	if r.edit != nil {
		r.edit(&cfg)
	}
	var srv *ingest.Server
	store := &meteredStore{Log: l}
	for try := 0; ; try++ { // a restarted relay may find its port still held briefly
		srv, err = ingest.New(cfg, store, r.codec)
		if err == nil || try == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		_ = l.Close()
		r.t.Fatal(err)
	}
	r.log, r.srv, r.store = l, srv, store
	if a := srv.QUICAddr(); a != nil {
		r.quic = a.String()
	}
	if a := srv.TCPAddr(); a != nil {
		r.tcp = a.String()
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- srv.Run(ctx) }()
	r.stopOnce = sync.Once{}
}

// meteredStore is the relay log as the ingest endpoint's store, timing its
// group commits: the benchmarks report how busy the relay log was.
type meteredStore struct {
	*relaylog.Log
	mu      sync.Mutex
	appends int           // guarded by mu
	busy    time.Duration // guarded by mu
	longest time.Duration // guarded by mu
}

func (m *meteredStore) Append(batches []*relaylog.Incoming) ([]relaylog.Result, error) {
	start := time.Now()
	res, err := m.Log.Append(batches)
	d := time.Since(start)
	m.mu.Lock()
	m.appends++
	m.busy += d
	m.longest = max(m.longest, d)
	m.mu.Unlock()
	return res, err
}

// busyTime returns the time spent in Append so far, and the calls.
func (m *meteredStore) busyTime() (time.Duration, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.busy, m.appends
}

// stop stops the endpoint and closes the log.
func (r *relay) stop() {
	r.stopOnce.Do(func() {
		r.cancel()
		select {
		case err := <-r.done:
			if err != nil {
				r.t.Errorf("relay Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			r.t.Errorf("relay Run did not return 15s after its context ended")
		}
		if err := r.log.Close(); err != nil {
			r.t.Errorf("relay log close: %v", err)
		}
	})
}

func (r *relay) restart() {
	r.stop()
	r.start()
}

// ids returns the ids of every event in the relay log, in log order.
func (r *relay) ids(t testing.TB) []string {
	t.Helper()
	var out []string
	from := uint64(0)
	var buf []relaylog.Entry
	for {
		got, err := r.log.Read(from, 4096, buf[:0])
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			return out
		}
		for _, e := range got {
			id, err := canonical.PeekIdentity(e.Event)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, id.ID)
		}
		from = got[len(got)-1].Seq + 1
		buf = got
	}
}

// openSpool opens a spool in a temporary directory.
func openSpool(t testing.TB) *spool.Spool {
	t.Helper()
	sp, err := spool.Open(spool.Options{Dir: t.TempDir(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sp.Close() })
	return sp
}

// eventMaker makes distinct canonical events of about size bytes: one real
// event is encoded, and each copy gets its own id (the binary codec puts
// the id, field 1, first) and its own text in most of its note, so that a
// batch compresses about as well as real events do (3-4x), not 400x.
type eventMaker struct {
	template   []byte
	prefix     string
	note, text int // the note's offset in template, and how much of it varies
}

func newEventMaker(t testing.TB, prefix string, size int) *eventMaker {
	t.Helper()
	return newSiteEventMaker(t, testSite, prefix, size)
}

// newSiteEventMaker makes events that name site.
func newSiteEventMaker(t testing.TB, site, prefix string, size int) *eventMaker {
	t.Helper()
	zone := time.FixedZone("CDT", -5*3600)
	origin := canonical.Origin{SiteID: site, Source: "urn:dray:" + site + ":wms-db", SourceSystem: "wms.db"}
	note := ""
	if size > 400 {
		note = strings.Repeat("n", size-400)
	}
	data := &canonical.InventoryMoved{Movement: &canonical.InventoryMovement{
		SourceKey: "1", MovementType: canonical.MovementType_MOVEMENT_TYPE_PICK,
		Item:     &canonical.ItemRef{OwnerId: "ACME", Sku: "AF-1001"},
		From:     &canonical.Location{SiteId: site, Code: "A-03-01-A"},
		Quantity: canonical.Qty("20", "XCS"), Note: note}}
	e, err := canonical.NewEvent(origin, canonical.Record{Key: "movement/1", Version: "1"},
		time.Date(2025, 3, 14, 13, 58, 7, 0, zone), data)
	if err != nil {
		t.Fatal(err)
	}
	b, err := canonical.MarshalBinary(e)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 38 || b[0] != 0x0a || b[1] != 36 {
		t.Fatalf("event encoding does not start with a 36-byte id: % x", b[:8])
	}
	if len(prefix) != 8 {
		t.Fatalf("prefix %q must be 8 hex digits", prefix)
	}
	m := &eventMaker{template: b, prefix: prefix}
	if note != "" {
		m.note = bytes.Index(b, []byte(note))
		m.text = len(note) * 3 / 5
	}
	return m
}

// id is the id of event i: a UUID-shaped string naming the maker and i.
func (m *eventMaker) id(i int) string {
	return fmt.Sprintf("%s-0000-4000-8000-%012x", m.prefix, i)
}

func (m *eventMaker) event(i int) []byte {
	b := append([]byte(nil), m.template...)
	copy(b[2:38], m.id(i))
	rng := rand.NewPCG(uint64(i), 7)
	text := b[m.note : m.note+m.text]
	for j := 0; j < len(text); j += 16 {
		r := rng.Uint64()
		for k := j; k < min(j+16, len(text)); k++ {
			text[k] = 'a' + byte(r&15)
			r >>= 4
		}
	}
	return b
}

// commit appends events from..to-1 of m to the spool in commits of at most
// per events.
func commit(t testing.TB, sp *spool.Spool, m *eventMaker, lane canonical.Lane, from, to, per int) {
	t.Helper()
	if err := commitEvents(sp, m, lane, from, to, per); err != nil {
		t.Fatal(err)
	}
}

// commitEvents is commit for goroutines other than the test's.
func commitEvents(sp *spool.Spool, m *eventMaker, lane canonical.Lane, from, to, per int) error {
	for i := from; i < to; {
		n := min(per, to-i)
		entries := make([]spool.Entry, n)
		for j := range entries {
			entries[j] = spool.Entry{Lane: lane, Event: m.event(i + j)}
		}
		if err := sp.Commit(context.Background(), "test", nil, entries); err != nil {
			return err
		}
		i += n
	}
	return nil
}

// streams maps the events of a test to the spool streams they went to.
type streams map[uint32][]string

func (s streams) groups() [][]string {
	var out [][]string
	for _, ids := range s {
		out = append(out, ids)
	}
	return out
}

// commitByStream is commitEvents that notes the stream of every event: the
// live stream of the lane after each Commit (only commits rotate streams,
// and the caller is the only committer).
func commitByStream(sp *spool.Spool, m *eventMaker, lane canonical.Lane, from, to, per int, into streams) error {
	for i := from; i < to; i += per {
		n := min(per, to-i)
		if err := commitEvents(sp, m, lane, i, i+n, n); err != nil {
			return err
		}
		for _, st := range sp.Streams() {
			if st.Lane == lane && st.Live {
				for j := i; j < i+n; j++ {
					into[st.Stream] = append(into[st.Stream], m.id(j))
				}
			}
		}
	}
	return nil
}

// runUplink runs an uplink until the test ends and checks that Run returns.
func runUplink(t testing.TB, cfg Config, sp *spool.Spool) *Uplink {
	t.Helper()
	codec, err := wire.NewCodec(0, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(codec.Close)
	if cfg.Site == "" {
		cfg.Site = testSite
	}
	if cfg.TLS == nil {
		cfg.TLS = clientTLS(t)
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	u, err := New(cfg, sp, codec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("uplink Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("uplink Run did not return 15s after its context ended")
		}
	})
	return u
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pending is the number of events of the spool not yet acknowledged.
func pending(sp *spool.Spool) uint64 {
	var n uint64
	for _, st := range sp.Streams() {
		n += st.Pending()
	}
	return n
}

// checkOnce checks that the relay log holds ids exactly once each, in the
// order given for each of the groups (each group one stream).
func checkOnce(t testing.TB, got []string, groups ...[]string) {
	t.Helper()
	pos := make(map[string]int, len(got))
	for i, id := range got {
		if _, dup := pos[id]; dup {
			t.Fatalf("event %s stored twice", id)
		}
		pos[id] = i
	}
	total := 0
	for g, ids := range groups {
		total += len(ids)
		last := -1
		for i, id := range ids {
			p, ok := pos[id]
			if !ok {
				t.Fatalf("group %d: event %d (%s) missing from the relay log", g, i, id)
			}
			if p < last {
				t.Fatalf("group %d: event %d (%s) stored before its predecessor", g, i, id)
			}
			last = p
		}
	}
	if total != len(got) {
		t.Fatalf("relay log holds %d events; want %d", len(got), total)
	}
}

func idRange(m *eventMaker, from, to int) []string {
	out := make([]string, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, m.id(i))
	}
	return out
}

// blackhole is a UDP socket that reads and never answers: QUIC to it times
// out, as when a firewall drops UDP.
func blackhole(t testing.TB) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { _ = pc.Close(); <-done })
	return pc.LocalAddr().String()
}

// udpGate forwards UDP datagrams to target while open and drops them while
// closed: a firewall that can be opened.
type udpGate struct {
	t      testing.TB
	pc     net.PacketConn
	target *net.UDPAddr
	open   atomic.Bool

	mu    sync.Mutex
	peers map[string]*net.UDPConn // guarded by mu: upstream socket per client
	wg    sync.WaitGroup
}

func newUDPGate(t testing.TB, target string) *udpGate {
	t.Helper()
	addr, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &udpGate{t: t, pc: pc, target: addr, peers: make(map[string]*net.UDPConn)}
	g.wg.Go(g.run)
	t.Cleanup(func() {
		_ = pc.Close()
		g.mu.Lock()
		for _, c := range g.peers {
			_ = c.Close()
		}
		g.mu.Unlock()
		g.wg.Wait()
	})
	return g
}

func (g *udpGate) addr() string { return g.pc.LocalAddr().String() }

func (g *udpGate) run() {
	buf := make([]byte, 65536)
	for {
		n, from, err := g.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if !g.open.Load() {
			continue
		}
		g.mu.Lock()
		up := g.peers[from.String()]
		if up == nil {
			if up, err = net.DialUDP("udp", nil, g.target); err != nil {
				g.mu.Unlock()
				continue
			}
			g.peers[from.String()] = up
			g.wg.Go(func() { g.back(up, from) })
		}
		g.mu.Unlock()
		_, _ = up.Write(buf[:n])
	}
}

func (g *udpGate) back(up *net.UDPConn, client net.Addr) {
	buf := make([]byte, 65536)
	for {
		n, err := up.Read(buf)
		if err != nil {
			return
		}
		if g.open.Load() {
			_, _ = g.pc.WriteTo(buf[:n], client)
		}
	}
}

// tcpStall forwards TCP connections to target; while stalled it stops
// passing what the server sends (PUBACKs), as a relay that hangs would.
type tcpStall struct {
	ln     net.Listener
	target string
	stall  atomic.Bool
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns []net.Conn // guarded by mu
}

func newTCPStall(t testing.TB, target string) *tcpStall {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpStall{ln: ln, target: target}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *tcpStall) addr() string { return p.ln.Addr().String() }

func (p *tcpStall) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(s, c, false) })
		p.wg.Go(func() { p.pipe(c, s, true) })
	}
}

func (p *tcpStall) pipe(dst, src net.Conn, fromServer bool) {
	defer func() { _ = dst.Close(); _ = src.Close() }()
	buf := make([]byte, 32<<10)
	for {
		for fromServer && p.stall.Load() {
			time.Sleep(5 * time.Millisecond)
		}
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
