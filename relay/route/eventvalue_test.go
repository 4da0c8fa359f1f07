package route

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/draylink/dray/canonical"
)

// goldenEvents loads every golden event of canonical/testdata/events.
func goldenEvents(t *testing.T) map[string]*canonical.Event {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "canonical", "testdata", "events", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("found %d golden events, want every type's (≥ 20)", len(files))
	}
	out := map[string]*canonical.Event{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := canonical.UnmarshalJSON(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = ev
	}
	return out
}

// checkSameDoc holds the direct jq input equal to the JSON round trip.
func checkSameDoc(t *testing.T, name string, ev *canonical.Event) {
	t.Helper()
	want, err := docFromJSON(&Event{Event: ev})
	if err != nil {
		t.Fatalf("%s: json round trip: %v", name, err)
	}
	got, err := eventValue(ev)
	if err != nil {
		t.Fatalf("%s: eventValue: %v", name, err)
	}
	if !reflect.DeepEqual(any(got), want) {
		t.Errorf("%s: direct jq input differs from the JSON round trip\n got  %#v\n want %#v", name, got, want)
	}
}

func TestEventValueMatchesJSONRoundTripOnGoldenEvents(t *testing.T) {
	for name, ev := range goldenEvents(t) {
		checkSameDoc(t, name, ev)
	}
}

// TestEventValueMatchesJSONRoundTripOnEdges covers what the goldens may
// not: escapes and non-ASCII text, nanosecond and pre-1970 times, negative
// integers, an event without data, an empty nested message.
func TestEventValueMatchesJSONRoundTripOnEdges(t *testing.T) {
	base := movement(t, "MEM1", "k1").Event
	edits := map[string]func(e *canonical.Event){
		"escapes": func(e *canonical.Event) {
			e.GetInventoryMoved().Movement.Note = "quote \" backslash \\ tab \t nl \n ctl \x01 del \x7f é 😀 <&>"
		},
		"nanos": func(e *canonical.Event) {
			e.Time = timestamppb.New(time.Date(2025, 3, 14, 6, 12, 40, 123456789, time.UTC))
		},
		"before-1970": func(e *canonical.Event) { e.Time = timestamppb.New(time.Date(1969, 12, 31, 23, 59, 59, 500, time.UTC)) },
		"no-data":     func(e *canonical.Event) { e.Data = nil },
		"empty-item":  func(e *canonical.Event) { e.GetInventoryMoved().Movement.Item = &canonical.ItemRef{} },
	}
	for name, edit := range edits {
		ev := proto.Clone(base).(*canonical.Event)
		edit(ev)
		checkSameDoc(t, name, ev)
	}
	for name, ev := range goldenEvents(t) {
		if strings.Contains(name, "status_changed") {
			ev = proto.Clone(ev).(*canonical.Event)
			ev.Subject = "ünïcödé/" + ev.Subject
			checkSameDoc(t, name+"+unicode", ev)
		}
	}
}

// TestDocOfUnencodableEventKeepsJSONError: an event the JSON form cannot
// encode gets the JSON encoder's located error from Doc, as before.
func TestDocOfUnencodableEventKeepsJSONError(t *testing.T) {
	for name, edit := range map[string]func(e *canonical.Event){
		"invalid-utf8": func(e *canonical.Event) { e.GetInventoryMoved().Movement.SourceKey = "bad\xff" },
		"bad-enum":     func(e *canonical.Event) { e.GetInventoryMoved().Movement.MovementType = 999 },
		"bad-time":     func(e *canonical.Event) { e.Time = &timestamppb.Timestamp{Seconds: 1, Nanos: -1} },
	} {
		ev := proto.Clone(movement(t, "MEM1", "k1").Event).(*canonical.Event)
		edit(ev)
		if _, err := eventValue(ev); err == nil {
			t.Errorf("%s: eventValue took an event with no JSON form", name)
		}
		_, want := canonical.MarshalJSON(ev)
		if want == nil {
			t.Fatalf("%s: the JSON encoder took the event", name)
		}
		_, got := (&Event{Event: ev}).Doc()
		if got == nil || got.Error() != want.Error() {
			t.Errorf("%s: Doc error %v, want the JSON encoder's %v", name, got, want)
		}
	}
}
