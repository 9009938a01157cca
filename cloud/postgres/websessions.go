package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// The dashboard's sessions (migration 0010): found by organization and
// hash under row-level security, read with their user and organization in
// one statement per request.

// errNoWebSession is every refused session: unknown, ended, expired, idle
// or of a disabled user. The dashboard shows the sign-in page for all.
var errNoWebSession = pantry.Errorf(pantry.EUNAUTHORIZED, "your session has ended: sign in again")

// webSessionTouchEvery is how stale last_seen_at may be before a request
// writes it: a page view is a read, not a write, most of the time.
const webSessionTouchEvery = time.Minute

// StartWebSession records a sign-in and returns it as WebSession would.
func (s *Store) StartWebSession(ctx context.Context, in cloud.WebSessionStart) (cloud.WebSession, error) {
	if len(in.Hash) != 32 {
		return cloud.WebSession{}, pantry.Errorf(pantry.EINVALID, "a session hash is 32 bytes")
	}
	if in.Method != "password" && in.Method != "sso" {
		return cloud.WebSession{}, pantry.Errorf(pantry.EINVALID, "unknown sign-in method %q", in.Method)
	}
	err := s.InTenant(ctx, in.OrgID, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO web_sessions (organization_id, id, user_id, token_hash, method, user_agent, address,
			created_at, last_seen_at, idle_until, expires_at)
			VALUES ($1, $2, $3, $4, $5, left($6, 512), left($7, 64), $8, $8, $9, $10)`,
			in.OrgID, pantry.NewID(), in.UserID, in.Hash, in.Method, in.UserAgent, in.Address, in.Now, in.IdleUntil, in.ExpiresAt)
		return err
	})
	if err != nil {
		return cloud.WebSession{}, fmt.Errorf("start web session: %w", err)
	}
	return s.WebSession(ctx, in.OrgID, in.Hash, in.Now, in.IdleUntil)
}

// WebSession implements cloud.WebSessionService.
func (s *Store) WebSession(ctx context.Context, orgID string, hash []byte, now, idleUntil time.Time) (cloud.WebSession, error) {
	if !pantry.ValidID(orgID) || len(hash) != 32 {
		return cloud.WebSession{}, errNoWebSession
	}
	var ws cloud.WebSession
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var lastSeen time.Time
		// The sites subquery names the organization as $1, not as
		// w.organization_id: Citus 13.2 prunes the shards of a correlated
		// subquery by its own filters only, and with the outer column
		// alone plans the statement for every shard (TestCitusRouting).
		err := tx.QueryRow(ctx, `SELECT w.id, w.user_id, w.method, u.email, u.name, o.name, u.role, w.created_at, w.expires_at, w.last_seen_at,
				COALESCE((SELECT array_agg(us.site_id::text ORDER BY us.site_id) FROM user_sites us
					WHERE us.organization_id = $1 AND us.user_id = w.user_id), '{}')
			FROM web_sessions w
			JOIN users u ON u.organization_id = w.organization_id AND u.id = w.user_id
			JOIN organizations o ON o.id = w.organization_id
			WHERE w.organization_id = $1 AND w.token_hash = $2
			  AND w.revoked_at IS NULL AND w.expires_at > $3 AND w.idle_until > $3 AND u.disabled_at IS NULL`,
			orgID, hash, now).Scan(&ws.ID, &ws.UserID, &ws.Method, &ws.Email, &ws.Name, &ws.OrgName, &ws.Access.Role,
			&ws.CreatedAt, &ws.ExpiresAt, &lastSeen, &ws.Access.SiteIDs)
		if errors.Is(err, pgx.ErrNoRows) {
			return errNoWebSession
		}
		if err != nil {
			return err
		}
		if now.Sub(lastSeen) < webSessionTouchEvery {
			return nil
		}
		_, err = tx.Exec(ctx, `UPDATE web_sessions SET last_seen_at = $3, idle_until = LEAST($4, expires_at)
			WHERE organization_id = $1 AND id = $2`, orgID, ws.ID, now, idleUntil)
		return err
	})
	if err != nil {
		return cloud.WebSession{}, fmt.Errorf("web session: %w", err)
	}
	ws.OrgID = orgID
	ws.CreatedAt, ws.ExpiresAt = ws.CreatedAt.UTC(), ws.ExpiresAt.UTC()
	return ws, nil
}

// EndWebSession implements cloud.WebSessionService.
func (s *Store) EndWebSession(ctx context.Context, orgID string, hash []byte, now time.Time) error {
	if !pantry.ValidID(orgID) || len(hash) != 32 {
		return nil
	}
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE web_sessions SET revoked_at = $3
			WHERE organization_id = $1 AND token_hash = $2 AND revoked_at IS NULL`, orgID, hash, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("end web session: %w", err)
	}
	return nil
}
