package canonical

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// Identity is what the relay needs of an event without decoding it.
type Identity struct {
	ID     string
	SiteID string
}

// Field numbers of Event read by PeekIdentity (event.proto).
const (
	eventIDField   = 1
	eventSiteField = 9
)

// PeekIdentity reads the id and site id of a binary-encoded event without
// decoding the rest: the relay checks every event's site and deduplicates by
// id at ingest rates where a full decode would cost more than the rest of
// the path. The strings are copies.
func PeekIdentity(b []byte) (Identity, error) {
	var out Identity
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return out, fmt.Errorf("peek event: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if typ == protowire.BytesType && (num == eventIDField || num == eventSiteField) {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return out, fmt.Errorf("peek event: %w", protowire.ParseError(m))
			}
			if num == eventIDField {
				out.ID = string(v)
			} else {
				out.SiteID = string(v)
			}
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return out, fmt.Errorf("peek event: %w", protowire.ParseError(m))
		}
		b = b[m:]
	}
	if out.ID == "" {
		return out, errors.New("peek event: no id")
	}
	return out, nil
}
