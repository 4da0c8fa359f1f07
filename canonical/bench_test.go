package canonical_test

import (
	"testing"

	"github.com/draylink/dray/canonical"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// benchEvents are the events the codec budgets are measured on: "typical"
// is a ~1 KB (JSON) order-line status from a 945 with every envelope
// attribute set; "large" is the 3 KB goods issue of the fixtures' shipment
// (three lines, two pallets, two stops).
func benchEvents(b *testing.B) map[string]*canonical.Event {
	b.Helper()
	out := map[string]*canonical.Event{}
	for _, e := range buildSamples() {
		switch e.GetType() {
		case "logistics.order_line.status_changed":
			e.RecordedTime = e.GetTime()
			e.ReceivedTime = e.GetTime()
			e.CausationId = "a3e5d0b2-7c41-5f88-8b19-5e0c6d2f7a93"
			e.Traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
			e.GetOrderLineStatusChanged().Item.Description = "ACME SPRING WATER 24x500ML CASE"
			out["typical"] = e
		case "logistics.shipment.shipped":
			out["large"] = e
		}
	}
	return out
}

func sizes(b *testing.B, e *canonical.Event) {
	bin, _ := canonical.MarshalBinary(e)
	js, _ := canonical.MarshalJSON(e)
	b.ReportMetric(float64(len(bin)), "binary-bytes")
	b.ReportMetric(float64(len(js)), "json-bytes")
}

// BenchmarkBinaryEncodeDecode is the pipeline pattern: encode into a reused
// buffer, decode, release the decoded event to the pool.
func BenchmarkBinaryEncodeDecode(b *testing.B) {
	for name, e := range benchEvents(b) {
		b.Run(name, func(b *testing.B) {
			sizes(b, e)
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				var err error
				buf, err = canonical.AppendBinary(buf[:0], e)
				if err != nil {
					b.Fatal(err)
				}
				d, err := canonical.UnmarshalBinary(buf)
				if err != nil {
					b.Fatal(err)
				}
				canonical.Release(d)
			}
		})
	}
}

// BenchmarkJSONEncodeStrictDecode: CloudEvents JSON out and strictly back in.
func BenchmarkJSONEncodeStrictDecode(b *testing.B) {
	for name, e := range benchEvents(b) {
		b.Run(name, func(b *testing.B) {
			sizes(b, e)
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				var err error
				buf, err = canonical.AppendJSON(buf[:0], e)
				if err != nil {
					b.Fatal(err)
				}
				d, err := canonical.UnmarshalJSON(buf)
				if err != nil {
					b.Fatal(err)
				}
				canonical.Release(d)
			}
		})
	}
}

// BenchmarkPeerProtoReflect is protobuf-go's reflection path on the same
// events, measured in the same run (the reference figure).
func BenchmarkPeerProtoReflect(b *testing.B) {
	for name, e := range benchEvents(b) {
		b.Run(name, func(b *testing.B) {
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				var err error
				buf, err = proto.MarshalOptions{}.MarshalAppend(buf[:0], e)
				if err != nil {
					b.Fatal(err)
				}
				var d canonical.Event
				if err := proto.Unmarshal(buf, &d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPeerProtoJSON is protobuf-go's reflective JSON (protojson, which
// is not CloudEvents-shaped and not as strict) on the same events.
func BenchmarkPeerProtoJSON(b *testing.B) {
	for name, e := range benchEvents(b) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				buf, err := protojson.Marshal(e)
				if err != nil {
					b.Fatal(err)
				}
				var d canonical.Event
				if err := protojson.Unmarshal(buf, &d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkValidate measures the full model check of one event.
func BenchmarkValidate(b *testing.B) {
	e := benchEvents(b)["typical"]
	b.ReportAllocs()
	for b.Loop() {
		if err := canonical.Validate(e); err != nil {
			b.Fatal(err)
		}
	}
}
