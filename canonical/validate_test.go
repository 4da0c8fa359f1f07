package canonical_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	. "github.com/draylink/dray/canonical"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// sampleOf returns a fresh valid sample event of a type.
func sampleOf(t *testing.T, typ string) *Event {
	t.Helper()
	for _, e := range buildSamples() {
		if e.GetType() == typ {
			return e
		}
	}
	t.Fatalf("no sample of %s", typ)
	return nil
}

func problemsOf(t *testing.T, e *Event) []Problem {
	t.Helper()
	err := Validate(e)
	if err == nil {
		return nil
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate returned %T, want *ValidationError", err)
	}
	return ve.Problems
}

func TestSamplesAreValid(t *testing.T) {
	for _, e := range buildSamples() {
		if err := Validate(e); err != nil {
			t.Errorf("%s: %v", e.GetType(), err)
		}
	}
}

// TestValidateRules breaks one rule per case and expects exactly that problem.
func TestValidateRules(t *testing.T) {
	moved := "logistics.inventory.moved"
	tests := []struct {
		name     string
		typ      string
		mutate   func(e *Event)
		wantPath string
		wantCode string
	}{
		{"missing id", moved, func(e *Event) { e.Id = "" }, "id", "required"},
		{"upper-case id", moved, func(e *Event) { e.Id = "B41DDC10-1E68-598C-B23A-D8B965819362" }, "id", "invalid_uuid"},
		{"relative source", moved, func(e *Event) { e.Source = "wms-db" }, "source", "invalid_uri"},
		{"unknown type", moved, func(e *Event) { e.Type = "logistics.pallet.teleported" }, "type", "unknown_type"},
		{"type of other data", moved, func(e *Event) { e.Type = "logistics.inventory.counted" }, "type", "type_mismatch"},
		{"subject of other aggregate", moved, func(e *Event) { e.Subject = "item/ACME/AF-9999" }, "subject", "subject_mismatch"},
		{"no time", moved, func(e *Event) { e.Time = nil }, "time", "required"},
		{"time in seconds read as ms", moved, func(e *Event) { e.Time = timestamppb.New(time.UnixMilli(1741933960)) }, "time", "time_out_of_range"},
		{"bad offset", moved, func(e *Event) { e.OccurredOffset = "-0500" }, "occurredoffset", "invalid_offset"},
		{"site id with slash", moved, func(e *Event) { e.SiteId = "MEM/1" }, "siteid", "invalid_site_id"},
		{"no idempotency key", moved, func(e *Event) { e.IdempotencyKey = "" }, "idempotencykey", "required"},
		{"bad traceparent", moved, func(e *Event) { e.Traceparent = "00-xyz" }, "traceparent", "invalid_traceparent"},
		{"no data", moved, func(e *Event) { e.Data = nil }, "data", "required"},
		{"invalid utf-8", moved, func(e *Event) { e.GetInventoryMoved().Movement.Note = "caf\xe9" }, "data.movement.note", "invalid_utf8"},
		{"note too long", moved, func(e *Event) { e.GetInventoryMoved().Movement.Note = string(make([]byte, 1001)) }, "data.movement.note", "too_long"},
		{"float-ish quantity", moved, func(e *Event) { e.GetInventoryMoved().Movement.Quantity.Value = "2.4e2" }, "data.movement.quantity.value", "invalid_decimal"},
		{"comma decimal", moved, func(e *Event) { e.GetInventoryMoved().Movement.Quantity.Value = "12,5" }, "data.movement.quantity.value", "invalid_decimal"},
		{"zero quantity", moved, func(e *Event) { e.GetInventoryMoved().Movement.Quantity.Value = "0" }, "data.movement.quantity", "not_positive"},
		{"negative quantity", moved, func(e *Event) { e.GetInventoryMoved().Movement.Quantity.Value = "-1" }, "data.movement.quantity", "not_positive"},
		{"unknown unit", moved, func(e *Event) { e.GetInventoryMoved().Movement.Quantity.Uom = "CA" }, "data.movement.quantity.uom", "unknown_uom"},
		{"bad gtin check digit", moved, func(e *Event) { e.GetInventoryMoved().Movement.Item.Gtin = "10614141001024" }, "data.movement.item.gtin", "invalid_gtin"},
		{"bad sscc", moved, func(e *Event) { e.GetInventoryMoved().Movement.Sscc = "006141410000043997" }, "data.movement.sscc", "invalid_sscc"},
		{"bad expiry date", moved, func(e *Event) { e.GetInventoryMoved().Movement.Item.ExpiryDate = "2026-02-30" }, "data.movement.item.expiryDate", "invalid_date"},
		{"unknown enum", moved, func(e *Event) { e.GetInventoryMoved().Movement.MovementType = 99 }, "data.movement.movementType", "unknown_enum"},
		{"missing movement type", moved, func(e *Event) { e.GetInventoryMoved().Movement.MovementType = 0 }, "data.movement.movementType", "required"},
		{"no locations", moved, func(e *Event) { m := e.GetInventoryMoved().Movement; m.From, m.To = nil, nil }, "data.movement", "location_required"},
		{"self reversal", moved, func(e *Event) { m := e.GetInventoryMoved().Movement; m.Reverses = m.SourceKey }, "data.movement.reverses", "self_reversal"},
		{"bad gln", "logistics.order.received", func(e *Event) { e.GetOrderReceived().Order.Parties[0].Gln = "0614141000204" }, "data.order.parties[0].gln", "invalid_gln"},
		{"bad country", "logistics.order.received", func(e *Event) { e.GetOrderReceived().Order.Parties[0].Address.Country = "UK" }, "data.order.parties[0].address.country", "invalid_country"},
		{"bad unlocode", "logistics.order.received", func(e *Event) { e.GetOrderReceived().Order.Parties[0].Address.Unlocode = "USAT1" }, "data.order.parties[0].address.unlocode", "invalid_unlocode"},
		{"no lines", "logistics.order.received", func(e *Event) { e.GetOrderReceived().Order.Lines = nil }, "data.order.lines", "required"},
		{"bucket in another unit", "logistics.order_line.status_changed", func(e *Event) {
			e.GetOrderLineStatusChanged().Quantities.Shipped.Uom = "EA"
		}, "data.quantities.shipped", "uom_mismatch"},
		{"bad currency", "logistics.shipment.tendered", func(e *Event) { e.GetShipmentTendered().Rate.Currency = "USX" }, "data.rate.currency", "invalid_currency"},
		{"total not the sum", "logistics.freight_charge.invoiced", func(e *Event) {
			e.GetFreightChargeInvoiced().Total.Amount = "1392.49"
		}, "data.total", "total_mismatch"},
		{"line in other currency", "logistics.freight_charge.invoiced", func(e *Event) {
			e.GetFreightChargeInvoiced().Lines[1].Amount.Currency = "CAD"
		}, "data.lines[1].amount.currency", "currency_mismatch"},
		{"bad scac", "logistics.shipment.status_changed", func(e *Event) { e.GetShipmentStatusChanged().Carrier.Scac = "XMPL1" }, "data.carrier.scac", "invalid_scac"},
		{"status contradicts milestone", "logistics.shipment.status_changed", func(e *Event) {
			e.GetShipmentStatusChanged().Status = ShipmentStatus_SHIPMENT_STATUS_DELIVERED
		}, "data.status", "status_mismatch"},
		{"shipped line cancelled", "logistics.shipment.shipped", func(e *Event) {
			e.GetShipmentShipped().Lines[0].Status = OrderLineStatus_ORDER_LINE_STATUS_CANCELLED
		}, "data.lines[0].status", "invalid_status"},
		{"bad sscc in list", "logistics.shipment.shipped", func(e *Event) {
			e.GetShipmentShipped().Lines[2].Ssccs = []string{"006141410000045020", "123"}
		}, "data.lines[2].ssccs[1]", "invalid_sscc"},
		{"bad package type", "logistics.handling_unit.packed", func(e *Event) { e.GetHandlingUnitPacked().HandlingUnit.PackageType = "KGM" }, "data.handlingUnit.packageType", "invalid_package_type"},
		{"bad time zone", "logistics.shipment.shipped", func(e *Event) { e.GetShipmentShipped().Shipment.Stops[0].TimeZone = "America/Memphis" }, "data.shipment.stops[0].timeZone", "invalid_time_zone"},
		{"reversed window", "logistics.shipment.shipped", func(e *Event) {
			w := e.GetShipmentShipped().Shipment.Stops[0].Appointment
			w.Start, w.End = w.End, w.Start
		}, "data.shipment.stops[0].appointment.end", "window_reversed"},
		{"negative stop seq", "logistics.delivery.confirmed", func(e *Event) { e.GetDeliveryConfirmed().Delivery.StopSeq = -2 }, "data.delivery.stopSeq", "negative"},
		{"retraction of a non-uuid", "logistics.event.retracted", func(e *Event) {
			e.GetEventRetracted().RetractedEventId = "884113"
			e.Subject = SubjectOf(e.Payload())
		}, "data.retractedEventId", "invalid_uuid"},
		{"snapshot part beyond parts", "logistics.inventory.snapshot", func(e *Event) { e.GetInventorySnapshot().Part = 3 }, "data.part", "invalid_part"},
		{"status unchanged", "logistics.inventory.status_changed", func(e *Event) {
			d := e.GetInventoryStatusChanged()
			d.ToStatus = d.FromStatus
		}, "data.toStatus", "status_unchanged"},
		{"too many changed fields", "logistics.order.changed", func(e *Event) {
			e.GetOrderChanged().ChangedFields = make([]string, 101)
			for i := range e.GetOrderChanged().ChangedFields {
				e.GetOrderChanged().ChangedFields[i] = "x"
			}
		}, "data.changedFields", "too_many"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := sampleOf(t, tt.typ)
			tt.mutate(e)
			got := problemsOf(t, e)
			if len(got) != 1 || got[0].Path != tt.wantPath || got[0].Code != tt.wantCode {
				t.Fatalf("problems = %v; want exactly %s (%s)", got, tt.wantPath, tt.wantCode)
			}
			if got[0].Message == "" {
				t.Errorf("problem without a message")
			}
		})
	}
}

// TestValidateReportsEveryProblem: all problems, in field order, not the first.
func TestValidateReportsEveryProblem(t *testing.T) {
	e := sampleOf(t, "logistics.inventory.moved")
	e.SiteId = ""
	m := e.GetInventoryMoved().Movement
	m.Item.Gtin = "123"
	m.Quantity.Value = "abc"
	m.Quantity.Uom = "ZZZ"
	var got []string
	for _, p := range problemsOf(t, e) {
		got = append(got, p.Path+" "+p.Code)
	}
	want := []string{
		"siteid required",
		"data.movement.item.gtin invalid_gtin",
		"data.movement.quantity.value invalid_decimal",
		"data.movement.quantity.uom unknown_uom",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("problems = %q; want %q", got, want)
	}
	err := Validate(e)
	var ve *ValidationError
	if !errors.As(err, &ve) || !reflect.DeepEqual(ve.Codes(), []string{"required", "invalid_gtin", "invalid_decimal", "unknown_uom"}) {
		t.Errorf("Codes() = %v", ve.Codes())
	}
}

func TestNewEventRejectsInvalidData(t *testing.T) {
	d := &InventoryMoved{Movement: &InventoryMovement{SourceKey: "1", MovementType: MovementType_MOVEMENT_TYPE_PICK,
		Item: &ItemRef{Sku: "A"}, Quantity: Qty("1.5", "KGM")}}
	e, err := NewEvent(wms, Record{Key: "1"}, local("2025-03-14 10:00:00"), d)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v; want a *ValidationError", err)
	}
	if e == nil || len(ve.Problems) != 1 || ve.Problems[0].Code != "location_required" {
		t.Fatalf("problems = %v; want location_required", ve.Problems)
	}
	if _, err := NewEvent(wms, Record{Key: "1"}, time.Now(), nil); err == nil {
		t.Fatal("NewEvent(nil data) succeeded")
	}
}

func TestValidateDoesNotMutate(t *testing.T) {
	e := sampleOf(t, "logistics.shipment.shipped")
	before := proto.Clone(e)
	e.GetShipmentShipped().Shipment.Stops[0].TimeZone = "Nowhere/Land"
	_ = Validate(e)
	e.GetShipmentShipped().Shipment.Stops[0].TimeZone = "America/Chicago"
	if !proto.Equal(before, e) {
		t.Fatal("Validate changed the event")
	}
}
