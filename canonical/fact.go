package canonical

import (
	"strconv"
	"time"
)

// FactKey derives the default idempotency key of an event: the business fact
// it reports, so that the same fact read from two sources (the WMS database
// and an X12 file) gets one key and a sink applies it once.
//
// The parts are the site, the subject and what happened:
//   - milestones and proofs of delivery: the milestone and the minute it
//     happened in UTC (FactTimeLayout), e.g. departed_pickup at 2025-03-14T20:48Z;
//   - statuses of orders and lines: the status (each is reached once);
//   - documents (orders received, shipments shipped, tenders, invoices,
//     receipts): the document and what was done with it;
//   - inventory facts: the source's movement, status-change or count key;
//   - anything else (order changes): the event id itself.
func FactKey(site string, d Data, occurred time.Time, id string) string {
	subject := SubjectOf(d)
	minute := ""
	if !occurred.IsZero() {
		minute = occurred.UTC().Format(FactTimeLayout)
	}
	switch x := d.(type) {
	case *ShipmentStatusChanged:
		return IdempotencyKey(site, subject, EnumName(x.GetMilestone()), minute)
	case *DeliveryConfirmed:
		return IdempotencyKey(site, subject, "delivered", strconv.Itoa(int(x.GetDelivery().GetStopSeq())),
			x.GetDelivery().GetDeliveredAt().AsTime().UTC().Format(FactTimeLayout))
	case *OrderLineStatusChanged:
		return IdempotencyKey(site, subject, "line", x.GetLineNo(), EnumName(x.GetStatus()))
	case *OrderStatusChanged:
		return IdempotencyKey(site, subject, EnumName(x.GetStatus()))
	case *OrderReceived:
		return IdempotencyKey(site, subject, "received")
	case *OrderCancelled:
		return IdempotencyKey(site, subject, "cancelled")
	case *OrderReleased:
		return IdempotencyKey(site, subject, "released", x.GetCommandId())
	case *ShipmentShipped:
		return IdempotencyKey(site, subject, "shipped")
	case *ShipmentTendered:
		return IdempotencyKey(site, subject, "tendered", x.GetTenderId())
	case *ShipmentTenderResponded:
		return IdempotencyKey(site, subject, "tender_responded", x.GetTenderId())
	case *HandlingUnitPacked:
		return IdempotencyKey(site, subject, "packed", minute)
	case *HandlingUnitUnpacked:
		return IdempotencyKey(site, subject, "unpacked", minute)
	case *HandlingUnitLoaded:
		return IdempotencyKey(site, subject, "loaded", x.GetShipmentId())
	case *ReceiptExpected:
		return IdempotencyKey(site, subject, "expected")
	case *ReceiptCompleted:
		return IdempotencyKey(site, subject, "completed")
	case *FreightChargeInvoiced:
		return IdempotencyKey(site, subject, "invoiced")
	case *InventoryMoved:
		return IdempotencyKey(site, "movement", x.GetMovement().GetSourceKey())
	case *InventoryStatusChanged:
		return IdempotencyKey(site, "status_change", x.GetSourceKey())
	case *InventoryCounted:
		return IdempotencyKey(site, "count", x.GetSourceKey())
	case *InventorySnapshot:
		return IdempotencyKey(site, subject, strconv.Itoa(int(x.GetPart())))
	case *EventRetracted:
		return IdempotencyKey(site, "retracted", x.GetRetractedEventId())
	case *IntegrationAcknowledged:
		return IdempotencyKey(site, subject, EnumName(x.GetKind()), strconv.FormatBool(x.GetOutbound()))
	}
	return id
}
