package wmssim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/draylink/dray/canonical"
)

// receipt is an inbound delivery announced by an ASN.
type receipt struct {
	id       int64
	no, po   string
	owner    *Owner
	supplier *Party
	carrier  *Carrier
	lines    []*rline
	ver      int64
}

type rline struct {
	id                 int64
	no                 int
	item               *Item
	pack               *Pack
	sscc               string
	lot, expiry        string
	expected, received int64 // milli-units of pack
	ver                int64
}

type receiptPayload struct {
	ReceiptID  int64             `json:"receipt_id"`
	OwnerID    string            `json:"owner_id"`
	ReceiptNo  string            `json:"receipt_no"`
	PONumber   string            `json:"po_number"`
	SupplierID string            `json:"supplier_id"`
	Carrier    string            `json:"carrier_scac"`
	Status     string            `json:"status"`
	ReceivedAt string            `json:"received_at,omitempty"`
	Lines      []receiptLineJSON `json:"lines"`
	RowVersion int64             `json:"row_version"`
}

type receiptLineJSON struct {
	LineNo      int    `json:"line_no"`
	SKU         string `json:"sku"`
	Lot         string `json:"lot,omitempty"`
	ExpiryDate  string `json:"expiry_date,omitempty"`
	SSCC        string `json:"sscc,omitempty"`
	UOM         string `json:"uom"`
	QtyExpected string `json:"qty_expected"`
	QtyReceived string `json:"qty_received,omitempty"`
}

func (s *Sim) receiptPayload(rc *receipt, status string) []byte {
	p := receiptPayload{ReceiptID: rc.id, OwnerID: rc.owner.ID, ReceiptNo: rc.no, PONumber: rc.po, SupplierID: rc.supplier.ID,
		Carrier: rc.carrier.SCAC, Status: status, RowVersion: rc.ver}
	if status == "completed" {
		p.ReceivedAt = s.local(s.now)
	}
	for _, l := range rc.lines {
		j := receiptLineJSON{LineNo: l.no, SKU: l.item.SKU, Lot: l.lot, ExpiryDate: l.expiry, SSCC: l.sscc, UOM: l.pack.UOM,
			QtyExpected: fmtQty(l.expected, l.pack.UOM)}
		if status == "completed" {
			j.QtyReceived = fmtQty(l.received, l.pack.UOM)
		}
		p.Lines = append(p.Lines, j)
	}
	b, _ := json.Marshal(p)
	return b
}

// expectReceipt raises an ASN for it (and for other items of the owner
// running low), arriving a few hours later.
func (s *Sim) expectReceipt(it *Item) {
	r := s.rInbound
	o := it.Owner
	s.ids.receipt++
	rc := &receipt{id: s.ids.receipt, no: "ASN-" + itoa(s.ids.receipt), po: fmt.Sprintf("PO-%05d", r.IntN(100000)), owner: o,
		supplier: pick(r, s.w.Suppliers), carrier: pick(r, s.w.Carriers)}
	items := []*Item{it}
	for _, other := range o.Items {
		if len(items) < 3 && other != it && !s.openASN[other] && s.freeStock(other) < 2*s.reorderPoint(other) {
			s.openASN[other] = true
			items = append(items, other)
		}
	}
	arrival := s.now.Add(between(r, time.Hour, 6*time.Hour))
	for _, x := range items {
		qty := s.replenishQty(x)
		lot, exp := s.lotFor(x, arrival)
		add := func(pack *Pack, q int64, sscc string) {
			s.ids.rline++
			rc.lines = append(rc.lines, &rline{id: s.ids.rline, no: len(rc.lines) + 1, item: x, pack: pack, sscc: sscc,
				lot: lot, expiry: exp, expected: q})
		}
		switch {
		case x.Kind == KindCase && chance(r, 0.3):
			add(x.Pack("PL"), fromBase(qty, x.Pack("PL")), "") // whole pallets, keyed in pallet units
		case x.Kind == KindCase:
			pl := x.Pack("PL")
			for n := qty / pl.QtyInBase; n > 0; n-- { // one line per pallet, with the supplier's SSCC
				add(x.OrderUOM, fromBase(pl.QtyInBase, x.OrderUOM), s.supplierSSCC(rc.supplier))
			}
		default:
			add(x.ReceiveUOM, fromBase(qty, x.ReceiveUOM), "")
		}
	}
	t := s.begin()
	rc.ver = s.version()
	t.insert("receipts", []string{"receipt_id", "owner_id", "receipt_no", "po_number", "supplier_id", "carrier_scac", "expected_date",
		"status", "row_version", "last_modified"},
		rc.id, o.ID, rc.no, rc.po, rc.supplier.ID, rc.carrier.SCAC, s.date(arrival), "expected", rc.ver, t.tech)
	for _, l := range rc.lines {
		l.ver = s.version()
		t.insert("receipt_lines", []string{"receipt_line_id", "receipt_id", "line_no", "sku", "lot", "expiry_date", "sscc", "uom",
			"qty_expected", "row_version", "last_modified"},
			l.id, rc.id, int64(l.no), l.item.SKU, nullStr(l.lot), nullStr(l.expiry), nullStr(l.sscc), l.pack.UOM,
			fmtQty(l.expected, l.pack.UOM), l.ver, t.tech)
	}
	f := s.newFact("receipt_expected", &canonical.ReceiptExpected{Receipt: &canonical.Receipt{OwnerId: o.ID, ReceiptNo: rc.no}},
		s.now, s.loc, &Detail{Owner: o.ID, ReceiptNo: rc.no, Lines: len(rc.lines), Ref: rc.po})
	t.via(f, s.tableVia("receipts_expected", "receipts", rc.id, rc.ver, true))
	ob := t.outbox("receipt", o.ID+"/"+rc.no, "receipt.expected", s.receiptPayload(rc, "expected"))
	t.via(f, s.outboxVia(ob))
	t.commit()
	s.at(arrival, func() { s.receive(rc) })
}

// supplierSSCC makes an SSCC of a supplier's pallet.
func (s *Sim) supplierSSCC(p *Party) string {
	return mustAppend("0" + p.Prefix + fmt.Sprintf("%09d", s.rInbound.IntN(1000000000)))
}

// receive unloads an ASN at a dock into receiving staging (bulk goods
// straight into their bulk location).
func (s *Sim) receive(rc *receipt) {
	r := s.rInbound
	dock := pick(r, s.w.docksIn)
	user := pick(r, users)
	t := s.begin()
	t.badOK = true
	at := s.now
	note := ""
	if chance(r, s.cfg.Process.Backdated) {
		at = s.now.Add(-between(r, 10*time.Minute, 2*time.Hour))
		note = "backdated: keyed late after RF outage"
	}
	var stock []*position
	for _, l := range rc.lines {
		l.received = l.expected
		if chance(r, s.cfg.Process.ShortReceipt) {
			if l.pack.UOM == "KG" {
				l.received -= int64(rangeInt(r, 100, 2000))
			} else if l.expected > 1000 {
				l.received -= 1000
			}
		}
		if l.pack.UOM == "KG" && note == "" {
			note = "scaled at dock"
		}
		to := s.w.recvStage
		if l.item.Kind == KindBulk {
			to = l.item.PickFace
		}
		p := s.position(to, l.item, l.lot, l.expiry, "available")
		base := toBase(l.received, l.pack)
		p.book += base
		p.phys += base
		t.touch(p)
		stock = append(stock, p)
		s.move(t, &movement{typ: "RECEIPT", at: at, item: l.item, lot: l.lot, expiry: l.expiry, pack: l.pack, qty: l.received,
			from: dock.Code, to: to.Code, sscc: l.sscc, ref: rc.no, user: user, note: note})
		l.ver = s.version()
		t.exec(`UPDATE receipt_lines SET qty_received = ?, row_version = ?, last_modified = ? WHERE receipt_line_id = ?`,
			fmtQty(l.received, l.pack.UOM), l.ver, t.tech, l.id)
	}
	rc.ver = s.version()
	t.exec(`UPDATE receipts SET status = ?, received_at = ?, row_version = ?, last_modified = ? WHERE receipt_id = ?`,
		"completed", s.local(s.now), rc.ver, t.tech, rc.id)
	f := s.newFact("receipt_completed", &canonical.ReceiptCompleted{Receipt: &canonical.Receipt{OwnerId: rc.owner.ID, ReceiptNo: rc.no}},
		s.now, s.loc, &Detail{Owner: rc.owner.ID, ReceiptNo: rc.no, Lines: len(rc.lines), Ref: rc.po})
	t.via(f, s.tableVia("receipts_completed", "receipts", rc.id, rc.ver, false))
	ob := t.outbox("receipt", rc.owner.ID+"/"+rc.no, "receipt.completed", s.receiptPayload(rc, "completed"))
	t.via(f, s.outboxVia(ob))
	t.commit()
	for _, l := range rc.lines {
		delete(s.openASN, l.item)
	}
	s.after(between(r, 10*time.Minute, 45*time.Minute), func() { s.putaway(rc, stock) })
}

// putaway moves received stock to the item's pick face (up to a
// replenishment's worth) and the rest to a reserve location, in cases.
func (s *Sim) putaway(rc *receipt, stock []*position) {
	r := s.rInbound
	user := pick(r, users)
	t := s.begin()
	t.badOK, t.lateOK = true, true
	for i, l := range rc.lines {
		p := stock[i]
		if l.item.Kind == KindBulk || p.loc != s.w.recvStage {
			continue
		}
		it := l.item
		pack := it.Pack("CA")
		left := fromBase(min(toBase(l.received, l.pack), p.book), pack)
		if left <= 0 {
			continue
		}
		var face int64
		for _, q := range s.itemPos[it] {
			if q.loc == it.PickFace && q.status == "available" {
				face += q.book
			}
		}
		toFace := min(left, fromBase(max(s.replenishQty(it)-face, 0), pack))
		put := func(loc *Location, q int64, sscc, note string) {
			if q <= 0 {
				return
			}
			base := toBase(q, pack)
			p.book, p.phys = p.book-base, p.phys-base
			dst := s.position(loc, it, l.lot, l.expiry, "available")
			dst.book, dst.phys = dst.book+base, dst.phys+base
			t.touch(p)
			t.touch(dst)
			s.move(t, &movement{typ: "PUTAWAY", item: it, lot: l.lot, expiry: l.expiry, pack: pack, qty: q, from: s.w.recvStage.Code,
				to: loc.Code, sscc: sscc, ref: rc.no, user: user, note: note})
		}
		put(it.PickFace, toFace, "", "pick face")
		put(pick(r, s.w.reserve), left-toFace, l.sscc, "reserve")
	}
	t.commit()
}

var holdNotes = []string{"Pallet re-wrapped, corner crushed", "Label damaged, QC to inspect", "Temperature excursion reported",
	"Customer complaint on lot, QC check"}

// freePosition finds a random position of an item with at least one free
// unit of pack, or nil.
func (s *Sim) freePosition(it *Item, pack *Pack) *position {
	ps := s.pickable(it)
	var ok []*position
	for _, p := range ps {
		if fromBase(min(p.book, p.phys)-p.alloc, pack) >= 1000 || (pack.UOM == "KG" && min(p.book, p.phys)-p.alloc >= 1000) {
			ok = append(ok, p)
		}
	}
	if len(ok) == 0 {
		return nil
	}
	return ok[s.rFloor.IntN(len(ok))]
}

// qcHold puts some stock on QC hold and releases it hours later.
func (s *Sim) qcHold() {
	r := s.rFloor
	it := pick(r, s.w.Items())
	pack := it.OrderUOM
	p := s.freePosition(it, pack)
	if p == nil {
		return
	}
	free := fromBase(min(p.book, p.phys)-p.alloc, pack)
	q := int64(rangeInt(r, 1, int(min(5, free/1000)))) * 1000
	if pack.UOM == "KG" {
		q = min(free, int64(rangeInt(r, 1000, 10000)))
	}
	hold := s.position(s.w.qaHold, it, p.lot, p.expiry, "on_hold")
	s.statusMove(p, hold, pack, q, "QC_HOLD", pick(r, holdNotes))
	back := p
	s.after(between(r, 2*time.Hour, 12*time.Hour), func() {
		s.statusMove(hold, back, pack, q, "QC_RELEASE", "released by QC")
	})
}

// statusMove moves q (milli-units of pack) from one position to another
// of another status, as a STATUS_CHANGE movement in its own transaction.
func (s *Sim) statusMove(from, to *position, pack *Pack, q int64, reason, note string) {
	base := toBase(q, pack)
	if from.book-from.alloc < base || from.phys < base {
		return
	}
	t := s.begin()
	t.badOK, t.lateOK = true, true
	from.book, from.phys = from.book-base, from.phys-base
	to.book, to.phys = to.book+base, to.phys+base
	t.touch(from)
	t.touch(to)
	s.move(t, &movement{typ: "STATUS_CHANGE", item: from.item, lot: from.lot, expiry: from.expiry, pack: pack, qty: q,
		from: from.loc.Code, to: to.loc.Code, reason: reason, user: pick(s.rFloor, users), note: note})
	t.commit()
}

// foundStock books stock found at a pick face; some are entry errors,
// reversed minutes later.
func (s *Sim) foundStock() {
	r := s.rFloor
	it := pick(r, s.w.Items())
	pack := it.OrderUOM
	q := int64(rangeInt(r, 1, 3)) * 1000
	if pack.UOM == "KG" {
		q = int64(rangeInt(r, 500, 2500))
	}
	lot, exp := "", ""
	for _, p := range s.itemPos[it] {
		if p.loc == it.PickFace && p.status == "available" {
			lot, exp = p.lot, p.expiry
			break
		}
	}
	if lot == "" && it.Lot {
		lot, exp = s.lotFor(it, s.now.AddDate(0, 0, -30))
	}
	p := s.position(it.PickFace, it, lot, exp, "available")
	mistaken := chance(r, s.cfg.Process.Reversal)
	base := toBase(q, pack)
	user := pick(r, users)
	t := s.begin()
	t.badOK, t.lateOK = true, true
	p.book += base
	if !mistaken {
		p.phys += base
	}
	t.touch(p)
	m := s.move(t, &movement{typ: "ADJUSTMENT", item: it, lot: lot, expiry: exp, pack: pack, qty: q, to: p.loc.Code,
		reason: "FOUND", user: user})
	t.commit()
	if !mistaken {
		return
	}
	s.after(between(r, 2*time.Minute, 30*time.Minute), func() {
		if p.book-p.alloc < base {
			return // already allocated: the error stays until a count finds it
		}
		t := s.begin()
		t.badOK, t.lateOK = true, true
		p.book -= base
		t.touch(p)
		s.move(t, &movement{typ: "ADJUSTMENT", item: it, lot: lot, expiry: exp, pack: pack, qty: -q, from: p.loc.Code,
			reason: "ENTRY_ERROR", reverses: m.id, user: user, note: "reversal of " + strconv.FormatInt(m.id, 10)})
		t.commit()
	})
}

// spotCount counts a random position.
func (s *Sim) spotCount() {
	it := pick(s.rFloor, s.w.Items())
	ps := s.pickable(it)
	if len(ps) == 0 {
		return
	}
	s.cycleCount(ps[s.rFloor.IntN(len(ps))], "CC_ABC")
}

// cycleCount counts a position (absolute) and sets the book to what is
// there. A position with allocations is counted later.
func (s *Sim) cycleCount(p *position, reason string) {
	if p.alloc > 0 {
		s.after(30*time.Minute, func() { s.cycleCount(p, reason) })
		return
	}
	pack := p.item.OrderUOM
	counted := max(p.phys, 0)
	t := s.begin()
	t.badOK, t.lateOK = true, true
	note := "counted quantity (absolute); book was " + fmtQty(fromBaseExact(p.book, pack), pack.UOM)
	p.book = counted
	p.phys = counted
	t.touch(p)
	s.move(t, &movement{typ: "CYCLE_COUNT", item: p.item, lot: p.lot, expiry: p.expiry, pack: pack, qty: fromBaseExact(counted, pack),
		from: p.loc.Code, to: p.loc.Code, reason: reason, user: pick(s.rFloor, users), note: note})
	t.commit()
}

// fromBaseExact converts base milli-units to milli-units of pack without
// rounding (counts of whole cases stay whole).
func fromBaseExact(base int64, p *Pack) int64 { return base * 1000 / p.QtyInBase }
