package dispatch

import (
	"fmt"
	"testing"

	"github.com/dgraph-io/ristretto/v2/z"
)

// TestBlockBloom: every added key is found; at capacity the false-positive
// rate is near what the filter was sized for.
func TestBlockBloom(t *testing.T) {
	const n = 100_000
	b := newBlockBloom(n, 0.01)
	for i := range n {
		b.add(z.MemHashString(fmt.Sprint("urn:dray:MEM1:wms/", i)))
	}
	for i := range n {
		if !b.has(z.MemHashString(fmt.Sprint("urn:dray:MEM1:wms/", i))) {
			t.Fatalf("key %d added but not found", i)
		}
	}
	fp := 0
	for i := range 2 * n {
		if b.has(z.MemHashString(fmt.Sprint("urn:dray:DAL2:wms/", i))) {
			fp++
		}
	}
	if rate := float64(fp) / (2 * n); rate > 0.02 {
		t.Errorf("false-positive rate %.4f at capacity; sized for 0.01", rate)
	} else {
		t.Logf("false-positive rate %.4f at capacity (sized for 0.01)", rate)
	}
}

// BenchmarkFilterAdd adds keys to a filter of the dispatcher's size, the
// block filter against ristretto's classic one (what it replaced).
//
//	go test ./relay/dispatch/ -run '^$' -bench FilterAdd
func BenchmarkFilterAdd(b *testing.B) {
	keys := make([]uint64, 1<<16)
	for i := range keys {
		keys[i] = z.MemHashString(fmt.Sprint("urn:dray:MEM1:wms/", i))
	}
	b.Run("block", func(b *testing.B) {
		f := newBlockBloom(filterKeys, filterFP)
		i := 0
		for b.Loop() {
			f.add(keys[i&(len(keys)-1)] + uint64(i))
			i++
		}
	})
	b.Run("peer-ristretto-bloom", func(b *testing.B) {
		f := z.NewBloomFilter(filterKeys, filterFP)
		i := 0
		for b.Loop() {
			f.Add(keys[i&(len(keys)-1)] + uint64(i))
			i++
		}
	})
}
