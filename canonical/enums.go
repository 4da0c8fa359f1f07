package canonical

import (
	"strings"
	"sync"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Enum values appear in JSON and in fact keys as their lower-case name
// without the type prefix: ShipmentStatus_SHIPMENT_STATUS_IN_TRANSIT is
// "in_transit". The zero value (UNSPECIFIED) has no name and is never written.

type enumPlan struct {
	names  map[protoreflect.EnumNumber]string
	values map[string]protoreflect.EnumNumber
}

var enumPlans sync.Map // protoreflect.FullName -> *enumPlan

func enumPlanOf(ed protoreflect.EnumDescriptor) *enumPlan {
	if p, ok := enumPlans.Load(ed.FullName()); ok {
		return p.(*enumPlan)
	}
	prefix := upperSnake(string(ed.Name())) + "_"
	p := &enumPlan{
		names:  map[protoreflect.EnumNumber]string{},
		values: map[string]protoreflect.EnumNumber{},
	}
	vals := ed.Values()
	for i := 0; i < vals.Len(); i++ {
		v := vals.Get(i)
		if v.Number() == 0 {
			continue
		}
		name := strings.ToLower(strings.TrimPrefix(string(v.Name()), prefix))
		p.names[v.Number()] = name
		p.values[name] = v.Number()
	}
	actual, _ := enumPlans.LoadOrStore(ed.FullName(), p)
	return actual.(*enumPlan)
}

// upperSnake turns "OrderLineStatus" into "ORDER_LINE_STATUS".
func upperSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' && i > 0 {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

// EnumName returns the canonical name of an enum value ("in_transit"), or ""
// for the zero value and for numbers the schema does not define.
func EnumName(e protoreflect.Enum) string {
	return enumPlanOf(e.Descriptor()).names[e.Number()]
}

// ParseEnumName finds the value of a canonical enum name in the enum of
// example, e.g. ParseEnumName(ShipmentStatus(0), "in_transit").
func ParseEnumName[E interface {
	protoreflect.Enum
	~int32
}](example E, name string) (E, bool) {
	n, ok := enumPlanOf(example.Descriptor()).values[name]
	return E(n), ok
}

// EnumNames lists the canonical names of an enum's values, in number order,
// without the zero value.
func EnumNames(ed protoreflect.EnumDescriptor) []string {
	vals := ed.Values()
	p := enumPlanOf(ed)
	out := make([]string, 0, vals.Len())
	for i := 0; i < vals.Len(); i++ {
		if name, ok := p.names[vals.Get(i).Number()]; ok {
			out = append(out, name)
		}
	}
	return out
}

// Descriptor returns the protobuf descriptor of an event type's data message.
func (t *EventType) Descriptor() protoreflect.MessageDescriptor { return t.desc }
