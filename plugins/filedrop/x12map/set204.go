package x12map

import (
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/filedrop/x12"
)

// 204 Motor Carrier Load Tender → shipment.tendered.
//
//	B2-02 SCAC · B2-04 shipment id (also the tender id)
//	B2A-01 purpose: 00 original (01 cancel, 04 change, 05 replace are rejected)
//	L11 BM bill of lading, CN PRO (header) · C3-01 currency · N7-02 equipment
//	S5 loop: S5-01 stop number, -02 reason (CL/LD/PL load: pickup; CU/UL/PU unload: delivery)
//	         N1 + N4 the stop's party and place (its zone)
//	         G62 the appointment: 37/53 not before, 38/54 not after, 10/68/69/70/77/78 the time
//	L3-05 total charges (N2)    the tender's rate
//
// Appointment times without a time code or with LT are local to the
// stop's N4 place. The event time is the group's creation (GS04/GS05) in
// the sender's zone.
func map204(c *setCtx) {
	var (
		b2, b2a, l3, n7 x12.Segment
		bol, pro        string
		currency        = c.m.currency
		stops           []*canonical.Stop
		g62s            [][]x12.Segment
		stopParty       []*party
		cur             = -1
	)
	body := c.s.Body()
	for i := 0; i < len(body); i++ {
		seg := body[i]
		switch seg.ID {
		case "B2":
			b2 = seg
		case "B2A":
			b2a = seg
		case "C3":
			if seg.Elem(1) != "" {
				currency = seg.Elem(1)
			}
		case "L11":
			if cur < 0 {
				switch seg.Elem(2) {
				case "BM":
					bol = seg.Elem(1)
				case "CN":
					pro = seg.Elem(1)
				}
			}
		case "N7":
			n7 = seg
		case "S5":
			st := &canonical.Stop{Seq: int32(len(stops) + 1)}
			switch seg.Elem(2) {
			case "CL", "LD", "PL":
				st.Kind = canonical.StopKind_STOP_KIND_PICKUP
			case "CU", "UL", "PU":
				st.Kind = canonical.StopKind_STOP_KIND_DELIVERY
			default:
				c.fail(CodeUnknownCode, seg, 2, "S5-02 stop reason %q is not mapped (CL, LD, PL, CU, UL, PU)", seg.Elem(2))
			}
			stops, g62s, stopParty = append(stops, st), append(g62s, nil), append(stopParty, nil)
			cur = len(stops) - 1
		case "G62":
			if cur >= 0 {
				g62s[cur] = append(g62s[cur], seg)
			}
		case "N1":
			pt, n := c.readParty(body[i:])
			i += n - 1
			if cur >= 0 && stopParty[cur] == nil {
				stopParty[cur] = &pt
				stops[cur].Party = pt.p
			}
		case "L3":
			l3 = seg
		}
	}
	if b2.ID == "" {
		c.missing("B2", "beginning segment for shipment information transaction")
		return
	}
	shipmentID := c.need(b2, 4, "shipment identification number")
	if b2a.ID != "" && b2a.Elem(1) != "00" {
		c.fail(CodeUnsupportedPurpose, b2a, 1, "B2A-01 purpose %q is not mapped: only 00 (original) tenders are", b2a.Elem(1))
	}
	if len(stops) == 0 {
		c.missing("S5", "stop off details")
	}
	for k, st := range stops {
		var loc *time.Location
		if pt := stopParty[k]; pt != nil && pt.p.GetAddress().GetRegion() != "" {
			a := pt.p.GetAddress()
			z, err := c.m.zoneFor(a.GetCity(), a.GetRegion(), a.GetCountry())
			if err == nil {
				loc = z
				st.TimeZone = z.String()
			}
		}
		for _, g := range g62s[k] {
			t, ok := c.at(g, 2, 4, g.Elem(5), loc, 5)
			if !ok {
				continue
			}
			if st.Appointment == nil {
				st.Appointment = &canonical.TimeWindow{}
			}
			switch g.Elem(1) {
			case "37", "53", "10", "68", "69", "70", "77", "78":
				st.Appointment.Start = ts(t)
			case "38", "54":
				st.Appointment.End = ts(t)
			default:
				c.fail(CodeUnknownCode, g, 1, "G62-01 date qualifier %q is not mapped in a stop", g.Elem(1))
			}
		}
	}
	sh := &canonical.Shipment{ShipmentId: shipmentID, Bol: bol, Pro: pro, Carrier: c.carrier(b2.Elem(2), ""), Stops: stops}
	if n7.ID != "" {
		sh.EquipmentId = n7.Elem(2)
	}
	data := &canonical.ShipmentTendered{Shipment: sh, TenderId: shipmentID}
	if l3.ID != "" && l3.Elem(5) != "" {
		data.Rate, _, _ = c.money(l3, 5, currency, "total charges")
	}
	when, _ := c.docTime()
	if c.failed() {
		return
	}
	c.emit("", when, data)
}
