package refsink_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/draylink/dray/testenv/refsink"
)

func TestEachEndpointAppliesOnce(t *testing.T) {
	sinks := map[refsink.Kind]*sink{
		refsink.KindERP: newSink(t, refsink.KindERP, nil),
		refsink.KindTMS: newSink(t, refsink.KindTMS, nil),
	}
	for _, tc := range valid {
		t.Run(tc.resource, func(t *testing.T) {
			s := sinks[tc.kind]
			key := "key-" + tc.resource
			first := s.post(tc.path, key, "application/json", tc.body, "Dray-Site", "MEM1", "Ce-Id", "ev-"+tc.resource)
			wantStatus(t, first, http.StatusCreated)
			loc := first.header.Get("Location")
			if !strings.HasPrefix(loc, tc.path+"/") {
				t.Errorf("Location %q; want under %s", loc, tc.path)
			}
			if first.header.Get("Idempotent-Replayed") != "" {
				t.Errorf("first answer marked as replayed")
			}
			doc := first.json(t)
			if doc["status"] != "applied" || doc["resource"] != tc.resource || doc["idempotencyKey"] != key {
				t.Errorf("answer %s", first.body)
			}

			// The same key and body again (re-indented): the original answer, replayed.
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, []byte(tc.body), "", "  "); err != nil {
				t.Fatal(err)
			}
			again := s.post(tc.path, key, "application/json", pretty.Bytes())
			wantStatus(t, again, http.StatusCreated)
			if !bytes.Equal(again.body, first.body) {
				t.Errorf("replayed body %s; want %s", again.body, first.body)
			}
			if again.header.Get("Idempotent-Replayed") != "true" || again.header.Get("Location") != loc {
				t.Errorf("replay headers %v", again.header)
			}

			// The same key with a different body: refused, nothing applied.
			other := s.post(tc.path, key, "application/json", tc.changed)
			wantStatus(t, other, http.StatusUnprocessableEntity)
			if p := problemOf(t, other); p.Type != "urn:dray:refsink:problem:idempotency-key-reused" {
				t.Errorf("problem type %q", p.Type)
			}

			// A GET of the document.
			res, err := http.Get(s.url + loc)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Errorf("GET %s: %d", loc, res.StatusCode)
			}

			st := s.stats().Resources[tc.resource]
			if want := (refsink.Counts{Applied: 1, Duplicates: 1, Conflicts: 1}); st != want {
				t.Errorf("counts %+v; want %+v", st, want)
			}
			recs := s.records(refsink.LedgerQuery{Key: key, Resource: tc.resource})
			if len(recs) != 3 {
				t.Fatalf("%d records for the key; want 3", len(recs))
			}
			a := recs[0]
			if a.Outcome != refsink.OutcomeApplied || a.Site != "MEM1" || a.EventID != "ev-"+tc.resource || a.Path != tc.path || a.Format != "json" {
				t.Errorf("applied record %+v", a)
			}
			if recs[1].Outcome != refsink.OutcomeDuplicate || recs[1].Original != a.Seq || recs[1].BodySHA256 != a.BodySHA256 {
				t.Errorf("duplicate record %+v", recs[1])
			}
			if recs[2].Outcome != refsink.OutcomeConflict || recs[2].Original != a.Seq || recs[2].Status != 422 {
				t.Errorf("conflict record %+v", recs[2])
			}
		})
	}
}

func TestInvalidPayloadIs422WithProblems(t *testing.T) {
	erp := newSink(t, refsink.KindERP, nil)
	tms := newSink(t, refsink.KindTMS, nil)
	for _, tc := range []struct {
		name string
		s    *sink
		path string
		body string
		want [][2]string // pointer, code
	}{
		{"movement missing plant, float quantity", erp, "/erp/v1/goods-movements",
			`{"movementType":"311","material":"AF-1002","quantity":12.5,"unit":"each"}`,
			[][2]string{{"/plant", "required"}, {"/quantity", "wrong_type"}, {"/unit", "invalid_code"}}},
		{"goods issue without items, zoneless time", erp, "/erp/v1/goods-issues",
			`{"delivery":"80001234","plant":"MEM1","issuedAt":"2025-03-14T15:48:00","items":[]}`,
			[][2]string{{"/issuedAt", "time_without_zone"}, {"/items", "too_few_items"}}},
		{"POD without time", erp, "/erp/v1/proofs-of-delivery",
			`{"delivery":"80001234","items":[{"material":"AF-1002","deliveredQuantity":"x","unit":"EA"}]}`,
			[][2]string{{"/deliveredAt", "required"}, {"/items/0/deliveredQuantity", "invalid_decimal"}}},
		{"invoice total differs from lines", erp, "/erp/v1/freight-invoices",
			`{"invoiceNumber":"I1","invoiceDate":"2025-03-20","supplierScac":"XMPL","currency":"USD","totalAmount":"1300.00","lines":[{"chargeCode":"400","amount":"1250.00"}]}`,
			[][2]string{{"/totalAmount", "total_mismatch"}}},
		{"shipment stop type and country", tms, "/tms/v1/shipments",
			`{"shipmentId":"S1","stops":[{"sequence":0,"type":"dropoff","location":{"city":"MEMPHIS","country":"USA"}}]}`,
			[][2]string{{"/stops/0/sequence", "out_of_range"}, {"/stops/0/type", "unknown_value"}, {"/stops/0/location/country", "invalid_code"}}},
		{"tender bad SCAC, no action", tms, "/tms/v1/tenders",
			`{"shipmentId":"S1","carrierScac":"x1","at":"2025-03-13T10:00:00Z"}`,
			[][2]string{{"/carrierScac", "invalid_code"}, {"/action", "required"}}},
		{"milestone without zone or code", tms, "/tms/v1/shipments/S1/milestones",
			`{"timestamp":"2025-03-14T15:48:00"}`,
			[][2]string{{"/code", "required"}, {"/timestamp", "time_without_zone"}}},
		{"milestone for another shipment", tms, "/tms/v1/shipments/S1/milestones",
			`{"code":"AF","timestamp":"2025-03-14T15:48:00Z","shipmentId":"S2"}`,
			[][2]string{{"/shipmentId", "shipment_mismatch"}}},
		{"not an object", erp, "/erp/v1/goods-movements", `[1,2]`, [][2]string{{"", "wrong_type"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.s.post(tc.path, keyOf("bad-"+tc.name), "application/json", tc.body)
			wantStatus(t, r, http.StatusUnprocessableEntity)
			p := problemOf(t, r)
			if p.Type != "urn:dray:refsink:problem:validation" || p.Title == "" {
				t.Errorf("problem %+v", p)
			}
			for _, w := range tc.want {
				if !p.has(w[0], w[1]) {
					t.Errorf("no problem %s %s in %s", w[0], w[1], r.body)
				}
			}
			if len(p.Errors) != len(tc.want) {
				t.Errorf("%d problems; want %d: %s", len(p.Errors), len(tc.want), r.body)
			}
		})
	}
	// A rejection does not bind the key: the corrected request applies under it
	// (a dead-letter redrive after an edit keeps its key).
	r := erp.post("/erp/v1/goods-movements", keyOf("bad-invoice total differs from lines"), "application/json", gm(0))
	wantStatus(t, r, http.StatusCreated)
	if got := erp.stats(); got.Rejected != 5 || got.Applied != 1 {
		t.Errorf("erp stats %+v", got)
	}
	recs := erp.records(refsink.LedgerQuery{Outcome: refsink.OutcomeRejected, Resource: "goods-movements"})
	if len(recs) != 2 || len(recs[0].Problems) != 3 || recs[0].Problems[0] != "/plant: required" {
		t.Errorf("rejected records %+v", recs)
	}
}

func TestRequestErrors(t *testing.T) {
	s := newSink(t, refsink.KindERP, nil)
	const path = "/erp/v1/goods-movements"
	cases := []struct {
		name        string
		key, ct     string
		body        string
		status      int
		problemType string
	}{
		{"no Idempotency-Key", "", "application/json", gm(0), 400, "idempotency-key-missing"},
		{"key with a space", "a b", "application/json", gm(0), 400, "idempotency-key-invalid"},
		{"key too long", strings.Repeat("k", 256), "application/json", gm(0), 400, "idempotency-key-invalid"},
		{"malformed JSON", "k-malformed", "application/json", `{"movementType":`, 400, "malformed-json"},
		{"XML", "k-xml", "application/xml", `<gm/>`, 415, "unsupported-media-type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.post(path, tc.key, tc.ct, tc.body)
			wantStatus(t, r, tc.status)
			if p := problemOf(t, r); p.Type != "urn:dray:refsink:problem:"+tc.problemType {
				t.Errorf("problem type %q; want %s", p.Type, tc.problemType)
			}
		})
	}
	// A structured-field string key is the same key as the bare one.
	wantStatus(t, s.post(path, `"sf-key"`, "application/json", gm(1)), http.StatusCreated)
	r := s.post(path, `sf-key`, "application/json", gm(1))
	if r.status != http.StatusCreated || r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("bare key after quoted key: %d %v", r.status, r.header)
	}
	if st := s.stats(); st.Rejected != uint64(len(cases)) || st.Applied != 1 || st.Duplicates != 1 {
		t.Errorf("stats %+v", st)
	}
	res, err := http.Get(s.url + "/erp/v1/nothing")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown route: %d", res.StatusCode)
	}
}

func TestTMSRoutesAreNotOnERP(t *testing.T) {
	s := newSink(t, refsink.KindERP, nil)
	wantStatus(t, s.post("/tms/v1/tenders", "k", "application/json", valid[5].body), http.StatusNotFound)
}

func TestCloudEventsStructuredMode(t *testing.T) {
	erp := newSink(t, refsink.KindERP, nil)
	tms := newSink(t, refsink.KindTMS, nil)
	const ce = "application/cloudevents+json"

	r := erp.post("/erp/v1/goods-movements", "k-moved", ce, event(t, "inventory.moved"), "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	wantStatus(t, r, http.StatusCreated)
	if r.json(t)["eventId"] != "832f1d2e-0779-556d-a210-9deb74fe3938" {
		t.Errorf("answer %s", r.body)
	}
	rec := erp.records(refsink.LedgerQuery{Key: "k-moved"})[0]
	if rec.Format != "cloudevents" || rec.EventID != "832f1d2e-0779-556d-a210-9deb74fe3938" || rec.EventType != "logistics.inventory.moved" ||
		rec.Site != "MEM1" || rec.PartitionKey != "item/ACME/AF-1002" || rec.PartitionSeq != 1 || rec.EventTime == nil ||
		rec.Traceparent != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
		t.Errorf("record %+v", rec)
	}

	for _, tc := range []struct {
		name    string
		s       *sink
		path    string
		body    []byte
		headers []string
		status  int
		pointer string
		code    string
	}{
		{"wrong type for the resource", erp, "/erp/v1/goods-movements", event(t, "shipment.status_changed"), nil, 422, "/type", "type_not_accepted"},
		{"milestone for another shipment", tms, "/tms/v1/shipments/OTHER/milestones", event(t, "shipment.status_changed"), nil, 422, "/subject", "shipment_mismatch"},
		{"site header disagrees", erp, "/erp/v1/goods-movements", event(t, "inventory.moved"), []string{"Dray-Site", "ATL2"}, 422, "/siteid", "site_mismatch"},
		{"unknown field", erp, "/erp/v1/goods-movements", editEvent(t, "inventory.moved", func(m map[string]any) { m["color"] = "red" }), nil, 422, "", "unknown_field"},
		{"model rule broken", erp, "/erp/v1/goods-movements", editEvent(t, "inventory.moved", func(m map[string]any) {
			m["data"].(map[string]any)["movement"].(map[string]any)["quantity"].(map[string]any)["value"] = "-"
		}), nil, 422, "", ""},
		{"not JSON", erp, "/erp/v1/goods-movements", []byte(`{"specversion":`), nil, 400, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.s.post(tc.path, keyOf("k-"+tc.name), ce, tc.body, tc.headers...)
			wantStatus(t, r, tc.status)
			p := problemOf(t, r)
			if tc.code != "" && !p.has(tc.pointer, tc.code) {
				t.Errorf("no problem %s %s in %s", tc.pointer, tc.code, r.body)
			}
		})
	}

	// A milestone event on its shipment's route.
	r = tms.post("/tms/v1/shipments/SHP25031407/milestones", "k-af", ce, event(t, "shipment.status_changed"))
	wantStatus(t, r, http.StatusCreated)
	if rec := tms.records(refsink.LedgerQuery{Key: "k-af"})[0]; rec.PartitionKey != "shipment/SHP25031407" || rec.Resource != "milestones" {
		t.Errorf("record %+v", rec)
	}
}

func TestCloudEventsBatchMode(t *testing.T) {
	s := newSink(t, refsink.KindERP, nil)
	moved := event(t, "inventory.moved")
	batch := bytes.Join([][]byte{moved, event(t, "shipment.status_changed"), moved,
		editEvent(t, "inventory.moved", func(m map[string]any) {
			m["idempotencykey"] = "0b7f1f0e-3a56-5a41-9d2e-8f0c7a2b9e11"
			m["id"] = "1c2d3e4f-5a6b-5c7d-8e9f-0a1b2c3d4e5f"
		})}, []byte(","))
	body := append(append([]byte("["), batch...), ']')
	const ceb = "application/cloudevents-batch+json"

	check := func(r resp, wantApplied, wantReplayed int, statuses ...int) refsink.BatchResponse {
		t.Helper()
		wantStatus(t, r, http.StatusOK)
		var br refsink.BatchResponse
		if err := json.Unmarshal(r.body, &br); err != nil {
			t.Fatal(err)
		}
		if br.Applied != wantApplied || br.Replayed != wantReplayed || len(br.Results) != len(statuses) {
			t.Fatalf("batch answer %s", r.body)
		}
		for i, st := range statuses {
			if br.Results[i].Status != st {
				t.Errorf("item %d: status %d; want %d (%s)", i, br.Results[i].Status, st, br.Results[i].Body)
			}
		}
		return br
	}
	// The third item repeats the first inside one batch: replayed, not applied twice.
	br := check(s.post("/erp/v1/goods-movements", "", ceb, body), 2, 1, 201, 422, 201, 201)
	if !br.Results[2].Replayed || br.Results[0].IdempotencyKey != "6c7764de-c21e-5b5b-8d02-8fd60f16d207" {
		t.Errorf("results %+v", br.Results)
	}
	// The whole batch again, on the :batch route: everything replayed.
	check(s.post("/erp/v1/goods-movements:batch", "", ceb, body), 0, 3, 201, 422, 201, 201)
	// The flavour-wide batch route sends each event by its type.
	mixed := "[" + string(event(t, "delivery.confirmed")) + "," + string(event(t, "freight_charge.invoiced")) + "," + string(event(t, "shipment.tendered")) + "]"
	check(s.post("/erp/v1/batch", "", ceb, mixed), 2, 0, 201, 201, 422)

	st := s.stats()
	if st.Applied != 4 || st.Duplicates != 4 || st.Rejected != 3 || st.EventIDReapplied != 0 || st.DistinctEventIDs != 4 {
		t.Errorf("stats %+v", st)
	}
	if c := st.Resources["proofs-of-delivery"]; c.Applied != 1 {
		t.Errorf("routing by type: %+v", st.Resources)
	}
	recs := s.records(refsink.LedgerQuery{Resource: "goods-movements"})
	if recs[0].Batch != recs[0].Seq || recs[1].Batch != recs[0].Seq || recs[1].BatchIndex != 1 || recs[0].Format != "cloudevents-batch" {
		t.Errorf("batch bookkeeping %+v %+v", recs[0], recs[1])
	}
}

func TestArrayBatch(t *testing.T) {
	s := newSink(t, refsink.KindERP, nil)
	items := fmt.Sprintf(`[
		{"idempotencyKey":"b1","eventId":"e1","site":"MEM1","body":%s},
		{"idempotencyKey":"b2","body":{"movementType":"311","material":"AF-1002","quantity":"1","unit":"EA"}},
		{"body":%s},
		{"idempotencyKey":"b1","body":%s},
		{"idempotencyKey":"b1","body":%s},
		{"idempotencyKey":"b3","body":%s,"unknown":1}
	]`, gm(0), gm(1), gm(0), gm(2), gm(3))
	r := s.post("/erp/v1/goods-movements:batch", "", "application/json", items, "Dray-Site", "ATL2")
	wantStatus(t, r, http.StatusOK)
	var br refsink.BatchResponse
	if err := json.Unmarshal(r.body, &br); err != nil {
		t.Fatal(err)
	}
	want := []int{201, 422, 400, 201, 422, 422}
	for i, w := range want {
		if br.Results[i].Status != w {
			t.Errorf("item %d: %d; want %d (%s)", i, br.Results[i].Status, w, br.Results[i].Body)
		}
	}
	if br.Applied != 1 || br.Replayed != 1 || br.Failed != 4 || !br.Results[3].Replayed {
		t.Errorf("answer %s", r.body)
	}
	recs := s.records(refsink.LedgerQuery{})
	if len(recs) != 6 || recs[0].Site != "MEM1" || recs[1].Site != "ATL2" || recs[0].EventID != "e1" || recs[4].Outcome != refsink.OutcomeConflict {
		t.Errorf("records %+v", recs)
	}
	// A single POST of the same item under the same key is the same request.
	again := s.post("/erp/v1/goods-movements", "b1", "application/json", gm(0))
	if again.status != 201 || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("single after batch: %d %s", again.status, again.body)
	}
	// Batch-level refusals.
	wantStatus(t, s.post("/erp/v1/goods-movements:batch", "", "application/json", `[]`), 422)
	wantStatus(t, s.post("/erp/v1/goods-movements:batch", "", "application/json", `{"not":"an array"}`), 400)
	big := "[" + strings.TrimSuffix(strings.Repeat(`{"idempotencyKey":"x","body":{}},`, 1001), ",") + "]"
	wantStatus(t, s.post("/erp/v1/goods-movements:batch", "", "application/json", big), 413)
}

func TestJSONBatchRoute(t *testing.T) {
	s := newSink(t, refsink.KindTMS, nil)
	body := fmt.Sprintf(`{"requests":[
		{"id":"a","method":"POST","url":"/tms/v1/shipments","headers":{"idempotency-key":"j1"},"body":%s},
		{"id":"b","method":"POST","url":"shipments/SHP25031407/milestones","headers":{"Idempotency-Key":"j2","Dray-Site":"ATL2"},"body":%s},
		{"id":"c","method":"POST","url":"/tms/v1/tenders","headers":{"Idempotency-Key":"j3","Content-Type":"application/cloudevents+json"},"body":%s},
		{"id":"d","method":"POST","url":"/tms/v1/nowhere","headers":{"Idempotency-Key":"j4"},"body":{}},
		{"id":"e","method":"GET","url":"/tms/v1/shipments","body":{}},
		{"id":"f","method":"POST","url":"/tms/v1/tenders","body":%s}
	]}`, valid[4].body, valid[6].body, event(t, "shipment.tendered"), valid[5].body)
	// The batch-level Idempotency-Key is not handed down to sub-requests (f has none).
	r := s.post("/tms/v1/batch", "outer", "application/json", body, "Dray-Site", "MEM1")
	wantStatus(t, r, http.StatusOK)
	var out struct {
		Responses []struct {
			ID      string            `json:"id"`
			Status  int               `json:"status"`
			Headers map[string]string `json:"headers"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"a": 201, "b": 201, "c": 201, "d": 404, "e": 405, "f": 400}
	for _, sr := range out.Responses {
		if sr.Status != want[sr.ID] {
			t.Errorf("sub-request %s: %d; want %d", sr.ID, sr.Status, want[sr.ID])
		}
	}
	if loc := out.Responses[1].Headers["Location"]; !strings.HasPrefix(loc, "/tms/v1/shipments/SHP25031407/milestones/TM") {
		t.Errorf("milestone Location %q", loc)
	}
	recs := s.records(refsink.LedgerQuery{Outcome: refsink.OutcomeApplied})
	if len(recs) != 3 || recs[0].Site != "MEM1" || recs[1].Site != "ATL2" || recs[1].Resource != "milestones" || recs[2].EventType != "logistics.shipment.tendered" || recs[0].Format != "json-batch" {
		t.Errorf("records %+v", recs)
	}
}

func TestConcurrentSameKeyAppliesOnce(t *testing.T) {
	s := newSink(t, refsink.KindERP, nil)
	const n = 40
	bodies := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, err := s.tryPost(http.DefaultClient, "/erp/v1/goods-movements", "same", "application/json", gm(7))
			if err != nil || r.status != 201 {
				t.Errorf("post: %v %d", err, r.status)
				return
			}
			bodies[i] = r.body
		})
	}
	wg.Wait()
	for i := 1; i < n; i++ {
		if !bytes.Equal(bodies[i], bodies[0]) {
			t.Fatalf("answers differ: %s vs %s", bodies[i], bodies[0])
		}
	}
	if st := s.stats(); st.Applied != 1 || st.Duplicates != n-1 {
		t.Errorf("stats %+v", st)
	}
}

func TestConcurrentDistinctKeysGetGaplessSeqs(t *testing.T) {
	s := newSink(t, refsink.KindTMS, nil)
	const workers, each = 8, 25
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				// Two partitions per worker; order within each is the worker's order.
				path := fmt.Sprintf("/tms/v1/shipments/S%d/milestones", w)
				body := fmt.Sprintf(`{"code":"c%03d","timestamp":"2025-03-14T15:48:00Z"}`, i)
				r, err := s.tryPost(http.DefaultClient, path, fmt.Sprintf("w%d-%d", w, i), "application/json", body)
				if err != nil || r.status != 201 {
					t.Errorf("post: %v %d %s", err, r.status, r.body)
				}
			}
		})
	}
	wg.Wait()
	recs := s.records(refsink.LedgerQuery{})
	if len(recs) != workers*each {
		t.Fatalf("%d records; want %d", len(recs), workers*each)
	}
	next := map[string]uint64{}
	for i, r := range recs {
		if r.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d", i, r.Seq)
		}
		next[r.PartitionKey]++
		if r.PartitionSeq != next[r.PartitionKey] {
			t.Errorf("record %d: partitionSeq %d; want %d", r.Seq, r.PartitionSeq, next[r.PartitionKey])
		}
	}
	// Per partition, arrival order is each worker's send order.
	for w := range workers {
		recs := s.records(refsink.LedgerQuery{PartitionKey: fmt.Sprintf("shipment/S%d", w)})
		for i, r := range recs {
			if want := fmt.Sprintf("w%d-%d", w, i); r.Key != want {
				t.Errorf("partition S%d position %d: key %s; want %s", w, i, r.Key, want)
			}
		}
	}
}

// TestRelayDefaultBatchBody: /v1/batch takes the relay's default jq batch
// body (a bare array of its rendered requests, relay/route) and answers with
// results that `.results` reads.
func TestRelayDefaultBatchBody(t *testing.T) {
	s := newSink(t, refsink.KindERP, nil)
	hdr := func(key string) string {
		return fmt.Sprintf(`{"Idempotency-Key":%q,"Traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","Dray-Site":"MEM1","Ce-Id":"ev-%s","X-Correlation-Id":"order:ACME:SO-1"}`, key, key)
	}
	body := fmt.Sprintf(`[
		{"route":"moves","method":"POST","path":"/erp/v1/goods-movements","headers":%s,"body":%s},
		{"route":"pod-events","method":"POST","path":"/erp/v1/proofs-of-delivery?x=1","headers":%s,"body":%s},
		{"route":"bad","method":"POST","path":"/erp/v1/goods-movements","headers":%s,"body":{}}
	]`, hdr("r1"), gm(0), hdr("r2"), event(t, "delivery.confirmed"), hdr("r3"))
	r := s.post("/erp/v1/batch", "", "application/json", body)
	wantStatus(t, r, http.StatusOK)
	var br refsink.BatchResponse
	if err := json.Unmarshal(r.body, &br); err != nil {
		t.Fatal(err)
	}
	if len(br.Results) != 3 || br.Results[0].Status != 201 || br.Results[1].Status != 201 || br.Results[2].Status != 422 {
		t.Fatalf("answer %s", r.body)
	}
	recs := s.records(refsink.LedgerQuery{Outcome: refsink.OutcomeApplied})
	if len(recs) != 2 || recs[0].EventID != "ev-r1" || recs[0].CorrelationID != "order:ACME:SO-1" || recs[0].Site != "MEM1" ||
		recs[1].Resource != "proofs-of-delivery" || recs[1].EventType != "logistics.delivery.confirmed" {
		t.Errorf("records %+v", recs)
	}
}
