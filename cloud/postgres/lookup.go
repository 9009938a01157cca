package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// The lookups below find a credential before its organization is known,
// through the SECURITY DEFINER functions of the schema (see 0001_init.sql):
// the service role cannot see the rows themselves until InTenant names
// their organization. Each returns ENOTFOUND for an unknown value; what a
// disabled user, a revoked key or a spent token means is the caller's
// decision, so those come back as they are.

// LookupLogin finds the user with this email (compared as NormalizeEmail
// makes it), in whichever organization.
func (s *Store) LookupLogin(ctx context.Context, email string) (cloud.LoginLookup, error) {
	return lookup[cloud.LoginLookup](ctx, s, "user", `SELECT * FROM pantry_login_lookup($1)`, cloud.NormalizeEmail(email))
}

// LookupRefreshToken finds a refresh token by the hash of its value.
func (s *Store) LookupRefreshToken(ctx context.Context, hash []byte) (cloud.RefreshTokenLookup, error) {
	return lookup[cloud.RefreshTokenLookup](ctx, s, "refresh token", `SELECT * FROM pantry_refresh_token_lookup($1)`, hash)
}

// LookupAPIKey finds an API key by the hash of its value.
func (s *Store) LookupAPIKey(ctx context.Context, hash []byte) (cloud.APIKeyLookup, error) {
	return lookup[cloud.APIKeyLookup](ctx, s, "API key", `SELECT * FROM pantry_api_key_lookup($1)`, hash)
}

// LookupEdgeNode finds an edge node by the hash of its credential.
func (s *Store) LookupEdgeNode(ctx context.Context, hash []byte) (cloud.EdgeNodeLookup, error) {
	return lookup[cloud.EdgeNodeLookup](ctx, s, "edge node", `SELECT * FROM pantry_edge_node_lookup($1)`, hash)
}

// LookupEnrollmentToken finds an enrollment token by the hash of its value.
func (s *Store) LookupEnrollmentToken(ctx context.Context, hash []byte) (cloud.EnrollmentLookup, error) {
	return lookup[cloud.EnrollmentLookup](ctx, s, "enrollment token", `SELECT * FROM pantry_enrollment_token_lookup($1)`, hash)
}

// SiteOrganization returns the organization of site siteID, for an
// operator's command that names a site but not its organization (`pantry
// cloud site enroll-token`). An unknown or malformed id is ENOTFOUND; an
// id that names sites of two organizations (ids are UUIDv7 made by the
// cloud, so only a hand-made row can) is ECONFLICT.
func (s *Store) SiteOrganization(ctx context.Context, siteID string) (string, error) {
	if err := checkPathID("site", siteID); err != nil {
		return "", err
	}
	rows, _ := s.pool.Query(ctx, `SELECT organization_id::text FROM pantry_site_lookup($1)`, siteID) // an error surfaces from CollectRows
	orgs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	switch {
	case err != nil:
		return "", fmt.Errorf("look up site %s: %w", siteID, err)
	case len(orgs) == 0:
		return "", pantry.Errorf(pantry.ENOTFOUND, "site %s not found", siteID)
	case len(orgs) > 1:
		return "", pantry.Errorf(pantry.ECONFLICT, "site id %s names sites of %d organizations: name the organization", siteID, len(orgs))
	}
	return orgs[0], nil
}

// lookup runs one pre-tenant lookup, outside any tenant transaction, and
// scans its single row into T by column position.
func lookup[T any](ctx context.Context, s *Store, what, sql string, key any) (T, error) {
	rows, _ := s.pool.Query(ctx, sql, key) // an error here surfaces from CollectExactlyOneRow
	v, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[T])
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return v, pantry.Errorf(pantry.ENOTFOUND, "%s not found", what)
	case err != nil:
		return v, fmt.Errorf("look up %s: %w", what, err)
	}
	return v, nil
}
