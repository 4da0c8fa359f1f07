package uplink

import (
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
)

// deliver checks that n events committed to the spool reach the relay log
// exactly once, in order, and leave the spool.
func deliver(t *testing.T, cfg Config, r *relay, n int) {
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
	if !st.Connected || st.EventsAcked != uint64(n) {
		t.Fatalf("status %+v; want connected with %d events acked", st, n)
	}
}

func TestIntegrationDeliverQUIC(t *testing.T) {
	skipShort(t)
	r := startRelay(t, nil)
	deliver(t, Config{QUICAddr: r.quic, TCPAddr: r.tcp}, r, 3000)
}
