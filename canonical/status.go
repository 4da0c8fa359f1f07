package canonical

import (
	"time"
)

// Status state is merged, never overwritten: each function here is a join
// (commutative, associative, idempotent), so applying the same reports in any
// order - delivered before departed, an old status after a newer one, the
// same report twice - gives the same state, and state never moves backwards.

// OrderLineRank is the progress rank of a line status (CANONICAL.md): 0
// received … 7 delivered. Terminal outcomes have the rank they imply
// (short_shipped: shipped) or -1 when they imply none.
func OrderLineRank(s OrderLineStatus) int {
	switch s {
	case OrderLineStatus_ORDER_LINE_STATUS_RECEIVED:
		return 0
	case OrderLineStatus_ORDER_LINE_STATUS_RELEASED:
		return 1
	case OrderLineStatus_ORDER_LINE_STATUS_ALLOCATED:
		return 2
	case OrderLineStatus_ORDER_LINE_STATUS_PICKED:
		return 3
	case OrderLineStatus_ORDER_LINE_STATUS_PACKED:
		return 4
	case OrderLineStatus_ORDER_LINE_STATUS_LOADED:
		return 5
	case OrderLineStatus_ORDER_LINE_STATUS_SHIPPED, OrderLineStatus_ORDER_LINE_STATUS_SHORT_SHIPPED:
		return 6
	case OrderLineStatus_ORDER_LINE_STATUS_DELIVERED:
		return 7
	}
	return -1
}

// OrderLineState is what is known of an order line: the highest progress
// reached by all its open quantity, and the terminal outcomes reported.
type OrderLineState struct {
	// Progress is the highest of RECEIVED…DELIVERED reached (UNSPECIFIED: none).
	Progress     OrderLineStatus
	ShortShipped bool // remainder closed with a reason (945 W12 CP)
	Backordered  bool // remainder stays open (945 W12 BP)
	Cancelled    bool
	Closed       bool
}

// Apply merges one reported status into the state.
func (s OrderLineState) Apply(st OrderLineStatus) OrderLineState {
	switch st {
	case OrderLineStatus_ORDER_LINE_STATUS_SHORT_SHIPPED:
		s.ShortShipped = true
		st = OrderLineStatus_ORDER_LINE_STATUS_SHIPPED
	case OrderLineStatus_ORDER_LINE_STATUS_BACKORDERED:
		s.Backordered = true
		return s
	case OrderLineStatus_ORDER_LINE_STATUS_CANCELLED:
		s.Cancelled = true
		return s
	case OrderLineStatus_ORDER_LINE_STATUS_CLOSED:
		s.Closed = true
		return s
	}
	if OrderLineRank(st) > OrderLineRank(s.Progress) {
		s.Progress = st
	}
	return s
}

// MergeOrderLine joins two states of one line.
func MergeOrderLine(a, b OrderLineState) OrderLineState {
	out := a
	if OrderLineRank(b.Progress) > OrderLineRank(a.Progress) {
		out.Progress = b.Progress
	}
	out.ShortShipped = a.ShortShipped || b.ShortShipped
	out.Backordered = a.Backordered || b.Backordered
	out.Cancelled = a.Cancelled || b.Cancelled
	out.Closed = a.Closed || b.Closed
	return out
}

// Status is the line's effective status:
//   - closed wins (an administrative close ends the line);
//   - cancelled, unless the goods already shipped: a cancel that arrives after
//     shipping cannot undo the goods issue and is reported by Conflict;
//   - delivered;
//   - short_shipped once shipped with the remainder closed;
//   - backordered while the remainder is open and not shipped;
//   - otherwise the progress reached.
func (s OrderLineState) Status() OrderLineStatus {
	shipped := OrderLineRank(s.Progress) >= OrderLineRank(OrderLineStatus_ORDER_LINE_STATUS_SHIPPED)
	switch {
	case s.Closed:
		return OrderLineStatus_ORDER_LINE_STATUS_CLOSED
	case s.Cancelled && !shipped:
		return OrderLineStatus_ORDER_LINE_STATUS_CANCELLED
	case s.Progress == OrderLineStatus_ORDER_LINE_STATUS_DELIVERED:
		return s.Progress
	case s.ShortShipped && shipped:
		return OrderLineStatus_ORDER_LINE_STATUS_SHORT_SHIPPED
	case s.Backordered && !shipped:
		return OrderLineStatus_ORDER_LINE_STATUS_BACKORDERED
	}
	return s.Progress
}

// Conflict reports a cancel that arrived for a line that had already shipped.
func (s OrderLineState) Conflict() bool {
	return s.Cancelled && !s.Closed &&
		OrderLineRank(s.Progress) >= OrderLineRank(OrderLineStatus_ORDER_LINE_STATUS_SHIPPED)
}

// ShipmentRank is the progress rank of a shipment status. Statuses at one rank
// are alternatives (accepted / declined; delivered / partially delivered /
// refused): the later report wins. CANCELLED has no rank (-1): it is a flag
// that counts only before pickup.
func ShipmentRank(s ShipmentStatus) int {
	switch s {
	case ShipmentStatus_SHIPMENT_STATUS_PLANNED:
		return 0
	case ShipmentStatus_SHIPMENT_STATUS_TENDERED:
		return 1
	case ShipmentStatus_SHIPMENT_STATUS_TENDER_ACCEPTED, ShipmentStatus_SHIPMENT_STATUS_TENDER_DECLINED:
		return 2
	case ShipmentStatus_SHIPMENT_STATUS_AT_PICKUP:
		return 3
	case ShipmentStatus_SHIPMENT_STATUS_IN_TRANSIT:
		return 4
	case ShipmentStatus_SHIPMENT_STATUS_AT_DELIVERY:
		return 5
	case ShipmentStatus_SHIPMENT_STATUS_DELIVERED, ShipmentStatus_SHIPMENT_STATUS_PARTIALLY_DELIVERED,
		ShipmentStatus_SHIPMENT_STATUS_REFUSED:
		return 6
	case ShipmentStatus_SHIPMENT_STATUS_RETURNED:
		return 7
	}
	return -1
}

// ShipmentState is what is known of a shipment's status.
type ShipmentState struct {
	// Progress is the highest-ranked status reported, and At when it happened.
	Progress ShipmentStatus
	At       time.Time
	// CancelledAt is set once a cancellation was reported.
	CancelledAt time.Time
	// ExceptionAt is the latest exception reported (e.g. 214 SD), and
	// ExceptionReason its reason.
	ExceptionAt     time.Time
	ExceptionReason string
}

// ShipmentReport is one status report.
type ShipmentReport struct {
	Status          ShipmentStatus // UNSPECIFIED for reports that change no status
	At              time.Time
	Exception       bool
	ExceptionReason string
}

// Apply merges one report into the state.
func (s ShipmentState) Apply(r ShipmentReport) ShipmentState {
	var one ShipmentState
	switch {
	case r.Status == ShipmentStatus_SHIPMENT_STATUS_CANCELLED:
		one.CancelledAt = r.At
	case ShipmentRank(r.Status) >= 0:
		one.Progress, one.At = r.Status, r.At
	}
	if r.Exception {
		one.ExceptionAt, one.ExceptionReason = r.At, r.ExceptionReason
	}
	return MergeShipment(s, one)
}

// MergeShipment joins two states of one shipment. Progress is the maximum of
// (rank, time, status number); ties cannot depend on arrival order.
func MergeShipment(a, b ShipmentState) ShipmentState {
	out := a
	if shipmentAfter(b.Progress, b.At, a.Progress, a.At) {
		out.Progress, out.At = b.Progress, b.At
	}
	if b.CancelledAt.After(a.CancelledAt) {
		out.CancelledAt = b.CancelledAt
	}
	if b.ExceptionAt.After(a.ExceptionAt) ||
		(b.ExceptionAt.Equal(a.ExceptionAt) && b.ExceptionReason > a.ExceptionReason) {
		out.ExceptionAt, out.ExceptionReason = b.ExceptionAt, b.ExceptionReason
	}
	return out
}

func shipmentAfter(s1 ShipmentStatus, t1 time.Time, s2 ShipmentStatus, t2 time.Time) bool {
	r1, r2 := ShipmentRank(s1), ShipmentRank(s2)
	if r1 != r2 {
		return r1 > r2
	}
	if !t1.Equal(t2) {
		return t1.After(t2)
	}
	return s1 > s2
}

// Status is the effective status: CANCELLED when a cancellation was reported
// before the goods were picked up (a cancel after pickup cannot recall the
// truck and is ignored), else the progress reached.
func (s ShipmentState) Status() ShipmentStatus {
	if !s.CancelledAt.IsZero() && ShipmentRank(s.Progress) < ShipmentRank(ShipmentStatus_SHIPMENT_STATUS_AT_PICKUP) {
		return ShipmentStatus_SHIPMENT_STATUS_CANCELLED
	}
	return s.Progress
}

// Exception reports whether an exception stands: one was reported at or after
// the time the current status was reached.
func (s ShipmentState) Exception() bool {
	return !s.ExceptionAt.IsZero() && !s.ExceptionAt.Before(s.At)
}

// StatusOfMilestone is the shipment status a milestone implies, or
// UNSPECIFIED for milestones that change no status (position reports keep
// in_transit, ETA updates, delays, damage and failed attempts are flags).
func StatusOfMilestone(m Milestone) ShipmentStatus {
	switch m {
	case Milestone_MILESTONE_TENDER_ACCEPTED:
		return ShipmentStatus_SHIPMENT_STATUS_TENDER_ACCEPTED
	case Milestone_MILESTONE_TENDER_DECLINED:
		return ShipmentStatus_SHIPMENT_STATUS_TENDER_DECLINED
	case Milestone_MILESTONE_AT_PICKUP, Milestone_MILESTONE_LOADED:
		return ShipmentStatus_SHIPMENT_STATUS_AT_PICKUP
	case Milestone_MILESTONE_DEPARTED_PICKUP, Milestone_MILESTONE_POSITION_REPORT:
		return ShipmentStatus_SHIPMENT_STATUS_IN_TRANSIT
	case Milestone_MILESTONE_AT_DELIVERY:
		return ShipmentStatus_SHIPMENT_STATUS_AT_DELIVERY
	case Milestone_MILESTONE_DELIVERED:
		return ShipmentStatus_SHIPMENT_STATUS_DELIVERED
	case Milestone_MILESTONE_PARTIALLY_DELIVERED:
		return ShipmentStatus_SHIPMENT_STATUS_PARTIALLY_DELIVERED
	case Milestone_MILESTONE_REFUSED:
		return ShipmentStatus_SHIPMENT_STATUS_REFUSED
	case Milestone_MILESTONE_RETURNED:
		return ShipmentStatus_SHIPMENT_STATUS_RETURNED
	case Milestone_MILESTONE_CANCELLED:
		return ShipmentStatus_SHIPMENT_STATUS_CANCELLED
	}
	return ShipmentStatus_SHIPMENT_STATUS_UNSPECIFIED
}

// IsExceptionMilestone reports milestones that raise the exception flag.
func IsExceptionMilestone(m Milestone) bool {
	switch m {
	case Milestone_MILESTONE_DELAYED, Milestone_MILESTONE_DELIVERY_FAILED, Milestone_MILESTONE_DAMAGED:
		return true
	}
	return false
}

// x12Milestones maps X12 214 AT7-01 shipment status codes (CANONICAL.md).
var x12Milestones = map[string]Milestone{
	"XB": Milestone_MILESTONE_TENDER_ACCEPTED,
	"X3": Milestone_MILESTONE_AT_PICKUP, "X8": Milestone_MILESTONE_AT_PICKUP,
	"CP": Milestone_MILESTONE_LOADED, "AM": Milestone_MILESTONE_LOADED, "L1": Milestone_MILESTONE_LOADED,
	"AF": Milestone_MILESTONE_DEPARTED_PICKUP,
	"X6": Milestone_MILESTONE_POSITION_REPORT, "P1": Milestone_MILESTONE_POSITION_REPORT,
	"X4": Milestone_MILESTONE_POSITION_REPORT, "R1": Milestone_MILESTONE_POSITION_REPORT,
	"J1": Milestone_MILESTONE_POSITION_REPORT,
	"AG": Milestone_MILESTONE_ETA_UPDATED, "X2": Milestone_MILESTONE_ETA_UPDATED,
	"SD": Milestone_MILESTONE_DELAYED,
	"X1": Milestone_MILESTONE_AT_DELIVERY, "X5": Milestone_MILESTONE_AT_DELIVERY, "S1": Milestone_MILESTONE_AT_DELIVERY,
	"D1": Milestone_MILESTONE_DELIVERED,
	"CD": Milestone_MILESTONE_DEPARTED_DELIVERY,
	"AH": Milestone_MILESTONE_DELIVERY_FAILED, "AP": Milestone_MILESTONE_DELIVERY_FAILED,
	"A7": Milestone_MILESTONE_REFUSED,
	"A3": Milestone_MILESTONE_RETURNED,
	"A9": Milestone_MILESTONE_DAMAGED,
	"CA": Milestone_MILESTONE_CANCELLED,
}

// MilestoneFromX12 maps an X12 214 AT7-01 status code to a milestone.
func MilestoneFromX12(code string) (Milestone, bool) {
	m, ok := x12Milestones[code]
	return m, ok
}
