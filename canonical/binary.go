package canonical

import "fmt"

// The binary form of an event is its protobuf encoding, produced by the
// generated fast-path marshaller (vtprotobuf). Unknown fields from a newer
// schema are kept, so a relay on an older version passes them through.
//
// Decoding takes events from a memory pool and makes all of an event's
// strings share one private copy of the input, so a decode costs a handful of
// allocations instead of one per field. Callers that are done with an event
// may hand it back with Release; those that keep it simply never do.

// MarshalBinary encodes an event in the compact binary codec.
func MarshalBinary(e *Event) ([]byte, error) {
	b, err := e.MarshalVT()
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	return b, nil
}

// AppendBinary appends the binary form of e to buf.
func AppendBinary(buf []byte, e *Event) ([]byte, error) {
	n := e.SizeVT()
	start := len(buf)
	if cap(buf)-start < n {
		grown := make([]byte, start, start+n)
		copy(grown, buf)
		buf = grown
	}
	buf = buf[:start+n]
	if _, err := e.MarshalToSizedBufferVT(buf[start:]); err != nil {
		return buf[:start], fmt.Errorf("encode event: %w", err)
	}
	return buf, nil
}

// UnmarshalBinary decodes an event from the binary codec. It checks the
// encoding, not the model: call Validate for that. b is not retained.
func UnmarshalBinary(b []byte) (*Event, error) {
	// The event's strings point into owned, which nothing else references
	// and nothing ever writes to again: that makes the aliasing safe.
	owned := make([]byte, len(b))
	copy(owned, b)
	e := EventFromVTPool()
	if err := e.UnmarshalVTUnsafe(owned); err != nil {
		e.ReturnToVTPool()
		return nil, fmt.Errorf("decode event: %w", err)
	}
	return e, nil
}

// Release hands a decoded event back to the pool. The event, and everything
// taken from it (sub-messages, slices), must not be used afterwards.
func Release(e *Event) { e.ReturnToVTPool() }
