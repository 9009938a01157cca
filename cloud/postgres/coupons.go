package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

const couponColumns = `id, code, kind, value, valid_from, valid_to, max_uses_per_site, created_at, archived_at`

func scanCoupon(row pgx.Row) (cloud.Coupon, error) {
	var c cloud.Coupon
	err := row.Scan(&c.ID, &c.Code, &c.Kind, &c.Value, &c.ValidFrom, &c.ValidTo, &c.MaxUsesPerSite, &c.CreatedAt, &c.ArchivedAt)
	c.ValidFrom, c.ValidTo = c.ValidFrom.UTC(), c.ValidTo.UTC()
	return c, err
}

// CreateCoupon creates a coupon. A code already used in the organization,
// in any case, is ECONFLICT.
func (s *Store) CreateCoupon(ctx context.Context, orgID string, who cloud.Actor, in cloud.CouponInput) (cloud.Coupon, error) {
	if err := in.Normalize(); err != nil {
		return cloud.Coupon{}, err
	}
	var c cloud.Coupon
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		if err := bumpCatalogRevision(ctx, tx, orgID, ""); err != nil {
			return err
		}
		var err error
		c, err = scanCoupon(tx.QueryRow(ctx, `INSERT INTO coupons (organization_id, id, code, kind, value, valid_from, valid_to, max_uses_per_site)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING `+couponColumns,
			orgID, pantry.NewID(), in.Code, in.Kind, in.Value, in.ValidFrom, in.ValidTo, in.MaxUsesPerSite))
		if err != nil {
			return fmt.Errorf("insert coupon: %w", err)
		}
		return audit(ctx, tx, orgID, who, "coupon.create", "coupon", c.ID, nil, c)
	})
	if err != nil {
		return cloud.Coupon{}, fmt.Errorf("create coupon: %w", err)
	}
	return c, nil
}

// GetCoupon returns one coupon.
func (s *Store) GetCoupon(ctx context.Context, orgID, couponID string) (cloud.Coupon, error) {
	if err := checkPathID("coupon", couponID); err != nil {
		return cloud.Coupon{}, err
	}
	var c cloud.Coupon
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		c, err = getCoupon(ctx, tx, orgID, couponID, false)
		return err
	})
	return c, err
}

// ListCoupons returns a page of the organization's coupons, newest first.
func (s *Store) ListCoupons(ctx context.Context, orgID string, p cloud.Page) ([]cloud.Coupon, string, error) {
	var coupons []cloud.Coupon
	var next string
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		coupons, next, err = newestFirst(ctx, tx, p, `SELECT `+couponColumns+` FROM coupons WHERE organization_id = $1`,
			[]any{orgID}, scanCoupon, func(c cloud.Coupon) (time.Time, string) { return c.CreatedAt, c.ID })
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list coupons: %w", err)
	}
	return coupons, next, nil
}

// UpdateCoupon changes the fields of a coupon that up sets.
func (s *Store) UpdateCoupon(ctx context.Context, orgID string, who cloud.Actor, couponID string, up cloud.CouponUpdate) (cloud.Coupon, error) {
	if err := checkPathID("coupon", couponID); err != nil {
		return cloud.Coupon{}, err
	}
	// Each field's own checks now, before any database work; the checks
	// across fields again once the coupon is merged with the stored one.
	if err := up.Check(); err != nil {
		return cloud.Coupon{}, err
	}
	var after cloud.Coupon
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		if err := bumpCatalogRevision(ctx, tx, orgID, ""); err != nil {
			return err
		}
		before, err := getCoupon(ctx, tx, orgID, couponID, true)
		if err != nil {
			return err
		}
		in := cloud.CouponInput{Code: before.Code, Kind: before.Kind, Value: before.Value,
			ValidFrom: before.ValidFrom, ValidTo: before.ValidTo, MaxUsesPerSite: before.MaxUsesPerSite}
		if err := up.Patch(&in); err != nil {
			return err
		}
		after, err = scanCoupon(tx.QueryRow(ctx, `UPDATE coupons SET code = $3, kind = $4, value = $5, valid_from = $6, valid_to = $7,
			max_uses_per_site = $8, archived_at = `+archivedAtSQL("$9")+`
			WHERE organization_id = $1 AND id = $2 RETURNING `+couponColumns,
			orgID, couponID, in.Code, in.Kind, in.Value, in.ValidFrom, in.ValidTo, in.MaxUsesPerSite, up.Archived))
		if err != nil {
			return fmt.Errorf("update coupon: %w", err)
		}
		return audit(ctx, tx, orgID, who, "coupon.update", "coupon", couponID, before, after)
	})
	if err != nil {
		return cloud.Coupon{}, fmt.Errorf("update coupon %s: %w", couponID, err)
	}
	return after, nil
}

func getCoupon(ctx context.Context, tx pgx.Tx, orgID, couponID string, forUpdate bool) (cloud.Coupon, error) {
	query := `SELECT ` + couponColumns + ` FROM coupons WHERE organization_id = $1 AND id = $2`
	if forUpdate {
		query += ` FOR NO KEY UPDATE`
	}
	c, err := scanCoupon(tx.QueryRow(ctx, query, orgID, couponID))
	return c, notFound(err, "coupon", couponID)
}
