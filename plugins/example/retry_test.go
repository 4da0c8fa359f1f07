package example_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/example"
	"github.com/draylink/dray/plugins/sdk"
)

func TestRetry(t *testing.T) {
	dir := t.TempDir()
	const good = `{"count_id":"CC-1","sku":"AF-1","location":"R-1","uom":"EA","counted":3,"counted_at":"2025-03-14T16:05:00-05:00"}`
	const bad = `{"count_id":"CC-2","sku":"AF-1","location":"R-1","uom":"EA","counted":3,"counted_at":"2025-03-14T16:05:00-05:00","colour":"red"}`
	if err := os.WriteFile(filepath.Join(dir, "a:b.jsonl"), []byte(good+"\n"+bad+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := configured(t, dir, "")
	em := readUntil(t, c, nil, 1)
	events, rejects, _ := em.all()
	if len(events) != 1 || len(rejects) != 1 || rejects[0].Code != example.RejectUnknownField || rejects[0].Ref != "a:b.jsonl:2:114" {
		t.Fatalf("read %d events and rejects %+v", len(events), rejects)
	}
	ctx := context.Background()

	// Unchanged, the line is still bad, with the same reason.
	res, err := c.Retry(ctx, rejects[0])
	if err != nil || len(res.Events) != 0 || len(res.Rejects) != 1 || res.Rejects[0].Code != example.RejectUnknownField || res.Rejects[0].Ref != rejects[0].Ref {
		t.Fatalf("retry of the unchanged line: %+v, %v", res, err)
	}

	// Retrying the good line gives the event, with the id the read gave it.
	res, err = c.Retry(ctx, sdk.Reject{Code: "x", Ref: "a:b.jsonl:1", Payload: []byte(good + "\n")})
	if err != nil || len(res.Events) != 1 || res.Events[0].GetId() != events[0].GetId() {
		t.Fatalf("retry of the good line: %+v, %v; want the event %s", res, err, events[0].GetId())
	}

	// Corrected by an operator, the bad line becomes an event.
	fixed := rejects[0]
	fixed.Payload = []byte(`{"count_id":"CC-2","sku":"AF-1","location":"R-1","uom":"EA","counted":3,"counted_at":"2025-03-14T16:05:00-05:00"}`)
	res, err = c.Retry(ctx, fixed)
	if err != nil || len(res.Rejects) != 0 || len(res.Events) != 1 {
		t.Fatalf("retry of the corrected line: %+v, %v", res, err)
	}
	if ev := res.Events[0]; ev.GetInventoryCounted().GetCountId() != "CC-2" || ev.GetSourceRef() != "a:b.jsonl:2" || canonical.Validate(ev) != nil {
		t.Errorf("event %v", ev)
	}

	// An invalid event's reject (its payload is the event as JSON) is
	// decoded again, corrected or not.
	ev := events[0]
	js, err := canonical.MarshalJSON(ev)
	if err != nil {
		t.Fatal(err)
	}
	res, err = c.Retry(ctx, sdk.Reject{Code: sdk.RejectInvalidEvent, Ref: ev.GetSourceRef(), Payload: js})
	if err != nil || len(res.Events) != 1 || res.Events[0].GetId() != ev.GetId() {
		t.Errorf("retry of an event's JSON: %+v, %v", res, err)
	}
	res, err = c.Retry(ctx, sdk.Reject{Code: sdk.RejectInvalidEvent, Ref: "x", Payload: []byte("{")})
	if err != nil || len(res.Rejects) != 1 {
		t.Errorf("retry of broken JSON: %+v, %v", res, err)
	}
}
