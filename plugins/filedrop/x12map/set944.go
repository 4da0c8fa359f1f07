package x12map

import (
	"strconv"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/filedrop/x12"
	"github.com/shopspring/decimal"
)

// 944 Warehouse Stock Transfer Receipt Advice → receipt.completed.
//
//	W17-02 date received · -07 time · -03 warehouse receipt number
//	W17-04 depositor order number (the receipt number, as in the 943; W17-03 if empty)
//	W17-05 shipment id (the ASN number)
//	N9 PO                        PO number (header)
//	W07 + N9 LI / LT             a line: W07-01 quantity received, -02 unit, ids at 04, 06, 10, -08 lot
//	W13                          an exception on the line: W13-01 quantity, -02 unit, -03 condition
//	W14-01 total received        hash total check
//
// W07-01 is everything received on the line; W13 with condition 01
// (damaged product or container) adds its quantity to the line's damaged
// bucket, the other condition codes (element 412: 02 short, 03 over …) set
// the line's reason code. A W13 in another unit than its W07 is rejected.
// The time received is in the sender's zone (the warehouse's own clock).
func map944(c *setCtx) {
	var (
		w17, w14 x12.Segment
		po       string
		lines    []*canonical.ReceiptLine
		lineSeg  x12.Segment
		uoms     []string
		total    decimal.Decimal
	)
	owner := c.owner()
	for _, seg := range c.s.Body() {
		switch seg.ID {
		case "W17":
			w17 = seg
		case "N9":
			if len(lines) == 0 && seg.Elem(1) == "PO" {
				po = seg.Elem(2)
			}
			c.lineRef(seg, lines)
		case "W07":
			q, ok := c.num(seg, 1, "quantity received")
			uom, uok := c.unit(seg, 2)
			ids := c.ids(seg, 4, 6, 10)
			if ids.lot == "" {
				ids.lot = seg.Elem(8)
			}
			item := c.itemRef(owner, ids, seg)
			if ok && uok && item != nil {
				total = total.Add(q)
				lines = append(lines, &canonical.ReceiptLine{LineNo: strconv.Itoa(len(lines) + 1), Item: item, Received: qty(q, uom)})
				uoms = append(uoms, uom)
				lineSeg = seg
			}
		case "W13":
			if len(lines) == 0 {
				c.fail(CodeMissing, seg, 0, "W13 exception before any W07 line")
				continue
			}
			l, uom := lines[len(lines)-1], uoms[len(uoms)-1]
			q, ok := c.num(seg, 1, "exception quantity")
			u, uok := c.unit(seg, 2)
			if !ok || !uok {
				continue
			}
			if u != uom {
				c.fail(CodeQuantityMismatch, seg, 2, "W13 in %s, its line %s (W07 at segment %d) in %s", u, l.LineNo, lineSeg.Pos, uom)
				continue
			}
			switch cond := seg.Elem(3); cond {
			case "01":
				d := q
				if l.Damaged != nil {
					prev, _ := l.Damaged.Decimal()
					d = d.Add(prev)
				}
				l.Damaged = qty(d, uom)
				l.ReasonCode = firstNonEmpty(seg.Elem(5), l.ReasonCode, "01")
			case "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "16":
				l.ReasonCode = firstNonEmpty(l.ReasonCode, cond)
			default:
				c.fail(CodeUnknownCode, seg, 3, "W13-03 receiving condition %q is not an element 412 code", cond)
			}
		case "W14":
			w14 = seg
		}
	}
	if w17.ID == "" {
		c.missing("W17", "warehouse receipt identification")
		return
	}
	receiptNo := w17.Elem(4)
	if receiptNo == "" {
		receiptNo = c.need(w17, 3, "warehouse receipt number (no W17-04 depositor order number)")
	}
	c.checkTotal(w14, 1, total, "W14-01 total received")
	var when time.Time
	if w17.Elem(2) == "" {
		c.need(w17, 2, "date received")
	} else {
		when, _ = c.at(w17, 2, 7, "", c.senderZone(), 0)
	}
	if c.failed() {
		return
	}
	r := &canonical.Receipt{OwnerId: owner, ReceiptNo: receiptNo, PoNumber: po, AsnNo: w17.Elem(5), Lines: lines}
	c.emit("", when, &canonical.ReceiptCompleted{Receipt: r, CompletedAt: ts(when)})
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
