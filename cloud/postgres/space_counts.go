package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/internal/pantry"
)

// CountSpaces counts the unarchived rooms of each of siteIDs in one
// query, so a list of sites need not read every site's rooms. Ids that
// are not UUIDs name no site and are skipped, like ListSites' filter.
func (s *Store) CountSpaces(ctx context.Context, orgID string, siteIDs []string) (map[string]int, error) {
	ids := make([]string, 0, len(siteIDs))
	for _, id := range siteIDs {
		if pantry.ValidID(id) {
			ids = append(ids, id)
		}
	}
	counts := make(map[string]int, len(ids))
	if len(ids) == 0 {
		return counts, nil
	}
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT site_id::text, count(*) FROM spaces
			WHERE organization_id = $1 AND site_id = ANY($2::uuid[]) AND archived_at IS NULL
			GROUP BY site_id`, orgID, ids)
		var id string
		var n int
		_, err := pgx.ForEachRow(rows, []any{&id, &n}, func() error { counts[id] = n; return nil })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("count spaces: %w", err)
	}
	return counts, nil
}
