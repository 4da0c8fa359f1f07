package testenv_test

import (
	"testing"
	"time"

	"github.com/draylink/dray/agent/synthetic"
	"github.com/draylink/dray/testenv"
	"github.com/draylink/dray/testenv/refsink"
)

// fanOutEnv is a relay with the reference ERP and TMS behind it.
type fanOutEnv struct {
	env      *testenv.Env
	erp, tms *testenv.RefSink
	relay    *testenv.Relay
}

func newFanOut(t *testing.T, f testenv.FanOut) *fanOutEnv {
	t.Helper()
	env := testenv.New(t)
	fe := &fanOutEnv{env: env, erp: env.NewRefSink("erp", refsink.KindERP), tms: env.NewRefSink("tms", refsink.KindTMS)}
	fe.erp.UseOAuth2()
	fe.tms.UseBearer()
	fe.erp.Start()
	fe.tms.Start()
	fe.relay = env.NewRelay("relay")
	f.ERP, f.TMS = fe.erp, fe.tms
	fe.relay.ConfigureFanOut(f)
	fe.relay.Start()
	return fe
}

// waitApplied waits until the sink has applied every event of want.
func waitApplied(t *testing.T, s *testenv.RefSink, want []testenv.Expected, timeout time.Duration) {
	t.Helper()
	last := -1
	testenv.Eventually(t, timeout, 500*time.Millisecond, s.Name+" to apply every event", func() bool {
		last = testenv.CountApplied(s.Records(), want)
		return last == len(want)
	})
}

// TestFanOutIntegration: events flow from a dray-agent (synthetic
// inventory moves and counts) and a second site (shipments, milestones,
// PODs, freight invoices, picks) through the relay's jq routes to the
// reference ERP (OAuth2, JSON batches) and TMS (bearer token, one request
// per event): every expected event applied exactly once, in order per
// partition key, nothing else applied, nothing rejected.
func TestFanOutIntegration(t *testing.T) {
	skipShort(t)
	fe := newFanOut(t, testenv.FanOut{ERPBatch: true})
	r := fe.relay
	src := synthetic.Config{Rate: 1500, Count: 3000, BulkEvery: 7}
	a := fe.env.NewAgent("MEM1", r.Config.Listen.QUIC, r.Config.Listen.TCP, src)
	withStatus(t, a)
	a.Start()
	const siteEvents = 7 * 300
	site := fe.env.StartSite("ATL2", r.Config.Listen.QUIC, r.Config.Listen.TCP)
	site.Generate(700, siteEvents)
	a.WaitDrained("synthetic", src.Count, 2*time.Minute)
	site.WaitDrained(siteEvents, 2*time.Minute)

	all := append(testenv.SyntheticExpected(t, "MEM1", src, src.Count), site.Committed()...)
	wantERP, wantTMS := testenv.ForTypes(all, testenv.ERPTypes), testenv.ForTypes(all, testenv.TMSTypes)
	waitApplied(t, fe.erp, wantERP, 2*time.Minute)
	waitApplied(t, fe.tms, wantTMS, 2*time.Minute)
	a.Proc.Stop(30 * time.Second)
	site.Stop()
	r.Proc.Stop(30 * time.Second)
	testenv.VerifyLedger(t, "erp", fe.erp.Records(), wantERP)
	testenv.VerifyLedger(t, "tms", fe.tms.Records(), wantTMS)
}
