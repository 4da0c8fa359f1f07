package x12map

import (
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/filedrop/x12"
)

// 856 Ship Notice/Manifest → shipment.shipped with handling units.
//
//	BSN-02 shipment id · -03/-04 date and time (when DTM 011 is absent)
//	HL S: TD1 weight (-06 G, -07 weight, -08 unit) · TD5-03 SCAC, -04 mode, -05 name
//	      TD3-03 equipment · REF BM bill of lading, CN PRO · DTM 011 shipped (-02, -03, -04 time code)
//	      N1 SF / ST stops
//	HL O: PRF-01 PO number · REF VN order number (default: the PO number)
//	HL T / P: MAN GM SSCC: a handling unit, its parent the nearest T/P above with an SSCC
//	HL I: LIN product ids (02, 04 …) · SN1-02 units shipped, -03 unit: the contents of
//	      the nearest handling unit above
//
// Every HL's parent (HL-02) must precede it. The 856 does not say whether a
// short line is closed or backordered, so the event carries no ShippedLine;
// the 945 reports line outcomes. Local times are in the sender's zone.
func map856(c *setCtx) {
	type node struct {
		level  string
		parent *node
		hu     *canonical.HandlingUnit // this level's MAN GM
		above  *canonical.HandlingUnit // the nearest handling unit above, when the HL began
		order  *canonical.OrderRef
		item   *canonical.ItemRef
	}
	// within is the handling unit a node is in: its own, else the nearest above.
	within := func(n *node) *canonical.HandlingUnit {
		if n == nil {
			return nil
		}
		if n.hu != nil {
			return n.hu
		}
		return n.above
	}
	var (
		bsn, dtm, td1, td3, td5 x12.Segment
		bol, pro                string
		parties                 []party
		nodes                   = map[string]*node{}
		cur                     *node
		hus                     []*canonical.HandlingUnit
		orders                  []*canonical.OrderRef
	)
	owner := c.owner()
	body := c.s.Body()
	for i := 0; i < len(body); i++ {
		seg := body[i]
		switch seg.ID {
		case "BSN":
			bsn = seg
		case "HL":
			id, parent := c.need(seg, 1, "hierarchical id"), seg.Elem(2)
			n := &node{level: c.need(seg, 3, "hierarchical level code")}
			if parent != "" {
				p, ok := nodes[parent]
				if !ok {
					c.fail(CodeBadHierarchy, seg, 2, "HL %s names parent %s, which does not precede it", id, parent)
				}
				n.parent = p
				n.above = within(p)
			}
			if _, dup := nodes[id]; dup {
				c.fail(CodeBadHierarchy, seg, 1, "HL id %s appears twice", id)
			}
			switch n.level {
			case "S", "O", "T", "P", "I":
			default:
				c.fail(CodeUnknownCode, seg, 3, "HL-03 level %q is not mapped (S, O, T, P, I)", n.level)
			}
			nodes[id], cur = n, n
		case "TD1":
			td1 = seg
		case "TD3":
			td3 = seg
		case "TD5":
			td5 = seg
		case "REF":
			switch {
			case seg.Elem(1) == "BM" && (cur == nil || cur.level == "S"):
				bol = seg.Elem(2)
			case seg.Elem(1) == "CN" && (cur == nil || cur.level == "S"):
				pro = seg.Elem(2)
			case seg.Elem(1) == "VN" && cur != nil && cur.order != nil:
				cur.order.OrderNo = seg.Elem(2)
			}
		case "DTM":
			if seg.Elem(1) == "011" {
				dtm = seg
			}
		case "N1":
			pt, n := c.readParty(body[i:])
			parties = append(parties, pt)
			i += n - 1
		case "PRF":
			if cur == nil || cur.level != "O" {
				c.fail(CodeBadHierarchy, seg, 0, "PRF outside an order (HL O) level")
				continue
			}
			po := c.need(seg, 1, "purchase order number")
			cur.order = &canonical.OrderRef{OwnerId: owner, OrderNo: po, PoNumber: po}
			orders = append(orders, cur.order)
		case "MAN":
			if seg.Elem(1) != "GM" || cur == nil {
				continue
			}
			s, ok := c.sscc(seg, 2)
			if !ok {
				continue
			}
			cur.hu = &canonical.HandlingUnit{Sscc: s}
			if cur.above != nil {
				cur.hu.ParentSscc = cur.above.Sscc
			}
			hus = append(hus, cur.hu)
		case "LIN":
			if cur == nil || cur.level != "I" {
				c.fail(CodeBadHierarchy, seg, 0, "LIN outside an item (HL I) level")
				continue
			}
			quals := make([]int, 0, 8)
			for q := 2; q < len(seg.Elements); q += 2 {
				quals = append(quals, q)
			}
			cur.item = c.itemRef(owner, c.ids(seg, quals...), seg)
		case "SN1":
			if cur == nil || cur.item == nil {
				c.fail(CodeBadHierarchy, seg, 0, "SN1 without a LIN item")
				continue
			}
			q, ok := c.num(seg, 2, "units shipped")
			u, uok := c.unit(seg, 3)
			if !ok || !uok || !q.IsPositive() {
				continue
			}
			if hu := within(cur.parent); hu != nil {
				hu.Contents = append(hu.Contents, &canonical.HandlingUnitContent{Item: cur.item, Quantity: qty(q, u)})
			}
		}
	}
	if bsn.ID == "" {
		c.missing("BSN", "beginning segment for ship notice")
		return
	}
	shipmentID := c.need(bsn, 2, "shipment identification")
	var shippedAt time.Time
	if dtm.ID != "" {
		shippedAt, _ = c.at(dtm, 2, 3, dtm.Elem(4), c.senderZone(), 4)
	} else {
		shippedAt, _ = c.at(bsn, 3, 4, "", c.senderZone(), 0)
	}
	sh := &canonical.Shipment{ShipmentId: shipmentID, Bol: bol, Pro: pro, HandlingUnits: hus, Orders: orders,
		HandlingUnitCount: int32(len(hus)), Stops: c.stops(parties, "SF", "ST")}
	if td5.ID != "" && td5.Elem(2) == "2" {
		sh.Carrier = c.carrier(td5.Elem(3), td5.Elem(5))
		sh.Mode = transportMode(td5.Elem(4))
	} else {
		sh.Carrier = c.carrier("", "")
	}
	if td3.ID != "" {
		sh.EquipmentId = td3.Elem(3)
	}
	if td1.ID != "" && td1.Elem(7) != "" {
		if w, ok := c.num(td1, 7, "weight"); ok {
			if u, ok := c.unit(td1, 8); ok {
				sh.GrossWeight = qty(w, u)
			}
		}
	}
	if c.failed() {
		return
	}
	c.emit("", shippedAt, &canonical.ShipmentShipped{Shipment: sh, ShippedAt: ts(shippedAt)})
}
