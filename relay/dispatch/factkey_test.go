package dispatch

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/wire"
	"github.com/draylink/dray/relay/relaylog"
	"github.com/draylink/dray/relay/route"
	"github.com/draylink/dray/testenv/refsink"
)

// The same business fact from two sources: the WMS database and an X12 214
// report one departure. The events have the same idempotencykey (the fact)
// and different ids (the sources), and their bodies differ (the 214 also
// names the stop's region). A sink with idempotency keys (the reference
// TMS, like real APIs) answers 422 for a key reused with another body.

// factSource is one of the two sources of a fact.
type factSource int

const (
	fromDB factSource = iota
	fromEDI
	// fromDBAgain: the database's row re-emitted under a new record
	// version (a new id), with the same content.
	fromDBAgain
)

// departure builds the departure of shipment k as reported by src. With
// otherPartition the event carries its own partition key (so it is
// delivered by another worker than its twin).
func departure(t testing.TB, site string, k int, src factSource, otherPartition bool) []byte {
	t.Helper()
	o := canonical.Origin{SiteID: site, Source: "urn:dray:" + site + ":wms-db", SourceSystem: "wms.db"}
	rec := canonical.Record{Key: "shipment_event/" + strconv.Itoa(k)}
	loc := &canonical.Address{City: "MEMPHIS", Country: "US"}
	if src == fromDBAgain {
		rec.Key += "/v2"
	}
	if src == fromEDI {
		o = canonical.Origin{SiteID: site, Source: "urn:dray:" + site + ":edi:XMPL", SourceSystem: "edi.x12.214"}
		rec = canonical.Record{Key: fmt.Sprintf("ISA13=%09d;GS06=1;ST02=0001", k)}
		loc = &canonical.Address{City: "MEMPHIS", Region: "TN", Country: "US"}
	}
	var opts []canonical.EventOption
	if otherPartition {
		opts = append(opts, canonical.WithPartitionKey(fmt.Sprintf("edi/%d", k)))
	}
	at := time.Date(2025, 3, 14, 20, 48, 0, 0, time.UTC).Add(time.Duration(k) * time.Hour)
	e, err := canonical.NewEvent(o, rec, at, &canonical.ShipmentStatusChanged{ShipmentId: fmt.Sprintf("SHP%05d", k),
		Milestone: canonical.Milestone_MILESTONE_DEPARTED_PICKUP, Status: canonical.ShipmentStatus_SHIPMENT_STATUS_IN_TRANSIT,
		StopSeq: 1, Carrier: &canonical.Carrier{Scac: "XMPL"}, Location: loc}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	b, err := canonical.MarshalBinary(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// appendEvents stores events as one batch of a spool stream of site.
func appendEvents(t testing.TB, l *relaylog.Log, site string, stream uint32, first uint64, evs [][]byte) {
	t.Helper()
	res, err := l.Append([]*relaylog.Incoming{{Site: site, Received: time.Now(),
		Header: wire.Header{Epoch: "e-" + site, Lane: canonical.LaneOperational, Stream: stream, First: first,
			Last: first + uint64(len(evs)) - 1}, Events: evs}})
	if err != nil || res[0].Outcome != relaylog.Stored {
		t.Fatalf("append: %+v %v", res, err)
	}
}

// milestoneRoute maps milestones onto the reference TMS.
var milestoneRoute = route.Config{Name: "milestones", Match: route.MatchConfig{Types: []string{"logistics.shipment.status_changed"}},
	Path: `"/tms/v1/shipments/\(.data.shipmentId | @uri)/milestones"`, DropNulls: true,
	Transform: `{code: .data.milestone, timestamp: .time, shipmentId: .data.shipmentId, stopSequence: .data.stopSeq,
 location: (.data.location | if . then {city, region, country} else null end)}`}

// refTMS runs the reference TMS in process.
func refTMS(t testing.TB) (url string, c *refsink.Client) {
	t.Helper()
	s, err := refsink.NewServer(refsink.Config{Kind: refsink.KindTMS, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	base, stop, err := s.StartLoopback(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })
	return base, refsink.NewClient(base)
}

// ledger returns the sink's records by outcome.
func ledger(t testing.TB, c *refsink.Client) map[refsink.Outcome][]refsink.Record {
	t.Helper()
	recs, err := c.Records(context.Background(), refsink.LedgerQuery{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[refsink.Outcome][]refsink.Record{}
	for _, r := range recs {
		out[r.Outcome] = append(out[r.Outcome], r)
	}
	return out
}

// TestSameFactTwoSources: shipments whose departure arrives from the WMS
// database and again from the X12 214 (right behind it, in another
// partition, or long after the first was delivered) are applied once each;
// the second report is neither sent (no 422 at the sink) nor
// dead-lettered, but counted: as a conflict (the 214's request differs)
// or, for a re-emitted row with the same content, as a duplicate; in
// single and batch mode.
func TestSameFactTwoSources(t *testing.T) {
	for _, batch := range []bool{false, true} {
		t.Run(fmt.Sprintf("batch=%v", batch), func(t *testing.T) {
			l := openLog(t)
			url, tms := refTMS(t)
			store := openDLQ(t)
			cfg := fastConfig()
			if batch {
				cfg.Batch = &BatchConfig{Path: "/tms/v1/batch", Format: route.BatchJSON, MaxEvents: 50}
				cfg.SetDefaults()
			}
			d, err := New(Options{Name: "tms", Config: cfg, Log: l, Routes: table(t, "tms", milestoneRoute),
				Sink: newSinkClient(t, url), DLQ: store, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			const n = 60
			// Shipments 0..n-1 from the database; the 214 right behind for
			// k%3 == 0 (same partition) and k%3 == 1 (its own partition).
			var first [][]byte
			for k := range n {
				first = append(first, departure(t, "MEM1", k, fromDB, false))
				switch k % 3 {
				case 0:
					first = append(first, departure(t, "MEM1", k, fromEDI, false))
				case 1:
					first = append(first, departure(t, "MEM1", k, fromEDI, true))
				}
				if k%10 == 0 {
					first = append(first, departure(t, "MEM1", k, fromDBAgain, false))
				}
			}
			appendEvents(t, l, "MEM1", 1, 1, first)
			stop := running(t, d)
			eventually(t, 30*time.Second, "every fact applied", func() bool { return len(ledger(t, tms)[refsink.OutcomeApplied]) >= n })
			// The 214 of the others long after: the database's was delivered.
			var late [][]byte
			for k := 2; k < n; k += 3 {
				late = append(late, departure(t, "MEM1", k, fromEDI, false))
			}
			appendEvents(t, l, "MEM1", 2, 1, late)
			last := l.LastSeq()
			eventually(t, 30*time.Second, "the cursor to pass the last event", func() bool { return cursorOf(t, l, "tms") == last+1 })
			stop()

			recs := ledger(t, tms)
			if len(recs[refsink.OutcomeApplied]) != n {
				t.Errorf("%d facts applied; want %d", len(recs[refsink.OutcomeApplied]), n)
			}
			keys := map[string]int{}
			for _, r := range recs[refsink.OutcomeApplied] {
				keys[r.Key]++
			}
			for k, c := range keys {
				if c != 1 {
					t.Errorf("key %s applied %d times", k, c)
				}
			}
			for _, o := range []refsink.Outcome{refsink.OutcomeConflict, refsink.OutcomeRejected} {
				if len(recs[o]) > 0 {
					t.Errorf("%d %s records at the sink, e.g. %+v", len(recs[o]), o, recs[o][0])
				}
			}
			dead, _, err := store.List("tms", "", 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(dead) > 0 {
				t.Errorf("%d dead letters, e.g. %+v", len(dead), dead[0])
			}
			st := d.Stats()
			if st.Delivered != n || st.FactConflicts != n || st.FactDuplicates != n/10 || st.DeadLettered != 0 ||
				st.LastFactSkip == nil || st.LastFactSkip.DeliveredBy == "" || st.FactRetention != relaylog.DefaultMarkRetention {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// crashingLog is a relay log on which cursor writes never reach the disk:
// what the dispatcher leaves is what a kill before each write leaves.
type crashingLog struct{ *relaylog.Log }

func (crashingLog) SetCursorMarks(string, uint64, []relaylog.Mark) error { return nil }

// TestSameFactAcrossRestart: the record of delivered facts is durable with
// the cursor. A dispatcher that delivered the database's reports and was
// killed before it wrote its cursor leaves no record and a cursor at the
// start: its successor sends those reports again (the same requests, which
// the sink's idempotency answers as replays) and skips the 214's. After a
// clean stop, the successor skips the 214's from the record.
func TestSameFactAcrossRestart(t *testing.T) {
	for _, killed := range []bool{true, false} {
		t.Run(fmt.Sprintf("killed=%v", killed), func(t *testing.T) {
			l := openLog(t)
			url, tms := refTMS(t)
			mk := func(lg Log) *Dispatcher {
				d, err := New(Options{Name: "tms", Config: fastConfig(), Log: lg, Routes: table(t, "tms", milestoneRoute),
					Sink: newSinkClient(t, url), DLQ: openDLQ(t), Logger: quiet})
				if err != nil {
					t.Fatal(err)
				}
				return d
			}
			const n = 30
			var db, edi [][]byte
			for k := range n {
				db = append(db, departure(t, "MEM1", k, fromDB, false))
				edi = append(edi, departure(t, "MEM1", k, fromEDI, k%2 == 0))
			}
			appendEvents(t, l, "MEM1", 1, 1, db)
			var first Log = l
			if killed {
				first = crashingLog{l}
			}
			d1 := mk(first)
			stop := running(t, d1)
			eventually(t, 30*time.Second, "the database's reports applied", func() bool { return len(ledger(t, tms)[refsink.OutcomeApplied]) == n })
			eventually(t, 30*time.Second, "every event finished", func() bool { return d1.Stats().Delivered == n })
			stop()
			wantCursor := uint64(n + 1)
			if killed {
				wantCursor = 1
			}
			if c := cursorOf(t, l, "tms"); c != wantCursor {
				t.Fatalf("cursor %d after the first dispatcher; want %d", c, wantCursor)
			}

			// The 214s arrive once the successor's filter of delivered
			// keys is loaded from the record, so that they meet it.
			d2 := mk(l)
			stop = running(t, d2)
			eventually(t, 10*time.Second, "the delivered-fact filter loaded", d2.filter.ready.Load)
			appendEvents(t, l, "MEM1", 2, 1, edi)
			eventually(t, 30*time.Second, "the cursor to pass the 214s", func() bool { return cursorOf(t, l, "tms") == 2*n+1 })
			stop()
			recs := ledger(t, tms)
			wantDups := 0
			if killed {
				wantDups = n
			}
			if len(recs[refsink.OutcomeApplied]) != n || len(recs[refsink.OutcomeDuplicate]) != wantDups ||
				len(recs[refsink.OutcomeConflict]) != 0 || len(recs[refsink.OutcomeRejected]) != 0 {
				t.Errorf("ledger: %d applied, %d duplicates (want %d), %d conflicts, %d rejected", len(recs[refsink.OutcomeApplied]),
					len(recs[refsink.OutcomeDuplicate]), wantDups, len(recs[refsink.OutcomeConflict]), len(recs[refsink.OutcomeRejected]))
			}
			st := d2.Stats()
			if st.FactConflicts != n || st.DeadLettered != 0 || st.Delivered != uint64(wantDups) {
				t.Errorf("second dispatcher: stats %+v", st)
			}
		})
	}
}

// TestRetractionReleasesFact: once a retraction of the event that delivered
// a fact has been delivered, a later event of the fact (the correction) is
// sent; without a retraction it is not.
func TestRetractionReleasesFact(t *testing.T) {
	l := openLog(t)
	f := newFakeSink(t)
	retractions := route.Config{Name: "retractions", Mode: route.ModeCloudEvents, Path: `"/retractions"`,
		Match: route.MatchConfig{Types: []string{"logistics.event.retracted"}}}
	d, err := New(Options{Name: "tms", Config: fastConfig(), Log: l, Routes: table(t, "tms", retractions, jqRoute),
		Sink: newSinkClient(t, f.srv.URL), DLQ: openDLQ(t), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	first, err := canonical.UnmarshalBinary(departure(t, "MEM1", 1, fromDB, false))
	if err != nil {
		t.Fatal(err)
	}
	o := canonical.Origin{SiteID: "MEM1", Source: "urn:dray:MEM1:wms-db", SourceSystem: "wms.db"}
	retr, err := canonical.NewEvent(o, canonical.Record{Key: "retraction/1"}, time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC),
		&canonical.EventRetracted{RetractedEventId: first.GetId(), Reason: "incorrect_data", RetractedSubject: first.GetSubject()})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := canonical.MarshalBinary(retr)
	if err != nil {
		t.Fatal(err)
	}
	appendEvents(t, l, "MEM1", 1, 1, [][]byte{
		departure(t, "MEM1", 1, fromDB, false), rb, departure(t, "MEM1", 1, fromEDI, false), // retracted, corrected
		departure(t, "MEM1", 2, fromDB, false), departure(t, "MEM1", 2, fromEDI, false), // reported twice
	})
	stop := running(t, d)
	eventually(t, 10*time.Second, "every event finished", func() bool { return cursorOf(t, l, "tms") == 6 })
	stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	if got := f.seen[first.GetIdempotencyKey()]; got != 2 {
		t.Errorf("the retracted fact's key was sent %d times; want 2 (the first report and the correction)", got)
	}
	st := d.Stats()
	if st.Delivered != 4 || st.FactDuplicates != 1 || st.FactConflicts != 0 { // the jq body has no location
		t.Errorf("stats %+v", st)
	}
}

// TestRedriveFactDelivered: the first report of a fact was refused (dead
// letter), the second source's was delivered; redriving the dead letter
// then sends nothing and removes it (outcome fact_delivered).
func TestRedriveFactDelivered(t *testing.T) {
	l := openLog(t)
	f := newFakeSink(t)
	f.fail = func(_, attempt int) int {
		if attempt == 1 {
			return 422
		}
		return 0
	}
	store := openDLQ(t)
	d, err := New(Options{Name: "tms", Config: fastConfig(), Log: l, Routes: table(t, "tms", jqRoute),
		Sink: newSinkClient(t, f.srv.URL), DLQ: store, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	appendEvents(t, l, "MEM1", 1, 1, [][]byte{departure(t, "MEM1", 1, fromDB, false), departure(t, "MEM1", 1, fromEDI, false)})
	stop := running(t, d)
	defer stop()
	eventually(t, 10*time.Second, "both events finished", func() bool { return cursorOf(t, l, "tms") == 3 })
	if st := d.Stats(); st.DeadLettered != 1 || st.Delivered != 1 {
		t.Fatalf("stats %+v", st)
	}
	dead, _, err := store.List("tms", "", 10)
	if err != nil || len(dead) != 1 {
		t.Fatalf("dead letters %+v, %v", dead, err)
	}
	f.mu.Lock()
	before := f.requests
	f.mu.Unlock()
	res, err := d.Redrive(context.Background(), dead[0].ID)
	if err != nil || res.Outcome != RedriveFactDelivered || !strings.Contains(res.Reason, "seq 2") {
		t.Fatalf("redrive: %+v, %v", res, err)
	}
	f.mu.Lock()
	after := f.requests
	f.mu.Unlock()
	if after != before {
		t.Errorf("redrive sent %d requests; want none", after-before)
	}
	if n := store.Count("tms"); n != 0 {
		t.Errorf("%d dead letters left", n)
	}
}

// TestUnreadableFactRecord: an event whose key has a record that cannot be
// decoded is sent (the sink's idempotency is the backstop), not stalled.
func TestUnreadableFactRecord(t *testing.T) {
	l := openLog(t)
	url, tms := refTMS(t)
	b := departure(t, "MEM1", 1, fromDB, false)
	ev, err := canonical.UnmarshalBinary(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.PutMarks(ConsumerName("tms"), []relaylog.Mark{{Name: factMarkPrefix + ev.GetIdempotencyKey(), Value: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	appendEvents(t, l, "MEM1", 1, 1, [][]byte{b})
	d, err := New(Options{Name: "tms", Config: fastConfig(), Log: l, Routes: table(t, "tms", milestoneRoute),
		Sink: newSinkClient(t, url), DLQ: openDLQ(t), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	stop := running(t, d)
	eventually(t, 10*time.Second, "the event finished", func() bool { return cursorOf(t, l, "tms") == 2 })
	stop()
	if n := len(ledger(t, tms)[refsink.OutcomeApplied]); n != 1 || d.Stats().Delivered != 1 {
		t.Errorf("%d applied, stats %+v", n, d.Stats())
	}
	// Its delivery wrote a good record over the bad one.
	if f, ok, err := d.delivered(ev.GetIdempotencyKey()); err != nil || !ok || f.EventID != ev.GetId() {
		t.Errorf("record after delivery: %+v %v %v", f, ok, err)
	}
}
