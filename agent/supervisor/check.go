package supervisor

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/draylink/dray/agent/spool"
	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/pluginhost"
	"github.com/draylink/dray/plugins/sdk"
)

// Codes of the records the agent quarantines itself (origin "agent").
const (
	// RejectInvalidEvent: the event fails canonical.Validate.
	RejectInvalidEvent = sdk.RejectInvalidEvent
	// RejectUndecodable: the bytes are not a canonical event.
	RejectUndecodable = pluginhost.RejectUndecodable
	// RejectForeignSite: the event belongs to another site than the agent's.
	RejectForeignSite = "foreign_site"
	// RejectUndeclaredType: the connector's Info does not list the event's
	// type.
	RejectUndeclaredType = "undeclared_event_type"
	// RejectNoCode replaces the empty code of a plugin's reject (a plugin
	// not built on the SDK may send one).
	RejectNoCode = "no_code"
)

// parallelCheckMin is the batch size from which events are checked on
// several cores.
const parallelCheckMin = 128

// check turns what a plugin sent into spool entries (valid events, in
// order, with their lanes) and quarantine records (the plugin's rejects,
// and the events the agent refuses). where names the batch in the refs of
// events without a source ref.
func (s *Supervisor) check(r *run, events [][]byte, rejects []sdk.Reject, where string) ([]spool.Entry, []spool.QuarantineRecord) {
	entries := make([]spool.Entry, len(events))
	refused := make([]*spool.QuarantineRecord, len(events))
	checkRange := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			entries[i], refused[i] = s.checkEvent(r, events[i], where, i)
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(events)/(parallelCheckMin/2))
	if workers <= 1 || len(events) < parallelCheckMin {
		checkRange(0, len(events))
	} else {
		var wg sync.WaitGroup
		chunk := (len(events) + workers - 1) / workers
		for lo := 0; lo < len(events); lo += chunk {
			wg.Go(func() { checkRange(lo, min(lo+chunk, len(events))) })
		}
		wg.Wait()
	}

	var quarantine []spool.QuarantineRecord
	for _, rj := range rejects {
		q := spool.QuarantineRecord{Origin: spool.OriginConnector, Code: rj.Code, Reason: rj.Reason, Ref: rj.Ref, Payload: rj.Payload}
		if rj.Code == pluginhost.RejectUndecodable {
			q.Origin = spool.OriginAgent
		}
		if q.Code == "" {
			q.Code = RejectNoCode
			q.Reason = "the connector gave no code: " + q.Reason
		}
		quarantine = append(quarantine, q)
	}
	kept := entries[:0]
	for i, e := range entries {
		if refused[i] != nil {
			quarantine = append(quarantine, *refused[i])
			continue
		}
		kept = append(kept, e)
	}
	return kept, quarantine
}

// checkEvent decodes and checks one event.
func (s *Supervisor) checkEvent(r *run, raw []byte, where string, i int) (spool.Entry, *spool.QuarantineRecord) {
	ev, err := canonical.UnmarshalBinary(raw)
	if err != nil {
		return spool.Entry{}, &spool.QuarantineRecord{
			Origin: spool.OriginAgent, Code: RejectUndecodable,
			Reason:  fmt.Sprintf("event %d of %s does not decode: %v", i, where, err),
			Ref:     fmt.Sprintf("%s/event/%d", where, i),
			Payload: raw,
		}
	}
	defer canonical.Release(ev)
	var code, reason string
	switch verr := canonical.Validate(ev); {
	case verr != nil:
		code, reason = RejectInvalidEvent, invalidReason(ev, verr)
	case ev.GetSiteId() != s.cfg.Site:
		code = RejectForeignSite
		reason = fmt.Sprintf("%s event %s is for site %q; this agent is site %q", ev.GetType(), ev.GetId(), ev.GetSiteId(), s.cfg.Site)
	case !r.types[ev.GetType()]:
		code = RejectUndeclaredType
		reason = fmt.Sprintf("the connector emitted a %s event but declares only %v", ev.GetType(), r.info.EventTypes)
	}
	lane := ev.Lane()
	if code == "" && lane != canonical.LaneOperational && lane != canonical.LaneBulk {
		code, reason = RejectInvalidEvent, fmt.Sprintf("%s events have no lane", ev.GetType())
	}
	if code == "" {
		return spool.Entry{Lane: lane, Event: raw}, nil
	}
	q := &spool.QuarantineRecord{Origin: spool.OriginAgent, Code: code, Reason: reason, Ref: ev.GetSourceRef()}
	if q.Ref == "" {
		q.Ref = "event/" + ev.GetId()
	}
	if js, err := canonical.MarshalJSON(ev); err == nil {
		q.Payload = js
	} else {
		// Kept in the binary codec then: nothing is lost.
		q.Payload = raw
		q.Reason += fmt.Sprintf(" (payload in the binary codec: %v)", err)
	}
	return spool.Entry{}, q
}

// invalidReason lists every validation problem with its path and code.
func invalidReason(ev *canonical.Event, err error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "the agent refused an invalid %s event", ev.GetType())
	var ve *canonical.ValidationError
	if !errors.As(err, &ve) {
		return b.String() + ": " + err.Error()
	}
	fmt.Fprintf(&b, ": %d problem(s): ", len(ve.Problems))
	for i, p := range ve.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}
