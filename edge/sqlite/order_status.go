package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// SetOrderStatus moves an order along its lifecycle. Cancelling needs a
// reason and returns the order's stock to the ledger.
func (s *Store) SetOrderStatus(ctx context.Context, id string, to pantry.OrderStatus, reason, actor string) (OrderResult, error) {
	if !to.Valid() {
		return OrderResult{}, pantry.Errorf(pantry.EINVALID, "unknown status %q", to)
	}
	if err := pantry.CheckText("reason", reason, pantry.MaxReasonLength); err != nil {
		return OrderResult{}, err
	}
	if to == pantry.StatusCancelled && strings.TrimSpace(reason) == "" {
		return OrderResult{}, pantry.Errorf(pantry.EINVALID, "cancelling an order needs a reason")
	}
	var res OrderResult
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		o, err := loadOrder(ctx, tx, id)
		if err != nil {
			return err
		}
		if !pantry.CanTransition(o.Status, to) {
			return pantry.Errorf(pantry.EINVALIDTRANSITION, "an order that is %s cannot become %s", o.Status, to)
		}
		res, err = s.transition(ctx, tx, o, to, reason, actor)
		return err
	})
	if err != nil {
		return OrderResult{}, fmt.Errorf("set order status: %w", err)
	}
	return res, nil
}

// OrderActionResult is the answer to a tablet's action on an order: the
// order as the action left it and the stock it moved (a cancellation
// returns the order's stock). Replayed says the action had been seen
// already: the answer is the first one, nothing was done again, and there
// is nothing new to announce.
type OrderActionResult struct {
	OrderResult
	Replayed bool
}

// ApplyOrderAction carries out a tablet's tap on an order, once. The order
// moves only if it is still in the status the tablet saw (act.From);
// otherwise the answer is a conflict naming who moved it, so two tablets
// bumping one ticket move it once. The answer, refusals of that kind
// included, is kept under act.ActionID for ActionTTL: the same tap again
// (a double tap, a retry after a lost answer) gets it back with Replayed
// set, and err is the first answer's refusal if it was one.
func (s *Store) ApplyOrderAction(ctx context.Context, orderID string, act pantry.OrderAction, by Tablet) (OrderActionResult, error) {
	if err := act.Validate(); err != nil {
		return OrderActionResult{}, err
	}
	key := actionKey{id: act.ActionID, tabletID: by.ID, kind: string(act.Action), target: orderID,
		request: [2]string{string(act.From), act.Reason}}
	var fresh OrderResult
	out, replayed, err := s.onceWrite(ctx, key, func(ctx context.Context, tx *wtx) (actionOutcome, error) {
		var err error
		fresh, err = s.orderAction(ctx, tx, orderID, act, by.Username)
		return orderOutcome(fresh.Order), err
	})
	if err != nil {
		return OrderActionResult{}, fmt.Errorf("%s order %s: %w", act.Action, orderID, err)
	}
	res := OrderActionResult{Replayed: replayed}
	if err := out.refused(); err != nil {
		return res, err
	}
	if replayed {
		res.Order = out.order()
		return res, nil
	}
	res.OrderResult = fresh
	return res, nil
}

// orderAction moves the order as act asks, in tx, if it is still in
// act.From.
func (s *Store) orderAction(ctx context.Context, tx *wtx, orderID string, act pantry.OrderAction, actor string) (OrderResult, error) {
	o, err := loadOrder(ctx, tx, orderID)
	if err != nil {
		return OrderResult{}, err
	}
	if o.Status != act.From {
		return OrderResult{}, movedConflict(ctx, tx, o, act.From)
	}
	to := act.To()
	if act.Action == pantry.ActionRecall {
		if err := s.checkRecall(ctx, tx, o); err != nil {
			return OrderResult{}, err
		}
	} else if !pantry.CanTransition(o.Status, to) {
		return OrderResult{}, pantry.Errorf(pantry.EINVALIDTRANSITION, "an order that is %s cannot become %s", o.Status, to)
	}
	return s.transition(ctx, tx, o, to, act.Reason, actor)
}

// statusStep is one row of an order's status history.
type statusStep struct {
	from, to pantry.OrderStatus
	actor    string
	at       time.Time
}

// lastStep returns the order's latest status change. Latest is by rowid,
// the order rows were written in (history rows are never deleted, so
// rowids only grow), not by time: the edge's clock may step back, and a
// test clock stands still.
func lastStep(ctx context.Context, q querier, orderID string) (statusStep, bool, error) {
	var st statusStep
	var at int64
	err := q.QueryRowContext(ctx, `SELECT from_status, to_status, actor, at FROM order_status_history
		WHERE order_id = ? ORDER BY rowid DESC LIMIT 1`, orderID).Scan(&st.from, &st.to, &st.actor, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return st, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("load last status change: %w", err)
	}
	st.at = fromNanos(at)
	return st, true, nil
}

// movedConflict is the answer to a tablet that saw order o in status saw
// when it is no longer in it: who moved it, and to what, so the person
// at the tablet knows the ticket is handled ("already accepted by tablet
// pantry-2").
func movedConflict(ctx context.Context, tx *wtx, o pantry.Order, saw pantry.OrderStatus) error {
	st, ok, err := lastStep(ctx, tx, o.ID)
	if err != nil {
		return err
	}
	if !ok || st.to != o.Status {
		return pantry.Errorf(pantry.ECONFLICT, "the order is %s, not %s", o.Status, saw)
	}
	if pantry.CanRecall(st.from, st.to) {
		return pantry.Errorf(pantry.ECONFLICT, "%s", st.describe())
	}
	return pantry.Errorf(pantry.ECONFLICT, "already %s", st.describe())
}

// describe says what a step did and who did it, as a tablet shows it
// ("accepted by tablet pantry-2").
func (st statusStep) describe() string {
	what := map[pantry.OrderStatus]string{
		pantry.StatusAccepted: "accepted", pantry.StatusPreparing: "moved to preparing", pantry.StatusReady: "marked ready",
		pantry.StatusDelivered: "delivered", pantry.StatusCancelled: "cancelled",
	}[st.to]
	if pantry.CanRecall(st.from, st.to) {
		what = "moved back to " + string(st.to)
	}
	if st.actor == "" {
		return what
	}
	return what + " by tablet " + st.actor
}

// checkRecall allows a recall of order o only if its latest change was an
// advance (not a cancellation, not another recall) made within
// pantry.RecallWindow, by any tablet: a tablet is a shared screen, and
// whoever notices a ticket bumped by mistake may bring it back; the
// history records who did.
func (s *Store) checkRecall(ctx context.Context, tx *wtx, o pantry.Order) error {
	st, ok, err := lastStep(ctx, tx, o.ID)
	if err != nil {
		return err
	}
	if !ok || st.to != o.Status || !pantry.CanRecall(st.to, st.from) {
		return pantry.Errorf(pantry.ECONFLICT, "nothing to recall: the order's last change was not an advance")
	}
	// A negative age is a clock that stepped back since: the advance is
	// still the latest change, so it may be recalled.
	if age := s.now().Sub(st.at); age > pantry.RecallWindow {
		return pantry.Errorf(pantry.ECONFLICT, "too late to recall: %s %d s ago; a recall works within %d s",
			st.describe(), int(age.Seconds()), int(pantry.RecallWindow.Seconds()))
	}
	return nil
}

func (s *Store) transition(ctx context.Context, tx *wtx, o pantry.Order, to pantry.OrderStatus, reason, actor string) (OrderResult, error) {
	now := s.now().UTC()
	from := o.Status
	o.Status, o.UpdatedAt = to, now
	if to == pantry.StatusCancelled {
		o.CancelReason = reason
	}
	if _, err := tx.ExecContext(ctx, `UPDATE orders SET status = ?, cancel_reason = ?, updated_at = ? WHERE id = ?`,
		string(to), o.CancelReason, now.UnixNano(), o.ID); err != nil {
		return OrderResult{}, fmt.Errorf("update order: %w", err)
	}
	change := statusChanged(pantry.NewID(), o.ID, from, to, reason, actor, now)
	if _, err := tx.ExecContext(ctx, `INSERT INTO order_status_history (id, order_id, from_status, to_status, reason, actor, at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, change.ID, o.ID, string(from), string(to), reason, actor, now.UnixNano()); err != nil {
		return OrderResult{}, fmt.Errorf("insert status history: %w", err)
	}
	if err := appendEvent(ctx, s, tx, syncproto.EventOrderStatusChanged, o.ID, change); err != nil {
		return OrderResult{}, err
	}
	res := OrderResult{Order: o}
	if to != pantry.StatusCancelled {
		return res, nil
	}
	for _, l := range o.Lines {
		ch, err := s.moveStock(ctx, tx, l.ItemID, int64(l.Quantity), pantry.StockReturn, o.ID, actor)
		if err != nil {
			return OrderResult{}, err
		}
		res.Stock = append(res.Stock, ch)
	}
	return res, nil
}

// Order returns one order with its lines.
func (s *Store) Order(ctx context.Context, id string) (pantry.Order, error) {
	return loadOrder(ctx, s.r, id)
}

// OrderFilter selects orders for the staff queue.
type OrderFilter struct {
	// Status is a status, or "open" for every status still being worked on.
	Status    string
	SessionID string
	Limit     int
}

// Orders lists orders oldest first.
func (s *Store) Orders(ctx context.Context, f OrderFilter) ([]pantry.Order, error) {
	var where []string
	var args []any
	switch {
	case f.Status == "open":
		where = append(where, `o.status IN ('placed', 'accepted', 'preparing', 'ready')`)
	case f.Status != "":
		if !pantry.OrderStatus(f.Status).Valid() {
			return nil, pantry.Errorf(pantry.EINVALID, "unknown status %q", f.Status)
		}
		where, args = append(where, `o.status = ?`), append(args, f.Status)
	}
	if f.SessionID != "" {
		where, args = append(where, `o.session_id = ?`), append(args, f.SessionID)
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 1000
	}
	cond := "1 = 1"
	if len(where) > 0 {
		cond = strings.Join(where, " AND ")
	}
	return loadOrders(ctx, s.r, cond, args, f.Limit)
}

const orderColumns = `o.id, sp.site_id, o.space_id, sp.name, o.session_id, o.status, o.note, o.deliver_to,
	o.subtotal, o.discount, o.total, o.currency, o.coupon_code, o.cost_center, o.payment_method,
	o.catalog_rev, o.cancel_reason, o.created_at, o.updated_at, o.deliver_by`

func scanOrder(sc interface{ Scan(...any) error }) (pantry.Order, error) {
	var o pantry.Order
	var created, updated int64
	var deliverBy sql.NullInt64
	err := sc.Scan(&o.ID, &o.SiteID, &o.SpaceID, &o.SpaceName, &o.SessionID, &o.Status, &o.Note, &o.DeliverTo,
		&o.Subtotal.Amount, &o.Discount.Amount, &o.Total.Amount, &o.Total.Currency, &o.Coupon, &o.CostCenter,
		&o.Payment, &o.CatalogRev, &o.CancelReason, &created, &updated, &deliverBy)
	o.Subtotal.Currency, o.Discount.Currency = o.Total.Currency, o.Total.Currency
	o.CreatedAt, o.UpdatedAt = fromNanos(created), fromNanos(updated)
	if deliverBy.Valid {
		t := fromNanos(deliverBy.Int64)
		o.DeliverBy = &t
	}
	return o, err
}

func loadOrder(ctx context.Context, q querier, id string) (pantry.Order, error) {
	orders, err := loadOrders(ctx, q, "o.id = ?", []any{id}, 1)
	if err != nil {
		return pantry.Order{}, err
	}
	if len(orders) == 0 {
		return pantry.Order{}, pantry.Errorf(pantry.ENOTFOUND, "order %s not found", id)
	}
	return orders[0], nil
}

// loadOrders loads the orders matching cond, oldest first, and their lines
// in a second query rather than one per order.
func loadOrders(ctx context.Context, q querier, cond string, args []any, limit int) ([]pantry.Order, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+orderColumns+` FROM orders o JOIN spaces sp ON sp.id = o.space_id
		WHERE `+cond+` ORDER BY o.created_at, o.id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("load orders: %w", err)
	}
	out := []pantry.Order{}
	index := map[string]int{}
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("load orders: %w", err)
		}
		index[o.ID] = len(out)
		out = append(out, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load orders: %w", err)
	}
	if len(out) == 0 {
		return out, nil
	}
	return out, loadLines(ctx, q, out, index)
}

func loadLines(ctx context.Context, q querier, orders []pantry.Order, index map[string]int) error {
	ids := make([]any, 0, len(orders))
	for _, o := range orders {
		ids = append(ids, o.ID)
	}
	rows, err := q.QueryContext(ctx, `SELECT order_id, item_id, name, quantity, unit_price, line_total, note, station, tags, allergens
		FROM order_lines WHERE order_id IN (SELECT value FROM json_each(?)) ORDER BY order_id, line_no`, jsonArray(ids))
	if err != nil {
		return fmt.Errorf("load order lines: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var orderID, tags, allergens string
		var l pantry.OrderLine
		if err := rows.Scan(&orderID, &l.ItemID, &l.Name, &l.Quantity, &l.UnitPrice.Amount, &l.LineTotal.Amount, &l.Note, &l.Station, &tags, &allergens); err != nil {
			return fmt.Errorf("load order lines: %w", err)
		}
		if l.Tags, l.Allergens, err = decodeLabels(tags, allergens); err != nil {
			return fmt.Errorf("load order lines: order %s %w", orderID, err)
		}
		i, ok := index[orderID]
		if !ok {
			return errors.New("load order lines: line of an unknown order")
		}
		l.UnitPrice.Currency, l.LineTotal.Currency = orders[i].Total.Currency, orders[i].Total.Currency
		orders[i].Lines = append(orders[i].Lines, l)
	}
	return rows.Err()
}
