package relaylog

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/wire"
)

// eventTime is the occurrence time of test events.
var eventTime = time.Date(2025, 3, 14, 15, 42, 0, 0, time.FixedZone("CDT", -5*3600))

// newEvent builds a real, valid canonical event of site whose id derives
// from (site, source "test", key): the same key gives the same id. It is
// an inventory movement of about 1 KB, like the typical events the
// throughput targets are stated for.
func newEvent(tb testing.TB, site, key string) []byte {
	tb.Helper()
	b, err := buildEvent(site, key)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// receiptNote brings the test event to about 1 KB, like a WMS free-text
// receiving remark.
const receiptNote = "Received 24 cases on 1 pallet from ACME FOODS INC, trailer 531204, seal 7781204 intact. " +
	"Pallet re-wrapped at dock door 2 after the corner of the top tier was found crushed; 1 case of lot L2502C " +
	"moved to QA hold pending inspection, remaining cases counted and labelled with SSCC 006141410000043996. " +
	"Temperature log downloaded (2.8 C at arrival). Driver signed the exception on the BOL; photos attached " +
	"to ASN-5561 in the portal. Putaway to reserve location R-40-02-C requested for the next wave."

func buildEvent(site, key string) ([]byte, error) {
	loc := func(code string, typ canonical.LocationType) *canonical.Location {
		return &canonical.Location{SiteId: site, Code: code, Type: typ}
	}
	item := &canonical.ItemRef{OwnerId: "ACME", Sku: "AF-1002", Gtin: "10614141001023", Lot: "L2502C", ExpiryDate: "2026-02-28"}
	data := &canonical.InventoryMoved{Movement: &canonical.InventoryMovement{
		SourceKey: key, MovementType: canonical.MovementType_MOVEMENT_TYPE_RECEIPT, Item: item,
		From: loc("DOCK-IN-02", canonical.LocationType_LOCATION_TYPE_DOCK), To: loc("RECV-STAGE-01", canonical.LocationType_LOCATION_TYPE_STAGING),
		Quantity: canonical.Qty("288", "EA"), ReceivedQuantity: canonical.Qty("24", "XCS"),
		ToStatus: canonical.InventoryStatus_INVENTORY_STATUS_PENDING_PUTAWAY,
		Sscc:     "006141410000043996", Reference: "ASN-5561", UserId: "rkhan", Note: receiptNote,
	}}
	o := canonical.Origin{SiteID: site, Source: "urn:dray:" + site + ":wms-db", SourceSystem: "wms.db"}
	e, err := canonical.NewEvent(o, canonical.Record{Key: key, Ref: "movement " + key}, eventTime, data,
		canonical.WithCorrelation("order:ACME:SO-778812"), canonical.WithRecordedTime(eventTime),
		canonical.WithTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
	if err != nil {
		return nil, fmt.Errorf("new event %s/%s: %w", site, key, err)
	}
	return canonical.MarshalBinary(e)
}

// eventCache memoises events: building one costs ~20 µs.
var eventCache sync.Map

func cachedEvent(tb testing.TB, site, key string) []byte {
	k := site + "\x00" + key
	if b, ok := eventCache.Load(k); ok {
		return b.([]byte)
	}
	b := newEvent(tb, site, key)
	eventCache.Store(k, b)
	return b
}

// idOf returns an event's id.
func idOf(tb testing.TB, event []byte) string {
	tb.Helper()
	id, err := canonical.PeekIdentity(event)
	if err != nil {
		tb.Fatal(err)
	}
	return id.ID
}

// batch makes an Incoming of site for stream (epoch, lane, stream) with
// events first..first+len(keys)-1, the events built from keys.
func batch(tb testing.TB, site, epoch string, lane canonical.Lane, stream uint32, first uint64, keys ...string) *Incoming {
	tb.Helper()
	in := &Incoming{Site: site, Header: wire.Header{Epoch: epoch, Lane: lane, Stream: stream, First: first,
		Last: first + uint64(len(keys)) - 1}}
	for _, k := range keys {
		in.Events = append(in.Events, cachedEvent(tb, site, k))
	}
	return in
}

// keys returns "<prefix>-<i>" for i in from..to.
func keys(prefix string, from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("%s-%d", prefix, i))
	}
	return out
}

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testLogger writes the log's lines to the test log.
func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

var discardLogger = slog.New(slog.DiscardHandler)

// openTest opens a log in dir (a new temporary directory when "") with
// the background retention pass off; it is closed at cleanup.
func openTest(tb testing.TB, opts Options) *Log {
	tb.Helper()
	if opts.Dir == "" {
		opts.Dir = tb.TempDir()
	}
	if opts.RetentionInterval == 0 {
		opts.RetentionInterval = -1
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(tb)
	}
	l, err := Open(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := l.Close(); err != nil {
			tb.Error(err)
		}
	})
	return l
}

// readAll reads the whole retained log.
func readAll(tb testing.TB, l *Log) []Entry {
	tb.Helper()
	var out []Entry
	next := uint64(0)
	for {
		n := len(out)
		var err error
		out, err = l.Read(next, 1000, out)
		if err != nil {
			tb.Fatal(err)
		}
		if len(out) == n {
			return out
		}
		next = out[len(out)-1].Seq + 1
	}
}

// ids returns the ids of entries.
func ids(tb testing.TB, entries []Entry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = idOf(tb, e.Event)
	}
	return out
}

func TestEventSize(t *testing.T) {
	b := newEvent(t, "MEM1", "k-1")
	if len(b) < 400 || len(b) > 2000 {
		t.Errorf("test event is %d bytes; want about 1 KB", len(b))
	}
	t.Logf("test event: %d bytes", len(b))
}
