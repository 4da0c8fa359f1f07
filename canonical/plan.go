package canonical

import (
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// A plan is what the JSON codec and the validator need to know about a
// message type, read once from its descriptor: field JSON names, kinds,
// nested plans and the (rules) annotations.

type msgPlan struct {
	desc      protoreflect.MessageDescriptor
	fields    []*fieldPlan
	byJSON    map[string]*fieldPlan
	timestamp bool // google.protobuf.Timestamp: an RFC 3339 string in JSON
}

type fieldPlan struct {
	fd    protoreflect.FieldDescriptor
	index int    // position in msgPlan.fields
	name  string // JSON name
	key   []byte // `"name":`
	list  bool
	kind  protoreflect.Kind
	msg   *msgPlan
	enum  *enumPlan
	rules *FieldRules
	// elem are the rules of one element of a repeated field: max_len and
	// required apply to the list, format and sign to each element.
	elem *FieldRules
}

const timestampName = "google.protobuf.Timestamp"

var (
	plansMu sync.Mutex
	plans   = map[protoreflect.FullName]*msgPlan{}
)

func planOf(md protoreflect.MessageDescriptor) *msgPlan {
	plansMu.Lock()
	defer plansMu.Unlock()
	return planOfLocked(md)
}

func planOfLocked(md protoreflect.MessageDescriptor) *msgPlan {
	if p, ok := plans[md.FullName()]; ok {
		return p
	}
	p := &msgPlan{desc: md, byJSON: map[string]*fieldPlan{}, timestamp: md.FullName() == timestampName}
	plans[md.FullName()] = p // before recursing, for recursive types
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		f := &fieldPlan{
			fd:    fd,
			index: i,
			name:  fd.JSONName(),
			list:  fd.IsList(),
			kind:  fd.Kind(),
		}
		f.key = append(appendJSONString(nil, f.name), ':')
		if r, ok := proto.GetExtension(fd.Options(), E_Rules).(*FieldRules); ok && r != nil {
			f.rules = r
		} else {
			f.rules = &FieldRules{}
		}
		f.elem = &FieldRules{Format: f.rules.GetFormat(), Positive: f.rules.GetPositive(), NonNegative: f.rules.GetNonNegative()}
		switch f.kind {
		case protoreflect.MessageKind, protoreflect.GroupKind:
			f.msg = planOfLocked(fd.Message())
		case protoreflect.EnumKind:
			f.enum = enumPlanOf(fd.Enum())
		}
		p.fields = append(p.fields, f)
		p.byJSON[f.name] = f
	}
	return p
}
