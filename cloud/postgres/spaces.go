package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// spaceCodeBytes is the randomness of a room's code: 128 bits, the usual
// floor for a bearer secret, encoded as 22 base64url characters (the
// schema wants 16 to 64).
const spaceCodeBytes = 16

const spaceColumns = `id, site_id, name, floor, code, created_at, archived_at`

func scanSpace(row pgx.Row) (cloud.Space, error) {
	var sp cloud.Space
	err := row.Scan(&sp.ID, &sp.SiteID, &sp.Name, &sp.Floor, &sp.Code, &sp.CreatedAt, &sp.ArchivedAt)
	return sp, err
}

// CreateSpace creates a room in site siteID with a fresh QR code.
func (s *Store) CreateSpace(ctx context.Context, orgID string, who cloud.Actor, siteID string, in cloud.SpaceInput) (cloud.Space, error) {
	if err := checkPathID("site", siteID); err != nil {
		return cloud.Space{}, err
	}
	if err := in.Normalize(); err != nil {
		return cloud.Space{}, err
	}
	var sp cloud.Space
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		// The site's edge must learn the new room (and its code): this also
		// finds an unknown site.
		if err := bumpCatalogRevision(ctx, tx, orgID, siteID); err != nil {
			return err
		}
		var err error
		sp, err = scanSpace(tx.QueryRow(ctx, `INSERT INTO spaces (organization_id, id, site_id, name, floor, code)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+spaceColumns,
			orgID, pantry.NewID(), siteID, in.Name, in.Floor, pantry.NewSecret(spaceCodeBytes)))
		if err != nil {
			return fmt.Errorf("insert space: %w", err)
		}
		return audit(ctx, tx, orgID, who, "space.create", "space", sp.ID, nil, sp)
	})
	if err != nil {
		return cloud.Space{}, fmt.Errorf("create space: %w", err)
	}
	return sp, nil
}

// GetSpace returns one room of site siteID; a room of another site is
// not found.
func (s *Store) GetSpace(ctx context.Context, orgID, siteID, spaceID string) (cloud.Space, error) {
	if err := checkSpaceIDs(siteID, spaceID); err != nil {
		return cloud.Space{}, err
	}
	var sp cloud.Space
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		sp, err = getSpace(ctx, tx, orgID, siteID, spaceID, false)
		return err
	})
	return sp, err
}

// ListSpaces returns a page of site siteID's rooms, newest first.
func (s *Store) ListSpaces(ctx context.Context, orgID, siteID string, p cloud.Page) ([]cloud.Space, string, error) {
	if err := checkPathID("site", siteID); err != nil {
		return nil, "", err
	}
	var spaces []cloud.Space
	var next string
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		if _, err := getSite(ctx, tx, orgID, siteID, false); err != nil {
			return err
		}
		var err error
		spaces, next, err = newestFirst(ctx, tx, p, `SELECT `+spaceColumns+` FROM spaces WHERE organization_id = $1 AND site_id = $2`,
			[]any{orgID, siteID}, scanSpace, func(sp cloud.Space) (time.Time, string) { return sp.CreatedAt, sp.ID })
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list spaces: %w", err)
	}
	return spaces, next, nil
}

// UpdateSpace changes a room's name, floor or archived state.
func (s *Store) UpdateSpace(ctx context.Context, orgID string, who cloud.Actor, siteID, spaceID string, up cloud.SpaceUpdate) (cloud.Space, error) {
	if err := checkSpaceIDs(siteID, spaceID); err != nil {
		return cloud.Space{}, err
	}
	if err := up.Normalize(); err != nil {
		return cloud.Space{}, err
	}
	return s.changeSpace(ctx, orgID, who, siteID, spaceID, "space.update", `UPDATE spaces SET
		name = COALESCE($4, name), floor = COALESCE($5, floor), archived_at = `+archivedAtSQL("$6"),
		up.Name, up.Floor, up.Archived)
}

// RotateSpaceCode gives a room a new QR code; the old one stops working
// once the site's edge has the new one.
func (s *Store) RotateSpaceCode(ctx context.Context, orgID string, who cloud.Actor, siteID, spaceID string) (cloud.Space, error) {
	if err := checkSpaceIDs(siteID, spaceID); err != nil {
		return cloud.Space{}, err
	}
	return s.changeSpace(ctx, orgID, who, siteID, spaceID, "space.rotate_code", `UPDATE spaces SET code = $4`,
		pantry.NewSecret(spaceCodeBytes))
}

// changeSpace runs update (an UPDATE ... SET without its WHERE, whose
// parameters after $1-$3 are args) on one room and audits it as action.
// Rooms and their codes are part of the site's configuration, so the
// site's revision moves with every change.
func (s *Store) changeSpace(ctx context.Context, orgID string, who cloud.Actor, siteID, spaceID, action, update string, args ...any) (cloud.Space, error) {
	var after cloud.Space
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		if err := bumpCatalogRevision(ctx, tx, orgID, siteID); err != nil {
			return err
		}
		before, err := getSpace(ctx, tx, orgID, siteID, spaceID, true)
		if err != nil {
			return err
		}
		after, err = scanSpace(tx.QueryRow(ctx, update+` WHERE organization_id = $1 AND site_id = $2 AND id = $3 RETURNING `+spaceColumns,
			append([]any{orgID, siteID, spaceID}, args...)...))
		if err != nil {
			return fmt.Errorf("update space: %w", err)
		}
		return audit(ctx, tx, orgID, who, action, "space", spaceID, before, after)
	})
	if err != nil {
		return cloud.Space{}, fmt.Errorf("%s %s: %w", action, spaceID, err)
	}
	return after, nil
}

func getSpace(ctx context.Context, tx pgx.Tx, orgID, siteID, spaceID string, forUpdate bool) (cloud.Space, error) {
	query := `SELECT ` + spaceColumns + ` FROM spaces WHERE organization_id = $1 AND site_id = $2 AND id = $3`
	if forUpdate {
		query += ` FOR NO KEY UPDATE`
	}
	sp, err := scanSpace(tx.QueryRow(ctx, query, orgID, siteID, spaceID))
	return sp, notFound(err, "space", spaceID)
}

func checkSpaceIDs(siteID, spaceID string) error {
	if err := checkPathID("site", siteID); err != nil {
		return err
	}
	return checkPathID("space", spaceID)
}
