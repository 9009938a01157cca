package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// GetMenu returns site siteID's menu, ordered by item name.
func (s *Store) GetMenu(ctx context.Context, orgID, siteID string) (cloud.Menu, error) {
	if err := checkPathID("site", siteID); err != nil {
		return cloud.Menu{}, err
	}
	var menu cloud.Menu
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		site, err := getSite(ctx, tx, orgID, siteID, false)
		if err != nil {
			return err
		}
		menu, err = readMenu(ctx, tx, orgID, site)
		return err
	})
	return menu, err
}

// PutMenu replaces site siteID's menu with entries, in one transaction,
// and returns the new menu. Every item must be an unarchived item of the
// organization and be sold in the site's currency: an override's
// currency must be the site's, and an item without one must be priced in
// it.
func (s *Store) PutMenu(ctx context.Context, orgID string, who cloud.Actor, siteID string, entries []cloud.MenuEntry) (cloud.Menu, error) {
	if err := checkPathID("site", siteID); err != nil {
		return cloud.Menu{}, err
	}
	if err := cloud.CheckMenuEntries(entries); err != nil {
		return cloud.Menu{}, err
	}
	var after cloud.Menu
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		// First: concurrent puts of the site queue here, and so do item
		// changes (which lock every site first), so the items checked
		// below cannot be archived or repriced before this commits.
		if err := bumpCatalogRevision(ctx, tx, orgID, siteID); err != nil {
			return err
		}
		site, err := getSite(ctx, tx, orgID, siteID, false)
		if err != nil {
			return err
		}
		if err := checkMenuItems(ctx, tx, orgID, site, entries); err != nil {
			return err
		}
		before, err := readMenu(ctx, tx, orgID, site)
		if err != nil {
			return err
		}
		if err := replaceMenu(ctx, tx, orgID, siteID, entries); err != nil {
			return err
		}
		if after, err = readMenu(ctx, tx, orgID, site); err != nil {
			return err
		}
		return audit(ctx, tx, orgID, who, "menu.put", "menu", siteID, menuEntries(before), menuEntries(after))
	})
	if err != nil {
		return cloud.Menu{}, fmt.Errorf("put menu of site %s: %w", siteID, err)
	}
	return after, nil
}

// checkMenuItems checks entries against the catalog: each item exists in
// the organization (another tenant's id is as unknown as a made-up one),
// is not archived, and is sold in the site's currency.
func checkMenuItems(ctx context.Context, tx pgx.Tx, orgID string, site cloud.Site, entries []cloud.MenuEntry) error {
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.ItemID
	}
	rows, _ := tx.Query(ctx, `SELECT id, currency, archived_at IS NOT NULL FROM items WHERE organization_id = $1 AND id = ANY($2::uuid[])`, orgID, ids)
	type known struct {
		currency string
		archived bool
	}
	items := make(map[string]known, len(ids))
	var id string
	var k known
	_, err := pgx.ForEachRow(rows, []any{&id, &k.currency, &k.archived}, func() error { items[id] = k; return nil })
	if err != nil {
		return fmt.Errorf("read menu's items: %w", err)
	}
	for i, e := range entries {
		k, ok := items[e.ItemID]
		switch {
		case !ok:
			return pantry.Errorf(pantry.EINVALID, "menu item %d: item %s does not exist", i+1, e.ItemID)
		case k.archived:
			return pantry.Errorf(pantry.EINVALID, "menu item %d: item %s is archived", i+1, e.ItemID)
		case e.Price != nil && e.Price.Currency != site.Currency:
			return pantry.Errorf(pantry.EINVALID, "menu item %d: the price of item %s is in %s, but the site sells in %s",
				i+1, e.ItemID, e.Price.Currency, site.Currency)
		case e.Price == nil && k.currency != site.Currency:
			return pantry.Errorf(pantry.EINVALID, "menu item %d: item %s is priced in %s, but the site sells in %s: give it a price",
				i+1, e.ItemID, k.currency, site.Currency)
		}
	}
	return nil
}

// replaceMenu deletes site siteID's menu and inserts entries.
func replaceMenu(ctx context.Context, tx pgx.Tx, orgID, siteID string, entries []cloud.MenuEntry) error {
	if _, err := tx.Exec(ctx, `DELETE FROM site_menu_items WHERE organization_id = $1 AND site_id = $2`, orgID, siteID); err != nil {
		return fmt.Errorf("delete menu: %w", err)
	}
	if len(entries) == 0 {
		return nil
	}
	ids, available, prices := make([]string, len(entries)), make([]bool, len(entries)), make([]*int64, len(entries))
	for i, e := range entries {
		ids[i], available[i] = e.ItemID, e.Available
		if e.Price != nil {
			prices[i] = &e.Price.Amount
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO site_menu_items (organization_id, site_id, item_id, available, price_amount)
		SELECT g.id, $2, u.item_id, u.available, u.price
		FROM organizations g, unnest($3::uuid[], $4::boolean[], $5::bigint[]) AS u (item_id, available, price) WHERE g.id = $1`,
		orgID, siteID, ids, available, prices); err != nil {
		return fmt.Errorf("insert menu: %w", err)
	}
	return nil
}

// readMenu reads site's menu in tx; site is as read in tx (its
// revision is the menu's).
func readMenu(ctx context.Context, tx pgx.Tx, orgID string, site cloud.Site) (cloud.Menu, error) {
	rows, _ := tx.Query(ctx, `SELECT m.available, m.price_amount, `+itemColumns+`
		FROM site_menu_items m JOIN items i ON i.organization_id = m.organization_id AND i.id = m.item_id
		WHERE m.organization_id = $1 AND m.site_id = $2
		ORDER BY i.name, i.id`, orgID, site.ID)
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (cloud.MenuItem, error) {
		var mi cloud.MenuItem
		var override *int64
		err := r.Scan(append([]any{&mi.Available, &override}, itemDest(&mi.Item)...)...)
		mi.Item.Tags, mi.Item.Allergens = nonNil(mi.Item.Tags), nonNil(mi.Item.Allergens)
		mi.ItemID, mi.EffectivePrice = mi.Item.ID, mi.Item.Price
		if override != nil {
			mi.Price = &pantry.Money{Amount: *override, Currency: site.Currency}
			mi.EffectivePrice = *mi.Price
		}
		return mi, err
	})
	if err != nil {
		return cloud.Menu{}, fmt.Errorf("read menu: %w", err)
	}
	return cloud.Menu{SiteID: site.ID, Currency: site.Currency, CatalogRevision: site.CatalogRevision, Items: items}, nil
}

// menuEntries is m as PutMenu's entries: what the audit log records.
func menuEntries(m cloud.Menu) []cloud.MenuEntry {
	out := make([]cloud.MenuEntry, len(m.Items))
	for i, mi := range m.Items {
		out[i] = cloud.MenuEntry{ItemID: mi.ItemID, Available: mi.Available, Price: mi.Price}
	}
	return out
}

// bumpCatalogRevision advances the catalog revision of site siteID, or of
// every site of the organization when siteID is "" (a change to items,
// coupons or cost centers, which every site may sell or accept). An edge
// pulls a site's catalog again when its revision moves, and orders record
// the revision they were priced with. An unknown siteID is ENOTFOUND.
// Each bumped site is announced to long-polling pulls (notifySitesSQL),
// delivered when tx commits.
//
// Call it first in a transaction, so that catalog changes take the sites'
// locks before any other. Every site is locked in id order before the
// UPDATE: a plain UPDATE locks rows in the order its scan meets them,
// which differs between transactions whose snapshots differ (an updated
// row's new version sits elsewhere in the table), and two such bumps
// deadlock.
func bumpCatalogRevision(ctx context.Context, tx pgx.Tx, orgID, siteID string) error {
	if siteID == "" {
		if _, err := tx.Exec(ctx, `SELECT FROM sites WHERE organization_id = $1 ORDER BY id FOR NO KEY UPDATE`, orgID); err != nil {
			return fmt.Errorf("lock sites: %w", err)
		}
		rows, _ := tx.Query(ctx, `UPDATE sites SET catalog_revision = catalog_revision + 1
			WHERE organization_id = $1 RETURNING id`, orgID) // an error surfaces from CollectRows
		sites, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("bump catalog revisions: %w", err)
		}
		if _, err := tx.Exec(ctx, notifySitesSQL, orgID, sites); err != nil {
			return fmt.Errorf("announce catalog revisions: %w", err)
		}
		return nil
	}
	tag, err := tx.Exec(ctx, `UPDATE sites SET catalog_revision = catalog_revision + 1 WHERE organization_id = $1 AND id = $2`, orgID, siteID)
	if err != nil {
		return fmt.Errorf("bump catalog revision: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return pantry.Errorf(pantry.ENOTFOUND, "site %s not found", siteID)
	}
	if _, err := tx.Exec(ctx, notifySitesSQL, orgID, []string{siteID}); err != nil {
		return fmt.Errorf("announce catalog revision: %w", err)
	}
	return nil
}
