package dispatch

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/draylink/dray/internal/configfile"
	"github.com/draylink/dray/relay/dlq"
	"github.com/draylink/dray/relay/route"
)

func TestTracker(t *testing.T) {
	tr := newTracker(10, 4)
	for s := uint64(10); s < 14; s++ {
		tr.add(s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := tr.wait(ctx, 1); err == nil {
		t.Fatal("wait on a full tracker returned")
	}
	tr.finish(12)
	tr.finish(11)
	if tr.low() != 10 {
		t.Fatalf("low = %d; want 10 (10 unfinished)", tr.low())
	}
	tr.finish(10)
	if tr.low() != 13 || tr.inFlight() != 1 {
		t.Fatalf("low = %d, in flight %d; want 13, 1", tr.low(), tr.inFlight())
	}
	if free, err := tr.wait(context.Background(), 2); err != nil || free != 3 {
		t.Fatalf("wait = %d, %v; want 3", free, err)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancelShort()
	if free, err := tr.wait(short, 4); err == nil {
		t.Fatalf("wait for 4 with 3 free returned %d; want it to block", free)
	}
	tr.add(14)
	tr.finish(14)
	tr.finish(13)
	if tr.low() != 15 || tr.inFlight() != 0 {
		t.Fatalf("low = %d, in flight %d; want 15, 0", tr.low(), tr.inFlight())
	}
}

// TestDeliverInOrder: a flaky, slow sink (20 % 503, random latency) gets
// every event once, in order per shipment, and the cursor ends past the
// last event.
func TestDeliverInOrder(t *testing.T) {
	l := openLog(t)
	f := newFakeSink(t)
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(1, 2))
	f.fail = func(n, attempt int) int {
		mu.Lock()
		defer mu.Unlock()
		if rng.IntN(5) == 0 {
			return 503
		}
		return 0
	}
	d, err := New(Options{Name: "tms", Config: fastConfig(), Log: l, Routes: table(t, "tms", ceRoute),
		Sink: newSinkClient(t, f.srv.URL), DLQ: openDLQ(t), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	const n, keys = 2000, 37
	feed(t, l, "MEM1", 1, n/2, keys)
	stop := running(t, d)
	feed(t, l, "MEM1", n/2+1, n, keys)
	eventually(t, 30*time.Second, "every event delivered", func() bool { return f.appliedCount() == n })
	eventually(t, 5*time.Second, "the cursor to pass the last event", func() bool { return cursorOf(t, l, "tms") == n+1 })
	stop()
	f.check(1, n, keys, nil)
	st := d.Stats()
	if st.Delivered != n || st.Retries == 0 || st.Lag != 0 || st.DelayP99 == 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestRestartResends: a dispatcher stopped (or killed) mid-way leaves its
// cursor at the lowest unfinished event; a new one re-sends from there and
// the sink's idempotency absorbs what was sent twice.
func TestRestartResends(t *testing.T) {
	l := openLog(t)
	f := newFakeSink(t)
	slow := make(chan struct{})
	f.fail = func(n, attempt int) int {
		if n%50 == 7 {
			<-slow // some partitions hang until released
		}
		return 0
	}
	store := openDLQ(t)
	const n, keys = 1000, 20
	feed(t, l, "MEM1", 1, n, keys)
	mk := func() *Dispatcher {
		cfg := fastConfig()
		d, err := New(Options{Name: "erp", Config: cfg, Log: l, Routes: table(t, "erp", jqRoute),
			Sink: newSinkClient(t, f.srv.URL), DLQ: store, Logger: quiet, Grace: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	stop := running(t, mk())
	eventually(t, 20*time.Second, "a partial delivery", func() bool { return f.appliedCount() >= 500 })
	stop()
	close(slow)
	c := cursorOf(t, l, "erp")
	if c < 1 || c > 8 {
		t.Fatalf("cursor %d after a stop with event 7 hung; want at most 7", c)
	}
	f.fail = nil
	stop = running(t, mk())
	eventually(t, 20*time.Second, "every event delivered", func() bool { return f.appliedCount() == n })
	eventually(t, 5*time.Second, "the cursor at the end", func() bool { return cursorOf(t, l, "erp") == n+1 })
	stop()
	f.check(1, n, keys, nil)
	f.mu.Lock()
	resent := 0
	for _, c := range f.seen {
		resent += c - 1
	}
	f.mu.Unlock()
	if resent == 0 {
		t.Error("nothing was sent twice: the restart did not re-send from the cursor")
	}
}

// TestFailingSinkDoesNotHoldAnother: two sinks on one log; one is down.
func TestFailingSinkDoesNotHoldAnother(t *testing.T) {
	l := openLog(t)
	good, bad := newFakeSink(t), newFakeSink(t)
	bad.fail = func(int, int) int { return 503 }
	store := openDLQ(t)
	mk := func(name string, f *fakeSink) *Dispatcher {
		d, err := New(Options{Name: name, Config: fastConfig(), Log: l, Routes: table(t, name, ceRoute),
			Sink: newSinkClient(t, f.srv.URL), DLQ: store, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	dg, db := mk("tms", good), mk("erp", bad)
	running(t, dg)
	stopBad := running(t, db)
	const n = 600
	feed(t, l, "MEM1", 1, n, 10)
	eventually(t, 20*time.Second, "the good sink to get everything", func() bool { return good.appliedCount() == n })
	if c := cursorOf(t, l, "erp"); c != 1 {
		t.Errorf("the failing sink's cursor moved to %d", c)
	}
	// The failing sink recovers and catches up, in order.
	bad.mu.Lock()
	bad.fail = nil
	bad.mu.Unlock()
	eventually(t, 20*time.Second, "the failing sink to catch up", func() bool { return bad.appliedCount() == n })
	stopBad()
	good.check(1, n, 10, nil)
	bad.check(1, n, 10, nil)
}

// TestDeadLetterRedrive: a 422 goes to the dead-letter store with the
// request and response; a redrive with a fixed route applies it and removes
// it.
func TestDeadLetterRedrive(t *testing.T) {
	l := openLog(t)
	f := newFakeSink(t)
	f.fail = func(n, attempt int) int {
		if n%100 == 13 {
			return 422
		}
		return 0
	}
	store := openDLQ(t)
	sc := newSinkClient(t, f.srv.URL)
	// A route whose path fails to render for event 50 (a mapping bug).
	broken := jqRoute
	broken.Path = `if .data.reasonCode == "50" then error("no shipment") else "/shipments/\(.data.shipmentId)/milestones" end`
	d, err := New(Options{Name: "tms", Config: fastConfig(), Log: l, Routes: table(t, "tms", broken), Sink: sc, DLQ: store, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	feed(t, l, "MEM1", 1, n, 7)
	stop := running(t, d)
	eventually(t, 20*time.Second, "the cursor at the end", func() bool { return cursorOf(t, l, "tms") == n+1 })
	stop()
	if store.Count("tms") != 4 {
		t.Fatalf("%d dead letters; want 4 (13, 113, 213: HTTP 422; 50: render error)", store.Count("tms"))
	}
	rec, err := store.Get("tms", "113")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != 422 || !strings.Contains(rec.ResponseBody, "invalid milestone") || rec.Route != "jq" || rec.Request == nil ||
		rec.Request.Method != "POST" || rec.Request.URL != f.srv.URL+"/shipments/MEM1-SHP0001/milestones" ||
		rec.Request.Header.Get("Idempotency-Key") == "" || !strings.Contains(rec.Request.Body, `"n":"113"`) ||
		rec.EventType != "logistics.shipment.status_changed" || rec.Site != "MEM1" || rec.Attempts != 1 || len(rec.Event) == 0 {
		t.Errorf("dead letter %+v", rec)
	}
	if rec, _ := store.Get("tms", "50"); rec == nil || rec.Request != nil || !strings.Contains(rec.Reason, "no shipment") {
		t.Errorf("render dead letter %+v", rec)
	}
	// Still refused: the dead letter stays, with two attempts.
	res, err := d.Redrive(context.Background(), "113")
	if err != nil || res.Outcome != RedriveDead || res.Status != 422 {
		t.Fatalf("redrive while still refused: %+v, %v", res, err)
	}
	if rec, _ := store.Get("tms", "113"); rec == nil || rec.Attempts != 2 {
		t.Errorf("after a failed redrive: %+v", rec)
	}
	// Fix the sink and the route; redrive everything.
	f.mu.Lock()
	f.fail = nil
	f.mu.Unlock()
	d2, err := New(Options{Name: "tms", Config: fastConfig(), Log: l, Routes: table(t, "tms", jqRoute), Sink: sc, DLQ: store, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"13", "50", "113", "213"} {
		res, err := d2.Redrive(context.Background(), id)
		if err != nil || res.Outcome != RedriveDelivered {
			t.Fatalf("redrive %s: %+v, %v", id, res, err)
		}
	}
	if store.Count("tms") != 0 {
		t.Errorf("%d dead letters left", store.Count("tms"))
	}
	if _, err := d2.Redrive(context.Background(), "13"); !errors.Is(err, dlq.ErrNotFound) {
		t.Errorf("second redrive: %v", err)
	}
	f.mu.Lock()
	total := 0
	for _, c := range f.applied {
		total += c
	}
	f.mu.Unlock()
	if total != n {
		t.Errorf("%d applications; want %d", total, n)
	}
}

// TestBatch: batches with per-item results; items refused go to the
// dead-letter store, items failing transiently are retried alone.
func TestBatch(t *testing.T) {
	l := openLog(t)
	f := newFakeSink(t)
	f.fail = func(n, attempt int) int {
		switch {
		case n%97 == 5:
			return 422
		case n%10 == 3 && attempt == 1:
			return 503
		}
		return 0
	}
	cfg := fastConfig()
	cfg.Batch = &BatchConfig{Path: "/batch", Format: route.BatchCloudEvents, Results: `.results`, MaxEvents: 50, MaxWait: configfile.Duration(2 * time.Millisecond)}
	cfg.SetDefaults()
	store := openDLQ(t)
	d, err := New(Options{Name: "hook", Config: cfg, Log: l, Routes: table(t, "hook", ceRoute), Sink: newSinkClient(t, f.srv.URL), DLQ: store, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	feed(t, l, "MEM1", 1, n, 200)
	stop := running(t, d)
	eventually(t, 20*time.Second, "the cursor at the end", func() bool { return cursorOf(t, l, "hook") == n+1 })
	stop()
	refused := func(n int) bool { return n%97 == 5 }
	f.check(1, n, 200, refused)
	want := 0
	for i := 1; i <= n; i++ {
		if refused(i) {
			want++
		}
	}
	if store.Count("hook") != want {
		t.Errorf("%d dead letters; want %d", store.Count("hook"), want)
	}
	rec, _ := store.Get("hook", "102")
	if rec == nil || rec.Status != 422 || !strings.Contains(rec.Reason, "batch item") || rec.Request == nil || rec.Request.URL != f.srv.URL+"/events" {
		t.Errorf("batch item dead letter %+v", rec)
	}
	f.mu.Lock()
	batches, requests := f.batches, f.requests
	f.mu.Unlock()
	if batches == 0 || batches != requests || batches > n/3 {
		t.Errorf("%d batches in %d requests for %d events", batches, requests, n)
	}
}

// TestReplay re-sends exactly a time range to one sink and leaves the
// cursor where it was.
func TestReplay(t *testing.T) {
	l := openLog(t)
	f := newFakeSink(t)
	store := openDLQ(t)
	d, err := New(Options{Name: "erp", Config: fastConfig(), Log: l, Routes: table(t, "erp", ceRoute),
		Sink: newSinkClient(t, f.srv.URL), DLQ: store, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, l, "MEM1", 1, 300, 9)
	time.Sleep(20 * time.Millisecond)
	since := time.Now()
	feed(t, l, "MEM1", 301, 500, 9)
	feed(t, l, "ATL2", 1, 100, 9)
	time.Sleep(20 * time.Millisecond)
	until := time.Now()
	feed(t, l, "MEM1", 501, 700, 9)
	stop := running(t, d)
	eventually(t, 20*time.Second, "the cursor at the end", func() bool { return cursorOf(t, l, "erp") == 801 })
	stop()
	f.mu.Lock()
	before := map[string]int{}
	for k, v := range f.seen {
		before[k] = v
	}
	f.mu.Unlock()

	res, err := d.Replay(context.Background(), ReplayRequest{Since: since, Until: until, Sites: []string{"MEM1"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Scanned != 300 || res.Selected != 200 || res.Delivered != 200 || res.Interrupted {
		t.Fatalf("replay %+v; want 300 scanned (MEM1 301..500, ATL2 1..100), 200 selected and delivered", res)
	}
	if c := cursorOf(t, l, "erp"); c != 801 {
		t.Errorf("cursor %d after replay; want 801", c)
	}
	f.mu.Lock()
	again := 0
	for k, v := range f.seen {
		if v > before[k] {
			again++
		}
	}
	f.mu.Unlock()
	if again != 200 {
		t.Errorf("%d events re-sent; want 200", again)
	}
	f.check(1, 800, 9, nil)
	// A type filter that matches nothing.
	res, err = d.Replay(context.Background(), ReplayRequest{Since: since, Types: []string{"logistics.inventory.*"}})
	if err != nil || res.Selected != 0 {
		t.Errorf("type filter: %+v, %v", res, err)
	}
}

// TestUnroutedAdvance: events no route takes still move the cursor.
func TestUnroutedAdvance(t *testing.T) {
	l := openLog(t)
	f := newFakeSink(t)
	r := ceRoute
	r.Match.Types = []string{"logistics.inventory.moved"}
	d, err := New(Options{Name: "erp", Config: fastConfig(), Log: l, Routes: table(t, "erp", r),
		Sink: newSinkClient(t, f.srv.URL), DLQ: openDLQ(t), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, l, "MEM1", 1, 250, 5)
	stop := running(t, d)
	eventually(t, 10*time.Second, "the cursor at the end", func() bool { return cursorOf(t, l, "erp") == 251 })
	stop()
	if f.requests != 0 || d.Stats().Unrouted != 250 {
		t.Errorf("%d requests, stats %+v", f.requests, d.Stats())
	}
}

// TestStartNewest: a new sink with start_at newest skips what is there.
func TestStartNewest(t *testing.T) {
	l := openLog(t)
	feed(t, l, "MEM1", 1, 100, 5)
	f := newFakeSink(t)
	cfg := fastConfig()
	cfg.StartAt = StartNewest
	d, err := New(Options{Name: "hook", Config: cfg, Log: l, Routes: table(t, "hook", ceRoute),
		Sink: newSinkClient(t, f.srv.URL), DLQ: openDLQ(t), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := d.Register(); err != nil || c != 101 {
		t.Fatalf("Register = %d, %v; want 101", c, err)
	}
	stop := running(t, d)
	feed(t, l, "MEM1", 101, 150, 5)
	eventually(t, 10*time.Second, "the new events", func() bool { return f.appliedCount() == 50 })
	stop()
	f.check(101, 150, 5, nil)
}

func TestConfigValidate(t *testing.T) {
	c := Config{Workers: -1, StartAt: "middle", Batch: &BatchConfig{Path: "batch", Format: "cloudevents", Body: ".", MaxEvents: 1e6}}
	c.SetDefaults()
	var errs configfile.Errors
	c.Validate("sinks[2]", []route.Config{{Name: "r1", Mode: "jq"}}, &errs)
	got := map[string]bool{}
	for _, e := range errs {
		got[e.Path] = true
	}
	for _, p := range []string{"sinks[2].workers", "sinks[2].start_at", "sinks[2].batch.path", "sinks[2].batch.body",
		"sinks[2].batch.format", "sinks[2].batch.max_events"} {
		if !got[p] {
			t.Errorf("no error at %s; got %v", p, errs)
		}
	}
}
