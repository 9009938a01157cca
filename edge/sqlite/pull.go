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

// PullChanges is what applying a pull page changed that tablets should
// hear about. The store publishes nothing itself: its caller announces
// these after the commit, as the web layer does for orders.
type PullChanges struct {
	// Config is true when the page's configuration snapshot was applied.
	Config bool
	// Stock has one entry per item the page's new movements moved: its
	// level after the page, and whether the page took it across its
	// low-stock threshold (the inventory.low alert).
	Stock []StockChange
	// RevokedTablets are the usernames of the tablets the snapshot
	// removed; their staff tokens are gone with them.
	RevokedTablets []string
}

// ApplyPull applies one pull page and its cursor in one transaction.
// Applying the same page twice changes nothing.
func (s *Store) ApplyPull(ctx context.Context, page syncproto.PullResponse) error {
	_, err := s.ApplyPullChanges(ctx, page)
	return err
}

// ApplyPullChanges is ApplyPull, reporting what the page changed so the
// caller can announce new stock levels and revoked tablets.
func (s *Store) ApplyPullChanges(ctx context.Context, page syncproto.PullResponse) (PullChanges, error) {
	var ch PullChanges
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		var err error
		ch, err = s.applyPull(ctx, tx, page)
		return err
	})
	if err != nil {
		return PullChanges{}, fmt.Errorf("apply pull page (revision %d, stock seq %d): %w",
			page.Cursor.ConfigRevision, page.Cursor.StockSeq, err)
	}
	return ch, nil
}

// applyPull applies the page's snapshot (unless the node holds a newer
// one), its movements (each once, by id), and moves the cursor forward
// only: a page replayed late cannot take it back.
func (s *Store) applyPull(ctx context.Context, tx *wtx, page syncproto.PullResponse) (PullChanges, error) {
	var ch PullChanges
	id, ok, err := loadIdentity(ctx, tx)
	if err != nil {
		return ch, fmt.Errorf("load identity: %w", err)
	}
	if !ok {
		return ch, pantry.Errorf(pantry.EINVALID, "this edge node is not enrolled with a cloud")
	}
	var held int64
	if err := tx.QueryRowContext(ctx, `SELECT config_revision FROM sync_state WHERE id = 1`).Scan(&held); err != nil {
		return ch, fmt.Errorf("load cursor: %w", err)
	}
	if err := checkPageCursor(page, held); err != nil {
		return ch, err
	}
	if c := page.Config; c != nil && c.Revision >= held {
		if ch.RevokedTablets, err = s.applyConfig(ctx, tx, id, *c); err != nil {
			return ch, fmt.Errorf("configuration revision %d: %w", c.Revision, err)
		}
		ch.Config = true
	}
	if ch.Stock, err = s.applyStock(ctx, tx, id.SiteID, page.Stock); err != nil {
		return ch, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE sync_state SET config_revision = MAX(config_revision, ?),
		stock_seq = MAX(stock_seq, ?) WHERE id = 1`, page.Cursor.ConfigRevision, page.Cursor.StockSeq); err != nil {
		return ch, fmt.Errorf("store cursor: %w", err)
	}
	return ch, nil
}

// checkPageCursor refuses a page whose cursor would claim a configuration
// the node never received: the cursor would move past it for good.
func checkPageCursor(page syncproto.PullResponse, held int64) error {
	c := page.Cursor
	if c.ConfigRevision < 0 || c.StockSeq < 0 {
		return pantry.Errorf(pantry.EINVALID, "cursor %+v has a negative counter", c)
	}
	if page.Config != nil && page.Config.Revision != c.ConfigRevision {
		return pantry.Errorf(pantry.EINVALID, "the page carries configuration revision %d under cursor revision %d", page.Config.Revision, c.ConfigRevision)
	}
	if page.Config == nil && c.ConfigRevision > held {
		return pantry.Errorf(pantry.EINVALID, "the cursor moves to configuration revision %d, but the page carries no snapshot (this node holds %d)", c.ConfigRevision, held)
	}
	return nil
}

// applyConfig replaces the site's configuration with the snapshot c. It
// returns the usernames of the tablets it removed.
func (s *Store) applyConfig(ctx context.Context, tx *wtx, id Identity, c syncproto.Config) ([]string, error) {
	if c.Site.ID != id.SiteID || c.Site.OrgID != id.OrgID {
		return nil, pantry.Errorf(pantry.EINVALID, "the snapshot is for site %s of organization %s; this node serves site %s of %s",
			c.Site.ID, c.Site.OrgID, id.SiteID, id.OrgID)
	}
	now := s.now().UnixNano()
	if err := applySite(ctx, tx, c); err != nil {
		return nil, err
	}
	if err := applySpaces(ctx, tx, c.Site.ID, c.Spaces, now); err != nil {
		return nil, err
	}
	if err := applyItems(ctx, tx, c.Items, now); err != nil {
		return nil, err
	}
	if err := applyCoupons(ctx, tx, c.Coupons, now); err != nil {
		return nil, err
	}
	if err := applyCostCenters(ctx, tx, c.CostCenters); err != nil {
		return nil, err
	}
	return applyTablets(ctx, tx, c.Tablets)
}

func applySite(ctx context.Context, tx *wtx, c syncproto.Config) error {
	st := c.Site
	if _, err := tx.ExecContext(ctx, `INSERT INTO sites (id, org_id, name, timezone, currency) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET org_id = excluded.org_id, name = excluded.name,
		timezone = excluded.timezone, currency = excluded.currency`,
		st.ID, st.OrgID, st.Name, st.Timezone, st.Currency); err != nil {
		return fmt.Errorf("site: %w", err)
	}
	for _, kv := range [][2]string{{"site_id", st.ID}, {"org_id", st.OrgID}, {"catalog_revision", strconv.FormatInt(c.Revision, 10)}} {
		if err := setMeta(ctx, tx, kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}

// applySpaces upserts the snapshot's rooms and archives the others. QR
// codes are UNIQUE and may move from one room to another between two
// snapshots, so the codes that change are freed first: no code exists
// twice at any moment of the apply. An archived room's code is replaced
// by a tombstone, which frees it for a later room and stops it resolving.
func applySpaces(ctx context.Context, tx *wtx, siteID string, spaces []syncproto.Space, now int64) error {
	ids := make([]string, len(spaces))
	for i, sp := range spaces {
		ids[i] = sp.ID
	}
	if _, err := tx.ExecContext(ctx, `UPDATE spaces SET archived_at = COALESCE(archived_at, ?), code = 'archived:' || id
		WHERE id NOT IN (SELECT value FROM json_each(?))`, now, jsonStrings(ids)); err != nil {
		return fmt.Errorf("archive rooms: %w", err)
	}
	for _, sp := range spaces {
		if _, err := tx.ExecContext(ctx, `UPDATE spaces SET code = 'moving:' || id WHERE id = ? AND code != ?`, sp.ID, sp.Code); err != nil {
			return fmt.Errorf("free the code of room %s: %w", sp.ID, err)
		}
	}
	for _, sp := range spaces {
		if _, err := tx.ExecContext(ctx, `INSERT INTO spaces (id, site_id, name, floor, code) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET site_id = excluded.site_id, name = excluded.name, floor = excluded.floor,
			code = excluded.code, archived_at = NULL`, sp.ID, siteID, sp.Name, sp.Floor, sp.Code); err != nil {
			return fmt.Errorf("room %s: %w", sp.ID, err)
		}
	}
	return nil
}

// applyItems upserts the snapshot's items in its order and archives the
// others. It sets the cloud's menu switch, never the staff's. A station
// no tablet could choose refuses the snapshot (and the page) before
// anything is written.
func applyItems(ctx context.Context, tx *wtx, items []syncproto.Item, now int64) error {
	ids := make([]string, len(items))
	for i, it := range items {
		if !syncproto.ValidStation(it.Station) {
			return pantry.Errorf(pantry.EINVALID, "item %s: station %q is not valid (up to 32 of a-z, 0-9 and '-', not \"all\")", it.ID, it.Station)
		}
		ids[i] = it.ID
	}
	if _, err := tx.ExecContext(ctx, `UPDATE items SET archived_at = ? WHERE archived_at IS NULL
		AND id NOT IN (SELECT value FROM json_each(?))`, now, jsonStrings(ids)); err != nil {
		return fmt.Errorf("archive items: %w", err)
	}
	for i, it := range items {
		tags, allergens := encodeLabels(it.Tags, it.Allergens)
		if _, err := tx.ExecContext(ctx, `INSERT INTO items (id, name, description, price_amount, currency, tags, allergens,
			image_url, low_stock_threshold, menu_available, sort, station) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description,
			price_amount = excluded.price_amount, currency = excluded.currency, tags = excluded.tags,
			allergens = excluded.allergens, image_url = excluded.image_url, low_stock_threshold = excluded.low_stock_threshold,
			menu_available = excluded.menu_available, sort = excluded.sort, station = excluded.station, archived_at = NULL`,
			it.ID, it.Name, it.Description, it.Price.Amount, it.Price.Currency, tags, allergens,
			it.ImageURL, it.LowStockThreshold, it.Available, i, it.Station); err != nil {
			return fmt.Errorf("item %s: %w", it.ID, err)
		}
	}
	return nil
}

// applyCoupons upserts the snapshot's coupons and archives the others,
// whose redemptions reference them. Codes are freed as in applySpaces.
func applyCoupons(ctx context.Context, tx *wtx, coupons []syncproto.Coupon, now int64) error {
	ids := make([]string, len(coupons))
	for i, c := range coupons {
		ids[i] = c.ID
	}
	if _, err := tx.ExecContext(ctx, `UPDATE coupons SET archived_at = COALESCE(archived_at, ?), code = 'archived:' || id
		WHERE id NOT IN (SELECT value FROM json_each(?))`, now, jsonStrings(ids)); err != nil {
		return fmt.Errorf("archive coupons: %w", err)
	}
	for _, c := range coupons {
		if _, err := tx.ExecContext(ctx, `UPDATE coupons SET code = 'moving:' || id WHERE id = ? AND code != ?`, c.ID, c.Code); err != nil {
			return fmt.Errorf("free the code of coupon %s: %w", c.ID, err)
		}
	}
	for _, c := range coupons {
		if _, err := tx.ExecContext(ctx, `INSERT INTO coupons (id, code, kind, value, valid_from, valid_to, max_uses)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET code = excluded.code, kind = excluded.kind,
			value = excluded.value, valid_from = excluded.valid_from, valid_to = excluded.valid_to,
			max_uses = excluded.max_uses, archived_at = NULL`,
			c.ID, c.Code, c.Kind, c.Value, c.ValidFrom.UnixNano(), c.ValidTo.UnixNano(), c.MaxUses); err != nil {
			return fmt.Errorf("coupon %s: %w", c.ID, err)
		}
	}
	return nil
}

// applyCostCenters replaces the cost centers: orders keep the code they
// were charged to as text, so nothing references a row.
func applyCostCenters(ctx context.Context, tx *wtx, centers []syncproto.CostCenter) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM cost_centers`); err != nil {
		return fmt.Errorf("cost centers: %w", err)
	}
	for _, c := range centers {
		if _, err := tx.ExecContext(ctx, `INSERT INTO cost_centers (id, code, name) VALUES (?, ?, ?)`, c.ID, c.Code, c.Name); err != nil {
			return fmt.Errorf("cost center %s: %w", c.ID, err)
		}
	}
	return nil
}

// applyTablets upserts the snapshot's tablets and deletes the others with
// their staff tokens: a revoked tablet is logged out at once. A tablet
// whose password changed is logged out too. Usernames are freed as room
// codes are in applySpaces.
func applyTablets(ctx context.Context, tx *wtx, tablets []syncproto.Tablet) ([]string, error) {
	ids := make([]string, len(tablets))
	for i, t := range tablets {
		ids[i] = t.ID
	}
	list := jsonStrings(ids)
	revoked, err := revokedTablets(ctx, tx, list)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM staff_tokens WHERE tablet_id NOT IN (SELECT value FROM json_each(?))`, list); err != nil {
		return nil, fmt.Errorf("log out revoked tablets: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM tablets WHERE id NOT IN (SELECT value FROM json_each(?))`, list); err != nil {
		return nil, fmt.Errorf("delete revoked tablets: %w", err)
	}
	for _, t := range tablets {
		if _, err := tx.ExecContext(ctx, `UPDATE tablets SET username = 'moving:' || id WHERE id = ? AND username != ?`, t.ID, t.Username); err != nil {
			return nil, fmt.Errorf("free the username of tablet %s: %w", t.ID, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM staff_tokens WHERE tablet_id = ?
			AND EXISTS (SELECT 1 FROM tablets WHERE id = ? AND password_hash != ?)`, t.ID, t.ID, t.PasswordHash); err != nil {
			return nil, fmt.Errorf("log out tablet %s: %w", t.ID, err)
		}
	}
	for _, t := range tablets {
		if _, err := tx.ExecContext(ctx, `INSERT INTO tablets (id, username, password_hash, name) VALUES (?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET username = excluded.username, password_hash = excluded.password_hash,
			name = excluded.name`, t.ID, t.Username, t.PasswordHash, t.Name); err != nil {
			return nil, fmt.Errorf("tablet %s: %w", t.ID, err)
		}
	}
	return revoked, nil
}

func revokedTablets(ctx context.Context, tx *wtx, keep string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT username FROM tablets WHERE id NOT IN (SELECT value FROM json_each(?)) ORDER BY username`, keep)
	if err != nil {
		return nil, fmt.Errorf("list revoked tablets: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, fmt.Errorf("list revoked tablets: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list revoked tablets: %w", err)
	}
	return out, nil
}

// itemStock follows one item's level through a page of movements.
type itemStock struct {
	name                     string
	before, after, threshold int64
	moved, soldOut           bool
}

// applyStock records the cloud's movements in the ledger, each once (by
// id), and keeps stock_levels equal to the ledger's sum as moveStock does.
// They are not written to the outbox: they came from the cloud, and
// pushing them back would count them twice. A movement for an item the
// node does not know is an error (the cloud sends the snapshot that
// introduces an item before its stock), so the page is not applied and
// the cursor stays where it was.
func (s *Store) applyStock(ctx context.Context, tx *wtx, siteID string, moves []syncproto.StockMovement) ([]StockChange, error) {
	items := map[string]*itemStock{}
	var order []string
	for _, m := range moves {
		if m.SiteID != "" && m.SiteID != siteID {
			return nil, pantry.Errorf(pantry.EINVALID, "stock movement %s is for site %s, not this node's %s", m.ID, m.SiteID, siteID)
		}
		it, ok := items[m.ItemID]
		if !ok {
			var err error
			if it, err = readItemStock(ctx, tx, siteID, m); err != nil {
				return nil, err
			}
			items[m.ItemID] = it
			order = append(order, m.ItemID)
		}
		inserted, err := s.insertCloudMovement(ctx, tx, m)
		if err != nil || !inserted {
			if err != nil {
				return nil, err
			}
			continue
		}
		it.after += m.Delta
		it.moved = true
	}
	var out []StockChange
	for _, id := range order {
		it := items[id]
		if !it.moved {
			continue
		}
		out = append(out, stockChange(pantry.StockLevel{ItemID: id, Name: it.name, Level: it.after, SoldOut: it.soldOut}, it.before, it.threshold))
	}
	return out, nil
}

// placeholderItemName names an item the ledger knows before any snapshot
// has described it.
const placeholderItemName = "(an item not on this site's menu)"

// readItemStock reads the level of the item m moves. An item this node's
// configuration has never described (made in the cloud and stocked here
// without ever being on the site's menu, or on it only while the node was
// offline) is kept as an archived placeholder: the ledger must hold every
// movement, and refusing the page would stop the site's feed for good.
// A snapshot that lists the item later fills it in.
func readItemStock(ctx context.Context, tx *wtx, siteID string, m syncproto.StockMovement) (*itemStock, error) {
	it := &itemStock{}
	var err error
	it.name, it.before, it.threshold, it.soldOut, err = itemLevel(ctx, tx, m.ItemID)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO items (id, name, price_amount, currency, menu_available, archived_at)
			SELECT ?, ?, 0, currency, 0, ? FROM sites WHERE id = ?`, m.ItemID, placeholderItemName, m.CreatedAt.UnixNano(), siteID); err != nil {
			return nil, fmt.Errorf("keep unknown item %s: %w", m.ItemID, err)
		}
		it.name, it.before, it.threshold, it.soldOut, err = itemLevel(ctx, tx, m.ItemID)
	}
	if err != nil {
		return nil, fmt.Errorf("item %s: %w", m.ItemID, err)
	}
	it.after = it.before
	return it, nil
}

// insertCloudMovement inserts m unless the ledger has it already, and
// moves the cached level only when it was inserted.
func (s *Store) insertCloudMovement(ctx context.Context, tx *wtx, m syncproto.StockMovement) (bool, error) {
	if m.ID == "" || m.Delta == 0 {
		return false, pantry.Errorf(pantry.EINVALID, "stock movement %q (feed seq %d) has no id or a zero delta", m.ID, m.Seq)
	}
	created := m.CreatedAt
	if created.IsZero() {
		created = s.now()
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO stock_movements (id, item_id, delta, reason, order_id, actor, created_at, cloud_seq)
		VALUES (?, ?, ?, ?, NULLIF(?, ''), ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		m.ID, m.ItemID, m.Delta, m.Reason, m.OrderID, m.Actor, created.UnixNano(), m.Seq)
	if err != nil {
		return false, fmt.Errorf("insert stock movement %s: %w", m.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	return true, addLevel(ctx, tx, m.ItemID, m.Delta)
}

// jsonStrings is a JSON array of ss, for `IN (SELECT value FROM json_each(?))`.
func jsonStrings(ss []string) string {
	if ss == nil {
		ss = []string{}
	}
	b, _ := json.Marshal(ss) // a []string always marshals
	return string(b)
}
