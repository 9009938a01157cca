package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// itemColumns name the items table as i: INSERT INTO items AS i, UPDATE
// items i, and joins all read the same columns.
const itemColumns = `i.id, i.name, i.description, i.price_amount, i.currency, i.tags, i.allergens,
	i.low_stock_threshold, i.image_url, i.station, i.created_at, i.updated_at, i.archived_at`

func scanItem(row pgx.Row) (cloud.Item, error) {
	var it cloud.Item
	err := row.Scan(itemDest(&it)...)
	it.Tags, it.Allergens = nonNil(it.Tags), nonNil(it.Allergens)
	return it, err
}

// itemDest is where itemColumns scan to.
func itemDest(it *cloud.Item) []any {
	return []any{&it.ID, &it.Name, &it.Description, &it.Price.Amount, &it.Price.Currency, &it.Tags, &it.Allergens,
		&it.LowStockThreshold, &it.ImageURL, &it.Station, &it.CreatedAt, &it.UpdatedAt, &it.ArchivedAt}
}

// CreateItem adds an item to the organization's catalog.
func (s *Store) CreateItem(ctx context.Context, orgID string, who cloud.Actor, in cloud.ItemInput) (cloud.Item, error) {
	if err := in.Normalize(); err != nil {
		return cloud.Item{}, err
	}
	var it cloud.Item
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		if err := bumpCatalogRevision(ctx, tx, orgID, ""); err != nil {
			return err
		}
		var err error
		it, err = scanItem(tx.QueryRow(ctx, `INSERT INTO items AS i (organization_id, id, name, description, price_amount, currency,
			tags, allergens, low_stock_threshold, image_url, station) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING `+itemColumns,
			orgID, pantry.NewID(), in.Name, in.Description, in.Price.Amount, in.Price.Currency,
			in.Tags, in.Allergens, in.LowStockThreshold, in.ImageURL, in.Station))
		if err != nil {
			return fmt.Errorf("insert item: %w", err)
		}
		return audit(ctx, tx, orgID, who, "item.create", "item", it.ID, nil, it)
	})
	if err != nil {
		return cloud.Item{}, fmt.Errorf("create item: %w", err)
	}
	return it, nil
}

// GetItem returns one item of the catalog.
func (s *Store) GetItem(ctx context.Context, orgID, itemID string) (cloud.Item, error) {
	if err := checkPathID("item", itemID); err != nil {
		return cloud.Item{}, err
	}
	var it cloud.Item
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		it, err = getItem(ctx, tx, orgID, itemID, false)
		return err
	})
	return it, err
}

// ListItems returns a page of the catalog, newest first.
func (s *Store) ListItems(ctx context.Context, orgID string, p cloud.Page) ([]cloud.Item, string, error) {
	var items []cloud.Item
	var next string
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		items, next, err = newestFirst(ctx, tx, p, `SELECT `+itemColumns+` FROM items i WHERE organization_id = $1`,
			[]any{orgID}, scanItem, func(it cloud.Item) (time.Time, string) { return it.CreatedAt, it.ID })
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list items: %w", err)
	}
	return items, next, nil
}

// UpdateItem changes the fields of an item that up sets. A new currency
// is refused while a site sells the item at its own price in another
// currency: the site would have to give it an override first.
func (s *Store) UpdateItem(ctx context.Context, orgID string, who cloud.Actor, itemID string, up cloud.ItemUpdate) (cloud.Item, error) {
	if err := checkPathID("item", itemID); err != nil {
		return cloud.Item{}, err
	}
	if err := up.Normalize(); err != nil {
		return cloud.Item{}, err
	}
	var after cloud.Item
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		if err := bumpCatalogRevision(ctx, tx, orgID, ""); err != nil {
			return err
		}
		before, err := getItem(ctx, tx, orgID, itemID, true)
		if err != nil {
			return err
		}
		if up.Price != nil && up.Price.Currency != before.Price.Currency {
			if err := checkCurrencyChange(ctx, tx, orgID, itemID, up.Price.Currency); err != nil {
				return err
			}
		}
		var amount *int64
		var currency *string
		if up.Price != nil {
			amount, currency = &up.Price.Amount, &up.Price.Currency
		}
		after, err = scanItem(tx.QueryRow(ctx, `UPDATE items i SET name = COALESCE($3, name), description = COALESCE($4, description),
			price_amount = COALESCE($5, price_amount), currency = COALESCE($6, currency),
			tags = COALESCE($7, tags), allergens = COALESCE($8, allergens),
			low_stock_threshold = COALESCE($9, low_stock_threshold), image_url = COALESCE($10, image_url),
			station = COALESCE($12, station), archived_at = `+archivedAtSQL("$11")+`, updated_at = now()
			WHERE organization_id = $1 AND id = $2 RETURNING `+itemColumns,
			orgID, itemID, up.Name, up.Description, amount, currency, up.Tags, up.Allergens, up.LowStockThreshold, up.ImageURL, up.Archived,
			up.Station))
		if err != nil {
			return fmt.Errorf("update item: %w", err)
		}
		return audit(ctx, tx, orgID, who, "item.update", "item", itemID, before, after)
	})
	if err != nil {
		return cloud.Item{}, fmt.Errorf("update item %s: %w", itemID, err)
	}
	return after, nil
}

// checkCurrencyChange refuses to price item itemID in currency while a
// site of another currency sells it at the item's own price.
func checkCurrencyChange(ctx context.Context, tx pgx.Tx, orgID, itemID, currency string) error {
	var site string
	err := tx.QueryRow(ctx, `SELECT s.name FROM site_menu_items m
		JOIN sites s ON s.organization_id = m.organization_id AND s.id = m.site_id
		WHERE m.organization_id = $1 AND m.item_id = $2 AND m.price_amount IS NULL AND s.currency <> $3
		ORDER BY s.name LIMIT 1`, orgID, itemID, currency).Scan(&site)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("check menus' currencies: %w", err)
	}
	return pantry.Errorf(pantry.EINVALID, "site %q sells this item at its own price and does not sell in %s: give it a price override there first", site, currency)
}

func getItem(ctx context.Context, tx pgx.Tx, orgID, itemID string, forUpdate bool) (cloud.Item, error) {
	query := `SELECT ` + itemColumns + ` FROM items i WHERE organization_id = $1 AND id = $2`
	if forUpdate {
		// NO KEY: a menu's foreign key to the item takes KEY SHARE, which
		// FOR UPDATE would block.
		query += ` FOR NO KEY UPDATE`
	}
	it, err := scanItem(tx.QueryRow(ctx, query, orgID, itemID))
	return it, notFound(err, "item", itemID)
}

// nonNil returns s, or an empty slice for nil, so JSON says [] not null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
