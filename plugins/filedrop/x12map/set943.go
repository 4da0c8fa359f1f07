package x12map

import (
	"strconv"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/filedrop/x12"
	"github.com/shopspring/decimal"
)

// 943 Warehouse Stock Transfer Shipment Advice → receipt.expected.
//
//	W06-02 depositor order number (the receipt number; W06-04 if empty)
//	W06-04 shipment id (the ASN number) · W06-06 PO number
//	N1 SF                       the supplier
//	G62 17                      estimated delivery date → expected date
//	W27-02 SCAC, -03 name       carrier
//	W04 + N9 LI line / LT lot   a line: W04-01 units shipped, -02 unit, product ids at 04, 06, 15
//	W03-01 total units          hash total check
//
// The receipt number is what the 944 answering this 943 names in W17-04,
// so both events have one subject. The event time is the group's creation
// (GS04/GS05) in the sender's zone.
func map943(c *setCtx) {
	var (
		w06, w27, w03 x12.Segment
		parties       []party
		expected      string
		lines         []*canonical.ReceiptLine
		total         decimal.Decimal
	)
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
		case "G62":
			if seg.Elem(1) == "17" {
				expected, _ = c.date(seg, 2)
			}
		case "W27":
			w27 = seg
		case "W04":
			q, ok := c.num(seg, 1, "units shipped")
			uom, uok := c.unit(seg, 2)
			item := c.itemRef(owner, c.ids(seg, 4, 6, 15), seg)
			if ok && uok && item != nil {
				total = total.Add(q)
				lines = append(lines, &canonical.ReceiptLine{LineNo: strconv.Itoa(len(lines) + 1), Item: item, Expected: qty(q, uom)})
			}
		case "N9":
			c.lineRef(seg, lines)
		case "W03":
			w03 = seg
		}
	}
	if w06.ID == "" {
		c.missing("W06", "warehouse shipment identification")
		return
	}
	receiptNo := w06.Elem(2)
	if receiptNo == "" {
		receiptNo = c.need(w06, 4, "shipment identification number (no W06-02 depositor order number)")
	}
	c.checkTotal(w03, 1, total, "W03-01 total units")
	when, _ := c.docTime()
	if c.failed() {
		return
	}
	r := &canonical.Receipt{OwnerId: owner, ReceiptNo: receiptNo, PoNumber: w06.Elem(6), AsnNo: w06.Elem(4),
		ExpectedDate: expected, Lines: lines}
	for _, pt := range parties {
		if pt.entity == "SF" || pt.entity == "SU" || pt.entity == "VN" {
			r.Supplier = pt.p
			break
		}
	}
	if w27.ID != "" {
		r.Carrier = c.carrier(w27.Elem(2), w27.Elem(3))
	}
	c.emit("", when, &canonical.ReceiptExpected{Receipt: r})
}

// lineRef applies an N9 LI (line number) or LT (lot) to the last receipt line.
func (c *setCtx) lineRef(seg x12.Segment, lines []*canonical.ReceiptLine) {
	if len(lines) == 0 {
		return
	}
	l := lines[len(lines)-1]
	switch seg.Elem(1) {
	case "LI":
		l.LineNo = c.need(seg, 2, "line number")
	case "LT":
		l.Item.Lot = seg.Elem(2)
	}
}

// checkTotal compares a hash total element, when present, with the sum.
func (c *setCtx) checkTotal(seg x12.Segment, i int, sum decimal.Decimal, what string) {
	if seg.ID == "" {
		return
	}
	if n, present, ok := c.optNum(seg, i, what); present && ok && !n.Equal(sum) {
		c.fail(CodeTotalMismatch, seg, i, "%s says %s, the lines add up to %s", what, n, sum)
	}
}
