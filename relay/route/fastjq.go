package route

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/itchyny/gojq"

	"github.com/draylink/dray/canonical"
)

// A fast form of the jq expressions mappings are made of. Route transforms
// are mostly paths, object and array construction, `as` bindings, `if`,
// the `//` alternative, string interpolation and @uri; gojq runs those
// through its general interpreter (forks, a value stack, backtracking),
// which was ~20 % of the relay's CPU per delivery. compileFast turns such an expression into a tree of closures
// over the same values (map[string]any, []any, …); anything else — and,
// while running, any value the fast form would not handle exactly as jq
// does (an index into a string, an iteration over an object, a number key
// on an object, …) — is left to gojq, which then runs the whole
// expression. The fast form never errs: where jq would, it gives up. Tests
// hold it to gojq over the golden events and generated documents.

// fastExpr is an expression's fast form.
type fastExpr struct {
	root  fastOne
	slots int // variables: $relay in slot 0, then one per `as` binding
}

// run evaluates the expression; ok is false when gojq must decide.
func (f *fastExpr) run(input, relay any) (any, bool) {
	var small [4]any
	vars := small[:0]
	if f.slots > len(small) {
		vars = make([]any, 0, f.slots)
	}
	vars = vars[:f.slots]
	vars[0] = relay
	return f.root(input, vars)
}

// fastOne evaluates a single-valued expression.
type fastOne func(in any, vars []any) (any, bool)

// fastEach appends the outputs of an expression that may have several
// (inside an array constructor).
type fastEach func(in any, vars []any, out []any) ([]any, bool)

// fastScope names the variable slots visible at a point of the expression.
type fastScope struct {
	names []string // slot i holds names[i]; later names shadow earlier
	slots *int     // slots used by the whole expression
}

func (s fastScope) lookup(name string) (int, bool) {
	for i := len(s.names) - 1; i >= 0; i-- {
		if s.names[i] == name {
			return i, true
		}
	}
	return 0, false
}

// bind returns the scope with one more variable, in a new slot.
func (s fastScope) bind(name string) (fastScope, int) {
	slot := len(s.names)
	names := append(s.names[:slot:slot], name)
	*s.slots = max(*s.slots, len(names))
	return fastScope{names: names, slots: s.slots}, slot
}

// compileFast returns the fast form of q, or nil when q uses anything
// outside the subset.
func compileFast(q *gojq.Query) *fastExpr {
	slots := 1
	sc := fastScope{names: []string{"$relay"}, slots: &slots}
	root, ok := fastQuery(q, sc)
	if !ok {
		return nil
	}
	return &fastExpr{root: root, slots: slots}
}

func plainQuery(q *gojq.Query) bool {
	return q != nil && q.Meta == nil && len(q.Imports) == 0 && len(q.FuncDefs) == 0
}

// fastQuery compiles a single-valued query.
func fastQuery(q *gojq.Query, sc fastScope) (fastOne, bool) {
	if !plainQuery(q) {
		return nil, false
	}
	if q.Term != nil {
		return fastTerm(q.Term, sc)
	}
	switch q.Op {
	case gojq.OpPipe:
		left, ok := fastQuery(q.Left, sc)
		if !ok {
			return nil, false
		}
		if len(q.Patterns) > 0 {
			name, ok := bindingName(q)
			if !ok {
				return nil, false
			}
			inner, slot := sc.bind(name)
			body, ok := fastQuery(q.Right, inner)
			if !ok {
				return nil, false
			}
			return func(in any, vars []any) (any, bool) {
				v, ok := left(in, vars)
				if !ok {
					return nil, false
				}
				vars[slot] = v
				return body(in, vars)
			}, true
		}
		right, ok := fastQuery(q.Right, sc)
		if !ok {
			return nil, false
		}
		return func(in any, vars []any) (any, bool) {
			v, ok := left(in, vars)
			if !ok {
				return nil, false
			}
			return right(v, vars)
		}, true
	case gojq.OpAlt:
		left, ok := fastQuery(q.Left, sc)
		if !ok {
			return nil, false
		}
		right, ok := fastQuery(q.Right, sc)
		if !ok {
			return nil, false
		}
		return func(in any, vars []any) (any, bool) {
			v, ok := left(in, vars)
			if !ok {
				return nil, false // jq would swallow the error: gojq decides
			}
			if v != nil && v != false {
				return v, true
			}
			return right(in, vars)
		}, true
	}
	return nil, false
}

// bindingName is the variable of `E as $name | …`; destructuring and ?//
// have no fast form.
func bindingName(q *gojq.Query) (string, bool) {
	if len(q.Patterns) != 1 || q.Patterns[0].Name == "" {
		return "", false
	}
	return q.Patterns[0].Name, true
}

// fastQueryEach compiles a query that may have several outputs.
func fastQueryEach(q *gojq.Query, sc fastScope) (fastEach, bool) {
	if !plainQuery(q) {
		return nil, false
	}
	if q.Term != nil {
		return fastTermEach(q.Term, sc)
	}
	switch q.Op {
	case gojq.OpComma:
		left, ok := fastQueryEach(q.Left, sc)
		if !ok {
			return nil, false
		}
		right, ok := fastQueryEach(q.Right, sc)
		if !ok {
			return nil, false
		}
		return func(in any, vars []any, out []any) ([]any, bool) {
			out, ok := left(in, vars, out)
			if !ok {
				return nil, false
			}
			return right(in, vars, out)
		}, true
	case gojq.OpPipe:
		if len(q.Patterns) > 0 {
			name, ok := bindingName(q)
			if !ok {
				return nil, false
			}
			left, ok := fastQueryEach(q.Left, sc)
			if !ok {
				return nil, false
			}
			inner, slot := sc.bind(name)
			body, ok := fastQueryEach(q.Right, inner)
			if !ok {
				return nil, false
			}
			return func(in any, vars []any, out []any) ([]any, bool) {
				var small [8]any
				vs, ok := left(in, vars, small[:0])
				if !ok {
					return nil, false
				}
				for _, v := range vs { // the body once per value, input unchanged
					vars[slot] = v
					if out, ok = body(in, vars, out); !ok {
						return nil, false
					}
				}
				return out, true
			}, true
		}
		left, ok := fastQueryEach(q.Left, sc)
		if !ok {
			return nil, false
		}
		right, ok := fastQueryEach(q.Right, sc)
		if !ok {
			return nil, false
		}
		return pipeEach(left, right), true
	}
	one, ok := fastQuery(q, sc)
	if !ok {
		return nil, false
	}
	return eachOfOne(one), true
}

// pipeEach is left | right: right once per output of left.
func pipeEach(left, right fastEach) fastEach {
	return func(in any, vars []any, out []any) ([]any, bool) {
		var small [8]any
		vs, ok := left(in, vars, small[:0])
		if !ok {
			return nil, false
		}
		for _, v := range vs {
			if out, ok = right(v, vars, out); !ok {
				return nil, false
			}
		}
		return out, true
	}
}

func eachOfOne(one fastOne) fastEach {
	return func(in any, vars []any, out []any) ([]any, bool) {
		v, ok := one(in, vars)
		if !ok {
			return nil, false
		}
		return append(out, v), true
	}
}

// fastTermEach compiles a term whose suffixes may iterate (x[]): what
// comes before the first [] is evaluated once, the rest per element.
func fastTermEach(t *gojq.Term, sc fastScope) (fastEach, bool) {
	if t.Type == gojq.TermTypeQuery { // (a, b)…: the suffixes apply to each output
		inner, ok := fastQueryEach(t.Query, sc)
		if !ok {
			return nil, false
		}
		if len(t.SuffixList) == 0 {
			return inner, true
		}
		rest, ok := fastTermEach(&gojq.Term{Type: gojq.TermTypeIdentity, SuffixList: t.SuffixList}, sc)
		if !ok {
			return nil, false
		}
		return pipeEach(inner, rest), true
	}
	iter := -1
	for i, s := range t.SuffixList {
		if s.Iter && !s.Optional {
			iter = i
			break
		}
	}
	if iter < 0 {
		one, ok := fastTerm(t, sc)
		if !ok {
			return nil, false
		}
		return eachOfOne(one), true
	}
	head := *t
	head.SuffixList = t.SuffixList[:iter]
	base, ok := fastTerm(&head, sc)
	if !ok {
		return nil, false
	}
	rest, ok := fastTermEach(&gojq.Term{Type: gojq.TermTypeIdentity, SuffixList: t.SuffixList[iter+1:]}, sc)
	if !ok {
		return nil, false
	}
	return func(in any, vars []any, out []any) ([]any, bool) {
		v, ok := base(in, vars)
		if !ok {
			return nil, false
		}
		arr, isArr := v.([]any) // objects iterate in key order, null errs: gojq's
		if !isArr {
			return nil, false
		}
		for _, e := range arr {
			if out, ok = rest(e, vars, out); !ok {
				return nil, false
			}
		}
		return out, true
	}, true
}

// fastTerm compiles a single-valued term with its suffixes.
func fastTerm(t *gojq.Term, sc fastScope) (fastOne, bool) {
	var base fastOne
	switch t.Type {
	case gojq.TermTypeIdentity:
		base = func(in any, _ []any) (any, bool) { return in, true }
	case gojq.TermTypeIndex:
		ix, ok := fastIndex(t.Index, sc)
		if !ok {
			return nil, false
		}
		base = func(in any, vars []any) (any, bool) { return ix(in, in, vars) }
	case gojq.TermTypeNull:
		base = constant(nil)
	case gojq.TermTypeTrue:
		base = constant(true)
	case gojq.TermTypeFalse:
		base = constant(false)
	case gojq.TermTypeNumber:
		i, ok := intLiteral(t)
		if !ok {
			return nil, false // floats, big integers: gojq's number rules
		}
		base = constant(i)
	case gojq.TermTypeUnary:
		// -N, a negative integer literal
		if t.Unary.Op != gojq.OpSub {
			return nil, false
		}
		i, ok := intLiteral(t.Unary.Term)
		if !ok || i == 0 {
			return nil, false // -0 is a float in jq
		}
		base = constant(-i)
	case gojq.TermTypeString:
		str, ok := fastString(t.Str, nil, sc)
		if !ok {
			return nil, false
		}
		base = str
	case gojq.TermTypeFormat:
		if t.Format != "@uri" {
			return nil, false
		}
		if t.Str == nil { // @uri: the input, escaped
			base = func(in any, _ []any) (any, bool) { return uriEscape(in) }
			break
		}
		str, ok := fastString(t.Str, uriEscape, sc) // @uri "…\(x)…": each x escaped
		if !ok {
			return nil, false
		}
		base = str
	case gojq.TermTypeObject:
		obj, ok := fastObject(t.Object, sc)
		if !ok {
			return nil, false
		}
		base = obj
	case gojq.TermTypeArray:
		if t.Array.Query == nil {
			base = func(any, []any) (any, bool) { return []any{}, true }
			break
		}
		body, ok := fastQueryEach(t.Array.Query, sc)
		if !ok {
			return nil, false
		}
		base = func(in any, vars []any) (any, bool) {
			out, ok := body(in, vars, nil)
			if !ok {
				return nil, false
			}
			if out == nil {
				out = []any{}
			}
			return out, true
		}
	case gojq.TermTypeIf:
		cond, ok := fastIf(t.If, sc)
		if !ok {
			return nil, false
		}
		base = cond
	case gojq.TermTypeQuery:
		q, ok := fastQuery(t.Query, sc)
		if !ok {
			return nil, false
		}
		base = q
	case gojq.TermTypeFunc:
		if t.Func == nil || len(t.Func.Args) > 0 || len(t.Func.Name) < 2 || t.Func.Name[0] != '$' {
			return nil, false // functions; $__loc__ and $ENV are not in scope
		}
		slot, ok := sc.lookup(t.Func.Name)
		if !ok {
			return nil, false
		}
		base = func(_ any, vars []any) (any, bool) { return vars[slot], true }
	default:
		return nil, false
	}
	for _, s := range t.SuffixList {
		if s.Iter || s.Optional || s.Index == nil {
			return nil, false
		}
		ix, ok := fastIndex(s.Index, sc)
		if !ok {
			return nil, false
		}
		prev := base
		base = func(in any, vars []any) (any, bool) {
			v, ok := prev(in, vars)
			if !ok {
				return nil, false
			}
			return ix(v, in, vars)
		}
	}
	return base, true
}

// fastIf compiles if-then-elif-else-end (a missing else is `.`), with
// single-valued conditions.
func fastIf(e *gojq.If, sc fastScope) (fastOne, bool) {
	cond, ok := fastQuery(e.Cond, sc)
	if !ok {
		return nil, false
	}
	then, ok := fastQuery(e.Then, sc)
	if !ok {
		return nil, false
	}
	var otherwise fastOne
	switch {
	case len(e.Elif) > 0:
		otherwise, ok = fastIf(&gojq.If{Cond: e.Elif[0].Cond, Then: e.Elif[0].Then, Elif: e.Elif[1:], Else: e.Else}, sc)
	case e.Else != nil:
		otherwise, ok = fastQuery(e.Else, sc)
	default:
		otherwise = func(in any, _ []any) (any, bool) { return in, true }
	}
	if !ok {
		return nil, false
	}
	return func(in any, vars []any) (any, bool) {
		c, ok := cond(in, vars)
		if !ok {
			return nil, false
		}
		if c != nil && c != false {
			return then(in, vars)
		}
		return otherwise(in, vars)
	}, true
}

// fastString compiles a string literal, with interpolations whose values
// are strings (jq's tostring of anything else is JSON: left to gojq), each
// passed through format when there is one (@uri "…").
func fastString(str *gojq.String, format func(any) (any, bool), sc fastScope) (fastOne, bool) {
	if str == nil {
		return nil, false
	}
	if str.Queries == nil {
		return constant(str.Str), true
	}
	parts := make([]fastOne, len(str.Queries))
	for i, q := range str.Queries {
		one, ok := fastQuery(q, sc)
		if !ok {
			return nil, false
		}
		// gojq formats the pieces that are not string terms (the literal
		// text, and \("…"), are not escaped).
		if format != nil && (q.Term == nil || q.Term.Str == nil) {
			inner := one
			one = func(in any, vars []any) (any, bool) {
				v, ok := inner(in, vars)
				if !ok {
					return nil, false
				}
				return format(v)
			}
		}
		parts[i] = one
	}
	return func(in any, vars []any) (any, bool) {
		var b strings.Builder
		for _, p := range parts {
			v, ok := p(in, vars)
			if !ok {
				return nil, false
			}
			s, isStr := v.(string)
			if !isStr {
				return nil, false
			}
			b.WriteString(s)
		}
		return b.String(), true
	}, true
}

// uriEscape is gojq's @uri of a string: query escaping with %20 for
// spaces (other values are tostring'd first: left to gojq).
func uriEscape(v any) (any, bool) {
	s, ok := v.(string)
	if !ok {
		return nil, false
	}
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20"), true
}

// intLiteral is the value of an integer literal term without suffixes.
func intLiteral(t *gojq.Term) (int, bool) {
	if t.Type != gojq.TermTypeNumber || len(t.SuffixList) > 0 {
		return 0, false
	}
	i, err := strconv.ParseInt(t.Number, 10, 0)
	return int(i), err == nil
}

func constant(v any) fastOne {
	return func(any, []any) (any, bool) { return v, true }
}

// fastIndexer indexes v; a key expression reads dot (the term's input).
type fastIndexer func(v, dot any, vars []any) (any, bool)

// fastIndex compiles .name, ."name", .[expr] (not slices).
func fastIndex(ix *gojq.Index, sc fastScope) (fastIndexer, bool) {
	switch {
	case ix.IsSlice || ix.End != nil:
		return nil, false
	case ix.Name != "":
		return keyIndexer(ix.Name), true
	case ix.Str != nil:
		if ix.Str.Queries != nil {
			return nil, false
		}
		return keyIndexer(ix.Str.Str), true
	case ix.Start != nil:
		key, ok := fastQuery(ix.Start, sc)
		if !ok {
			return nil, false
		}
		return func(v, dot any, vars []any) (any, bool) {
			k, ok := key(dot, vars)
			if !ok {
				return nil, false
			}
			switch k := k.(type) {
			case string:
				return indexKey(v, k)
			case int:
				return indexPosition(v, k)
			}
			return nil, false
		}, true
	}
	return nil, false
}

func keyIndexer(key string) fastIndexer {
	return func(v, _ any, _ []any) (any, bool) { return indexKey(v, key) }
}

// indexKey is .key: a member of an object (built, or an event's
// on-demand document), null of null.
func indexKey(v any, key string) (any, bool) {
	switch v := v.(type) {
	case map[string]any:
		return v[key], true
	case canonical.JQObject:
		return canonical.JQMember(v, key) // a member without a JSON form: gojq reports it
	case nil:
		return nil, true
	}
	return nil, false
}

// indexPosition is .[i]: an element of an array (negative from the end,
// null out of range), null of null.
func indexPosition(v any, i int) (any, bool) {
	switch v := v.(type) {
	case []any:
		if i < 0 {
			i += len(v)
		}
		if i < 0 || i >= len(v) {
			return nil, true
		}
		return v[i], true
	case nil:
		return nil, true
	}
	return nil, false
}

// fastObject compiles object construction with plain keys. An object of
// constants is built once (gojq does the same; nothing mutates values).
func fastObject(o *gojq.Object, sc fastScope) (fastOne, bool) {
	type member struct {
		key string
		val fastOne
	}
	members := make([]member, 0, len(o.KeyVals))
	for _, kv := range o.KeyVals {
		var key string
		switch {
		case kv.Key != "" && kv.Key[0] != '$':
			key = kv.Key
		case kv.Key == "" && kv.KeyString != nil && kv.KeyString.Queries == nil:
			key = kv.KeyString.Str
		default:
			return nil, false // {$x}, {(expr): …}, interpolated keys
		}
		var val fastOne
		if kv.Val == nil { // {key} is {key: .key}
			k := key
			val = func(in any, _ []any) (any, bool) { return indexKey(in, k) }
		} else {
			var ok bool
			if val, ok = fastQuery(kv.Val, sc); !ok {
				return nil, false
			}
		}
		members = append(members, member{key, val})
	}
	build := func(in any, vars []any) (any, bool) {
		m := make(map[string]any, len(members))
		for _, mb := range members {
			v, ok := mb.val(in, vars)
			if !ok {
				return nil, false
			}
			m[mb.key] = v
		}
		return m, true
	}
	for _, kv := range o.KeyVals {
		if kv.Val == nil || !isLiteral(kv.Val.Term) {
			return build, true
		}
	}
	v, _ := build(nil, nil)
	return constant(v), true
}

// isLiteral reports whether a term is a constant scalar (a string without
// interpolation).
func isLiteral(t *gojq.Term) bool {
	if t == nil || len(t.SuffixList) > 0 {
		return false
	}
	switch t.Type {
	case gojq.TermTypeNull, gojq.TermTypeTrue, gojq.TermTypeFalse, gojq.TermTypeNumber:
		return true
	case gojq.TermTypeString:
		return t.Str != nil && t.Str.Queries == nil
	}
	return false
}
