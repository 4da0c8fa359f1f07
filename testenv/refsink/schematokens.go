package refsink

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"
)

// Validating a plain JSON body straight from its jsontext tokens: the same
// problems, in the same order, as decoding it into a map and running
// validateObject, without building the map (which, with its boxed members,
// was the largest cost of a batch item). Scalars are checked by
// checkScalar, as in the map; only objects and arrays are walked here.

// validateBody checks body (compact JSON) against r. ok is false when the
// body is not an object, repeats a member the schema reads, is not valid
// JSON, or r has a cross-field check: the caller then decodes it and validates the
// map, which decides (and words any error) as it always did. eventID is a
// top-level string "eventId" member.
func (r *resource) validateBody(body []byte) (probs []problem, eventID string, ok bool) {
	if r.check != nil || len(body) == 0 || body[0] != '{' {
		return nil, "", false
	}
	dec := decoders.Get().(*jsontext.Decoder)
	defer decoders.Put(dec)
	// Repeated names are found by validateTokens where they matter.
	dec.Reset(bytes.NewBuffer(body), jsontext.AllowDuplicateNames(true))
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
	var seen uint64     // bit i: fields[i] is there
	var present uint64  // bit i: fields[i] is there and not null
	var seenID bool     // an "eventId" member is there
	var found []problem // in member order; spans[i] are those of fields[i]
	var spans [64][2]int32
	for dec.PeekKind() == '"' {
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		name := tok.String()
		i := fieldIndex(fields, name)
		k := dec.PeekKind()
		wantID := k == '"' && eventID != nil && name == "eventId"
		// A repeated member the map would see (the last one wins there):
		// the map decides.
		if i >= 0 {
			if seen&(1<<i) != 0 {
				return errRepeatedMember
			}
			seen |= 1 << i
		}
		if eventID != nil && name == "eventId" {
			if seenID {
				return errRepeatedMember
			}
			seenID = true
		}
		start := len(found)
		switch {
		case i < 0 && !wantID:
			err = dec.SkipValue() // not in the schema
		case k == 'n':
			_, err = dec.ReadToken()
		case k == '{' || k == '[':
			present |= 1 << i
			err = validateComposite(dec, &fields[i], ptr, &found)
		default:
			tok, err = dec.ReadToken()
			if err != nil {
				return err
			}
			v := tokenScalar(tok)
			if wantID {
				*eventID = v.text
			}
			if i >= 0 {
				present |= 1 << i
				checkScalar(v, &fields[i], ptr, &found)
			}
		}
		if err != nil {
			return err
		}
		if i >= 0 {
			spans[i] = [2]int32{int32(start), int32(len(found))} //nolint:gosec // problems of one body: far below 2^31
		}
	}
	if _, err := dec.ReadToken(); err != nil { // }
		return err
	}
	for i := range fields {
		f := &fields[i]
		if present&(1<<i) != 0 {
			*out = append(*out, found[spans[i][0]:spans[i][1]]...)
		} else if f.required {
			*out = append(*out, problem{ptr + "/" + f.name, "required", f.name + " is required"})
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
		// The wrong kind of value for f.
		if err := dec.SkipValue(); err != nil {
			return err
		}
		checkScalar(scalar{kind: byte(k)}, f, ptr, out)
		return nil
	}
}

// tokenScalar is the scalar of a string, number or boolean token.
func tokenScalar(tok jsontext.Token) scalar {
	k := byte(tok.Kind())
	if k == '"' || k == '0' {
		return scalar{k, tok.String()}
	}
	return scalar{kind: k}
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

var (
	errTooManyFields  = fmt.Errorf("schema of more than 64 fields")
	errRepeatedMember = fmt.Errorf("a member is repeated")
)
