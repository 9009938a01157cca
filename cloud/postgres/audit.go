package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// audit writes one audit-log row in tx, the transaction of the change it
// describes: a change without its audit row cannot commit.
func audit(ctx context.Context, tx pgx.Tx, orgID string, who cloud.Actor, action, resource, resourceID string, before, after any) error {
	if _, err := tx.Exec(ctx, `INSERT INTO audit_log (organization_id, id, actor_type, actor_id, action, resource, resource_id, before, after)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		orgID, pantry.NewID(), who.Type, who.ID, action, resource, resourceID, before, after); err != nil {
		return fmt.Errorf("write audit entry: %w", err)
	}
	return nil
}
