package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
)

// GetAPIKey returns one of the organization's API keys (never the key
// itself, which only its creation shows), for a page that names the key
// before revoking it; ENOTFOUND for an id the organization does not have.
func (s *Store) GetAPIKey(ctx context.Context, orgID, id string) (cloud.APIKey, error) {
	if err := checkPathID("API key", id); err != nil {
		return cloud.APIKey{}, err
	}
	var k cloud.APIKey
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		k, err = scanAPIKey(tx.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE organization_id = $1 AND id = $2`, orgID, id))
		return notFound(err, "API key", id)
	})
	if err != nil {
		return cloud.APIKey{}, fmt.Errorf("get API key: %w", err)
	}
	return k, nil
}
