package testenv

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/draylink/dray/agent/spool"
	"github.com/draylink/dray/agent/synthetic"
	"github.com/draylink/dray/agent/uplink"
	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/configfile"
	"github.com/draylink/dray/internal/pki"
	"github.com/draylink/dray/internal/wire"
	"github.com/draylink/dray/relay"
	"github.com/draylink/dray/relay/admin"
	"github.com/draylink/dray/relay/dispatch"
	"github.com/draylink/dray/relay/route"
	"github.com/draylink/dray/relay/sink"
	"github.com/draylink/dray/testenv/refsink"
	"github.com/draylink/dray/testenv/stack"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The fan-out harness: reference ERP and TMS processes (dray-refsink), the
// relay's sinks, routes and admin API pointed at them, a site run inside
// the test process that emits a realistic logistics mix, and ledger checks.

var (
	refsinkOnce sync.Once
	refsinkBin  string
	refsinkErr  error
)

// BuildRefsink compiles dray-refsink once per test process.
func BuildRefsink(t testing.TB) string {
	t.Helper()
	refsinkOnce.Do(func() {
		dir, err := buildTemp("dray-refsink-bin-", "./testenv/cmd/dray-refsink")
		if err != nil {
			refsinkErr = err
			return
		}
		refsinkBin = filepath.Join(dir, "dray-refsink")
	})
	if refsinkErr != nil {
		t.Fatal(refsinkErr)
	}
	return refsinkBin
}

// RefSink is a reference ERP or TMS process on a fixed loopback port, so it
// can be restarted (with or without its data) under the same URL.
type RefSink struct {
	env     *Env
	Name    string
	Kind    refsink.Kind
	Addr    string
	DataDir string
	Config  refsink.Config
	Proc    *Process
	Client  *refsink.Client
}

// NewRefSink prepares a reference sink of kind "erp" or "tms".
func (e *Env) NewRefSink(name string, kind refsink.Kind) *RefSink {
	s := &RefSink{env: e, Name: name, Kind: kind, Addr: Addr(FreePort(e.t)), DataDir: filepath.Join(e.Dir, name)}
	s.Client = refsink.NewClient(s.URL())
	return s
}

// URL is the sink's base URL.
func (s *RefSink) URL() string { return "http://" + s.Addr }

// Start writes the configuration and starts the process; it waits until it
// answers /healthz.
func (s *RefSink) Start() {
	t := s.env.t
	t.Helper()
	cfg := s.Config
	cfg.Kind = s.Kind
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.env.Dir, s.Name+".json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s.Proc = Start(t, s.Name, BuildRefsink(t), "--config", path, "--listen", s.Addr, "--data", s.DataDir)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Client.WaitReady(ctx); err != nil {
		t.Fatalf("%s: %v\n%s", s.Name, err, s.Proc.Log())
	}
}

// Records returns the whole ledger.
func (s *RefSink) Records() []refsink.Record {
	s.env.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	recs, err := s.Client.Records(ctx, refsink.LedgerQuery{})
	if err != nil {
		s.env.t.Fatalf("%s ledger: %v", s.Name, err)
	}
	return recs
}

// SetFaults replaces the fault knobs.
func (s *RefSink) SetFaults(f refsink.Faults) {
	s.env.t.Helper()
	if err := s.Client.SetFaults(context.Background(), f); err != nil {
		s.env.t.Fatalf("%s faults: %v", s.Name, err)
	}
}

// Secrets used by the fan-out tests.
const (
	erpClientID     = "dray-relay"
	erpClientSecret = "erp-client-secret-0123456789"
	tmsToken        = "tms-bearer-token-0123456789"
	adminToken      = "admin-token-0123456789abcdef"
)

// UseOAuth2 makes the sink require OAuth2 client credentials.
func (s *RefSink) UseOAuth2() {
	s.Config.Auth.OAuth2Clients = []refsink.OAuth2Client{{ID: erpClientID, Secret: erpClientSecret}}
}

// UseBearer makes the sink require a static bearer token.
func (s *RefSink) UseBearer() { s.Config.Auth.BearerTokens = []string{tmsToken} }

func (e *Env) secretFile(name, v string) string {
	e.t.Helper()
	p := filepath.Join(e.Dir, name)
	if err := os.WriteFile(p, []byte(v+"\n"), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// FanOut describes the sinks a relay delivers to in the fan-out tests.
type FanOut struct {
	ERP, TMS *RefSink
	// ERPBatch sends the ERP's events in OData-style JSON batches.
	ERPBatch bool
	// Workers per sink (default 8), retry cap (default 2s).
	Workers  int
	RetryMax time.Duration
}

// ERPRoutes are the routes to the reference ERP: jq mappings onto its
// goods movements, goods issues, proofs of delivery and freight invoices,
// and inventory counts sent as CloudEvents unchanged.
func ERPRoutes(sinkName string) []route.Config {
	return []route.Config{
		{Name: sinkName + "-goods-movements", Sink: sinkName, Match: route.MatchConfig{Types: []string{"logistics.inventory.moved"}},
			Path: `"/erp/v1/goods-movements"`, DropNulls: true,
			Transform: `.data.movement as $m
| {movementType: ({transfer: "311", receipt: "101", pick: "601", adjustment: "701"}[$m.movementType] // "999"),
   material: $m.item.sku, plant: .siteid, storageLocation: $m.from.code, toStorageLocation: $m.to.code,
   batch: $m.item.lot, quantity: $m.quantity.value, unit: $m.quantity.uom, occurredAt: .time, reference: $m.sourceKey}`},
		{Name: sinkName + "-counts", Sink: sinkName, Match: route.MatchConfig{Types: []string{"logistics.inventory.counted"}, Lane: "bulk"},
			Path: `"/erp/v1/goods-movements"`, Mode: route.ModeCloudEvents},
		{Name: sinkName + "-goods-issues", Sink: sinkName, Match: route.MatchConfig{Types: []string{"logistics.shipment.shipped"}},
			Path: `"/erp/v1/goods-issues"`, DropNulls: true,
			Transform: `{delivery: (.data.lines[0].order.orderNo // .data.shipment.shipmentId), plant: .siteid,
 issuedAt: .data.shippedAt, shipmentId: .data.shipment.shipmentId, carrierScac: .data.shipment.carrier.scac,
 billOfLading: .data.shipment.bol,
 items: [.data.lines[] | {item: .lineNo, material: .item.sku, quantity: .shipped.value, unit: .shipped.uom, batch: .item.lot}]}`},
		stack.PODRoute(sinkName),
		{Name: sinkName + "-freight-invoices", Sink: sinkName, Match: route.MatchConfig{Types: []string{"logistics.freight_charge.invoiced"}},
			Path: `"/erp/v1/freight-invoices"`,
			Transform: `{invoiceNumber: .data.invoiceNo, invoiceDate: .data.invoiceDate, supplierScac: .data.carrier.scac,
 currency: .data.total.currency, totalAmount: .data.total.amount, shipmentId: .data.shipmentId,
 lines: [.data.lines[] | {chargeCode: (.sourceChargeCode // .chargeCode), amount: .amount.amount}]}`},
	}
}

// TMSRoutes are the routes to the reference TMS: milestones (jq), PODs as
// milestones (CloudEvents unchanged) and shipped shipments (jq).
func TMSRoutes(sinkName string) []route.Config {
	return []route.Config{
		stack.MilestoneRoute(sinkName),
		{Name: sinkName + "-pod", Sink: sinkName, Match: route.MatchConfig{Types: []string{"logistics.delivery.confirmed"}},
			Path: `"/tms/v1/shipments/\(.data.delivery.shipmentId | @uri)/milestones"`, Mode: route.ModeCloudEvents},
		{Name: sinkName + "-shipments", Sink: sinkName, Match: route.MatchConfig{Types: []string{"logistics.shipment.shipped"}},
			Path: `"/tms/v1/shipments"`, DropNulls: true,
			Transform: `.data.shipment as $s
| {shipmentId: $s.shipmentId, mode: $s.mode, carrierScac: $s.carrier.scac, billOfLading: $s.bol,
   stops: [$s.stops[] | {sequence: .seq, type: .kind,
           location: {id: .party.id, name: .party.name, city: .party.address.city, country: .party.address.country}}]}`},
	}
}

// ERPTypes and TMSTypes are the event types each sink's routes take.
var (
	ERPTypes = []string{"logistics.inventory.moved", "logistics.inventory.counted", "logistics.shipment.shipped",
		"logistics.delivery.confirmed", "logistics.freight_charge.invoiced"}
	TMSTypes = []string{"logistics.shipment.status_changed", "logistics.delivery.confirmed", "logistics.shipment.shipped"}
)

// ConfigureFanOut points the relay at the reference sinks with the standard
// routes, OAuth2 to the ERP and a bearer token to the TMS (the sinks must
// use UseOAuth2 and UseBearer), and enables the admin API.
func (r *Relay) ConfigureFanOut(f FanOut) {
	e := r.env
	workers := f.Workers
	if workers == 0 {
		workers = 8
	}
	retryMax := f.RetryMax
	if retryMax == 0 {
		retryMax = 2 * time.Second
	}
	delivery := func() dispatch.Config {
		return dispatch.Config{Workers: workers, CursorInterval: configfile.Duration(50 * time.Millisecond),
			Retry: dispatch.RetryConfig{Initial: configfile.Duration(50 * time.Millisecond), Max: configfile.Duration(retryMax)}}
	}
	r.Config.Sinks, r.Config.Routes = nil, nil
	if f.ERP != nil {
		d := delivery()
		if f.ERPBatch {
			d.Batch = &dispatch.BatchConfig{Path: "/erp/v1/batch", Format: route.BatchJSON, MaxEvents: 100,
				MaxWait: configfile.Duration(5 * time.Millisecond)}
		}
		r.Config.Sinks = append(r.Config.Sinks, relay.SinkConfig{
			HTTP: sink.Config{Name: f.ERP.Name, URL: f.ERP.URL(), Timeout: configfile.Duration(5 * time.Second),
				Breaker: sink.BreakerConfig{Failures: 10, OpenFor: configfile.Duration(time.Second)},
				Auth: sink.AuthConfig{OAuth2: &sink.OAuth2Config{TokenURL: f.ERP.URL() + "/oauth/token", ClientID: erpClientID,
					ClientSecret: sink.Secret{File: e.secretFile("erp-secret", erpClientSecret)}}}},
			Delivery: d,
		})
		r.Config.Routes = append(r.Config.Routes, ERPRoutes(f.ERP.Name)...)
	}
	if f.TMS != nil {
		r.Config.Sinks = append(r.Config.Sinks, relay.SinkConfig{
			HTTP: sink.Config{Name: f.TMS.Name, URL: f.TMS.URL(), Timeout: configfile.Duration(5 * time.Second),
				Breaker: sink.BreakerConfig{Failures: 10, OpenFor: configfile.Duration(time.Second)},
				Auth:    sink.AuthConfig{Bearer: &sink.Secret{File: e.secretFile("tms-token", tmsToken)}}},
			Delivery: delivery(),
		})
		r.Config.Routes = append(r.Config.Routes, TMSRoutes(f.TMS.Name)...)
	}
	r.Config.Admin = relay.AdminConfig{Listen: Addr(FreePort(e.t)),
		Tokens: []relay.AdminToken{{Name: "ops", Secret: sink.Secret{File: e.secretFile("admin-token", adminToken)}}}}
}

// Admin returns a client of the relay's admin API.
func (r *Relay) Admin() *admin.Client {
	return &admin.Client{Base: "http://" + r.Config.Admin.Listen, Token: adminToken}
}

// Metrics scrapes the running relay's GET /metrics (see Scrape).
func (r *Relay) Metrics() map[string]float64 {
	r.env.t.Helper()
	return Scrape(r.env.t, "http://"+r.Config.Admin.Listen+"/metrics", adminToken)
}

// CLI runs a dray-relay command against the running relay's admin API and
// returns its stdout; it fails the test on a non-zero exit.
func (r *Relay) CLI(args ...string) []byte {
	r.env.t.Helper()
	args = append(args, "--config", r.ConfigPath, "--token-file", filepath.Join(r.env.Dir, "admin-token"))
	return Run(r.env.t, 2*time.Minute, r.env.Bins.Relay, args...)
}

// Restart stops the relay with SIGTERM, rewrites its configuration and
// starts it again.
func (r *Relay) Restart() {
	r.env.t.Helper()
	r.Proc.Stop(30 * time.Second)
	r.Start()
}

// Expected is an event a sink must apply: its id, its partition key and
// its position among the events of that key.
type Expected struct {
	ID, Type, PartitionKey string
	Site                   string
	Index                  int
	// Committed is when its source committed it (zero if unknown).
	Committed time.Time
	// LogSeq is its sequence in the relay log (0 if unknown). Delivery is
	// in relay log order per key, which is the source's order per spool
	// stream: live events may overtake a backlog (ARCHITECTURE.md,
	// guarantee 8), so the order checks use LogSeq when it is known.
	LogSeq uint64
}

// InLogOrder returns want with each event's relay log sequence, read with
// `dray-relay log dump` (the relay must be stopped). An event missing from
// the log fails the test.
func (r *Relay) InLogOrder(want []Expected) []Expected {
	r.env.t.Helper()
	seqs := map[string]uint64{}
	for _, l := range r.Dump() {
		seqs[l.Event.GetId()] = l.Seq
	}
	out := slices.Clone(want)
	for i := range out {
		s, ok := seqs[out[i].ID]
		if !ok {
			r.env.t.Fatalf("event %s (%s #%d) is not in the relay log", out[i].ID, out[i].Site, out[i].Index)
		}
		out[i].LogSeq = s
	}
	return out
}

// order is the position an order check uses.
func (e *Expected) order() int {
	if e.LogSeq != 0 {
		return int(e.LogSeq)
	}
	return e.Index
}

// SyntheticExpected lists the events 1..count of a dray-agent's synthetic
// source.
func SyntheticExpected(t testing.TB, site string, src synthetic.Config, count uint64) []Expected {
	t.Helper()
	s := synthetic.New("synthetic", site, src)
	out := make([]Expected, 0, count)
	for i := uint64(1); i <= count; i++ {
		ent, err := s.Event(i)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := canonical.UnmarshalBinary(ent.Event)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Expected{ID: ev.GetId(), Type: ev.GetType(), PartitionKey: route.PartitionKey(ev), Site: site, Index: int(i)})
		canonical.Release(ev)
	}
	return out
}

// ForTypes keeps the events of the given types.
func ForTypes(evs []Expected, types []string) []Expected {
	var out []Expected
	for _, e := range evs {
		if slices.Contains(types, e.Type) {
			out = append(out, e)
		}
	}
	return out
}

// LedgerReport is what a ledger holds for a set of expected events.
type LedgerReport struct {
	Applied, Missing, Twice, Foreign, Disorder, Rejected, Duplicates int
}

// VerifyLedger checks a sink's ledger against the events it must hold:
// each applied exactly once, nothing else applied, and, per partition key,
// applied in relay log order (LogSeq; the source's Index when unknown). It reports every problem (the first few in
// detail) and fails the test when any is found.
func VerifyLedger(t testing.TB, name string, recs []refsink.Record, want []Expected) LedgerReport {
	t.Helper()
	byID := make(map[string]*Expected, len(want))
	for i := range want {
		byID[want[i].ID] = &want[i]
	}
	applied := map[string]int{}
	last := map[string]int{}
	var rep LedgerReport
	report := func(format string, args ...any) {
		if rep.Missing+rep.Twice+rep.Foreign+rep.Disorder+rep.Rejected <= 8 {
			t.Errorf(name+": "+format, args...)
		}
	}
	for _, r := range recs {
		switch r.Outcome {
		case refsink.OutcomeDuplicate:
			rep.Duplicates++
			continue
		case refsink.OutcomeApplied:
		default:
			rep.Rejected++
			report("ledger seq %d: %s %d for event %s (%s)", r.Seq, r.Outcome, r.Status, r.EventID, r.Path)
			continue
		}
		e, ok := byID[r.EventID]
		if !ok {
			rep.Foreign++
			report("ledger seq %d: applied event %s (%s) that this sink must not get", r.Seq, r.EventID, r.EventType)
			continue
		}
		applied[r.EventID]++
		if applied[r.EventID] > 1 {
			rep.Twice++
			report("event %s (%s #%d) applied %d times", e.ID, e.Type, e.Index, applied[r.EventID])
			continue
		}
		rep.Applied++
		k := e.Site + "|" + e.PartitionKey
		if p, seen := last[k]; seen && e.order() < p {
			rep.Disorder++
			report("partition %s: event #%d (position %d) applied after position %d", e.PartitionKey, e.Index, e.order(), p)
		}
		last[k] = max(last[k], e.order())
	}
	for _, e := range want {
		if applied[e.ID] == 0 {
			rep.Missing++
			report("event %s (%s, %s #%d) never applied", e.ID, e.Type, e.Site, e.Index)
		}
	}
	if rep.Missing+rep.Twice+rep.Foreign+rep.Disorder+rep.Rejected > 0 {
		t.Fatalf("%s ledger: %d records; %d of %d applied, %d missing, %d applied twice, %d foreign, %d out of order, %d rejected",
			name, len(recs), rep.Applied, len(want), rep.Missing, rep.Twice, rep.Foreign, rep.Disorder, rep.Rejected)
	}
	t.Logf("%s ledger: %d records; all %d expected events applied once, in order per key (%d duplicates absorbed)",
		name, len(recs), len(want), rep.Duplicates)
	return rep
}

// CountApplied counts the applied ledger records among want.
func CountApplied(recs []refsink.Record, want []Expected) int {
	ids := make(map[string]bool, len(want))
	for _, e := range want {
		ids[e.ID] = true
	}
	seen := map[string]bool{}
	for _, r := range recs {
		if r.Outcome == refsink.OutcomeApplied && ids[r.EventID] && !seen[r.EventID] {
			seen[r.EventID] = true
		}
	}
	return len(seen)
}

// ShipmentSteps is the number of events a Site emits per shipment.
const ShipmentSteps = 7

// Site is a warehouse site run inside the test process: the agent's own
// spool and uplink (agent/spool, agent/uplink), fed by a generator of a
// realistic logistics mix that dray-agent's synthetic source does not make.
// Event i belongs to shipment i/ShipmentSteps and is, by i%ShipmentSteps:
// a shipment shipped (goods issue), three milestones (departed pickup, at
// delivery, delivered), a proof of delivery, a freight invoice (bulk lane)
// and a pick movement of the shipped item. Ids are deterministic by site
// and index.
type Site struct {
	env    *Env
	ID     string
	sp     *spool.Spool
	codec  *wire.Codec
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	stop   sync.Once

	mu        sync.Mutex
	next      int        // guarded by mu: index of the next event to commit
	committed []Expected // guarded by mu
}

// StartSite opens a spool for site under the environment and runs an
// uplink to the relay (quic and/or tcp address).
func (e *Env) StartSite(site, quic, tcp string) *Site {
	t := e.t
	t.Helper()
	cert, key := e.SiteCert(site)
	tlsConf, err := pki.LoadClientTLS(cert, key, e.CAFile, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	sp, err := spool.Open(spool.Options{Dir: filepath.Join(e.Dir, "site-"+site), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	codec, err := wire.NewCodec(0, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	up, err := uplink.New(uplink.Config{Site: site, QUICAddr: quic, TCPAddr: tcp, TLS: tlsConf, DialTimeout: 2 * time.Second,
		BackoffMin: 100 * time.Millisecond, BackoffMax: time.Second, Logger: log}, sp, codec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Site{env: e, ID: site, sp: sp, codec: codec, ctx: ctx, cancel: cancel, next: 1}
	s.wg.Go(func() {
		if err := up.Run(ctx); err != nil {
			t.Errorf("site %s uplink: %v", site, err)
		}
	})
	t.Cleanup(s.Stop)
	return s
}

// Stop stops the generator and the uplink and closes the spool.
func (s *Site) Stop() {
	s.stop.Do(func() {
		s.cancel()
		s.wg.Wait()
		_ = s.sp.Close()
		s.codec.Close()
	})
}

// Emit commits the next n events.
func (s *Site) Emit(n int) {
	t := s.env.t
	t.Helper()
	s.mu.Lock()
	first := s.next
	s.mu.Unlock()
	evs := make([]*canonical.Event, 0, n)
	for i := first; i < first+n; i++ {
		ev, err := LogisticsEvent(s.ID, i)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	s.EmitEvents(evs)
}

// EmitEvents commits evs (in one spool commit) as the site's next events:
// they take the next indexes, as if the generator had made them.
func (s *Site) EmitEvents(evs []*canonical.Event) {
	t := s.env.t
	t.Helper()
	s.mu.Lock()
	first := s.next
	s.mu.Unlock()
	n := len(evs)
	entries := make([]spool.Entry, 0, n)
	exp := make([]Expected, 0, n)
	for j, ev := range evs {
		i := first + j
		b, err := canonical.MarshalBinary(ev)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, spool.Entry{Lane: ev.Lane(), Event: b})
		exp = append(exp, Expected{ID: ev.GetId(), Type: ev.GetType(), PartitionKey: route.PartitionKey(ev), Site: s.ID, Index: i})
	}
	var cur [8]byte
	binary.BigEndian.PutUint64(cur[:], uint64(first+n-1))
	if err := s.sp.Commit(context.Background(), "logistics", cur[:], entries); err != nil {
		t.Errorf("site %s commit: %v", s.ID, err)
		return
	}
	now := time.Now()
	s.mu.Lock()
	for i := range exp {
		exp[i].Committed = now
	}
	s.committed = append(s.committed, exp...)
	s.next = first + n
	s.mu.Unlock()
}

// Generate emits events at rate per second in the background until count
// have been emitted in total or the site stops.
func (s *Site) Generate(rate float64, count int) {
	s.wg.Go(func() {
		start := time.Now()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			s.mu.Lock()
			done := s.next - 1
			s.mu.Unlock()
			if done >= count || s.ctx.Err() != nil {
				return
			}
			due := int(rate*time.Since(start).Seconds()) - done
			if due > 0 {
				s.Emit(min(due, count-done, 500))
				continue
			}
			select {
			case <-tick.C:
			case <-s.ctx.Done():
				return
			}
		}
	})
}

// Committed returns the events committed so far.
func (s *Site) Committed() []Expected {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.committed)
}

// Pending is the number of committed events the relay has not acknowledged.
func (s *Site) Pending() uint64 {
	var n uint64
	for _, st := range s.sp.Streams() {
		n += st.Pending()
	}
	return n
}

// WaitDrained waits until count events are committed and acknowledged.
func (s *Site) WaitDrained(count int, timeout time.Duration) {
	s.env.t.Helper()
	Eventually(s.env.t, timeout, 100*time.Millisecond, "site "+s.ID+" to commit and drain", func() bool {
		s.mu.Lock()
		n := s.next - 1
		s.mu.Unlock()
		return n >= count && s.Pending() == 0
	})
}

// LogisticsEvent builds event i (from 1) of a site's logistics mix.
func LogisticsEvent(site string, i int) (*canonical.Event, error) {
	k, step := (i-1)/ShipmentSteps, (i-1)%ShipmentSteps
	ship := fmt.Sprintf("%s-SHP%06d", site, k)
	order := &canonical.OrderRef{OwnerId: "ACME", OrderNo: fmt.Sprintf("SO-%s-%06d", site, k)}
	sku := fmt.Sprintf("AF-%04d", k%257)
	carrier := &canonical.Carrier{Scac: "XMPL", Name: "XAMPLE FREIGHT LINES"}
	base := time.Date(2026, 3, 14, 6, 0, 0, 0, time.UTC).Add(time.Duration(k) * 10 * time.Minute)
	at := base.Add(time.Duration(step) * time.Minute)
	ts := timestamppb.New(at)
	origin := canonical.Origin{SiteID: site, Source: "urn:dray:" + site + ":wms-db", SourceSystem: "wms.db"}
	rec := canonical.Record{Key: strconv.Itoa(i)}
	corr := canonical.WithCorrelation("order:ACME:" + order.OrderNo)
	var data canonical.Data
	switch step {
	case 0:
		data = &canonical.ShipmentShipped{Shipment: &canonical.Shipment{ShipmentId: ship, Bol: fmt.Sprintf("BOL%09d", k), Carrier: carrier,
			Mode: canonical.TransportMode_TRANSPORT_MODE_TRUCKLOAD,
			Stops: []*canonical.Stop{
				{Seq: 1, Kind: canonical.StopKind_STOP_KIND_PICKUP, Party: &canonical.Party{Id: site, Name: "NORTHWIND 3PL " + site,
					Address: &canonical.Address{City: "MEMPHIS", Region: "TN", Country: "US"}}},
				{Seq: 2, Kind: canonical.StopKind_STOP_KIND_DELIVERY, Party: &canonical.Party{Id: "ACME-DC7", Name: "ACME RETAIL DC 7",
					Address: &canonical.Address{City: "ATLANTA", Region: "GA", Country: "US"}}},
			},
			Orders: []*canonical.OrderRef{order}},
			ShippedAt: ts,
			Lines: []*canonical.ShippedLine{{Order: order, LineNo: "1", Item: &canonical.ItemRef{OwnerId: "ACME", Sku: sku, Lot: "L2503A"},
				Ordered: canonical.Qty("20", "XCS"), Shipped: canonical.Qty("20", "XCS"), Status: canonical.OrderLineStatus_ORDER_LINE_STATUS_SHIPPED}}}
	case 1, 2, 3:
		ms := []struct {
			m     canonical.Milestone
			s     canonical.ShipmentStatus
			stop  int32
			city  string
			state string
		}{
			{canonical.Milestone_MILESTONE_DEPARTED_PICKUP, canonical.ShipmentStatus_SHIPMENT_STATUS_IN_TRANSIT, 1, "MEMPHIS", "TN"},
			{canonical.Milestone_MILESTONE_AT_DELIVERY, canonical.ShipmentStatus_SHIPMENT_STATUS_AT_DELIVERY, 2, "ATLANTA", "GA"},
			{canonical.Milestone_MILESTONE_DELIVERED, canonical.ShipmentStatus_SHIPMENT_STATUS_DELIVERED, 2, "ATLANTA", "GA"},
		}[step-1]
		data = &canonical.ShipmentStatusChanged{ShipmentId: ship, Milestone: ms.m, Status: ms.s, StopSeq: ms.stop, Carrier: carrier,
			Location: &canonical.Address{City: ms.city, Region: ms.state, Country: "US"}}
	case 4:
		data = &canonical.DeliveryConfirmed{Delivery: &canonical.DeliveryConfirmation{ShipmentId: ship, StopSeq: 2, DeliveredAt: ts,
			SignedBy: "M OKAFOR", OsdLines: []*canonical.OSDLine{{Sku: sku, Expected: canonical.Qty("20", "XCS"),
				Received: canonical.Qty("20", "XCS"), Damaged: canonical.Qty("0", "XCS")}}}}
	case 5:
		data = &canonical.FreightChargeInvoiced{InvoiceNo: fmt.Sprintf("INV-%s-%06d", site, k), InvoiceDate: at.Format(time.DateOnly),
			ShipmentId: ship, Carrier: carrier, Total: &canonical.Money{Amount: "1392.50", Currency: "USD"},
			Lines: []*canonical.FreightChargeLine{
				{LineNo: "1", ChargeCode: canonical.ChargeCode_CHARGE_CODE_LINEHAUL, SourceChargeCode: "400", Amount: &canonical.Money{Amount: "1250.00", Currency: "USD"}},
				{LineNo: "2", ChargeCode: canonical.ChargeCode_CHARGE_CODE_FUEL_SURCHARGE, SourceChargeCode: "FUE", Amount: &canonical.Money{Amount: "187.50", Currency: "USD"}},
				{LineNo: "3", ChargeCode: canonical.ChargeCode_CHARGE_CODE_DISCOUNT, SourceChargeCode: "DSC", Amount: &canonical.Money{Amount: "-45.00", Currency: "USD"}},
			}}
	default:
		data = &canonical.InventoryMoved{Movement: &canonical.InventoryMovement{SourceKey: rec.Key, MovementType: canonical.MovementType_MOVEMENT_TYPE_PICK,
			Item: &canonical.ItemRef{OwnerId: "ACME", Sku: sku, Lot: "L2503A"},
			From: &canonical.Location{SiteId: site, Code: fmt.Sprintf("A-%02d-01", k%40)}, To: &canonical.Location{SiteId: site, Code: "STAGE-OUT-04"},
			Quantity: canonical.Qty("20", "XCS"), Reference: order.OrderNo}}
	}
	return canonical.NewEvent(origin, rec, at, data, corr)
}
