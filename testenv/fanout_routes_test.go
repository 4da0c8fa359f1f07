package testenv_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/draylink/dray/agent/synthetic"
	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/configfile"
	"github.com/draylink/dray/relay/route"
	"github.com/draylink/dray/relay/sink"
	"github.com/draylink/dray/testenv"
	"github.com/draylink/dray/testenv/refsink"
)

// TestFanOutRoutesMatchRefsink renders every event of the fan-out tests'
// mix through the standard ERP and TMS routes and posts it to in-process
// reference sinks: every mapping must be accepted (201), so the process
// tests count delivery, not mapping mistakes. Fast: no processes.
func TestFanOutRoutesMatchRefsink(t *testing.T) {
	var evs []*canonical.Event
	for i := 1; i <= 2*testenv.ShipmentSteps; i++ {
		ev, err := testenv.LogisticsEvent("ATL2", i)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		evs = append(evs, ev)
	}
	syn := synthetic.New("synthetic", "MEM1", synthetic.Config{Rate: 1, BulkEvery: 3})
	for i := uint64(1); i <= 6; i++ {
		ent, err := syn.Event(i)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := canonical.UnmarshalBinary(ent.Event)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	for _, kind := range []refsink.Kind{refsink.KindERP, refsink.KindTMS} {
		t.Run(string(kind), func(t *testing.T) {
			srv, err := refsink.NewServer(refsink.Config{Kind: kind, DataDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			base, stop, err := srv.StartLoopback(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = stop() }()
			routes, types := testenv.ERPRoutes("s"), testenv.ERPTypes
			if kind == refsink.KindTMS {
				routes, types = testenv.TMSRoutes("s"), testenv.TMSTypes
			}
			var errs configfile.Errors
			tab := &route.Table{Sink: "s"}
			for i, rc := range routes {
				tab.Routes = append(tab.Routes, route.Compile(fmt.Sprintf("routes[%d]", i), rc, &errs))
			}
			if err := errs.Err(); err != nil {
				t.Fatal(err)
			}
			sc := sink.Config{Name: "s", URL: base}
			sc.SetDefaults()
			sk, err := sink.New(sc, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer sk.Close()
			sent := map[string]bool{}
			for i, ev := range evs {
				rev := &route.Event{Seq: uint64(i + 1), Site: ev.GetSiteId(), Lane: ev.Lane(), Event: ev}
				r, err := tab.Select(context.Background(), rev)
				if err != nil {
					t.Fatalf("%s: %v", ev.GetType(), err)
				}
				if r == nil {
					for _, ty := range types {
						if ty == ev.GetType() {
							t.Errorf("no %s route took %s", kind, ty)
						}
					}
					continue
				}
				req, err := r.Render(context.Background(), rev)
				if err != nil {
					t.Fatalf("%s via %s: %v", ev.GetType(), r.Name, err)
				}
				res := sk.Do(context.Background(), &sink.Request{Method: req.Method, Path: req.Path, Header: req.Header, Body: req.Body})
				if res.Status != 201 {
					t.Errorf("%s via %s: %s %s → %d %s\nbody %s", ev.GetType(), r.Name, req.Method, req.Path, res.Status, res.Body, req.Body)
				}
				sent[ev.GetType()] = true
			}
			for _, ty := range types {
				if !sent[ty] {
					t.Errorf("no %s event was sent to the %s", ty, kind)
				}
			}
		})
	}
}
