package route

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/itchyny/gojq"

	"github.com/draylink/dray/canonical"
)

// fastCorpus are expressions with a fast form: the shapes of the mappings
// in testenv (goods movements, goods issues, PODs, freight invoices,
// milestones, shipments) and every construct the fast form takes.
var fastCorpus = []string{
	`.data.movement as $m
| {movementType: ({transfer: "311", receipt: "101", pick: "601", adjustment: "701"}[$m.movementType] // "999"),
   material: $m.item.sku, plant: .siteid, storageLocation: $m.from.code, toStorageLocation: $m.to.code,
   batch: $m.item.lot, quantity: $m.quantity.value, unit: $m.quantity.uom, occurredAt: .time, reference: $m.sourceKey}`,
	`{delivery: (.data.lines[0].order.orderNo // .data.shipment.shipmentId), plant: .siteid,
 issuedAt: .data.shippedAt, shipmentId: .data.shipment.shipmentId, carrierScac: .data.shipment.carrier.scac,
 billOfLading: .data.shipment.bol,
 items: [.data.lines[] | {item: .lineNo, material: .item.sku, quantity: .shipped.value, unit: .shipped.uom, batch: .item.lot}]}`,
	`.data.delivery as $d
| {delivery: $d.shipmentId, shipmentId: $d.shipmentId, deliveredAt: $d.deliveredAt, signedBy: $d.signedBy,
   items: [($d.osdLines // [])[] | {material: .sku, deliveredQuantity: .received.value, unit: .received.uom,
            damagedQuantity: .damaged.value, differenceReason: .reasonCode}]}`,
	`{invoiceNumber: .data.invoiceNo, invoiceDate: .data.invoiceDate, supplierScac: .data.carrier.scac,
 currency: .data.total.currency, totalAmount: .data.total.amount, shipmentId: .data.shipmentId,
 lines: [.data.lines[] | {chargeCode: (.sourceChargeCode // .chargeCode), amount: .amount.amount}]}`,
	`{code: .data.milestone, timestamp: .time, shipmentId: .data.shipmentId, stopSequence: .data.stopSeq,
 reasonCode: .data.reasonCode, location: (.data.location | if . then {city, region, country} else null end)}`,
	`.data.shipment as $s
| {shipmentId: $s.shipmentId, mode: $s.mode, carrierScac: $s.carrier.scac, billOfLading: $s.bol,
   stops: [$s.stops[] | {sequence: .seq, type: .kind,
           location: {id: .party.id, name: .party.name, city: .party.address.city, country: .party.address.country}}]}`,
	`.`, `.data`, `.data.lines[0]`, `.data.lines[-1].lineNo`, `.data.lines[7]`, `.["data"]["lines"]`, `."siteid"`,
	`.data[.k]`, `.data | .x`, `{}`, `[]`, `[.id, .type, null, true, false, 42, -7, "s"]`, `{"a b": .id, c: {d: [1, {e: 2}]}}`,
	`[.data.lines[].item.sku]`, `[.data.lines[] | .item, .lineNo]`, `[.data.shipment.stops[].party.address.city]`,
	`. as $x | .data as $y | $y | . as $x | {a: $x, b: $relay.site}`, `{id, type, time}`, `{a: 1, a: 2}`,
	`if .data then .data.lines else "none" end`, `if .nope then 1 elif .id then 2 else 3 end`, `if false then 1 end`,
	`.nope // .also // "default"`, `false // null`, `(.data | .lines) // []`, `[(.data.lines // [])[] | .lineNo]`,
	`[.[]]`, `[.data.lines[] as $l | $l.lineNo]`, `{x: .data.lines[0].item.sku}[.pick]`, `[.a] | .[0]`, `-3`,
	`[.data.lines[] | .lineNo as $n | .item as $i | {n: $n, sku: $i.sku}]`, `[(.data.lines[], .data.lines[]) | .lineNo]`,
	`"/tms/v1/shipments/\(.data.shipmentId | @uri)/milestones"`, `@uri "/x/\(.id)/\("a b")/\(.siteid)"`, `"a\(.id)b\(.type)c"`,
	`.subject | @uri`, `"\(.data)"`, `{path: "/s/\(.data.shipment.shipmentId // "none" | @uri)"}`, `{a: "x\(.id)", b: "c"}`,
}

// slowCorpus are expressions the fast form must leave to gojq.
var slowCorpus = []string{
	`.a?`, `.[1:2]`, `.a | length`, `.a + 1`, `.a == "x"`, `1.5`, `100000000000000000000000`,
	`{(.k): 1}`, `{$__loc__}`, `$ENV`, `@html "x\(.a)"`, `@base64`, `"\(1.5)"`, `. as [$a] | $a`, `.a, .b`, `.a[]`, `try .a catch "x"`, `def f: .; f`, `not`, `-.a`,
	`.a[]?`, `reduce .[] as $x (0; . + $x)`, `{a: (.b, .c)}`, `-.a`, `-1.5`, `[-0]`, `.a as $x | $x[]`,
}

func TestFastJQSubset(t *testing.T) {
	for _, src := range fastCorpus {
		q, err := gojq.Parse(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if compileFast(q) == nil {
			t.Errorf("no fast form for %s", src)
		}
	}
	for _, src := range slowCorpus {
		q, err := gojq.Parse(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if compileFast(q) != nil {
			t.Errorf("a fast form for %s", src)
		}
	}
}

// TestFastJQMatchesGojq runs every expression of the corpus on every
// golden event's document, on those documents with members replaced by
// generated values of every type, and on generated values: where the
// fast form gives a value it must be gojq's first output (gojq erring or
// giving none means the fast form must give up). On the golden events
// themselves the fast form must not give up on the mapping shapes.
func TestFastJQMatchesGojq(t *testing.T) {
	var docs []any
	var events []*canonical.Event
	for name, ev := range goldenEvents(t) {
		d, err := (&Event{Event: ev}).Doc()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		docs = append(docs, d)
		events = append(events, ev)
	}
	relay := map[string]any{"site": "MEM1", "seq": 7}
	rng := rand.New(rand.NewPCG(3, 4))
	var inputs []any
	inputs = append(inputs, docs...)
	for range 300 {
		inputs = append(inputs, mutate(rng, docs[rng.IntN(len(docs))], 3))
	}
	for range 300 {
		inputs = append(inputs, genJQ(rng, 3))
	}
	for _, src := range fastCorpus {
		e, err := compileExpr(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		gaveUp := 0
		for i, in := range inputs {
			want, werr := e.slowFirst(in, relay)
			got, ok := e.fast.run(in, relay)
			if !ok {
				if i < len(docs) && werr == nil && slices.Index(fastCorpus, src) < 6 {
					t.Errorf("%s: the fast form gave up on golden document %d", src, i)
				}
				gaveUp++
				continue
			}
			if werr != nil {
				t.Fatalf("%s on %#v: fast form gave %#v, gojq %v", src, in, got, werr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s on %#v:\n fast %#v\n gojq %#v", src, in, got, want)
			}
			if i < len(events) { // the same over the on-demand document
				lv, ok := e.fast.run(canonical.JQDoc(events[i]), relay)
				rv, rok := resolve(lv)
				if !ok || !rok || !reflect.DeepEqual(rv, want) {
					t.Fatalf("%s on golden document %d, on demand: %#v (%v, %v); gojq %#v", src, i, rv, ok, rok, want)
				}
			}
		}
		t.Logf("%3d of %d inputs left to gojq: %.60s", gaveUp, len(inputs), src)
	}
}

// slowFirst is first without the fast form.
func (e *expr) slowFirst(input, relay any) (any, error) {
	v, ok := e.code.RunWithContext(context.Background(), input, relay).Next()
	if !ok {
		return nil, errNoOutput
	}
	if err, isErr := v.(error); isErr {
		return nil, err
	}
	return v, nil
}

// mutate copies a document with some members and elements replaced by
// generated values (wrong types, nulls, empty containers).
func mutate(rng *rand.Rand, v any, depth int) any {
	if depth == 0 || rng.IntN(8) == 0 {
		if rng.IntN(3) == 0 {
			return genJQ(rng, 2)
		}
		return v
	}
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = mutate(rng, e, depth-1)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = mutate(rng, e, depth-1)
		}
		return a
	}
	return v
}

// TestFastJQGivesUpToGojq: on values the fast form does not take (where
// jq errs, or iterates an object) it gives up and first gives gojq's
// answer.
func TestFastJQGivesUpToGojq(t *testing.T) {
	for _, c := range []struct{ src, in string }{
		{`.a`, `"s"`}, {`.a.b`, `{"a":[1]}`}, {`[.a[]]`, `{"a":{"y":2,"x":1}}`}, {`[.a[]]`, `{"a":null}`},
		{`.[0]`, `{"a":1}`}, {`.a[.k]`, `{"a":{"x":1},"k":1}`}, {`.a // .b.c`, `{"b":"s"}`}, {`.a // 1`, `{"a":{"b":2},"c":3}`},
		{`.a[.k]`, `{"a":[1,2],"k":1.5}`}, {`.a[.k]`, `{"a":[1,2],"k":1}`},
	} {
		e, err := compileExpr(c.src)
		if err != nil || e.fast == nil {
			t.Fatalf("%s: %v (fast form %v)", c.src, err, e.fast != nil)
		}
		in, err := parseValue([]byte(c.in))
		if err != nil {
			t.Fatal(err)
		}
		if c.src == `.a // 1` { // a control: taken
			if v, ok := e.fast.run(in, nil); !ok || !reflect.DeepEqual(v, map[string]any{"b": json.Number("2")}) {
				t.Errorf("%s on %s: %v %v", c.src, c.in, v, ok)
			}
			continue
		}
		if v, ok := e.fast.run(in, nil); ok {
			t.Errorf("%s on %s: fast form gave %#v", c.src, c.in, v)
		}
		want, werr := e.slowFirst(in, nil)
		got, err := e.first(context.Background(), in, nil)
		if !reflect.DeepEqual(got, want) || (err == nil) != (werr == nil) {
			t.Errorf("%s on %s: first gave %#v, %v; gojq %#v, %v", c.src, c.in, got, err, want, werr)
		}
	}
}

func BenchmarkTransformGoodsMovement(b *testing.B) {
	e, err := compileExpr(fastCorpus[0])
	if err != nil {
		b.Fatal(err)
	}
	doc, err := movement(b, "MEM1", "m1").Doc()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := e.fast.run(doc, nil); !ok {
				b.Fatal("gave up")
			}
		}
	})
	b.Run("fast-on-demand", func(b *testing.B) {
		ev := movement(b, "MEM1", "m1").Event
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := e.fast.run(canonical.JQDoc(ev), nil); !ok {
				b.Fatal("gave up")
			}
		}
	})
	b.Run("fast-built-document", func(b *testing.B) {
		ev := movement(b, "MEM1", "m1").Event
		b.ReportAllocs()
		for b.Loop() {
			d, _ := canonical.JSONValue(ev)
			if _, ok := e.fast.run(d, nil); !ok {
				b.Fatal("gave up")
			}
		}
	})
	b.Run("peer-gojq", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.slowFirst(doc, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestRenderOnDemandDocument: a mapping reads only what it names, so an
// invalid string elsewhere in the event does not stop it, while one it
// reads is the event's located error, as with the built document; and
// routes rendering one shared event on many goroutines (constant objects
// included) do not race (go test -race).
func TestRenderOnDemandDocument(t *testing.T) {
	r := compile(t, Config{Name: "r", Sink: "s", Path: `"/x"`, DropNulls: true,
		Transform: `{kind: ({a: "1"}[.data.movement.movementType] // "9"), material: .data.movement.item.sku, m: .data.movement.quantity}`})
	ev := movement(t, "MEM1", "m1")
	want, err := r.Render(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if string(want.Body) != `{"kind":"9","m":{"uom":"KGM","value":"12.500"},"material":"AF-1002"}` {
		t.Errorf("body %s", want.Body)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				got, err := r.Render(context.Background(), ev)
				if err != nil || string(got.Body) != string(want.Body) {
					t.Errorf("concurrent render: %s, %v", got.Body, err)
					return
				}
			}
		})
	}
	wg.Wait()

	other := movement(t, "MEM1", "m2")
	other.Event.Subject = "bad \xff"
	if _, err := r.Render(context.Background(), other); err != nil {
		t.Errorf("an invalid string the mapping does not read: %v", err)
	}
	read := movement(t, "MEM1", "m3")
	read.Event.GetInventoryMoved().GetMovement().GetItem().Sku = "bad \xff"
	var re *RenderError
	if _, err := r.Render(context.Background(), read); !errors.As(err, &re) || re.Field != "event" {
		t.Errorf("an invalid string the mapping reads: %v; want the event's error", err)
	}
}
