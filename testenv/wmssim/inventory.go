package wmssim

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/draylink/dray/canonical"
)

// position is stock of one item and lot in one status at one location.
// Quantities are base milli-units. book is what the WMS believes (and
// writes to inventory_balance); phys is what is really there: picks find
// at most phys, and a cycle count sets book to phys.
type position struct {
	loc    *Location
	item   *Item
	lot    string
	expiry string
	status string // available, on_hold, damaged
	book   int64
	phys   int64
	alloc  int64
}

type posKey struct {
	loc    string
	item   *Item
	lot    string
	status string
}

// position returns the position, creating an empty one.
func (s *Sim) position(loc *Location, it *Item, lot, expiry, status string) *position {
	k := posKey{loc.Code, it, lot, status}
	if p, ok := s.pos[k]; ok {
		return p
	}
	p := &position{loc: loc, item: it, lot: lot, expiry: expiry, status: status}
	s.pos[k] = p
	s.itemPos[it] = append(s.itemPos[it], p)
	return p
}

// pickable returns the item's available stock in pick faces and storage,
// first expiring first, pick face before reserve.
func (s *Sim) pickable(it *Item) []*position {
	var out []*position
	for _, p := range s.itemPos[it] {
		if p.status == "available" && (p.loc.Type == "pick_face" || p.loc.Type == "storage") && p.book-p.alloc > 0 {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *position) int {
		if c := strings.Compare(a.expiry, b.expiry); c != 0 {
			return c
		}
		if (a.loc.Type == "pick_face") != (b.loc.Type == "pick_face") {
			if a.loc.Type == "pick_face" {
				return -1
			}
			return 1
		}
		if c := strings.Compare(a.loc.Code, b.loc.Code); c != 0 {
			return c
		}
		return strings.Compare(a.lot, b.lot)
	})
	return out
}

// onHand is the item's available on-hand stock (book − allocated) in
// pick faces and storage, plus what is expected on open receipts.
func (s *Sim) freeStock(it *Item) int64 {
	var n int64
	for _, p := range s.itemPos[it] {
		if p.status == "available" && p.loc.Type != "staging" && p.loc.Type != "dock" {
			n += p.book - p.alloc
		}
	}
	return n
}

// toBase converts milli-units of a pack to base milli-units.
func toBase(milli int64, p *Pack) int64 { return milli * p.QtyInBase / 1000 }

// fromBase converts base milli-units to milli-units of a pack, whole
// units for counted packs (rounded down).
func fromBase(base int64, p *Pack) int64 {
	u := base * 1000 / p.QtyInBase
	if p.UOM != "KG" {
		u -= u % 1000
	}
	return u
}

// lotFor makes a lot code and expiry date for stock received on day t.
func (s *Sim) lotFor(it *Item, t time.Time) (lot, expiry string) {
	if !it.Lot {
		return "", ""
	}
	lt := t.In(s.loc)
	switch it.Kind {
	case KindBulk:
		lot = "R" + lt.Format("060102")
	default:
		lot = "L" + lt.Format("0601") + string(rune('A'+lt.Day()%26))
	}
	if it.Expiry {
		expiry = lt.AddDate(0, 0, it.ShelfDays).Format("2006-01-02")
	}
	return lot, expiry
}

// movement is one row of the movement journal.
type movement struct {
	id       int64
	typ      string
	at       time.Time
	item     *Item
	lot      string
	expiry   string
	pack     *Pack
	qty      int64 // milli-units of pack; negative for a reversal
	from, to string
	sscc     string
	ref      string
	reason   string
	reverses int64
	user     string
	note     string
	version  int64
	tech     techTime
	f        *fact
}

// movementPayload is the outbox payload of a movement: the row.
type movementPayload struct {
	MovementID         any    `json:"movement_id"`
	SiteCode           string `json:"site_code"`
	MovementType       string `json:"movement_type"`
	OccurredAt         string `json:"occurred_at"`
	OwnerID            string `json:"owner_id"`
	SKU                any    `json:"sku"`
	GTIN               any    `json:"gtin"`
	Lot                string `json:"lot,omitempty"`
	ExpiryDate         string `json:"expiry_date,omitempty"`
	Qty                string `json:"qty"`
	UOM                string `json:"uom"`
	FromLoc            string `json:"from_loc,omitempty"`
	ToLoc              string `json:"to_loc,omitempty"`
	SSCC               string `json:"sscc,omitempty"`
	OrderRef           string `json:"order_ref,omitempty"`
	ReasonCode         string `json:"reason_code,omitempty"`
	ReversesMovementID int64  `json:"reverses_movement_id,omitempty"`
	UserID             string `json:"user_id"`
	Note               string `json:"note,omitempty"`
	RowVersion         int64  `json:"row_version"`
}

// move writes a movement row (and its outbox row) in t and makes its fact.
func (s *Sim) move(t *txb, m *movement) *movement {
	s.ids.move++
	m.id = s.ids.move
	m.version = s.version()
	m.tech = t.tech
	if m.at.IsZero() {
		m.at = s.now
	}
	it := m.item
	item := &canonical.ItemRef{OwnerId: it.Owner.ID, Sku: it.SKU}
	key := strconv.FormatInt(m.id, 10)
	var d canonical.Data
	kind, name := "movement", "inventory_movements"
	switch m.typ {
	case "STATUS_CHANGE":
		kind, name, d = "status_change", "inventory_status_changes", &canonical.InventoryStatusChanged{SourceKey: key, Item: item}
	case "CYCLE_COUNT":
		kind, name, d = "count", "inventory_counts", &canonical.InventoryCounted{SourceKey: key, Item: item}
	default:
		d = &canonical.InventoryMoved{Movement: &canonical.InventoryMovement{SourceKey: key, Item: item}}
	}
	det := &Detail{Owner: it.Owner.ID, SKU: it.SKU, GTIN: m.pack.GTIN, Lot: m.lot, Expiry: m.expiry,
		Qty: fmtQty(m.qty, m.pack.UOM), UOM: m.pack.UOM, BaseQty: fmtQty(toBase(m.qty, m.pack), it.BaseUOM), BaseUOM: it.BaseUOM,
		MovementID: key, MovementType: m.typ, ReasonCode: m.reason, From: m.from, To: m.to, SSCC: m.sscc, Ref: m.ref}
	if m.reverses != 0 {
		det.Reverses = strconv.FormatInt(m.reverses, 10)
	}
	m.f = s.newFact(kind, d, m.at, s.loc, det)
	s.insertMovement(t, m, m.id, it.SKU, m.pack.GTIN)
	t.via(m.f, s.tableVia(name, "inventory_movements", m.id, m.version, false))
	ob := t.outbox("inventory_movement", key, outboxMovementType(m), s.movementPayload(m, m.id, it.SKU, m.pack.GTIN))
	t.via(m.f, s.outboxVia(ob))
	t.moves = append(t.moves, m)
	return m
}

func (s *Sim) insertMovement(t *txb, m *movement, id, sku, gtin any) {
	t.insert("inventory_movements", []string{"movement_id", "site_code", "movement_type", "occurred_at", "owner_id", "sku", "gtin",
		"lot", "expiry_date", "qty", "uom", "from_loc", "to_loc", "sscc", "order_ref", "reason_code", "reverses_movement_id",
		"user_id", "note", "row_version", "last_modified"},
		id, s.cfg.Site.ID, m.typ, s.local(m.at), m.item.Owner.ID, sku, gtin, nullStr(m.lot), nullStr(m.expiry),
		fmtQty(m.qty, m.pack.UOM), m.pack.UOM, nullStr(m.from), nullStr(m.to), nullStr(m.sscc), nullStr(m.ref),
		nullStr(m.reason), nullInt(m.reverses), m.user, nullStr(m.note), m.version, m.tech)
}

// outboxMovementType is the outbox type of a movement: the business event
// (a reversal is its own event, carrying the quantity it takes back).
func outboxMovementType(m *movement) string {
	switch {
	case m.typ == "STATUS_CHANGE":
		return "stock.status_changed"
	case m.typ == "CYCLE_COUNT":
		return "stock.counted"
	case m.reverses != 0:
		return "movement.reversed"
	}
	return "movement.created"
}

func (s *Sim) movementPayload(m *movement, id, sku, gtin any) []byte {
	q := m.qty
	if m.reverses != 0 {
		q = -q
	}
	b, _ := json.Marshal(movementPayload{MovementID: id, SiteCode: s.cfg.Site.ID, MovementType: m.typ,
		OccurredAt: s.local(m.at), OwnerID: m.item.Owner.ID, SKU: sku, GTIN: gtin, Lot: m.lot, ExpiryDate: m.expiry,
		Qty: fmtQty(q, m.pack.UOM), UOM: m.pack.UOM, FromLoc: m.from, ToLoc: m.to, SSCC: m.sscc, OrderRef: m.ref,
		ReasonCode: m.reason, ReversesMovementID: m.reverses, UserID: m.user, Note: m.note, RowVersion: m.version})
	return b
}

// ---- opening stock and replenishment ----

// demandPerSec is the expected base milli-units an item ships per
// simulated second.
func (s *Sim) initDemand() {
	owners := float64(len(s.w.Owners))
	for _, o := range s.w.Owners {
		for _, it := range o.Items {
			var mean float64 // base milli-units per line
			switch it.Kind {
			case KindCase:
				mean = 10.5 * float64(it.OrderUOM.QtyInBase)
			case KindEach:
				mean = 18 * float64(it.OrderUOM.QtyInBase)
			case KindBulk:
				mean = 32 * 1000
			}
			it.demand = s.lambda / owners * meanLines / float64(len(o.Items)) * mean
		}
	}
}

const meanLines = 2.6

// replenishQty is the base quantity of one replenishment: half a day of
// demand, in whole receiving units, at least one.
func (s *Sim) replenishQty(it *Item) int64 {
	want := int64(it.demand * 12 * 3600)
	u := it.ReceiveUOM.QtyInBase
	if it.Kind == KindBulk {
		u = 250 * 1000
	}
	n := (want + u - 1) / u
	if n < 1 {
		n = 1
	}
	if n > 40 {
		n = 40
	}
	return n * u
}

// reorderPoint is the free stock below which an ASN is raised: the demand
// over the longest lead time and then some.
func (s *Sim) reorderPoint(it *Item) int64 {
	return int64(it.demand * 10 * 3600)
}

// openingStock loads every item's starting stock as OPENING adjustments:
// its pick face and one or two reserve locations.
func (s *Sim) openingStock() {
	t := s.begin()
	user := "system"
	for _, it := range s.w.Items() {
		total := s.replenishQty(it) * 2
		lot, exp := s.lotFor(it, s.now.AddDate(0, 0, -20))
		locs := []*Location{it.PickFace, s.w.reserve[s.rInbound.IntN(len(s.w.reserve))]}
		if total > 4*it.ReceiveUOM.QtyInBase {
			locs = append(locs, s.w.reserve[s.rInbound.IntN(len(s.w.reserve))])
		}
		per := fromBase(total/int64(len(locs)), it.ReceiveUOM)
		if per == 0 {
			per = 1000
		}
		pack := it.ReceiveUOM
		if it.Kind == KindCase {
			pack = it.OrderUOM // cases
			per = fromBase(total/int64(len(locs)), pack)
		}
		for _, l := range locs {
			p := s.position(l, it, lot, exp, "available")
			q := toBase(per, pack)
			p.book += q
			p.phys += q
			t.touch(p)
			s.move(t, &movement{typ: "ADJUSTMENT", item: it, lot: lot, expiry: exp, pack: pack, qty: per, to: l.Code,
				reason: "OPENING", user: user, note: "opening balance"})
		}
	}
	t.commit()
}

// checkReplenish raises an ASN for an item whose free stock is below its
// reorder point and that has none open.
func (s *Sim) checkReplenish(it *Item) {
	if s.openASN[it] || s.freeStock(it) >= s.reorderPoint(it) {
		return
	}
	s.openASN[it] = true
	s.expectReceipt(it)
}
