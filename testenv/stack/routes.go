package stack

import "github.com/draylink/dray/relay/route"

// Routes are the relay's routes for a stack: what each canonical event
// type the simulated warehouse produces becomes at the reference ERP and
// TMS (testenv/refsink), for exactly the types wmssim.DefaultRoutes sends
// to each sink, so the ground truth's "sinks" agree with the relay.
//
// jq maps an event onto the target's own API where the event carries what
// the API requires: inventory moves onto ERP goods movements, proofs of
// delivery onto ERP proofs of delivery, carrier milestones onto TMS
// milestones. The other types go as CloudEvents (structured mode) to the
// resource that takes them: a shipment read from the WMS database has no
// lines or stops, which a goods issue and a TMS shipment require, so it
// travels as the canonical event itself.
func Routes(erp, tms string) []route.Config {
	return append(ERPRoutes(erp), TMSRoutes(tms)...)
}

// ERPRoutes are the routes to the reference ERP named sink.
func ERPRoutes(sink string) []route.Config {
	return []route.Config{
		{Name: sink + "-goods-movements", Sink: sink, Match: route.MatchConfig{Types: []string{"logistics.inventory.moved"}},
			Path: `"/erp/v1/goods-movements"`, DropNulls: true,
			Transform: `.data.movement as $m
| {movementType: ({receipt: "101", putaway: "311", transfer: "311", pick: "313", pack: "315", ship: "601",
                   adjustment_in: "701", adjustment_out: "702", adjustment: "701"}[$m.movementType] // "999"),
   material: $m.item.sku, plant: .siteid, storageLocation: $m.from.code, toStorageLocation: $m.to.code,
   batch: $m.item.lot, quantity: $m.quantity.value, unit: $m.quantity.uom, occurredAt: .time,
   reasonCode: $m.reasonCode, reference: ($m.reference // $m.sourceKey)}`},
		{Name: sink + "-stock", Sink: sink, Match: route.MatchConfig{Types: []string{"logistics.inventory.status_changed",
			"logistics.inventory.counted", "logistics.inventory.snapshot", "logistics.receipt.completed"}},
			Path: `"/erp/v1/goods-movements"`, Mode: route.ModeCloudEvents},
		{Name: sink + "-goods-issues", Sink: sink, Match: route.MatchConfig{Types: []string{"logistics.shipment.shipped"}},
			Path: `"/erp/v1/goods-issues"`, Mode: route.ModeCloudEvents},
		PODRoute(sink),
	}
}

// PODRoute maps a proof of delivery onto the reference ERP's proofs of
// delivery.
func PODRoute(sink string) route.Config {
	return route.Config{Name: sink + "-pod", Sink: sink, Match: route.MatchConfig{Types: []string{"logistics.delivery.confirmed"}},
		Path: `"/erp/v1/proofs-of-delivery"`, DropNulls: true,
		Transform: `.data.delivery as $d
| {delivery: $d.shipmentId, shipmentId: $d.shipmentId, deliveredAt: $d.deliveredAt, signedBy: $d.signedBy,
   items: [($d.osdLines // [])[] | {material: .sku, deliveredQuantity: .received.value, unit: .received.uom,
            damagedQuantity: .damaged.value, differenceReason: .reasonCode}]}`}
}

// TMSRoutes are the routes to the reference TMS named sink.
func TMSRoutes(sink string) []route.Config {
	return []route.Config{
		MilestoneRoute(sink),
		{Name: sink + "-pod", Sink: sink, Match: route.MatchConfig{Types: []string{"logistics.delivery.confirmed"}},
			Path: `"/tms/v1/shipments/\(.data.delivery.shipmentId | @uri)/milestones"`, Mode: route.ModeCloudEvents},
		{Name: sink + "-shipments", Sink: sink, Match: route.MatchConfig{Types: []string{"logistics.shipment.shipped",
			"logistics.order.received", "logistics.order.changed"}},
			Path: `"/tms/v1/shipments"`, Mode: route.ModeCloudEvents},
	}
}

// MilestoneRoute maps a carrier status onto the reference TMS's
// milestones of the shipment.
func MilestoneRoute(sink string) route.Config {
	return route.Config{Name: sink + "-milestones", Sink: sink, Match: route.MatchConfig{Types: []string{"logistics.shipment.status_changed"}},
		Path: `"/tms/v1/shipments/\(.data.shipmentId | @uri)/milestones"`, DropNulls: true,
		Transform: `{code: .data.milestone, timestamp: .time, shipmentId: .data.shipmentId, stopSequence: .data.stopSeq,
 reasonCode: .data.reasonCode, location: (.data.location | if . then {city, region, country} else null end)}`}
}
