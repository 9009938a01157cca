package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

const costCenterColumns = `id, code, name, created_at, archived_at`

func scanCostCenter(row pgx.Row) (cloud.CostCenter, error) {
	var c cloud.CostCenter
	err := row.Scan(&c.ID, &c.Code, &c.Name, &c.CreatedAt, &c.ArchivedAt)
	return c, err
}

// CreateCostCenter creates a cost center. A code already used in the
// organization, in any case, is ECONFLICT.
func (s *Store) CreateCostCenter(ctx context.Context, orgID string, who cloud.Actor, in cloud.CostCenterInput) (cloud.CostCenter, error) {
	in.Code, in.Name = strings.TrimSpace(in.Code), strings.TrimSpace(in.Name)
	if err := in.Normalize(); err != nil {
		return cloud.CostCenter{}, err
	}
	var c cloud.CostCenter
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		if err := bumpCatalogRevision(ctx, tx, orgID, ""); err != nil {
			return err
		}
		var err error
		c, err = scanCostCenter(tx.QueryRow(ctx, `INSERT INTO cost_centers (organization_id, id, code, name)
			VALUES ($1, $2, $3, $4) RETURNING `+costCenterColumns, orgID, pantry.NewID(), in.Code, in.Name))
		if err != nil {
			return fmt.Errorf("insert cost center: %w", err)
		}
		return audit(ctx, tx, orgID, who, "cost_center.create", "cost_center", c.ID, nil, c)
	})
	if err != nil {
		return cloud.CostCenter{}, fmt.Errorf("create cost center: %w", err)
	}
	return c, nil
}

// GetCostCenter returns one cost center.
func (s *Store) GetCostCenter(ctx context.Context, orgID, costCenterID string) (cloud.CostCenter, error) {
	if err := checkPathID("cost center", costCenterID); err != nil {
		return cloud.CostCenter{}, err
	}
	var c cloud.CostCenter
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		c, err = getCostCenter(ctx, tx, orgID, costCenterID, false)
		return err
	})
	return c, err
}

// ListCostCenters returns a page of the organization's cost centers,
// newest first.
func (s *Store) ListCostCenters(ctx context.Context, orgID string, p cloud.Page) ([]cloud.CostCenter, string, error) {
	var out []cloud.CostCenter
	var next string
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		out, next, err = newestFirst(ctx, tx, p, `SELECT `+costCenterColumns+` FROM cost_centers WHERE organization_id = $1`,
			[]any{orgID}, scanCostCenter, func(c cloud.CostCenter) (time.Time, string) { return c.CreatedAt, c.ID })
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list cost centers: %w", err)
	}
	return out, next, nil
}

// UpdateCostCenter changes a cost center's code, name or archived state.
// Orders keep the code they were charged to.
func (s *Store) UpdateCostCenter(ctx context.Context, orgID string, who cloud.Actor, costCenterID string, up cloud.CostCenterUpdate) (cloud.CostCenter, error) {
	if err := checkPathID("cost center", costCenterID); err != nil {
		return cloud.CostCenter{}, err
	}
	if err := up.Normalize(); err != nil {
		return cloud.CostCenter{}, err
	}
	var after cloud.CostCenter
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		if err := bumpCatalogRevision(ctx, tx, orgID, ""); err != nil {
			return err
		}
		before, err := getCostCenter(ctx, tx, orgID, costCenterID, true)
		if err != nil {
			return err
		}
		after, err = scanCostCenter(tx.QueryRow(ctx, `UPDATE cost_centers SET code = COALESCE($3, code), name = COALESCE($4, name),
			archived_at = `+archivedAtSQL("$5")+` WHERE organization_id = $1 AND id = $2 RETURNING `+costCenterColumns,
			orgID, costCenterID, up.Code, up.Name, up.Archived))
		if err != nil {
			return fmt.Errorf("update cost center: %w", err)
		}
		return audit(ctx, tx, orgID, who, "cost_center.update", "cost_center", costCenterID, before, after)
	})
	if err != nil {
		return cloud.CostCenter{}, fmt.Errorf("update cost center %s: %w", costCenterID, err)
	}
	return after, nil
}

func getCostCenter(ctx context.Context, tx pgx.Tx, orgID, costCenterID string, forUpdate bool) (cloud.CostCenter, error) {
	query := `SELECT ` + costCenterColumns + ` FROM cost_centers WHERE organization_id = $1 AND id = $2`
	if forUpdate {
		query += ` FOR NO KEY UPDATE`
	}
	c, err := scanCostCenter(tx.QueryRow(ctx, query, orgID, costCenterID))
	return c, notFound(err, "cost center", costCenterID)
}
