package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/internal/pantry"
)

// Site is one building of an organization, served by one edge node.
type Site struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Timezone string `json:"timezone"`
	Currency string `json:"currency"`
	// CatalogRevision counts the changes to the configuration the site's
	// edge runs on (the site itself, rooms, menu, items, coupons, cost
	// centers, tablets); orders record the revision they were priced with.
	CatalogRevision int64      `json:"catalog_revision"`
	CreatedAt       time.Time  `json:"created_at"`
	ArchivedAt      *time.Time `json:"archived_at,omitempty"`
}

// SiteInput creates a site.
type SiteInput struct {
	Name     string
	Timezone string // an IANA zone name, e.g. "Europe/Berlin"
	Currency string // ISO 4217; fixed once the site exists
}

// SiteUpdate changes a site; nil fields stay as they are. The currency
// cannot change: menus' price overrides and the edge's orders are in it.
type SiteUpdate struct {
	Name     *string
	Timezone *string
	Archived *bool
}

// maxTimezoneLen bounds a timezone name (the longest IANA name is 32
// bytes) before it reaches time.LoadLocation, which reads a file.
const maxTimezoneLen = 64

const siteColumns = `id, name, timezone, currency, catalog_revision, created_at, archived_at`

func scanSite(row pgx.Row) (Site, error) {
	var s Site
	err := row.Scan(&s.ID, &s.Name, &s.Timezone, &s.Currency, &s.CatalogRevision, &s.CreatedAt, &s.ArchivedAt)
	return s, err
}

// CreateSite creates a site in organization orgID.
func (s *Store) CreateSite(ctx context.Context, orgID string, who Actor, in SiteInput) (Site, error) {
	if err := in.normalize(); err != nil {
		return Site{}, err
	}
	var site Site
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
		return Site{}, fmt.Errorf("create site: %w", err)
	}
	return site, nil
}

// GetSite returns one site.
func (s *Store) GetSite(ctx context.Context, orgID, siteID string) (Site, error) {
	if err := checkPathID("site", siteID); err != nil {
		return Site{}, err
	}
	var site Site
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
func (s *Store) ListSites(ctx context.Context, orgID string, siteFilter []string, p Page) ([]Site, string, error) {
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
	var sites []Site
	var next string
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		sites, next, err = newestFirst(ctx, tx, p, query, args, scanSite, func(s Site) (time.Time, string) { return s.CreatedAt, s.ID })
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list sites: %w", err)
	}
	return sites, next, nil
}

// UpdateSite changes a site's name, timezone or archived state. The
// site's edge runs on its name and timezone, so its revision moves.
func (s *Store) UpdateSite(ctx context.Context, orgID string, who Actor, siteID string, up SiteUpdate) (Site, error) {
	if err := checkPathID("site", siteID); err != nil {
		return Site{}, err
	}
	if err := up.normalize(); err != nil {
		return Site{}, err
	}
	var after Site
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
		return Site{}, fmt.Errorf("update site %s: %w", siteID, err)
	}
	return after, nil
}

// getSite reads one site in tx, locking it against concurrent changes
// when forUpdate is set. An unknown site is ENOTFOUND.
func getSite(ctx context.Context, tx pgx.Tx, orgID, siteID string, forUpdate bool) (Site, error) {
	query := `SELECT ` + siteColumns + ` FROM sites WHERE organization_id = $1 AND id = $2`
	if forUpdate {
		query += ` FOR NO KEY UPDATE`
	}
	site, err := scanSite(tx.QueryRow(ctx, query, orgID, siteID))
	return site, notFound(err, "site", siteID)
}

func (in *SiteInput) normalize() error {
	in.Name, in.Timezone = strings.TrimSpace(in.Name), strings.TrimSpace(in.Timezone)
	if err := checkRequired("name", in.Name, pantry.MaxNameLen); err != nil {
		return err
	}
	if err := checkTimezone(in.Timezone); err != nil {
		return err
	}
	if !pantry.ValidCurrency(in.Currency) {
		return pantry.Errorf(pantry.EINVALID, "currency %q is not an ISO 4217 code", in.Currency)
	}
	return nil
}

func (up *SiteUpdate) normalize() error {
	if up.Name != nil {
		if err := trimRequired("name", &up.Name, pantry.MaxNameLen); err != nil {
			return err
		}
	}
	if up.Timezone != nil {
		tz := strings.TrimSpace(*up.Timezone)
		up.Timezone = &tz
		return checkTimezone(tz)
	}
	return nil
}

// checkTimezone accepts IANA zone names only. time.LoadLocation also
// takes "" and "Local" (the server's own zone), which name no building.
func checkTimezone(tz string) error {
	if tz == "" || tz == "Local" || pantry.CheckText("timezone", tz, maxTimezoneLen) != nil {
		return pantry.Errorf(pantry.EINVALID, "timezone %q is not an IANA time zone name (e.g. Europe/Berlin)", tz)
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return pantry.Errorf(pantry.EINVALID, "timezone %q is not an IANA time zone name (e.g. Europe/Berlin)", tz)
	}
	return nil
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

// checkRequired checks a required text field: present, at most max
// bytes, printable.
func checkRequired(field, s string, max int) error {
	if s == "" {
		return pantry.Errorf(pantry.EINVALID, "%s is required", field)
	}
	return pantry.CheckText(field, s, max)
}

// trimRequired trims the optional field *p points to in place and checks
// it as checkRequired does.
func trimRequired(field string, p **string, max int) error {
	v := strings.TrimSpace(**p)
	*p = &v
	return checkRequired(field, v, max)
}

// archivedAtSQL is the new archived_at for an UPDATE whose parameter
// param is an optional boolean: NULL keeps it, true archives (keeping the
// first archival time), false restores.
func archivedAtSQL(param string) string {
	return `CASE WHEN ` + param + `::boolean IS NULL THEN archived_at WHEN ` + param + ` THEN COALESCE(archived_at, now()) ELSE NULL END`
}

// newestFirst runs query, a SELECT of one table whose WHERE clause uses
// args, as one page of p: newest first by (created_at, id), after p's
// cursor. It returns the rows and the cursor of the next page, "" on the
// last one. key gives a row's (created_at, id).
func newestFirst[T any](ctx context.Context, tx pgx.Tx, p Page, query string, args []any,
	scan func(pgx.Row) (T, error), key func(T) (time.Time, string)) ([]T, string, error) {
	size, err := p.size()
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
