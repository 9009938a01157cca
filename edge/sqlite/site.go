package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/pantry/pantry/internal/pantry"
)

// Site returns the site this node serves. A node that is neither enrolled
// nor seeded with --demo has none: ENOTFOUND.
func (s *Store) Site(ctx context.Context) (pantry.Site, error) {
	var site pantry.Site
	err := s.r.QueryRowContext(ctx, `SELECT s.id, s.org_id, s.name, s.timezone, s.currency
		FROM sites s JOIN meta m ON m.key = 'site_id' AND m.value = s.id`).
		Scan(&site.ID, &site.OrgID, &site.Name, &site.Timezone, &site.Currency)
	if errors.Is(err, sql.ErrNoRows) {
		return site, pantry.Errorf(pantry.ENOTFOUND, "this edge node has no site configuration")
	}
	if err != nil {
		return site, fmt.Errorf("load site: %w", err)
	}
	return site, nil
}

// Spaces lists the site's rooms by name, but for those the cloud archived.
func (s *Store) Spaces(ctx context.Context) ([]pantry.Space, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, site_id, name, floor, code FROM spaces WHERE archived_at IS NULL ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list spaces: %w", err)
	}
	defer rows.Close()
	var out []pantry.Space
	for rows.Next() {
		var sp pantry.Space
		if err := rows.Scan(&sp.ID, &sp.SiteID, &sp.Name, &sp.Floor, &sp.Code); err != nil {
			return nil, fmt.Errorf("list spaces: %w", err)
		}
		out = append(out, sp)
	}
	return out, rows.Err()
}

func getMeta(ctx context.Context, q querier, key string) (string, error) {
	var v string
	err := q.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("meta %s: %w", key, err)
	}
	return v, nil
}

func setMeta(ctx context.Context, tx *wtx, key, value string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	if err != nil {
		return fmt.Errorf("set meta %s: %w", key, err)
	}
	return nil
}

// querier is what *sql.DB and *sql.Tx share for reads.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// SpaceByCode returns the room whose QR code is code. An archived room's
// code resolves no more.
func (s *Store) SpaceByCode(ctx context.Context, code string) (pantry.Space, error) {
	var sp pantry.Space
	if code == "" || len(code) > pantry.MaxCodeLen {
		return sp, pantry.Errorf(pantry.ENOTFOUND, "no room has this code")
	}
	err := s.r.QueryRowContext(ctx, `SELECT id, site_id, name, floor, code FROM spaces WHERE code = ? AND archived_at IS NULL`, code).
		Scan(&sp.ID, &sp.SiteID, &sp.Name, &sp.Floor, &sp.Code)
	if errors.Is(err, sql.ErrNoRows) {
		return sp, pantry.Errorf(pantry.ENOTFOUND, "no room has this code")
	}
	if err != nil {
		return sp, fmt.Errorf("load space: %w", err)
	}
	return sp, nil
}
