package canonical_test

import (
	"math/rand/v2"
	"testing"
	"time"

	. "github.com/draylink/dray/canonical"
)

func lineState(sts ...OrderLineStatus) OrderLineState {
	var s OrderLineState
	for _, st := range sts {
		s = s.Apply(st)
	}
	return s
}

const (
	lReceived  = OrderLineStatus_ORDER_LINE_STATUS_RECEIVED
	lReleased  = OrderLineStatus_ORDER_LINE_STATUS_RELEASED
	lAllocated = OrderLineStatus_ORDER_LINE_STATUS_ALLOCATED
	lPicked    = OrderLineStatus_ORDER_LINE_STATUS_PICKED
	lPacked    = OrderLineStatus_ORDER_LINE_STATUS_PACKED
	lLoaded    = OrderLineStatus_ORDER_LINE_STATUS_LOADED
	lShipped   = OrderLineStatus_ORDER_LINE_STATUS_SHIPPED
	lDelivered = OrderLineStatus_ORDER_LINE_STATUS_DELIVERED
	lShort     = OrderLineStatus_ORDER_LINE_STATUS_SHORT_SHIPPED
	lBack      = OrderLineStatus_ORDER_LINE_STATUS_BACKORDERED
	lCancelled = OrderLineStatus_ORDER_LINE_STATUS_CANCELLED
	lClosed    = OrderLineStatus_ORDER_LINE_STATUS_CLOSED
)

func TestOrderLineRanks(t *testing.T) {
	order := []OrderLineStatus{lReceived, lReleased, lAllocated, lPicked, lPacked, lLoaded, lShipped, lDelivered}
	for i, st := range order {
		if got := OrderLineRank(st); got != i {
			t.Errorf("rank(%s) = %d; want %d", EnumName(st), got, i)
		}
	}
	if OrderLineRank(lShort) != OrderLineRank(lShipped) {
		t.Errorf("short_shipped must rank as shipped")
	}
	for _, st := range []OrderLineStatus{lBack, lCancelled, lClosed, 0} {
		if OrderLineRank(st) != -1 {
			t.Errorf("rank(%v) = %d; want -1", st, OrderLineRank(st))
		}
	}
}

func TestOrderLineStatus(t *testing.T) {
	tests := []struct {
		name     string
		reports  []OrderLineStatus
		want     OrderLineStatus
		conflict bool
	}{
		{"progress", []OrderLineStatus{lReceived, lReleased, lPicked}, lPicked, false},
		{"old status after newer", []OrderLineStatus{lPacked, lPicked}, lPacked, false},
		{"delivered before shipped", []OrderLineStatus{lDelivered, lShipped}, lDelivered, false},
		{"945 CP: short shipped", []OrderLineStatus{lPicked, lShort}, lShort, false},
		{"short shipped then delivered", []OrderLineStatus{lShort, lDelivered}, lDelivered, false},
		{"945 BP: backordered", []OrderLineStatus{lPicked, lBack}, lBack, false},
		{"backorder later shipped", []OrderLineStatus{lBack, lShipped}, lShipped, false},
		{"backorder reported after the later shipment", []OrderLineStatus{lShipped, lBack}, lShipped, false},
		{"cancel after picking started", []OrderLineStatus{lPicked, lCancelled}, lCancelled, false},
		{"cancel after shipping is a conflict", []OrderLineStatus{lShipped, lCancelled}, lShipped, true},
		{"closed wins", []OrderLineStatus{lPicked, lClosed, lShipped}, lClosed, false},
		{"nothing", nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := lineState(tt.reports...)
			if got := s.Status(); got != tt.want {
				t.Errorf("status = %s; want %s", EnumName(got), EnumName(tt.want))
			}
			if s.Conflict() != tt.conflict {
				t.Errorf("conflict = %v; want %v", s.Conflict(), tt.conflict)
			}
		})
	}
}

// TestOrderLineMergeIsOrderIndependent applies random report sequences in
// random orders and groupings: the state must not depend on either.
func TestOrderLineMergeIsOrderIndependent(t *testing.T) {
	all := []OrderLineStatus{lReceived, lReleased, lAllocated, lPicked, lPacked, lLoaded, lShipped, lDelivered, lShort, lBack, lCancelled, lClosed}
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 2000; n++ {
		reports := make([]OrderLineStatus, 1+rng.IntN(6))
		for i := range reports {
			reports[i] = all[rng.IntN(len(all))]
		}
		want := lineState(reports...)
		shuffled := append([]OrderLineStatus(nil), reports...)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if got := lineState(shuffled...); got != want {
			t.Fatalf("%v in order %v gives %+v; in order %v gives %+v", reports, reports, want, shuffled, got)
		}
		// Merging partial states in any grouping equals applying all.
		cut := rng.IntN(len(shuffled) + 1)
		a, b := lineState(shuffled[:cut]...), lineState(shuffled[cut:]...)
		if MergeOrderLine(a, b) != want || MergeOrderLine(b, a) != want {
			t.Fatalf("merge of %v | %v differs from %+v", shuffled[:cut], shuffled[cut:], want)
		}
		if MergeOrderLine(want, want) != want {
			t.Fatal("merge is not idempotent")
		}
		// Never backwards: the progress rank only grows along the sequence.
		var s OrderLineState
		for _, r := range shuffled {
			next := s.Apply(r)
			if OrderLineRank(next.Progress) < OrderLineRank(s.Progress) {
				t.Fatalf("progress moved back from %s to %s", EnumName(s.Progress), EnumName(next.Progress))
			}
			s = next
		}
	}
}

var base = time.Date(2025, 3, 14, 20, 0, 0, 0, time.UTC)

func rep(st ShipmentStatus, minute int) ShipmentReport {
	return ShipmentReport{Status: st, At: base.Add(time.Duration(minute) * time.Minute)}
}

func TestShipmentStatus(t *testing.T) {
	const (
		tendered  = ShipmentStatus_SHIPMENT_STATUS_TENDERED
		accepted  = ShipmentStatus_SHIPMENT_STATUS_TENDER_ACCEPTED
		declined  = ShipmentStatus_SHIPMENT_STATUS_TENDER_DECLINED
		atPickup  = ShipmentStatus_SHIPMENT_STATUS_AT_PICKUP
		inTransit = ShipmentStatus_SHIPMENT_STATUS_IN_TRANSIT
		atDeliv   = ShipmentStatus_SHIPMENT_STATUS_AT_DELIVERY
		delivered = ShipmentStatus_SHIPMENT_STATUS_DELIVERED
		refused   = ShipmentStatus_SHIPMENT_STATUS_REFUSED
		cancelled = ShipmentStatus_SHIPMENT_STATUS_CANCELLED
	)
	delay := ShipmentReport{At: base.Add(30 * time.Minute), Exception: true, ExceptionReason: "SD/AO"}
	tests := []struct {
		name      string
		reports   []ShipmentReport
		want      ShipmentStatus
		exception bool
	}{
		{"progress", []ShipmentReport{rep(tendered, 0), rep(accepted, 1), rep(atPickup, 5), rep(inTransit, 48)}, inTransit, false},
		{"delivered before departed", []ShipmentReport{rep(delivered, 900), rep(inTransit, 48)}, delivered, false},
		{"old status after newer", []ShipmentReport{rep(atDeliv, 800), rep(atPickup, 5)}, atDeliv, false},
		{"same rank: later wins", []ShipmentReport{rep(refused, 910), rep(delivered, 900)}, refused, false},
		{"equal timestamps: fixed tie-break", []ShipmentReport{rep(delivered, 900), rep(refused, 900)}, refused, false},
		{"declined then accepted", []ShipmentReport{rep(accepted, 20), rep(declined, 10)}, accepted, false},
		{"tender cancel after accept", []ShipmentReport{rep(accepted, 1), rep(cancelled, 3)}, cancelled, false},
		{"cancel after pickup is ignored", []ShipmentReport{rep(inTransit, 48), rep(cancelled, 50)}, inTransit, false},
		{"delay flags an exception", []ShipmentReport{rep(inTransit, 10), delay}, inTransit, true},
		{"delivery clears the exception", []ShipmentReport{rep(inTransit, 10), delay, rep(delivered, 900)}, delivered, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s ShipmentState
			for _, r := range tt.reports {
				s = s.Apply(r)
			}
			if got := s.Status(); got != tt.want {
				t.Errorf("status = %s; want %s", EnumName(got), EnumName(tt.want))
			}
			if s.Exception() != tt.exception {
				t.Errorf("exception = %v; want %v", s.Exception(), tt.exception)
			}
			// Reversed order gives the same state.
			var r ShipmentState
			for i := len(tt.reports) - 1; i >= 0; i-- {
				r = r.Apply(tt.reports[i])
			}
			if r != s {
				t.Errorf("reversed order: %+v; want %+v", r, s)
			}
		})
	}
}

func TestShipmentMergeIsOrderIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := 0; n < 2000; n++ {
		reports := make([]ShipmentReport, 1+rng.IntN(6))
		for i := range reports {
			reports[i] = ShipmentReport{Status: ShipmentStatus(rng.IntN(13)), At: base.Add(time.Duration(rng.IntN(5)) * time.Minute),
				Exception: rng.IntN(4) == 0, ExceptionReason: string(rune('a' + rng.IntN(3)))}
		}
		apply := func(rs []ShipmentReport) ShipmentState {
			var s ShipmentState
			for _, r := range rs {
				s = s.Apply(r)
			}
			return s
		}
		want := apply(reports)
		shuffled := append([]ShipmentReport(nil), reports...)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if got := apply(shuffled); got != want {
			t.Fatalf("order dependence: %+v vs %+v", got, want)
		}
		cut := rng.IntN(len(shuffled) + 1)
		if got := MergeShipment(apply(shuffled[cut:]), apply(shuffled[:cut])); got != want {
			t.Fatalf("grouping dependence: %+v vs %+v", got, want)
		}
	}
}

func TestMilestones(t *testing.T) {
	tests := []struct {
		code   string
		want   Milestone
		status ShipmentStatus
	}{
		{"XB", Milestone_MILESTONE_TENDER_ACCEPTED, ShipmentStatus_SHIPMENT_STATUS_TENDER_ACCEPTED},
		{"X3", Milestone_MILESTONE_AT_PICKUP, ShipmentStatus_SHIPMENT_STATUS_AT_PICKUP},
		{"L1", Milestone_MILESTONE_LOADED, ShipmentStatus_SHIPMENT_STATUS_AT_PICKUP},
		{"AF", Milestone_MILESTONE_DEPARTED_PICKUP, ShipmentStatus_SHIPMENT_STATUS_IN_TRANSIT},
		{"X6", Milestone_MILESTONE_POSITION_REPORT, ShipmentStatus_SHIPMENT_STATUS_IN_TRANSIT},
		{"AG", Milestone_MILESTONE_ETA_UPDATED, 0},
		{"SD", Milestone_MILESTONE_DELAYED, 0},
		{"X1", Milestone_MILESTONE_AT_DELIVERY, ShipmentStatus_SHIPMENT_STATUS_AT_DELIVERY},
		{"D1", Milestone_MILESTONE_DELIVERED, ShipmentStatus_SHIPMENT_STATUS_DELIVERED},
		{"CD", Milestone_MILESTONE_DEPARTED_DELIVERY, 0},
		{"AH", Milestone_MILESTONE_DELIVERY_FAILED, 0},
		{"A7", Milestone_MILESTONE_REFUSED, ShipmentStatus_SHIPMENT_STATUS_REFUSED},
		{"A3", Milestone_MILESTONE_RETURNED, ShipmentStatus_SHIPMENT_STATUS_RETURNED},
		{"A9", Milestone_MILESTONE_DAMAGED, 0},
		{"CA", Milestone_MILESTONE_CANCELLED, ShipmentStatus_SHIPMENT_STATUS_CANCELLED},
	}
	for _, tt := range tests {
		m, ok := MilestoneFromX12(tt.code)
		if !ok || m != tt.want {
			t.Errorf("MilestoneFromX12(%s) = %v, %v; want %v", tt.code, m, ok, tt.want)
		}
		if got := StatusOfMilestone(m); got != tt.status {
			t.Errorf("StatusOfMilestone(%s) = %v; want %v", EnumName(m), got, tt.status)
		}
	}
	if _, ok := MilestoneFromX12("ZZ"); ok {
		t.Error("unknown code mapped")
	}
	if !IsExceptionMilestone(Milestone_MILESTONE_DELAYED) || IsExceptionMilestone(Milestone_MILESTONE_DELIVERED) {
		t.Error("exception milestones wrong")
	}
}
