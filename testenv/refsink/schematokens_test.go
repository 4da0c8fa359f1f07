package refsink

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"testing"
)

// validBodies are a valid body of each resource, with every field.
var validBodies = map[string]string{
	"goods-movements":    `{"movementType":"311","material":"AF-1002","plant":"MEM1","storageLocation":"A1","toPlant":"MEM2","toStorageLocation":"B1","batch":"L1","quantity":"12.500","unit":"EA","postingDate":"2025-03-14","occurredAt":"2025-03-14T15:48:00Z","reasonCode":"R","reference":"ref","eventId":"ev-1"}`,
	"goods-issues":       `{"delivery":"80001234","plant":"MEM1","issuedAt":"2025-03-14T15:48:00Z","shipmentId":"S1","carrierScac":"XMPL","billOfLading":"B","items":[{"item":"10","material":"AF-1002","quantity":"2","unit":"EA","batch":"L"}]}`,
	"proofs-of-delivery": `{"delivery":"80001234","shipmentId":"S1","deliveredAt":"2025-03-14T15:48:00Z","signedBy":"J","items":[{"material":"AF-1002","deliveredQuantity":"2","unit":"EA","damagedQuantity":"0","differenceReason":"none"}]}`,
	"shipments":          `{"shipmentId":"S1","mode":"TL","carrierScac":"XMPL","billOfLading":"B","proNumber":"P","stops":[{"sequence":1,"type":"pickup","location":{"id":"L","name":"N","city":"MEMPHIS","country":"US","postalCode":"38118"},"appointmentAt":"2025-03-14T15:48:00Z"}]}`,
	"tenders":            `{"shipmentId":"S1","carrierScac":"XMPL","action":"offer","at":"2025-03-13T10:00:00Z","reasonCode":"R","rate":{"amount":"100.00","currency":"USD"}}`,
}

// mutations replace a member's value (nil: delete it).
var mutations = []any{nil, json.RawMessage(`null`), json.RawMessage(`1`), json.RawMessage(`-2.5e3`), "x", "", " ", true,
	map[string]any{}, []any{}, []any{json.RawMessage(`1`)}, []any{map[string]any{}}, []any{json.RawMessage(`null`)},
	"12.5", "+1", "2025-03-14T15:48:00Z", "2025-03-14T15:48:00", "2025-03-14", "EA", "each", "pickup", "USD"}

// variants returns body with each member (and each member of its nested
// objects and first array items) replaced by each mutation.
func variants(t *testing.T, body string) []string {
	t.Helper()
	var out []string
	var walk func(m map[string]any, root func() string)
	walk = func(m map[string]any, root func() string) {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			orig := m[k]
			for _, mu := range mutations {
				if mu == nil {
					delete(m, k)
				} else {
					m[k] = mu
				}
				out = append(out, root())
				m[k] = orig
			}
			switch v := orig.(type) {
			case map[string]any:
				walk(v, root)
			case []any:
				if len(v) > 0 {
					if o, ok := v[0].(map[string]any); ok {
						walk(o, root)
					}
				}
			}
		}
	}
	var top map[string]any
	if err := json.Unmarshal([]byte(body), &top); err != nil {
		t.Fatal(err)
	}
	walk(top, func() string {
		b, err := json.Marshal(top)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	})
	return append(out, body, `{}`, `{"eventId":1}`, `{"eventId":"e","eventId":"f"}`, `{"extra":{"deep":[1,{"a":null}]},"eventId":"e2"}`,
		`{"a":1,"a":{"b":2},"unit":"EA"}`)
}

// TestValidateBodyMatchesMap checks the token validator against decoding
// into a map and validateObject, on every single-member mutation of a
// valid body of each resource.
func TestValidateBodyMatchesMap(t *testing.T) {
	taken := 0
	for name, body := range validBodies {
		r := resourceByName(name)
		for _, b := range variants(t, body) {
			probs, eventID, ok := r.validateBody([]byte(b))
			if !ok {
				continue
			}
			taken++
			v, err := decodeAny([]byte(b))
			if err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			m := v.(map[string]any)
			want := r.validate(m, "")
			wantID, _ := m["eventId"].(string)
			if !reflect.DeepEqual(probs, want) || eventID != wantID {
				t.Errorf("%s %s:\ngot  %v %q\nwant %v %q", name, b, probs, eventID, want, wantID)
			}
		}
	}
	if taken < 500 {
		t.Errorf("the token validator took only %d bodies", taken)
	}
	for _, b := range []string{`[]`, `{"unit":"EA","unit":"KG"}`, `{"unit":null,"unit":"EA"}`, `{"eventId":"a","eventId":"b"}`, `{"a":`, `{"a":1}x`, "{\"a\":\"\xff\"}"} {
		if _, _, ok := resourceByName("goods-movements").validateBody([]byte(b)); ok {
			t.Errorf("%s: taken; want it left to the map", b)
		}
	}
	nested := `{"delivery":"d","plant":"p","issuedAt":"2025-03-14T15:48:00Z","items":[{"item":"1","item":"2","material":"m","quantity":"1","unit":"EA"}]}`
	if _, _, ok := resourceByName("goods-issues").validateBody([]byte(nested)); ok {
		t.Errorf("%s: taken; want it left to the map", nested)
	}
	if _, _, ok := resourceByName("freight-invoices").validateBody([]byte(`{}`)); ok {
		t.Error("a resource with a cross-field check was validated from tokens")
	}
}
