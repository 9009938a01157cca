package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// CreateOrganization creates a tenant, its owner and the audit-log entry
// saying so, in one transaction. It is the bootstrap path (`pantry cloud
// org create`): there is no tenant yet to act in, so the transaction acts
// in the new organization's own id, which is what lets row-level security
// accept its first rows. An email already in use, in any organization, is
// ECONFLICT, and so is a slug asked for that another organization has;
// without one, the organization gets the first free of its name's slug,
// then that with -2 … -9 after it, then with eight random hex digits after it.
func (s *Store) CreateOrganization(ctx context.Context, in cloud.NewOrganization) (cloud.CreatedOrganization, error) {
	name, email := strings.TrimSpace(in.Name), cloud.NormalizeEmail(in.OwnerEmail)
	in.Slug = strings.ToLower(strings.TrimSpace(in.Slug))
	if err := in.Check(name, email); err != nil {
		return cloud.CreatedOrganization{}, err
	}
	if in.Slug != "" {
		return s.createOrganization(ctx, in, name, email, in.Slug)
	}
	base := cloud.SlugFromName(name)
	for i := 1; ; i++ {
		slug := base
		switch {
		case i > 12:
			return cloud.CreatedOrganization{}, fmt.Errorf("create organization: no free slug for %q after %d tries", name, i-1)
		case i > 9:
			slug = slugWithSuffix(base, strings.ReplaceAll(pantry.NewID(), "-", "")[24:]) // the id's random end
		case i > 1:
			slug = slugWithSuffix(base, strconv.Itoa(i))
		}
		if i <= 9 {
			if _, err := s.OrganizationBySlug(ctx, slug); err == nil {
				continue // taken: try the next
			} else if pantry.ErrorCode(err) != pantry.ENOTFOUND {
				return cloud.CreatedOrganization{}, fmt.Errorf("create organization: %w", err)
			}
		}
		out, err := s.createOrganization(ctx, in, name, email, slug)
		if isSlugTaken(err) {
			continue // taken since the lookup, by a concurrent create
		}
		return out, err
	}
}

// slugWithSuffix is base with "-suffix" after it, base cut short so that
// the whole stays a valid slug.
func slugWithSuffix(base, suffix string) string {
	base = strings.TrimRight(base[:min(len(base), cloud.MaxSlugLen-1-len(suffix))], "-")
	return base + "-" + suffix
}

// isSlugTaken reports whether err is the unique violation of a slug
// another organization has.
func isSlugTaken(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "organization_slugs_key"
}

func (s *Store) createOrganization(ctx context.Context, in cloud.NewOrganization, name, email, slug string) (cloud.CreatedOrganization, error) {
	out := cloud.CreatedOrganization{OrgID: pantry.NewID(), Slug: slug, OwnerUserID: pantry.NewID()}
	err := s.InTenant(ctx, out.OrgID, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO organizations (id, name) VALUES ($1, $2)`, out.OrgID, name); err != nil {
			return fmt.Errorf("insert organization: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO organization_slugs (slug, organization_id) VALUES ($1, $2)`, slug, out.OrgID); err != nil {
			return fmt.Errorf("claim slug: %w", err)
		}
		if err := claimEmail(ctx, tx, out.OrgID, email); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO users (organization_id, id, email, password_hash, name, role)
			VALUES ($1, $2, $3, $4, $5, 'owner')`, out.OrgID, out.OwnerUserID, email, in.OwnerPasswordHash, in.OwnerName); err != nil {
			return fmt.Errorf("insert owner: %w", err)
		}
		after := map[string]any{"name": name, "slug": slug, "owner": map[string]any{"id": out.OwnerUserID, "email": email, "role": "owner"}}
		if _, err := tx.Exec(ctx, `INSERT INTO audit_log (organization_id, id, actor_type, action, resource, resource_id, after)
			VALUES ($1, $2, 'system', 'organization.create', 'organization', $3, $4)`, out.OrgID, pantry.NewID(), out.OrgID, after); err != nil {
			return fmt.Errorf("insert audit entry: %w", err)
		}
		return nil
	})
	if err != nil {
		return cloud.CreatedOrganization{}, fmt.Errorf("create organization: %w", err)
	}
	return out, nil
}

// OrganizationBySlug returns the id of the organization whose slug is
// slug (compared lower-cased), before anyone of it has signed in: the
// single sign-on form names an organization so. ENOTFOUND if none has it.
func (s *Store) OrganizationBySlug(ctx context.Context, slug string) (string, error) {
	slug = strings.ToLower(strings.TrimSpace(slug))
	if !cloud.ValidSlug(slug) {
		return "", pantry.Errorf(pantry.ENOTFOUND, "no organization %q", slug[:min(len(slug), cloud.MaxSlugLen)])
	}
	v, err := lookup[struct{ OrgID string }](ctx, s, "organization", `SELECT organization_id::text FROM pantry_organization_slug_lookup($1)`, slug)
	return v.OrgID, err
}

// OrganizationSlug returns organization orgID's slug.
func (s *Store) OrganizationSlug(ctx context.Context, orgID string) (string, error) {
	var slug string
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT slug FROM organization_slugs WHERE organization_id = $1`, orgID).Scan(&slug)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return "", pantry.Errorf(pantry.ENOTFOUND, "organization %s has no slug", orgID)
	}
	if err != nil {
		return "", fmt.Errorf("organization slug: %w", err)
	}
	return slug, nil
}
