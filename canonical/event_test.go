package canonical_test

import (
	"testing"
	"time"

	. "github.com/draylink/dray/canonical"
	"github.com/google/uuid"
)

func TestEventIDIsDeterministicUUIDv5(t *testing.T) {
	a := EventID("MEM1", "urn:dray:MEM1:wms-db", "movement/884101", "5510931")
	if a != EventID("MEM1", "urn:dray:MEM1:wms-db", "movement/884101", "5510931") {
		t.Fatal("same input, different id")
	}
	u, err := uuid.Parse(a)
	if err != nil || u.Version() != 5 || u.String() != a {
		t.Fatalf("id %s is not a lower-case UUIDv5", a)
	}
	others := []string{
		EventID("MEM2", "urn:dray:MEM1:wms-db", "movement/884101", "5510931"),
		EventID("MEM1", "urn:dray:MEM1:wms-db", "movement/884101", "5510932"),
		EventID("MEM1", "urn:dray:MEM1:wms-db", "movement/884102", "5510931"),
		EventID("MEM1", "urn:dray:MEM1:csv", "movement/884101", "5510931"),
		// Ambiguous concatenations must not collide.
		EventID("MEM1", "urn:dray:MEM1:wms-db", "movement/884101|5510931", ""),
		EventID("MEM1", "urn:dray:MEM1:wms-db", "movement/884101", "|5510931"),
	}
	seen := map[string]bool{a: true}
	for _, o := range others {
		if seen[o] {
			t.Errorf("id collision: %s", o)
		}
		seen[o] = true
	}
}

// TestIdentityPinned pins the identifier derivation: changing it would break
// exactly-once across an upgrade (a re-read record would get a new id).
func TestIdentityPinned(t *testing.T) {
	got := EventID("MEM1", "urn:dray:MEM1:wms-db", "movement/884101", "5510931")
	if want := uuid.NewSHA1(NamespaceEventID, []byte("4:MEM120:urn:dray:MEM1:wms-db15:movement/8841017:5510931")).String(); got != want {
		t.Fatalf("EventID = %s; want %s (length-prefixed parts)", got, want)
	}
	if NamespaceEventID.String() != "6f1c9e1a-4d1b-5c36-9a0e-2b7d8f3c4a10" || NamespaceFact.String() != "a3e5d0b2-7c41-5f88-8b19-5e0c6d2f7a93" {
		t.Fatal("namespaces changed")
	}
}

// TestSameFactFromTwoSources: the departure reported by the WMS and by the
// carrier's 214 has two ids and one idempotency key.
func TestSameFactFromTwoSources(t *testing.T) {
	departed := func() *ShipmentStatusChanged {
		return &ShipmentStatusChanged{ShipmentId: "SHP25031407", Milestone: Milestone_MILESTONE_DEPARTED_PICKUP,
			Status: ShipmentStatus_SHIPMENT_STATUS_IN_TRANSIT}
	}
	fromEDI, err := NewEvent(edi, Record{Key: "ISA13=000007731;GS06=7731;ST02=0002"}, local("2025-03-14 15:48:00"), departed())
	if err != nil {
		t.Fatal(err)
	}
	// The WMS records the gate-out 37 seconds into the same minute.
	fromDB, err := NewEvent(wms, Record{Key: "gate/88231", Version: "2"}, local("2025-03-14 15:48:37"), departed())
	if err != nil {
		t.Fatal(err)
	}
	if fromEDI.GetId() == fromDB.GetId() {
		t.Error("two sources, one id")
	}
	if fromEDI.GetIdempotencyKey() != fromDB.GetIdempotencyKey() {
		t.Error("the same fact got two idempotency keys")
	}
	want := IdempotencyKey("MEM1", "shipment/SHP25031407", "departed_pickup", "2025-03-14T20:48Z")
	if fromEDI.GetIdempotencyKey() != want {
		t.Errorf("key = %s; want the key of MEM1|shipment/SHP25031407|departed_pickup|2025-03-14T20:48Z", fromEDI.GetIdempotencyKey())
	}
	// A re-polled row: same id and key. A different fact: different key.
	again, _ := NewEvent(wms, Record{Key: "gate/88231", Version: "2"}, local("2025-03-14 15:48:37"), departed())
	if again.GetId() != fromDB.GetId() || again.GetIdempotencyKey() != fromDB.GetIdempotencyKey() {
		t.Error("re-reading a record changed its identity")
	}
	later := departed()
	later.Milestone, later.Status = Milestone_MILESTONE_DELIVERED, ShipmentStatus_SHIPMENT_STATUS_DELIVERED
	other, _ := NewEvent(edi, Record{Key: "ISA13=000007731;GS06=7731;ST02=0005"}, local("2025-03-15 08:25:00"), later)
	if other.GetIdempotencyKey() == fromEDI.GetIdempotencyKey() {
		t.Error("different facts share a key")
	}
	// Same inventory movement from the database and the CSV export.
	mv := func() *InventoryMoved {
		return &InventoryMoved{Movement: &InventoryMovement{SourceKey: "884106", MovementType: MovementType_MOVEMENT_TYPE_PICK,
			Item: &ItemRef{Sku: "AF-1001"}, From: &Location{SiteId: "MEM1", Code: "A-03-01-A"}, Quantity: Qty("20", "XCS")}}
	}
	a, _ := NewEvent(wms, Record{Key: "movement/884106", Version: "5514877"}, local("2025-03-14 13:58:07"), mv())
	b, _ := NewEvent(Origin{SiteID: "MEM1", Source: "urn:dray:MEM1:csv", SourceSystem: "wms.csv"}, Record{Key: "file/x.csv#7"}, local("2025-03-14 13:58:07"), mv())
	if a.GetId() == b.GetId() || a.GetIdempotencyKey() != b.GetIdempotencyKey() {
		t.Error("the same movement from DB and CSV must have two ids and one key")
	}
}

func TestEnvelopeFromNewEvent(t *testing.T) {
	e := sampleOf(t, "logistics.order_line.status_changed")
	if e.GetSubject() != "order/ACME/SO-778812" || e.GetPartitionKey() != e.GetSubject() {
		t.Errorf("subject %q partition %q", e.GetSubject(), e.GetPartitionKey())
	}
	if e.GetOccurredOffset() != "-05:00" {
		t.Errorf("offset = %q; want -05:00 (CDT)", e.GetOccurredOffset())
	}
	if got := e.OccurredAt().Format(time.RFC3339); got != "2025-03-14T15:42:00-05:00" {
		t.Errorf("OccurredAt = %s", got)
	}
	if e.GetSchemaVersion() != SchemaVersion || e.Lane() != LaneOperational {
		t.Errorf("schema %q lane %v", e.GetSchemaVersion(), e.Lane())
	}
	if _, ok := e.Payload().(*OrderLineStatusChanged); !ok {
		t.Errorf("payload is %T", e.Payload())
	}
	r := sampleOf(t, "logistics.event.retracted")
	if r.GetPartitionKey() != "item/ACME/AF-2050" {
		t.Errorf("a retraction is ordered with what it retracts; partition = %q", r.GetPartitionKey())
	}
	// Key segments are path-escaped: a slash in an order number stays one segment.
	d := &OrderCancelled{Order: &OrderRef{OwnerId: "ACME", OrderNo: "SO/1 2"}}
	if got := SubjectOf(d); got != "order/ACME/SO%2F1%202" {
		t.Errorf("subject = %q", got)
	}
}

func TestRegistryAndLanes(t *testing.T) {
	want := map[string]Lane{
		"order.received": LaneOperational, "order.changed": LaneOperational, "order.cancelled": LaneOperational,
		"order.released": LaneOperational, "order.status_changed": LaneOperational, "order_line.status_changed": LaneOperational,
		"inventory.moved": LaneOperational, "inventory.status_changed": LaneOperational,
		"inventory.counted": LaneBulk, "inventory.snapshot": LaneBulk,
		"handling_unit.packed": LaneOperational, "handling_unit.unpacked": LaneOperational, "handling_unit.loaded": LaneOperational,
		"receipt.expected": LaneOperational, "receipt.completed": LaneOperational,
		"shipment.tendered": LaneOperational, "shipment.tender_responded": LaneOperational, "shipment.shipped": LaneOperational,
		"shipment.status_changed": LaneOperational, "delivery.confirmed": LaneOperational,
		"freight_charge.invoiced": LaneBulk,
		"event.retracted":         LaneOperational, "integration.acknowledged": LaneBulk,
	}
	if got := len(Types()); got != len(want) {
		t.Fatalf("%d event types; want %d", got, len(want))
	}
	for short, lane := range want {
		typ, ok := LookupType(TypePrefix + short)
		if !ok {
			t.Errorf("type %s missing", short)
			continue
		}
		if typ.Lane != lane || LaneOf(typ.Name) != lane {
			t.Errorf("lane of %s = %v; want %v", short, typ.Lane, lane)
		}
		if typ.Short() != short {
			t.Errorf("Short() = %q", typ.Short())
		}
		if d := typ.New(); TypeOf(d) != typ {
			t.Errorf("New() of %s makes %T", short, d)
		}
	}
	if LaneOf("logistics.nope") != Lane_LANE_UNSPECIFIED {
		t.Error("unknown type has a lane")
	}
}

func TestEnumNames(t *testing.T) {
	if got := EnumName(ShipmentStatus_SHIPMENT_STATUS_IN_TRANSIT); got != "in_transit" {
		t.Errorf("EnumName = %q", got)
	}
	if got := EnumName(OrderLineStatus_ORDER_LINE_STATUS_SHORT_SHIPPED); got != "short_shipped" {
		t.Errorf("EnumName = %q", got)
	}
	if EnumName(ShipmentStatus(0)) != "" || EnumName(ShipmentStatus(99)) != "" {
		t.Error("zero or undefined value has a name")
	}
	if v, ok := ParseEnumName(Milestone(0), "departed_pickup"); !ok || v != Milestone_MILESTONE_DEPARTED_PICKUP {
		t.Errorf("ParseEnumName = %v, %v", v, ok)
	}
	if _, ok := ParseEnumName(Milestone(0), "unspecified"); ok {
		t.Error("unspecified parsed")
	}
}

func TestPeekIdentity(t *testing.T) {
	for _, e := range buildSamples() {
		b, err := MarshalBinary(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := PeekIdentity(b)
		if err != nil || got.ID != e.GetId() || got.SiteID != e.GetSiteId() {
			t.Fatalf("%s: PeekIdentity = %+v, %v", e.GetType(), got, err)
		}
	}
	if _, err := PeekIdentity([]byte{0x0a, 0x05, 'a'}); err == nil {
		t.Error("truncated event accepted")
	}
	if _, err := PeekIdentity(nil); err == nil {
		t.Error("event without id accepted")
	}
}
