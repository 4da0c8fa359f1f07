package testenv_test

import (
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/draylink/dray/agent/synthetic"
	"github.com/draylink/dray/testenv"
	"github.com/draylink/dray/testenv/udpproxy"
)

func skipShort(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: runs in make test, not under -short")
	}
}

func withStatus(t *testing.T, a *testenv.Agent) {
	a.Config.Status.Listen = testenv.Addr(testenv.FreePort(t))
}

// TestSpineIntegration: agent → relay over QUIC, and over TLS/TCP when UDP
// is blocked; every event arrives once, in order.
func TestSpineIntegration(t *testing.T) {
	skipShort(t)
	for _, tc := range []struct {
		name      string
		blockQUIC bool
	}{{"quic", false}, {"tcp-with-udp-blocked", true}} {
		t.Run(tc.name, func(t *testing.T) {
			env := testenv.New(t)
			r := env.NewRelay("relay")
			r.Start()
			quic := r.Config.Listen.QUIC
			if tc.blockQUIC {
				// A proxy that drops every datagram: UDP is blocked.
				p, err := udpproxy.New("127.0.0.1:0", quic)
				if err != nil {
					t.Fatal(err)
				}
				defer p.Close()
				p.SetPartitioned(true)
				quic = p.Addr()
			}
			const count = 3000
			a := env.NewAgent("MEM1", quic, r.Config.Listen.TCP, synthetic.Config{Rate: 3000, Count: count, BulkEvery: 7})
			withStatus(t, a)
			a.Start()
			a.WaitDrained("synthetic", count, 2*time.Minute)
			a.Proc.Stop(30 * time.Second)
			r.Proc.Stop(30 * time.Second)
			testenv.VerifySynthetic(t, r.Dump(), "MEM1", count)
		})
	}
}

// TestAgentKill9Integration kills the agent with SIGKILL at random points
// while it sends, 20 times in a row: the relay log must hold every event the
// spool committed, exactly once, in spool order.
func TestAgentKill9Integration(t *testing.T) {
	skipShort(t)
	env := testenv.New(t)
	r := env.NewRelay("relay")
	r.Start()
	const count = 20000
	a := env.NewAgent("MEM1", r.Config.Listen.QUIC, r.Config.Listen.TCP, synthetic.Config{Rate: 4000, Count: count, BulkEvery: 11})
	withStatus(t, a)
	rng := rand.New(rand.NewPCG(7, 9))
	for kill := 0; kill < 20; kill++ {
		a.Start()
		time.Sleep(time.Duration(150+rng.IntN(450)) * time.Millisecond)
		a.Proc.Kill()
	}
	a.Start()
	a.WaitDrained("synthetic", count, 3*time.Minute)
	a.Proc.Stop(30 * time.Second)
	r.Proc.Stop(30 * time.Second)
	testenv.VerifySynthetic(t, r.Dump(), "MEM1", count)
}

// TestRelayKill9Integration kills the relay with SIGKILL at random points
// while it receives, 10 times: same result after the restarts.
func TestRelayKill9Integration(t *testing.T) {
	skipShort(t)
	env := testenv.New(t)
	r := env.NewRelay("relay")
	r.Start()
	const count = 20000
	a := env.NewAgent("MEM1", r.Config.Listen.QUIC, r.Config.Listen.TCP, synthetic.Config{Rate: 3000, Count: count, BulkEvery: 11})
	withStatus(t, a)
	a.Start()
	rng := rand.New(rand.NewPCG(11, 13))
	for kill := 0; kill < 10; kill++ {
		time.Sleep(time.Duration(300+rng.IntN(700)) * time.Millisecond)
		r.Proc.Kill()
		time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
		r.Start()
	}
	a.WaitDrained("synthetic", count, 3*time.Minute)
	a.Proc.Stop(30 * time.Second)
	r.Proc.Stop(30 * time.Second)
	testenv.VerifySynthetic(t, r.Dump(), "MEM1", count)
}

// TestPartitionIntegration drops every packet between agent and relay for
// 60 s while events keep arriving: nothing is lost or duplicated after the
// link heals, and the drain starts within seconds.
func TestPartitionIntegration(t *testing.T) {
	skipShort(t)
	env := testenv.New(t)
	r := env.NewRelay("relay")
	r.Start()
	p, err := udpproxy.New("127.0.0.1:0", r.Config.Listen.QUIC)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const rate, count = 200, 16000 // 80 s of events: the partition falls in the middle
	// QUIC only, through the proxy: the partition cuts the agent off.
	a := env.NewAgent("MEM1", p.Addr(), "", synthetic.Config{Rate: rate, Count: count})
	withStatus(t, a)
	a.Start()
	time.Sleep(5 * time.Second)
	p.SetPartitioned(true)
	time.Sleep(60 * time.Second)
	st := a.Status()
	if st == nil || st.Pending() < rate*30 {
		t.Fatalf("after 60 s of partition the spool holds %v events; the agent was not cut off", st)
	}
	backlog := st.Pending()
	_, dropped := p.Stats()
	if dropped == 0 {
		t.Fatal("the partition dropped no packet")
	}
	p.SetPartitioned(false)
	healed := time.Now()
	testenv.Eventually(t, 60*time.Second, 200*time.Millisecond, "the drain to start", func() bool {
		st := a.Status()
		return st != nil && st.Pending() < backlog/2
	})
	t.Logf("half of a %d-event backlog drained %v after the link healed", backlog, time.Since(healed).Round(100*time.Millisecond))
	a.WaitDrained("synthetic", count, 3*time.Minute)
	a.Proc.Stop(30 * time.Second)
	r.Proc.Stop(30 * time.Second)
	// Live events may overtake the backlog (a new stream after the heal):
	// order holds per stream.
	testenv.VerifySynthetic(t, r.Dump(), "MEM1", count)
}

// TestSmallDiskIntegration runs the agent's spool on a small file system
// while the relay is away: intake stops at the free-space low-water mark
// instead of crashing (Badger dies with SIGBUS on a full disk) or dropping,
// and resumes once the relay drains the spool. Needs root (tmpfs).
func TestSmallDiskIntegration(t *testing.T) {
	skipShort(t)
	env := testenv.New(t)
	r := env.NewRelay("relay")
	const count = 120000 // ~160 MB of events for a 128 MiB file system
	a := env.NewAgent("MEM1", r.Config.Listen.QUIC, r.Config.Listen.TCP,
		synthetic.Config{Rate: 20000, Count: count, Size: synthetic.MaxSize})
	if err := os.MkdirAll(a.Config.DataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := testenv.MountTmpfs(t, a.Config.DataDir, 128<<20); err != nil {
		t.Skipf("small file system: %v", err)
	}
	a.Config.Spool.MinFreeBytes = 32 << 20
	withStatus(t, a)
	a.Start()
	var paused *testenv.AgentStatus
	testenv.Eventually(t, 2*time.Minute, 200*time.Millisecond, "intake to pause on low disk", func() bool {
		if !a.Proc.Running() {
			t.Fatalf("agent died on a nearly full disk:\n%s", a.Proc.Log())
		}
		paused = a.Status()
		return paused != nil && paused.Spool.Paused == "disk_low"
	})
	pos := paused.SyntheticPosition("synthetic")
	time.Sleep(3 * time.Second)
	if st := a.Status(); st == nil || st.SyntheticPosition("synthetic") != pos || !a.Proc.Running() {
		t.Fatalf("intake went on while paused (position %d, now %v)", pos, st)
	}
	t.Logf("intake paused at event %d with the disk nearly full; starting the relay", pos)
	r.Start()
	a.WaitDrained("synthetic", count, 5*time.Minute)
	a.Proc.Stop(30 * time.Second)
	r.Proc.Stop(30 * time.Second)
	testenv.VerifySynthetic(t, r.Dump(), "MEM1", count)
}
