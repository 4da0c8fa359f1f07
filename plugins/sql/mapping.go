package sql

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/canonical/localtime"
	"github.com/draylink/dray/canonical/units"
	"github.com/shopspring/decimal"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// mapping turns a row into the data of one event type, as configured: the
// mapping is data, compiled once against the event type's descriptor, so
// a target that does not exist or a code that is not canonical is a
// configuration error, not a surprise at run time.
type mapping struct {
	et       *canonical.EventType
	occurred *timePlan
	recorded *timePlan
	fieldSet
}

// fieldSet is the fields mapped into one message: the event's data, or
// one element of a list of messages (each).
type fieldSet struct {
	fields    []*fieldPlan
	parents   [][]protoreflect.FieldDescriptor // the messages holding the targets, each once
	locations [][]protoreflect.FieldDescriptor // Location messages whose siteId defaults to the site
	// holders are the messages on the way to every target, deepest
	// first: one left empty (all its columns NULL) is removed, so that a
	// NULL location column means "no location", not an empty one.
	holders [][]protoreflect.FieldDescriptor
}

// valuePlan is where one value comes from.
type valuePlan struct {
	col      int // index in the row; -1 for a constant
	column   string
	path     []string // into a JSON column
	constant *string
	def      *string
	trim     bool
	vmap     map[string]string
}

type kind int

const (
	kString kind = iota
	kEnum
	kBool
	kInt
	kUint
	kFloat
	kTime
	kQuantity
	kMoney
	kEach // a list of messages filled from a JSON array
)

type fieldPlan struct {
	target   string
	fds      []protoreflect.FieldDescriptor
	parent   int // index in mapping.parents; -1 for the root
	kind     kind
	list     bool
	split    string
	bits     int
	src      valuePlan
	enum     map[string]protoreflect.EnumNumber
	rules    *canonical.FieldRules
	time     *timePlan
	unit     *valuePlan // uom or currency
	toBase   *toBasePlan
	received []protoreflect.FieldDescriptor
	each     *fieldSet // kEach: the fields of one element
}

type timePlan struct {
	src    valuePlan
	mode   string
	layout string
}

type toBasePlan struct {
	uom string
	per *valuePlan
}

// Time modes.
var timeModes = []string{"instant", "local", "utc", "unix", "unix_ms"}

// columns registers the source columns a mapping reads.
type columns interface {
	use(name string) int
}

// compileMapping checks an event mapping and compiles it.
func compileMapping(ps *problems, path string, em EventMapping, cols columns) *mapping {
	et, ok := canonical.LookupType(em.EventType)
	if !ok {
		ps.add(path+".event_type", "want a canonical event type such as logistics.inventory.moved, got %q", em.EventType)
		return nil
	}
	if et.Name == retractedType {
		ps.add(path+".event_type", "event.retracted comes from a tombstones table, not from a mapping")
	}
	m := &mapping{et: et}
	if em.Occurred == nil {
		ps.add(path+".occurred", "required: the time the event happened")
	} else {
		m.occurred = compileTime(ps, path+".occurred", *em.Occurred, cols)
	}
	if em.Recorded != nil {
		m.recorded = compileTime(ps, path+".recorded", *em.Recorded, cols)
	}
	if len(em.Fields) == 0 {
		ps.add(path+".fields", "required: at least one field")
	}
	m.fieldSet = compileFieldSet(ps, path+".fields", et.Descriptor(), em.Fields, cols)
	return m
}

// compileFieldSet compiles the fields mapped into a message of type md.
func compileFieldSet(ps *problems, path string, md protoreflect.MessageDescriptor, fields map[string]Field, cols columns) fieldSet {
	var m fieldSet
	locs := map[string][]protoreflect.FieldDescriptor{}
	targeted := map[string]bool{}
	for _, target := range slices.Sorted(maps.Keys(fields)) {
		fp := compileField(ps, path+"."+target, md, target, fields[target], cols)
		if fp == nil {
			continue
		}
		m.fields = append(m.fields, fp)
		fp.parent = -1
		if len(fp.fds) > 1 {
			pp := jsonPath(fp.fds[:len(fp.fds)-1])
			fp.parent = slices.IndexFunc(m.parents, func(p []protoreflect.FieldDescriptor) bool { return jsonPath(p) == pp })
			if fp.parent < 0 {
				m.parents = append(m.parents, fp.fds[:len(fp.fds)-1])
				fp.parent = len(m.parents) - 1
			}
		}
		targeted[jsonPath(fp.fds)] = true
		if fp.received != nil {
			targeted[jsonPath(fp.received)] = true
		}
		for _, fds := range [][]protoreflect.FieldDescriptor{fp.fds, fp.received} {
			for i := range fds {
				if fds[i].Kind() == protoreflect.MessageKind && fds[i].Message().FullName() == locationName {
					locs[jsonPath(fds[:i+1])] = fds[:i+1]
				}
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(locs)) {
		if !targeted[k+".siteId"] {
			m.locations = append(m.locations, locs[k])
		}
	}
	holders := map[string][]protoreflect.FieldDescriptor{}
	for _, fp := range m.fields {
		for _, fds := range [][]protoreflect.FieldDescriptor{fp.fds, fp.received} {
			for i := 1; i < len(fds); i++ {
				holders[jsonPath(fds[:i])] = fds[:i]
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(holders)) {
		m.holders = append(m.holders, holders[k])
	}
	slices.SortStableFunc(m.holders, func(a, b []protoreflect.FieldDescriptor) int { return len(b) - len(a) })
	return m
}

// dropEmpty removes the holders left without a field set, deepest first.
func (m *fieldSet) dropEmpty(root protoreflect.Message) {
	for _, fds := range m.holders {
		if !has(root, fds) {
			continue
		}
		container := root
		for _, fd := range fds[:len(fds)-1] {
			container = container.Get(fd).Message()
		}
		last := fds[len(fds)-1]
		empty := true
		container.Get(last).Message().Range(func(protoreflect.FieldDescriptor, protoreflect.Value) bool {
			empty = false
			return false
		})
		if empty {
			container.Clear(last)
		}
	}
}

const (
	locationName  protoreflect.FullName = "dray.canonical.v1.Location"
	quantityName  protoreflect.FullName = "dray.canonical.v1.Quantity"
	moneyName     protoreflect.FullName = "dray.canonical.v1.Money"
	timestampName protoreflect.FullName = "google.protobuf.Timestamp"
)

func jsonPath(fds []protoreflect.FieldDescriptor) string {
	parts := make([]string, len(fds))
	for i, fd := range fds {
		parts[i] = fd.JSONName()
	}
	return strings.Join(parts, ".")
}

// resolve finds a target ("movement.item.sku", JSON or proto names) in md.
func resolve(md protoreflect.MessageDescriptor, target string) ([]protoreflect.FieldDescriptor, error) {
	return resolveTarget(md, target, false)
}

// resolveTarget is resolve; with each, the target is a list of messages
// (filled by Each) rather than a value.
func resolveTarget(md protoreflect.MessageDescriptor, target string, each bool) ([]protoreflect.FieldDescriptor, error) {
	var out []protoreflect.FieldDescriptor
	parts := strings.Split(target, ".")
	for i, part := range parts {
		fd := md.Fields().ByJSONName(part)
		if fd == nil {
			fd = md.Fields().ByName(protoreflect.Name(part))
		}
		if fd == nil {
			var names []string
			for j := 0; j < md.Fields().Len(); j++ {
				names = append(names, md.Fields().Get(j).JSONName())
			}
			return nil, fmt.Errorf("%s has no field %q (it has %s)", md.Name(), part, strings.Join(names, ", "))
		}
		out = append(out, fd)
		last := i == len(parts)-1
		leafMsg := fd.Kind() == protoreflect.MessageKind && isLeafMessage(fd.Message().FullName())
		switch {
		case !last && (fd.Kind() != protoreflect.MessageKind || leafMsg):
			return nil, fmt.Errorf("%s is not a message with fields", strings.Join(parts[:i+1], "."))
		case !last && fd.IsList():
			return nil, fmt.Errorf("%s is a list of messages: fill it from a JSON array with each", strings.Join(parts[:i+1], "."))
		case last && each && (!fd.IsList() || fd.Kind() != protoreflect.MessageKind || leafMsg):
			return nil, fmt.Errorf("%s is not a list of messages: each applies to lists of messages such as order.lines", target)
		case last && each:
		case last && fd.IsList() && fd.Kind() == protoreflect.MessageKind:
			return nil, fmt.Errorf("%s is a list of messages: fill it from a JSON array with each", target)
		case last && fd.Kind() == protoreflect.MessageKind && !leafMsg:
			return nil, fmt.Errorf("%s is a message: map its fields, e.g. %s.%s", target, target, fd.Message().Fields().Get(0).JSONName())
		}
		if fd.Kind() == protoreflect.MessageKind {
			md = fd.Message()
		}
	}
	return out, nil
}

func isLeafMessage(n protoreflect.FullName) bool {
	return n == quantityName || n == moneyName || n == timestampName
}

func compileValue(ps *problems, path string, f Field, cols columns) valuePlan {
	v := valuePlan{col: -1, constant: f.Value, def: f.Default, trim: f.Trim, vmap: f.Map}
	switch {
	case f.Column != "" && f.Value != nil:
		ps.add(path, "column and value are exclusive")
	case f.Column == elementColumn:
		if _, ok := cols.(elementColumns); ok {
			v.col, v.column = colElement, "element"
		} else {
			ps.add(path+".column", "%q is not a column", f.Column)
		}
	case f.Column != "":
		if checkIdent(ps, path+".column", f.Column) {
			v.col = cols.use(f.Column)
			v.column = f.Column
		}
	case f.Value == nil:
		ps.add(path, "one of column and value is required")
	}
	if f.Path != "" {
		if f.Column == "" {
			ps.add(path+".path", "needs a column (the JSON column it reads)")
		}
		v.path = strings.Split(f.Path, ".")
		if slices.Contains(v.path, "") {
			ps.add(path+".path", "want a dotted path such as item.sku, got %q", f.Path)
		}
	}
	return v
}

func compileTime(ps *problems, path string, f Field, cols columns) *timePlan {
	tp := &timePlan{src: compileValue(ps, path, f, cols), mode: f.Time, layout: f.Layout}
	if !slices.Contains(timeModes, f.Time) {
		ps.add(path+".time", "required: one of %s", strings.Join(timeModes, ", "))
	}
	if f.Layout != "" && (f.Time == "local" || f.Time == "utc") {
		if _, err := localtime.ParseWall(f.Layout, f.Layout); err != nil && strings.Contains(err.Error(), "carries a zone") {
			ps.add(path+".layout", "a %s time has no zone, but layout %q has one", f.Time, f.Layout)
		}
	}
	extra(ps, path, f, "uom", "currency", "split", "to_base", "received", "map")
	return tp
}

// extra reports settings that do not apply to a field's kind.
func extra(ps *problems, path string, f Field, names ...string) {
	set := map[string]bool{
		"uom": f.UOM != nil, "currency": f.Currency != nil, "split": f.Split != "",
		"to_base": f.ToBase != nil, "received": f.Received != "", "map": f.Map != nil,
		"time": f.Time != "", "layout": f.Layout != "",
	}
	for _, n := range names {
		if set[n] {
			ps.add(path+"."+n, "does not apply to this field")
		}
	}
}

func compileField(ps *problems, path string, md protoreflect.MessageDescriptor, target string, f Field, cols columns) *fieldPlan {
	fds, err := resolveTarget(md, target, f.Each != nil)
	if err != nil {
		ps.add(path, "%v", err)
		return nil
	}
	if f.Each != nil {
		return compileEach(ps, path, target, fds, f, cols)
	}
	leaf := fds[len(fds)-1]
	fp := &fieldPlan{target: target, fds: fds, list: leaf.IsList(), split: f.Split, src: compileValue(ps, path, f, cols)}
	fp.rules, _ = proto.GetExtension(leaf.Options(), canonical.E_Rules).(*canonical.FieldRules)
	if f.Split != "" && !fp.list {
		ps.add(path+".split", "applies to list targets only")
	}
	switch leaf.Kind() {
	case protoreflect.StringKind:
		fp.kind = kString
		extra(ps, path, f, "uom", "currency", "to_base", "received", "time", "layout")
	case protoreflect.EnumKind:
		fp.kind = kEnum
		fp.enum = enumValues(leaf.Enum())
		for _, k := range slices.Sorted(maps.Keys(f.Map)) {
			if _, ok := fp.enum[f.Map[k]]; !ok {
				ps.add(path+".map."+k, "%q is not a %s (want one of %s)", f.Map[k], leaf.Enum().Name(), strings.Join(canonical.EnumNames(leaf.Enum()), ", "))
			}
		}
		if f.Value != nil && f.Map == nil {
			if _, ok := fp.enum[strings.ToLower(*f.Value)]; !ok {
				ps.add(path+".value", "%q is not a %s (want one of %s)", *f.Value, leaf.Enum().Name(), strings.Join(canonical.EnumNames(leaf.Enum()), ", "))
			}
		}
		extra(ps, path, f, "uom", "currency", "to_base", "received", "time", "layout")
	case protoreflect.BoolKind:
		fp.kind = kBool
		extra(ps, path, f, "uom", "currency", "to_base", "received", "time", "layout")
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		fp.kind, fp.bits = kInt, 32
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		fp.kind, fp.bits = kInt, 64
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		fp.kind, fp.bits = kUint, 32
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		fp.kind, fp.bits = kUint, 64
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		fp.kind = kFloat
	case protoreflect.MessageKind:
		switch leaf.Message().FullName() {
		case timestampName:
			fp.kind = kTime
			fp.time = compileTime(ps, path, f, cols)
			fp.src = fp.time.src
		case quantityName:
			fp.kind = kQuantity
			if f.UOM == nil {
				ps.add(path+".uom", "required for a quantity: {column: …} or {value: \"EA\"}")
			} else {
				u := compileValue(ps, path+".uom", *f.UOM, cols)
				fp.unit = &u
				for _, k := range slices.Sorted(maps.Keys(f.UOM.Map)) {
					if !units.Known(f.UOM.Map[k]) {
						ps.add(path+".uom.map."+k, "%q is not a UN/ECE Rec 20 or Rec 21 (X…) unit code", f.UOM.Map[k])
					}
				}
				if f.UOM.Value != nil && f.UOM.Map == nil && !units.Known(*f.UOM.Value) {
					ps.add(path+".uom.value", "%q is not a UN/ECE Rec 20 or Rec 21 (X…) unit code", *f.UOM.Value)
				}
			}
			if f.ToBase != nil {
				fp.toBase = &toBasePlan{uom: f.ToBase.UOM}
				if !units.Known(f.ToBase.UOM) {
					ps.add(path+".to_base.uom", "%q is not a unit code", f.ToBase.UOM)
				}
				if f.ToBase.QtyInBase != nil {
					v := compileValue(ps, path+".to_base.qty_in_base", *f.ToBase.QtyInBase, cols)
					fp.toBase.per = &v
				}
			}
			if f.Received != "" {
				r, err := resolve(md, f.Received)
				switch {
				case err != nil:
					ps.add(path+".received", "%v", err)
				case r[len(r)-1].Kind() != protoreflect.MessageKind || r[len(r)-1].Message().FullName() != quantityName:
					ps.add(path+".received", "%s is not a quantity", f.Received)
				case f.ToBase == nil:
					ps.add(path+".received", "needs to_base (otherwise the quantity as read is the quantity)")
				default:
					fp.received = r
				}
			}
			extra(ps, path, f, "currency", "time", "layout", "map")
		case moneyName:
			fp.kind = kMoney
			if f.Currency == nil {
				ps.add(path+".currency", "required for money: {column: …} or {value: \"USD\"}")
			} else {
				u := compileValue(ps, path+".currency", *f.Currency, cols)
				fp.unit = &u
			}
			extra(ps, path, f, "uom", "to_base", "received", "time", "layout", "map")
		}
	default:
		ps.add(path, "field kind %s is not supported by the mapping", leaf.Kind())
	}
	if fp.kind != kTime && fp.kind != kQuantity && fp.kind != kMoney {
		extra(ps, path, f, "time", "layout")
	}
	return fp
}

// elementColumn stands, in each's fields, for the element of the JSON
// array (read by path); colElement is its index in a row.
const (
	elementColumn = "$element"
	colElement    = -2
)

// elementColumns are the columns each's fields read: the element, or the
// row's own columns.
type elementColumns struct{ row columns }

func (c elementColumns) use(name string) int { return c.row.use(name) }

// compileEach compiles a list-of-messages target and its element fields.
func compileEach(ps *problems, path, target string, fds []protoreflect.FieldDescriptor, f Field, cols columns) *fieldPlan {
	fp := &fieldPlan{target: target, fds: fds, kind: kEach, src: compileValue(ps, path, f, cols)}
	if f.Value != nil {
		ps.add(path+".value", "each reads a JSON array from a column, not a constant")
	}
	extra(ps, path, f, "uom", "currency", "to_base", "received", "time", "layout", "map", "split", "trim", "default")
	if len(f.Each) == 0 {
		ps.add(path+".each", "required: at least one field of an element")
	}
	elem := map[string]Field{}
	for _, k := range slices.Sorted(maps.Keys(f.Each)) {
		if e, ok := elementField(ps, path+".each."+k, f.Each[k]); ok {
			elem[k] = e
		}
	}
	set := compileFieldSet(ps, path+".each", fds[len(fds)-1].Message(), elem, elementColumns{cols})
	fp.each = &set
	return fp
}

// elementField turns a field of each (a path into the element, or a
// constant) into a field of the element row, with its unit, currency and
// pack size alike.
func elementField(ps *problems, path string, f Field) (Field, bool) {
	ok := true
	switch {
	case f.Column != "":
		// A column of the row, e.g. the order's owner on every line.
	case f.Each != nil:
		ps.add(path+".each", "lists of messages inside a list element are not supported")
		ok = false
	case f.Value == nil && f.Path == "":
		ps.add(path, "one of path (into the element) and value is required")
		ok = false
	case f.Value == nil:
		f.Column = elementColumn
	}
	for _, sub := range []struct {
		name string
		f    **Field
	}{{"uom", &f.UOM}, {"currency", &f.Currency}} {
		if *sub.f != nil {
			e, subOK := elementField(ps, path+"."+sub.name, **sub.f)
			*sub.f, ok = &e, ok && subOK
		}
	}
	if f.ToBase != nil && f.ToBase.QtyInBase != nil {
		tb := *f.ToBase
		e, subOK := elementField(ps, path+".to_base.qty_in_base", *tb.QtyInBase)
		tb.QtyInBase, ok = &e, ok && subOK
		f.ToBase = &tb
	}
	return f, ok
}

// enumValues maps the canonical names of an enum ("pick") to numbers; the
// upper-case proto names are accepted too.
func enumValues(ed protoreflect.EnumDescriptor) map[string]protoreflect.EnumNumber {
	prefix := upperSnake(string(ed.Name())) + "_"
	out := map[string]protoreflect.EnumNumber{}
	vals := ed.Values()
	for i := 0; i < vals.Len(); i++ {
		v := vals.Get(i)
		if v.Number() == 0 {
			continue
		}
		out[strings.ToLower(strings.TrimPrefix(string(v.Name()), prefix))] = v.Number()
	}
	return out
}

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

// rowError is why a row cannot become an event.
type rowError struct {
	code string
	msg  string
}

func rowErr(code, format string, args ...any) *rowError {
	return &rowError{code: code, msg: fmt.Sprintf(format, args...)}
}

// row is one result row, with the JSON columns it parsed.
type row struct {
	vals []any
	json map[int]any
	elem any // the element of a JSON array being mapped by each
}

// get returns a value, or present=false for NULL / a missing path.
func (v *valuePlan) get(r *row) (any, bool, *rowError) {
	if v.constant != nil {
		return *v.constant, true, nil
	}
	if v.col == colElement {
		return v.walk(r.elem)
	}
	val := r.vals[v.col]
	if val != nil && v.path != nil {
		doc, ok := r.json[v.col]
		if !ok {
			s, err := textOf(val)
			if err != nil {
				return nil, false, err
			}
			d := json.NewDecoder(strings.NewReader(s))
			d.UseNumber()
			if jerr := d.Decode(&doc); jerr != nil {
				return nil, false, rowErr(RejectBadPayload, "column %s is not JSON: %v", v.column, jerr)
			}
			if r.json == nil {
				r.json = map[int]any{}
			}
			r.json[v.col] = doc
		}
		return v.walk(doc)
	}
	return v.present(val)
}

// walk follows the path into a decoded JSON document.
func (v *valuePlan) walk(doc any) (any, bool, *rowError) {
	val := doc
	for _, p := range v.path {
		m, ok := val.(map[string]any)
		if !ok {
			val = nil
			break
		}
		val = m[p]
	}
	return v.present(val)
}

// present applies the default to a NULL.
func (v *valuePlan) present(val any) (any, bool, *rowError) {
	if val == nil {
		if v.def != nil {
			return *v.def, true, nil
		}
		return nil, false, nil
	}
	return val, true, nil
}

func (v *valuePlan) where() string {
	if v.constant != nil {
		return "constant"
	}
	if v.path != nil {
		return v.column + "." + strings.Join(v.path, ".")
	}
	return v.column
}

// text returns a value as cleaned text: trimmed, checked as UTF-8 and
// translated through the value map.
func (v *valuePlan) text(val any) (string, *rowError) {
	s, err := textOf(val)
	if err != nil {
		err.msg = v.where() + ": " + err.msg
		return "", err
	}
	if v.trim {
		s = strings.TrimSpace(s)
	}
	if v.vmap != nil {
		out, ok := v.vmap[s]
		if !ok {
			return "", rowErr(RejectUnknownCode, "%s: %q is not in the configured map", v.where(), truncate(s, 64))
		}
		s = out
	}
	return s, nil
}

// textOf renders a driver value as text.
func textOf(val any) (string, *rowError) {
	switch x := val.(type) {
	case string:
		if !utf8.ValidString(x) {
			return "", rowErr(RejectBadEncoding, "%q is not valid UTF-8", truncate(x, 64))
		}
		return x, nil
	case []byte:
		if !utf8.Valid(x) {
			return "", rowErr(RejectBadEncoding, "%q is not valid UTF-8", truncate(string(x), 64))
		}
		return string(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", rowErr(RejectBadValue, "%v is not a number", x)
		}
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	case time.Time:
		return x.Format(time.RFC3339Nano), nil
	case json.Number:
		return x.String(), nil
	case map[string]any, []any:
		return "", rowErr(RejectBadValue, "is a JSON object or list, not a value")
	}
	return fmt.Sprint(val), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// build maps a row to event data, its occurrence time and options. Every
// problem of the row is reported, the first one's code heading the list.
func (m *mapping) build(r *row, loc *time.Location, site string) (canonical.Data, time.Time, []canonical.EventOption, *rowError) {
	data := m.et.New()
	errs := m.fill(r, data.ProtoReflect(), loc, site)
	var occurred time.Time
	var opts []canonical.EventOption
	if t, ok, err := m.occurred.get(r, loc); err != nil {
		err.msg = "occurred: " + err.msg
		errs = append(errs, err)
	} else if !ok {
		errs = append(errs, rowErr(RejectBadTime, "occurred: %s is NULL", m.occurred.src.where()))
	} else {
		occurred = t
	}
	if m.recorded != nil {
		if t, ok, err := m.recorded.get(r, loc); err != nil {
			err.msg = "recorded: " + err.msg
			errs = append(errs, err)
		} else if ok {
			opts = append(opts, canonical.WithRecordedTime(t))
		}
	}
	if len(errs) > 0 {
		return nil, time.Time{}, nil, joinErrs(errs)
	}
	return data, occurred, opts, nil
}

// fill sets the fields of root from the row: each field, then empty
// holders dropped and the site given to locations without one.
func (m *fieldSet) fill(r *row, root protoreflect.Message, loc *time.Location, site string) []*rowError {
	var errs []*rowError
	absent := false
	// The message holding each target is made once per row, not walked to
	// from the root for every field.
	var parentBuf [8]protoreflect.Message
	parents := parentBuf[:0]
	if len(m.parents) > len(parentBuf) {
		parents = make([]protoreflect.Message, 0, len(m.parents))
	}
	parents = parents[:len(m.parents)]
	for _, f := range m.fields {
		holder := root
		if f.parent >= 0 {
			if parents[f.parent] == nil {
				parents[f.parent] = mutable(root, m.parents[f.parent]).Message()
			}
			holder = parents[f.parent]
		}
		set, err := f.apply(r, root, holder, loc, site)
		if err != nil {
			err.msg = f.target + ": " + err.msg
			errs = append(errs, err)
		}
		absent = absent || !set
	}
	if absent {
		// Only a field left unset can leave its holders empty.
		m.dropEmpty(root)
	}
	for _, fds := range m.locations {
		if has(root, fds) {
			lm := mutable(root, fds).Message()
			if lm.Get(lm.Descriptor().Fields().ByName("site_id")).String() == "" {
				lm.Set(lm.Descriptor().Fields().ByName("site_id"), protoreflect.ValueOfString(site))
			}
		}
	}
	return errs
}

func joinErrs(errs []*rowError) *rowError {
	if len(errs) == 1 {
		return errs[0]
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.msg + " (" + e.code + ")"
	}
	return &rowError{code: errs[0].code, msg: strings.Join(msgs, "; ")}
}

func has(root protoreflect.Message, fds []protoreflect.FieldDescriptor) bool {
	m := root
	for _, fd := range fds {
		if !m.Has(fd) {
			return false
		}
		if fd.Kind() == protoreflect.MessageKind && !fd.IsList() {
			m = m.Get(fd).Message()
		}
	}
	return true
}

// mutable returns the value at fds, creating the messages on the way.
func mutable(root protoreflect.Message, fds []protoreflect.FieldDescriptor) protoreflect.Value {
	m := root
	for _, fd := range fds[:len(fds)-1] {
		m = m.Mutable(fd).Message()
	}
	return m.Mutable(fds[len(fds)-1])
}

func set(root protoreflect.Message, fds []protoreflect.FieldDescriptor, v protoreflect.Value) {
	m := root
	for _, fd := range fds[:len(fds)-1] {
		m = m.Mutable(fd).Message()
	}
	m.Set(fds[len(fds)-1], v)
}

// apply reads the field's value from the row and sets it in root, the
// message holding the target (data is the event's data, for received), and
// reports whether it set it. NULL leaves the field unset (validation
// reports a required one).
func (f *fieldPlan) apply(r *row, data, root protoreflect.Message, loc *time.Location, site string) (bool, *rowError) {
	switch f.kind {
	case kEach:
		return f.applyEach(r, root, loc, site)
	case kTime:
		t, ok, err := f.time.get(r, loc)
		if err != nil || !ok {
			return false, err
		}
		root.Set(f.leaf(), protoreflect.ValueOfMessage(timestamppb.New(t).ProtoReflect()))
		return true, nil
	}
	val, ok, err := f.src.get(r)
	if err != nil || !ok {
		return false, err
	}
	s, err := f.src.text(val)
	if err != nil {
		return false, err
	}
	if f.list {
		parts := []string{s}
		if f.split != "" {
			parts = strings.Split(s, f.split)
		}
		l := root.Mutable(f.leaf()).List()
		for _, p := range parts {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			v, err := f.scalar(p)
			if err != nil {
				return false, err
			}
			l.Append(v)
		}
		return l.Len() > 0, nil
	}
	switch f.kind {
	case kQuantity, kMoney:
		return true, f.amount(r, data, root, s)
	}
	v, err := f.scalar(s)
	if err != nil {
		return false, err
	}
	root.Set(f.leaf(), v)
	return true, nil
}

// applyEach fills a list of messages from the JSON array the field
// reads: one entry per element, in order. NULL (or a missing path) leaves
// the list empty.
func (f *fieldPlan) applyEach(r *row, holder protoreflect.Message, loc *time.Location, site string) (bool, *rowError) {
	val, ok, err := f.src.get(r)
	if err != nil || !ok {
		return false, err
	}
	if _, isArr := val.([]any); !isArr && f.src.path == nil {
		// The column itself holds the array, as JSON text.
		s, err := textOf(val)
		if err != nil {
			return false, err
		}
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		if jerr := d.Decode(&val); jerr != nil {
			return false, rowErr(RejectBadPayload, "column %s is not JSON: %v", f.src.column, jerr)
		}
	}
	elems, isArr := val.([]any)
	if !isArr {
		return false, rowErr(RejectBadPayload, "%s is not a JSON array", f.src.where())
	}
	list := holder.Mutable(f.leaf()).List()
	if r.json == nil {
		r.json = map[int]any{} // JSON columns the elements read are decoded once
	}
	var errs []*rowError
	for i, e := range elems {
		if _, isObj := e.(map[string]any); !isObj {
			errs = append(errs, rowErr(RejectBadPayload, "[%d] is not a JSON object", i))
			continue
		}
		er := &row{vals: r.vals, json: r.json, elem: e}
		m := list.NewElement().Message()
		for _, ee := range f.each.fill(er, m, loc, site) {
			ee.msg = "[" + strconv.Itoa(i) + "]." + ee.msg
			errs = append(errs, ee)
		}
		list.Append(protoreflect.ValueOfMessage(m))
	}
	if len(errs) > 0 {
		return false, joinErrs(errs)
	}
	return list.Len() > 0, nil
}

func (f *fieldPlan) leaf() protoreflect.FieldDescriptor { return f.fds[len(f.fds)-1] }

func (f *fieldPlan) scalar(s string) (protoreflect.Value, *rowError) {
	switch f.kind {
	case kString:
		if f.rules != nil && f.rules.MaxLen > 0 && len(s) > int(f.rules.MaxLen) {
			return protoreflect.Value{}, rowErr(RejectBadValue, "%q is longer than %d bytes", truncate(s, 64), f.rules.MaxLen)
		}
		return protoreflect.ValueOfString(s), nil
	case kEnum:
		n, ok := f.enum[strings.ToLower(strings.TrimSpace(s))]
		if !ok {
			return protoreflect.Value{}, rowErr(RejectUnknownCode, "%q is not a known code (map it with map:)", truncate(s, 64))
		}
		return protoreflect.ValueOfEnum(n), nil
	case kBool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "1", "t", "true", "y", "yes":
			return protoreflect.ValueOfBool(true), nil
		case "0", "f", "false", "n", "no":
			return protoreflect.ValueOfBool(false), nil
		}
		return protoreflect.Value{}, rowErr(RejectBadValue, "%q is not a boolean", truncate(s, 64))
	case kInt:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, f.bits)
		if err != nil {
			return protoreflect.Value{}, rowErr(RejectBadValue, "%q is not an integer of %d bits", truncate(s, 64), f.bits)
		}
		if f.bits == 32 {
			return protoreflect.ValueOfInt32(int32(n)), nil
		}
		return protoreflect.ValueOfInt64(n), nil
	case kUint:
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, f.bits)
		if err != nil {
			return protoreflect.Value{}, rowErr(RejectBadValue, "%q is not a non-negative integer of %d bits", truncate(s, 64), f.bits)
		}
		if f.bits == 32 {
			return protoreflect.ValueOfUint32(uint32(n)), nil
		}
		return protoreflect.ValueOfUint64(n), nil
	case kFloat:
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return protoreflect.Value{}, rowErr(RejectBadValue, "%q is not a number", truncate(s, 64))
		}
		if f.fds[len(f.fds)-1].Kind() == protoreflect.FloatKind {
			return protoreflect.ValueOfFloat32(float32(x)), nil
		}
		return protoreflect.ValueOfFloat64(x), nil
	}
	return protoreflect.Value{}, rowErr(RejectBadValue, "unsupported target")
}

// maxDecimalLen is the longest decimal string the model accepts.
const maxDecimalLen = 40

// parseAmount checks a decimal as the target's rules want it.
func parseAmount(s string, rules *canonical.FieldRules) (decimal.Decimal, string, *rowError) {
	s = strings.TrimSpace(s)
	d, err := canonical.ParseDecimal(s)
	if err != nil {
		return decimal.Decimal{}, "", rowErr(RejectBadValue, "%q is not a decimal number", truncate(s, 64))
	}
	if len(s) > maxDecimalLen {
		return decimal.Decimal{}, "", rowErr(RejectBadValue, "%q is out of range (more than %d characters)", truncate(s, 64), maxDecimalLen)
	}
	if rules != nil {
		if rules.Positive && d.Sign() <= 0 {
			return decimal.Decimal{}, "", rowErr(RejectBadValue, "%s is out of range: must be positive", s)
		}
		if rules.NonNegative && d.Sign() < 0 {
			return decimal.Decimal{}, "", rowErr(RejectBadValue, "%s is out of range: must not be negative", s)
		}
	}
	return d, s, nil
}

// amount sets a quantity or money target from its value and unit.
func (f *fieldPlan) amount(r *row, data, root protoreflect.Message, s string) *rowError {
	_, text, err := parseAmount(s, f.rules)
	if err != nil {
		return err
	}
	uval, ok, err := f.unit.get(r)
	if err != nil {
		return err
	}
	if !ok {
		return rowErr(RejectBadValue, "the unit (%s) is NULL", f.unit.where())
	}
	unit, err := f.unit.text(uval)
	if err != nil {
		return err
	}
	unit = strings.TrimSpace(unit)
	if f.kind == kMoney {
		root.Set(f.leaf(), protoreflect.ValueOfMessage((&canonical.Money{Amount: text, Currency: unit}).ProtoReflect()))
		return nil
	}
	if !units.Known(unit) {
		return rowErr(RejectUnknownCode, "unit %q is not a UN/ECE unit code (map it with uom.map)", truncate(unit, 16))
	}
	q := &canonical.Quantity{Value: text, Uom: unit}
	if f.toBase != nil {
		item := &canonical.Item{Sku: "row", BaseUom: f.toBase.uom}
		if f.toBase.per != nil {
			pv, ok, err := f.toBase.per.get(r)
			if err != nil {
				return err
			}
			if ok {
				ps, err := f.toBase.per.text(pv)
				if err != nil {
					return err
				}
				per, _, err := parseAmount(ps, &canonical.FieldRules{Positive: true})
				if err != nil {
					err.msg = "pack size (" + f.toBase.per.where() + "): " + err.msg
					return err
				}
				item.Packs = []*canonical.Pack{{Uom: unit, QtyInBase: per.String()}}
			}
		}
		base, cerr := item.ToBase(q)
		if cerr != nil {
			code := "conversion"
			if ce, ok := cerr.(interface{ Code() string }); ok {
				code = ce.Code()
			}
			return rowErr(RejectBadValue, "%s %s cannot be expressed in %s (%s): %v", text, unit, f.toBase.uom, code, cerr)
		}
		if f.received != nil {
			set(data, f.received, protoreflect.ValueOfMessage(q.ProtoReflect()))
		}
		q = base
	}
	root.Set(f.leaf(), protoreflect.ValueOfMessage(q.ProtoReflect()))
	return nil
}

// Default layouts of times held as text.
var (
	instantLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999Z07"}
	wallLayouts    = []string{"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02"}
)

// get reads a time and returns it in the site's zone (so the event's
// offset is the site's); present=false for NULL.
func (tp *timePlan) get(r *row, loc *time.Location) (time.Time, bool, *rowError) {
	val, ok, err := tp.src.get(r)
	if err != nil || !ok {
		return time.Time{}, ok, err
	}
	t, err := tp.parse(val, loc)
	if err != nil {
		err.msg = tp.src.where() + ": " + err.msg
		return time.Time{}, false, err
	}
	return t.In(loc), true, nil
}

func (tp *timePlan) parse(val any, loc *time.Location) (time.Time, *rowError) {
	switch tp.mode {
	case "unix", "unix_ms":
		s, err := textOf(val)
		if err != nil {
			return time.Time{}, err
		}
		n, perr := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if perr != nil {
			return time.Time{}, rowErr(RejectBadTime, "%q is not a %s time", truncate(s, 64), tp.mode)
		}
		if tp.mode == "unix_ms" {
			return time.UnixMilli(n), nil
		}
		return time.Unix(n, 0), nil
	}
	var wall localtime.Wall
	switch x := val.(type) {
	case time.Time:
		if tp.mode == "instant" {
			return x, nil
		}
		// A naive column: the driver hands over the wall clock in its own
		// location (UTC); keep the fields, drop the location.
		wall = localtime.Wall{Year: x.Year(), Month: x.Month(), Day: x.Day(), Hour: x.Hour(), Minute: x.Minute(), Second: x.Second(), Nanosecond: x.Nanosecond()}
	default:
		s, err := textOf(val)
		if err != nil {
			return time.Time{}, err
		}
		s = strings.TrimSpace(s)
		if tp.mode == "instant" {
			layouts := instantLayouts
			if tp.layout != "" {
				layouts = []string{tp.layout}
			}
			for _, l := range layouts {
				if t, perr := time.Parse(l, s); perr == nil {
					return t, nil
				}
			}
			return time.Time{}, rowErr(RejectBadTime, "%q is not a time with an offset", truncate(s, 64))
		}
		layouts := wallLayouts
		if tp.layout != "" {
			layouts = []string{tp.layout}
		}
		var perr error
		for _, l := range layouts {
			if wall, perr = localtime.ParseWall(l, s); perr == nil {
				break
			}
		}
		if perr != nil {
			return time.Time{}, rowErr(RejectBadTime, "%q is not a wall time (%s)", truncate(s, 64), strings.Join(layouts, " or "))
		}
	}
	zone := loc
	if tp.mode == "utc" {
		zone = time.UTC
	}
	res, rerr := localtime.Resolve(wall, zone)
	if rerr != nil {
		code := ""
		if c, ok := rerr.(interface{ Code() string }); ok {
			code = " (" + c.Code() + ")"
		}
		return time.Time{}, rowErr(RejectBadTime, "%v%s", rerr, code)
	}
	return res.Time, nil
}
