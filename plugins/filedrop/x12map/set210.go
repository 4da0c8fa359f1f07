package x12map

import (
	"strconv"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/filedrop/x12"
	"github.com/shopspring/decimal"
)

// 210 Motor Carrier Freight Details and Invoice → freight_charge.invoiced.
//
//	B3-02 invoice number · -03 shipment id · -06 invoice date · -07 net amount due (N2) · -11 SCAC
//	C3-01 currency (default Config.Currency)
//	N9 BM bill of lading, CN PRO
//	L1 a charge: -01 line number, -02 rate (R), -04 charge (N2: "125000" is 1250.00),
//	   -08 special charge code (Config.ChargeCodes), -12 description
//	L3 totals: -01 weight, -12 weight unit (L, K) · -05 total charges (N2)
//
// The total must equal the sum of the L1 charges (canonical validation)
// and B3-07 when present. An L1-08 code not in the charge-code map is
// rejected with x12map_unknown_code, never guessed. The event time is the
// group's creation (GS04/GS05) in the sender's zone.
func map210(c *setCtx) {
	var (
		b3, l3   x12.Segment
		bol, pro string
		currency = c.m.currency
		l1s      []x12.Segment
	)
	for _, seg := range c.s.Body() {
		switch seg.ID {
		case "B3":
			b3 = seg
		case "C3":
			if seg.Elem(1) != "" {
				currency = seg.Elem(1)
			}
		case "N9":
			switch seg.Elem(1) {
			case "BM":
				bol = seg.Elem(2)
			case "CN":
				pro = seg.Elem(2)
			}
		case "L1":
			l1s = append(l1s, seg)
		case "L3":
			l3 = seg
		}
	}
	if b3.ID == "" {
		c.missing("B3", "beginning segment for carrier's invoice")
		return
	}
	if l3.ID == "" {
		c.missing("L3", "total weight and charges")
		return
	}
	invoiceNo := c.need(b3, 2, "invoice number")
	shipmentID := c.need(b3, 3, "shipment identification number")
	invoiceDate, _ := c.date(b3, 6)
	var lines []*canonical.FreightChargeLine
	for i, l1 := range l1s {
		code := l1.Elem(8)
		cc, ok := c.m.charges[code]
		if !ok {
			c.fail(CodeUnknownCode, l1, 8, "L1-08 charge code %q is not in the charge-code map", code)
		}
		amount, _, aok := c.money(l1, 4, currency, "charge")
		if !ok || !aok {
			continue
		}
		no := l1.Elem(1)
		if no == "" {
			no = strconv.Itoa(i + 1)
		}
		line := &canonical.FreightChargeLine{LineNo: no, ChargeCode: cc, SourceChargeCode: code, Description: l1.Elem(12), Amount: amount}
		if rate, present, ok := c.optNum(l1, 2, "freight rate"); present && ok {
			line.Rate = rate.String()
		}
		lines = append(lines, line)
	}
	total, sum, _ := c.money(l3, 5, currency, "total charges")
	if b3.Elem(7) != "" {
		if _, due, ok := c.money(b3, 7, currency, "net amount due"); ok && !due.Equal(sum) {
			c.fail(CodeTotalMismatch, b3, 7, "B3-07 net amount due %s differs from L3-05 total %s", due.StringFixed(2), sum.StringFixed(2))
		}
	}
	var lineSum decimal.Decimal
	for _, l := range lines {
		d, _ := l.GetAmount().Decimal()
		lineSum = lineSum.Add(d)
	}
	if total != nil && len(lines) == len(l1s) && !lineSum.Equal(sum) {
		c.fail(CodeTotalMismatch, l3, 5, "L3-05 total %s is not the sum of the L1 charges, %s", sum.StringFixed(2), lineSum.StringFixed(2))
	}
	data := &canonical.FreightChargeInvoiced{InvoiceNo: invoiceNo, InvoiceDate: invoiceDate, ShipmentId: shipmentID,
		Bol: bol, Pro: pro, Carrier: c.carrier(b3.Elem(11), ""), Total: total, Lines: lines}
	if l3.Elem(1) != "" {
		if w, ok := c.num(l3, 1, "weight"); ok {
			if u, ok := c.weightUnit(l3, 12); ok {
				data.Weight = qty(w, u)
			}
		}
	}
	when, _ := c.docTime()
	if c.failed() {
		return
	}
	c.emit("", when, data)
}
