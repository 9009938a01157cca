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

// Login failures are counted per fixed window in login_attempts, shared by
// every instance (they are stateless), under keys like "email:a@b.c" and
// "ip:192.0.2.1".

// LoginFailures counts the failures recorded under key since since.
func (s *Store) LoginFailures(ctx context.Context, key string, since time.Time) (cloud.LoginFailures, error) {
	var f cloud.LoginFailures
	var oldest *time.Time
	err := s.pool.QueryRow(ctx, `SELECT COALESCE(SUM(count), 0), MIN(window_start) FROM login_attempts
		WHERE key = $1 AND window_start >= $2`, key, since).Scan(&f.Count, &oldest)
	if err != nil {
		return f, fmt.Errorf("count login failures: %w", err)
	}
	if oldest != nil {
		f.Oldest = *oldest
	}
	return f, nil
}

// loginWindow is the granularity of login_attempts rows.
const loginWindow = time.Minute

// RecordLoginFailure counts one failure under each key, and forgets
// windows older than a day.
func (s *Store) RecordLoginFailure(ctx context.Context, now time.Time, keys ...string) error {
	window := now.UTC().Truncate(loginWindow)
	for _, k := range keys {
		if _, err := s.pool.Exec(ctx, `INSERT INTO login_attempts (key, window_start, count) VALUES ($1, $2, 1)
			ON CONFLICT (key, window_start) DO UPDATE SET count = login_attempts.count + 1`, k, window); err != nil {
			return fmt.Errorf("record login failure: %w", err)
		}
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM login_attempts WHERE window_start < $1`, now.Add(-24*time.Hour)); err != nil {
		return fmt.Errorf("prune login failures: %w", err)
	}
	return nil
}

// UserAccess returns what a user's access token says about them: role
// and, for a facility manager, the sites they manage. A disabled user is
// EUNAUTHORIZED.
func (s *Store) UserAccess(ctx context.Context, orgID, userID string) (cloud.UserAccess, error) {
	var a cloud.UserAccess
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var disabled bool
		err := tx.QueryRow(ctx, `SELECT role, disabled_at IS NOT NULL FROM users WHERE organization_id = $1 AND id = $2`,
			orgID, userID).Scan(&a.Role, &disabled)
		if errors.Is(err, pgx.ErrNoRows) || disabled {
			return pantry.Errorf(pantry.EUNAUTHORIZED, "this account cannot log in")
		}
		if err != nil {
			return err
		}
		a.SiteIDs, err = userSites(ctx, tx, orgID, userID)
		return err
	})
	if err != nil {
		return a, fmt.Errorf("load user access: %w", err)
	}
	return a, nil
}

func userSites(ctx context.Context, tx pgx.Tx, orgID, userID string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT site_id::text FROM user_sites WHERE organization_id = $1 AND user_id = $2 ORDER BY site_id`, orgID, userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// IssueRefreshToken stores a new refresh token (by hash) for a user, in
// family familyID (a new login starts a new family).
func (s *Store) IssueRefreshToken(ctx context.Context, orgID, userID, familyID string, hash []byte, expires time.Time) error {
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		if err := claimCredential(ctx, tx, credRefreshToken, orgID, hash); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (organization_id, id, user_id, family_id, token_hash, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, orgID, pantry.NewID(), userID, familyID, hash, expires)
		return err
	})
	if err != nil {
		return fmt.Errorf("issue refresh token: %w", err)
	}
	return nil
}

// RotateRefreshToken exchanges the refresh token whose hash is oldHash for
// a new one (newHash), once: the old token is marked used in the same
// transaction, under a row lock, so two concurrent refreshes with one token
// cannot both succeed. Presenting a token that was already used revokes its
// whole family (someone else has it) and fails, as does a revoked or
// expired one. decide says which, from the token's state read under the
// lock; the new token expires at expires. It returns the token's
// organization and user.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash, newHash []byte, now, expires time.Time,
	decide func(cloud.RefreshState) cloud.RefreshDecision) (orgID, userID string, err error) {
	found, err := s.LookupRefreshToken(ctx, oldHash)
	if err != nil {
		return "", "", cloud.ErrRefreshInvalid
	}
	var decision cloud.RefreshDecision
	err = s.InTenant(ctx, found.OrgID, func(tx pgx.Tx) error {
		var st cloud.RefreshState
		var used, revoked *time.Time
		err := tx.QueryRow(ctx, `SELECT used_at, revoked_at, expires_at FROM refresh_tokens
			WHERE organization_id = $1 AND id = $2 FOR UPDATE`, found.OrgID, found.ID).Scan(&used, &revoked, &st.ExpiresAt)
		if err != nil {
			return err
		}
		st.Used, st.Revoked = used != nil, revoked != nil
		switch decision = decide(st); decision {
		case cloud.RejectAndRevokeFamily:
			_, err = tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = $3 WHERE organization_id = $1 AND family_id = $2 AND revoked_at IS NULL`,
				found.OrgID, found.FamilyID, now)
			return err
		case cloud.Rotate:
			if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET used_at = $3 WHERE organization_id = $1 AND id = $2`, found.OrgID, found.ID, now); err != nil {
				return err
			}
			if err := claimCredential(ctx, tx, credRefreshToken, found.OrgID, newHash); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `INSERT INTO refresh_tokens (organization_id, id, user_id, family_id, token_hash, expires_at)
				VALUES ($1, $2, $3, $4, $5, $6)`, found.OrgID, pantry.NewID(), found.UserID, found.FamilyID, newHash, expires)
			return err
		}
		return nil
	})
	if err != nil {
		return "", "", fmt.Errorf("rotate refresh token: %w", err)
	}
	if decision != cloud.Rotate {
		return "", "", cloud.ErrRefreshInvalid
	}
	return found.OrgID, found.UserID, nil
}

// RevokeRefreshFamily ends the login a refresh token belongs to (logout).
// An unknown token is not an error: logging out twice is fine.
func (s *Store) RevokeRefreshFamily(ctx context.Context, hash []byte, now time.Time) error {
	found, err := s.LookupRefreshToken(ctx, hash)
	if pantry.ErrorCode(err) == pantry.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	err = s.InTenant(ctx, found.OrgID, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = $3 WHERE organization_id = $1 AND family_id = $2 AND revoked_at IS NULL`,
			found.OrgID, found.FamilyID, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke refresh tokens: %w", err)
	}
	return nil
}

// SigningKeys returns every stored signing key that is not retired,
// oldest first.
func (s *Store) SigningKeys(ctx context.Context) ([]cloud.SigningKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT private_key, created_at FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at, kid`)
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowToStructByPos[cloud.SigningKey])
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	return keys, nil
}

// RetireSigningKeys retires every key superseded by a newer one more than
// keep ago: by then no token it signed is still valid. It returns how
// many it retired.
func (s *Store) RetireSigningKeys(ctx context.Context, now time.Time, keep time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE signing_keys k SET retired_at = $1 WHERE retired_at IS NULL
		AND EXISTS (SELECT 1 FROM signing_keys n WHERE n.retired_at IS NULL AND n.created_at > k.created_at AND n.created_at < $2)`,
		now, now.Add(-keep))
	if err != nil {
		return 0, fmt.Errorf("retire signing keys: %w", err)
	}
	return tag.RowsAffected(), nil
}

// AddSigningKey stores a new signing key (cloud/auth's Key.MarshalBinary).
func (s *Store) AddSigningKey(ctx context.Context, kid string, key []byte) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO signing_keys (kid, algorithm, private_key) VALUES ($1, 'EdDSA', $2)`, kid, key); err != nil {
		return fmt.Errorf("add signing key: %w", err)
	}
	return nil
}
