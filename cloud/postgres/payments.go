package postgres

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// ListPayments lists an organization's payments matching f, newest first
// by (created_at, id), one page at a time; next is the cursor of the
// following page, empty on the last one.
func (s *Store) ListPayments(ctx context.Context, orgID string, f cloud.PaymentFilter, p cloud.Page) (payments []pantry.Payment, next string, err error) {
	sql, args, limit, err := paymentListQuery(orgID, f, p)
	if err != nil || sql == "" {
		return []pantry.Payment{}, "", err
	}
	err = s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, sql, args...)
		payments, err = pgx.CollectRows(rows, scanPayment)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list payments: %w", err)
	}
	if len(payments) > limit {
		last := payments[limit-1]
		payments, next = payments[:limit], encodeCursor(last.CreatedAt, last.ID)
	}
	return payments, next, nil
}

// paymentListQuery builds ListPayments' query; it is empty when f can
// match nothing. Payments have no site of their own: a site filter joins
// each payment's order.
func paymentListQuery(orgID string, f cloud.PaymentFilter, p cloud.Page) (sql string, args []any, limit int, err error) {
	limit, err = p.Size()
	if err != nil {
		return "", nil, 0, err
	}
	c, after, err := decodeCursor(p.Cursor)
	if err != nil {
		return "", nil, 0, err
	}
	var q query
	q.where("p.organization_id = " + q.arg(orgID))
	from := "payments p"
	none, err := q.sites("o.site_id", f.SiteIDs, f.SiteID)
	if err != nil {
		return "", nil, 0, err
	}
	if len(q.conds) > 1 {
		from += " JOIN orders o ON o.organization_id = p.organization_id AND o.id = p.order_id"
	}
	switch pantry.PaymentMethod(f.Method) {
	case "":
	case pantry.PayComplimentary, pantry.PayCostCenter:
		q.where("p.method = " + q.arg(f.Method))
	default:
		return "", nil, 0, pantry.Errorf(pantry.EINVALID, "method must be %q or %q", pantry.PayComplimentary, pantry.PayCostCenter)
	}
	if err := q.timeRange("p.created_at", f.From, f.To); err != nil {
		return "", nil, 0, err
	}
	if after {
		q.where("(p.created_at, p.id) < (" + q.arg(c.T) + ", " + q.arg(c.ID) + "::uuid)")
	}
	if none {
		return "", nil, limit, nil
	}
	sql = `SELECT p.id, p.order_id, p.method, p.amount, p.discount, p.currency, p.coupon_code, p.cost_center, p.created_at
		FROM ` + from + " WHERE " + q.clause() + " ORDER BY p.created_at DESC, p.id DESC LIMIT " + strconv.Itoa(limit+1)
	return sql, q.args, limit, nil
}

func scanPayment(row pgx.CollectableRow) (pantry.Payment, error) {
	var p pantry.Payment
	err := row.Scan(&p.ID, &p.OrderID, &p.Method, &p.Amount.Amount, &p.Discount.Amount, &p.Amount.Currency,
		&p.Coupon, &p.CostCenter, &p.CreatedAt)
	p.Discount.Currency, p.CreatedAt = p.Amount.Currency, p.CreatedAt.UTC()
	return p, err
}
