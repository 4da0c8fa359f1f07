package testenv_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/testenv"
)

// ediTwin is the X12 report (945 goods issue, 214 departure) of the fact
// that event i of a site's logistics mix reports from the WMS database:
// another source, so another id, the same idempotency key (the fact), and
// a body that differs where the document says less (the 945 carries no
// lot, the 214's location no region).
func ediTwin(t *testing.T, site string, i int) *canonical.Event {
	t.Helper()
	db, err := testenv.LogisticsEvent(site, i)
	if err != nil {
		t.Fatal(err)
	}
	data := db.Payload()
	switch d := data.(type) {
	case *canonical.ShipmentShipped:
		for _, l := range d.GetLines() {
			l.GetItem().Lot = ""
		}
	case *canonical.ShipmentStatusChanged:
		d.GetLocation().Region = ""
	default:
		t.Fatalf("event %d (%s) has no X12 twin here", i, db.GetType())
	}
	o := canonical.Origin{SiteID: site, Source: "urn:dray:" + site + ":edi:XMPL", SourceSystem: "edi.x12"}
	ev, err := canonical.NewEvent(o, canonical.Record{Key: fmt.Sprintf("ISA13=%09d;GS06=1;ST02=0001", i)}, db.GetTime().AsTime(), data,
		canonical.WithCorrelation(db.GetCorrelationId()))
	if err != nil {
		t.Fatal(err)
	}
	if ev.GetIdempotencyKey() != db.GetIdempotencyKey() || ev.GetId() == db.GetId() {
		t.Fatalf("event %d: the twin must share the key and not the id", i)
	}
	return ev
}

// twins returns the X12 twins of shipments [from, to): their goods issue
// (step 0: ERP goods issue, TMS shipment) and departure (step 1: TMS
// milestone).
func twins(t *testing.T, site string, from, to int) []*canonical.Event {
	var out []*canonical.Event
	for k := from; k < to; k++ {
		out = append(out, ediTwin(t, site, k*testenv.ShipmentSteps+1), ediTwin(t, site, k*testenv.ShipmentSteps+2))
	}
	return out
}

// sinkDelivery is the part of `dray-relay sinks` this test reads.
type sinkDelivery struct {
	Name        string `json:"name"`
	DeadLetters int    `json:"dead_letters"`
	Status      struct {
		Delivery struct {
			Lag            uint64 `json:"lag"`
			FactDuplicates uint64 `json:"fact_duplicates"`
			FactConflicts  uint64 `json:"fact_conflicts"`
			LastFactSkip   *struct {
				EventID     string `json:"event_id"`
				DeliveredBy string `json:"delivered_by"`
			} `json:"last_fact_skip"`
		} `json:"delivery"`
	} `json:"status"`
}

// TestFanOutSameFactTwoSourcesIntegration: a site reports each shipment's
// goods issue and departure from its WMS database and again from X12 945
// and 214 documents (the same facts: the same idempotency keys, other ids
// and bodies), right behind the database's while the relay is killed
// (kill -9) and restarted, and long after the database's were delivered.
// The ERP (JSON batches) and the TMS (one request per event) apply each
// fact once, from the first report; nothing reaches them as a reused key
// (422), nothing is dead-lettered, and `dray-relay sinks` counts the
// skipped reports.
func TestFanOutSameFactTwoSourcesIntegration(t *testing.T) {
	skipShort(t)
	fe := newFanOut(t, testenv.FanOut{ERPBatch: true})
	r := fe.relay
	const site, shipments = "ATL2", 40
	s := fe.env.StartSite(site, r.Config.Listen.QUIC, r.Config.Listen.TCP)

	// The database's events are what the sinks must apply; the twins
	// must not reach them.
	twinIDs := map[string]bool{}
	emitTwins := func(from, to int) []*canonical.Event {
		evs := twins(t, site, from, to)
		for _, e := range evs {
			twinIDs[e.GetId()] = true
		}
		s.EmitEvents(evs)
		return evs
	}
	// The database's events of shipments [from, to): events
	// from*ShipmentSteps+1 … of the logistics mix (committed under the
	// site's next indexes, which the twins also take).
	emitDB := func(from, to int) {
		var evs []*canonical.Event
		for i := from*testenv.ShipmentSteps + 1; i <= to*testenv.ShipmentSteps; i++ {
			ev, err := testenv.LogisticsEvent(site, i)
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, ev)
		}
		s.EmitEvents(evs)
	}
	fromDB := func() []testenv.Expected {
		return slices.DeleteFunc(s.Committed(), func(e testenv.Expected) bool { return twinIDs[e.ID] })
	}

	// Half the shipments, each quarter with its X12 twins right behind,
	// while the relay is killed twice.
	rng := rand.New(rand.NewPCG(5, 6))
	for quarter := range 2 {
		lo, hi := quarter*shipments/4, (quarter+1)*shipments/4
		emitDB(lo, hi)
		_ = emitTwins(lo, hi)
		time.Sleep(time.Duration(100+rng.IntN(400)) * time.Millisecond)
		r.Proc.Kill()
		r.Start()
	}
	s.WaitDrained(len(s.Committed()), time.Minute)
	waitApplied(t, fe.erp, testenv.ForTypes(fromDB(), testenv.ERPTypes), time.Minute)
	waitApplied(t, fe.tms, testenv.ForTypes(fromDB(), testenv.TMSTypes), time.Minute)

	// The other half; its twins once the database's are applied.
	emitDB(shipments/2, shipments)
	waitApplied(t, fe.erp, testenv.ForTypes(fromDB(), testenv.ERPTypes), time.Minute)
	waitApplied(t, fe.tms, testenv.ForTypes(fromDB(), testenv.TMSTypes), time.Minute)
	var raw []byte
	defer func() {
		if t.Failed() {
			t.Logf("dray-relay sinks: %s", raw)
		}
	}()
	// counts reads the skipped twins per sink once every sink has
	// finished everything in the log.
	counts := func(what string) (map[string][2]uint64, []sinkDelivery) {
		var st []sinkDelivery
		testenv.Eventually(t, time.Minute, 200*time.Millisecond, what, func() bool {
			st = nil
			raw = r.CLI("sinks")
			if err := json.Unmarshal(raw, &st); err != nil {
				t.Fatal(err)
			}
			ok := len(st) == 2
			for _, x := range st {
				ok = ok && x.Status.Delivery.Lag == 0
			}
			return ok
		})
		out := map[string][2]uint64{}
		for _, x := range st {
			out[x.Name] = [2]uint64{x.Status.Delivery.FactDuplicates, x.Status.Delivery.FactConflicts}
		}
		return out, st
	}
	before, _ := counts("both sinks done")
	late := emitTwins(shipments/2, shipments)
	s.WaitDrained(len(s.Committed()), time.Minute)

	// The late twins are counted (the relay has not restarted since): per
	// shipment, the ERP's goods issue differs (no lot), the TMS's
	// shipment is the same request (its mapping has no lot) and its
	// departure differs (no region).
	n := uint64(shipments / 2)
	want := map[string][2]uint64{"erp": {0, n}, "tms": {n, n}}
	var st []sinkDelivery
	var after map[string][2]uint64
	counted := func() bool {
		after, st = counts("both sinks done")
		for name, w := range want {
			if after[name][0]-before[name][0] != w[0] || after[name][1]-before[name][1] != w[1] {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(time.Minute); !counted(); time.Sleep(500 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("late twins skipped (duplicates, conflicts): before %v, now %v; want %v more", before, after, want)
			break
		}
	}
	for _, x := range st {
		if x.DeadLetters != 0 || x.Status.Delivery.LastFactSkip == nil || x.Status.Delivery.LastFactSkip.DeliveredBy == "" {
			t.Errorf("sink %s: %d dead letters, last skip %+v", x.Name, x.DeadLetters, x.Status.Delivery.LastFactSkip)
		}
	}
	s.Stop()
	r.Proc.Stop(30 * time.Second)
	// Each fact applied once, from the database's event; no twin applied
	// (it would be foreign) or refused (a conflict is a rejection).
	db := fromDB()
	if len(db) != shipments*testenv.ShipmentSteps || len(twinIDs) != shipments*2 {
		t.Fatalf("%d events from the database and %d twins committed", len(db), len(twinIDs))
	}
	testenv.VerifyLedger(t, "erp", fe.erp.Records(), r.InLogOrder(testenv.ForTypes(db, testenv.ERPTypes)))
	testenv.VerifyLedger(t, "tms", fe.tms.Records(), r.InLogOrder(testenv.ForTypes(db, testenv.TMSTypes)))
	// The relay names each late twin it skipped, with the event that
	// delivered the fact.
	for _, e := range late {
		if !r.Proc.LogContains(`"event_id":"` + e.GetId() + `"`) {
			t.Errorf("the relay does not name the skipped twin %s (%s)", e.GetId(), e.GetType())
		}
	}
}
