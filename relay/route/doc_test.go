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

// checkSameDoc holds jq's input (Doc, built from the message) equal to
// the JSON round trip: MarshalJSON decoded by encoding/json with UseNumber.
func checkSameDoc(t *testing.T, name string, ev *canonical.Event) {
	t.Helper()
	b, err := canonical.MarshalJSON(ev)
	if err != nil {
		t.Fatalf("%s: marshal: %v", name, err)
	}
	want, err := stdDecode(b)
	if err != nil {
		t.Fatalf("%s: decode: %v", name, err)
	}
	got, err := (&Event{Event: ev}).Doc()
	if err != nil {
		t.Fatalf("%s: Doc: %v", name, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: jq input differs from the JSON round trip\n got  %#v\n want %#v", name, got, want)
	}
}

func TestDocMatchesJSONRoundTripOnGoldenEvents(t *testing.T) {
	for name, ev := range goldenEvents(t) {
		checkSameDoc(t, name, ev)
	}
}

// TestDocMatchesJSONRoundTripOnEdges covers what the goldens may
// not: escapes and non-ASCII text, nanosecond and pre-1970 times, negative
// integers, an event without data, an empty nested message.
func TestDocMatchesJSONRoundTripOnEdges(t *testing.T) {
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
