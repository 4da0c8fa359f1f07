package x12map

import (
	"strconv"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/filedrop/x12"
	"github.com/shopspring/decimal"
)

// 940 Warehouse Shipping Order → order.received (W05-01 N), order.changed
// (R) or order.cancelled (C), an outbound order.
//
//	W05-01 purpose · -02 depositor order number · -03 PO number
//	N1 loops                                   parties (ST ship to, SF ship from, BT, DE …)
//	G62 04 order date, 10 requested ship date, 02/68 requested delivery date
//	W66-10 SCAC, -05 routing                   carrier
//	LX + W01 + N9 LI line / LT lot             a line: W01-01 quantity, -02 unit, product ids at 04, 06, 15
//	W76-01 total quantity ordered              hash total check
//
// Line numbers are N9 LI, else LX-01, else the W01's ordinal. The events'
// time is the group's creation (GS04/GS05) in the sender's zone.
func map940(c *setCtx) {
	var (
		w05, w66, w76 x12.Segment
		parties       []party
		dates         = map[string]string{}
		lines         []*canonical.OrderLine
		lx            string
		cur           *canonical.OrderLine
		total         decimal.Decimal
	)
	owner := c.owner()
	body := c.s.Body()
	for i := 0; i < len(body); i++ {
		seg := body[i]
		switch seg.ID {
		case "W05":
			w05 = seg
		case "N1":
			pt, n := c.readParty(body[i:])
			parties = append(parties, pt)
			i += n - 1
		case "G62":
			switch q := seg.Elem(1); q {
			case "04", "10", "02", "68":
				if d, ok := c.date(seg, 2); ok {
					dates[q] = d
				}
			}
		case "W66":
			w66 = seg
		case "LX":
			lx, cur = seg.Elem(1), nil
		case "W01":
			q, ok := c.num(seg, 1, "quantity ordered")
			uom, uok := c.unit(seg, 2)
			item := c.itemRef(owner, c.ids(seg, 4, 6, 15), seg)
			if !ok || !uok || item == nil {
				continue
			}
			total = total.Add(q)
			no := lx
			if no == "" || (cur != nil && cur.LineNo == lx) {
				no = strconv.Itoa(len(lines) + 1)
			}
			cur = &canonical.OrderLine{LineNo: no, Item: item, Ordered: qty(q, uom), Status: canonical.OrderLineStatus_ORDER_LINE_STATUS_RECEIVED}
			lines = append(lines, cur)
		case "N9":
			if cur == nil {
				break
			}
			switch seg.Elem(1) {
			case "LI":
				cur.LineNo = c.need(seg, 2, "line number")
			case "LT":
				cur.Item.Lot = seg.Elem(2)
			}
		case "W76":
			w76 = seg
		}
	}
	if w05.ID == "" {
		c.missing("W05", "shipping order identification")
		return
	}
	orderNo := c.need(w05, 2, "depositor order number")
	if w76.ID != "" {
		if n, present, ok := c.optNum(w76, 1, "total quantity ordered"); present && ok && !n.Equal(total) {
			c.fail(CodeTotalMismatch, w76, 1, "W76-01 says %s ordered, the W01s add up to %s", n, total)
		}
	}
	when, _ := c.docTime()
	if c.failed() {
		return
	}
	corr := canonical.WithCorrelation("order:" + owner + ":" + orderNo)
	ref := &canonical.OrderRef{OwnerId: owner, OrderNo: orderNo, PoNumber: w05.Elem(3)}
	switch w05.Elem(1) {
	case "C":
		c.emit("", when, &canonical.OrderCancelled{Order: ref, Reason: "940 W05-01 C (cancel)"}, corr)
		return
	case "N", "R":
	default:
		c.fail(CodeUnsupportedPurpose, w05, 1, "W05-01 order status %q is not mapped (N original, R replace, C cancel)", w05.Elem(1))
		return
	}
	o := &canonical.Order{OwnerId: owner, OrderNo: orderNo, OrderType: canonical.OrderType_ORDER_TYPE_OUTBOUND,
		PoNumber: w05.Elem(3), OrderDate: dates["04"], RequestedShipDate: dates["10"], Lines: lines}
	o.RequestedDeliveryDate = dates["02"]
	if o.RequestedDeliveryDate == "" {
		o.RequestedDeliveryDate = dates["68"]
	}
	for _, pt := range parties {
		o.Parties = append(o.Parties, pt.p)
	}
	if w66.ID != "" {
		o.Carrier = c.carrier(w66.Elem(10), w66.Elem(5))
	}
	if w05.Elem(1) == "R" {
		c.emit("", when, &canonical.OrderChanged{Order: o}, corr)
		return
	}
	c.emit("", when, &canonical.OrderReceived{Order: o}, corr)
}
