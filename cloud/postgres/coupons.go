package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/internal/pantry"
)

// Coupon is a discount code of the organization, valid at every site.
type Coupon struct {
	ID   string            `json:"id"`
	Code string            `json:"code"`
	Kind pantry.CouponKind `json:"kind"`
	// Value is a percentage (1-100) for a percent coupon, an amount in
	// minor units of the site's currency for a fixed one.
	Value     int64     `json:"value"`
	ValidFrom time.Time `json:"valid_from"`
	ValidTo   time.Time `json:"valid_to"`
	// MaxUsesPerSite limits redemptions at each site; 0 is unlimited.
	MaxUsesPerSite int64      `json:"max_uses_per_site"`
	CreatedAt      time.Time  `json:"created_at"`
	ArchivedAt     *time.Time `json:"archived_at,omitempty"`
}

// CouponInput creates a coupon.
type CouponInput struct {
	Code           string // unique in the organization, compared without regard to case
	Kind           pantry.CouponKind
	Value          int64
	ValidFrom      time.Time
	ValidTo        time.Time // after ValidFrom
	MaxUsesPerSite int64
}

// CouponUpdate changes a coupon; nil fields stay as they are. The result
// must be a valid coupon as a whole (e.g. a new ValidTo after the kept
// ValidFrom).
type CouponUpdate struct {
	Code           *string
	Kind           *pantry.CouponKind
	Value          *int64
	ValidFrom      *time.Time
	ValidTo        *time.Time
	MaxUsesPerSite *int64
	Archived       *bool
}

// MaxCouponUses bounds a coupon's per-site limit.
const MaxCouponUses = 1_000_000

const couponColumns = `id, code, kind, value, valid_from, valid_to, max_uses_per_site, created_at, archived_at`

func scanCoupon(row pgx.Row) (Coupon, error) {
	var c Coupon
	err := row.Scan(&c.ID, &c.Code, &c.Kind, &c.Value, &c.ValidFrom, &c.ValidTo, &c.MaxUsesPerSite, &c.CreatedAt, &c.ArchivedAt)
	c.ValidFrom, c.ValidTo = c.ValidFrom.UTC(), c.ValidTo.UTC()
	return c, err
}

// CreateCoupon creates a coupon. A code already used in the organization,
// in any case, is ECONFLICT.
func (s *Store) CreateCoupon(ctx context.Context, orgID string, who Actor, in CouponInput) (Coupon, error) {
	if err := in.normalize(); err != nil {
		return Coupon{}, err
	}
	var c Coupon
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
		return Coupon{}, fmt.Errorf("create coupon: %w", err)
	}
	return c, nil
}

// GetCoupon returns one coupon.
func (s *Store) GetCoupon(ctx context.Context, orgID, couponID string) (Coupon, error) {
	if err := checkPathID("coupon", couponID); err != nil {
		return Coupon{}, err
	}
	var c Coupon
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		c, err = getCoupon(ctx, tx, orgID, couponID, false)
		return err
	})
	return c, err
}

// ListCoupons returns a page of the organization's coupons, newest first.
func (s *Store) ListCoupons(ctx context.Context, orgID string, p Page) ([]Coupon, string, error) {
	var coupons []Coupon
	var next string
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		coupons, next, err = newestFirst(ctx, tx, p, `SELECT `+couponColumns+` FROM coupons WHERE organization_id = $1`,
			[]any{orgID}, scanCoupon, func(c Coupon) (time.Time, string) { return c.CreatedAt, c.ID })
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list coupons: %w", err)
	}
	return coupons, next, nil
}

// UpdateCoupon changes the fields of a coupon that up sets.
func (s *Store) UpdateCoupon(ctx context.Context, orgID string, who Actor, couponID string, up CouponUpdate) (Coupon, error) {
	if err := checkPathID("coupon", couponID); err != nil {
		return Coupon{}, err
	}
	// Each field's own checks now, before any database work; the checks
	// across fields again once the coupon is merged with the stored one.
	if err := up.check(); err != nil {
		return Coupon{}, err
	}
	var after Coupon
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		if err := bumpCatalogRevision(ctx, tx, orgID, ""); err != nil {
			return err
		}
		before, err := getCoupon(ctx, tx, orgID, couponID, true)
		if err != nil {
			return err
		}
		in := CouponInput{Code: before.Code, Kind: before.Kind, Value: before.Value,
			ValidFrom: before.ValidFrom, ValidTo: before.ValidTo, MaxUsesPerSite: before.MaxUsesPerSite}
		if err := up.patch(&in); err != nil {
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
		return Coupon{}, fmt.Errorf("update coupon %s: %w", couponID, err)
	}
	return after, nil
}

func getCoupon(ctx context.Context, tx pgx.Tx, orgID, couponID string, forUpdate bool) (Coupon, error) {
	query := `SELECT ` + couponColumns + ` FROM coupons WHERE organization_id = $1 AND id = $2`
	if forUpdate {
		query += ` FOR NO KEY UPDATE`
	}
	c, err := scanCoupon(tx.QueryRow(ctx, query, orgID, couponID))
	return c, notFound(err, "coupon", couponID)
}

// patch applies up to in and checks the result.
func (up *CouponUpdate) patch(in *CouponInput) error {
	if up.Code != nil {
		in.Code = *up.Code
	}
	if up.Kind != nil {
		in.Kind = *up.Kind
	}
	if up.Value != nil {
		in.Value = *up.Value
	}
	if up.ValidFrom != nil {
		in.ValidFrom = *up.ValidFrom
	}
	if up.ValidTo != nil {
		in.ValidTo = *up.ValidTo
	}
	if up.MaxUsesPerSite != nil {
		in.MaxUsesPerSite = *up.MaxUsesPerSite
	}
	return in.normalize()
}

// check checks what up sets without the stored coupon: each field, and
// the rules between fields that it sets both of.
func (up *CouponUpdate) check() error {
	if up.Code != nil {
		if err := checkCode("code", strings.TrimSpace(*up.Code)); err != nil {
			return err
		}
	}
	kind := pantry.CouponFixed // the wider range, unless up sets the kind
	if up.Kind != nil {
		kind = *up.Kind
	}
	if up.Kind != nil || up.Value != nil {
		value := int64(1)
		if up.Value != nil {
			value = *up.Value
		}
		if err := checkCouponValue(kind, value); err != nil {
			return err
		}
	}
	if up.ValidFrom != nil && up.ValidFrom.IsZero() || up.ValidTo != nil && up.ValidTo.IsZero() {
		return pantry.Errorf(pantry.EINVALID, "valid_from and valid_to are required")
	}
	if up.ValidFrom != nil && up.ValidTo != nil {
		if err := checkCouponWindow(*up.ValidFrom, *up.ValidTo); err != nil {
			return err
		}
	}
	if up.MaxUsesPerSite != nil {
		return checkCouponUses(*up.MaxUsesPerSite)
	}
	return nil
}

func (in *CouponInput) normalize() error {
	in.Code = strings.TrimSpace(in.Code)
	// PostgreSQL keeps microseconds: truncate so what is returned is what
	// was given.
	in.ValidFrom, in.ValidTo = in.ValidFrom.UTC().Truncate(time.Microsecond), in.ValidTo.UTC().Truncate(time.Microsecond)
	if err := checkCode("code", in.Code); err != nil {
		return err
	}
	if err := checkCouponValue(in.Kind, in.Value); err != nil {
		return err
	}
	if err := checkCouponWindow(in.ValidFrom, in.ValidTo); err != nil {
		return err
	}
	return checkCouponUses(in.MaxUsesPerSite)
}

func checkCouponValue(kind pantry.CouponKind, value int64) error {
	switch kind {
	case pantry.CouponPercent:
		if value < 1 || value > 100 {
			return pantry.Errorf(pantry.EINVALID, "a percent coupon's value must be between 1 and 100")
		}
	case pantry.CouponFixed:
		if value < 1 || value > pantry.MaxAmount {
			return pantry.Errorf(pantry.EINVALID, "a fixed coupon's value must be between 1 and %d minor units", int64(pantry.MaxAmount))
		}
	default:
		return pantry.Errorf(pantry.EINVALID, "kind must be %q or %q", pantry.CouponPercent, pantry.CouponFixed)
	}
	return nil
}

func checkCouponWindow(from, to time.Time) error {
	switch {
	case from.IsZero() || to.IsZero():
		return pantry.Errorf(pantry.EINVALID, "valid_from and valid_to are required")
	case !to.After(from):
		return pantry.Errorf(pantry.EINVALID, "valid_to must be after valid_from")
	}
	return nil
}

func checkCouponUses(n int64) error {
	if n < 0 || n > MaxCouponUses {
		return pantry.Errorf(pantry.EINVALID, "max_uses_per_site must be between 0 (unlimited) and %d", MaxCouponUses)
	}
	return nil
}

// checkCode checks a code people type or read out (a coupon's, a cost
// center's): 1 to pantry.MaxCodeLen bytes of printable text without
// spaces.
func checkCode(field, code string) error {
	if err := checkRequired(field, code, pantry.MaxCodeLen); err != nil {
		return err
	}
	if strings.IndexFunc(code, unicode.IsSpace) >= 0 {
		return pantry.Errorf(pantry.EINVALID, "%s must not contain spaces", field)
	}
	return nil
}
