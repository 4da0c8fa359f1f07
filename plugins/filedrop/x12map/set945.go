package x12map

import (
	"strconv"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/filedrop/x12"
	"github.com/shopspring/decimal"
)

// 945 Warehouse Shipping Advice → shipment.shipped (one per set, with a
// ShippedLine per order line) and order_line.status_changed (one per line).
//
//	W06-02 order no · W06-04 shipment id · W06-06 PO        (OrderRef, Shipment)
//	N1 SF / ST                                               stops 1 (pickup) and 2 (delivery)
//	N9 BM bill of lading · N9 CN carrier PRO                 Shipment.bol, pro
//	G62 11 date, time, time code                            shipped_at and the events' time
//	W27-01 mode · -02 SCAC · -03 carrier name · -07 equipment
//	LX + MAN GM                                              a handling unit (SSCC)
//	W12 + N9 LT lot, N9 LI line number                       a line, in the LX's handling unit
//	W03-01 total units · -02/-03 weight                      hash total check, gross weight
//
// W12-01 gives the line's outcome: CC shipped complete, CP partial with the
// remainder closed (short_shipped, the difference is short_closed), BP
// partial with the remainder backordered. Lines are numbered by N9 LI, or,
// for a W12 without one, by the line's ordinal in the set; W12s with the
// same N9 LI (one line on several pallets) are one line. A W12's number is
// final only once its N9s are read, so a W12 numbered by N9 LI never
// collides with the ordinal it had before; an ordinal that collides with
// another line's number (a set that numbers some W12s and not others) is
// rejected, as two lines with one number would be one event id. Without
// G62 11 the events' time is W06-03 at local midnight. Local times (LT or
// no code) are in the sender's zone.
func map945(c *setCtx) {
	type line945 struct {
		no      string // "" until the line's number is known (its N9 LI, or the next W12, LX or the end)
		ordinal int    // the number of a W12 without N9 LI
		byLI    bool   // numbered by N9 LI
		w12     x12.Segment
		status  canonical.OrderLineStatus
		item    *canonical.ItemRef
		uom     string
		ordered decimal.Decimal
		shipped decimal.Decimal
		ssccs   []string
		parts   int // W12s merged into the line
		diff    *decimal.Decimal
		onHU    map[string]bool // ssccs, as a set
	}
	var (
		w06, w27, w03, g62 x12.Segment
		parties            []party
		bol, pro           string
		lines              []*line945
		byNo               = map[string]*line945{}
		hus                []*canonical.HandlingUnit
		hu                 *canonical.HandlingUnit
		cur                *line945 // the last W12's line, for its N9s
		inDetail           bool
	)
	// settle numbers a W12 that had no N9 LI by its ordinal, once no N9 LI
	// can follow it any more.
	settle := func(l *line945) {
		if l == nil || l.no != "" {
			return
		}
		l.no = strconv.Itoa(l.ordinal)
		if _, taken := byNo[l.no]; taken {
			c.fail(CodeMissing, l.w12, 0, "a W12 without N9 LI is line %s by its position, which N9 LI gives another W12: number every W12 or none", l.no)
			return
		}
		byNo[l.no] = l
	}
	owner := c.owner()
	body := c.s.Body()
	for i := 0; i < len(body); i++ {
		seg := body[i]
		switch seg.ID {
		case "W06":
			w06 = seg
		case "N1":
			pt, n := c.readParty(body[i:])
			parties = append(parties, pt)
			i += n - 1
		case "N9":
			switch {
			case !inDetail && seg.Elem(1) == "BM":
				bol = seg.Elem(2)
			case !inDetail && seg.Elem(1) == "CN":
				pro = seg.Elem(2)
			case cur != nil && seg.Elem(1) == "LT":
				if cur.item != nil && cur.item.Lot != "" && cur.item.Lot != seg.Elem(2) {
					c.fail(CodeQuantityMismatch, seg, 2, "N9 LT lot %s contradicts W12-09 lot %s", seg.Elem(2), cur.item.Lot)
				} else if cur.item != nil {
					cur.item.Lot = seg.Elem(2)
				}
			case cur != nil && seg.Elem(1) == "LI":
				if cur.no != "" {
					c.fail(CodeQuantityMismatch, seg, 2, "N9 LI must follow the W12 it numbers")
					break
				}
				no := c.need(seg, 2, "line number")
				if no == "" {
					break
				}
				prev, ok := byNo[no]
				switch {
				case !ok:
					cur.no, cur.byLI = no, true
					byNo[no] = cur
				case !prev.byLI:
					c.fail(CodeMissing, seg, 2, "N9 LI %s numbers a W12 like the W12 without N9 LI that is line %s by its position: number every W12 or none", no, no)
				default:
					// The same line on another pallet: merge it into the
					// earlier W12 of the line (cur is the last line).
					lines = lines[:len(lines)-1]
					merge := cur
					cur = prev
					if !merge.ordered.Equal(prev.ordered) || merge.uom != prev.uom || merge.status != prev.status ||
						merge.item.GetSku() != prev.item.GetSku() {
						c.fail(CodeQuantityMismatch, merge.w12, 0, "line %s appears on several W12s that disagree on item, unit, ordered quantity or status", no)
					}
					prev.shipped = prev.shipped.Add(merge.shipped)
					for _, x := range merge.ssccs {
						if !prev.onHU[x] {
							prev.onHU[x] = true
							prev.ssccs = append(prev.ssccs, x)
						}
					}
					prev.parts++
					prev.diff = nil // per-pallet differences do not describe the line
				}
			}
		case "G62":
			if seg.Elem(1) == "11" {
				g62 = seg
			}
		case "W27":
			w27 = seg
		case "LX":
			inDetail = true
			settle(cur)
			hu, cur = nil, nil
		case "MAN":
			if seg.Elem(1) == "GM" {
				if s, ok := c.sscc(seg, 2); ok {
					hu = &canonical.HandlingUnit{Sscc: s}
					hus = append(hus, hu)
				}
			}
		case "W12":
			inDetail = true
			settle(cur)
			l := &line945{ordinal: len(lines) + 1, w12: seg, parts: 1}
			switch seg.Elem(1) {
			case "CC":
				l.status = canonical.OrderLineStatus_ORDER_LINE_STATUS_SHIPPED
			case "CP":
				l.status = canonical.OrderLineStatus_ORDER_LINE_STATUS_SHORT_SHIPPED
			case "BP":
				l.status = canonical.OrderLineStatus_ORDER_LINE_STATUS_BACKORDERED
			default:
				c.fail(CodeUnknownCode, seg, 1, "W12-01 status %q is not mapped (CC shipped, CP short shipped, BP backordered)", seg.Elem(1))
			}
			l.ordered, _ = c.num(seg, 2, "quantity ordered")
			l.shipped, _ = c.num(seg, 3, "units shipped")
			if diff, present, ok := c.optNum(seg, 4, "quantity difference"); present && ok {
				l.diff = &diff
			}
			l.uom, _ = c.unit(seg, 5)
			ids := c.ids(seg, 7, 17)
			if ids.lot == "" {
				ids.lot = seg.Elem(9)
			}
			l.item = c.itemRef(owner, ids, seg)
			l.onHU = map[string]bool{}
			if hu != nil {
				l.ssccs, l.onHU[hu.Sscc] = []string{hu.Sscc}, true
				if l.shipped.IsPositive() && l.item != nil {
					hu.Contents = append(hu.Contents, &canonical.HandlingUnitContent{Item: l.item, Quantity: qty(l.shipped, l.uom)})
				}
			}
			lines = append(lines, l)
			cur = l
		case "W03":
			w03 = seg
		}
	}
	settle(cur)
	if w06.ID == "" {
		c.missing("W06", "warehouse shipment identification")
		return
	}
	orderNo := c.need(w06, 2, "depositor order number")
	shipmentID := c.need(w06, 4, "shipment identification number")
	if c.failed() {
		return
	}

	// Outcome checks on whole lines (a split line is checked once merged).
	var total decimal.Decimal
	for _, l := range lines {
		total = total.Add(l.shipped)
		short := l.ordered.Sub(l.shipped)
		if l.diff != nil && !l.diff.Equal(short) {
			c.fail(CodeQuantityMismatch, l.w12, 4, "W12-04 difference %s is not ordered %s − shipped %s", l.diff, l.ordered, l.shipped)
		}
		switch {
		case short.IsNegative():
			c.fail(CodeQuantityMismatch, l.w12, 3, "line %s shipped %s of %s ordered: more than ordered", l.no, l.shipped, l.ordered)
		case l.status == canonical.OrderLineStatus_ORDER_LINE_STATUS_SHIPPED && !short.IsZero():
			c.fail(CodeQuantityMismatch, l.w12, 1, "line %s is CC (complete) but %s of %s are missing", l.no, short, l.ordered)
		case l.status != canonical.OrderLineStatus_ORDER_LINE_STATUS_SHIPPED && short.IsZero():
			c.fail(CodeQuantityMismatch, l.w12, 1, "line %s is %s (partial) but shipped all %s", l.no, l.w12.Elem(1), l.ordered)
		}
	}
	if w03.ID != "" {
		if n, present, ok := c.optNum(w03, 1, "total units shipped"); present && ok && !n.Equal(total) {
			c.fail(CodeTotalMismatch, w03, 1, "W03-01 says %s units shipped, the W12s add up to %s", n, total)
		}
	}

	var shippedAt time.Time
	if g62.ID != "" {
		shippedAt, _ = c.at(g62, 2, 4, g62.Elem(5), c.senderZone(), 5)
	} else if w06.Elem(3) != "" {
		shippedAt, _ = c.at(w06, 3, 0, "", c.senderZone(), 0)
	} else {
		c.missing("G62", "G62 11 shipped date")
	}

	order := &canonical.OrderRef{OwnerId: owner, OrderNo: orderNo, PoNumber: w06.Elem(6)}
	sh := &canonical.Shipment{ShipmentId: shipmentID, Bol: bol, Pro: pro, HandlingUnits: hus,
		Orders: []*canonical.OrderRef{order}, HandlingUnitCount: int32(len(hus))}
	if w27.ID != "" {
		sh.Carrier = c.carrier(w27.Elem(2), w27.Elem(3))
		sh.Mode = transportMode(w27.Elem(1))
		sh.EquipmentId = w27.Elem(7)
	} else {
		sh.Carrier = c.carrier("", "")
	}
	sh.Stops = c.stops(parties, "SF", "ST")
	if w03.ID != "" && w03.Elem(2) != "" {
		if wt, ok := c.num(w03, 2, "weight"); ok {
			if u, ok := c.unit(w03, 3); ok {
				sh.GrossWeight = qty(wt, u)
			}
		}
	}
	if c.failed() {
		return
	}

	corr := canonical.WithCorrelation("order:" + owner + ":" + orderNo)
	shipped := &canonical.ShipmentShipped{Shipment: sh, ShippedAt: ts(shippedAt)}
	for _, l := range lines {
		shipped.Lines = append(shipped.Lines, &canonical.ShippedLine{Order: order, LineNo: l.no, Item: l.item,
			Ordered: qty(l.ordered, l.uom), Shipped: qty(l.shipped, l.uom), Status: l.status, Ssccs: l.ssccs})
	}
	c.emit("", shippedAt, shipped, corr)
	for _, l := range lines {
		q := &canonical.OrderLineQuantities{Ordered: qty(l.ordered, l.uom), Shipped: qty(l.shipped, l.uom)}
		switch l.status {
		case canonical.OrderLineStatus_ORDER_LINE_STATUS_SHORT_SHIPPED:
			q.ShortClosed = qty(l.ordered.Sub(l.shipped), l.uom)
		case canonical.OrderLineStatus_ORDER_LINE_STATUS_BACKORDERED:
			q.Backordered = qty(l.ordered.Sub(l.shipped), l.uom)
		}
		c.emit(";W12="+l.no, shippedAt, &canonical.OrderLineStatusChanged{Order: order, LineNo: l.no, Item: l.item,
			Status: l.status, Quantities: q, ReasonCode: l.w12.Elem(1), ShipmentId: shipmentID, Ssccs: l.ssccs,
			StatusTime: ts(shippedAt)}, corr)
	}
}

// transportMode maps X12 transportation method codes (element 91) that say
// which canonical mode applies; "M" (motor) and codes that do not
// distinguish truckload from LTL leave the mode unspecified.
func transportMode(code string) canonical.TransportMode {
	switch code {
	case "LT":
		return canonical.TransportMode_TRANSPORT_MODE_LTL
	case "A", "AE":
		return canonical.TransportMode_TRANSPORT_MODE_AIR
	case "R":
		return canonical.TransportMode_TRANSPORT_MODE_RAIL
	case "S":
		return canonical.TransportMode_TRANSPORT_MODE_OCEAN
	case "X":
		return canonical.TransportMode_TRANSPORT_MODE_INTERMODAL
	case "U":
		return canonical.TransportMode_TRANSPORT_MODE_PARCEL
	}
	return canonical.TransportMode_TRANSPORT_MODE_UNSPECIFIED
}

// stops makes the pickup and delivery stops from the parties with the
// given entity codes, each with its zone when the zone table knows it.
func (c *setCtx) stops(parties []party, pickup, delivery string) []*canonical.Stop {
	var out []*canonical.Stop
	add := func(entity string, kind canonical.StopKind) {
		for _, pt := range parties {
			if pt.entity != entity {
				continue
			}
			st := &canonical.Stop{Seq: int32(len(out) + 1), Kind: kind, Party: pt.p}
			if a := pt.p.GetAddress(); a != nil && a.GetRegion() != "" {
				if z, err := c.m.zoneFor(a.GetCity(), a.GetRegion(), a.GetCountry()); err == nil {
					st.TimeZone = z.String()
				}
			}
			out = append(out, st)
			return
		}
	}
	add(pickup, canonical.StopKind_STOP_KIND_PICKUP)
	add(delivery, canonical.StopKind_STOP_KIND_DELIVERY)
	return out
}
