package refsink

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestRecordEncoding checks the hand-written encoders against encoding/json.
func TestRecordEncoding(t *testing.T) {
	et := time.Date(2025, 3, 14, 20, 48, 0, 0, time.UTC)
	tricky := "q\"b\\s/\n\r\t\x01\x1f<>&é\u2028\u2029\xff😀"
	full := Record{
		Seq: 42, Time: time.Date(2026, 11, 27, 7, 0, 0, 123456789, time.UTC), Kind: KindTMS, Resource: "milestones",
		Path: "/tms/v1/shipments/" + tricky + "/milestones", Format: formatCEBatch, Batch: 40, BatchIndex: 2,
		Outcome: OutcomeConflict, Status: 422, Key: tricky, EventID: "ev", EventType: "logistics.x", EventTime: &et,
		Site: "MEM1", CorrelationID: "order:1", Traceparent: "00-1-2-01", PartitionKey: "shipment/S1", PartitionSeq: 7,
		Principal: "oauth2:relay", BodySHA256: "ab", Original: 3, DocumentID: "TM0000000042", ResponseDropped: true,
		Problems: []string{"/a: required", tricky}, Response: json.RawMessage(`{"a":1}`), Body: json.RawMessage(`[1,"x"]`),
	}
	for _, rec := range []Record{full, {Seq: 1, Time: full.Time, Kind: KindERP, Outcome: OutcomeApplied, Status: 201}} {
		want, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		got := appendRecord(nil, &rec, nil)
		var a, b map[string]any
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatalf("our encoding is not JSON: %v\n%s", err, got)
		}
		if err := json.Unmarshal(want, &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
	ab := appliedBody{DocumentID: "49", Resource: "goods-movements", Status: "applied", IdempotencyKey: tricky, LedgerSeq: 9, AppliedAt: full.Time}
	want, _ := json.Marshal(ab)
	got := appendApplied(nil, &ab, nil)
	var a, b map[string]any
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatalf("%v\n%s", err, got)
	}
	_ = json.Unmarshal(want, &b)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
