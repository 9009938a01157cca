package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// CreateOrganization creates a tenant, its owner and the audit-log entry
// saying so, in one transaction. It is the bootstrap path (`pantry cloud
// org create`): there is no tenant yet to act in, so the transaction acts
// in the new organization's own id, which is what lets row-level security
// accept its first rows. An email already in use, in any organization, is
// ECONFLICT.
func (s *Store) CreateOrganization(ctx context.Context, in cloud.NewOrganization) (cloud.CreatedOrganization, error) {
	name, email := strings.TrimSpace(in.Name), cloud.NormalizeEmail(in.OwnerEmail)
	if err := in.Check(name, email); err != nil {
		return cloud.CreatedOrganization{}, err
	}
	out := cloud.CreatedOrganization{OrgID: pantry.NewID(), OwnerUserID: pantry.NewID()}
	err := s.InTenant(ctx, out.OrgID, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO organizations (id, name) VALUES ($1, $2)`, out.OrgID, name); err != nil {
			return fmt.Errorf("insert organization: %w", err)
		}
		if err := claimEmail(ctx, tx, out.OrgID, email); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO users (organization_id, id, email, password_hash, name, role)
			VALUES ($1, $2, $3, $4, $5, 'owner')`, out.OrgID, out.OwnerUserID, email, in.OwnerPasswordHash, in.OwnerName); err != nil {
			return fmt.Errorf("insert owner: %w", err)
		}
		after := map[string]any{"name": name, "owner": map[string]any{"id": out.OwnerUserID, "email": email, "role": "owner"}}
		if _, err := tx.Exec(ctx, `INSERT INTO audit_log (organization_id, id, actor_type, action, resource, resource_id, after)
			VALUES ($1, $2, 'system', 'organization.create', 'organization', $3, $4)`, out.OrgID, pantry.NewID(), out.OrgID, after); err != nil {
			return fmt.Errorf("insert audit entry: %w", err)
		}
		return nil
	})
	if err != nil {
		return cloud.CreatedOrganization{}, fmt.Errorf("create organization: %w", err)
	}
	return out, nil
}
