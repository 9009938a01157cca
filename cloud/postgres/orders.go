package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// Orders, their lines, payments and status history are the edges' data
// (DESIGN.md, "Data ownership"): the cloud stores what an edge decided and
// reads it back for the dashboard, it never re-decides it.

// openStatusSQL selects the orders still being worked on. It must stay
// word for word the predicate of the partial index orders_open in
// 0001_init.sql: PostgreSQL uses a partial index only when it can prove
// the query's condition implies the index's, and a literal list (not a
// parameter, which a generic plan cannot see) is what lets it.
const openStatusSQL = `o.status IN ('placed', 'accepted', 'preparing', 'ready')`

// ListOrders lists an organization's orders matching f, newest first by
// (created_at, id), one page at a time; next is the cursor of the
// following page, empty on the last one. Lines come in one extra query
// for the whole page.
func (s *Store) ListOrders(ctx context.Context, orgID string, f cloud.OrderFilter, p cloud.Page) (orders []pantry.Order, next string, err error) {
	sql, args, limit, err := orderListQuery(orgID, f, p)
	if err != nil || sql == "" {
		return []pantry.Order{}, "", err
	}
	err = s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, sql, args...)
		if orders, err = pgx.CollectRows(rows, scanOrder); err != nil {
			return fmt.Errorf("query orders: %w", err)
		}
		if len(orders) > limit {
			last := orders[limit-1]
			orders, next = orders[:limit], encodeCursor(last.CreatedAt, last.ID)
		}
		return loadLines(ctx, tx, orgID, orders)
	})
	if err != nil {
		return nil, "", fmt.Errorf("list orders: %w", err)
	}
	return orders, next, nil
}

// orderListQuery builds ListOrders' query and reports the page size; the
// query is empty when f can match nothing. A separate function so that
// tests and the benchmark can EXPLAIN exactly what ListOrders runs.
func orderListQuery(orgID string, f cloud.OrderFilter, p cloud.Page) (sql string, args []any, limit int, err error) {
	limit, err = p.Size()
	if err != nil {
		return "", nil, 0, err
	}
	c, after, err := decodeCursor(p.Cursor)
	if err != nil {
		return "", nil, 0, err
	}
	var q query
	org := q.arg(orgID)
	q.where("o.organization_id = " + org)
	none, err := q.sites("o.site_id", f.SiteIDs, f.SiteID)
	if err != nil {
		return "", nil, 0, err
	}
	if err := q.equalID("o.space_id", "space", f.SpaceID); err != nil {
		return "", nil, 0, err
	}
	switch {
	case f.Status == cloud.StatusOpen:
		q.where(openStatusSQL)
	case f.Status != "":
		if !pantry.OrderStatus(f.Status).Valid() {
			return "", nil, 0, pantry.Errorf(pantry.EINVALID, "status must be %q or one of placed, accepted, preparing, ready, delivered, cancelled", cloud.StatusOpen)
		}
		q.where("o.status = " + q.arg(f.Status))
	}
	if err := q.timeRange("o.created_at", f.From, f.To); err != nil {
		return "", nil, 0, err
	}
	if after {
		q.where("(o.created_at, o.id) < (" + q.arg(c.T) + ", " + q.arg(c.ID) + "::uuid)")
	}
	if none {
		return "", nil, limit, nil
	}
	// The page is taken from orders alone, and only its rows are joined
	// to their rooms. With the join around it, the planner joined every
	// order of the organization's rooms before sorting: it expects one
	// order per room (space_id has as many values as there are orders'
	// rooms over all tenants), so it thought the join yielded a hundred
	// rows. With 10,000 orders that was 8,648 buffers and 8 - 21 ms for
	// the unfiltered live orders page; taking the newest 51 first walks
	// orders_org_time backwards: 158 buffers, 0.3 ms. The rooms carry the
	// tenant's filter too, so that on Citus the join stays on the
	// organization's shard (a router query).
	sql = "SELECT " + orderColumns + " FROM (SELECT * FROM orders o WHERE " + q.clause() +
		" ORDER BY o.created_at DESC, o.id DESC LIMIT " + strconv.Itoa(limit+1) + ") o" + orderJoinSpaces +
		" WHERE sp.organization_id = " + org + " ORDER BY o.created_at DESC, o.id DESC"
	return sql, q.args, limit, nil
}

// GetOrder returns one order with its lines and status history. An order
// of another organization is ENOTFOUND, like one that does not exist or
// a malformed id: the answer says nothing about other tenants' ids.
func (s *Store) GetOrder(ctx context.Context, orgID, id string) (cloud.OrderDetail, error) {
	if !pantry.ValidID(id) {
		return cloud.OrderDetail{}, pantry.Errorf(pantry.ENOTFOUND, "order %q not found", id)
	}
	var d cloud.OrderDetail
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, orderSelect+" WHERE o.organization_id = $1 AND o.id = $2", orgID, id)
		o, err := pgx.CollectExactlyOneRow(rows, scanOrder)
		if errors.Is(err, pgx.ErrNoRows) {
			return pantry.Errorf(pantry.ENOTFOUND, "order %s not found", id)
		} else if err != nil {
			return fmt.Errorf("query order: %w", err)
		}
		orders := []pantry.Order{o}
		if err := loadLines(ctx, tx, orgID, orders); err != nil {
			return err
		}
		d.Order = orders[0]
		// The edge node that took it: the one whose push stored it (none
		// for orders stored otherwise, as seeds and imports are).
		if err := tx.QueryRow(ctx, `SELECT COALESCE(n.id::text, ''), COALESCE(n.name, '') FROM orders o
			LEFT JOIN edge_nodes n ON n.organization_id = o.organization_id AND n.id = o.node_id
			WHERE o.organization_id = $1 AND o.id = $2`, orgID, id).Scan(&d.NodeID, &d.NodeName); err != nil {
			return fmt.Errorf("query order's node: %w", err)
		}
		d.History, err = loadHistory(ctx, tx, orgID, id)
		return err
	})
	if err != nil {
		return cloud.OrderDetail{}, fmt.Errorf("get order: %w", err)
	}
	return d, nil
}

// orderColumns are what scanOrder reads, from orders o joined to their
// rooms sp (orderJoinSpaces).
const orderColumns = `o.id, o.site_id, o.space_id, sp.name, o.session_id, o.status, o.note, o.deliver_to,
	o.subtotal, o.discount, o.total, o.currency, o.coupon_code, o.cost_center, o.payment_method,
	o.catalog_revision, o.cancel_reason, o.created_at, o.updated_at, o.deliver_by`

const orderJoinSpaces = ` JOIN spaces sp ON sp.organization_id = o.organization_id AND sp.id = o.space_id`

const orderSelect = `SELECT ` + orderColumns + ` FROM orders o` + orderJoinSpaces

func scanOrder(row pgx.CollectableRow) (pantry.Order, error) {
	var o pantry.Order
	var session *string
	err := row.Scan(&o.ID, &o.SiteID, &o.SpaceID, &o.SpaceName, &session, &o.Status, &o.Note, &o.DeliverTo,
		&o.Subtotal.Amount, &o.Discount.Amount, &o.Total.Amount, &o.Subtotal.Currency, &o.Coupon, &o.CostCenter,
		&o.Payment, &o.CatalogRev, &o.CancelReason, &o.CreatedAt, &o.UpdatedAt, &o.DeliverBy)
	if session != nil {
		o.SessionID = *session
	}
	o.Discount.Currency, o.Total.Currency = o.Subtotal.Currency, o.Subtotal.Currency
	o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	if o.DeliverBy != nil {
		at := o.DeliverBy.UTC()
		o.DeliverBy = &at
	}
	o.Lines = []pantry.OrderLine{}
	return o, err
}

// loadLines fills in the lines of orders with one query.
func loadLines(ctx context.Context, tx pgx.Tx, orgID string, orders []pantry.Order) error {
	if len(orders) == 0 {
		return nil
	}
	byID := make(map[string]*pantry.Order, len(orders))
	ids := make([]string, len(orders))
	for i := range orders {
		byID[orders[i].ID], ids[i] = &orders[i], orders[i].ID
	}
	rows, _ := tx.Query(ctx, `SELECT order_id, item_id, name, quantity, unit_price, line_total, note
		FROM order_lines WHERE organization_id = $1 AND order_id = ANY($2::uuid[]) ORDER BY order_id, line_no`, orgID, ids)
	var orderID string
	var l pantry.OrderLine
	_, err := pgx.ForEachRow(rows, []any{&orderID, &l.ItemID, &l.Name, &l.Quantity, &l.UnitPrice.Amount, &l.LineTotal.Amount, &l.Note}, func() error {
		o := byID[orderID]
		l.UnitPrice.Currency, l.LineTotal.Currency = o.Total.Currency, o.Total.Currency
		o.Lines = append(o.Lines, l)
		return nil
	})
	if err != nil {
		return fmt.Errorf("query order lines: %w", err)
	}
	return nil
}

func loadHistory(ctx context.Context, tx pgx.Tx, orgID, orderID string) ([]cloud.StatusChange, error) {
	rows, _ := tx.Query(ctx, `SELECT id, from_status, to_status, reason, actor, at FROM order_status_history
		WHERE organization_id = $1 AND order_id = $2 ORDER BY at, id`, orgID, orderID)
	h, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (cloud.StatusChange, error) {
		var c cloud.StatusChange
		err := row.Scan(&c.ID, &c.From, &c.To, &c.Reason, &c.Actor, &c.At)
		c.At = c.At.UTC()
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("query status history: %w", err)
	}
	return h, nil
}

// query builds a WHERE clause and its arguments together, numbering each
// placeholder as its value is added. Only placeholders and fixed SQL ever
// go into the text: values never do.
type query struct {
	conds []string
	args  []any
}

// arg adds v as the next argument and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

func (q *query) where(cond string) { q.conds = append(q.conds, cond) }

func (q *query) clause() string { return strings.Join(q.conds, " AND ") }

// equalID adds col = id when id is set, refusing a malformed id.
func (q *query) equalID(col, what, id string) error {
	if id == "" {
		return nil
	}
	if !pantry.ValidID(id) {
		return pantry.Errorf(pantry.EINVALID, "%s id %q is not a UUID", what, id)
	}
	q.where(col + " = " + q.arg(id) + "::uuid")
	return nil
}

// sites restricts col to the sites a caller may see (nil: all) and to one
// site (""; any). none reports a restriction that nothing can pass.
func (q *query) sites(col string, allowed []string, site string) (none bool, err error) {
	for _, id := range allowed {
		if !pantry.ValidID(id) {
			return false, pantry.Errorf(pantry.EINVALID, "site id %q is not a UUID", id)
		}
	}
	if len(allowed) > 0 {
		q.where(col + " = ANY(" + q.arg(allowed) + "::uuid[])")
	}
	return allowed != nil && len(allowed) == 0, q.equalID(col, "site", site)
}

// timeRange adds from <= col < to for the bounds that are set.
func (q *query) timeRange(col string, from, to time.Time) error {
	if !from.IsZero() && !to.IsZero() && from.After(to) {
		return pantry.Errorf(pantry.EINVALID, "from (%s) is after to (%s)", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	if !from.IsZero() {
		q.where(col + " >= " + q.arg(from))
	}
	if !to.IsZero() {
		q.where(col + " < " + q.arg(to))
	}
	return nil
}

// InsertOrders stores orders as the edge that took them sends them: each
// with its lines, its payment (one per order, from the order's payment
// fields) and its status history, and adds them to the daily rollup that
// reports read, in one transaction and five set-based statements whatever
// the number of orders. nodeID is the edge node that
// took them ("" for none); it must belong to each order's site.
//
// The history is the path to the order's status, pantry.PathTo's (placed,
// then each step up to delivered, or placed then cancelled), its first step at
// CreatedAt and its last at UpdatedAt. An order whose id is already stored
// is ECONFLICT and nothing of the batch is written: replication applies
// each event exactly once, so a duplicate here is a bug to surface.
func (s *Store) InsertOrders(ctx context.Context, orgID string, orders []pantry.Order, nodeID string) error {
	if len(orders) == 0 {
		return nil
	}
	if nodeID != "" && !pantry.ValidID(nodeID) {
		return pantry.Errorf(pantry.EINVALID, "node id %q is not a UUID", nodeID)
	}
	b, err := newOrderBatch(orders, nil)
	if err != nil {
		return err
	}
	if err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error { return b.insert(ctx, tx, orgID, nodeID) }); err != nil {
		return fmt.Errorf("insert orders: %w", err)
	}
	return nil
}

// orderBatch holds a batch of orders column by column, the shape unnest
// turns back into rows on the server.
type orderBatch struct {
	id, site, space, session, status, note, deliver, currency, coupon, costCenter, method, cancel []string
	subtotal, discount, total, rev, units                                                         []int64
	created, updated                                                                              []time.Time
	deliverBy                                                                                     []*time.Time // nil: as soon as possible

	line struct {
		order, item, name, note []string
		no, qty                 []int32
		unit, total             []int64
	}
	payment struct{ id []string }
	history struct {
		id, order, from, to, reason []string
		at                          []time.Time
	}

	// newID names the payments and history steps the batch makes, given
	// the time they happened.
	newID func(at time.Time) string
}

// newOrderBatch checks orders and lays them out in columns; newID names
// the rows the batch makes (nil: pantry.NewID).
func newOrderBatch(orders []pantry.Order, newID func(at time.Time) string) (*orderBatch, error) {
	if newID == nil {
		newID = func(time.Time) string { return pantry.NewID() }
	}
	b := &orderBatch{newID: newID}
	for i, o := range orders {
		if err := checkStoredOrder(o); err != nil {
			return nil, fmt.Errorf("order %d (%s): %w", i+1, o.ID, err)
		}
		b.add(o)
	}
	return b, nil
}

// checkStoredOrder checks what the schema cannot say clearly. The edge
// has validated and priced the order; this only keeps a malformed one
// from failing the batch with a database error nobody can read.
func checkStoredOrder(o pantry.Order) error {
	for _, id := range []string{o.ID, o.SiteID, o.SpaceID} {
		if !pantry.ValidID(id) {
			return pantry.Errorf(pantry.EINVALID, "id %q is not a UUID", id)
		}
	}
	if o.SessionID != "" && !pantry.ValidID(o.SessionID) {
		return pantry.Errorf(pantry.EINVALID, "session id %q is not a UUID", o.SessionID)
	}
	if pantry.PathTo(o.Status) == nil {
		return pantry.Errorf(pantry.EINVALID, "unknown status %q", o.Status)
	}
	if o.CreatedAt.IsZero() {
		return pantry.Errorf(pantry.EINVALID, "created_at is missing")
	}
	for _, m := range []pantry.Money{o.Subtotal, o.Discount, o.Total} {
		if err := m.Validate(); err != nil {
			return err
		}
		if m.Currency != o.Total.Currency {
			return pantry.Errorf(pantry.EINVALID, "amounts in %s and %s", m.Currency, o.Total.Currency)
		}
	}
	for _, l := range o.Lines {
		if !pantry.ValidID(l.ItemID) {
			return pantry.Errorf(pantry.EINVALID, "item id %q is not a UUID", l.ItemID)
		}
		if l.Quantity < 1 || l.Quantity > math.MaxInt32 {
			return pantry.Errorf(pantry.EINVALID, "quantity %d is out of range", l.Quantity)
		}
	}
	return nil
}

func (b *orderBatch) add(o pantry.Order) {
	updated := b.addOrder(o)
	b.payment.id = append(b.payment.id, b.newID(o.CreatedAt))
	b.addHistory(o, updated)
}

// addPlaced adds o as an order.placed event brings it (sync_push.go): the
// order, its lines and the first step of its history (from no status to
// o's, at CreatedAt, named historyID). Its payment and later steps come
// as events of their own: nothing is made up for them here.
func (b *orderBatch) addPlaced(o pantry.Order, historyID string) {
	b.addOrder(o)
	h := &b.history
	h.id, h.order, h.from, h.to = append(h.id, historyID), append(h.order, o.ID), append(h.from, ""), append(h.to, string(o.Status))
	h.reason, h.at = append(h.reason, ""), append(h.at, o.CreatedAt)
}

// addOrder lays out o and its lines and returns its last update time
// (CreatedAt if UpdatedAt is unset).
func (b *orderBatch) addOrder(o pantry.Order) time.Time {
	updated := o.UpdatedAt
	if updated.IsZero() {
		updated = o.CreatedAt
	}
	b.id, b.site, b.space, b.session = append(b.id, o.ID), append(b.site, o.SiteID), append(b.space, o.SpaceID), append(b.session, o.SessionID)
	b.status, b.note, b.deliver = append(b.status, string(o.Status)), append(b.note, o.Note), append(b.deliver, string(o.DeliverTo))
	b.currency, b.coupon, b.costCenter = append(b.currency, o.Total.Currency), append(b.coupon, o.Coupon), append(b.costCenter, o.CostCenter)
	b.method, b.cancel, b.rev = append(b.method, string(o.Payment)), append(b.cancel, o.CancelReason), append(b.rev, o.CatalogRev)
	b.subtotal, b.discount, b.total = append(b.subtotal, o.Subtotal.Amount), append(b.discount, o.Discount.Amount), append(b.total, o.Total.Amount)
	b.created, b.updated, b.deliverBy = append(b.created, o.CreatedAt), append(b.updated, updated), append(b.deliverBy, o.DeliverBy)
	var units int64
	for _, l := range o.Lines {
		units += int64(l.Quantity)
	}
	b.units = append(b.units, units)
	for n, l := range o.Lines {
		ln := &b.line
		ln.order, ln.item, ln.name, ln.note = append(ln.order, o.ID), append(ln.item, l.ItemID), append(ln.name, l.Name), append(ln.note, l.Note)
		ln.no, ln.qty = append(ln.no, int32(n+1)), append(ln.qty, int32(l.Quantity))
		ln.unit, ln.total = append(ln.unit, l.UnitPrice.Amount), append(ln.total, l.LineTotal.Amount)
	}
	return updated
}

// addHistory adds the steps of o's lifecycle, spread evenly from its
// creation to its last update.
func (b *orderBatch) addHistory(o pantry.Order, updated time.Time) {
	path, h := pantry.PathTo(o.Status), &b.history
	span := updated.Sub(o.CreatedAt)
	from := ""
	for i, to := range path {
		at := o.CreatedAt
		if i > 0 {
			at = o.CreatedAt.Add(span * time.Duration(i) / time.Duration(len(path)-1))
		}
		reason := ""
		if to == pantry.StatusCancelled {
			reason = o.CancelReason
		}
		h.id, h.order, h.from, h.to = append(h.id, b.newID(at)), append(h.order, o.ID), append(h.from, from), append(h.to, string(to))
		h.reason, h.at = append(h.reason, reason), append(h.at, at)
		from = string(to)
	}
}

const insertOrdersSQL = `INSERT INTO orders (organization_id, id, site_id, space_id, session_id, node_id, status, note, deliver_to,
	subtotal, discount, total, currency, coupon_code, cost_center, payment_method, catalog_revision, cancel_reason, created_at, updated_at, units,
	deliver_by)
	SELECT g.id, t.id, t.site_id, t.space_id, NULLIF(t.session_id, '')::uuid, $2::uuid, t.status, t.note, t.deliver_to,
		t.subtotal, t.discount, t.total, t.currency, t.coupon, t.cost_center, t.method, t.rev, t.cancel, t.created, t.updated, t.units,
		t.deliver_by
	FROM organizations g, unnest($3::uuid[], $4::uuid[], $5::uuid[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[],
		$12::bigint[], $13::text[], $14::text[], $15::text[], $16::text[], $17::bigint[], $18::text[], $19::timestamptz[], $20::timestamptz[],
		$21::bigint[], $22::timestamptz[])
	AS t(id, site_id, space_id, session_id, status, note, deliver_to, subtotal, discount, total, currency, coupon, cost_center,
		method, rev, cancel, created, updated, units, deliver_by)
	WHERE g.id = $1`

const insertLinesSQL = `INSERT INTO order_lines (organization_id, order_id, line_no, item_id, name, quantity, unit_price, line_total, note)
	SELECT g.id, t.* FROM organizations g, unnest($2::uuid[], $3::int[], $4::uuid[], $5::text[], $6::int[], $7::bigint[], $8::bigint[], $9::text[]) AS t
	WHERE g.id = $1`

// The payment is the order's: its total, discount, coupon and cost
// center, made when the order was.
const insertPaymentsSQL = `INSERT INTO payments (organization_id, id, order_id, method, amount, discount, currency, coupon_code, cost_center, created_at)
	SELECT g.id, t.pid, t.id, t.method, t.total, t.discount, t.currency, t.coupon, t.cost_center, t.created
	FROM organizations g, unnest($2::uuid[], $3::uuid[], $4::text[], $5::bigint[], $6::bigint[], $7::text[], $8::text[], $9::text[], $10::timestamptz[])
	AS t(pid, id, method, total, discount, currency, coupon, cost_center, created)
	WHERE g.id = $1`

const insertHistorySQL = `INSERT INTO order_status_history (organization_id, id, order_id, from_status, to_status, reason, at)
	SELECT g.id, t.* FROM organizations g, unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::timestamptz[]) AS t
	WHERE g.id = $1`

// upsertOrderDaysSQL adds the batch's orders to the daily rollup
// (0004_order_days.sql): one row per site, local day and currency. Rows
// are written in key order, so that two batches touching the same days
// cannot deadlock.
const upsertOrderDaysSQL = `INSERT INTO order_days AS d (organization_id, day, site_id, currency, orders, units, spend, discount, first_at, last_at)
	SELECT s.organization_id, (t.created AT TIME ZONE s.timezone)::date, t.site_id, t.currency,
		count(*), sum(t.units), sum(t.total), sum(t.discount), min(t.created), max(t.created)
	FROM unnest($2::uuid[], $3::timestamptz[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::text[])
		AS t(site_id, created, currency, units, total, discount, status)
	JOIN sites s ON s.organization_id = $1 AND s.id = t.site_id
	WHERE t.status <> 'cancelled'
	GROUP BY 1, 2, 3, 4
	ORDER BY 2, 3, 4
	ON CONFLICT (organization_id, day, site_id, currency) DO UPDATE SET
		orders = d.orders + excluded.orders, units = d.units + excluded.units,
		spend = d.spend + excluded.spend, discount = d.discount + excluded.discount,
		first_at = least(d.first_at, excluded.first_at), last_at = greatest(d.last_at, excluded.last_at)`

// rebuildOrderDays recomputes a site's rows of the daily rollup from its
// orders: after its timezone changes, every order may fall on another day.
func rebuildOrderDays(ctx context.Context, tx pgx.Tx, orgID, siteID string) error {
	var batch pgx.Batch
	batch.Queue(`DELETE FROM order_days WHERE organization_id = $1 AND site_id = $2`, orgID, siteID)
	batch.Queue(`INSERT INTO order_days (organization_id, day, site_id, currency, orders, units, spend, discount, first_at, last_at)
		SELECT o.organization_id, (o.created_at AT TIME ZONE s.timezone)::date, o.site_id, o.currency,
			count(*), sum(o.units), sum(o.total), sum(o.discount), min(o.created_at), max(o.created_at)
		FROM orders o JOIN sites s ON s.organization_id = o.organization_id AND s.id = o.site_id
		WHERE o.organization_id = $1 AND o.site_id = $2 AND o.status <> 'cancelled'
		GROUP BY 1, 2, 3, 4`, orgID, siteID)
	if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
		return fmt.Errorf("rebuild daily order totals of site %s: %w", siteID, err)
	}
	return nil
}

// insert sends the five statements, and the order feed's notifications
// of the new orders, in one round trip.
func (b *orderBatch) insert(ctx context.Context, tx pgx.Tx, orgID, nodeID string) error {
	var node any
	if nodeID != "" {
		node = nodeID
	}
	var batch pgx.Batch
	b.queue(&batch, orgID, node)
	ids, created := orderNotes(b.id, nil)
	batch.Queue(notifyOrdersSQL, orgID, ids, created)
	if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
		return err
	}
	return nil
}

// queue adds the batch's statements to batch, in dependency order:
// orders, lines, payments (when the batch made any), history, and the
// daily rollup. node is the edge node's id, or nil.
func (b *orderBatch) queue(batch *pgx.Batch, orgID string, node any) {
	batch.Queue(insertOrdersSQL, orgID, node, b.id, b.site, b.space, b.session, b.status, b.note, b.deliver,
		b.subtotal, b.discount, b.total, b.currency, b.coupon, b.costCenter, b.method, b.rev, b.cancel, b.created, b.updated, b.units,
		b.deliverBy)
	l := &b.line
	batch.Queue(insertLinesSQL, orgID, l.order, l.no, l.item, l.name, l.qty, l.unit, l.total, l.note)
	if len(b.payment.id) > 0 {
		batch.Queue(insertPaymentsSQL, orgID, b.payment.id, b.id, b.method, b.total, b.discount, b.currency, b.coupon, b.costCenter, b.created)
	}
	h := &b.history
	batch.Queue(insertHistorySQL, orgID, h.id, h.order, h.from, h.to, h.reason, h.at)
	batch.Queue(upsertOrderDaysSQL, orgID, b.site, b.created, b.currency, b.units, b.total, b.discount, b.status)
}
