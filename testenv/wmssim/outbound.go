package wmssim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/draylink/dray/canonical"
)

// order is an outbound order released by the ERP.
type order struct {
	id       int64
	no, po   string
	owner    *Owner
	shipTo   *Party
	carrier  *Carrier
	lines    []*line
	released time.Time
	version  int64
	stage    *Location
	ship     *shipment
}

// line is an order line; quantities are milli-units of its pack.
type line struct {
	id    int64
	o     *order
	no    int
	item  *Item
	pack  *Pack
	qty   lineQty
	stat  string
	at    time.Time
	ver   int64
	alloc []allocation
	picks []pickSlice
	final *fact // the shipped/short_shipped/backordered fact (945 W12)
	ship  string
}

type lineQty struct {
	ordered, allocated, picked, packed, loaded, shipped, short, backordered, delivered int64
}

type allocation struct {
	p   *position
	qty int64 // milli-units of the line's pack
}

type pickSlice struct {
	lot, expiry string
	qty         int64
}

var lineStatuses = map[string]canonical.OrderLineStatus{
	"released":      canonical.OrderLineStatus_ORDER_LINE_STATUS_RELEASED,
	"allocated":     canonical.OrderLineStatus_ORDER_LINE_STATUS_ALLOCATED,
	"picked":        canonical.OrderLineStatus_ORDER_LINE_STATUS_PICKED,
	"packed":        canonical.OrderLineStatus_ORDER_LINE_STATUS_PACKED,
	"loaded":        canonical.OrderLineStatus_ORDER_LINE_STATUS_LOADED,
	"shipped":       canonical.OrderLineStatus_ORDER_LINE_STATUS_SHIPPED,
	"short_shipped": canonical.OrderLineStatus_ORDER_LINE_STATUS_SHORT_SHIPPED,
	"backordered":   canonical.OrderLineStatus_ORDER_LINE_STATUS_BACKORDERED,
	"delivered":     canonical.OrderLineStatus_ORDER_LINE_STATUS_DELIVERED,
}

// orderArrival releases an order and schedules the next one.
func (s *Sim) orderArrival() {
	s.newOrder()
	mean := time.Duration(float64(time.Second) / s.lambda)
	s.after(expDuration(s.rOrder, mean), s.orderArrival)
}

func (s *Sim) newOrder() {
	r := s.rOrder
	o := &order{owner: pick(r, s.w.Owners), carrier: pick(r, s.w.Carriers), released: s.now}
	o.shipTo = pick(r, o.owner.ShipTos)
	s.ids.order++
	s.ids.orderNo++
	o.id = s.ids.order
	o.no = "SO-" + strconv.FormatInt(s.ids.orderNo, 10)
	o.po = fmt.Sprintf("PO-%05d", r.IntN(100000))
	n := rangeInt(r, 1, 4)
	if chance(r, 0.1) {
		n = rangeInt(r, 5, 6)
	}
	n = min(n, len(o.owner.Items))
	for i, k := range r.Perm(len(o.owner.Items))[:n] {
		it := o.owner.Items[k]
		s.ids.line++
		l := &line{id: s.ids.line, o: o, no: i + 1, item: it, pack: it.OrderUOM, stat: "released", at: s.now}
		switch it.Kind {
		case KindCase:
			l.qty.ordered = int64(rangeInt(r, 1, 20)) * 1000
		case KindEach:
			l.qty.ordered = int64(rangeInt(r, 1, 35)) * 1000
		case KindBulk:
			l.qty.ordered = int64(rangeInt(r, 5000, 59000))
		}
		o.lines = append(o.lines, l)
	}

	t := s.begin()
	o.version = s.version()
	t.insert("orders", []string{"order_id", "site_code", "owner_id", "order_no", "po_number", "order_type", "ship_to_id",
		"carrier_scac", "service_level", "order_date", "requested_ship_date", "line_count", "released_at", "row_version", "last_modified"},
		o.id, s.cfg.Site.ID, o.owner.ID, o.no, o.po, "OUTBOUND", o.shipTo.ID, o.carrier.SCAC, "STANDARD",
		s.date(s.now), s.date(s.now.Add(24*time.Hour)), int64(len(o.lines)), s.local(s.now), o.version, t.tech)
	f := s.newFact("order", &canonical.OrderReceived{Order: &canonical.Order{OwnerId: o.owner.ID, OrderNo: o.no}}, s.now, s.loc,
		&Detail{Owner: o.owner.ID, OrderNo: o.no, Lines: len(o.lines), Ref: o.po})
	t.via(f, s.tableVia("orders", "orders", o.id, o.version, false))
	for _, l := range o.lines {
		l.ver = s.version()
		t.insert("order_lines", []string{"order_line_id", "order_id", "order_no", "line_no", "owner_id", "sku", "gtin", "uom", "qty_ordered",
			"qty_allocated", "qty_picked", "qty_packed", "qty_loaded", "qty_shipped", "qty_short", "qty_backordered", "qty_delivered",
			"status", "status_at", "row_version", "last_modified"},
			l.id, o.id, o.no, int64(l.no), o.owner.ID, l.item.SKU, l.pack.GTIN, l.pack.UOM, fmtQty(l.qty.ordered, l.pack.UOM),
			"0", "0", "0", "0", "0", "0", "0", "0", l.stat, s.local(s.now), l.ver, t.tech)
		lf := s.newFact("line_status", s.lineData(l), s.now, s.loc, s.lineDetail(l))
		t.via(lf, s.tableVia("order_lines", "order_lines", l.id, l.ver, true))
	}
	ob := t.outbox("order", o.owner.ID+"/"+o.no, "order.created", s.orderPayload(o))
	t.via(f, s.outboxVia(ob))
	t.commit()

	if len(o.lines) > 1 && chance(s.rFloor, s.cfg.Process.LineCancel) {
		s.after(between(s.rFloor, time.Minute, 4*time.Minute), func() { s.cancelLine(o) })
	}
	s.after(between(s.rFloor, 5*time.Minute, 30*time.Minute), func() { s.allocate(o) })
	s.sideActivity()
}

// sideActivity schedules the floor's other work in proportion to orders:
// QC holds, found stock, spot cycle counts.
func (s *Sim) sideActivity() {
	r := s.rFloor
	if chance(r, s.cfg.Process.Hold) {
		s.after(between(r, 0, 2*time.Hour), s.qcHold)
	}
	if chance(r, s.cfg.Process.Adjustment) {
		s.after(between(r, 0, 2*time.Hour), s.foundStock)
	}
	if chance(r, 0.03) {
		s.after(between(r, 0, 2*time.Hour), s.spotCount)
	}
}

func (s *Sim) lineData(l *line) *canonical.OrderLineStatusChanged {
	return &canonical.OrderLineStatusChanged{Order: &canonical.OrderRef{OwnerId: l.o.owner.ID, OrderNo: l.o.no},
		LineNo: strconv.Itoa(l.no), Status: lineStatuses[l.stat]}
}

func (s *Sim) lineDetail(l *line) *Detail {
	d := &Detail{Owner: l.o.owner.ID, OrderNo: l.o.no, LineNo: strconv.Itoa(l.no), SKU: l.item.SKU, Status: l.stat,
		UOM: l.pack.UOM, Qty: fmtQty(l.qty.ordered, l.pack.UOM), ShipmentID: l.ship}
	return d
}

type orderPayload struct {
	OrderID    int64              `json:"order_id"`
	OwnerID    string             `json:"owner_id"`
	OrderNo    string             `json:"order_no"`
	PONumber   string             `json:"po_number"`
	ShipToID   string             `json:"ship_to_id"`
	Carrier    string             `json:"carrier_scac"`
	ReleasedAt string             `json:"released_at"`
	Lines      []orderLinePayload `json:"lines"`
	RowVersion int64              `json:"row_version"`
}

type orderLinePayload struct {
	OrderLineID    int64  `json:"order_line_id"`
	LineNo         int    `json:"line_no"`
	SKU            string `json:"sku"`
	GTIN           string `json:"gtin"`
	UOM            string `json:"uom"`
	QtyOrdered     string `json:"qty_ordered"`
	QtyAllocated   string `json:"qty_allocated"`
	QtyPicked      string `json:"qty_picked"`
	QtyPacked      string `json:"qty_packed"`
	QtyLoaded      string `json:"qty_loaded"`
	QtyShipped     string `json:"qty_shipped"`
	QtyShort       string `json:"qty_short"`
	QtyBackordered string `json:"qty_backordered"`
	QtyDelivered   string `json:"qty_delivered"`
	Status         string `json:"status"`
	StatusAt       string `json:"status_at"`
	ShipmentID     string `json:"shipment_id,omitempty"`
	OrderNo        string `json:"order_no,omitempty"`
	OwnerID        string `json:"owner_id,omitempty"`
	RowVersion     int64  `json:"row_version"`
}

func (s *Sim) linePayload(l *line, withOrder bool) orderLinePayload {
	u := l.pack.UOM
	p := orderLinePayload{OrderLineID: l.id, LineNo: l.no, SKU: l.item.SKU, GTIN: l.pack.GTIN, UOM: u,
		QtyOrdered: fmtQty(l.qty.ordered, u), QtyAllocated: fmtQty(l.qty.allocated, u), QtyPicked: fmtQty(l.qty.picked, u),
		QtyPacked: fmtQty(l.qty.packed, u), QtyLoaded: fmtQty(l.qty.loaded, u), QtyShipped: fmtQty(l.qty.shipped, u),
		QtyShort: fmtQty(l.qty.short, u), QtyBackordered: fmtQty(l.qty.backordered, u), QtyDelivered: fmtQty(l.qty.delivered, u),
		Status: l.stat, StatusAt: s.local(l.at), ShipmentID: l.ship, RowVersion: l.ver}
	if withOrder {
		p.OrderNo, p.OwnerID = l.o.no, l.o.owner.ID
	}
	return p
}

func (s *Sim) orderPayload(o *order) []byte {
	p := orderPayload{OrderID: o.id, OwnerID: o.owner.ID, OrderNo: o.no, PONumber: o.po, ShipToID: o.shipTo.ID,
		Carrier: o.carrier.SCAC, ReleasedAt: s.local(o.released), RowVersion: o.version}
	for _, l := range o.lines {
		p.Lines = append(p.Lines, s.linePayload(l, false))
	}
	b, _ := json.Marshal(p)
	return b
}

// updateLine writes a line's new status and buckets and makes the fact.
func (s *Sim) updateLine(t *txb, l *line, status string) *fact {
	l.stat, l.at, l.ver = status, s.now, s.version()
	u := l.pack.UOM
	t.exec(`UPDATE order_lines SET qty_allocated = ?, qty_picked = ?, qty_packed = ?, qty_loaded = ?, qty_shipped = ?, qty_short = ?,
qty_backordered = ?, qty_delivered = ?, status = ?, status_at = ?, shipment_id = ?, row_version = ?, last_modified = ? WHERE order_line_id = ?`,
		fmtQty(l.qty.allocated, u), fmtQty(l.qty.picked, u), fmtQty(l.qty.packed, u), fmtQty(l.qty.loaded, u),
		fmtQty(l.qty.shipped, u), fmtQty(l.qty.short, u), fmtQty(l.qty.backordered, u), fmtQty(l.qty.delivered, u),
		status, s.local(s.now), nullStr(l.ship), l.ver, t.tech, l.id)
	f := s.newFact("line_status", s.lineData(l), s.now, s.loc, s.lineDetail(l))
	final := status == "delivered" || ((status == "short_shipped" || status == "backordered") && l.qty.shipped == 0)
	t.via(f, s.tableVia("order_lines", "order_lines", l.id, l.ver, !final))
	b, _ := json.Marshal(s.linePayload(l, true))
	ob := t.outbox("order_line", strconv.FormatInt(l.id, 10), "order_line.status_changed", b)
	t.via(f, s.outboxVia(ob))
	return f
}

// cancelLine cancels one line before allocation: the WMS stamps it and
// deletes the row (the trigger writes a tombstone), and the outbox reports
// the order as it now stands.
func (s *Sim) cancelLine(o *order) {
	if len(o.lines) < 2 {
		return
	}
	i := 1 + s.rFloor.IntN(len(o.lines)-1)
	l := o.lines[i]
	o.lines = append(o.lines[:i:i], o.lines[i+1:]...)
	t := s.begin()
	t.exec(`UPDATE order_lines SET deleted_at = ? WHERE order_line_id = ?`, t.tech, l.id)
	t.exec(`DELETE FROM order_lines WHERE order_line_id = ?`, l.id)
	s.ids.tomb++
	retracted := s.tableVia("order_lines", "order_lines", l.id, l.ver, true).EventID
	rd := &canonical.EventRetracted{RetractedEventId: retracted, Reason: "deleted_at_source"}
	f := s.newFact("line_deleted", rd, s.now, s.loc, &Detail{Owner: o.owner.ID, OrderNo: o.no, LineNo: strconv.Itoa(l.no),
		SKU: l.item.SKU, Retracts: retracted})
	f.sinks = s.sinksOf("order_line.status_changed")
	tv := s.tableVia("order_lines_deleted", "tombstones", s.ids.tomb, l.ver, false)
	tv.Src, tv.RecordVersion, tv.EventID = "tombstone", "", s.eventID(s.cfg.Identity.DB, tv.RecordKey, "")
	t.via(f, tv)

	ob := t.outbox("order", o.owner.ID+"/"+o.no, "order.changed", s.orderPayload(o))
	ov := s.outboxVia(ob)
	cf := s.newFact("order_changed", &canonical.OrderChanged{Order: &canonical.Order{OwnerId: o.owner.ID, OrderNo: o.no}},
		s.now, s.loc, &Detail{Owner: o.owner.ID, OrderNo: o.no, Lines: len(o.lines), LineNo: strconv.Itoa(l.no)})
	cf.key = canonical.FactKey(s.cfg.Site.ID, &canonical.OrderChanged{Order: &canonical.Order{OwnerId: o.owner.ID, OrderNo: o.no}}, cf.t, ov.EventID)
	t.via(cf, ov)
	t.commit()
}

// allocate reserves stock for every line, first expiring first.
func (s *Sim) allocate(o *order) {
	t := s.begin()
	t.badOK = true
	for _, l := range o.lines {
		need := l.qty.ordered
		for _, p := range s.pickable(l.item) {
			if need <= 0 {
				break
			}
			free := fromBase(p.book-p.alloc, l.pack)
			q := min(need, free)
			if q <= 0 {
				continue
			}
			p.alloc += toBase(q, l.pack)
			t.touch(p)
			l.alloc = append(l.alloc, allocation{p: p, qty: q})
			l.qty.allocated += q
			need -= q
		}
		s.updateLine(t, l, "allocated")
	}
	t.commit()
	for _, l := range o.lines {
		s.checkReplenish(l.item)
	}
	s.after(between(s.rFloor, 10*time.Minute, 60*time.Minute), func() { s.pickOrder(o) })
}

// pickOrder picks every allocation into the order's outbound staging lane.
// A pick may find less than allocated (stock missing: a count follows)
// and damaged units (moved to the damage location).
func (s *Sim) pickOrder(o *order) {
	r := s.rFloor
	o.stage = pick(r, s.w.stageOut)
	user := pick(r, users)
	t := s.begin()
	t.badOK = true
	any := false
	for _, l := range o.lines {
		for _, a := range l.alloc {
			p := a.p
			p.alloc -= toBase(a.qty, l.pack)
			t.touch(p)
			if chance(r, s.cfg.Process.ShortPick) {
				gone := toBase(max(1000, a.qty/2/1000*1000), l.pack)
				if l.pack.UOM == "KG" {
					gone = int64(rangeInt(r, 100, int(max(200, a.qty/2))))
				}
				p.phys -= min(gone, max(p.phys, 0))
				pp := p
				s.after(between(r, time.Hour, 4*time.Hour), func() { s.cycleCount(pp, "CC_SHORT") })
			}
			found := min(a.qty, fromBase(max(p.phys, 0), l.pack))
			found = min(found, fromBase(max(p.book, 0), l.pack))
			var dmg int64
			if l.pack.UOM != "KG" && found >= 1000 && chance(r, s.cfg.Process.Damage) {
				dmg = int64(rangeInt(r, 1, int(min(3, found/1000)))) * 1000
				base := toBase(dmg, l.pack)
				p.book -= base
				p.phys -= base
				d := s.position(s.w.damage, l.item, p.lot, p.expiry, "damaged")
				d.book += base
				d.phys += base
				t.touch(d)
				note := fmt.Sprintf("%d %s damaged - pick short", dmg/1000, unitWord(l.pack.UOM, dmg))
				s.move(t, &movement{typ: "STATUS_CHANGE", item: l.item, lot: p.lot, expiry: p.expiry, pack: l.pack, qty: dmg,
					from: p.loc.Code, to: s.w.damage.Code, ref: o.no, reason: "DAMAGED", user: user, note: note})
			}
			q := found - dmg
			if q <= 0 {
				continue
			}
			base := toBase(q, l.pack)
			p.book -= base
			p.phys -= base
			st := s.position(o.stage, l.item, p.lot, p.expiry, "available")
			st.book += base
			st.phys += base
			t.touch(st)
			s.move(t, &movement{typ: "PICK", item: l.item, lot: p.lot, expiry: p.expiry, pack: l.pack, qty: q,
				from: p.loc.Code, to: o.stage.Code, ref: o.no, user: user})
			l.picks = append(l.picks, pickSlice{lot: p.lot, expiry: p.expiry, qty: q})
			l.qty.picked += q
			any = true
		}
		l.alloc = nil
		s.updateLine(t, l, "picked")
	}
	t.commit()
	for _, l := range o.lines {
		s.checkReplenish(l.item)
	}
	if !any {
		s.after(between(r, 5*time.Minute, 20*time.Minute), func() { s.closeUnshipped(o) })
		return
	}
	s.after(between(r, 10*time.Minute, 40*time.Minute), func() { s.packOrder(o) })
}

func unitWord(uom string, milli int64) string {
	w := map[string]string{"CA": "case", "EA": "each", "PL": "pallet"}[uom]
	if w == "" {
		return uom
	}
	if milli != 1000 && w != "each" {
		w += "s"
	}
	return w
}

// closeUnshipped closes an order of which nothing could be picked: every
// line is short-closed or backordered without a shipment.
func (s *Sim) closeUnshipped(o *order) {
	t := s.begin()
	for _, l := range o.lines {
		s.finalLine(t, l)
	}
	t.commit()
}

// finalLine sets a line's outcome at goods issue.
func (s *Sim) finalLine(t *txb, l *line) *fact {
	l.qty.shipped = l.qty.loaded
	rest := l.qty.ordered - l.qty.shipped
	status := "shipped"
	if rest > 0 {
		if chance(s.rFloor, s.cfg.Process.Backorder) {
			status, l.qty.backordered = "backordered", rest
		} else {
			status, l.qty.short = "short_shipped", rest
		}
	}
	l.final = s.updateLine(t, l, status)
	return l.final
}
