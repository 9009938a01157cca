package sqlite_test

import (
	"pgregory.net/rapid"

	"github.com/pantry/pantry/edge/sqlite"
)

// check compares the store with the model and checks the invariants that
// hold whatever the model says.
func (h *harness) check(t *rapid.T) {
	h.checkStock(t)
	h.checkMenu(t)
	h.checkOrders(t)
	h.checkOutbox(t)
	h.checkEventsMatchRows(t)
}

// checkStock: each level equals the model, is never negative, and the
// cached level equals the ledger's sum.
func (h *harness) checkStock(t *rapid.T) {
	levels, err := h.s.StockLevels(h.ctx)
	if err != nil {
		t.Fatalf("stock levels: %v", err)
	}
	if got, want := len(levels), len(h.m.level); got != want {
		t.Fatalf("%d stock levels, want %d", got, want)
	}
	for _, l := range levels {
		if got, want := l.Level, h.m.level[l.ItemID]; got != want {
			t.Fatalf("%s: level=%d, want %d", l.Name, got, want)
		}
		if l.Level < 0 {
			t.Fatalf("%s: level=%d, below zero", l.Name, l.Level)
		}
	}
	bad, err := h.s.LedgerMismatches(h.ctx)
	if err != nil {
		t.Fatalf("ledger mismatches: %v", err)
	}
	if len(bad) > 0 {
		t.Fatalf("cached levels differ from the ledger for %v", bad)
	}
}

func (h *harness) checkMenu(t *rapid.T) {
	menu, err := h.s.Menu(h.ctx)
	if err != nil {
		t.Fatalf("menu: %v", err)
	}
	for _, it := range menu {
		if got, want := it.Available, h.m.orderable(it.ID); got != want {
			t.Fatalf("%s: available=%v, want %v (switched on %v, level %d)", it.Name, got, want, h.m.switchedOn[it.ID], h.m.level[it.ID])
		}
	}
}

// checkOrders: the store holds exactly the model's orders, in its statuses.
func (h *harness) checkOrders(t *rapid.T) {
	orders, err := h.s.Orders(h.ctx, sqlite.OrderFilter{})
	if err != nil {
		t.Fatalf("orders: %v", err)
	}
	if got, want := len(orders), len(h.m.orders); got != want {
		t.Fatalf("store has %d orders, want %d", got, want)
	}
	for _, o := range orders {
		mo, ok := h.m.orders[o.ID]
		if !ok {
			t.Fatalf("store has order %s the model never placed", o.ID)
		}
		if o.Status != mo.status || len(o.Lines) != len(mo.lines) {
			t.Fatalf("order %s: status=%s lines=%d, want %s and %d", o.ID, o.Status, len(o.Lines), mo.status, len(mo.lines))
		}
	}
}

// checkOutbox: seqs are 1..N without a gap, and the outbox holds exactly
// one event per successful state change of each kind.
func (h *harness) checkOutbox(t *rapid.T) {
	var n, lo, hi int64
	err := h.db.QueryRowContext(h.ctx, `SELECT COUNT(*), COALESCE(MIN(seq), 0), COALESCE(MAX(seq), 0) FROM outbox`).Scan(&n, &lo, &hi)
	if err != nil {
		t.Fatalf("outbox seqs: %v", err)
	}
	if n == 0 || lo != 1 || hi != n {
		t.Fatalf("outbox has %d events with seqs %d..%d, want 1..%d", n, lo, hi, n)
	}
	got := h.eventCounts(t)
	want := h.m.events()
	var total int64
	for typ, w := range want {
		if got[typ] != w {
			t.Fatalf("outbox has %d %s events, want %d (all: %v)", got[typ], typ, w, got)
		}
		total += w
	}
	if total != n {
		t.Fatalf("outbox has %d events, want %d (all: %v)", n, total, got)
	}
	if last := h.lastSeq(t); last != n {
		t.Fatalf("OutboxStats.LastSeq=%d, want %d", last, n)
	}
}

func (h *harness) eventCounts(t *rapid.T) map[string]int64 {
	rows, err := h.db.QueryContext(h.ctx, `SELECT type, COUNT(*) FROM outbox GROUP BY type`)
	if err != nil {
		t.Fatalf("count events: %v", err)
	}
	defer rows.Close()
	got := map[string]int64{}
	for rows.Next() {
		var typ string
		var n int64
		if err := rows.Scan(&typ, &n); err != nil {
			t.Fatalf("count events: %v", err)
		}
		got[typ] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("count events: %v", err)
	}
	return got
}

// eventRowChecks each list rows that break "no change without its event, no
// event without its change" (DESIGN.md, sync invariant 1). Events are
// counted per entity with GROUP BY and joined, rather than counted per row
// in a correlated subquery: outbox.entity_id has no index, and under -race
// the quadratic form made this test several times slower.
var eventRowChecks = []struct{ name, query string }{
	{"orders without exactly one order.placed event", `SELECT o.id FROM orders o
		LEFT JOIN (SELECT entity_id, COUNT(*) AS n FROM outbox WHERE type = 'order.placed' GROUP BY entity_id) e
		ON e.entity_id = o.id WHERE e.n IS NOT 1`},
	{"orders without exactly one payment.recorded event", `SELECT o.id FROM orders o
		LEFT JOIN (SELECT payload ->> '$.order_id' AS order_id, COUNT(*) AS n FROM outbox WHERE type = 'payment.recorded' GROUP BY 1) e
		ON e.order_id = o.id WHERE e.n IS NOT 1`},
	{"payment.recorded events without their payment", `SELECT e.seq FROM outbox e WHERE e.type = 'payment.recorded'
		AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.id = e.entity_id AND p.order_id = e.payload ->> '$.order_id')`},
	{"order.placed events without their order", `SELECT e.seq FROM outbox e WHERE e.type = 'order.placed'
		AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = e.entity_id)`},
	{"stock movements without exactly one stock.moved event", `SELECT m.id FROM stock_movements m
		LEFT JOIN (SELECT entity_id, COUNT(*) AS n FROM outbox WHERE type = 'stock.moved' GROUP BY entity_id) e
		ON e.entity_id = m.id WHERE e.n IS NOT 1`},
	{"stock.moved events that disagree with their movement", `SELECT e.seq FROM outbox e WHERE e.type = 'stock.moved'
		AND NOT EXISTS (SELECT 1 FROM stock_movements m WHERE m.id = e.entity_id
			AND m.item_id = e.payload ->> '$.item_id' AND m.delta = e.payload ->> '$.delta' AND m.reason = e.payload ->> '$.reason')`},
	{"status changes without their event", `SELECT COUNT(*) FROM order_status_history
		HAVING COUNT(*) != (SELECT COUNT(*) FROM outbox WHERE type = 'order.status_changed')`},
	{"coupon redemptions without exactly one coupon.redeemed event", `SELECT r.id FROM coupon_redemptions r
		LEFT JOIN (SELECT entity_id, COUNT(*) AS n FROM outbox WHERE type = 'coupon.redeemed' GROUP BY entity_id) e
		ON e.entity_id = r.id WHERE e.n IS NOT 1`},
	{"levels below zero", `SELECT item_id FROM stock_levels WHERE level < 0`},
}

func (h *harness) checkEventsMatchRows(t *rapid.T) {
	for _, c := range eventRowChecks {
		bad := h.queryStrings(t, c.query)
		if len(bad) > 0 {
			t.Fatalf("%s: %v", c.name, bad)
		}
	}
}

func (h *harness) queryStrings(t *rapid.T, query string) []string {
	rows, err := h.db.QueryContext(h.ctx, query)
	if err != nil {
		t.Fatalf("query %q: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("query %q: %v", query, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("query %q: %v", query, err)
	}
	return out
}
