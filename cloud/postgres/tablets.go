package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// tabletBcryptCost is the bcrypt cost of tablet password hashes. The
// hashes go down to the site's edge, which checks tablet logins with
// bcrypt (edge/sqlite/staff.go), so they must be bcrypt, not the argon2id
// of users' passwords nor the SHA-256 of opaque secrets. The password is
// 96 random bits, out of a guesser's reach at any cost; 10 (bcrypt's
// default, as on the edge) keeps a tablet login cheap on the edge's CPU.
const tabletBcryptCost = 10

// Generated tablet credentials: "tablet-" and six lowercase letters, easy
// to read out and type on a tablet; a password of 12 random bytes (16
// base64url characters).
const (
	tabletUsernamePrefix  = "tablet-"
	tabletUsernameLetters = 6
	tabletPasswordBytes   = 12
	// tabletUsernameTries bounds the search for a username not yet used
	// in the organization (26^6 names: a second try is already rare).
	tabletUsernameTries = 5
)

const tabletColumns = `id, site_id, name, username, created_at, revoked_at`

func scanTablet(row pgx.Row) (cloud.Tablet, error) {
	var t cloud.Tablet
	err := row.Scan(&t.ID, &t.SiteID, &t.Name, &t.Username, &t.CreatedAt, &t.RevokedAt)
	return t, err
}

// CreateTablet makes a credential for a staff tablet at site siteID and
// returns it with its password, which cannot be read again.
func (s *Store) CreateTablet(ctx context.Context, orgID string, who cloud.Actor, siteID, name string) (cloud.Tablet, string, error) {
	if err := checkPathID("site", siteID); err != nil {
		return cloud.Tablet{}, "", err
	}
	name = strings.TrimSpace(name)
	if err := cloud.CheckRequired("name", name, pantry.MaxNameLen); err != nil {
		return cloud.Tablet{}, "", err
	}
	password := pantry.NewSecret(tabletPasswordBytes)
	// Hashed before the transaction: it costs milliseconds of CPU that
	// need no database connection.
	hash, err := bcrypt.GenerateFromPassword([]byte(password), tabletBcryptCost)
	if err != nil {
		return cloud.Tablet{}, "", fmt.Errorf("hash tablet password: %w", err)
	}
	var t cloud.Tablet
	err = s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		// Tablet logins are checked by the site's edge, which must pull the
		// new one: this also finds an unknown site.
		if err := bumpCatalogRevision(ctx, tx, orgID, siteID); err != nil {
			return err
		}
		if t, err = insertTablet(ctx, tx, orgID, siteID, name, string(hash)); err != nil {
			return err
		}
		return audit(ctx, tx, orgID, who, "tablet.create", "tablet", t.ID, nil, t)
	})
	if err != nil {
		return cloud.Tablet{}, "", fmt.Errorf("create tablet: %w", err)
	}
	return t, password, nil
}

// insertTablet inserts a tablet under a fresh username, trying another
// when one is taken.
func insertTablet(ctx context.Context, tx pgx.Tx, orgID, siteID, name, hash string) (cloud.Tablet, error) {
	for range tabletUsernameTries {
		t, err := scanTablet(tx.QueryRow(ctx, `INSERT INTO tablets (organization_id, id, site_id, name, username, password_hash)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (organization_id, username) DO NOTHING RETURNING `+tabletColumns,
			orgID, pantry.NewID(), siteID, name, newTabletUsername(), hash))
		if !errors.Is(err, pgx.ErrNoRows) {
			return t, err
		}
	}
	return cloud.Tablet{}, fmt.Errorf("no free tablet username after %d tries", tabletUsernameTries)
}

// newTabletUsername returns "tablet-" and six random lowercase letters.
func newTabletUsername() string {
	const letters = "abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 0, tabletUsernameLetters)
	var r [1]byte
	for len(b) < tabletUsernameLetters {
		_, _ = rand.Read(r[:])                // crypto/rand.Read never fails on supported platforms.
		if int(r[0]) < 256-256%len(letters) { // no modulo bias
			b = append(b, letters[int(r[0])%len(letters)])
		}
	}
	return tabletUsernamePrefix + string(b)
}

// ListTablets returns a page of site siteID's tablets, revoked ones
// included, newest first.
func (s *Store) ListTablets(ctx context.Context, orgID, siteID string, p cloud.Page) ([]cloud.Tablet, string, error) {
	if err := checkPathID("site", siteID); err != nil {
		return nil, "", err
	}
	var tablets []cloud.Tablet
	var next string
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		if _, err := getSite(ctx, tx, orgID, siteID, false); err != nil {
			return err
		}
		var err error
		tablets, next, err = newestFirst(ctx, tx, p, `SELECT `+tabletColumns+` FROM tablets WHERE organization_id = $1 AND site_id = $2`,
			[]any{orgID, siteID}, scanTablet, func(t cloud.Tablet) (time.Time, string) { return t.CreatedAt, t.ID })
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list tablets: %w", err)
	}
	return tablets, next, nil
}

// RevokeTablet revokes a tablet of site siteID; a tablet of another site
// is not found. Revoking a revoked tablet changes nothing and succeeds.
func (s *Store) RevokeTablet(ctx context.Context, orgID string, who cloud.Actor, siteID, tabletID string) (cloud.Tablet, error) {
	if err := checkPathID("site", siteID); err != nil {
		return cloud.Tablet{}, err
	}
	if err := checkPathID("tablet", tabletID); err != nil {
		return cloud.Tablet{}, err
	}
	var after cloud.Tablet
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		// The site's edge must drop the tablet's login. Bumped first, for
		// the lock order (and harmlessly also when it is already revoked).
		if err := bumpCatalogRevision(ctx, tx, orgID, siteID); err != nil {
			return err
		}
		before, err := scanTablet(tx.QueryRow(ctx, `SELECT `+tabletColumns+` FROM tablets
			WHERE organization_id = $1 AND site_id = $2 AND id = $3 FOR NO KEY UPDATE`, orgID, siteID, tabletID))
		if err != nil {
			return notFound(err, "tablet", tabletID)
		}
		if before.RevokedAt != nil {
			after = before
			return nil
		}
		after, err = scanTablet(tx.QueryRow(ctx, `UPDATE tablets SET revoked_at = now()
			WHERE organization_id = $1 AND site_id = $2 AND id = $3 RETURNING `+tabletColumns, orgID, siteID, tabletID))
		if err != nil {
			return fmt.Errorf("revoke tablet: %w", err)
		}
		return audit(ctx, tx, orgID, who, "tablet.revoke", "tablet", tabletID, before, after)
	})
	if err != nil {
		return cloud.Tablet{}, fmt.Errorf("revoke tablet %s: %w", tabletID, err)
	}
	return after, nil
}
