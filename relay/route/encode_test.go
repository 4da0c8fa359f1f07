package route

import (
	"encoding/json"
	"math"
	"math/big"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/itchyny/gojq"
)

// TestAppendJQMatchesGojq: request bodies keep gojq.Marshal's bytes (with
// and without drop_nulls, which must equal marshalling the value with its
// null members removed) over every edge value and 20,000 generated ones.
func TestAppendJQMatchesGojq(t *testing.T) {
	edges := []any{nil, true, false, 0, -1, math.MaxInt64, math.MinInt64, 0.0, math.Copysign(0, -1), 1.5, 1e-7, 1e-6, 1e20, 1e21, 123456789e-15,
		math.NaN(), math.Inf(1), math.Inf(-1), math.MaxFloat64, math.SmallestNonzeroFloat64, 5e-324, 1e-9,
		new(big.Int).Lsh(big.NewInt(1), 100), new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(3), 90)), json.Number("12.500"), json.Number("-0"),
		"", "plain", `a"b\c`, "\b\f\n\r\t\x00\x1f\x7f", "<>&", "\u2028\u2029", "é😀", "bad\xff\xfe", "\xed\xa0\x80",
		[]any{}, map[string]any{}, []any{nil, nil}, map[string]any{"n": nil}, map[string]any{"a": []any{nil, map[string]any{"z": nil, "y": 1}}}}
	for c := range 256 {
		edges = append(edges, string([]byte{byte(c)}), "k"+string([]byte{byte(c)}))
	}
	check := func(v any) {
		t.Helper()
		want, _ := gojq.Marshal(v)
		if got := appendJQ(nil, v, false); string(got) != string(want) {
			t.Fatalf("%#v: got %s, want %s", v, got, want)
		}
		want, _ = gojq.Marshal(dropNulls(v))
		if got := appendJQ([]byte("x"), v, true); string(got) != "x"+string(want) {
			t.Fatalf("%#v with drop_nulls: got %s, want %s", v, got[1:], want)
		}
	}
	for _, v := range edges {
		check(v)
		check(map[string]any{"v": v, "w": []any{v}})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		check(genJQ(rng, 4))
	}
}

// genJQ generates a jq value of at most depth levels.
func genJQ(rng *rand.Rand, depth int) any {
	k := rng.IntN(11)
	if depth == 0 {
		k %= 7
	}
	switch k {
	case 0:
		return nil
	case 1:
		return rng.IntN(2) == 0
	case 2:
		return rng.Int() - rng.Int()
	case 3:
		return math.Float64frombits(rng.Uint64())
	case 4:
		return rng.NormFloat64() * math.Pow(10, float64(rng.IntN(60)-30))
	case 5:
		return json.Number(strings.TrimRight(big.NewFloat(rng.Float64()*1000).Text('f', rng.IntN(5)), "."))
	case 6:
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return string(b)
	case 7, 8:
		m := map[string]any{}
		for i := range rng.IntN(20) {
			m[string(rune('a'+rng.IntN(26)))+string(rune('A'+i))] = genJQ(rng, depth-1)
		}
		return m
	default:
		a := make([]any, rng.IntN(5))
		for i := range a {
			a[i] = genJQ(rng, depth-1)
		}
		return a
	}
}

func BenchmarkAppendJQ(b *testing.B) {
	v := map[string]any{"movementType": "311", "material": "SKU-0042", "plant": "MEM1", "storageLocation": "A-1",
		"toStorageLocation": "B-2", "batch": nil, "quantity": json.Number("1"), "unit": "EA",
		"occurredAt": "2026-01-01T00:42:00Z", "reference": "42"}
	b.Run("appendJQ", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = appendJQ(make([]byte, 0, renderBuf), v, true)
		}
	})
	b.Run("peer-dropnulls-gojq-marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = gojq.Marshal(dropNulls(v))
		}
	})
}

// dropNulls removes null members of objects, at every depth. It copies
// only what it changes: the transform's output may share values with the
// event's document.
func dropNulls(v any) any {
	switch x := v.(type) {
	case map[string]any:
		type member struct {
			k string
			v any
		}
		var kept []member
		changed := false
		for k, e := range x {
			if e == nil {
				changed = true
				continue
			}
			ne := dropNulls(e)
			changed = changed || !same(ne, e)
			kept = append(kept, member{k, ne})
		}
		if changed {
			out := make(map[string]any, len(kept))
			for _, m := range kept {
				out[m.k] = m.v
			}
			return out
		}
	case []any:
		var out []any
		for i, e := range x {
			ne := dropNulls(e)
			if out == nil && !same(ne, e) {
				out = make([]any, len(x))
				copy(out, x[:i])
			}
			if out != nil {
				out[i] = ne
			}
		}
		if out != nil {
			return out
		}
	}
	return v
}

// same reports whether dropNulls returned its argument unchanged (maps
// and slices by identity).
func same(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		return ok && len(x) == len(y) && (len(x) == 0 || reflect.ValueOf(x).UnsafePointer() == reflect.ValueOf(y).UnsafePointer())
	case []any:
		y, ok := b.([]any)
		return ok && len(x) == len(y) && (len(x) == 0 || &x[0] == &y[0])
	}
	return true
}
