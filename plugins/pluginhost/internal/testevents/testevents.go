// Package testevents builds the events pluginhost's test plugins emit.
package testevents

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/draylink/dray/canonical"
)

// Origin is the source the test events come from.
var Origin = canonical.Origin{SiteID: "MEM1", Source: "urn:dray:MEM1:test", SourceSystem: "test.counts"}

// Type is the event type of Count.
const Type = "logistics.inventory.counted"

var base = time.Date(2025, 3, 14, 10, 0, 0, 0, time.FixedZone("", -5*3600))

// description pads the events to about 1 KB.
var description = strings.Repeat("ACME SPRING WATER 24x500ML CASE, SHRINK-WRAPPED ", 11)[:500]

// Count is the i-th test event: an inventory count whose id depends only on
// i, so a re-read yields the same id. It is about 1 KB (970 bytes) in the binary codec.
func Count(i int) *canonical.Event {
	key := strconv.Itoa(i)
	e, err := canonical.NewEvent(Origin,
		canonical.Record{Key: "count/" + key, Version: "1", Ref: "counts.jsonl:" + key},
		base.Add(time.Duration(i)*time.Second),
		&canonical.InventoryCounted{
			SourceKey: key,
			Location:  &canonical.Location{SiteId: "MEM1", Code: fmt.Sprintf("R-%02d-%02d-C", i%40, i%17), Type: canonical.LocationType_LOCATION_TYPE_STORAGE},
			Item: &canonical.ItemRef{OwnerId: "ACME", Sku: "AF-" + strconv.Itoa(1000+i%500), Gtin: "10614141001023",
				Lot: "L2502C", ExpiryDate: "2026-02-28", Description: description},
			Status:     canonical.InventoryStatus_INVENTORY_STATUS_AVAILABLE,
			Counted:    canonical.Qty(strconv.Itoa(10+i%90), "XCS"),
			Expected:   canonical.Qty(strconv.Itoa(12+i%90), "XCS"),
			CountId:    "CC-" + key,
			ReasonCode: "CC_ABC_CYCLE_COUNT_ZONE_R_WEEKLY",
		},
		canonical.WithCorrelation("count:ACME:cycle-count-2025-03-14:CC-"+key),
		canonical.WithTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
	)
	if err != nil {
		panic(err)
	}
	return e
}

// Invalid is an event that fails validation (negative count, no SKU).
func Invalid(i int) *canonical.Event {
	e := Count(i)
	c := e.GetInventoryCounted()
	c.Counted = canonical.Qty("-3", "XCS")
	c.Item.Sku = ""
	return e
}
