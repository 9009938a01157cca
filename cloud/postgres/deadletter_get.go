package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
)

// GetDeadLetter returns one of the organization's dead letters, payload
// included, for an admin to inspect before applying it again; ENOTFOUND
// for an id the organization does not have (or one that is not a UUID).
func (s *Store) GetDeadLetter(ctx context.Context, orgID, id string) (cloud.DeadLetter, error) {
	if err := checkPathID("dead letter", id); err != nil {
		return cloud.DeadLetter{}, err
	}
	var d cloud.DeadLetter
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		d, err = scanDeadLetter(tx.QueryRow(ctx, `SELECT `+deadLetterColumns+` FROM dead_letters
			WHERE organization_id = $1 AND id = $2`, orgID, id))
		return notFound(err, "dead letter", id)
	})
	if err != nil {
		return cloud.DeadLetter{}, fmt.Errorf("get dead letter: %w", err)
	}
	return d, nil
}
