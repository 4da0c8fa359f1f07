package refsink_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/draylink/dray/testenv/refsink"
)

// statuses posts n distinct goods movements one after the other and returns
// the status of each.
func statuses(s *sink, n int) []int {
	out := make([]int, n)
	for i := range n {
		out[i] = s.post("/erp/v1/goods-movements", fmt.Sprint("k", i), "application/json", gm(i)).status
	}
	return out
}

func TestErrorRateIsSeededAndCounted(t *testing.T) {
	knobs := refsink.Faults{Seed: 7, ErrorRate: 0.3, ErrorStatus: 503}
	withKnobs := func(c *refsink.Config) { c.Faults = knobs }
	a, b := newSink(t, refsink.KindERP, withKnobs), newSink(t, refsink.KindERP, withKnobs)
	const n = 100
	sa, sb := statuses(a, n), statuses(b, n)
	if !slices.Equal(sa, sb) {
		t.Fatalf("same seed, different decisions:\n%v\n%v", sa, sb)
	}
	failed := 0
	for _, st := range sa {
		switch st {
		case 503:
			failed++
		case 201:
		default:
			t.Fatalf("status %d", st)
		}
	}
	if failed < 15 || failed > 45 {
		t.Errorf("%d of %d failed at rate 0.3", failed, n)
	}
	fs := a.faultStats()
	if fs.Errors != uint64(failed) || fs.Requests != n {
		t.Errorf("fault stats %+v; want %d errors of %d", fs, failed, n)
	}
	// Nothing that failed was applied.
	if st := a.stats(); st.Applied != uint64(n-failed) || st.Records != st.Applied {
		t.Errorf("ledger %+v; want %d applied", st, n-failed)
	}
	// Another seed, another schedule.
	knobs.Seed = 8
	c := newSink(t, refsink.KindERP, withKnobs)
	if slices.Equal(statuses(c, n), sa) {
		t.Error("seed 8 made the same decisions as seed 7")
	}
	// PUT /_faults reseeds: the schedule starts over.
	a.setFaults(refsink.Faults{Seed: 7, ErrorRate: 0.3, ErrorStatus: 503})
	again := make([]int, n)
	for i := range n {
		again[i] = a.post("/erp/v1/goods-movements", fmt.Sprint("again", i), "application/json", gm(i)).status
	}
	if !slices.Equal(again, sa) {
		t.Error("reseeding did not restart the schedule")
	}
}

func TestRateLimit(t *testing.T) {
	clock := newFakeClock()
	s := newSink(t, refsink.KindERP, func(c *refsink.Config) { c.Now = clock.Now })
	s.setFaults(refsink.Faults{RateLimitRate: 1, RetryAfter: refsink.Duration(2500 * time.Millisecond)})
	r := s.post("/erp/v1/goods-movements", "r1", "application/json", gm(0))
	wantStatus(t, r, http.StatusTooManyRequests)
	if r.header.Get("Retry-After") != "3" || problemOf(t, r).Type != "urn:dray:refsink:problem:rate-limited" {
		t.Errorf("429 answer: %v %s", r.header, r.body)
	}

	// A token bucket of 2 requests per second.
	s.setFaults(refsink.Faults{RateLimitRPS: 2})
	got := statuses(s, 3)
	if !slices.Equal(got, []int{201, 201, 429}) {
		t.Fatalf("statuses %v; want [201 201 429]", got)
	}
	clock.Advance(500 * time.Millisecond)
	wantStatus(t, s.post("/erp/v1/goods-movements", "r2", "application/json", gm(9)), 201)
	r = s.post("/erp/v1/goods-movements", "r3", "application/json", gm(10))
	if r.status != 429 || r.header.Get("Retry-After") != "1" {
		t.Errorf("bucket empty: %d %v", r.status, r.header)
	}
	if fs := s.faultStats(); fs.RateLimited != 3 {
		t.Errorf("rate limited %d; want 3", fs.RateLimited)
	}
	if st := s.stats(); st.Applied != 3 {
		t.Errorf("applied %d; want 3", st.Applied)
	}
}

func TestOutages(t *testing.T) {
	clock := newFakeClock()
	s := newSink(t, refsink.KindTMS, func(c *refsink.Config) { c.Now = clock.Now })
	ctx := context.Background()
	post := func(key string) resp { return s.post(valid[5].path, key, "application/json", valid[5].body) }

	// The toggle.
	if err := s.client.SetDown(ctx, true); err != nil {
		t.Fatal(err)
	}
	r := post("o1")
	wantStatus(t, r, http.StatusServiceUnavailable)
	if r.header.Get("Retry-After") != "1" || problemOf(t, r).Type != "urn:dray:refsink:problem:unavailable" {
		t.Errorf("503 answer %v %s", r.header, r.body)
	}
	if err := s.client.SetDown(ctx, false); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, post("o1"), 201)

	// A window relative to when the knobs were set.
	s.setFaults(refsink.Faults{Outages: []refsink.Window{{After: refsink.Duration(time.Minute), For: refsink.Duration(time.Hour)}}})
	wantStatus(t, post("o2"), 201)
	clock.Advance(time.Minute)
	r = post("o3")
	if r.status != 503 || r.header.Get("Retry-After") != "3600" {
		t.Errorf("in the window: %d Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	clock.Advance(time.Hour)
	wantStatus(t, post("o3"), 201)

	// An absolute window.
	from := clock.Now().Add(10 * time.Minute)
	s.setFaults(refsink.Faults{Outages: []refsink.Window{{From: from, Until: from.Add(10 * time.Minute)}}})
	wantStatus(t, post("o4"), 201)
	clock.Advance(15 * time.Minute)
	if r := post("o5"); r.status != 503 || r.header.Get("Retry-After") != "300" {
		t.Errorf("in the absolute window: %d %q", r.status, r.header.Get("Retry-After"))
	}
	clock.Advance(5 * time.Minute)
	wantStatus(t, post("o5"), 201)

	if fs := s.faultStats(); fs.Outage != 3 {
		t.Errorf("outage count %d; want 3", fs.Outage)
	}
	if st := s.stats(); st.Applied != 5 || st.Records != 5 {
		t.Errorf("ledger %+v", st)
	}
}

func TestLatency(t *testing.T) {
	s := newSink(t, refsink.KindERP, func(c *refsink.Config) {
		c.Faults = refsink.Faults{Latency: refsink.Duration(60 * time.Millisecond), Jitter: refsink.Duration(20 * time.Millisecond)}
	})
	start := time.Now()
	wantStatus(t, s.post("/erp/v1/goods-movements", "l1", "application/json", gm(0)), 201)
	if el := time.Since(start); el < 60*time.Millisecond {
		t.Errorf("answered after %v; want ≥ 60ms", el)
	}
	fs := s.faultStats()
	if fs.Delayed != 1 || fs.DelayedTotal.D() < 60*time.Millisecond || fs.DelayedTotal.D() > 80*time.Millisecond {
		t.Errorf("fault stats %+v", fs)
	}
}

func TestApplyThenDrop(t *testing.T) {
	s := newSink(t, refsink.KindERP, nil)
	s.setFaults(refsink.Faults{DropAfterApplyRate: 1})
	// A fresh connection per request, so Go's transport cannot retry
	// transparently (it replays requests that carry an Idempotency-Key when
	// a reused connection breaks).
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	_, err := s.tryPost(fresh, "/erp/v1/goods-movements", "d1", "application/json", gm(0))
	if err == nil {
		t.Fatal("the response was not dropped")
	}
	recs := s.records(refsink.LedgerQuery{})
	if len(recs) != 1 || recs[0].Outcome != refsink.OutcomeApplied || !recs[0].ResponseDropped {
		t.Fatalf("ledger after the drop: %+v", recs)
	}
	// Invalid requests are answered, not dropped (nothing was applied).
	r, err := s.tryPost(fresh, "/erp/v1/goods-movements", "d2", "application/json", `{}`)
	if err != nil || r.status != 422 {
		t.Fatalf("invalid request under the drop fault: %v %d", err, r.status)
	}
	// A batch is dropped whole, after every item was applied.
	batch := fmt.Sprintf(`[{"idempotencyKey":"b1","body":%s},{"idempotencyKey":"b2","body":%s}]`, gm(1), gm(2))
	if _, err := s.tryPost(fresh, "/erp/v1/goods-movements:batch", "", "application/json", batch); err == nil {
		t.Fatal("the batch response was not dropped")
	}

	// The relay retries with the same key once the fault is off: the
	// original answer, no second application.
	s.setFaults(refsink.Faults{})
	r = s.post("/erp/v1/goods-movements", "d1", "application/json", gm(0))
	wantStatus(t, r, 201)
	if r.header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(r.body, recs[0].Response) {
		t.Errorf("retry answer %s; want the original %s", r.body, recs[0].Response)
	}
	r = s.post("/erp/v1/goods-movements:batch", "", "application/json", batch)
	if r.status != 200 || !bytes.Contains(r.body, []byte(`"applied":0,"replayed":2`)) {
		t.Errorf("batch retry %s", r.body)
	}
	st := s.stats()
	if st.Applied != 3 || st.Duplicates != 3 || st.Rejected != 1 || st.ResponsesDropped != 3 {
		t.Errorf("ledger stats %+v", st)
	}
	if fs := s.faultStats(); fs.Dropped != 2 {
		t.Errorf("dropped %d; want 2 (one request, one batch)", fs.Dropped)
	}
}

func TestFaultsOnlyForListedResources(t *testing.T) {
	s := newSink(t, refsink.KindTMS, func(c *refsink.Config) {
		c.Faults = refsink.Faults{Resources: []string{"tenders"}, ErrorRate: 1}
	})
	wantStatus(t, s.post(valid[5].path, "f1", "application/json", valid[5].body), 500)
	wantStatus(t, s.post(valid[4].path, "f2", "application/json", valid[4].body), 201)
	if fs := s.faultStats(); fs.Requests != 1 || fs.Errors != 1 {
		t.Errorf("fault stats %+v", fs)
	}
}

func TestFaultKnobValidation(t *testing.T) {
	s := newSink(t, refsink.KindERP, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		knobs  refsink.Faults
		status int
	}{
		{"rate above 1", refsink.Faults{ErrorRate: 2}, 422},
		{"4xx as error status", refsink.Faults{ErrorRate: 0.1, ErrorStatus: 404}, 422},
		{"unknown resource", refsink.Faults{Resources: []string{"invoices"}}, 422},
		{"window without length", refsink.Faults{Outages: []refsink.Window{{After: refsink.Duration(time.Second)}}}, 422},
	} {
		var se *refsink.StatusError
		if err := s.client.SetFaults(ctx, tc.knobs); !errors.As(err, &se) || se.Status != tc.status {
			t.Errorf("%s: %v; want status %d", tc.name, err, tc.status)
		}
	}
	req, _ := http.NewRequest(http.MethodPut, s.url+"/_faults", bytes.NewReader([]byte(`{"errorRat":0.5}`)))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 400 {
		t.Errorf("unknown knob: %d; want 400", res.StatusCode)
	}
	if _, err := refsink.NewServer(refsink.Config{Kind: "crm", DataDir: t.TempDir(), Faults: refsink.Faults{DropAfterApplyRate: -1}}); err == nil {
		t.Error("NewServer accepted kind crm and a negative rate")
	}
}

func TestFaultsCountOnlyWhenFired(t *testing.T) {
	s := newSink(t, refsink.KindERP, func(c *refsink.Config) {
		c.Auth.BearerTokens = []string{"tok"}
		c.Faults = refsink.Faults{ErrorRate: 1}
	})
	// Refused before the fault could fire: not counted.
	wantStatus(t, s.post("/erp/v1/goods-movements", "c1", "application/json", gm(0)), 401)
	wantStatus(t, s.post("/erp/v1/goods-movements", "c1", "application/json", gm(0), "Authorization", "Bearer tok"), 500)
	if fs := s.faultStats(); fs.Errors != 1 || fs.Requests != 2 {
		t.Errorf("fault stats %+v; want 1 error of 2 requests", fs)
	}
}
