package route

import (
	"encoding/json"
	"fmt"
	"sync"
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
	// Shared, when set, holds the jq input of Event for every Event of the
	// same message (the relay's sinks each route the same log entry).
	Shared *SharedDoc

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
// error. gojq never modifies its input, so the routes (and, through
// Shared, the sinks) share the value.
func (e *Event) Doc() (any, error) {
	if e.Shared != nil {
		return e.Shared.doc(e.Event)
	}
	if e.docDone {
		return e.doc, e.docErr
	}
	e.docDone = true
	e.doc, e.docErr = jqInput(e.Event)
	return e.doc, e.docErr
}

func jqInput(ev *canonical.Event) (any, error) {
	v, err := canonical.JSONValue(ev)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// SharedDoc is the jq input of one event message, computed once for all
// the Events that carry it; safe for concurrent use. The message must not
// change once shared.
type SharedDoc struct {
	once sync.Once
	v    any
	err  error
}

func (s *SharedDoc) doc(ev *canonical.Event) (any, error) {
	s.once.Do(func() { s.v, s.err = jqInput(ev) })
	return s.v, s.err
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
