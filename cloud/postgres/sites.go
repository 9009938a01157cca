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

const siteColumns = `id, name, timezone, currency, catalog_revision, created_at, archived_at`

func scanSite(row pgx.Row) (cloud.Site, error) {
	var s cloud.Site
	err := row.Scan(&s.ID, &s.Name, &s.Timezone, &s.Currency, &s.CatalogRevision, &s.CreatedAt, &s.ArchivedAt)
	return s, err
}

// CreateSite creates a site in organization orgID.
func (s *Store) CreateSite(ctx context.Context, orgID string, who cloud.Actor, in cloud.SiteInput) (cloud.Site, error) {
	if err := in.Normalize(); err != nil {
		return cloud.Site{}, err
	}
	var site cloud.Site
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		site, err = scanSite(tx.QueryRow(ctx, `INSERT INTO sites (organization_id, id, name, timezone, currency)
			VALUES ($1, $2, $3, $4, $5) RETURNING `+siteColumns, orgID, pantry.NewID(), in.Name, in.Timezone, in.Currency))
		if err != nil {
			return fmt.Errorf("insert site: %w", err)
		}
		return audit(ctx, tx, orgID, who, "site.create", "site", site.ID, nil, site)
	})
	if err != nil {
		return cloud.Site{}, fmt.Errorf("create site: %w", err)
	}
	return site, nil
}

// GetSite returns one site.
func (s *Store) GetSite(ctx context.Context, orgID, siteID string) (cloud.Site, error) {
	if err := checkPathID("site", siteID); err != nil {
		return cloud.Site{}, err
	}
	var site cloud.Site
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		site, err = getSite(ctx, tx, orgID, siteID, false)
		return err
	})
	return site, err
}

// ListSites returns a page of the organization's sites, newest first.
// siteFilter limits the list to those sites (a facility manager's); nil
// means every site, an empty slice none.
func (s *Store) ListSites(ctx context.Context, orgID string, siteFilter []string, p cloud.Page) ([]cloud.Site, string, error) {
	query, args := `SELECT `+siteColumns+` FROM sites WHERE organization_id = $1`, []any{orgID}
	if siteFilter != nil {
		ids := make([]string, 0, len(siteFilter))
		for _, id := range siteFilter {
			if pantry.ValidID(id) { // a malformed id names no site
				ids = append(ids, id)
			}
		}
		query, args = query+` AND id = ANY($2::uuid[])`, append(args, ids)
	}
	var sites []cloud.Site
	var next string
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		sites, next, err = newestFirst(ctx, tx, p, query, args, scanSite, func(s cloud.Site) (time.Time, string) { return s.CreatedAt, s.ID })
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list sites: %w", err)
	}
	return sites, next, nil
}

// UpdateSite changes a site's name, timezone or archived state. The
// site's edge runs on its name and timezone, so its revision moves.
func (s *Store) UpdateSite(ctx context.Context, orgID string, who cloud.Actor, siteID string, up cloud.SiteUpdate) (cloud.Site, error) {
	if err := checkPathID("site", siteID); err != nil {
		return cloud.Site{}, err
	}
	if err := up.Normalize(); err != nil {
		return cloud.Site{}, err
	}
	var after cloud.Site
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		before, err := getSite(ctx, tx, orgID, siteID, true)
		if err != nil {
			return err
		}
		if err := bumpCatalogRevision(ctx, tx, orgID, siteID); err != nil {
			return err
		}
		after, err = scanSite(tx.QueryRow(ctx, `UPDATE sites SET name = COALESCE($3, name), timezone = COALESCE($4, timezone),
			archived_at = `+archivedAtSQL("$5")+`
			WHERE organization_id = $1 AND id = $2 RETURNING `+siteColumns, orgID, siteID, up.Name, up.Timezone, up.Archived))
		if err != nil {
			return fmt.Errorf("update site: %w", err)
		}
		if after.Timezone != before.Timezone {
			if err := rebuildOrderDays(ctx, tx, orgID, siteID); err != nil {
				return err
			}
		}
		return audit(ctx, tx, orgID, who, "site.update", "site", siteID, before, after)
	})
	if err != nil {
		return cloud.Site{}, fmt.Errorf("update site %s: %w", siteID, err)
	}
	return after, nil
}

// getSite reads one site in tx, locking it against concurrent changes
// when forUpdate is set. An unknown site is ENOTFOUND.
func getSite(ctx context.Context, tx pgx.Tx, orgID, siteID string, forUpdate bool) (cloud.Site, error) {
	query := `SELECT ` + siteColumns + ` FROM sites WHERE organization_id = $1 AND id = $2`
	if forUpdate {
		query += ` FOR NO KEY UPDATE`
	}
	site, err := scanSite(tx.QueryRow(ctx, query, orgID, siteID))
	return site, notFound(err, "site", siteID)
}

// The helpers below are shared by the catalog's files (sites, spaces,
// items, menus, coupons, cost centers, tablets, stock).

// checkPathID refuses an id that is not a UUID as not found: it names
// nothing, and the caller gets the same answer as for an unknown id.
func checkPathID(what, id string) error {
	if !pantry.ValidID(id) {
		return pantry.Errorf(pantry.ENOTFOUND, "%s %s not found", what, id)
	}
	return nil
}

// notFound turns "no row" into ENOTFOUND for what id; other errors pass.
func notFound(err error, what, id string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return pantry.Errorf(pantry.ENOTFOUND, "%s %s not found", what, id)
	}
	return err
}

// archivedAtSQL is the new archived_at for an UPDATE whose parameter
// param is an optional boolean: NULL keeps it, true archives (keeping the
// first archival time), false restores. pantry_flag_time (0015_citus.sql)
// holds the CASE, because Citus refuses now() inside a CASE or COALESCE
// of an UPDATE; as a function's argument it is evaluated once, on the
// coordinator.
func archivedAtSQL(param string) string {
	return `pantry_flag_time(archived_at, ` + param + `::boolean, now())`
}

// newestFirst runs query, a SELECT of one table whose WHERE clause uses
// args, as one page of p: newest first by (created_at, id), after p's
// cursor. It returns the rows and the cursor of the next page, "" on the
// last one. key gives a row's (created_at, id).
func newestFirst[T any](ctx context.Context, tx pgx.Tx, p cloud.Page, query string, args []any,
	scan func(pgx.Row) (T, error), key func(T) (time.Time, string)) ([]T, string, error) {
	size, err := p.Size()
	if err != nil {
		return nil, "", err
	}
	c, ok, err := decodeCursor(p.Cursor)
	if err != nil {
		return nil, "", err
	}
	if ok {
		query += fmt.Sprintf(` AND (created_at, id) < ($%d::timestamptz, $%d::uuid)`, len(args)+1, len(args)+2)
		args = append(args, c.T, c.ID)
	}
	query += fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT $%d`, len(args)+1)
	rows, _ := tx.Query(ctx, query, append(args, size+1)...) // an error surfaces from CollectRows
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
	if err != nil {
		return nil, "", err
	}
	if len(out) <= size {
		return out, "", nil
	}
	out = out[:size]
	t, id := key(out[size-1])
	return out, encodeCursor(t, id), nil
}
