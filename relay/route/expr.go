package route

import (
	"context"
	"errors"
	"fmt"
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

// constant reports whether the expression is a plain string literal.
func (e *expr) constant() bool { return e.str != nil }

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

// first runs the expression and returns its first output.
func (e *expr) first(ctx context.Context, input, relay any) (any, error) {
	if e.str != nil {
		return *e.str, nil
	}
	if e.fast != nil {
		if v, ok := e.fast.run(input, relay); ok {
			return v, nil
		}
	}
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
