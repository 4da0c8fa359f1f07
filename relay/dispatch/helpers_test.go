package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/configfile"
	"github.com/draylink/dray/internal/wire"
	"github.com/draylink/dray/relay/dlq"
	"github.com/draylink/dray/relay/relaylog"
	"github.com/draylink/dray/relay/route"
	"github.com/draylink/dray/relay/sink"
)

var quiet = slog.New(slog.DiscardHandler)

func openLog(t testing.TB) *relaylog.Log {
	t.Helper()
	l, err := relaylog.Open(relaylog.Options{Dir: t.TempDir(), RetentionInterval: -1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func openDLQ(t testing.TB) *dlq.Store {
	t.Helper()
	s, err := dlq.Open(dlq.Options{Dir: t.TempDir(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// milestone builds event n of a feed: a milestone of shipment SHP<n%keys>,
// with the feed index n in its reason code so a sink can check order.
func milestone(t testing.TB, site string, n, keys int) []byte {
	t.Helper()
	o := canonical.Origin{SiteID: site, Source: "urn:dray:" + site + ":edi:XMPL", SourceSystem: "edi.x12.214"}
	ship := fmt.Sprintf("%s-SHP%04d", site, n%keys)
	e, err := canonical.NewEvent(o, canonical.Record{Key: strconv.Itoa(n)}, time.Date(2025, 3, 14, 20, 48, 0, 0, time.UTC).Add(time.Duration(n)*time.Minute),
		&canonical.ShipmentStatusChanged{ShipmentId: ship, Milestone: canonical.Milestone_MILESTONE_DEPARTED_PICKUP,
			Status: canonical.ShipmentStatus_SHIPMENT_STATUS_IN_TRANSIT, StopSeq: 1, ReasonCode: strconv.Itoa(n),
			Carrier: &canonical.Carrier{Scac: "XMPL"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := canonical.MarshalBinary(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// feed appends events first..last (milestones over keys shipments) to the
// log in batches of 100, one spool stream.
func feed(t testing.TB, l *relaylog.Log, site string, first, last, keys int) {
	t.Helper()
	for lo := first; lo <= last; lo += 100 {
		hi := min(lo+99, last)
		var evs [][]byte
		for n := lo; n <= hi; n++ {
			evs = append(evs, milestone(t, site, n, keys))
		}
		res, err := l.Append([]*relaylog.Incoming{{Site: site, Received: time.Now(),
			Header: wire.Header{Epoch: "e-" + site, Lane: canonical.LaneOperational, Stream: 1, First: uint64(lo), Last: uint64(hi)}, Events: evs}})
		if err != nil || res[0].Outcome != relaylog.Stored {
			t.Fatalf("append %d..%d: %+v %v", lo, hi, res, err)
		}
	}
}

// fakeSink is an idempotent HTTP sink: it applies each Idempotency-Key
// once (later requests with the key get 200 again, like a replayed
// response), and records per shipment the feed indexes in apply order.
type fakeSink struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	applied  map[string]int   // Idempotency-Key -> applications
	seen     map[string]int   // Idempotency-Key -> requests
	order    map[string][]int // shipment -> feed indexes in apply order
	requests int
	batches  int
	// fail, if set, may answer instead of applying (status != 0).
	fail func(n int, attempt int) int
}

func newFakeSink(t testing.TB) *fakeSink {
	f := &fakeSink{t: t, applied: map[string]int{}, seen: map[string]int{}, order: map[string][]int{}}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

type ceMilestone struct {
	IdempotencyKey string `json:"idempotencykey"`
	Data           struct {
		ShipmentID string `json:"shipmentId"`
		ReasonCode string `json:"reasonCode"`
	} `json:"data"`
}

// apply handles one event (cloudevents structured JSON, or the jq body
// {shipment, n}); it returns the status.
func (f *fakeSink) apply(key string, body []byte) int {
	var m struct {
		ceMilestone
		Shipment string `json:"shipment"`
		N        string `json:"n"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return 400
	}
	ship, ns := m.Data.ShipmentID, m.Data.ReasonCode
	if ship == "" {
		ship, ns = m.Shipment, m.N
	}
	if key == "" {
		key = m.IdempotencyKey
	}
	n, _ := strconv.Atoi(ns)
	f.mu.Lock()
	f.seen[key]++
	attempt, fail := f.seen[key], f.fail
	f.mu.Unlock()
	if fail != nil {
		if st := fail(n, attempt); st != 0 {
			return st
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.applied[key] > 0 {
		return 200 // a replayed response: applied once only
	}
	f.order[ship] = append(f.order[ship], n)
	f.applied[key]++
	return 201
}

func (f *fakeSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests++
	f.mu.Unlock()
	if r.URL.Path == "/batch" {
		f.mu.Lock()
		f.batches++
		f.mu.Unlock()
		var items []json.RawMessage
		if err := json.Unmarshal(body, &items); err != nil {
			w.WriteHeader(400)
			return
		}
		var out struct {
			Results []map[string]int `json:"results"`
		}
		for _, it := range items {
			out.Results = append(out.Results, map[string]int{"status": f.apply("", it)})
		}
		_ = json.NewEncoder(w).Encode(out)
		return
	}
	st := f.apply(r.Header.Get("Idempotency-Key"), body)
	if st == 503 {
		w.Header().Set("Retry-After", "0")
	}
	w.WriteHeader(st)
	if st == 422 {
		_, _ = w.Write([]byte(`{"title":"invalid milestone","errors":[{"pointer":"/code"}]}`))
	}
}

// check verifies that events first..last were each applied exactly once,
// in feed order per shipment, and nothing else.
func (f *fakeSink) check(first, last, keys int, skip func(n int) bool) {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	count := 0
	for ship, ns := range f.order {
		for i := 1; i < len(ns); i++ {
			if ns[i] <= ns[i-1] {
				f.t.Errorf("shipment %s: event %d applied after event %d", ship, ns[i], ns[i-1])
			}
		}
		count += len(ns)
	}
	want := 0
	for n := first; n <= last; n++ {
		if skip == nil || !skip(n) {
			want++
		}
	}
	if count != want {
		f.t.Errorf("%d events applied; want %d", count, want)
	}
	for k, c := range f.applied {
		if c != 1 {
			f.t.Errorf("key %s applied %d times", k, c)
		}
	}
}

func (f *fakeSink) appliedCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, ns := range f.order {
		n += len(ns)
	}
	return n
}

func table(t testing.TB, sinkName string, cfgs ...route.Config) *route.Table {
	t.Helper()
	var errs configfile.Errors
	tab := &route.Table{Sink: sinkName}
	for i, c := range cfgs {
		c.Sink = sinkName
		tab.Routes = append(tab.Routes, route.Compile(fmt.Sprintf("routes[%d]", i), c, &errs))
	}
	if err := errs.Err(); err != nil {
		t.Fatal(err)
	}
	return tab
}

var ceRoute = route.Config{Name: "ce", Mode: route.ModeCloudEvents, Path: `"/events"`}

var jqRoute = route.Config{Name: "jq", Path: `"/shipments/\(.data.shipmentId)/milestones"`,
	Transform: `{shipment: .data.shipmentId, n: .data.reasonCode, code: .data.milestone}`}

func newSinkClient(t testing.TB, url string) *sink.Sink {
	t.Helper()
	c := sink.Config{Name: "s", URL: url, Breaker: sink.BreakerConfig{Failures: -1}}
	c.SetDefaults()
	s, err := sink.New(c, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func fastConfig() Config {
	c := Config{Workers: 8, CursorInterval: configfile.Duration(20 * time.Millisecond),
		Retry: RetryConfig{Initial: configfile.Duration(time.Millisecond), Max: configfile.Duration(20 * time.Millisecond)}}
	c.SetDefaults()
	return c
}

// running starts a dispatcher and returns a stop function that stops it
// and waits for Run to return.
func running(t testing.TB, d *Dispatcher) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Run did not return within 20s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func cursorOf(t testing.TB, l *relaylog.Log, sinkName string) uint64 {
	t.Helper()
	c, err := l.Cursor(ConsumerName(sinkName))
	if errors.Is(err, relaylog.ErrUnknownConsumer) {
		return 0 // not registered yet
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}
