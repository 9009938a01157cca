package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// A site's pull feed is two counters on its row (0005_sync.sql):
// catalog_revision names the configuration (the site, its rooms, menu,
// items, coupons, cost centers and tablets) and is bumped in the
// transaction of every change to it (bumpCatalogRevision); stock_seq
// numbers the stock movements made in the cloud (nextStockSeq). Both
// are bumped under the site's row lock, so they grow in commit order,
// and a pull reads everything from one snapshot: the configuration it
// sends is exactly the one its revision names.
//
// What a site sells is its menu (menu.go): the snapshot's items are the
// menu's unarchived items, at the site's price (the menu's override, or
// the item's own) and with the menu's availability. A catalog item that
// is not on the site's menu is not sold there and is absent from the
// snapshot, as an archived one is; "available": false is the menu's
// word for an item the site lists but does not offer now. The stock feed
// may still name an absent item (one archived or taken off the menu
// after a movement), so an edge keeps items that drop out of a snapshot
// as known but not sold, for its history and ledger.

// Pull returns one page of node's site feed after req.Cursor: the whole
// configuration if the node's revision is not the site's (or it has
// none), and up to syncproto.MaxStockPage cloud stock movements after
// its stock cursor. It then records the contact on the node (last pull,
// software version, outbox head, clock skew, the revision it now has).
// now is the cloud's clock. A revoked node, or a node that is not what
// its credential names, is EUNAUTHORIZED; a request naming another node
// is EFORBIDDEN.
func (s *Store) Pull(ctx context.Context, node cloud.Node, req syncproto.PullRequest, now time.Time) (syncproto.PullResponse, error) {
	if err := checkPull(node, req); err != nil {
		return syncproto.PullResponse{}, err
	}
	resp, err := s.readPull(ctx, node, req, now)
	if errors.Is(err, errSiteUnnumbered) {
		if err = s.numberSite(ctx, node); err == nil {
			resp, err = s.readPull(ctx, node, req, now)
		}
	}
	if err == nil {
		err = s.recordPull(ctx, node, req, resp.Cursor.ConfigRevision, now)
	}
	if err != nil {
		return syncproto.PullResponse{}, fmt.Errorf("pull for node %s: %w", node.ID, err)
	}
	return resp, nil
}

// errSiteUnnumbered is readPull's answer for a site at revision 0.
var errSiteUnnumbered = errors.New("the site has no configuration revision yet")

// readPull reads the page Pull returns, from one snapshot. Read-only, so
// no write can conflict with the snapshot; the contact is recorded after
// it (recordPull), where a concurrent push that updates the same node
// row only makes it wait.
func (s *Store) readPull(ctx context.Context, node cloud.Node, req syncproto.PullRequest, now time.Time) (syncproto.PullResponse, error) {
	resp := syncproto.PullResponse{Version: syncproto.Version, Cursor: req.Cursor, Stock: []syncproto.StockMovement{}, ServerTime: now}
	snapshot := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err := s.inTenantTx(ctx, node.OrgID, snapshot, func(tx pgx.Tx) error {
		st, err := readFeedState(ctx, tx, node)
		if err != nil {
			return err
		}
		if st.revision == 0 {
			return errSiteUnnumbered
		}
		resp.Cursor.ConfigRevision = st.revision
		if needsConfig(req.Cursor, st.revision) {
			cfg, err := readConfig(ctx, tx, node, st)
			if err != nil {
				return err
			}
			resp.Config = &cfg
		}
		resp.Stock, resp.More, err = readStockPage(ctx, tx, node, req.Cursor.StockSeq)
		if n := len(resp.Stock); n > 0 {
			resp.Cursor.StockSeq = resp.Stock[n-1].Seq
		}
		return err
	})
	return resp, err
}

// numberSite moves node's site from revision 0 to 1. Revision 0 means
// "no configuration" on the wire (an edge's first cursor), so a site is
// never served at it: one that no change has numbered yet (just
// created, or seeded) gets revision 1 at its first pull. An edge at 0
// would otherwise be sent the configuration on every pull, and never
// wait for a change.
func (s *Store) numberSite(ctx context.Context, node cloud.Node) error {
	return s.InTenant(ctx, node.OrgID, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE sites SET catalog_revision = 1 WHERE organization_id = $1 AND id = $2 AND catalog_revision = 0`,
			node.OrgID, node.SiteID); err != nil {
			return fmt.Errorf("number site: %w", err)
		}
		return nil
	})
}

// checkPull checks what a pull can be refused for before any database
// work.
func checkPull(node cloud.Node, req syncproto.PullRequest) error {
	if err := checkNode(node); err != nil {
		return err
	}
	if req.NodeID != "" && req.NodeID != node.ID {
		return pantry.Errorf(pantry.EFORBIDDEN, "this credential is node %s's, not node %s's", node.ID, req.NodeID)
	}
	if req.Cursor.ConfigRevision < 0 || req.Cursor.StockSeq < 0 || req.OutboxHead < 0 {
		return pantry.Errorf(pantry.EINVALID, "cursor and outbox_head must not be negative")
	}
	return pantry.CheckText("software_version", req.SoftwareVersion, cloud.MaxNodeTextLen)
}

// checkNode refuses a Node that no credential can have produced.
func checkNode(node cloud.Node) error {
	if !pantry.ValidID(node.OrgID) || !pantry.ValidID(node.SiteID) || !pantry.ValidID(node.ID) {
		return cloud.ErrNodeCredential
	}
	return nil
}

// needsConfig reports whether an edge at cursor c must be sent the
// configuration at revision: it has none yet, or another one (older, or
// newer after the cloud's database was restored from a backup).
func needsConfig(c syncproto.Cursor, revision int64) bool {
	return c.ConfigRevision == 0 || c.ConfigRevision != revision
}

// feedState is the node's site as the feed reads it.
type feedState struct {
	site     syncproto.Site
	revision int64 // the site's catalog_revision
	stockSeq int64 // the site's last cloud stock movement
}

// moved reports whether the feed has something for an edge at cursor c.
func (st feedState) moved(c syncproto.Cursor) bool {
	return needsConfig(c, st.revision) || st.stockSeq > c.StockSeq
}

// readFeedState reads node's site and counters, checking that node is
// enrolled at that site and not revoked. A node of another organization
// is invisible here (row-level security) and so as unknown as a revoked
// one: EUNAUTHORIZED.
func readFeedState(ctx context.Context, tx pgx.Tx, node cloud.Node) (feedState, error) {
	var st feedState
	var revoked bool
	err := tx.QueryRow(ctx, `SELECT s.id::text, s.organization_id::text, s.name, s.timezone, s.currency, s.catalog_revision, s.stock_seq,
		n.revoked_at IS NOT NULL
		FROM edge_nodes n JOIN sites s ON s.organization_id = n.organization_id AND s.id = n.site_id
		WHERE n.organization_id = $1 AND n.site_id = $2 AND n.id = $3`, node.OrgID, node.SiteID, node.ID).
		Scan(&st.site.ID, &st.site.OrgID, &st.site.Name, &st.site.Timezone, &st.site.Currency, &st.revision, &st.stockSeq, &revoked)
	switch {
	case errors.Is(err, pgx.ErrNoRows), err == nil && revoked:
		return st, cloud.ErrNodeCredential
	case err != nil:
		return st, fmt.Errorf("read site feed: %w", err)
	}
	return st, nil
}

// readConfig reads the site's whole configuration in tx (which must read
// from one snapshot, the one st was read in).
func readConfig(ctx context.Context, tx pgx.Tx, node cloud.Node, st feedState) (syncproto.Config, error) {
	cfg := syncproto.Config{Revision: st.revision, Site: st.site}
	var err error
	if cfg.Spaces, err = collect(ctx, tx, "rooms", `SELECT id::text, name, floor, code FROM spaces
		WHERE organization_id = $1 AND site_id = $2 AND archived_at IS NULL ORDER BY name, id`,
		[]any{node.OrgID, node.SiteID}, func(r pgx.CollectableRow, sp *syncproto.Space) error {
			return r.Scan(&sp.ID, &sp.Name, &sp.Floor, &sp.Code)
		}); err != nil {
		return cfg, err
	}
	if cfg.Items, err = readConfigItems(ctx, tx, node, st.site.Currency); err != nil {
		return cfg, err
	}
	if cfg.Coupons, err = collect(ctx, tx, "coupons", `SELECT id::text, code, kind, value, valid_from, valid_to, max_uses_per_site
		FROM coupons WHERE organization_id = $1 AND archived_at IS NULL ORDER BY lower(code), id`,
		[]any{node.OrgID}, func(r pgx.CollectableRow, c *syncproto.Coupon) error {
			return r.Scan(&c.ID, &c.Code, &c.Kind, &c.Value, &c.ValidFrom, &c.ValidTo, &c.MaxUses)
		}); err != nil {
		return cfg, err
	}
	if cfg.CostCenters, err = collect(ctx, tx, "cost centers", `SELECT id::text, code, name
		FROM cost_centers WHERE organization_id = $1 AND archived_at IS NULL ORDER BY lower(code), id`,
		[]any{node.OrgID}, func(r pgx.CollectableRow, c *syncproto.CostCenter) error {
			return r.Scan(&c.ID, &c.Code, &c.Name)
		}); err != nil {
		return cfg, err
	}
	cfg.Tablets, err = collect(ctx, tx, "tablets", `SELECT id::text, name, username, password_hash FROM tablets
		WHERE organization_id = $1 AND site_id = $2 AND revoked_at IS NULL ORDER BY username`,
		[]any{node.OrgID, node.SiteID}, func(r pgx.CollectableRow, t *syncproto.Tablet) error {
			return r.Scan(&t.ID, &t.Name, &t.Username, &t.PasswordHash)
		})
	return cfg, err
}

// readConfigItems reads the site's menu as the edge sells it (see the
// top of this file): an override is in the site's currency, an item
// without one is priced in it too (PutMenu and UpdateItem see to that).
func readConfigItems(ctx context.Context, tx pgx.Tx, node cloud.Node, currency string) ([]syncproto.Item, error) {
	return collect(ctx, tx, "menu", `SELECT i.id::text, i.name, i.description,
		COALESCE(m.price_amount, i.price_amount), CASE WHEN m.price_amount IS NULL THEN i.currency ELSE $3 END,
		i.tags, i.allergens, i.image_url, i.low_stock_threshold, m.available, i.station
		FROM site_menu_items m JOIN items i ON i.organization_id = m.organization_id AND i.id = m.item_id
		WHERE m.organization_id = $1 AND m.site_id = $2 AND i.archived_at IS NULL
		ORDER BY i.name, i.id`, []any{node.OrgID, node.SiteID, currency}, func(r pgx.CollectableRow, it *syncproto.Item) error {
		err := r.Scan(&it.ID, &it.Name, &it.Description, &it.Price.Amount, &it.Price.Currency,
			&it.Tags, &it.Allergens, &it.ImageURL, &it.LowStockThreshold, &it.Available, &it.Station)
		it.Tags, it.Allergens = nonNil(it.Tags), nonNil(it.Allergens)
		return err
	})
}

// readStockPage reads the site's cloud stock movements after seq, in
// order, at most syncproto.MaxStockPage; more says others follow.
func readStockPage(ctx context.Context, tx pgx.Tx, node cloud.Node, after int64) (moves []syncproto.StockMovement, more bool, err error) {
	moves, err = collect(ctx, tx, "stock movements", `SELECT feed_seq, id::text, site_id::text, item_id::text, delta, reason,
		COALESCE(order_id::text, ''), actor, created_at
		FROM stock_movements WHERE organization_id = $1 AND site_id = $2 AND feed_seq > $3
		ORDER BY feed_seq LIMIT $4`, []any{node.OrgID, node.SiteID, after, syncproto.MaxStockPage + 1},
		func(r pgx.CollectableRow, m *syncproto.StockMovement) error {
			return r.Scan(&m.Seq, &m.ID, &m.SiteID, &m.ItemID, &m.Delta, &m.Reason, &m.OrderID, &m.Actor, &m.CreatedAt)
		})
	if len(moves) > syncproto.MaxStockPage {
		return moves[:syncproto.MaxStockPage], true, err
	}
	return moves, false, err
}

// collect runs query in tx and scans every row into a T; the result is
// never nil, so an empty list is [] on the wire.
func collect[T any](ctx context.Context, tx pgx.Tx, what, query string, args []any, scan func(pgx.CollectableRow, *T) error) ([]T, error) {
	rows, _ := tx.Query(ctx, query, args...) // an error here surfaces from CollectRows
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) {
		var v T
		err := scan(r, &v)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if out == nil {
		out = []T{}
	}
	return out, nil
}

// recordPull records a pull on the node for admins (nodes.go):
// revision is the configuration the node has once it applies the
// response. The edge's clock is not trusted, only reported: skew is its
// SentAt minus now.
func (s *Store) recordPull(ctx context.Context, node cloud.Node, req syncproto.PullRequest, revision int64, now time.Time) error {
	var skew *int64
	if !req.SentAt.IsZero() {
		ms := req.SentAt.Sub(now).Milliseconds()
		skew = &ms
	}
	// The edge's own report, when it sends one: the oldest waiting
	// event's time moved onto the cloud's clock by this request's skew.
	reported := req.Status != nil
	var oldest *time.Time
	var tablets *int
	if st := req.Status; st != nil {
		tablets = &st.TabletsOnline
		if st.OutboxOldestAt != nil {
			t := *st.OutboxOldestAt
			if !req.SentAt.IsZero() {
				t = t.Add(now.Sub(req.SentAt))
			}
			oldest = &t
		}
	}
	return s.InTenant(ctx, node.OrgID, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE edge_nodes SET last_pull_at = $4, last_seen_at = greatest(last_seen_at, $4),
			config_revision = $5, software_version = COALESCE(NULLIF($6, ''), software_version),
			edge_last_seq = greatest(edge_last_seq, $7), clock_skew_ms = COALESCE($8, clock_skew_ms),
			outbox_oldest_at = CASE WHEN $9 THEN $10 ELSE outbox_oldest_at END,
			tablets_online = CASE WHEN $9 THEN $11 ELSE tablets_online END
			WHERE organization_id = $1 AND site_id = $2 AND id = $3 AND revoked_at IS NULL`,
			node.OrgID, node.SiteID, node.ID, now, revision, req.SoftwareVersion, req.OutboxHead, skew, reported, oldest, tablets)
		if err != nil {
			return fmt.Errorf("record pull: %w", err)
		}
		if tag.RowsAffected() == 0 { // revoked since the snapshot
			return cloud.ErrNodeCredential
		}
		return nil
	})
}
