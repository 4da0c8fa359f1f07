// Package wire is the agent→relay batch format: the MQTT topics, the user
// properties of a batch PUBLISH and the encoding of its payload.
//
// A batch carries consecutive events of one spool stream: events First..Last
// of (epoch, lane, stream). Its payload is a list of records, each an
// unsigned varint length followed by one event in the canonical binary codec,
// zstd-compressed when larger than a threshold. The header travels in MQTT v5
// user properties, so the relay can deduplicate and order a batch without
// opening it.
//
// The relay keeps, per (site, epoch, lane, stream), the highest contiguous
// sequence it stored: a batch at or below it is a duplicate, a batch that
// starts beyond it is a gap, and a batch that overlaps it is stored from the
// first new event on. Agents may therefore re-batch freely after a reconnect.
package wire

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/draylink/dray/canonical"
	"github.com/klauspost/compress/zstd"
)

// Topics.
const (
	topicPrefix    = "dray/v1/"
	eventsSuffix   = "/events"
	commandsSuffix = "/commands"
)

// EventsTopic is the topic a site publishes its batches to.
func EventsTopic(site string) string { return topicPrefix + site + eventsSuffix }

// CommandsTopic is the topic a site subscribes to for downlink commands.
func CommandsTopic(site string) string { return topicPrefix + site + commandsSuffix }

// ParseEventsTopic returns the site of an events topic.
func ParseEventsTopic(topic string) (site string, ok bool) {
	return parseSiteTopic(topic, eventsSuffix)
}

// ParseCommandsTopic returns the site of a commands topic.
func ParseCommandsTopic(topic string) (site string, ok bool) {
	return parseSiteTopic(topic, commandsSuffix)
}

func parseSiteTopic(topic, suffix string) (string, bool) {
	if !strings.HasPrefix(topic, topicPrefix) || !strings.HasSuffix(topic, suffix) {
		return "", false
	}
	site := topic[len(topicPrefix) : len(topic)-len(suffix)]
	if !canonical.ValidSiteID(site) {
		return "", false
	}
	return site, true
}

// User property keys of a batch PUBLISH.
const (
	PropEpoch       = "dray-epoch"
	PropLane        = "dray-lane"
	PropStream      = "dray-stream"
	PropFirst       = "dray-first"
	PropLast        = "dray-last"
	PropCodec       = "dray-codec"
	PropCompression = "dray-compression"
	// PropDroppedThrough announces that the agent's drop policy removed the
	// stream's events up to this sequence: the relay accepts the gap (and
	// records it) instead of refusing it. Optional.
	PropDroppedThrough = "dray-dropped-through"
	// PropExpected is set by the relay on a gap refusal: the sequence it
	// expects next in that stream.
	PropExpected = "dray-expected"
)

// Codec and compression names.
const (
	CodecEventsV1   = "dray.events.pb.v1"
	CompressionZstd = "zstd"
)

// ContentType is the MQTT content type of a batch payload.
const ContentType = "application/vnd.dray.batch"

// Header describes a batch.
type Header struct {
	// Epoch identifies the spool (random, made when the spool is created).
	Epoch string
	// Lane and Stream name the sequence within the spool.
	Lane   canonical.Lane
	Stream uint32
	// First and Last are the sequence numbers of the first and last event.
	First, Last uint64
	// Compressed is set when the payload is zstd-compressed.
	Compressed bool
	// DroppedThrough, when not 0, is the last sequence of the stream that
	// the agent dropped by policy; First must be DroppedThrough+1.
	DroppedThrough uint64
}

// Count is the number of events the header announces.
func (h Header) Count() uint64 { return h.Last - h.First + 1 }

// Property is one MQTT user property.
type Property struct{ Key, Value string }

var laneNames = map[canonical.Lane]string{
	canonical.LaneOperational: "operational",
	canonical.LaneBulk:        "bulk",
}

// LaneName is the wire name of a lane ("operational", "bulk").
func LaneName(l canonical.Lane) string { return laneNames[l] }

// ParseLane reads a wire lane name.
func ParseLane(s string) (canonical.Lane, bool) {
	for l, name := range laneNames {
		if name == s {
			return l, true
		}
	}
	return 0, false
}

// Properties renders the header as user properties.
func (h Header) Properties() []Property {
	props := []Property{
		{PropEpoch, h.Epoch},
		{PropLane, LaneName(h.Lane)},
		{PropStream, strconv.FormatUint(uint64(h.Stream), 10)},
		{PropFirst, strconv.FormatUint(h.First, 10)},
		{PropLast, strconv.FormatUint(h.Last, 10)},
		{PropCodec, CodecEventsV1},
	}
	if h.Compressed {
		props = append(props, Property{PropCompression, CompressionZstd})
	}
	if h.DroppedThrough != 0 {
		props = append(props, Property{PropDroppedThrough, strconv.FormatUint(h.DroppedThrough, 10)})
	}
	return props
}

// HeaderError is a batch header the relay cannot accept.
type HeaderError struct{ Reason string }

func (e *HeaderError) Error() string { return "batch header: " + e.Reason }

// MaxEpochLen bounds the epoch property.
const MaxEpochLen = 64

// ParseHeader reads a header from user properties. Each property must appear
// exactly once (compression at most once); unknown dray- properties are errors.
func ParseHeader(props []Property) (Header, error) {
	var h Header
	seen := map[string]bool{}
	for _, p := range props {
		if !strings.HasPrefix(p.Key, "dray-") {
			continue // other user properties (tracing) are allowed
		}
		if seen[p.Key] {
			return h, &HeaderError{"property " + p.Key + " appears twice"}
		}
		seen[p.Key] = true
		var err error
		switch p.Key {
		case PropEpoch:
			if p.Value == "" || len(p.Value) > MaxEpochLen {
				return h, &HeaderError{fmt.Sprintf("epoch must be 1 to %d bytes", MaxEpochLen)}
			}
			h.Epoch = p.Value
		case PropLane:
			var ok bool
			if h.Lane, ok = ParseLane(p.Value); !ok {
				return h, &HeaderError{fmt.Sprintf("unknown lane %q", p.Value)}
			}
		case PropStream:
			var n uint64
			n, err = strconv.ParseUint(p.Value, 10, 32)
			h.Stream = uint32(n)
		case PropFirst:
			h.First, err = strconv.ParseUint(p.Value, 10, 64)
		case PropLast:
			h.Last, err = strconv.ParseUint(p.Value, 10, 64)
		case PropCodec:
			if p.Value != CodecEventsV1 {
				return h, &HeaderError{fmt.Sprintf("unknown codec %q", p.Value)}
			}
		case PropDroppedThrough:
			h.DroppedThrough, err = strconv.ParseUint(p.Value, 10, 64)
		case PropCompression:
			if p.Value != CompressionZstd {
				return h, &HeaderError{fmt.Sprintf("unknown compression %q", p.Value)}
			}
			h.Compressed = true
		default:
			return h, &HeaderError{"unknown property " + p.Key}
		}
		if err != nil {
			return h, &HeaderError{fmt.Sprintf("property %s: %q is not a number in range", p.Key, p.Value)}
		}
	}
	for _, k := range []string{PropEpoch, PropLane, PropStream, PropFirst, PropLast, PropCodec} {
		if !seen[k] {
			return h, &HeaderError{"missing property " + k}
		}
	}
	if h.First == 0 || h.Last < h.First {
		return h, &HeaderError{fmt.Sprintf("sequence range %d..%d is empty or starts at 0", h.First, h.Last)}
	}
	if seen[PropDroppedThrough] && (h.DroppedThrough == 0 || h.DroppedThrough+1 != h.First) {
		return h, &HeaderError{fmt.Sprintf("dropped-through %d must be the sequence before first %d", h.DroppedThrough, h.First)}
	}
	return h, nil
}

// Codec encodes and decodes batch payloads. It is safe for concurrent use.
type Codec struct {
	threshold int
	enc       *zstd.Encoder
	dec       *zstd.Decoder
}

// DefaultCompressThreshold is the payload size from which zstd is used; smaller payloads are sent as they are (zstd's
// frame overhead and CPU do not pay off for a lone event).
const DefaultCompressThreshold = 2048

// NewCodec makes a codec that compresses payloads of at least threshold
// bytes (0: DefaultCompressThreshold) and refuses to decompress more than
// maxDecoded bytes.
func NewCodec(threshold, maxDecoded int) (*Codec, error) {
	if threshold <= 0 {
		threshold = DefaultCompressThreshold
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("new codec: %w", err)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(uint64(maxDecoded)), zstd.WithDecoderConcurrency(0))
	if err != nil {
		return nil, fmt.Errorf("new codec: %w", err)
	}
	return &Codec{threshold: threshold, enc: enc, dec: dec}, nil
}

// Close releases the codec's decoders.
func (c *Codec) Close() { c.dec.Close() }

// AppendRecord appends one event record (length and bytes) to body.
func AppendRecord(body, event []byte) []byte {
	body = binary.AppendUvarint(body, uint64(len(event)))
	return append(body, event...)
}

// Seal turns a body of records into a payload, compressing it when it is
// large enough, and sets h.Compressed accordingly.
func (c *Codec) Seal(h *Header, body []byte) []byte {
	if len(body) < c.threshold {
		h.Compressed = false
		return body
	}
	h.Compressed = true
	return c.enc.EncodeAll(body, make([]byte, 0, len(body)/3))
}

// PayloadError is a payload that does not match its header.
type PayloadError struct{ Reason string }

func (e *PayloadError) Error() string { return "batch payload: " + e.Reason }

// Open decompresses a payload and splits it into its events, which must
// number exactly h.Count(). The events alias the returned body.
func (c *Codec) Open(h Header, payload []byte) ([][]byte, error) {
	body := payload
	if h.Compressed {
		var err error
		body, err = c.dec.DecodeAll(payload, nil)
		if err != nil {
			return nil, &PayloadError{"zstd: " + err.Error()}
		}
	}
	want := h.Count()
	if want > uint64(len(body)) {
		return nil, &PayloadError{fmt.Sprintf("%d events announced in %d bytes", want, len(body))}
	}
	events := make([][]byte, 0, want)
	for len(body) > 0 {
		n, k := binary.Uvarint(body)
		if k <= 0 || n > uint64(len(body)-k) {
			return nil, &PayloadError{fmt.Sprintf("record %d: bad length", len(events))}
		}
		if n == 0 {
			return nil, &PayloadError{fmt.Sprintf("record %d: empty", len(events))}
		}
		events = append(events, body[k:k+int(n)])
		body = body[k+int(n):]
	}
	if uint64(len(events)) != want {
		return nil, &PayloadError{fmt.Sprintf("%d events in the payload, %d announced", len(events), want)}
	}
	return events, nil
}
