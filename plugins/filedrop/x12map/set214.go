package x12map

import (
	"strconv"
	"strings"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/filedrop/x12"
)

// 214 Transportation Carrier Shipment Status → shipment.status_changed per
// AT7, plus delivery.confirmed for a D1 with a proof-of-delivery name.
//
//	B10-01 carrier PRO · -02 shipment id · -03 SCAC
//	L11 BM bill of lading
//	N1 SH/SF + N4                 the pickup stop; N1 CN/ST + N4 the delivery stop
//	LX loop: AT7, MS1, MS2, K1    one status report
//	AT7-01 status (canonical.MilestoneFromX12) · -02 reason · -05/-06 date, time · -07 time code
//	MS1-01/-02/-03 city, state, country of the report · MS2-01 SCAC, -02 equipment
//	K1 remarks: the exception reason of an SD (delayed), "POD SIGNED <name>" of a D1
//
// Times: AT7-07 absent or LT is the local time where the status happened:
// MS1's place, or else the stop the milestone belongs to, through the zone
// table (a wall time the clocks skipped is rejected with time_nonexistent,
// one they showed twice resolves to the earlier instant with a warning);
// coded zones (ET, CS, UT, 01 …) follow the X12 code list (see timeCodes).
//
// Stops: pickup milestones (at pickup, loaded, departed) are stop 1 and
// delivery milestones (at delivery, delivered, departed delivery, failed,
// refused) the last stop, when the header names those parties; others
// carry no stop. A set with one AT7 keys its event by the set; with several,
// each gets ";AT7=<n>". The proof of delivery is keyed ";pod".
func map214(c *setCtx) {
	var (
		b10, bolSeg x12.Segment
		parties     []party
		loops       []*loop214
		cur         *loop214
	)
	body := c.s.Body()
	for i := 0; i < len(body); i++ {
		seg := body[i]
		switch seg.ID {
		case "B10":
			b10 = seg
		case "L11":
			if seg.Elem(2) == "BM" && cur == nil {
				bolSeg = seg
			}
		case "N1":
			pt, n := c.readParty(body[i:])
			i += n - 1
			if cur == nil {
				parties = append(parties, pt)
			}
		case "LX":
			cur = &loop214{}
			loops = append(loops, cur)
		case "AT7":
			if cur == nil { // an AT7 outside an LX loop starts its own
				cur = &loop214{}
				loops = append(loops, cur)
			}
			cur.at7 = append(cur.at7, seg)
		case "MS1":
			if cur != nil {
				cur.ms1 = seg
			}
		case "MS2":
			if cur != nil {
				cur.ms2 = seg
			}
		case "K1":
			if cur != nil {
				cur.remarks = append(cur.remarks, strings.TrimSpace(seg.Elem(1)+" "+seg.Elem(2)))
			}
		}
	}
	if b10.ID == "" {
		c.missing("B10", "beginning segment for shipment status")
		return
	}
	shipmentID := c.need(b10, 2, "shipment identification number")
	var pickup, delivery *party
	for i := range parties {
		switch parties[i].entity {
		case "SH", "SF":
			if pickup == nil {
				pickup = &parties[i]
			}
		case "CN", "ST":
			if delivery == nil {
				delivery = &parties[i]
			}
		}
	}
	n := 0
	for _, l := range loops {
		n += len(l.at7)
	}
	if n == 0 {
		c.missing("AT7", "shipment status details")
	}
	k := 0
	for _, l := range loops {
		for _, at7 := range l.at7 {
			k++
			suffix := ""
			if n > 1 {
				suffix = ";AT7=" + strconv.Itoa(k)
			}
			c.status214(at7, l, b10, bolSeg, shipmentID, pickup, delivery, suffix)
		}
	}
}

type loop214 struct {
	at7      []x12.Segment
	ms1, ms2 x12.Segment
	remarks  []string
}

func (c *setCtx) status214(at7 x12.Segment, l *loop214, b10, bolSeg x12.Segment, shipmentID string, pickup, delivery *party, suffix string) {
	code := at7.Elem(1)
	if code == "" {
		if at7.Elem(3) != "" {
			c.fail(CodeUnknownCode, at7, 3, "appointment status AT7-03 %q without a shipment status is not mapped", at7.Elem(3))
		} else {
			c.fail(CodeMissing, at7, 1, "AT7-01 (shipment status code) is empty")
		}
		return
	}
	m, ok := canonical.MilestoneFromX12(code)
	if !ok {
		c.fail(CodeUnknownCode, at7, 1, "AT7-01 status %q is not in the 214 milestone table", code)
		return
	}
	var stop *party
	seq := int32(0)
	switch m {
	case canonical.Milestone_MILESTONE_AT_PICKUP, canonical.Milestone_MILESTONE_LOADED, canonical.Milestone_MILESTONE_DEPARTED_PICKUP:
		if pickup != nil {
			stop, seq = pickup, 1
		}
	case canonical.Milestone_MILESTONE_AT_DELIVERY, canonical.Milestone_MILESTONE_DELIVERED,
		canonical.Milestone_MILESTONE_DEPARTED_DELIVERY, canonical.Milestone_MILESTONE_DELIVERY_FAILED,
		canonical.Milestone_MILESTONE_REFUSED, canonical.Milestone_MILESTONE_PARTIALLY_DELIVERED:
		if delivery != nil {
			stop, seq = delivery, 1
			if pickup != nil {
				seq = 2
			}
		}
	}

	// Where it happened decides the zone of a local time.
	var loc *time.Location
	var where *canonical.Address
	if l.ms1.ID != "" {
		where = &canonical.Address{City: l.ms1.Elem(1), Region: l.ms1.Elem(2), Country: l.ms1.Elem(3)}
	}
	tc := at7.Elem(7)
	if tc == "" || tc == "LT" {
		var err error
		var place x12.Segment // where the place was named, for the reject
		switch {
		case where != nil:
			place = l.ms1
			loc, err = c.m.zoneFor(where.City, where.Region, where.Country)
		case stop != nil && stop.p.GetAddress() != nil:
			place = stop.n1
			a := stop.p.GetAddress()
			loc, err = c.m.zoneFor(a.GetCity(), a.GetRegion(), a.GetCountry())
		}
		if err != nil {
			c.failErr(err, place, 0, "AT7 local time")
			return
		}
	}
	when, ok := c.at(at7, 5, 6, tc, loc, 7)
	if !ok {
		return
	}

	scac := b10.Elem(3)
	if scac == "" {
		scac = l.ms2.Elem(1)
	}
	data := &canonical.ShipmentStatusChanged{
		ShipmentId:       shipmentID,
		Milestone:        m,
		Status:           canonical.StatusOfMilestone(m),
		StopSeq:          seq,
		ReasonCode:       at7.Elem(2),
		Location:         where,
		SourceStatusCode: code,
		Carrier:          c.carrier(scac, ""),
		EquipmentId:      l.ms2.Elem(2),
		Bol:              bolSeg.Elem(1),
		Pro:              b10.Elem(1),
	}
	if canonical.IsExceptionMilestone(m) {
		data.Exception = true
		data.ExceptionReason = strings.Join(l.remarks, "; ")
		if data.ExceptionReason == "" {
			data.ExceptionReason = at7.Elem(2)
		}
	}
	if m == canonical.Milestone_MILESTONE_ETA_UPDATED {
		data.Eta = ts(when)
	}
	if c.failed() {
		return
	}
	c.emit(suffix, when, data)
	if m != canonical.Milestone_MILESTONE_DELIVERED {
		return
	}
	if name := podName(l.remarks); name != "" {
		c.emit(suffix+";pod", when, &canonical.DeliveryConfirmed{Delivery: &canonical.DeliveryConfirmation{
			ShipmentId: shipmentID, StopSeq: seq, DeliveredAt: ts(when), SignedBy: name}})
	}
}

// podPrefixes introduce the signer's name in a K1 remark.
var podPrefixes = []string{"POD SIGNED BY ", "POD SIGNED ", "SIGNED BY ", "POD: ", "POD ", "RECEIVED BY "}

// podName finds the proof-of-delivery signer in K1 remarks.
func podName(remarks []string) string {
	for _, r := range remarks {
		u := strings.ToUpper(r)
		for _, p := range podPrefixes {
			if strings.HasPrefix(u, p) {
				if name := strings.TrimSpace(r[len(p):]); name != "" {
					return name
				}
			}
		}
	}
	return ""
}
