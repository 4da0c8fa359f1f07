package sdk

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
)

// benchEvent is a ~1 KB inventory count, like pluginhost's stream benchmark.
func benchEvent(b *testing.B, i int) *canonical.Event {
	key := strconv.Itoa(i)
	e, err := canonical.NewEvent(
		canonical.Origin{SiteID: "MEM1", Source: "urn:dray:MEM1:test", SourceSystem: "test.counts"},
		canonical.Record{Key: "count/" + key, Version: "1", Ref: "counts.jsonl:" + key},
		time.Date(2025, 3, 14, 10, 0, 0, 0, time.FixedZone("", -5*3600)),
		&canonical.InventoryCounted{
			SourceKey: key,
			Location:  &canonical.Location{SiteId: "MEM1", Code: "R-40-02-C", Type: canonical.LocationType_LOCATION_TYPE_STORAGE},
			Item: &canonical.ItemRef{OwnerId: "ACME", Sku: "AF-" + key, Gtin: "10614141001023", Lot: "L2502C", ExpiryDate: "2026-02-28",
				Description: strings.Repeat("ACME SPRING WATER 24x500ML CASE ", 16)[:500]},
			Status:     canonical.InventoryStatus_INVENTORY_STATUS_AVAILABLE,
			Counted:    canonical.Qty("13", "XCS"),
			Expected:   canonical.Qty("14", "XCS"),
			CountId:    "CC-" + key,
			ReasonCode: "CC_ABC_CYCLE_COUNT_ZONE_R_WEEKLY",
		},
		canonical.WithCorrelation("count:ACME:cycle-count-2025-03-14:CC-"+key),
		canonical.WithTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkEncodeBatch splits the SDK's per-event cost in Emit: validation
// (canonical.Validate) and binary encoding, for batches of 100 ~1 KB events.
// ns/event is wall time, cpu-ns/event the process's CPU time (steadier on a
// loaded machine; it includes the garbage collector).
func BenchmarkEncodeBatch(b *testing.B) {
	events := make([]*canonical.Event, 100)
	for i := range events {
		events[i] = benchEvent(b, i)
	}
	b.Run("validate+encode", func(b *testing.B) {
		cpu0 := processCPU()
		for b.Loop() {
			for range len(events) / 100 {
				if _, err := encodeBatch(Batch{Events: events, Cursor: []byte("c")}); err != nil {
					b.Fatal(err)
				}
			}
		}
		report(b, cpu0, len(events))
	})
	b.Run("validate", func(b *testing.B) {
		cpu0 := processCPU()
		for b.Loop() {
			for _, e := range events {
				if err := canonical.Validate(e); err != nil {
					b.Fatal(err)
				}
			}
		}
		report(b, cpu0, len(events))
	})
	b.Run("encode", func(b *testing.B) {
		cpu0 := processCPU()
		var buf []byte
		for b.Loop() {
			for _, e := range events {
				var err error
				if buf, err = canonical.AppendBinary(buf[:0], e); err != nil {
					b.Fatal(err)
				}
			}
		}
		report(b, cpu0, len(events))
	})
}

func report(b *testing.B, cpu0 time.Duration, perOp int) {
	n := float64(b.N * perOp)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/event")
	if cpu := processCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/event")
	}
}
