package refsink

import (
	"math/big"
	"strings"
)

// resource is one business collection a flavour accepts POSTs on.
type resource struct {
	name   string // goods-movements
	kind   Kind
	path   string // /erp/v1/goods-movements; milestones: /tms/v1/shipments/{id}/milestones
	prefix string // of document ids
	title  string // for problem titles
	fields []field
	// check adds cross-field problems; id is the {id} path value.
	check func(body map[string]any, id string, out *[]problem)
	// ceTypes are the CloudEvents types a route may send here unchanged.
	ceTypes []string
}

// Resources of both flavours. Field names follow the public APIs they are
// modelled on (see doc.go).
var resources = []*resource{
	{
		name: "goods-movements", kind: KindERP, path: "/erp/v1/goods-movements", prefix: "49", title: "goods movement",
		fields: []field{
			req("movementType", tString),
			req("material", tString),
			req("plant", tString),
			opt("storageLocation", tString),
			opt("toPlant", tString),
			opt("toStorageLocation", tString),
			opt("batch", tString),
			req("quantity", tDecimal),
			code("unit", true, codeUnit, "a UN/ECE Rec 20/21 unit code"),
			opt("postingDate", tDate),
			opt("occurredAt", tTime),
			opt("reasonCode", tString),
			opt("reference", tString),
		},
		ceTypes: []string{
			"logistics.inventory.moved", "logistics.inventory.status_changed",
			"logistics.inventory.counted", "logistics.inventory.snapshot",
			"logistics.receipt.completed", "logistics.event.retracted",
		},
	},
	{
		name: "goods-issues", kind: KindERP, path: "/erp/v1/goods-issues", prefix: "80", title: "goods issue",
		fields: []field{
			req("delivery", tString),
			req("plant", tString),
			req("issuedAt", tTime),
			opt("shipmentId", tString),
			code("carrierScac", false, codeSCAC, "a SCAC (2–4 capital letters)"),
			opt("billOfLading", tString),
			array("items", true, 1,
				req("item", tString),
				req("material", tString),
				req("quantity", tDecimal),
				code("unit", true, codeUnit, "a UN/ECE Rec 20/21 unit code"),
				opt("batch", tString),
			),
		},
		ceTypes: []string{"logistics.shipment.shipped", "logistics.event.retracted"},
	},
	{
		name: "proofs-of-delivery", kind: KindERP, path: "/erp/v1/proofs-of-delivery", prefix: "PD", title: "proof of delivery",
		fields: []field{
			req("delivery", tString),
			opt("shipmentId", tString),
			req("deliveredAt", tTime),
			opt("signedBy", tString),
			array("items", false, 0,
				req("material", tString),
				req("deliveredQuantity", tDecimal),
				code("unit", true, codeUnit, "a UN/ECE Rec 20/21 unit code"),
				opt("damagedQuantity", tDecimal),
				opt("differenceReason", tString),
			),
		},
		ceTypes: []string{"logistics.delivery.confirmed", "logistics.event.retracted"},
	},
	{
		name: "freight-invoices", kind: KindERP, path: "/erp/v1/freight-invoices", prefix: "51", title: "freight invoice",
		fields: []field{
			req("invoiceNumber", tString),
			req("invoiceDate", tDate),
			code("supplierScac", true, codeSCAC, "a SCAC (2–4 capital letters)"),
			code("currency", true, codeCurrency, "an ISO 4217 currency code"),
			req("totalAmount", tDecimal),
			opt("shipmentId", tString),
			array("lines", true, 1,
				req("chargeCode", tString),
				req("amount", tDecimal),
				opt("description", tString),
			),
		},
		check:   checkInvoiceTotal,
		ceTypes: []string{"logistics.freight_charge.invoiced", "logistics.event.retracted"},
	},
	{
		name: "shipments", kind: KindTMS, path: "/tms/v1/shipments", prefix: "TS", title: "shipment",
		fields: []field{
			req("shipmentId", tString),
			opt("mode", tString),
			code("carrierScac", false, codeSCAC, "a SCAC (2–4 capital letters)"),
			opt("billOfLading", tString),
			opt("proNumber", tString),
			array("stops", true, 1,
				field{name: "sequence", t: tInt, required: true, min: 1},
				enum("type", true, "pickup", "delivery"),
				object("location", true,
					opt("id", tString),
					opt("name", tString),
					req("city", tString),
					code("country", true, codeCountry, "an ISO 3166 alpha-2 country code"),
					opt("postalCode", tString),
				),
				opt("appointmentAt", tTime),
			),
		},
		ceTypes: []string{
			"logistics.order.received", "logistics.order.changed", "logistics.order.cancelled",
			"logistics.order.released", "logistics.shipment.shipped", "logistics.event.retracted",
		},
	},
	{
		name: "tenders", kind: KindTMS, path: "/tms/v1/tenders", prefix: "TT", title: "tender",
		fields: []field{
			req("shipmentId", tString),
			code("carrierScac", true, codeSCAC, "a SCAC (2–4 capital letters)"),
			enum("action", true, "offer", "accept", "decline", "cancel"),
			req("at", tTime),
			opt("reasonCode", tString),
			object("rate", false,
				req("amount", tDecimal),
				code("currency", true, codeCurrency, "an ISO 4217 currency code"),
			),
		},
		ceTypes: []string{"logistics.shipment.tendered", "logistics.shipment.tender_responded", "logistics.event.retracted"},
	},
	{
		name: "milestones", kind: KindTMS, path: "/tms/v1/shipments/{id}/milestones", prefix: "TM", title: "milestone",
		fields: []field{
			req("code", tString),
			req("timestamp", tTime),
			opt("shipmentId", tString),
			{name: "stopSequence", t: tInt, min: 1},
			opt("reasonCode", tString),
			opt("eta", tTime),
			object("location", false,
				opt("city", tString),
				opt("region", tString),
				code("country", false, codeCountry, "an ISO 3166 alpha-2 country code"),
			),
		},
		check:   checkMilestoneShipment,
		ceTypes: []string{"logistics.shipment.status_changed", "logistics.delivery.confirmed", "logistics.event.retracted"},
	},
}

// resourceByName finds a resource of either flavour.
func resourceByName(name string) *resource {
	for _, r := range resources {
		if r.name == name {
			return r
		}
	}
	return nil
}

// resourcesOf returns a flavour's resources.
func resourcesOf(k Kind) []*resource {
	var out []*resource
	for _, r := range resources {
		if r.kind == k {
			out = append(out, r)
		}
	}
	return out
}

// itemPath is the path of one item of r (milestones carry the shipment id).
func (r *resource) itemPath(id string) string {
	return strings.Replace(r.path, "{id}", id, 1)
}

func (r *resource) acceptsType(t string) bool {
	for _, x := range r.ceTypes {
		if x == t {
			return true
		}
	}
	return false
}

// validate checks a plain JSON body of r.
func (r *resource) validate(body map[string]any, id string) []problem {
	var out []problem
	validateObject(body, r.fields, "", &out)
	if r.check != nil && len(out) == 0 {
		r.check(body, id, &out)
	}
	return out
}

// checkInvoiceTotal: totalAmount must equal the sum of the lines, exactly.
func checkInvoiceTotal(body map[string]any, _ string, out *[]problem) {
	total, _ := decimalOf(body["totalAmount"])
	sum := new(big.Rat)
	lines, _ := body["lines"].([]any)
	for _, l := range lines {
		a, _ := decimalOf(l.(map[string]any)["amount"])
		sum.Add(sum, a)
	}
	if total.Cmp(sum) != 0 {
		*out = append(*out, problem{"/totalAmount", "total_mismatch",
			"totalAmount " + total.FloatString(2) + " differs from the sum of the lines " + sum.FloatString(2)})
	}
}

// checkMilestoneShipment: a shipmentId in the body must name the path's.
func checkMilestoneShipment(body map[string]any, id string, out *[]problem) {
	if s, ok := body["shipmentId"].(string); ok && s != id {
		*out = append(*out, problem{"/shipmentId", "shipment_mismatch",
			"shipmentId " + s + " differs from the shipment in the path " + id})
	}
}
