package refsink

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"
)

// Validating a plain JSON body straight from its jsontext tokens: the same
// problems, in the same order, as decoding it into a map and running
// validateObject, without building the map (which, with its boxed members,
// was the largest cost of a batch item). Scalars are checked by
// validateValue itself; only objects and arrays are walked here.

// validateBody checks body (compact JSON) against r. ok is false when the
// body is not an object, repeats a member name, is not valid JSON, or r
// has a cross-field check: the caller then decodes it and validates the
// map, which decides (and words any error) as it always did. eventID is a
// top-level string "eventId" member.
func (r *resource) validateBody(body []byte) (probs []problem, eventID string, ok bool) {
	if r.check != nil || len(body) == 0 || body[0] != '{' {
		return nil, "", false
	}
	dec := decoders.Get().(*jsontext.Decoder)
	defer decoders.Put(dec)
	dec.Reset(bytes.NewBuffer(body)) // strict: a repeated name is an error
	if err := validateTokens(dec, r.fields, "", &probs, &eventID); err != nil {
		return nil, "", false
	}
	if atEOF(dec) != nil {
		return nil, "", false
	}
	return probs, eventID, true
}

// validateTokens reads the object dec is at and checks it against fields
// as validateObject checks a decoded one (a null member is a missing one).
// A non-nil eventID receives a string "eventId" member.
func validateTokens(dec *jsontext.Decoder, fields []field, ptr string, out *[]problem, eventID *string) error {
	if len(fields) > 64 {
		return errTooManyFields
	}
	if _, err := dec.ReadToken(); err != nil { // {
		return err
	}
	var present uint64    // bit i: fields[i] is there and not null
	var found [][]problem // per field, made at the first problem
	for dec.PeekKind() == '"' {
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		name := tok.String()
		i := fieldIndex(fields, name)
		k := dec.PeekKind()
		wantID := k == '"' && eventID != nil && name == "eventId"
		var probs []problem
		switch {
		case i < 0 && !wantID:
			err = dec.SkipValue() // not in the schema
		case k == 'n':
			_, err = dec.ReadToken()
		case k == '{' || k == '[':
			present |= 1 << i
			err = validateComposite(dec, &fields[i], ptr, &probs)
		default:
			tok, err = dec.ReadToken()
			if err != nil {
				return err
			}
			v := scalarOf(tok)
			if wantID {
				*eventID = v.(string)
			}
			if i >= 0 {
				present |= 1 << i
				validateValue(v, &fields[i], ptr, &probs)
			}
		}
		if err != nil {
			return err
		}
		if len(probs) > 0 {
			if found == nil {
				found = make([][]problem, len(fields))
			}
			found[i] = probs
		}
	}
	if _, err := dec.ReadToken(); err != nil { // }
		return err
	}
	for i := range fields {
		f := &fields[i]
		switch {
		case present&(1<<i) == 0:
			if f.required {
				*out = append(*out, problem{ptr + "/" + f.name, "required", f.name + " is required"})
			}
		case found != nil:
			*out = append(*out, found[i]...)
		}
	}
	return nil
}

// validateComposite checks the object or array dec is at, the value of
// member f of the object at ptr (see validateValue).
func validateComposite(dec *jsontext.Decoder, f *field, ptr string, out *[]problem) error {
	p := ptr + "/" + f.name
	switch k := dec.PeekKind(); {
	case k == '{' && f.t == tObject:
		return validateTokens(dec, f.fields, p, out, nil)
	case k == '[' && f.t == tArray:
		if _, err := dec.ReadToken(); err != nil { // [
			return err
		}
		var elems []problem
		n := 0
		for dec.PeekKind() != ']' {
			ep := p + "/" + strconv.Itoa(n)
			if dec.PeekKind() == '{' {
				if err := validateTokens(dec, f.fields, ep, &elems, nil); err != nil {
					return err
				}
			} else {
				if err := dec.SkipValue(); err != nil {
					return err
				}
				elems = append(elems, problem{ep, "wrong_type", "want an object"})
			}
			n++
		}
		if _, err := dec.ReadToken(); err != nil { // ]
			return err
		}
		if n < f.min {
			*out = append(*out, problem{p, "too_few_items", fmt.Sprintf("want at least %d item(s)", f.min)})
		}
		*out = append(*out, elems...)
		return nil
	default:
		// The wrong kind of value: validateValue words the problem from an
		// empty value of the kind.
		if err := dec.SkipValue(); err != nil {
			return err
		}
		var v any = []any{}
		if k == '{' {
			v = map[string]any{}
		}
		validateValue(v, f, ptr, out)
		return nil
	}
}

// scalarOf is a string, number or boolean token as encoding/json decodes
// it into an any with UseNumber.
func scalarOf(tok jsontext.Token) any {
	switch tok.Kind() {
	case '"':
		return tok.String()
	case '0':
		return json.Number(tok.String())
	default:
		return tok.Bool()
	}
}

// fieldIndex finds the field named name (-1 if none).
func fieldIndex(fields []field, name string) int {
	for i := range fields {
		if fields[i].name == name {
			return i
		}
	}
	return -1
}

var errTooManyFields = fmt.Errorf("schema of more than 64 fields")
