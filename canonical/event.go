package canonical

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/draylink/dray/canonical/localtime"
	"github.com/google/uuid"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Namespaces of the UUIDv5 identifiers. They are part of the contract:
// connectors written in other languages compute the same ids with them
// (docs/ describes the name encoding).
var (
	// NamespaceEventID derives event ids.
	NamespaceEventID = uuid.MustParse("6f1c9e1a-4d1b-5c36-9a0e-2b7d8f3c4a10")
	// NamespaceFact derives idempotency keys.
	NamespaceFact = uuid.MustParse("a3e5d0b2-7c41-5f88-8b19-5e0c6d2f7a93")
)

// EventID is the deterministic id of an event: the UUIDv5 of (site, source,
// source record key, source version). Re-reading the same record version
// yields the same id, so a rewound source cannot create a duplicate.
func EventID(site, source, recordKey, recordVersion string) string {
	return uuid.NewSHA1(NamespaceEventID, nameOf(site, source, recordKey, recordVersion)).String()
}

// IdempotencyKey names a business fact: the UUIDv5 of its parts, e.g.
// ("shipment/SHP25031407", "departed_pickup", "2025-03-14T20:48Z"). The same
// departure reported by the WMS and by an X12 214 gets one key.
func IdempotencyKey(parts ...string) string {
	return uuid.NewSHA1(NamespaceFact, nameOf(parts...)).String()
}

// nameOf encodes parts unambiguously: each part as "<byte length>:<bytes>",
// concatenated. ("a|b","c") and ("a","b|c") thus never collide.
func nameOf(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += len(p) + 4
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = strconv.AppendInt(b, int64(len(p)), 10)
		b = append(b, ':')
		b = append(b, p...)
	}
	return b
}

// FactTimeLayout is the precision at which occurrence times enter fact keys:
// sources report the same fact with different second and sub-second detail
// (an X12 214 carries minutes), so keys use minutes in UTC.
const FactTimeLayout = "2006-01-02T15:04Z"

// Origin is one source of one site.
type Origin struct {
	// SiteID is the site the agent runs at, e.g. "MEM1".
	SiteID string
	// Source is the URI of the producing source, e.g. "urn:dray:MEM1:wms-db".
	Source string
	// SourceSystem names the kind of source, e.g. "wms.db" or "edi.x12.214".
	SourceSystem string
}

// Record identifies the source record an event was made from.
type Record struct {
	// Key is the record's key in its source (a primary key, a file's
	// interchange and set control numbers, a CSV movement id).
	Key string
	// Version distinguishes versions of the same record (a row version, an
	// update timestamp, a content hash); empty for immutable records.
	Version string
	// Ref locates the record for humans, e.g. "ISA13=000007731;ST02=0002".
	Ref string
}

// EventOption sets an optional envelope attribute in NewEvent.
type EventOption func(*Event)

// WithRecordedTime sets when the source recorded the event.
func WithRecordedTime(t time.Time) EventOption {
	return func(e *Event) { e.RecordedTime = timestamppb.New(t) }
}

// WithReceivedTime sets when the agent read the event from its source.
func WithReceivedTime(t time.Time) EventOption {
	return func(e *Event) { e.ReceivedTime = timestamppb.New(t) }
}

// WithCorrelation sets the end-to-end flow id, e.g. "order:ACME:SO-778812".
func WithCorrelation(id string) EventOption { return func(e *Event) { e.CorrelationId = id } }

// WithCausation sets the id of the event that caused this one.
func WithCausation(id string) EventOption { return func(e *Event) { e.CausationId = id } }

// WithIdempotencyKey overrides the key derived by FactKey.
func WithIdempotencyKey(k string) EventOption { return func(e *Event) { e.IdempotencyKey = k } }

// WithPartitionKey overrides the partition key (by default the subject).
func WithPartitionKey(k string) EventOption { return func(e *Event) { e.PartitionKey = k } }

// WithTraceparent sets the W3C trace context.
func WithTraceparent(tp string) EventOption { return func(e *Event) { e.Traceparent = tp } }

// NewEvent builds a complete event for data that occurred at occurred and
// validates it. The id comes from the origin and the record; type, subject,
// partition key and lane from data; the idempotency key from FactKey unless
// an option sets it. The occurrence offset is taken from occurred's zone, so
// pass a time in the site's location (see localtime.Resolve).
//
// On invalid input it returns the event together with a *ValidationError
// listing every problem, so a caller can quarantine it with its reasons.
func NewEvent(o Origin, r Record, occurred time.Time, data Data, opts ...EventOption) (*Event, error) {
	if data == nil {
		return nil, errors.New("new event: nil data")
	}
	e := &Event{
		Id:            EventID(o.SiteID, o.Source, r.Key, r.Version),
		Source:        o.Source,
		SiteId:        o.SiteID,
		SourceSystem:  o.SourceSystem,
		SourceRef:     r.Ref,
		SchemaVersion: SchemaVersion,
	}
	if !occurred.IsZero() {
		_, off := occurred.Zone()
		e.Time = timestamppb.New(occurred)
		e.OccurredOffset = localtime.FormatOffset(off)
	}
	e.SetPayload(data)
	e.PartitionKey = partitionKeyOf(data, e.Subject)
	for _, opt := range opts {
		opt(e)
	}
	if e.IdempotencyKey == "" {
		e.IdempotencyKey = FactKey(o.SiteID, data, occurred, e.Id)
	}
	if err := Validate(e); err != nil {
		return e, err
	}
	return e, nil
}

// SetPayload stores data in the event and sets the type and subject that go
// with it.
func (e *Event) SetPayload(d Data) {
	t := TypeOf(d)
	e.ProtoReflect().Set(t.field, protoreflect.ValueOfMessage(d.ProtoReflect()))
	e.Type = t.Name
	e.Subject = SubjectOf(d)
}

// Payload returns the event's data, or nil when it has none.
func (e *Event) Payload() Data {
	m := e.ProtoReflect()
	fd := m.WhichOneof(reg().dataOneof)
	if fd == nil {
		return nil
	}
	return m.Get(fd).Message().Interface().(Data)
}

// Lane returns the lane of the event's type.
func (e *Event) Lane() Lane { return LaneOf(e.GetType()) }

// OccurredAt returns the occurrence time in the offset where it happened
// (UTC when the offset is absent or malformed).
func (e *Event) OccurredAt() time.Time {
	t := e.GetTime().AsTime()
	if off, err := localtime.ParseOffset(e.GetOccurredOffset()); err == nil {
		return t.In(time.FixedZone("", off))
	}
	return t
}

// SubjectOf returns the subject of data: "<kind>/<key>", each key segment
// path-escaped, e.g. "shipment/SHP25031407" or "order/ACME/SO-778812".
func SubjectOf(d Data) string {
	return TypeOf(d).SubjectKind + "/" + d.subjectKey()
}

// key joins path-escaped key segments with "/", leaving empty segments out.
func key(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		if p == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('/')
		}
		b.WriteString(url.PathEscape(p))
	}
	return b.String()
}

func partitionKeyOf(d Data, subject string) string {
	if r, ok := d.(*EventRetracted); ok && r.GetRetractedSubject() != "" {
		// A retraction is ordered with the event it retracts.
		return r.GetRetractedSubject()
	}
	return subject
}

func (x *OrderReceived) subjectKey() string {
	return key(x.GetOrder().GetOwnerId(), x.GetOrder().GetOrderNo())
}
func (x *OrderChanged) subjectKey() string {
	return key(x.GetOrder().GetOwnerId(), x.GetOrder().GetOrderNo())
}
func (x *OrderCancelled) subjectKey() string { return orderRefKey(x.GetOrder()) }
func (x *OrderReleased) subjectKey() string  { return orderRefKey(x.GetOrder()) }
func (x *OrderStatusChanged) subjectKey() string {
	return orderRefKey(x.GetOrder())
}
func (x *OrderLineStatusChanged) subjectKey() string { return orderRefKey(x.GetOrder()) }
func (x *InventoryMoved) subjectKey() string         { return itemKey(x.GetMovement().GetItem()) }
func (x *InventoryStatusChanged) subjectKey() string { return itemKey(x.GetItem()) }
func (x *InventoryCounted) subjectKey() string       { return itemKey(x.GetItem()) }
func (x *InventorySnapshot) subjectKey() string {
	return key(x.GetOwnerId(), x.GetSnapshotId())
}
func (x *HandlingUnitPacked) subjectKey() string   { return key(x.GetHandlingUnit().GetSscc()) }
func (x *HandlingUnitUnpacked) subjectKey() string { return key(x.GetSscc()) }
func (x *HandlingUnitLoaded) subjectKey() string   { return key(x.GetSscc()) }
func (x *ReceiptExpected) subjectKey() string {
	return key(x.GetReceipt().GetOwnerId(), x.GetReceipt().GetReceiptNo())
}
func (x *ReceiptCompleted) subjectKey() string {
	return key(x.GetReceipt().GetOwnerId(), x.GetReceipt().GetReceiptNo())
}
func (x *ShipmentTendered) subjectKey() string        { return key(x.GetShipment().GetShipmentId()) }
func (x *ShipmentTenderResponded) subjectKey() string { return key(x.GetShipmentId()) }
func (x *ShipmentShipped) subjectKey() string         { return key(x.GetShipment().GetShipmentId()) }
func (x *ShipmentStatusChanged) subjectKey() string   { return key(x.GetShipmentId()) }
func (x *DeliveryConfirmed) subjectKey() string       { return key(x.GetDelivery().GetShipmentId()) }
func (x *FreightChargeInvoiced) subjectKey() string {
	return key(x.GetCarrier().GetScac(), x.GetInvoiceNo())
}
func (x *EventRetracted) subjectKey() string { return key(x.GetRetractedEventId()) }
func (x *IntegrationAcknowledged) subjectKey() string {
	return key(x.GetSenderId(), x.GetInterchangeControlNumber())
}

func orderRefKey(o *OrderRef) string { return key(o.GetOwnerId(), o.GetOrderNo()) }
func itemKey(i *ItemRef) string      { return key(i.GetOwnerId(), i.GetSku()) }
