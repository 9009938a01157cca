package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

const itemColumns = `i.id, i.name, i.description, i.price_amount, i.currency, i.tags, i.allergens,
	i.image_url, i.low_stock_threshold, i.menu_available AND i.staff_available, COALESCE(l.level, 0), i.station`

func scanItem(sc interface{ Scan(...any) error }) (pantry.Item, error) {
	var it pantry.Item
	var tags, allergens string
	var available int64
	err := sc.Scan(&it.ID, &it.Name, &it.Description, &it.Price.Amount, &it.Price.Currency, &tags, &allergens,
		&it.ImageURL, &it.LowStockThreshold, &available, &it.Level, &it.Station)
	if err != nil {
		return it, err
	}
	if it.Tags, it.Allergens, err = decodeLabels(tags, allergens); err != nil {
		return it, fmt.Errorf("item %s %w", it.ID, err)
	}
	// An item is orderable when the cloud's menu offers it, staff have not
	// marked it sold out, and there is at least one left.
	it.Available = available == 1 && it.Level > 0
	return it, nil
}

// Menu lists the site's catalog in menu order, with availability. Items
// the cloud archived are not on it.
func (s *Store) Menu(ctx context.Context) ([]pantry.Item, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+itemColumns+`
		FROM items i LEFT JOIN stock_levels l ON l.item_id = i.id WHERE i.archived_at IS NULL ORDER BY i.sort, i.name`)
	if err != nil {
		return nil, fmt.Errorf("menu: %w", err)
	}
	defer rows.Close()
	out := []pantry.Item{}
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, fmt.Errorf("menu: %w", err)
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// itemByID loads an item on the menu: an archived item is not found.
func itemByID(ctx context.Context, q querier, id string) (pantry.Item, error) {
	it, err := scanItem(q.QueryRowContext(ctx, `SELECT `+itemColumns+`
		FROM items i LEFT JOIN stock_levels l ON l.item_id = i.id WHERE i.id = ? AND i.archived_at IS NULL`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return it, pantry.Errorf(pantry.ENOTFOUND, "item %s not found", id)
	}
	if err != nil {
		return it, fmt.Errorf("load item: %w", err)
	}
	return it, nil
}

// SetAvailability is staff switching an item on or off (out of milk, say)
// without touching its stock. It sets the staff's switch, which the
// cloud's configuration snapshots never touch: the item is orderable only
// while the cloud's menu offers it too.
func (s *Store) SetAvailability(ctx context.Context, itemID string, available bool, actor string) (pantry.Item, error) {
	var it pantry.Item
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		var err error
		it, err = s.setAvailability(ctx, tx, itemID, available, actor)
		return err
	})
	if err != nil {
		return it, fmt.Errorf("set availability: %w", err)
	}
	return it, nil
}

// setAvailability is SetAvailability's write, in tx; SetAvailabilityOnce
// makes it too.
func (s *Store) setAvailability(ctx context.Context, tx *wtx, itemID string, available bool, actor string) (pantry.Item, error) {
	res, err := tx.ExecContext(ctx, `UPDATE items SET staff_available = ? WHERE id = ? AND archived_at IS NULL`, available, itemID)
	if err != nil {
		return pantry.Item{}, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return pantry.Item{}, pantry.Errorf(pantry.ENOTFOUND, "item %s not found", itemID)
	}
	it, err := itemByID(ctx, tx, itemID)
	if err != nil {
		return pantry.Item{}, err
	}
	return it, appendEvent(ctx, s, tx, syncproto.EventItemAvailability, itemID,
		itemAvailability(itemID, available, actor, s.now().UTC()))
}

// decodeLabels decodes tags and allergens as items and order lines keep
// them, JSON arrays of strings.
func decodeLabels(tags, allergens string) (t, a []string, err error) {
	if err := json.Unmarshal([]byte(tags), &t); err != nil {
		return nil, nil, fmt.Errorf("tags: %w", err)
	}
	if err := json.Unmarshal([]byte(allergens), &a); err != nil {
		return nil, nil, fmt.Errorf("allergens: %w", err)
	}
	return t, a, nil
}

// encodeLabels is decodeLabels' inverse; nil is stored as [].
func encodeLabels(tags, allergens []string) (t, a string) {
	tb, _ := json.Marshal(nonNil(tags)) // a []string always marshals
	ab, _ := json.Marshal(nonNil(allergens))
	return string(tb), string(ab)
}

func catalogRevision(ctx context.Context, q querier) (int64, error) {
	v, err := getMeta(ctx, q, "catalog_revision")
	if err != nil || v == "" {
		return 0, err
	}
	return strconv.ParseInt(v, 10, 64)
}
