package main

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The validator half of the generator: for every message, a validateFields
// method that applies each field's (rules) annotation with direct field
// access. The rule checks themselves (formats, signs, cross-field
// semantics) are hand-written in package canonical (validate.go); only the
// walk is generated.

// rulesExtension is the field number of the (rules) option in options.proto.
const rulesExtension = 51001

// fieldRules mirrors canonical.FieldRules, read from the raw options so the
// generator does not import the package it generates.
type fieldRules struct {
	required         bool
	format           int32
	maxLen           uint32
	positive, nonNeg bool
	present          bool
}

func rulesOf(f *protogen.Field) fieldRules {
	var r fieldRules
	opts := f.Desc.Options()
	if opts == nil {
		return r
	}
	raw := opts.ProtoReflect().GetUnknown()
	for len(raw) > 0 {
		num, typ, n := protowire.ConsumeTag(raw)
		if n < 0 {
			return r
		}
		raw = raw[n:]
		if num != rulesExtension || typ != protowire.BytesType {
			m := protowire.ConsumeFieldValue(num, typ, raw)
			if m < 0 {
				return r
			}
			raw = raw[m:]
			continue
		}
		msg, m := protowire.ConsumeBytes(raw)
		if m < 0 {
			return r
		}
		raw = raw[m:]
		r.present = true
		for len(msg) > 0 {
			fnum, ftyp, k := protowire.ConsumeTag(msg)
			if k < 0 || ftyp != protowire.VarintType {
				return r
			}
			msg = msg[k:]
			v, k := protowire.ConsumeVarint(msg)
			if k < 0 {
				return r
			}
			msg = msg[k:]
			switch fnum {
			case 1:
				r.required = v != 0
			case 2:
				r.format = int32(v)
			case 3:
				r.maxLen = uint32(v)
			case 4:
				r.positive = v != 0
			case 5:
				r.nonNeg = v != 0
			}
		}
	}
	return r
}

// rulesLiteral renders a *FieldRules literal, or "noRules".
func rulesLiteral(r fieldRules, list bool) string {
	var parts []string
	if r.required && !list {
		parts = append(parts, "Required: true")
	}
	if r.format != 0 {
		parts = append(parts, fmt.Sprintf("Format: %d", r.format))
	}
	if r.maxLen != 0 && !list {
		parts = append(parts, fmt.Sprintf("MaxLen: %d", r.maxLen))
	}
	if r.positive {
		parts = append(parts, "Positive: true")
	}
	if r.nonNeg {
		parts = append(parts, "NonNegative: true")
	}
	if len(parts) == 0 {
		return "noRules"
	}
	return "&FieldRules{" + strings.Join(parts, ", ") + "}"
}

func genValidator(g *protogen.GeneratedFile, m *protogen.Message, envelope bool) {
	name := "validateFields"
	if envelope {
		name = "validateEnvelope"
	}
	g.P("func (x *", m.GoIdent.GoName, ") ", name, "(v *validator) {")
	for _, f := range m.Fields {
		if f.Oneof != nil {
			continue
		}
		genValidateField(g, m, f)
	}
	g.P("}")
	g.P()
	if envelope {
		g.P("// validateData validates the data oneof's message; it reports false when there is none.")
		g.P("func (x *", m.GoIdent.GoName, ") validateData(v *validator) bool {")
		g.P("switch d := x.Data.(type) {")
		for _, o := range m.Oneofs {
			for _, f := range o.Fields {
				g.P("case *", f.GoIdent.GoName, ":")
				g.P("v.message(d.", f.GoName, ")")
			}
		}
		g.P("default:")
		g.P("return false")
		g.P("}")
		g.P("return true")
		g.P("}")
		g.P()
	}
}

func genValidateField(g *protogen.GeneratedFile, m *protogen.Message, f *protogen.Field) {
	r := rulesOf(f)
	name := f.Desc.JSONName()
	v := "x." + f.GoName
	rulesVar := fmt.Sprintf("rules%s_%s", m.GoIdent.GoName, f.GoName)
	elemVar := rulesVar + "_elem"
	g.P("v.path.push(", fmt.Sprintf("%q", name), ")")
	if f.Desc.IsList() {
		if r.required {
			g.P("if len(", v, ") == 0 {")
			g.P(`v.add("required", "at least one element is required")`)
			g.P("}")
		}
		if r.maxLen > 0 {
			g.P("if len(", v, ") > ", r.maxLen, " {")
			g.P(`v.add("too_many", "%d elements, at most `, r.maxLen, ` allowed", len(`, v, `))`)
			g.P("}")
		}
		g.P("for i, e := range ", v, " {")
		g.P("v.path.index(i)")
		genValidateValue(g, f, "e", elemVar, true)
		g.P("v.path.pop()")
		g.P("}")
		g.P("v.path.pop()")
		declareRules(g, elemVar, rulesLiteral(fieldRules{format: r.format, positive: r.positive, nonNeg: r.nonNeg}, true))
		return
	}
	genValidateValue(g, f, v, rulesVar, false)
	g.P("v.path.pop()")
	declareRules(g, rulesVar, rulesLiteral(r, false))
}

var declared = map[string]bool{}

// declareRules emits a package-level rules variable after the function
// body that uses it (Go allows any order at package level).
func declareRules(g *protogen.GeneratedFile, name, lit string) {
	if lit == "noRules" || declared[name] {
		return
	}
	declared[name] = true
	pendingDecls = append(pendingDecls, fmt.Sprintf("var %s = %s", name, lit))
}

var pendingDecls []string

func flushDecls(g *protogen.GeneratedFile) {
	for _, d := range pendingDecls {
		g.P(d)
	}
	if len(pendingDecls) > 0 {
		g.P()
	}
	pendingDecls = nil
}

func genValidateValue(g *protogen.GeneratedFile, f *protogen.Field, v, rulesVar string, elem bool) {
	r := rulesOf(f)
	rv := rulesVar
	if rulesLiteral(r, elem) == "noRules" {
		rv = "noRules"
	}
	switch f.Desc.Kind() {
	case protoreflect.StringKind:
		g.P("v.str(", v, ", ", rv, ")")
	case protoreflect.EnumKind:
		g.P("v.enum(int32(", v, "), jsonNames", f.Enum.GoIdent.GoName, "[:], ", fmt.Sprintf("%q", f.Enum.Desc.Name()), ", ", !elem && r.required, ")")
	case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		g.P("v.integer(int64(", v, "), ", !elem && r.required, ")")
	case protoreflect.BoolKind:
		// nothing to check
	case protoreflect.MessageKind:
		g.P("if ", v, " != nil {")
		if f.Message.Desc.FullName() == timestampName {
			g.P("v.timestamp(", v, ")")
		} else {
			g.P("v.message(", v, ")")
			if r.positive || r.nonNeg {
				g.P("v.signOfMessage(", v, ", ", rv, ")")
			}
		}
		if !elem && r.required {
			g.P("} else {")
			g.P(`v.add("required", "required")`)
		}
		g.P("}")
	default:
		panic(fmt.Sprintf("protoc-gen-dray-json: validate %s: unsupported kind %v", f.Desc.FullName(), f.Desc.Kind()))
	}
}
