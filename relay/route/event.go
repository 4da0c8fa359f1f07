package route

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/wire"
)

// Event is what routes look at: one decoded event of the relay log with the
// relay's metadata. Its JSON forms are computed on first use and shared by
// every route that looks at it. An Event is not safe for concurrent use.
type Event struct {
	Seq      uint64
	Site     string
	Received time.Time
	Lane     canonical.Lane
	Event    *canonical.Event

	json    []byte
	jsonErr error
	doc     any
	docDone bool
	docErr  error
}

// JSON returns the event's CloudEvents structured JSON.
func (e *Event) JSON() ([]byte, error) {
	if e.json == nil && e.jsonErr == nil {
		e.json, e.jsonErr = canonical.MarshalJSON(e.Event)
	}
	return e.json, e.jsonErr
}

// Doc returns the event's CloudEvents JSON as jq sees it (objects as
// map[string]any, numbers as json.Number so none loses precision), built
// from the message by canonical.JSONValue rather than encoded and decoded
// again; an event that has no JSON form gets the JSON encoder's located
// error. gojq never modifies its input, so the routes share the value.
func (e *Event) Doc() (any, error) {
	if e.docDone {
		return e.doc, e.docErr
	}
	e.docDone = true
	v, err := canonical.JSONValue(e.Event)
	if err != nil {
		e.docErr = err
		return nil, err
	}
	e.doc = v
	return e.doc, nil
}

// relayVar is the value of $relay for one route.
func (e *Event) relayVar(route, sink string) map[string]any {
	return map[string]any{
		"seq":      json.Number(fmt.Sprint(e.Seq)),
		"site":     e.Site,
		"received": e.Received.UTC().Format(time.RFC3339Nano),
		"lane":     wire.LaneName(e.Lane),
		"route":    route,
		"sink":     sink,
	}
}

// PartitionKey is the event's ordering scope: partitionkey, else subject,
// else id.
func PartitionKey(ev *canonical.Event) string {
	if k := ev.GetPartitionKey(); k != "" {
		return k
	}
	if s := ev.GetSubject(); s != "" {
		return s
	}
	return ev.GetId()
}
