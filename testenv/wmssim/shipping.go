package wmssim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/draylink/dray/canonical"
)

// shipment is one order's shipment.
type shipment struct {
	id        string
	o         *order
	carrier   *Carrier
	bol, pro  string
	equip     string
	door      *Location
	hus       []*hu
	ver       int64
	status    string
	shippedAt time.Time
	fact      *fact
	weightKG  float64
	delivered bool
}

// hu is a pallet with an SSCC.
type hu struct {
	sscc     string
	contents []huContent
	ver      int64
	weightKG float64
	packedAt time.Time
}

type huContent struct {
	l      *line
	seq    int
	lot    string
	expiry string
	qty    int64
}

// palletSlots is how much one pallet holds, in slots: a case or 12 eaches
// or 10 kg take one.
const palletSlots = 60

func slotsOf(l *line, q int64) int64 {
	switch l.pack.UOM {
	case "EA":
		return (q/1000 + 11) / 12
	case "KG":
		return (q/1000 + 9) / 10
	}
	return q / 1000
}

// sitePrefix is the site's GS1 company prefix (its GLN's first 7 digits).
func (s *Sim) sitePrefix() string { return s.cfg.Site.GLN[:7] }

// nextSSCC is a new SSCC of the site: extension 0, company prefix, serial.
func (s *Sim) nextSSCC() string {
	s.ids.serial++
	return mustAppend("0" + s.sitePrefix() + fmt.Sprintf("%09d", s.ids.serial))
}

// packOrder packs the picked stock onto SSCC pallets (a line may span
// pallets) and plans the shipment.
func (s *Sim) packOrder(o *order) {
	r := s.rFloor
	user := pick(r, users)
	sh := &shipment{o: o, carrier: o.carrier, status: "planned"}
	s.ids.ship++
	day := s.now.In(s.loc).Format("060102")
	sh.id = fmt.Sprintf("SHP%s%04d", day, s.ids.ship%10000)
	sh.bol = mustAppend(s.sitePrefix() + fmt.Sprintf("%09d", s.ids.ship))
	sh.pro = fmt.Sprintf("77%08d", r.IntN(100000000))
	sh.equip = fmt.Sprintf("%06d", 100000+r.IntN(900000))
	o.ship = sh

	t := s.begin()
	t.badOK = true
	var cur *hu
	var used int64
	newHU := func() {
		cur = &hu{sscc: s.nextSSCC(), packedAt: s.now}
		sh.hus = append(sh.hus, cur)
		used = 0
	}
	for _, l := range o.lines {
		for _, ps := range l.picks {
			rest := ps.qty
			for rest > 0 {
				if cur == nil || used >= palletSlots {
					newHU()
				}
				q := rest
				if slotsOf(l, q) > palletSlots-used {
					room := palletSlots - used
					switch l.pack.UOM {
					case "EA":
						q = room * 12 * 1000
					case "KG":
						q = room * 10 * 1000
					default:
						q = room * 1000
					}
					q = min(q, rest)
				}
				used += max(slotsOf(l, q), 1)
				cur.contents = append(cur.contents, huContent{l: l, seq: len(cur.contents) + 1, lot: ps.lot, expiry: ps.expiry, qty: q})
				cur.weightKG += float64(toBase(q, l.pack)) / 1000 * l.item.WeightKG
				rest -= q
			}
		}
		l.qty.packed = l.qty.picked
		l.ship = sh.id
	}
	for _, h := range sh.hus {
		h.weightKG += 22 // the pallet itself
		sh.weightKG += h.weightKG
		h.ver = s.version()
		t.insert("handling_units", []string{"sscc", "owner_id", "order_id", "shipment_id", "package_type", "status", "location_code",
			"gross_weight_kg", "packed_at", "row_version", "last_modified"},
			h.sscc, o.owner.ID, o.id, sh.id, "PX", "packed", o.stage.Code, fmt.Sprintf("%.3f", h.weightKG), s.local(s.now), h.ver, t.tech)
		for _, c := range h.contents {
			t.insert("handling_unit_contents", []string{"sscc", "seq", "order_line_id", "sku", "gtin", "lot", "expiry_date", "qty", "uom"},
				h.sscc, int64(c.seq), c.l.id, c.l.item.SKU, c.l.pack.GTIN, nullStr(c.lot), nullStr(c.expiry), fmtQty(c.qty, c.l.pack.UOM), c.l.pack.UOM)
			s.move(t, &movement{typ: "PACK", item: c.l.item, lot: c.lot, expiry: c.expiry, pack: c.l.pack, qty: c.qty,
				from: o.stage.Code, to: o.stage.Code, sscc: h.sscc, ref: o.no, user: user})
		}
		f := s.newFact("hu_packed", &canonical.HandlingUnitPacked{HandlingUnit: &canonical.HandlingUnit{Sscc: h.sscc}}, s.now, s.loc,
			&Detail{Owner: o.owner.ID, OrderNo: o.no, SSCC: h.sscc, ShipmentID: sh.id, Lines: len(h.contents)})
		t.via(f, s.tableVia("handling_units_packed", "handling_units", h.sscc, h.ver, true))
		ob := t.outbox("handling_unit", h.sscc, "handling_unit.packed", s.huPayload(h, sh, "packed"))
		t.via(f, s.outboxVia(ob))
	}
	sh.ver = s.version()
	t.insert("shipments", []string{"shipment_id", "site_code", "owner_id", "order_id", "carrier_scac", "mode", "bol", "pro",
		"equipment_id", "ship_to_id", "status", "pallet_count", "gross_weight_lb", "row_version", "last_modified"},
		sh.id, s.cfg.Site.ID, o.owner.ID, o.id, sh.carrier.SCAC, sh.carrier.Mode, sh.bol, sh.pro, sh.equip, o.shipTo.ID,
		sh.status, int64(len(sh.hus)), fmt.Sprintf("%.3f", sh.weightKG*2.20462), sh.ver, t.tech)
	for _, l := range o.lines {
		if l.qty.picked > 0 {
			s.updateLine(t, l, "packed")
		}
	}
	t.commit()

	arrive := between(r, 10*time.Minute, 50*time.Minute)
	s.after(arrive, func() { s.milestone(sh, "X3") })
	s.after(arrive+between(r, 10*time.Minute, 30*time.Minute), func() { s.loadShipment(sh) })
}

type huPayload struct {
	SSCC       string          `json:"sscc"`
	OwnerID    string          `json:"owner_id"`
	OrderNo    string          `json:"order_no"`
	ShipmentID string          `json:"shipment_id"`
	Status     string          `json:"status"`
	Location   string          `json:"location_code"`
	WeightKG   string          `json:"gross_weight_kg"`
	PackedAt   string          `json:"packed_at"`
	LoadedAt   string          `json:"loaded_at,omitempty"`
	Contents   []huContentJSON `json:"contents"`
	RowVersion int64           `json:"row_version"`
}

type huContentJSON struct {
	Seq    int    `json:"seq"`
	LineNo int    `json:"line_no"`
	SKU    string `json:"sku"`
	GTIN   string `json:"gtin"`
	Lot    string `json:"lot,omitempty"`
	Expiry string `json:"expiry_date,omitempty"`
	Qty    string `json:"qty"`
	UOM    string `json:"uom"`
}

func (s *Sim) huPayload(h *hu, sh *shipment, status string) []byte {
	p := huPayload{SSCC: h.sscc, OwnerID: sh.o.owner.ID, OrderNo: sh.o.no, ShipmentID: sh.id, Status: status,
		Location: sh.o.stage.Code, WeightKG: fmt.Sprintf("%.3f", h.weightKG), PackedAt: s.local(h.packedAt), RowVersion: h.ver}
	if status == "loaded" {
		p.Location, p.LoadedAt = sh.door.Code, s.local(s.now)
	}
	for _, c := range h.contents {
		p.Contents = append(p.Contents, huContentJSON{Seq: c.seq, LineNo: c.l.no, SKU: c.l.item.SKU, GTIN: c.l.pack.GTIN,
			Lot: c.lot, Expiry: c.expiry, Qty: fmtQty(c.qty, c.l.pack.UOM), UOM: c.l.pack.UOM})
	}
	b, _ := json.Marshal(p)
	return b
}

// loadShipment moves the pallets from the staging lane to a door and onto
// the trailer.
func (s *Sim) loadShipment(sh *shipment) {
	r := s.rFloor
	o := sh.o
	user := pick(r, users)
	sh.door = pick(r, s.w.doors)
	t := s.begin()
	t.badOK = true
	for _, h := range sh.hus {
		for _, c := range h.contents {
			base := toBase(c.qty, c.l.pack)
			from := s.position(o.stage, c.l.item, c.lot, c.expiry, "available")
			to := s.position(sh.door, c.l.item, c.lot, c.expiry, "available")
			from.book, from.phys = from.book-base, from.phys-base
			to.book, to.phys = to.book+base, to.phys+base
			t.touch(from)
			t.touch(to)
			s.move(t, &movement{typ: "LOAD", item: c.l.item, lot: c.lot, expiry: c.expiry, pack: c.l.pack, qty: c.qty,
				from: o.stage.Code, to: sh.door.Code, sscc: h.sscc, ref: o.no, user: user,
				note: "trailer " + sh.carrier.SCAC + " " + sh.equip})
			c.l.qty.loaded += c.qty
		}
		h.ver = s.version()
		t.exec(`UPDATE handling_units SET status = ?, location_code = ?, loaded_at = ?, row_version = ?, last_modified = ? WHERE sscc = ?`,
			"loaded", sh.door.Code, s.local(s.now), h.ver, t.tech, h.sscc)
		f := s.newFact("hu_loaded", &canonical.HandlingUnitLoaded{Sscc: h.sscc, ShipmentId: sh.id}, s.now, s.loc,
			&Detail{Owner: o.owner.ID, OrderNo: o.no, SSCC: h.sscc, ShipmentID: sh.id, To: sh.door.Code})
		t.via(f, s.tableVia("handling_units_loaded", "handling_units", h.sscc, h.ver, false))
		ob := t.outbox("handling_unit", h.sscc, "handling_unit.loaded", s.huPayload(h, sh, "loaded"))
		t.via(f, s.outboxVia(ob))
	}
	sh.status, sh.ver = "loading", s.version()
	t.exec(`UPDATE shipments SET status = ?, door = ?, row_version = ?, last_modified = ? WHERE shipment_id = ?`,
		sh.status, sh.door.Code, sh.ver, t.tech, sh.id)
	for _, l := range o.lines {
		if l.qty.loaded > 0 {
			s.updateLine(t, l, "loaded")
		}
	}
	t.commit()
	s.after(between(r, 10*time.Minute, 30*time.Minute), func() { s.shipShipment(sh) })
}

type shipmentPayload struct {
	ShipmentID string   `json:"shipment_id"`
	OwnerID    string   `json:"owner_id"`
	OrderNo    string   `json:"order_no"`
	Carrier    string   `json:"carrier_scac"`
	BOL        string   `json:"bol"`
	PRO        string   `json:"pro"`
	Equipment  string   `json:"equipment_id"`
	Door       string   `json:"door"`
	ShipToID   string   `json:"ship_to_id"`
	Status     string   `json:"status"`
	ShippedAt  string   `json:"shipped_at"`
	SSCCs      []string `json:"ssccs"`
	WeightLB   string   `json:"gross_weight_lb"`
	RowVersion int64    `json:"row_version"`
}

// shipShipment posts goods issue: the stock leaves the site, the shipment
// and lines reach their outcome, and the 945 is queued.
func (s *Sim) shipShipment(sh *shipment) {
	r := s.rFloor
	o := sh.o
	user := pick(r, users)
	t := s.begin()
	t.badOK = true
	var ssccs []string
	for _, h := range sh.hus {
		ssccs = append(ssccs, h.sscc)
		for _, c := range h.contents {
			base := toBase(c.qty, c.l.pack)
			from := s.position(sh.door, c.l.item, c.lot, c.expiry, "available")
			from.book, from.phys = from.book-base, from.phys-base
			t.touch(from)
			s.move(t, &movement{typ: "SHIP", item: c.l.item, lot: c.lot, expiry: c.expiry, pack: c.l.pack, qty: c.qty,
				from: sh.door.Code, sscc: h.sscc, ref: o.no, user: user, note: "trailer " + sh.carrier.SCAC + " " + sh.equip})
		}
	}
	sh.status, sh.shippedAt, sh.ver = "shipped", s.now, s.version()
	t.exec(`UPDATE shipments SET status = ?, shipped_at = ?, row_version = ?, last_modified = ? WHERE shipment_id = ?`,
		sh.status, s.local(s.now), sh.ver, t.tech, sh.id)
	sh.fact = s.newFact("shipment", &canonical.ShipmentShipped{Shipment: &canonical.Shipment{ShipmentId: sh.id}}, s.now, s.loc,
		&Detail{Owner: o.owner.ID, OrderNo: o.no, ShipmentID: sh.id, Lines: len(o.lines), Positions: len(sh.hus)})
	t.via(sh.fact, s.tableVia("shipments", "shipments", sh.id, sh.ver, false))
	b, _ := json.Marshal(shipmentPayload{ShipmentID: sh.id, OwnerID: o.owner.ID, OrderNo: o.no, Carrier: sh.carrier.SCAC,
		BOL: sh.bol, PRO: sh.pro, Equipment: sh.equip, Door: sh.door.Code, ShipToID: o.shipTo.ID, Status: sh.status,
		ShippedAt: s.local(s.now), SSCCs: ssccs, WeightLB: fmt.Sprintf("%.3f", sh.weightKG*2.20462), RowVersion: sh.ver})
	ob := t.outbox("shipment", sh.id, "shipment.shipped", b)
	t.via(sh.fact, s.outboxVia(ob))
	for _, l := range o.lines {
		s.finalLine(t, l)
	}
	t.commit()
	s.out945[o.owner] = append(s.out945[o.owner], sh)
	s.after(between(r, 3*time.Minute, 15*time.Minute), func() { s.milestone(sh, "AF") })
}

// lineNo renders a line number for X12 and keys.
func lineNo(l *line) string { return strconv.Itoa(l.no) }
