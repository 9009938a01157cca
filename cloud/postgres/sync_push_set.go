package postgres

// The set-based half of a push's writes (pushTx.Write): decoded events
// laid out per table, and the statements that write them.

import (
	"cmp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// eventSet is a set of decoded events laid out column by column, one
// group per table: the shape unnest turns back into rows.
type eventSet struct {
	orders   orderBatch
	placed   map[string]int // an order placed in the set: its index in orders
	sessions struct {
		id, space        []string
		created, expires []time.Time
	}
	payments struct {
		id, order, method, currency, coupon, costCenter []string
		amount, discount                                []int64
		created                                         []time.Time
	}
	redemptions struct {
		id, coupon, order []string
		discount          []int64
		at                []time.Time
	}
	stock struct {
		id, item, reason, order, actor []string
		delta                          []int64
		created                        []time.Time
	}
	// steps are every status change, for the history; finals the status
	// each order placed before the set ends it in, for its row (an order
	// placed in the set is written in its final status).
	steps struct {
		id, order, from, to, reason, actor []string
		at                                 []time.Time
	}
	finals   lastByKey[statusFinal]
	expiries lastByKey[time.Time]
	avail    lastByKey[*syncproto.ItemAvailability]
}

// statusFinal is where a set's status changes take one order: from the
// first change's from to the last change's to.
type statusFinal struct {
	from, to, reason string
	at               time.Time
}

// lastByKey keeps the last value put for each key, keys in the order
// they first came.
type lastByKey[T any] struct {
	keys  []string
	vals  []T
	index map[string]int
}

func (l *lastByKey[T]) get(key string) (v T, ok bool) {
	i, ok := l.index[key]
	if ok {
		v = l.vals[i]
	}
	return v, ok
}

func (l *lastByKey[T]) put(key string, v T) {
	if i, ok := l.index[key]; ok {
		l.vals[i] = v
		return
	}
	if l.index == nil {
		l.index = map[string]int{}
	}
	l.index[key] = len(l.keys)
	l.keys, l.vals = append(l.keys, key), append(l.vals, v)
}

// newEventSet lays out decoded events, in seq order.
func newEventSet(events []cloud.PushEvent) (*eventSet, error) {
	set := &eventSet{}
	for _, e := range events {
		if err := set.add(e); err != nil {
			return nil, err
		}
	}
	return set, nil
}

func (set *eventSet) add(e cloud.PushEvent) error {
	switch p := e.Decoded.(type) {
	case *syncproto.OrderPlaced:
		if set.placed == nil {
			set.placed = map[string]int{}
		}
		set.placed[strings.ToLower(p.ID)] = len(set.orders.id)
		set.orders.addPlaced(placedOrder(p), historyID(e.ID))
	case *syncproto.StatusChanged:
		return set.addChange(p)
	case *syncproto.PaymentRecorded:
		set.addPayment(p)
	case *syncproto.CouponRedeemed:
		r := &set.redemptions
		r.id, r.coupon, r.order = append(r.id, p.ID), append(r.coupon, p.CouponID), append(r.order, p.OrderID)
		r.discount, r.at = append(r.discount, p.Discount.Amount), append(r.at, p.At)
	case *syncproto.StockMovement:
		m := &set.stock
		m.id, m.item, m.reason = append(m.id, p.ID), append(m.item, p.ItemID), append(m.reason, p.Reason)
		m.order, m.actor = append(m.order, p.OrderID), append(m.actor, p.Actor)
		m.delta, m.created = append(m.delta, p.Delta), append(m.created, p.CreatedAt)
	case *syncproto.Session:
		if e.Type == syncproto.EventSessionExpired {
			set.expiries.put(strings.ToLower(p.ID), expiredAt(e.Event, p))
			return nil
		}
		ss := &set.sessions
		ss.id, ss.space = append(ss.id, p.ID), append(ss.space, p.SpaceID)
		ss.created, ss.expires = append(ss.created, p.CreatedAt), append(ss.expires, p.ExpiresAt)
	case *syncproto.ItemAvailability:
		set.avail.put(strings.ToLower(p.ItemID), p)
	default:
		return refusef("this cloud does not apply %s events", e.Type)
	}
	return nil
}

// addChange records a status change in the history and in its order's
// final status: the order's own row if it was placed in the set (so that
// the order is written once, in its final status, and a cancelled one
// never enters the rollup), else its entry in finals. A change that does
// not start where the order's previous change in the set left it fails
// the set: applied one by one, the database tells which is at fault.
func (set *eventSet) addChange(c *syncproto.StatusChanged) error {
	h := &set.steps
	h.id, h.order, h.from, h.to = append(h.id, c.ID), append(h.order, c.OrderID), append(h.from, c.From), append(h.to, c.To)
	h.reason, h.actor, h.at = append(h.reason, c.Reason), append(h.actor, c.Actor), append(h.at, c.At)
	key := strings.ToLower(c.OrderID)
	if i, ok := set.placed[key]; ok {
		o := &set.orders
		if o.status[i] != c.From {
			return refusef("order %s changes from %s, but it is %s", c.OrderID, c.From, o.status[i])
		}
		o.status[i], o.updated[i] = c.To, c.At
		if c.To == string(pantry.StatusCancelled) {
			o.cancel[i] = c.Reason
		}
		return nil
	}
	f, ok := set.finals.get(key)
	switch {
	case !ok:
		f = statusFinal{from: c.From}
	case f.to != c.From:
		return refusef("order %s changes from %s, but its previous change left it %s", c.OrderID, c.From, f.to)
	}
	f.to, f.reason, f.at = c.To, c.Reason, c.At
	set.finals.put(key, f)
	return nil
}

func (set *eventSet) addPayment(p *syncproto.PaymentRecorded) {
	ps := &set.payments
	ps.id, ps.order, ps.method, ps.currency = append(ps.id, p.ID), append(ps.order, p.OrderID), append(ps.method, p.Method), append(ps.currency, p.Amount.Currency)
	ps.coupon, ps.costCenter = append(ps.coupon, p.Coupon), append(ps.costCenter, p.CostCenter)
	ps.amount, ps.discount, ps.created = append(ps.amount, p.Amount.Amount), append(ps.discount, p.Discount.Amount), append(ps.created, p.CreatedAt)
}

// placedOrder is the order an order.placed event carries, priced as the
// edge priced it (sync invariant 7).
func placedOrder(p *syncproto.OrderPlaced) pantry.Order {
	m := func(m syncproto.Money) pantry.Money { return pantry.Money{Amount: m.Amount, Currency: m.Currency} }
	o := pantry.Order{
		ID: p.ID, SiteID: p.SiteID, SpaceID: p.SpaceID, SessionID: p.SessionID, Status: pantry.OrderStatus(p.Status),
		Note: p.Note, DeliverTo: pantry.Delivery(p.DeliverTo), Subtotal: m(p.Subtotal), Discount: m(p.Discount), Total: m(p.Total),
		Coupon: p.Coupon, CostCenter: p.CostCenter, Payment: pantry.PaymentMethod(p.Payment), CatalogRev: p.CatalogRev,
		CancelReason: p.CancelReason, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, DeliverBy: p.DeliverBy,
		Lines: make([]pantry.OrderLine, len(p.Lines)),
	}
	for i, l := range p.Lines {
		o.Lines[i] = pantry.OrderLine{ItemID: l.ItemID, Name: l.Name, Quantity: int(l.Quantity),
			UnitPrice: m(l.UnitPrice), LineTotal: m(l.LineTotal), Note: l.Note}
	}
	return o
}

// historyID names an order's first history step after the event that
// placed it: applying the event again (a re-applied dead letter) names it
// the same.
func historyID(eventID string) string {
	if pantry.ValidID(eventID) {
		return eventID
	}
	return pantry.NewID()
}

// expiredAt is when the edge recorded a session's end: the event's time,
// or the session's expiry if the event has none.
func expiredAt(e syncproto.Event, s *syncproto.Session) time.Time {
	if e.CreatedAt.IsZero() {
		return s.ExpiresAt
	}
	return e.CreatedAt
}

// queue adds the set's statements to b in dependency order: sessions,
// orders (with lines, first history step and daily rollup), payments,
// coupon redemptions, stock movements, status changes, session expiries,
// and availability. A statement runs only if the set has rows for it. $1
// is the organization in every statement, and $2 the node's site. The
// order feed's notifications are the caller's (writeEvents).
func (set *eventSet) queue(b *pgx.Batch, node cloud.Node) {
	org, site := node.OrgID, node.SiteID
	if ss := &set.sessions; len(ss.id) > 0 {
		b.Queue(insertSessionsSQL, org, site, ss.id, ss.space, ss.created, ss.expires)
	}
	if len(set.orders.id) > 0 {
		set.orders.queue(b, org, node.ID)
	}
	if ps := &set.payments; len(ps.id) > 0 {
		b.Queue(insertPushedPaymentsSQL, org, site, ps.id, ps.order, ps.method, ps.amount, ps.discount, ps.currency, ps.coupon, ps.costCenter, ps.created).
			Exec(wantRows(len(ps.id), "order %s of payment %s does not exist at this node's site", ps.order[0], ps.id[0]))
	}
	if r := &set.redemptions; len(r.id) > 0 {
		b.Queue(insertRedemptionsSQL, org, site, r.id, r.coupon, r.order, r.discount, r.at).
			Exec(wantRows(len(r.id), "order %s of coupon redemption %s does not exist at this node's site", r.order[0], r.id[0]))
	}
	if m := &set.stock; len(m.id) > 0 {
		b.Queue(insertEdgeStockSQL, org, site, m.id, m.item, m.delta, m.reason, m.order, m.actor, m.created)
	}
	if len(set.steps.id) > 0 {
		set.queueChanges(b, org, site)
	}
	if x := &set.expiries; len(x.keys) > 0 {
		b.Queue(expireSessionsSQL, org, site, x.keys, x.vals).
			Exec(wantRows(len(x.keys), "session %s does not exist at this node's site", x.keys[0]))
	}
	if a := &set.avail; len(a.keys) > 0 {
		avail, at := make([]bool, len(a.vals)), make([]time.Time, len(a.vals))
		for i, v := range a.vals {
			avail[i], at[i] = v.Available, v.At
		}
		b.Queue(edgeAvailabilitySQL, org, site, a.keys, avail, at)
	}
}

// queueChanges adds the history steps, then moves each order to its final
// status. An order missing at the site, or not in the status its first
// change starts from, fails the set.
func (set *eventSet) queueChanges(b *pgx.Batch, org, site string) {
	h := &set.steps
	b.Queue(insertStepsSQL, org, h.id, h.order, h.from, h.to, h.reason, h.actor, h.at)
	f := &set.finals
	if len(f.keys) == 0 {
		return
	}
	from, to, reason, at := make([]string, len(f.vals)), make([]string, len(f.vals)), make([]string, len(f.vals)), make([]time.Time, len(f.vals))
	for i, v := range f.vals {
		from[i], to[i], reason[i], at[i] = v.from, v.to, v.reason, v.at
	}
	b.Queue(finalStatusSQL, org, site, f.keys, from, to, reason, at).Query(func(rows pgx.Rows) error {
		var id, status string
		var refused error
		_, err := pgx.ForEachRow(rows, []any{&id, &status}, func() error {
			if refused == nil {
				want, _ := f.get(id)
				refused = refusef("order %s is %s at this node's site, not %s as its change says", id, status, want.from)
				if status == "" {
					refused = refusef("order %s does not exist at this node's site", id)
				}
			}
			return nil
		})
		return cmp.Or(err, refused)
	})
}

// wantRows fails a set unless its statement wrote want rows; the reason
// (format and args) is what it means for a set of one event.
func wantRows(want int, format string, args ...any) func(pgconn.CommandTag) error {
	return func(ct pgconn.CommandTag) error {
		if ct.RowsAffected() != int64(want) {
			return refusef(format, args...)
		}
		return nil
	}
}

const insertSessionsSQL = `INSERT INTO attendee_sessions (organization_id, id, site_id, space_id, created_at, expires_at)
	SELECT g.id, t.id, $2, t.space_id, t.created, t.expires
	FROM organizations g, unnest($3::uuid[], $4::uuid[], $5::timestamptz[], $6::timestamptz[]) AS t(id, space_id, created, expires)
	WHERE g.id = $1`

// Payments and redemptions name an order: it must be one of the site's.
// Every join to orders also says o.id = ANY(the ids): without it, the
// planner was seen hashing every order of the site to find a batch's
// thousand (a cost that grows with the site's history); with it, it
// probes the primary key.
const insertPushedPaymentsSQL = `INSERT INTO payments (organization_id, id, order_id, method, amount, discount, currency, coupon_code, cost_center, created_at)
	SELECT o.organization_id, t.id, t.order_id, t.method, t.amount, t.discount, t.currency, t.coupon, t.cost_center, t.created
	FROM unnest($3::uuid[], $4::uuid[], $5::text[], $6::bigint[], $7::bigint[], $8::text[], $9::text[], $10::text[], $11::timestamptz[])
		AS t(id, order_id, method, amount, discount, currency, coupon, cost_center, created)
	JOIN orders o ON o.organization_id = $1 AND o.id = ANY($4::uuid[]) AND o.id = t.order_id AND o.site_id = $2`

const insertRedemptionsSQL = `INSERT INTO coupon_redemptions (organization_id, id, site_id, coupon_id, order_id, discount, created_at)
	SELECT o.organization_id, t.id, $2, t.coupon_id, t.order_id, t.discount, t.at
	FROM unnest($3::uuid[], $4::uuid[], $5::uuid[], $6::bigint[], $7::timestamptz[]) AS t(id, coupon_id, order_id, discount, at)
	JOIN orders o ON o.organization_id = $1 AND o.id = ANY($5::uuid[]) AND o.id = t.order_id AND o.site_id = $2`

// Edge movements are not in the pull feed: feed_seq stays NULL (0005).
const insertEdgeStockSQL = `INSERT INTO stock_movements (organization_id, id, site_id, item_id, delta, reason, order_id, origin, actor, created_at)
	SELECT g.id, t.id, $2, t.item_id, t.delta, t.reason, NULLIF(t.order_id, '')::uuid, 'edge', t.actor, t.created
	FROM organizations g, unnest($3::uuid[], $4::uuid[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::timestamptz[])
		AS t(id, item_id, delta, reason, order_id, actor, created)
	WHERE g.id = $1`

const insertStepsSQL = `INSERT INTO order_status_history (organization_id, id, order_id, from_status, to_status, reason, actor, at)
	SELECT g.id, t.* FROM organizations g, unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[]) AS t
	WHERE g.id = $1`

// finalStatusSQL moves each order (of the site, in the status its first
// change starts from) to its final status, and takes the orders it
// cancels out of the daily rollup, deleting a day's row that no order is
// left in (as rebuildOrderDays would not make it). It returns the orders
// it could not move, with their status (empty if the site has no such
// order). The final SELECT reads the orders as they were before the
// UPDATE: every part of one statement sees the same snapshot.
const finalStatusSQL = `WITH t AS (
		SELECT * FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::timestamptz[]) AS t(id, from_status, to_status, reason, at)
	), changed AS (
		UPDATE orders o SET status = t.to_status, updated_at = t.at,
			cancel_reason = CASE WHEN t.to_status = 'cancelled' THEN t.reason ELSE o.cancel_reason END
		FROM t
		WHERE o.organization_id = $1 AND o.id = ANY($3::uuid[]) AND o.id = t.id AND o.site_id = $2 AND o.status = t.from_status
		RETURNING o.id, o.created_at, o.currency, o.units, o.total, o.discount, t.from_status, t.to_status
	), gone AS (
		SELECT (c.created_at AT TIME ZONE s.timezone)::date AS day, c.currency,
			count(*) AS orders, sum(c.units) AS units, sum(c.total) AS spend, sum(c.discount) AS discount
		FROM changed c JOIN sites s ON s.organization_id = $1 AND s.id = $2
		WHERE c.to_status = 'cancelled' AND c.from_status <> 'cancelled'
		GROUP BY 1, 2
	), kept AS (
		UPDATE order_days d SET orders = d.orders - g.orders, units = d.units - g.units,
			spend = d.spend - g.spend, discount = d.discount - g.discount
		FROM gone g
		WHERE d.organization_id = $1 AND d.day = g.day AND d.site_id = $2 AND d.currency = g.currency AND d.orders > g.orders
	), emptied AS (
		DELETE FROM order_days d USING gone g
		WHERE d.organization_id = $1 AND d.day = g.day AND d.site_id = $2 AND d.currency = g.currency AND d.orders <= g.orders
	)
	SELECT t.id::text, coalesce(o.status, '')
	FROM t LEFT JOIN orders o ON o.organization_id = $1 AND o.id = ANY($3::uuid[]) AND o.id = t.id AND o.site_id = $2
	WHERE t.id NOT IN (SELECT id FROM changed)`

const expireSessionsSQL = `UPDATE attendee_sessions a SET expired_at = t.at
	FROM unnest($3::uuid[], $4::timestamptz[]) AS t(id, at)
	WHERE a.organization_id = $1 AND a.id = ANY($3::uuid[]) AND a.id = t.id AND a.site_id = $2`

// The edge's word on availability is kept beside the menu, never over
// it; an older word (a re-applied dead letter) does not replace a newer
// one. An item the site's menu lacks has nothing to record.
const edgeAvailabilitySQL = `UPDATE site_menu_items m SET edge_available = t.available, edge_available_at = t.at
	FROM unnest($3::uuid[], $4::boolean[], $5::timestamptz[]) AS t(item_id, available, at)
	WHERE m.organization_id = $1 AND m.site_id = $2 AND m.item_id = t.item_id
		AND (m.edge_available_at IS NULL OR m.edge_available_at <= t.at)`
