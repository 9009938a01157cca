package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// ParLevels returns site siteID's par levels, by item id.
func (s *Store) ParLevels(ctx context.Context, orgID, siteID string) ([]cloud.ParLevel, error) {
	if err := checkPathID("site", siteID); err != nil {
		return nil, err
	}
	var levels []cloud.ParLevel
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		if _, err := getSite(ctx, tx, orgID, siteID, false); err != nil {
			return err
		}
		var err error
		levels, err = readParLevels(ctx, tx, orgID, siteID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("par levels of site %s: %w", siteID, err)
	}
	return levels, nil
}

// SetParLevels sets or clears the par levels of the items changes name at
// site siteID, in one transaction, and returns all of the site's par
// levels; items not named keep theirs. Every item must be the
// organization's (another tenant's is as unknown as a made-up one). The
// audit log gets one entry with the changed items' par levels before and
// after; a change that changes nothing writes nothing.
func (s *Store) SetParLevels(ctx context.Context, orgID string, who cloud.Actor, siteID string, changes []cloud.ParLevelChange) ([]cloud.ParLevel, error) {
	if err := checkPathID("site", siteID); err != nil {
		return nil, err
	}
	if err := cloud.CheckParLevelChanges(changes); err != nil {
		return nil, err
	}
	var after []cloud.ParLevel
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		// The site's row lock queues concurrent edits of its par levels,
		// so each audit entry's "before" is what the edit replaced.
		if _, err := getSite(ctx, tx, orgID, siteID, true); err != nil {
			return err
		}
		if err := checkParItems(ctx, tx, orgID, changes); err != nil {
			return err
		}
		current, err := readParLevels(ctx, tx, orgID, siteID)
		if err != nil {
			return err
		}
		before, changed := parDiff(current, changes)
		if len(changed) > 0 {
			if err := writeParLevels(ctx, tx, orgID, siteID, changed); err != nil {
				return err
			}
			if err := audit(ctx, tx, orgID, who, "par_levels.set", "par_levels", siteID, before, parMap(changed)); err != nil {
				return err
			}
		}
		after, err = readParLevels(ctx, tx, orgID, siteID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("set par levels of site %s: %w", siteID, domainError(err))
	}
	return after, nil
}

func readParLevels(ctx context.Context, tx pgx.Tx, orgID, siteID string) ([]cloud.ParLevel, error) {
	rows, _ := tx.Query(ctx, `SELECT item_id, par, updated_at FROM par_levels
		WHERE organization_id = $1 AND site_id = $2 ORDER BY item_id`, orgID, siteID)
	levels, err := pgx.CollectRows(rows, pgx.RowToStructByPos[cloud.ParLevel])
	if err != nil {
		return nil, fmt.Errorf("read par levels: %w", err)
	}
	return levels, nil
}

// checkParItems refuses changes that name an item the organization does
// not have.
func checkParItems(ctx context.Context, tx pgx.Tx, orgID string, changes []cloud.ParLevelChange) error {
	ids := make([]string, len(changes))
	for i, ch := range changes {
		ids[i] = ch.ItemID
	}
	rows, _ := tx.Query(ctx, `SELECT id::text FROM items WHERE organization_id = $1 AND id = ANY($2::uuid[])`, orgID, ids)
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("read par levels' items: %w", err)
	}
	known := make(map[string]bool, len(found))
	for _, id := range found {
		known[id] = true
	}
	for i, ch := range changes {
		if !known[ch.ItemID] {
			return pantry.Errorf(pantry.EINVALID, "par level %d: item %s does not exist", i+1, ch.ItemID)
		}
	}
	return nil
}

// parDiff returns the changes that change something, and the par levels
// they replace (nil: none).
func parDiff(current []cloud.ParLevel, changes []cloud.ParLevelChange) (before map[string]*int64, changed []cloud.ParLevelChange) {
	now := make(map[string]int64, len(current))
	for _, l := range current {
		now[l.ItemID] = l.Par
	}
	before = map[string]*int64{}
	for _, ch := range changes {
		old, had := now[ch.ItemID]
		if (ch.Par == nil && !had) || (ch.Par != nil && had && *ch.Par == old) {
			continue
		}
		changed = append(changed, ch)
		if had {
			before[ch.ItemID] = &old
		} else {
			before[ch.ItemID] = nil
		}
	}
	return before, changed
}

// parMap is changes as the audit log records them: par by item id, null
// for a cleared one.
func parMap(changes []cloud.ParLevelChange) map[string]*int64 {
	m := make(map[string]*int64, len(changes))
	for _, ch := range changes {
		m[ch.ItemID] = ch.Par
	}
	return m
}

// writeParLevels applies changes: clears, then upserts, each in one
// statement.
func writeParLevels(ctx context.Context, tx pgx.Tx, orgID, siteID string, changes []cloud.ParLevelChange) error {
	var clear, set []string
	var pars []int64
	for _, ch := range changes {
		if ch.Par == nil {
			clear = append(clear, ch.ItemID)
			continue
		}
		set, pars = append(set, ch.ItemID), append(pars, *ch.Par)
	}
	if len(clear) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM par_levels WHERE organization_id = $1 AND site_id = $2 AND item_id = ANY($3::uuid[])`,
			orgID, siteID, clear); err != nil {
			return fmt.Errorf("clear par levels: %w", err)
		}
	}
	if len(set) > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO par_levels (organization_id, site_id, item_id, par, updated_at)
			SELECT g.id, $2, i, p, now() FROM organizations g, unnest($3::uuid[], $4::bigint[]) AS u (i, p) WHERE g.id = $1
			ON CONFLICT (organization_id, site_id, item_id) DO UPDATE SET par = EXCLUDED.par, updated_at = EXCLUDED.updated_at`,
			orgID, siteID, set, pars); err != nil {
			return fmt.Errorf("set par levels: %w", err)
		}
	}
	return nil
}
