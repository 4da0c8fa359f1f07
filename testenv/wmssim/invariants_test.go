package wmssim

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

// query runs a SELECT whose columns are all text and returns its rows.
type query func(q string) ([][]string, error)

func sqliteQuery(t *testing.T, path string) query {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return func(q string) ([][]string, error) {
		rows, err := db.Query(q)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		var out [][]string
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return nil, err
			}
			row := make([]string, len(cols))
			for i, v := range vals {
				row[i] = v.String
			}
			out = append(out, row)
		}
		return out, rows.Err()
	}
}

func pgQuery(t *testing.T, dsn string) query {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(ctx) })
	return func(q string) ([][]string, error) {
		rows, err := c.Query(ctx, q)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out [][]string
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				return nil, err
			}
			row := make([]string, len(vals))
			for i, v := range vals {
				if v != nil {
					row[i] = fmt.Sprint(v)
				}
			}
			out = append(out, row)
		}
		return out, rows.Err()
	}
}

func must(t *testing.T, q query, sqlText string) [][]string {
	t.Helper()
	rows, err := q(sqlText)
	if err != nil {
		t.Fatalf("%s: %v", sqlText, err)
	}
	return rows
}

func dec(t *testing.T, s string) decimal.Decimal {
	t.Helper()
	if s == "" {
		return decimal.Zero
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		t.Fatalf("decimal %q: %v", s, err)
	}
	return d
}

// checkInvariants checks the simulated world as the database holds it
// after a run:
//   - replaying the movement journal (bad rows left out) from nothing
//     gives inventory_balance exactly, and no stock goes negative on the
//     way except by an adjustment;
//   - every shipped SSCC was packed first, with the quantities shipped;
//   - every order line's buckets are consistent (shipped ≤ picked ≤
//     allocated ≤ ordered, outcome buckets add up to the ordered quantity);
//   - each shipment's carrier milestones are in order;
//   - outbox ids have no gaps once everything committed.
func checkInvariants(t *testing.T, q query) {
	t.Helper()
	packs := map[string]decimal.Decimal{}
	for _, r := range must(t, q, `SELECT owner_id, sku, uom, CAST(qty_in_base AS TEXT) FROM item_packs`) {
		packs[r[0]+"/"+r[1]+"/"+r[2]] = dec(t, r[3])
	}
	bal := map[string]decimal.Decimal{}
	key := func(loc, owner, sku, lot, status string) string {
		return strings.Join([]string{loc, owner, sku, lot, status}, "|")
	}
	var negatives int
	moves := must(t, q, `SELECT CAST(movement_id AS TEXT), movement_type, owner_id, sku, COALESCE(lot, ''), CAST(qty AS TEXT), uom,
		COALESCE(from_loc, ''), COALESCE(to_loc, ''), COALESCE(reason_code, ''), COALESCE(sscc, '')
		FROM inventory_movements WHERE movement_id IS NOT NULL AND movement_id < 990000000 ORDER BY movement_id`)
	if len(moves) < 1000 {
		t.Fatalf("only %d movements", len(moves))
	}
	packed := map[string]decimal.Decimal{} // sscc/sku/lot → base qty packed
	for _, m := range moves {
		id, typ, owner, sku, lot, uom, from, to, reason, sscc := m[0], m[1], m[2], m[3], m[4], m[6], m[7], m[8], m[9], m[10]
		per, ok := packs[owner+"/"+sku+"/"+uom]
		if !ok {
			t.Fatalf("movement %s: no pack %s/%s/%s", id, owner, sku, uom)
		}
		base := dec(t, m[5]).Mul(per)
		add := func(loc, status string, d decimal.Decimal) {
			k := key(loc, owner, sku, lot, status)
			bal[k] = bal[k].Add(d)
			if bal[k].IsNegative() && typ != "ADJUSTMENT" {
				negatives++
				if negatives <= 5 {
					t.Errorf("movement %s %s leaves %s at %s", id, typ, k, bal[k])
				}
			}
		}
		switch typ {
		case "RECEIPT":
			add(to, "available", base)
		case "PUTAWAY", "PICK", "LOAD":
			add(from, "available", base.Neg())
			add(to, "available", base)
		case "PACK":
			packed[sscc+"/"+sku+"/"+lot] = packed[sscc+"/"+sku+"/"+lot].Add(base)
		case "SHIP":
			add(from, "available", base.Neg())
			k := sscc + "/" + sku + "/" + lot
			if packed[k].LessThan(base) {
				t.Errorf("movement %s ships %s of %s on %s, packed %s", id, base, sku, sscc, packed[k])
			}
			packed[k] = packed[k].Sub(base)
		case "STATUS_CHANGE":
			fs, ts := map[string][2]string{"QC_HOLD": {"available", "on_hold"}, "DAMAGED": {"available", "damaged"},
				"QC_RELEASE": {"on_hold", "available"}}[reason][0], map[string][2]string{"QC_HOLD": {"available", "on_hold"},
				"DAMAGED": {"available", "damaged"}, "QC_RELEASE": {"on_hold", "available"}}[reason][1]
			if fs == "" {
				t.Fatalf("movement %s: status change reason %q", id, reason)
			}
			add(from, fs, base.Neg())
			add(to, ts, base)
		case "CYCLE_COUNT":
			bal[key(to, owner, sku, lot, "available")] = base
		case "ADJUSTMENT":
			if base.IsNegative() {
				add(from, "available", base)
			} else {
				add(to, "available", base)
			}
		default:
			t.Fatalf("movement %s: type %s", id, typ)
		}
	}
	table := map[string]decimal.Decimal{}
	for _, r := range must(t, q, `SELECT location_code, owner_id, sku, lot, status, CAST(qty_on_hand AS TEXT), CAST(qty_allocated AS TEXT) FROM inventory_balance`) {
		table[key(r[0], r[1], r[2], r[3], r[4])] = dec(t, r[5])
		if a := dec(t, r[6]); a.IsNegative() {
			t.Errorf("balance %v allocates %s", r[:5], a)
		}
	}
	diff := 0
	for k, v := range bal {
		if !table[k].Equal(v) && diff < 5 {
			diff++
			t.Errorf("balance %s: table %s, movements %s", k, table[k], v)
		}
	}
	for k, v := range table {
		if _, ok := bal[k]; !ok && !v.IsZero() && diff < 5 {
			diff++
			t.Errorf("balance %s: table %s, no movements", k, v)
		}
	}
	for _, r := range must(t, q, `SELECT DISTINCT m.sscc FROM inventory_movements m LEFT JOIN handling_units h ON h.sscc = m.sscc
		WHERE m.movement_type = 'SHIP' AND h.sscc IS NULL`) {
		t.Errorf("SSCC %s shipped but never packed", r[0])
	}

	for _, r := range must(t, q, `SELECT CAST(order_line_id AS TEXT), status, CAST(qty_ordered AS TEXT), CAST(qty_allocated AS TEXT),
		CAST(qty_picked AS TEXT), CAST(qty_shipped AS TEXT), CAST(qty_short AS TEXT), CAST(qty_backordered AS TEXT), CAST(qty_delivered AS TEXT)
		FROM order_lines`) {
		ord, alloc, picked, shipped, short, back, deliv := dec(t, r[2]), dec(t, r[3]), dec(t, r[4]), dec(t, r[5]), dec(t, r[6]), dec(t, r[7]), dec(t, r[8])
		if shipped.GreaterThan(picked) || picked.GreaterThan(alloc) || alloc.GreaterThan(ord) {
			t.Errorf("line %s (%s): ordered %s allocated %s picked %s shipped %s", r[0], r[1], ord, alloc, picked, shipped)
		}
		switch r[1] {
		case "shipped", "short_shipped", "backordered", "delivered":
			if !shipped.Add(short).Add(back).Equal(ord) {
				t.Errorf("line %s (%s): shipped %s + short %s + backordered %s ≠ ordered %s", r[0], r[1], shipped, short, back, ord)
			}
		}
		if r[1] == "delivered" && !deliv.Equal(shipped) {
			t.Errorf("line %s delivered %s of %s shipped", r[0], deliv, shipped)
		}
	}

	last := map[string]int{}
	ranks := map[string]int{"X3": 1, "AF": 2, "SD": 3, "X1": 4, "D1": 5}
	for _, r := range must(t, q, `SELECT shipment_id, status_code FROM shipment_events ORDER BY shipment_id, occurred_at_utc, shipment_event_id`) {
		if ranks[r[1]] < last[r[0]] {
			t.Errorf("shipment %s: %s after a later milestone", r[0], r[1])
		}
		last[r[0]] = ranks[r[1]]
	}
	for _, r := range must(t, q, `SELECT e.shipment_id FROM shipment_events e JOIN shipments s ON s.shipment_id = e.shipment_id
		WHERE e.status_code = 'AF' AND s.status <> 'shipped'`) {
		t.Errorf("shipment %s departed before goods issue", r[0])
	}
	ob := must(t, q, `SELECT CAST(COUNT(*) AS TEXT), CAST(MIN(id) AS TEXT), CAST(MAX(id) AS TEXT) FROM outbox`)[0]
	if !dec(t, ob[2]).Sub(dec(t, ob[1])).Add(decimal.NewFromInt(1)).Equal(dec(t, ob[0])) {
		t.Errorf("outbox ids have gaps: %s rows, %s … %s", ob[0], ob[1], ob[2])
	}
	ties := must(t, q, `SELECT CAST(COUNT(*) AS TEXT) FROM (SELECT last_modified FROM inventory_movements GROUP BY last_modified HAVING COUNT(*) > 1) x`)
	if ties[0][0] == "0" {
		t.Error("no two movements share a last_modified")
	}
	t.Logf("%d movements replayed into %d balances; %d shipments with milestones", len(moves), len(bal), len(last))
}

func TestInvariantsSQLite(t *testing.T) {
	dir, _, _ := shared(t)
	checkInvariants(t, sqliteQuery(t, dir+"/wms.db"))
}
