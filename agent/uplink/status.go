package uplink

import (
	"time"

	"github.com/draylink/dray/agent/spool"
)

// Transports, as reported in Status.Transport.
const (
	TransportQUIC = "quic"
	TransportTCP  = "tcp"
)

// Status is a snapshot of the uplink, for metrics, the local status page and
// tests.
type Status struct {
	// Connected is set while an MQTT session with the relay is up;
	// Transport says over what (TransportQUIC or TransportTCP, "" when
	// down).
	Connected bool
	Transport string
	// ReceiveMaximum is the relay's announced window (0 when down).
	ReceiveMaximum int
	// InFlightBatches and InFlightBytes count the batches handed to the
	// connection and not yet answered, and their event bytes (before
	// compression).
	InFlightBatches int
	InFlightBytes   int
	// EventsAcked counts events the relay acknowledged (PUBACK 0x00) since
	// Run started; BatchesSent and BatchesRefused count batches handed to
	// the connection and negative PUBACKs; Connects counts sessions.
	EventsAcked    uint64
	BatchesSent    uint64
	BatchesRefused uint64
	Connects       uint64
	// LastError is the last connection failure or refusal, and when.
	LastError   string
	LastErrorAt time.Time
	// Streams is the send position of every stream with pending events.
	Streams []StreamStatus
}

// StreamStatus is the send position of one spool stream.
type StreamStatus struct {
	spool.StreamID
	Live bool
	// Acked is the last sequence the relay acknowledged contiguously; Next
	// the next sequence to send; End the spool's next sequence (so
	// End-Next events wait to be sent and Next-Acked-1 are in flight).
	Acked, Next, End uint64
	// InFlight counts the stream's batches awaiting a PUBACK.
	InFlight int
	// RetryAt is set while the stream backs off after a refusal.
	RetryAt time.Time
}
