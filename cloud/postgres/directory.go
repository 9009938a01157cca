package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// The directory (0015_citus.sql): every email and credential hash a
// pre-tenant lookup searches by is also a row of user_emails or
// credential_hashes naming its organization. The directory is what keeps
// them unique across organizations, and what lets a lookup name the
// organization when it reads the row itself: under Citus, a read that
// names it goes to one shard, and one that does not goes to all of them.
// Whatever writes a user or a credential claims its key first, in the
// same transaction: a key claimed by another organization fails there,
// with the unique violation its own table used to raise.

// credentialKind is what a credential hash belongs to; the lookups search
// by kind and hash.
type credentialKind string

const (
	credRefreshToken    credentialKind = "refresh_token"
	credAPIKey          credentialKind = "api_key"
	credEdgeNode        credentialKind = "edge_node"
	credEnrollmentToken credentialKind = "enrollment_token"
)

// claimEmail records that email (already normalised) signs in to
// organization orgID. An email of any organization's user is a unique
// violation of users_email_key.
func claimEmail(ctx context.Context, tx pgx.Tx, orgID, email string) error {
	if _, err := tx.Exec(ctx, `INSERT INTO user_emails (email, organization_id) VALUES ($1, $2)`, email, orgID); err != nil {
		return fmt.Errorf("claim email: %w", err)
	}
	return nil
}

// claimCredential records that the credential of this kind whose hash is
// hash belongs to organization orgID.
func claimCredential(ctx context.Context, tx pgx.Tx, kind credentialKind, orgID string, hash []byte) error {
	if _, err := tx.Exec(ctx, `INSERT INTO credential_hashes (hash, kind, organization_id) VALUES ($1, $2, $3)`,
		hash, string(kind), orgID); err != nil {
		return fmt.Errorf("claim %s hash: %w", kind, err)
	}
	return nil
}
