package canonical_test

import (
	"testing"

	"github.com/draylink/dray/canonical"
)

// typicalEvent is the ~1 KB event the codec budgets are stated for: the 945
// shipped-line status of the fixtures, with correlation and recorded times.
func typicalEvent(b *testing.B) *canonical.Event {
	b.Helper()
	for _, e := range buildSamples() {
		if e.GetType() == "logistics.shipment.shipped" {
			return e
		}
	}
	b.Fatal("no sample shipment.shipped event")
	return nil
}

func BenchmarkBinaryEncodeDecode(b *testing.B) {
	e := typicalEvent(b)
	buf, _ := canonical.MarshalBinary(e)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buf, err := canonical.AppendBinary(buf[:0], e)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := canonical.UnmarshalBinary(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONEncodeStrictDecode(b *testing.B) {
	e := typicalEvent(b)
	buf, _ := canonical.MarshalJSON(e)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buf, err := canonical.AppendJSON(buf[:0], e)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := canonical.UnmarshalJSON(buf); err != nil {
			b.Fatal(err)
		}
	}
}
