package dispatch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/configfile"
	"github.com/draylink/dray/internal/wire"
	"github.com/draylink/dray/relay/relaylog"
	"github.com/draylink/dray/relay/route"
)

// moveNote brings a bench event to about 1 KB, like the synthetic source's.
var moveNote = strings.Repeat("x", 700)

// fillMoves appends n ~1 KB inventory moves over 1,000 items.
func fillMoves(b *testing.B, l *relaylog.Log, n int) {
	b.Helper()
	o := canonical.Origin{SiteID: "MEM1", Source: "urn:dray:MEM1:wms", SourceSystem: "wms.db"}
	for lo := 1; lo <= n; lo += 1000 {
		hi := min(lo+999, n)
		var evs [][]byte
		for i := lo; i <= hi; i++ {
			e, err := canonical.NewEvent(o, canonical.Record{Key: fmt.Sprint(i)}, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Minute),
				&canonical.InventoryMoved{Movement: &canonical.InventoryMovement{SourceKey: fmt.Sprint(i), MovementType: canonical.MovementType_MOVEMENT_TYPE_TRANSFER,
					Item: &canonical.ItemRef{Sku: fmt.Sprintf("SKU-%04d", i%1000)}, From: &canonical.Location{SiteId: "MEM1", Code: "A-1"},
					To: &canonical.Location{SiteId: "MEM1", Code: "B-2"}, Quantity: canonical.Qty("1", "EA"), Note: moveNote}})
			if err != nil {
				b.Fatal(err)
			}
			bin, _ := canonical.MarshalBinary(e)
			evs = append(evs, bin)
		}
		if _, err := l.Append([]*relaylog.Incoming{{Site: "MEM1", Received: time.Now(),
			Header: wire.Header{Epoch: "e", Lane: canonical.LaneOperational, Stream: 1, First: uint64(lo), Last: uint64(hi)}, Events: evs}}); err != nil {
			b.Fatal(err)
		}
	}
}

// noopSink answers 201, or for a batch one 201 per sub-request.
type noopSink struct{ events atomic.Int64 }

func (s *noopSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.URL.Path != "/batch" {
		s.events.Add(1)
		w.WriteHeader(201)
		return
	}
	var out bytes.Buffer
	if bytes.HasPrefix(body, []byte("[")) { // a CloudEvents batch
		var evs []json.RawMessage
		_ = json.Unmarshal(body, &evs)
		out.WriteString(`{"results":[`)
		for i := range evs {
			if i > 0 {
				out.WriteByte(',')
			}
			out.WriteString(`{"status":201}`)
		}
		out.WriteString(`]}`)
		s.events.Add(int64(len(evs)))
		_, _ = w.Write(out.Bytes())
		return
	}
	var req struct {
		Requests []json.RawMessage `json:"requests"`
	}
	_ = json.Unmarshal(body, &req)
	out.WriteString(`{"responses":[`)
	for i := range req.Requests {
		if i > 0 {
			out.WriteByte(',')
		}
		fmt.Fprintf(&out, `{"id":"%d","status":201}`, i+1)
	}
	out.WriteString(`]}`)
	s.events.Add(int64(len(req.Requests)))
	_, _ = w.Write(out.Bytes())
}

var goodsMovement = route.Config{Name: "moves", Match: route.MatchConfig{Types: []string{"logistics.inventory.moved"}},
	Path: `"/erp/v1/goods-movements"`, DropNulls: true,
	Transform: `.data.movement as $m
| {movementType: ({transfer: "311", receipt: "101"}[$m.movementType] // "999"), material: $m.item.sku, plant: .siteid,
   storageLocation: $m.from.code, toStorageLocation: $m.to.code, batch: $m.item.lot,
   quantity: $m.quantity.value, unit: $m.quantity.uom, occurredAt: .time, reference: $m.sourceKey}`}

// BenchmarkDispatch is the relay's side of delivery alone, in one process:
// b.N events in the relay log, one dispatcher, the jq goods-movement route,
// an HTTP sink that does nothing (net/http, answers 201). It reports
// events/s and the process's CPU per event (dispatcher, HTTP client and the
// no-op server together; the server's share is the net/http floor).
//
//	go test ./relay/dispatch/ -run '^$' -bench Dispatch -benchtime 50000x -count 3
func BenchmarkDispatch(b *testing.B) {
	for _, bc := range []struct {
		name   string
		format string // batch format, "" for one request per event
		ce     bool
	}{
		{"single-jq", "", false},
		{"batch-json-batch", route.BatchJSON, false},
		{"batch-jq-body", route.BatchJQ, false},
		{"single-cloudevents", "", true},
		{"batch-cloudevents", route.BatchCloudEvents, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			l := openLog(b)
			fillMoves(b, l, b.N)
			ns := &noopSink{}
			srv := httptest.NewServer(ns)
			defer srv.Close()
			cfg := Config{Workers: 32}
			rc := goodsMovement
			if bc.ce {
				rc.Mode, rc.Transform, rc.DropNulls = route.ModeCloudEvents, "", false
			}
			if bc.format != "" {
				cfg.Workers = 8
				cfg.Batch = &BatchConfig{Path: "/batch", Format: bc.format, MaxEvents: 100, MaxWait: configfile.Duration(5 * time.Millisecond)}
				switch bc.format {
				case route.BatchJQ:
					cfg.Batch.Body = `{requests: [to_entries[] | {id: (.key + 1 | tostring), method: .value.method, url: .value.path, headers: .value.headers, body: .value.body}]}`
					cfg.Batch.Results = `[.responses[] | .status]`
				case route.BatchCloudEvents:
					cfg.Batch.Results = `[.results[] | .status]`
				}
			}
			cfg.SetDefaults()
			d, err := New(Options{Name: "erp", Config: cfg, Log: l, Routes: table(b, "erp", rc), Sink: newSinkClient(b, srv.URL), DLQ: openDLQ(b), Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			var ru0, ru1 syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			b.ResetTimer()
			start := time.Now()
			stop := running(b, d)
			for ns.events.Load() < int64(b.N) {
				time.Sleep(2 * time.Millisecond)
			}
			el := time.Since(start)
			b.StopTimer()
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			stop()
			cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) / time.Duration(b.N)
			b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/1e3, "cpu-µs/event")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// latencySink records when each event's request arrived (by ce-id, from
// the header or from JSON batch sub-requests) and answers 201s.
type latencySink struct {
	mu      sync.Mutex
	arrived map[string]time.Time
}

func (s *latencySink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	body, _ := io.ReadAll(r.Body)
	var ids []string
	if id := r.Header.Get("Ce-Id"); id != "" {
		ids = append(ids, id)
	} else {
		var req struct {
			Requests []struct {
				Headers map[string]string `json:"headers"`
			} `json:"requests"`
		}
		_ = json.Unmarshal(body, &req)
		for _, sr := range req.Requests {
			ids = append(ids, sr.Headers["Ce-Id"])
		}
	}
	s.mu.Lock()
	for _, id := range ids {
		if _, ok := s.arrived[id]; !ok {
			s.arrived[id] = now
		}
	}
	s.mu.Unlock()
	if r.Header.Get("Ce-Id") != "" {
		w.WriteHeader(201)
		return
	}
	var out bytes.Buffer
	out.WriteString(`{"responses":[`)
	for i := range ids {
		if i > 0 {
			out.WriteByte(',')
		}
		fmt.Fprintf(&out, `{"id":"%d","status":201}`, i+1)
	}
	out.WriteString(`]}`)
	_, _ = w.Write(out.Bytes())
}

// BenchmarkDispatchLatency is the delay the relay adds: events are
// appended to the relay log at 1,000 per second (10 every 10 ms, each
// append fsynced), one dispatcher delivers them through the jq route to a
// sink that only notes arrival times; the figure is, per event, the time
// from its Append returning (durable) to its request reaching the sink.
//
//	go test ./relay/dispatch/ -run '^$' -bench DispatchLatency -benchtime 10000x -count 3
func BenchmarkDispatchLatency(b *testing.B) {
	for _, batch := range []bool{false, true} {
		name := "single"
		if batch {
			name = "json-batch"
		}
		b.Run(name, func(b *testing.B) {
			l := openLog(b)
			ls := &latencySink{arrived: map[string]time.Time{}}
			srv := httptest.NewServer(ls)
			defer srv.Close()
			cfg := Config{Workers: 16}
			if batch {
				cfg.Workers = 8
				cfg.Batch = &BatchConfig{Path: "/batch", Format: route.BatchJSON, MaxEvents: 100, MaxWait: configfile.Duration(5 * time.Millisecond)}
			}
			cfg.SetDefaults()
			d, err := New(Options{Name: "erp", Config: cfg, Log: l, Routes: table(b, "erp", goodsMovement), Sink: newSinkClient(b, srv.URL), DLQ: openDLQ(b), Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			stop := running(b, d)
			defer stop()
			// Events are built before the clock starts.
			o := canonical.Origin{SiteID: "MEM1", Source: "urn:dray:MEM1:wms", SourceSystem: "wms.db"}
			evs := make([][]byte, b.N)
			ids := make([]string, b.N)
			for i := range evs {
				e, err := canonical.NewEvent(o, canonical.Record{Key: fmt.Sprint("lat", i)}, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Minute),
					&canonical.InventoryMoved{Movement: &canonical.InventoryMovement{SourceKey: fmt.Sprint(i), MovementType: canonical.MovementType_MOVEMENT_TYPE_TRANSFER,
						Item: &canonical.ItemRef{Sku: fmt.Sprintf("SKU-%04d", i%1000)}, From: &canonical.Location{SiteId: "MEM1", Code: "A-1"},
						To: &canonical.Location{SiteId: "MEM1", Code: "B-2"}, Quantity: canonical.Qty("1", "EA"), Note: moveNote}})
				if err != nil {
					b.Fatal(err)
				}
				evs[i], _ = canonical.MarshalBinary(e)
				ids[i] = e.GetId()
			}
			appended := make([]time.Time, b.N)
			b.ResetTimer()
			tick := time.NewTicker(10 * time.Millisecond)
			for lo := 0; lo < b.N; lo += 10 {
				<-tick.C
				hi := min(lo+10, b.N)
				if _, err := l.Append([]*relaylog.Incoming{{Site: "MEM1", Received: time.Now(),
					Header: wire.Header{Epoch: "e", Lane: canonical.LaneOperational, Stream: 1, First: uint64(lo + 1), Last: uint64(hi)}, Events: evs[lo:hi]}}); err != nil {
					b.Fatal(err)
				}
				now := time.Now()
				for i := lo; i < hi; i++ {
					appended[i] = now
				}
			}
			tick.Stop()
			deadline := time.Now().Add(time.Minute)
			for {
				ls.mu.Lock()
				n := len(ls.arrived)
				ls.mu.Unlock()
				if n >= b.N || time.Now().After(deadline) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			b.StopTimer()
			ls.mu.Lock()
			var delays []time.Duration
			for i, id := range ids {
				if t, ok := ls.arrived[id]; ok {
					delays = append(delays, max(0, t.Sub(appended[i])))
				}
			}
			ls.mu.Unlock()
			if len(delays) != b.N {
				b.Fatalf("%d of %d events arrived", len(delays), b.N)
			}
			slices.Sort(delays)
			b.ReportMetric(float64(delays[len(delays)/2].Microseconds())/1e3, "p50-ms")
			b.ReportMetric(float64(delays[len(delays)*99/100].Microseconds())/1e3, "p99-ms")
			b.ReportMetric(float64(delays[len(delays)-1].Microseconds())/1e3, "max-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}
