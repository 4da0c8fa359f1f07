package canonical

import (
	"fmt"
	"sort"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TypePrefix starts every event type name.
const TypePrefix = "logistics."

// SchemaVersion is the semantic version of the payload schemas in this
// package; it is written to every event's schemaversion attribute.
const SchemaVersion = "1.0.0"

// Short names for the lanes (ARCHITECTURE.md, guarantee 8).
const (
	LaneOperational = Lane_LANE_OPERATIONAL
	LaneBulk        = Lane_LANE_BULK
)

// EventType describes one event type: its name, the lane it travels in and
// the kind of aggregate its subject names.
type EventType struct {
	// Name is the full CloudEvents type, e.g. "logistics.shipment.status_changed".
	Name string
	// Lane is the spool lane of the type.
	Lane Lane
	// SubjectKind is the first segment of the subject, e.g. "shipment".
	SubjectKind string

	field protoreflect.FieldDescriptor   // the member of Event's data oneof
	desc  protoreflect.MessageDescriptor // the data message
}

// Short returns the name without the "logistics." prefix.
func (t *EventType) Short() string { return t.Name[len(TypePrefix):] }

// New returns an empty data message of this type.
func (t *EventType) New() Data {
	return newData(t)
}

// Data is the payload of an event: one of the messages marked with the
// (event) option in the .proto files, e.g. *ShipmentStatusChanged.
type Data interface {
	proto.Message
	// subjectKey returns the aggregate key after "<kind>/".
	subjectKey() string
}

// registry is what the package derives from the descriptors. It is built on
// first use: the generated code registers descriptors in init functions,
// which run after package-level variables are initialised.
type registry struct {
	eventDesc   protoreflect.MessageDescriptor
	dataOneof   protoreflect.OneofDescriptor
	byName      map[string]*EventType
	byMsg       map[protoreflect.FullName]*EventType
	inOrder     []*EventType
	sortedNames []string
}

var reg = sync.OnceValue(buildRegistry)

func buildRegistry() *registry {
	r := &registry{
		eventDesc: (&Event{}).ProtoReflect().Descriptor(),
		byName:    map[string]*EventType{},
		byMsg:     map[protoreflect.FullName]*EventType{},
	}
	r.dataOneof = r.eventDesc.Oneofs().ByName("data")
	fields := r.dataOneof.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		md := fd.Message()
		opts, _ := proto.GetExtension(md.Options(), E_Event).(*EventOptions)
		if opts == nil || opts.GetType() == "" || opts.GetLane() == Lane_LANE_UNSPECIFIED || opts.GetSubject() == "" {
			panic(fmt.Sprintf("canonical: %s lacks a complete (event) option", md.FullName()))
		}
		t := &EventType{
			Name:        TypePrefix + opts.GetType(),
			Lane:        opts.GetLane(),
			SubjectKind: opts.GetSubject(),
			field:       fd,
			desc:        md,
		}
		if _, dup := r.byName[t.Name]; dup {
			panic("canonical: duplicate event type " + t.Name)
		}
		r.byName[t.Name] = t
		r.byMsg[md.FullName()] = t
		r.inOrder = append(r.inOrder, t)
		r.sortedNames = append(r.sortedNames, t.Name)
	}
	sort.Strings(r.sortedNames)
	return r
}

// Types returns every event type, in the order of the schema.
func Types() []*EventType {
	out := make([]*EventType, len(reg().inOrder))
	copy(out, reg().inOrder)
	return out
}

// TypeNames returns every event type name, sorted.
func TypeNames() []string {
	out := make([]string, len(reg().sortedNames))
	copy(out, reg().sortedNames)
	return out
}

// LookupType finds an event type by its full name ("logistics.…").
func LookupType(name string) (*EventType, bool) {
	t, ok := reg().byName[name]
	return t, ok
}

// TypeOf returns the event type of a data message.
func TypeOf(d Data) *EventType {
	return reg().byMsg[d.ProtoReflect().Descriptor().FullName()]
}

// LaneOf returns the lane of an event type name, or LANE_UNSPECIFIED for an
// unknown type.
func LaneOf(typeName string) Lane {
	if t, ok := reg().byName[typeName]; ok {
		return t.Lane
	}
	return Lane_LANE_UNSPECIFIED
}

func newData(t *EventType) Data {
	return (&Event{}).ProtoReflect().NewField(t.field).Message().Interface().(Data)
}
