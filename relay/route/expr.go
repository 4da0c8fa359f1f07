package route

import (
	"context"

	"errors"
	"fmt"
	"github.com/draylink/dray/canonical"
	"strings"

	"github.com/itchyny/gojq"
)

// expr is a compiled jq expression.
type expr struct {
	src  string
	code *gojq.Code
	// str is set when the expression is a string literal without
	// interpolation: it needs no input.
	str *string
	// usesRelay: the expression names $relay (a variable cannot be
	// reached any other way), so its value must be built.
	usesRelay bool
	// fast is the expression's fast form, when it has one (fastjq.go).
	fast *fastExpr
}

// noEnviron hides the relay's environment from expressions: secrets are
// passed to the relay in environment variables.
func noEnviron() []string { return nil }

// compileExpr parses and compiles src. Expressions may refer to $relay.
func compileExpr(src string) (*expr, error) {
	q, err := gojq.Parse(src)
	if err != nil {
		var pe *gojq.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("jq parse error at offset %d: %w", pe.Offset, err)
		}
		return nil, fmt.Errorf("jq parse error: %w", err)
	}
	code, err := gojq.Compile(q, gojq.WithVariables([]string{"$relay"}), gojq.WithEnvironLoader(noEnviron))
	if err != nil {
		return nil, fmt.Errorf("jq compile error: %w", err)
	}
	e := &expr{src: src, code: code, usesRelay: strings.Contains(src, "$relay"), fast: compileFast(q)}
	if t := q.Term; q.Left == nil && len(q.FuncDefs) == 0 && t != nil && t.Type == gojq.TermTypeString &&
		t.Str != nil && len(t.Str.Queries) == 0 && len(t.SuffixList) == 0 {
		s := t.Str.Str
		e.str = &s
	}
	return e, nil
}

// errNoOutput: the expression produced no value (e.g. `empty`).
var errNoOutput = errors.New("no output")

// first runs the expression and returns its first output: the fast form
// when it has one and takes the input, else gojq.
func (e *expr) first(ctx context.Context, input, relay any) (any, error) {
	if e.str != nil {
		return *e.str, nil
	}
	if e.fast != nil {
		if v, ok := e.fast.run(input, relay); ok {
			return v, nil
		}
	}
	return e.slow(ctx, input, relay)
}

// onEvent runs the expression on an event: the fast form over the event's
// on-demand document (canonical.JQDoc: only the members it reads are
// converted) when it has one and takes what it meets, else gojq over the
// built document (Event.Doc). docErr is the event's error when it has no
// jq document.
func (e *expr) onEvent(ctx context.Context, ev *Event, relay any) (v any, docErr, err error) {
	if e.str != nil {
		return *e.str, nil, nil
	}
	if e.fast != nil {
		if v, ok := e.fast.run(canonical.JQDoc(ev.Event), relay); ok {
			if v, ok = resolve(v); ok {
				return v, nil, nil
			}
		}
	}
	in, err := ev.Doc()
	if err != nil {
		return nil, err, nil
	}
	v, err = e.slow(ctx, in, relay)
	return v, nil, err
}

// resolve replaces the on-demand objects in a fast form's output by the
// values they stand for; ok is false when one has no JSON form. Only
// containers the fast form built can hold one, and only those are written
// to (a constant object is shared: it is read, never written).
func resolve(v any) (any, bool) {
	switch x := v.(type) {
	case canonical.JQObject:
		return canonical.JQValue(x)
	case map[string]any:
		for k, e := range x {
			r, ok := resolve(e)
			if !ok {
				return nil, false
			}
			if _, lazy := e.(canonical.JQObject); lazy {
				x[k] = r
			}
		}
	case []any:
		for i, e := range x {
			r, ok := resolve(e)
			if !ok {
				return nil, false
			}
			if _, lazy := e.(canonical.JQObject); lazy {
				x[i] = r
			}
		}
	}
	return v, true
}

// slow runs the expression in gojq.
func (e *expr) slow(ctx context.Context, input, relay any) (any, error) {
	iter := e.code.RunWithContext(ctx, input, relay)
	v, ok := iter.Next()
	if !ok {
		return nil, errNoOutput
	}
	if err, ok := v.(error); ok {
		var he *gojq.HaltError
		if errors.As(err, &he) && he.Value() == nil {
			return nil, errNoOutput
		}
		return nil, err
	}
	return v, nil
}
