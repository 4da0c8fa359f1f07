package spool

import (
	"strings"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
)

func TestOptionsDefaults(t *testing.T) {
	o, err := Options{Dir: "x"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if o.MaxBytes != 10<<30 || o.MaxAge != 7*24*time.Hour || o.MinFreeBytes != 256<<20 ||
		o.RotateAfter != 10000 || o.Logger == nil || o.Now == nil || o.policy(opLane) != Backpressure || o.policy(bulkLane) != Backpressure {
		t.Errorf("defaults: %+v", o)
	}
	if o, _ := (Options{Dir: "x", MaxAge: NoMaxAge}).withDefaults(); o.ageCapped() {
		t.Error("NoMaxAge leaves the age cap on")
	}
}

func TestOptionsInvalid(t *testing.T) {
	o := Options{
		MaxBytes:     -1,
		MinFreeBytes: -1,
		Policies:     map[canonical.Lane]Policy{canonical.Lane_LANE_UNSPECIFIED: DropOldest, bulkLane: Policy(7)},
	}
	_, err := o.withDefaults()
	if err == nil {
		t.Fatal("no error")
	}
	// Every problem is reported, not only the first.
	for _, want := range []string{"dir", "max_bytes", "min_free_bytes", "unknown lane", "unknown policy"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if _, err := Open(o); err == nil {
		t.Error("Open accepted invalid options")
	}
}
