package route

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/configfile"
	"github.com/itchyny/gojq"
)

func milestone(t testing.TB, site, shipment string, opts ...canonical.EventOption) *Event {
	t.Helper()
	o := canonical.Origin{SiteID: site, Source: "urn:dray:" + site + ":edi:XMPL", SourceSystem: "edi.x12.214"}
	e, err := canonical.NewEvent(o, canonical.Record{Key: shipment + "/AF"}, time.Date(2025, 3, 14, 20, 48, 0, 0, time.UTC),
		&canonical.ShipmentStatusChanged{ShipmentId: shipment, Milestone: canonical.Milestone_MILESTONE_DEPARTED_PICKUP,
			Status: canonical.ShipmentStatus_SHIPMENT_STATUS_IN_TRANSIT, StopSeq: 1, Carrier: &canonical.Carrier{Scac: "XMPL"}},
		opts...)
	if err != nil {
		t.Fatal(err)
	}
	return &Event{Seq: 42, Site: site, Received: time.Date(2025, 3, 14, 20, 49, 0, 0, time.UTC), Lane: e.Lane(), Event: e}
}

func movement(t testing.TB, site, key string) *Event {
	t.Helper()
	o := canonical.Origin{SiteID: site, Source: "urn:dray:" + site + ":wms", SourceSystem: "wms.db"}
	e, err := canonical.NewEvent(o, canonical.Record{Key: key}, time.Date(2025, 3, 14, 6, 12, 40, 0, time.UTC),
		&canonical.InventoryMoved{Movement: &canonical.InventoryMovement{SourceKey: key, MovementType: canonical.MovementType_MOVEMENT_TYPE_TRANSFER,
			Item: &canonical.ItemRef{Sku: "AF-1002"}, From: &canonical.Location{SiteId: site, Code: "A-1"},
			To: &canonical.Location{SiteId: site, Code: "B-2"}, Quantity: canonical.Qty("12.500", "KGM")}})
	if err != nil {
		t.Fatal(err)
	}
	return &Event{Seq: 7, Site: site, Received: time.Now(), Lane: e.Lane(), Event: e}
}

func compile(t testing.TB, c Config) *Route {
	t.Helper()
	var errs configfile.Errors
	r := Compile("routes[0]", c, &errs)
	if err := errs.Err(); err != nil {
		t.Fatal(err)
	}
	return r
}

var tmsMilestones = Config{
	Name: "tms-milestones", Sink: "tms",
	Match:     MatchConfig{Types: []string{"logistics.shipment.status_changed"}, Lane: "operational", Filter: `.data.milestone != "eta_updated"`},
	Path:      `"/tms/v1/shipments/\(.data.shipmentId | @uri)/milestones"`,
	Transform: `{shipment: .data.shipmentId, code: .data.milestone, at: .time, scac: .data.carrier.scac, seq: $relay.seq, site: $relay.site}`,
	Headers:   map[string]string{"X-Tenant": "acme"},
}

func TestRenderJQ(t *testing.T) {
	r := compile(t, tmsMilestones)
	ev := milestone(t, "MEM1", "SHP 1/2", canonical.WithCorrelation("order:ACME:SO-778812"))
	ok, err := r.Match(context.Background(), ev)
	if err != nil || !ok {
		t.Fatalf("Match = %v, %v; want true", ok, err)
	}
	req, err := r.Render(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if req.Method != "POST" || req.Path != "/tms/v1/shipments/SHP%201%2F2/milestones" {
		t.Errorf("got %s %s", req.Method, req.Path)
	}
	var body map[string]any
	if err := json.Unmarshal(req.Body, &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"shipment": "SHP 1/2", "code": "departed_pickup", "at": "2025-03-14T20:48:00Z", "scac": "XMPL", "seq": 42.0, "site": "MEM1"}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("body[%s] = %v; want %v (body %s)", k, body[k], v, req.Body)
		}
	}
	for h, want := range map[string]string{
		"Idempotency-Key":  ev.Event.GetIdempotencyKey(),
		"X-Correlation-Id": "order:ACME:SO-778812",
		"Dray-Site":        "MEM1",
		"Ce-Id":            ev.Event.GetId(),
		"Content-Type":     ContentTypeJSON,
		"X-Tenant":         "acme",
	} {
		if got := req.Header.Get(h); got != want {
			t.Errorf("header %s = %q; want %q", h, got, want)
		}
	}
	tp := req.Header.Get("Traceparent")
	if !validTraceparent(tp) || tp[3:35] != strings.ReplaceAll(ev.Event.GetId(), "-", "") {
		t.Errorf("traceparent %q: want a valid one with the event id as trace id", tp)
	}
}

func TestTraceparentFromEvent(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ev := milestone(t, "MEM1", "SHP1", canonical.WithTraceparent(tp))
	req, err := compile(t, tmsMilestones).Render(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if got := req.Header.Get("Traceparent"); got != tp {
		t.Errorf("traceparent = %q; want the event's %q", got, tp)
	}
}

func TestMatch(t *testing.T) {
	ms, mv := milestone(t, "MEM1", "SHP1"), movement(t, "MEM1", "m1")
	atl := movement(t, "ATL2", "m2")
	for _, tc := range []struct {
		name  string
		match MatchConfig
		ev    *Event
		want  bool
	}{
		{"everything", MatchConfig{}, mv, true},
		{"exact type", MatchConfig{Types: []string{"logistics.inventory.moved"}}, mv, true},
		{"other type", MatchConfig{Types: []string{"logistics.inventory.moved"}}, ms, false},
		{"prefix", MatchConfig{Types: []string{"logistics.shipment.*"}}, ms, true},
		{"prefix miss", MatchConfig{Types: []string{"logistics.shipment.*"}}, mv, false},
		{"site", MatchConfig{Sites: []string{"ATL2"}}, atl, true},
		{"other site", MatchConfig{Sites: []string{"ATL2"}}, mv, false},
		{"lane", MatchConfig{Lane: "bulk"}, mv, false},
		{"filter true", MatchConfig{Filter: `.data.movement.quantity.value == "12.500"`}, mv, true},
		{"filter false", MatchConfig{Filter: `.data.movement.quantity.uom == "EA"`}, mv, false},
		{"filter null", MatchConfig{Filter: `.data.nothing`}, mv, false},
		{"filter empty", MatchConfig{Filter: `empty`}, mv, false},
		{"filter relay", MatchConfig{Filter: `$relay.site == "ATL2"`}, atl, true},
	} {
		r := compile(t, Config{Name: "r", Sink: "s", Match: tc.match, Path: `"/x"`, Mode: ModeCloudEvents})
		got, err := r.Match(context.Background(), tc.ev)
		if err != nil || got != tc.want {
			t.Errorf("%s: Match = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestRenderCloudEvents(t *testing.T) {
	r := compile(t, Config{Name: "hook", Sink: "hook", Mode: ModeCloudEvents, Path: `"/hooks/dray"`})
	ev := movement(t, "MEM1", "m1")
	req, err := r.Render(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := canonical.MarshalJSON(ev.Event)
	if string(req.Body) != string(want) || req.Header.Get("Content-Type") != ContentTypeCloudEvents {
		t.Errorf("got %s (%s); want the event's CloudEvents JSON", req.Body, req.Header.Get("Content-Type"))
	}
	if ev.docDone {
		t.Error("a constant path and cloudevents mode decoded the event for jq")
	}
}

func TestRenderErrors(t *testing.T) {
	ev := movement(t, "MEM1", "m1")
	for _, tc := range []struct {
		name, path, transform, field string
	}{
		{"path not a string", `.data`, `.`, "path"},
		{"path without slash", `"erp/x"`, `.`, "path"},
		{"path to another host", `"//evil.example/x"`, `.`, "path"},
		{"path with dot segments", `"/a/%2e%2e/admin"`, `.`, "path"},
		{"path with a space", `"/a b"`, `.`, "path"},
		{"transform error", `"/x"`, `.data.movement.quantity.value | tonumber | . / "x"`, "transform"},
		{"transform empty", `"/x"`, `empty`, "transform"},
		{"path error", `error("boom")`, `.`, "path"},
	} {
		r := compile(t, Config{Name: "r", Sink: "s", Path: tc.path, Transform: tc.transform})
		_, err := r.Render(context.Background(), ev)
		var re *RenderError
		if !asRenderError(err, &re) || re.Field != tc.field || re.Route != "r" {
			t.Errorf("%s: err = %v; want a RenderError in %s", tc.name, err, tc.field)
		}
	}
}

func asRenderError(err error, re **RenderError) bool { return errors.As(err, re) }

func TestEnvironmentHidden(t *testing.T) {
	t.Setenv("DRAY_TEST_SECRET", "hunter2")
	r := compile(t, Config{Name: "r", Sink: "s", Path: `"/x"`, Transform: `{a: $ENV.DRAY_TEST_SECRET, b: env.DRAY_TEST_SECRET}`})
	req, err := r.Render(context.Background(), movement(t, "MEM1", "m1"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(req.Body), "hunter2") {
		t.Fatalf("a transform read the relay's environment: %s", req.Body)
	}
}

func TestCompileErrors(t *testing.T) {
	c := Config{
		Match:     MatchConfig{Types: []string{"logistics.nope", "nothing.*"}, Lane: "fast", Sites: []string{""}, Filter: `.a ==`},
		Mode:      "xml",
		Method:    "DELETE",
		Path:      `"/x" | ]`,
		Transform: `{`,
		Headers:   map[string]string{"Idempotency-Key": "x", "bad header": "y", "X-Ok": "a\nb"},
	}
	var errs configfile.Errors
	if r := Compile("routes[3]", c, &errs); r != nil {
		t.Fatal("Compile returned a route despite errors")
	}
	got := map[string]bool{}
	for _, e := range errs {
		got[e.Path] = true
	}
	for _, p := range []string{"routes[3].name", "routes[3].sink", "routes[3].method", "routes[3].mode",
		"routes[3].match.types[0]", "routes[3].match.types[1]", "routes[3].match.lane", "routes[3].match.sites[0]",
		"routes[3].match.filter", "routes[3].path", "routes[3].headers.Idempotency-Key",
		"routes[3].headers.bad header", "routes[3].headers.X-Ok"} {
		if !got[p] {
			t.Errorf("no error at %s; got %v", p, errs)
		}
	}
	// A jq mode route without a transform, and a parse error with its offset.
	errs = nil
	Compile("routes[0]", Config{Name: "a", Sink: "b", Path: `"/x"`}, &errs)
	Compile("routes[1]", Config{Name: "a", Sink: "b", Path: `"/x"`, Transform: `{a: .b`}, &errs)
	s := errs.Err().Error()
	if !strings.Contains(s, "routes[0].transform: required") || !strings.Contains(s, "routes[1].transform: jq parse error at offset") {
		t.Errorf("errors: %v", s)
	}
}

func TestTableFirstMatchWins(t *testing.T) {
	a := compile(t, Config{Name: "a", Sink: "s", Match: MatchConfig{Types: []string{"logistics.shipment.*"}}, Path: `"/a"`, Mode: ModeCloudEvents})
	b := compile(t, Config{Name: "b", Sink: "s", Path: `"/b"`, Mode: ModeCloudEvents})
	tab := &Table{Sink: "s", Routes: []*Route{a, b}}
	if r, _ := tab.Select(context.Background(), milestone(t, "MEM1", "S")); r != a {
		t.Errorf("milestone went to %v; want a", r)
	}
	if r, _ := tab.Select(context.Background(), movement(t, "MEM1", "m")); r != b {
		t.Errorf("movement went to %v; want b", r)
	}
	if tab.Lookup("b") != b || tab.Lookup("c") != nil {
		t.Error("Lookup")
	}
}

func TestBatch(t *testing.T) {
	ctx := context.Background()
	r := compile(t, tmsMilestones)
	var reqs []*Request
	for _, s := range []string{"S1", "S2"} {
		req, err := r.Render(ctx, milestone(t, "MEM1", s))
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, req)
	}
	var errs configfile.Errors
	b := CompileBatch("sinks[0].batch", BatchJQ, `{items: map({key: .headers["Idempotency-Key"], path, body})}`, `.results`, &errs)
	if err := errs.Err(); err != nil {
		t.Fatal(err)
	}
	body, ct, err := b.Body(ctx, reqs)
	if err != nil || ct != ContentTypeJSON {
		t.Fatal(err, ct)
	}
	var got struct {
		Items []struct {
			Key, Path string
			Body      map[string]any
		}
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Items) != 2 || got.Items[1].Path != "/tms/v1/shipments/S2/milestones" ||
		got.Items[0].Key != reqs[0].Header.Get("Idempotency-Key") || got.Items[1].Body["shipment"] != "S2" {
		t.Fatalf("batch body %s", body)
	}
	res, ok, err := b.Results(ctx, []byte(`{"results":[{"status":201},{"status":422,"detail":"bad"}]}`), 2)
	if err != nil || !ok || res[0].Status != 201 || res[1].Status != 422 || !strings.Contains(string(res[1].Detail), "bad") {
		t.Fatalf("Results = %+v, %v, %v", res, ok, err)
	}
	if _, ok, err := b.Results(ctx, []byte(`{"results":[201]}`), 2); ok || err == nil {
		t.Error("Results accepted a count mismatch")
	}

	ce := CompileBatch("b", BatchCloudEvents, "", "", &errs)
	cer := compile(t, Config{Name: "c", Sink: "s", Path: `"/x"`, Mode: ModeCloudEvents})
	req1, _ := cer.Render(ctx, movement(t, "MEM1", "m1"))
	req2, _ := cer.Render(ctx, movement(t, "MEM1", "m2"))
	body, ct, err = ce.Body(ctx, []*Request{req1, req2})
	if err != nil || ct != ContentTypeCloudEventBatch {
		t.Fatal(err, ct)
	}
	var arr []map[string]any
	if err := json.Unmarshal(body, &arr); err != nil || len(arr) != 2 || arr[1]["id"] != req2.Header.Get("Ce-Id") {
		t.Fatalf("cloudevents batch %s: %v", body, err)
	}
	errs = nil
	CompileBatch("sinks[1].batch", "xml", "", ".[", &errs)
	if len(errs) != 2 {
		t.Errorf("errors %v; want format and results", errs)
	}
}

func BenchmarkRenderJQ(b *testing.B) {
	r := compile(b, tmsMilestones)
	base := milestone(b, "MEM1", "SHP1")
	bin, _ := canonical.MarshalBinary(base.Event)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		e, _ := canonical.UnmarshalBinary(bin)
		ev := &Event{Seq: 1, Site: "MEM1", Lane: base.Lane, Event: e}
		if ok, err := r.Match(ctx, ev); !ok || err != nil {
			b.Fatal(ok, err)
		}
		if _, err := r.Render(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
}

func TestDropNulls(t *testing.T) {
	inner := map[string]any{"keep": "x", "gone": nil}
	shared := map[string]any{"a": 1}
	in := map[string]any{"n": nil, "s": "v", "o": inner, "arr": []any{nil, map[string]any{"z": nil}}, "shared": shared}
	out := dropNulls(in)
	b, _ := gojq.Marshal(out)
	if string(b) != `{"arr":[null,{}],"o":{"keep":"x"},"s":"v","shared":{"a":1}}` {
		t.Errorf("dropNulls = %s", b)
	}
	if _, ok := in["n"]; !ok || len(inner) != 2 {
		t.Error("dropNulls changed its input")
	}
	if m := out.(map[string]any); reflect.ValueOf(m["shared"]).UnsafePointer() != reflect.ValueOf(shared).UnsafePointer() {
		t.Error("dropNulls copied a member it did not change")
	}
	big := map[string]any{"null": nil}
	for i := range 50 {
		big[fmt.Sprint("k", i)] = i
	}
	if got := dropNulls(big).(map[string]any); len(got) != 50 || got["k49"] != 49 {
		t.Errorf("dropNulls of 50 members and a null kept %d", len(got))
	}
	r := compile(t, Config{Name: "r", Sink: "s", Path: `"/x"`, DropNulls: true,
		Transform: `{material: .data.movement.item.sku, batch: .data.movement.item.lot, unit: .data.movement.quantity.uom}`})
	req, err := r.Render(context.Background(), movement(t, "MEM1", "m1"))
	if err != nil || string(req.Body) != `{"material":"AF-1002","unit":"KGM"}` {
		t.Errorf("drop_nulls route: %s, %v", req.Body, err)
	}
}

func TestJSONBatch(t *testing.T) {
	ctx := context.Background()
	var errs configfile.Errors
	b := CompileBatch("b", BatchJSON, "", "", &errs)
	if err := errs.Err(); err != nil {
		t.Fatal(err)
	}
	r := compile(t, tmsMilestones)
	var reqs []*Request
	for _, s := range []string{"S1", "S2", "S3"} {
		req, err := r.Render(ctx, milestone(t, "MEM1", s))
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, req)
	}
	body, ct, err := b.Body(ctx, reqs)
	if err != nil || ct != ContentTypeJSON {
		t.Fatal(err, ct)
	}
	var got struct {
		Requests []struct {
			ID, Method, URL string
			Headers         map[string]string
			Body            map[string]any
		}
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	if len(got.Requests) != 3 || got.Requests[2].ID != "3" || got.Requests[2].URL != "/tms/v1/shipments/S3/milestones" ||
		got.Requests[1].Headers["Idempotency-Key"] != reqs[1].Header.Get("Idempotency-Key") || got.Requests[0].Body["shipment"] != "S1" ||
		got.Requests[0].Method != "POST" || got.Requests[0].Headers["Content-Type"] != ContentTypeJSON {
		t.Fatalf("json batch %s", body)
	}
	res, ok, err := b.Results(ctx, []byte(`{"responses":[{"id":"2","status":422,"body":{"title":"bad"}},{"id":"1","status":201},{"id":"3","status":503}]}`), 3)
	if err != nil || !ok || res[0].Status != 201 || res[1].Status != 422 || res[2].Status != 503 || !strings.Contains(string(res[1].Detail), "bad") {
		t.Fatalf("results %+v %v %v", res, ok, err)
	}
	for _, bad := range []string{`{"responses":[{"id":"1","status":201}]}`, `{"responses":[{"id":"1","status":201},{"id":"1","status":201},{"id":"3","status":201}]}`, `nope`} {
		if _, ok, _ := b.Results(ctx, []byte(bad), 3); ok {
			t.Errorf("results %s accepted", bad)
		}
	}
	CompileBatch("c", BatchJSON, ".", ".x", &errs)
	if len(errs) != 2 {
		t.Errorf("errors %v; want body and results refused", errs)
	}
}

// TestNewTraceparent: the trace id is the event id's hex when it is a
// UUID (with or without dashes), random otherwise; span ids are new and
// never zero; the header is always valid.
func TestNewTraceparent(t *testing.T) {
	const id = "0190c5e2-7a4b-7c3d-8e9f-0123456789ab"
	a, b := newTraceparent(id), newTraceparent(id)
	if !validTraceparent(a) || !validTraceparent(b) || a[3:35] != strings.ReplaceAll(id, "-", "") || a[3:35] != b[3:35] || a[36:52] == b[36:52] {
		t.Errorf("from a UUID: %s, %s", a, b)
	}
	if c := newTraceparent(strings.ReplaceAll(id, "-", "")); c[3:35] != a[3:35] {
		t.Errorf("from the UUID without dashes: %s", c)
	}
	for _, other := range []string{"", "evt-1", strings.ToUpper(id), id + "0", "00000000-0000-0000-0000-000000000000", "0190c5e2-7a4b-7c3d-8e9f-0123456789ag"} {
		x, y := newTraceparent(other), newTraceparent(other)
		if !validTraceparent(x) || !validTraceparent(y) || x[3:35] == y[3:35] {
			t.Errorf("from %q: %s, %s; want valid, with new random trace ids", other, x, y)
		}
	}
}
