package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// CreateAPIKey stores a new key (its hash and display prefix, from
// auth.NewAPIKey).
func (s *Store) CreateAPIKey(ctx context.Context, orgID string, who cloud.Actor, name, prefix string, hash []byte) (cloud.APIKey, error) {
	k := cloud.APIKey{ID: pantry.NewID(), Name: strings.TrimSpace(name), Prefix: prefix}
	if k.Name == "" {
		return k, pantry.Errorf(pantry.EINVALID, "an API key needs a name")
	}
	if err := pantry.CheckText("name", k.Name, pantry.MaxNameLen); err != nil {
		return k, err
	}
	var createdBy any
	if who.Type == "user" {
		createdBy = who.ID
	}
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		if err := claimCredential(ctx, tx, credAPIKey, orgID, hash); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO api_keys (organization_id, id, name, key_hash, prefix, created_by)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at`, orgID, k.ID, k.Name, hash, prefix, createdBy).Scan(&k.CreatedAt); err != nil {
			return err
		}
		return audit(ctx, tx, orgID, who, "api_key.create", "api_key", k.ID, nil, k)
	})
	if err != nil {
		return cloud.APIKey{}, fmt.Errorf("create API key: %w", err)
	}
	return k, nil
}

const apiKeyColumns = `id::text, name, prefix, created_at, last_used_at, revoked_at`

func scanAPIKey(row pgx.Row) (cloud.APIKey, error) {
	var k cloud.APIKey
	err := row.Scan(&k.ID, &k.Name, &k.Prefix, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt)
	return k, err
}

// ListAPIKeys lists the organization's keys, newest first.
func (s *Store) ListAPIKeys(ctx context.Context, orgID string, p cloud.Page) ([]cloud.APIKey, string, error) {
	var keys []cloud.APIKey
	var next string
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		keys, next, err = newestFirst(ctx, tx, p, `SELECT `+apiKeyColumns+` FROM api_keys WHERE organization_id = $1`,
			[]any{orgID}, scanAPIKey, func(k cloud.APIKey) (time.Time, string) { return k.CreatedAt, k.ID })
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list API keys: %w", err)
	}
	return keys, next, nil
}

// RevokeAPIKey revokes a key; it stops working at once.
func (s *Store) RevokeAPIKey(ctx context.Context, orgID string, who cloud.Actor, id string) (cloud.APIKey, error) {
	var k cloud.APIKey
	if !pantry.ValidID(id) {
		return k, pantry.Errorf(pantry.ENOTFOUND, "API key %s not found", id)
	}
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		before, err := scanAPIKey(tx.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE organization_id = $1 AND id = $2 FOR UPDATE`, orgID, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return pantry.Errorf(pantry.ENOTFOUND, "API key %s not found", id)
		}
		if err != nil {
			return err
		}
		k, err = scanAPIKey(tx.QueryRow(ctx, `UPDATE api_keys SET revoked_at = pantry_flag_time(revoked_at, true, now())
			WHERE organization_id = $1 AND id = $2 RETURNING `+apiKeyColumns, orgID, id))
		if err != nil {
			return err
		}
		return audit(ctx, tx, orgID, who, "api_key.revoke", "api_key", id, before, k)
	})
	if err != nil {
		return cloud.APIKey{}, fmt.Errorf("revoke API key: %w", err)
	}
	return k, nil
}

// TouchAPIKey records that a key was used, at most once a minute per key
// so a busy technician script does not write on every request.
func (s *Store) TouchAPIKey(ctx context.Context, orgID, id string, now time.Time) error {
	return s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE api_keys SET last_used_at = $3 WHERE organization_id = $1 AND id = $2
			AND (last_used_at IS NULL OR last_used_at < $3::timestamptz - interval '1 minute')`, orgID, id, now)
		return err
	})
}
