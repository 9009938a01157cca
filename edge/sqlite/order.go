package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// OrderResult is an order after a write, with the stock levels the write
// moved so the caller can announce them.
type OrderResult struct {
	Order pantry.Order
	// Created is false when an Idempotency-Key replay returned the order
	// placed by the first request.
	Created bool
	Stock   []StockChange
}

// OrderLimit caps how many orders one session may place in a window: a
// printed QR code must not become a phantom-order machine. Max 0 disables.
type OrderLimit struct {
	Max    int
	Window time.Duration
}

// PlaceOrder prices and places an attendee's order, all or nothing: the
// order, its lines, one sale movement per line, the payment, the coupon
// redemption and their outbox events commit together or not at all.
func (s *Store) PlaceOrder(ctx context.Context, sess pantry.Session, key string, req pantry.PlaceOrder, limit OrderLimit) (OrderResult, error) {
	if err := req.Validate(); err != nil {
		return OrderResult{}, err
	}
	if len(key) > pantry.MaxIdempotency {
		return OrderResult{}, pantry.Errorf(pantry.EINVALID, "Idempotency-Key is longer than %d bytes", pantry.MaxIdempotency)
	}
	canonical, err := json.Marshal(req)
	if err != nil {
		return OrderResult{}, fmt.Errorf("place order: %w", err)
	}
	hash := sha256.Sum256(canonical)
	var res OrderResult
	err = s.write(ctx, func(ctx context.Context, tx *wtx) error {
		res = OrderResult{}
		if key != "" {
			replayed, err := s.replay(ctx, tx, sess.ID, key, hash[:])
			if err != nil || replayed != nil {
				if replayed != nil {
					res.Order = *replayed
				}
				return err
			}
		}
		// After the replay: a retry of an order placed for 14:30 gets
		// its order back even once 14:30 has passed.
		if err := req.CheckDeliverBy(s.now()); err != nil {
			return err
		}
		if err := checkOrderLimit(ctx, tx, sess.ID, limit, s.now()); err != nil {
			return err
		}
		var err error
		res, err = s.placeOrder(ctx, tx, sess, req)
		if err != nil || key == "" {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO idempotency_keys (session_id, key, request_hash, order_id) VALUES (?, ?, ?, ?)`,
			sess.ID, key, hash[:], res.Order.ID)
		return err
	})
	if err != nil {
		return OrderResult{}, fmt.Errorf("place order: %w", err)
	}
	return res, nil
}

// replay returns the order an earlier request with the same key placed, or
// nil if the key is new. The same key with a different body is a conflict.
func (s *Store) replay(ctx context.Context, tx *wtx, sessionID, key string, hash []byte) (*pantry.Order, error) {
	var orderID string
	var stored []byte
	err := tx.QueryRowContext(ctx, `SELECT order_id, request_hash FROM idempotency_keys WHERE session_id = ? AND key = ?`,
		sessionID, key).Scan(&orderID, &stored)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if string(stored) != string(hash) {
		return nil, pantry.Errorf(pantry.ECONFLICT, "this Idempotency-Key was used for a different order")
	}
	o, err := loadOrder(ctx, tx, orderID)
	return &o, err
}

func checkOrderLimit(ctx context.Context, tx *wtx, sessionID string, limit OrderLimit, now time.Time) error {
	if limit.Max <= 0 {
		return nil
	}
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM orders WHERE session_id = ? AND created_at > ?`,
		sessionID, now.Add(-limit.Window).UnixNano()).Scan(&n)
	if err != nil {
		return err
	}
	if n >= limit.Max {
		return pantry.Errorf(pantry.ERATELIMITED, "this room session has placed %d orders recently; please ask the pantry staff", n)
	}
	return nil
}

func (s *Store) placeOrder(ctx context.Context, tx *wtx, sess pantry.Session, req pantry.PlaceOrder) (OrderResult, error) {
	now := s.now().UTC()
	o := pantry.Order{
		ID: pantry.NewID(), SiteID: sess.SiteID, SpaceID: sess.SpaceID, SpaceName: sess.SpaceName,
		SessionID: sess.ID, Status: pantry.StatusPlaced, Note: req.Note, DeliverTo: req.DeliverTo,
		DeliverBy: req.DeliverBy, CreatedAt: now, UpdatedAt: now, Payment: pantry.PayComplimentary,
	}
	var err error
	if o.CatalogRev, err = catalogRevision(ctx, tx); err != nil {
		return OrderResult{}, err
	}
	if err := priceLines(ctx, tx, &o, req.Lines); err != nil {
		return OrderResult{}, err
	}
	coupon, err := applyCoupon(ctx, tx, &o, req.Coupon, now)
	if err != nil {
		return OrderResult{}, err
	}
	if err := chargeCostCenter(ctx, tx, &o, req.CostCenter); err != nil {
		return OrderResult{}, err
	}
	if err := insertOrder(ctx, tx, o); err != nil {
		return OrderResult{}, err
	}
	res := OrderResult{Order: o, Created: true}
	for _, l := range o.Lines {
		ch, err := s.moveStock(ctx, tx, l.ItemID, -int64(l.Quantity), pantry.StockSale, o.ID, "")
		if err != nil {
			return OrderResult{}, err
		}
		res.Stock = append(res.Stock, ch)
	}
	if err := appendEvent(ctx, s, tx, syncproto.EventOrderPlaced, o.ID, orderPlaced(o)); err != nil {
		return OrderResult{}, err
	}
	if err := s.recordPayment(ctx, tx, o); err != nil {
		return OrderResult{}, err
	}
	if coupon != nil {
		if err := s.redeemCoupon(ctx, tx, *coupon, o); err != nil {
			return OrderResult{}, err
		}
	}
	return res, nil
}

// priceLines prices each line at the item's current price, checks that
// the ledger covers it, and copies the item's station, tags and
// allergens into it for the ticket (pantry.OrderLine).
func priceLines(ctx context.Context, tx *wtx, o *pantry.Order, lines []pantry.LineRequest) error {
	currency := ""
	for i, l := range lines {
		it, err := itemByID(ctx, tx, l.ItemID)
		if pantry.ErrorCode(err) == pantry.ENOTFOUND {
			return pantry.Errorf(pantry.EINVALID, "line %d: item %s is not on the menu", i+1, l.ItemID)
		}
		if err != nil {
			return err
		}
		if !it.Available && it.Level > 0 {
			return pantry.Errorf(pantry.EOUTOFSTOCK, "%s is not available right now", it.Name)
		}
		if it.Level < int64(l.Quantity) {
			return pantry.Errorf(pantry.EOUTOFSTOCK, "only %d %s left", max(it.Level, 0), it.Name)
		}
		if currency != "" && it.Price.Currency != currency {
			return pantry.Errorf(pantry.EINVALID, "items in one order must share a currency")
		}
		currency = it.Price.Currency
		total := it.Price.Amount * int64(l.Quantity)
		o.Lines = append(o.Lines, pantry.OrderLine{
			ItemID: it.ID, Name: it.Name, Quantity: l.Quantity, Note: l.Note,
			UnitPrice: it.Price, LineTotal: pantry.Money{Amount: total, Currency: currency},
			Station: it.Station, Tags: it.Tags, Allergens: it.Allergens,
		})
		o.Subtotal.Amount += total
	}
	o.Subtotal.Currency = currency
	o.Discount = pantry.Money{Currency: currency}
	o.Total = o.Subtotal
	return nil
}

func applyCoupon(ctx context.Context, tx *wtx, o *pantry.Order, code string, now time.Time) (*pantry.Coupon, error) {
	if code == "" {
		return nil, nil
	}
	var c pantry.Coupon
	var from, to, used int64
	err := tx.QueryRowContext(ctx, `SELECT c.id, c.code, c.kind, c.value, c.valid_from, c.valid_to, c.max_uses,
		(SELECT COUNT(*) FROM coupon_redemptions r JOIN orders o ON o.id = r.order_id
		 WHERE r.coupon_id = c.id AND o.status != 'cancelled')
		FROM coupons c WHERE c.code = ? AND c.archived_at IS NULL`, code).Scan(&c.ID, &c.Code, &c.Kind, &c.Value, &from, &to, &c.MaxUses, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, pantry.Errorf(pantry.EINVALID, "coupon %q does not exist", code)
	}
	if err != nil {
		return nil, err
	}
	c.ValidFrom, c.ValidTo = fromNanos(from), fromNanos(to)
	if !c.ActiveAt(now) {
		return nil, pantry.Errorf(pantry.EINVALID, "coupon %q is not valid now", c.Code)
	}
	if c.MaxUses > 0 && used >= c.MaxUses {
		return nil, pantry.Errorf(pantry.EINVALID, "coupon %q has been used up", c.Code)
	}
	o.Coupon = c.Code
	o.Discount.Amount = c.Discount(o.Subtotal.Amount)
	o.Total.Amount = o.Subtotal.Amount - o.Discount.Amount
	return &c, nil
}

func chargeCostCenter(ctx context.Context, tx *wtx, o *pantry.Order, code string) error {
	if code == "" {
		return nil
	}
	var canonical string
	err := tx.QueryRowContext(ctx, `SELECT code FROM cost_centers WHERE code = ?`, code).Scan(&canonical)
	if errors.Is(err, sql.ErrNoRows) {
		return pantry.Errorf(pantry.EINVALID, "cost center %q does not exist", code)
	}
	if err != nil {
		return err
	}
	o.CostCenter, o.Payment = canonical, pantry.PayCostCenter
	return nil
}

func insertOrder(ctx context.Context, tx *wtx, o pantry.Order) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO orders (id, session_id, space_id, status, note, deliver_to,
		subtotal, discount, total, currency, coupon_code, cost_center, payment_method, catalog_rev, created_at, updated_at, deliver_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		o.ID, o.SessionID, o.SpaceID, string(o.Status), o.Note, string(o.DeliverTo),
		o.Subtotal.Amount, o.Discount.Amount, o.Total.Amount, o.Total.Currency, o.Coupon, o.CostCenter,
		string(o.Payment), o.CatalogRev, o.CreatedAt.UnixNano(), o.UpdatedAt.UnixNano(), nullNanos(o.DeliverBy))
	if err != nil {
		return fmt.Errorf("insert order: %w", err)
	}
	for i, l := range o.Lines {
		if err := insertLine(ctx, tx, o.ID, i+1, l); err != nil {
			return err
		}
	}
	return nil
}

// insertLine writes line number n of order orderID, with its snapshot of
// the item's station and labels.
func insertLine(ctx context.Context, tx *wtx, orderID string, n int, l pantry.OrderLine) error {
	tags, allergens := encodeLabels(l.Tags, l.Allergens)
	if _, err := tx.ExecContext(ctx, `INSERT INTO order_lines (order_id, line_no, item_id, name, quantity, unit_price, line_total, note,
		station, tags, allergens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		orderID, n, l.ItemID, l.Name, l.Quantity, l.UnitPrice.Amount, l.LineTotal.Amount, l.Note, l.Station, tags, allergens); err != nil {
		return fmt.Errorf("insert order line %d: %w", n, err)
	}
	return nil
}

func (s *Store) recordPayment(ctx context.Context, tx *wtx, o pantry.Order) error {
	p := pantry.Payment{
		ID: pantry.NewID(), OrderID: o.ID, Method: o.Payment, Amount: o.Total, Discount: o.Discount,
		Coupon: o.Coupon, CostCenter: o.CostCenter, CreatedAt: o.CreatedAt,
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO payments (id, order_id, method, amount, discount, currency, coupon_code, cost_center, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, p.ID, p.OrderID, string(p.Method), p.Amount.Amount, p.Discount.Amount,
		p.Amount.Currency, p.Coupon, p.CostCenter, p.CreatedAt.UnixNano()); err != nil {
		return fmt.Errorf("insert payment: %w", err)
	}
	return appendEvent(ctx, s, tx, syncproto.EventPaymentRecorded, p.ID, paymentRecorded(p))
}

func (s *Store) redeemCoupon(ctx context.Context, tx *wtx, c pantry.Coupon, o pantry.Order) error {
	id := pantry.NewID()
	if _, err := tx.ExecContext(ctx, `INSERT INTO coupon_redemptions (id, coupon_id, order_id, discount, created_at) VALUES (?, ?, ?, ?, ?)`,
		id, c.ID, o.ID, o.Discount.Amount, o.CreatedAt.UnixNano()); err != nil {
		return fmt.Errorf("insert coupon redemption: %w", err)
	}
	return appendEvent(ctx, s, tx, syncproto.EventCouponRedeemed, id, couponRedeemed(id, c, o))
}
