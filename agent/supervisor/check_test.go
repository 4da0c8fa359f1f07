package supervisor

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/draylink/dray/agent/spool"
	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/pluginhost"
	"github.com/draylink/dray/plugins/sdk"
)

func testEvent(t testing.TB, site, key string, data canonical.Data) *canonical.Event {
	t.Helper()
	ev, err := canonical.NewEvent(canonical.Origin{SiteID: site, Source: "urn:dray:" + site + ":test", SourceSystem: "test"},
		canonical.Record{Key: key, Ref: "f.jsonl:" + key}, time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC), data)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func counted(key string) canonical.Data {
	return &canonical.InventoryCounted{SourceKey: key, Location: &canonical.Location{SiteId: "MEM1", Code: "A-1"},
		Item: &canonical.ItemRef{Sku: "SKU-" + key}, Counted: canonical.Qty("3", "EA")}
}

func moved(key string) canonical.Data {
	return &canonical.InventoryMoved{Movement: &canonical.InventoryMovement{SourceKey: key,
		MovementType: canonical.MovementType_MOVEMENT_TYPE_TRANSFER, Item: &canonical.ItemRef{Sku: "SKU-" + key},
		From: &canonical.Location{SiteId: "MEM1", Code: "A-1"}, To: &canonical.Location{SiteId: "MEM1", Code: "B-1"},
		Quantity: canonical.Qty("1", "EA")}}
}

func encode(t testing.TB, ev *canonical.Event) []byte {
	t.Helper()
	b, err := canonical.MarshalBinary(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testSupervisor(t testing.TB, types ...string) (*Supervisor, *run) {
	t.Helper()
	s, err := New(Config{Name: "counts", Site: "MEM1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &run{info: sdk.Info{Name: "test", EventTypes: types}, types: map[string]bool{}}
	for _, ty := range types {
		r.types[ty] = true
	}
	return s, r
}

// The agent checks every event again and refuses, into quarantine, what the
// SDK should have caught or a plugin not built on it sends.
func TestCheckRefusesWhatAPluginShouldNotSend(t *testing.T) {
	s, r := testSupervisor(t, "logistics.inventory.counted", "logistics.inventory.moved")
	good := testEvent(t, "MEM1", "1", counted("1"))
	bulkless := testEvent(t, "MEM1", "2", moved("2"))
	invalid := testEvent(t, "MEM1", "3", counted("3"))
	invalid.GetInventoryCounted().Counted = canonical.Qty("-3", "EA")
	invalid.GetInventoryCounted().Item.Sku = ""
	foreign := testEvent(t, "DAL2", "4", counted("4"))
	foreign.GetInventoryCounted().Location.SiteId = "DAL2"
	undeclared := testEvent(t, "MEM1", "5", &canonical.InventoryStatusChanged{SourceKey: "5",
		Location: &canonical.Location{SiteId: "MEM1", Code: "A-1"}, Item: &canonical.ItemRef{Sku: "S"},
		Quantity: canonical.Qty("1", "EA"), FromStatus: canonical.InventoryStatus_INVENTORY_STATUS_AVAILABLE,
		ToStatus: canonical.InventoryStatus_INVENTORY_STATUS_DAMAGED})
	events := [][]byte{encode(t, good), encode(t, invalid), encode(t, foreign), []byte("\xff\xff not protobuf"), encode(t, undeclared), encode(t, bulkless)}
	rejects := []sdk.Reject{
		{Code: "json_syntax", Reason: "column 3: unexpected end", Ref: "f.jsonl:9:3", Payload: []byte("{")},
		{Reason: "no code given", Ref: "f.jsonl:10"},
		{Code: pluginhost.RejectUndecodable, Reason: "no id", Ref: "batch/1/event/0", Payload: []byte{1}},
	}
	entries, q := s.check(r, events, rejects, "batch/1")

	if len(entries) != 2 || string(entries[0].Event) != string(events[0]) || string(entries[1].Event) != string(events[5]) {
		t.Fatalf("kept %d entries; want the good count and the move", len(entries))
	}
	if entries[0].Lane != canonical.LaneOf("logistics.inventory.counted") || entries[1].Lane != canonical.LaneOf("logistics.inventory.moved") {
		t.Errorf("lanes %v, %v", entries[0].Lane, entries[1].Lane)
	}
	want := []struct{ code, origin, ref, reason string }{
		{"json_syntax", spool.OriginConnector, "f.jsonl:9:3", "unexpected end"},
		{RejectNoCode, spool.OriginConnector, "f.jsonl:10", "no code given"},
		{pluginhost.RejectUndecodable, spool.OriginAgent, "batch/1/event/0", "no id"},
		{RejectInvalidEvent, spool.OriginAgent, "f.jsonl:3", "data.item.sku"},
		{RejectForeignSite, spool.OriginAgent, "f.jsonl:4", `site "DAL2"`},
		{RejectUndecodable, spool.OriginAgent, "batch/1/event/3", "does not decode"},
		{RejectUndeclaredType, spool.OriginAgent, "f.jsonl:5", "logistics.inventory.status_changed"},
	}
	if len(q) != len(want) {
		t.Fatalf("%d quarantine records %+v; want %d", len(q), q, len(want))
	}
	for i, w := range want {
		if q[i].Code != w.code || q[i].Origin != w.origin || q[i].Ref != w.ref || !strings.Contains(q[i].Reason, w.reason) {
			t.Errorf("record %d: %+v; want code %s origin %s ref %s reason containing %q", i, q[i], w.code, w.origin, w.ref, w.reason)
		}
	}
	if !strings.Contains(q[3].Reason, "(negative)") || !strings.Contains(q[3].Reason, "(required)") {
		t.Errorf("the reason does not list every problem with its code: %s", q[3].Reason)
	}
	var js map[string]any
	if err := json.Unmarshal(q[3].Payload, &js); err != nil || js["id"] != invalid.GetId() {
		t.Errorf("an invalid event's payload is not the event as JSON: %s (%v)", q[3].Payload, err)
	}
	if string(q[5].Payload) != string(events[3]) {
		t.Errorf("an undecodable event's payload is not its bytes")
	}
}

// Large batches are checked on every core; the order holds.
func TestCheckKeepsOrderInLargeBatches(t *testing.T) {
	s, r := testSupervisor(t, "logistics.inventory.counted")
	var events [][]byte
	for i := range 1000 {
		ev := testEvent(t, "MEM1", fmt.Sprint(i), counted(fmt.Sprint(i)))
		if i%97 == 0 {
			ev.SiteId = "OTHER"
		}
		events = append(events, encode(t, ev))
	}
	entries, q := s.check(r, events, nil, "batch/1")
	if len(entries) != 1000-11 || len(q) != 11 {
		t.Fatalf("%d entries, %d quarantined; want 989, 11", len(entries), len(q))
	}
	j := 0
	for i := range events {
		if i%97 == 0 {
			continue
		}
		if string(entries[j].Event) != string(events[i]) {
			t.Fatalf("entry %d is not event %d", j, i)
		}
		j++
	}
}

func TestCursorText(t *testing.T) {
	for in, want := range map[string]string{"": "", `{"file":"a","offset":3}`: `{"file":"a","offset":3}`, "\x00\x01": "hex:0001", "a\nb": "hex:610a62"} {
		if got := CursorText([]byte(in)); got != want {
			t.Errorf("CursorText(%q) = %q; want %q", in, got, want)
		}
	}
}
