package x12map

import (
	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/filedrop/x12"
)

// 846 Inventory Inquiry/Advice → inventory.snapshot, one event per set.
//
//	BIA-03 report number (the snapshot id) · -04 date · -05 time
//	N1 WH -04                   the warehouse code (the positions' location; default the site id)
//	LIN                         an item: product ids at 02, 04, 06 … (LT lot)
//	QTY-01 17 on hand, 33 available · -02 quantity · -03 unit (C001-01)
//
// Each LIN is one position with status available; a LIN needs QTY 17. A
// QTY qualifier other than 17 and 33 is rejected, not guessed. The time is
// BIA-04/05 in the sender's zone.
func map846(c *setCtx) {
	var (
		bia       x12.Segment
		location  string
		positions []*canonical.InventoryPosition
		cur       *canonical.InventoryPosition
		lin       x12.Segment
	)
	owner := c.owner()
	body := c.s.Body()
	closeLIN := func() {
		if cur != nil && cur.OnHand == nil {
			c.fail(CodeMissing, lin, 0, "LIN at segment %d has no QTY 17 (quantity on hand)", lin.Pos)
		}
	}
	for i := 0; i < len(body); i++ {
		seg := body[i]
		switch seg.ID {
		case "BIA":
			bia = seg
		case "N1":
			pt, n := c.readParty(body[i:])
			i += n - 1
			if pt.entity == "WH" && pt.n1.Elem(4) != "" && cur == nil {
				location = pt.n1.Elem(4)
			}
		case "LIN":
			closeLIN()
			lin = seg
			quals := make([]int, 0, 8)
			for q := 2; q < len(seg.Elements); q += 2 {
				quals = append(quals, q)
			}
			item := c.itemRef(owner, c.ids(seg, quals...), seg)
			cur = &canonical.InventoryPosition{Item: item, Status: canonical.InventoryStatus_INVENTORY_STATUS_AVAILABLE}
			positions = append(positions, cur)
		case "QTY":
			if cur == nil {
				c.fail(CodeMissing, seg, 0, "QTY before any LIN")
				continue
			}
			q, ok := c.num(seg, 2, "quantity")
			u, uok := c.unitOf(seg, 3, seg.Component(3, 1)) // C001-01
			if !ok || !uok {
				continue
			}
			switch seg.Elem(1) {
			case "17":
				cur.OnHand = qty(q, u)
			case "33":
				cur.Available = qty(q, u)
			default:
				c.fail(CodeUnknownCode, seg, 1, "QTY-01 qualifier %q is not mapped (17 on hand, 33 available)", seg.Elem(1))
			}
		}
	}
	closeLIN()
	if bia.ID == "" {
		c.missing("BIA", "beginning segment for inventory inquiry/advice")
		return
	}
	id := c.need(bia, 3, "report number")
	if location == "" {
		location = c.m.cfg.SiteID
	}
	for _, p := range positions {
		p.Location = &canonical.Location{SiteId: c.m.cfg.SiteID, Code: location}
	}
	when, _ := c.at(bia, 4, 5, "", c.senderZone(), 0)
	if c.failed() {
		return
	}
	c.emit("", when, &canonical.InventorySnapshot{SnapshotId: id, OwnerId: owner, Positions: positions, Part: 1, Parts: 1})
}
