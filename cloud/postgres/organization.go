package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pantry/pantry/internal/pantry"
)

// NewOrganization is a tenant to create together with its first user, who
// owns it.
type NewOrganization struct {
	Name       string
	OwnerEmail string
	OwnerName  string
	// OwnerPasswordHash is the owner's password as cloud/auth hashed it;
	// the store never sees a password.
	OwnerPasswordHash string
}

// CreatedOrganization names what CreateOrganization made.
type CreatedOrganization struct {
	OrgID       string
	OwnerUserID string
}

// CreateOrganization creates a tenant, its owner and the audit-log entry
// saying so, in one transaction. It is the bootstrap path (`pantry cloud
// org create`): there is no tenant yet to act in, so the transaction acts
// in the new organization's own id, which is what lets row-level security
// accept its first rows. An email already in use, in any organization, is
// ECONFLICT.
func (s *Store) CreateOrganization(ctx context.Context, in NewOrganization) (CreatedOrganization, error) {
	name, email := strings.TrimSpace(in.Name), NormalizeEmail(in.OwnerEmail)
	if err := validOrganization(name, email, in); err != nil {
		return CreatedOrganization{}, err
	}
	out := CreatedOrganization{OrgID: pantry.NewID(), OwnerUserID: pantry.NewID()}
	err := s.InTenant(ctx, out.OrgID, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO organizations (id, name) VALUES ($1, $2)`, out.OrgID, name); err != nil {
			return fmt.Errorf("insert organization: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO users (organization_id, id, email, password_hash, name, role)
			VALUES ($1, $2, $3, $4, $5, 'owner')`, out.OrgID, out.OwnerUserID, email, in.OwnerPasswordHash, in.OwnerName); err != nil {
			return fmt.Errorf("insert owner: %w", err)
		}
		after := map[string]any{"name": name, "owner": map[string]any{"id": out.OwnerUserID, "email": email, "role": "owner"}}
		if _, err := tx.Exec(ctx, `INSERT INTO audit_log (organization_id, id, actor_type, action, resource, resource_id, after)
			VALUES ($1, $2, 'system', 'organization.create', 'organization', $3, $4)`, out.OrgID, pantry.NewID(), out.OrgID, after); err != nil {
			return fmt.Errorf("insert audit entry: %w", err)
		}
		return nil
	})
	if err != nil {
		return CreatedOrganization{}, fmt.Errorf("create organization: %w", err)
	}
	return out, nil
}

func validOrganization(name, email string, in NewOrganization) error {
	if name == "" {
		return pantry.Errorf(pantry.EINVALID, "the organization needs a name")
	}
	if err := pantry.CheckText("name", name, pantry.MaxNameLen); err != nil {
		return err
	}
	if err := pantry.CheckText("owner name", in.OwnerName, pantry.MaxNameLen); err != nil {
		return err
	}
	if !ValidEmail(email) {
		return pantry.Errorf(pantry.EINVALID, "%q is not an email address", in.OwnerEmail)
	}
	if in.OwnerPasswordHash == "" {
		return pantry.Errorf(pantry.EINVALID, "the owner needs a password")
	}
	return nil
}

// NormalizeEmail is how the store keeps and finds emails: trimmed and
// lower-cased, so that Ann@Example.com and ann@example.com are one login.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// ValidEmail reports whether email (normalized) looks like one address:
// one @ with something on both sides, no spaces or control characters, at
// most 254 bytes. Whether it receives mail is not the store's business.
func ValidEmail(email string) bool {
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") || len(email) > 254 {
		return false
	}
	return pantry.CheckText("email", email, 254) == nil && !strings.ContainsAny(email, " \t\n")
}
