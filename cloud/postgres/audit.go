package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/internal/pantry"
)

// Actor is who made a change, as the audit log records it: a user, a
// technician's API key, or the system itself (bootstrap, sync).
type Actor struct {
	Type string // "user", "api_key" or "system"
	ID   string // the user's or key's id; empty for the system
}

// audit writes one audit-log row in tx, the transaction of the change it
// describes: a change without its audit row cannot commit.
func audit(ctx context.Context, tx pgx.Tx, orgID string, who Actor, action, resource, resourceID string, before, after any) error {
	if _, err := tx.Exec(ctx, `INSERT INTO audit_log (organization_id, id, actor_type, actor_id, action, resource, resource_id, before, after)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		orgID, pantry.NewID(), who.Type, who.ID, action, resource, resourceID, before, after); err != nil {
		return fmt.Errorf("write audit entry: %w", err)
	}
	return nil
}

// AuditEntry is one row of the audit log.
type AuditEntry struct {
	ID         string    `json:"id"`
	ActorType  string    `json:"actor_type"`
	ActorID    string    `json:"actor_id,omitempty"`
	Action     string    `json:"action"`
	Resource   string    `json:"resource"`
	ResourceID string    `json:"resource_id"`
	Before     any       `json:"before"`
	After      any       `json:"after"`
	At         time.Time `json:"at"`
}
