package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

const stockMovementColumns = `id, site_id, item_id, delta, reason, COALESCE(order_id::text, ''), origin, actor, created_at`

func scanStockMovement(row pgx.Row) (cloud.StockMovement, error) {
	var m cloud.StockMovement
	err := row.Scan(&m.ID, &m.SiteID, &m.ItemID, &m.Delta, &m.Reason, &m.OrderID, &m.Origin, &m.Actor, &m.CreatedAt)
	return m, err
}

// RecordStockMovement adds a movement made in the cloud to site siteID's
// ledger for item itemID. reason is restock, waste, count or adjustment:
// sales and returns come from orders, at the edge. A movement that takes
// the level below zero is accepted: the edge's own movements may not have
// arrived yet, and the ledger converges once they do. An unknown item is
// ENOTFOUND, as an unknown site is.
func (s *Store) RecordStockMovement(ctx context.Context, orgID string, who cloud.Actor, siteID, itemID string, delta int64, reason string) (cloud.StockMovement, error) {
	if err := checkPathID("site", siteID); err != nil {
		return cloud.StockMovement{}, err
	}
	if err := checkPathID("item", itemID); err != nil {
		return cloud.StockMovement{}, err
	}
	if err := cloud.CheckCloudMovement(delta, pantry.StockReason(reason)); err != nil {
		return cloud.StockMovement{}, err
	}
	var m cloud.StockMovement
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		if _, err := getSite(ctx, tx, orgID, siteID, false); err != nil {
			return err
		}
		if _, err := getItem(ctx, tx, orgID, itemID, false); err != nil {
			return err
		}
		seq, err := nextStockSeq(ctx, tx, orgID, siteID)
		if err != nil {
			return err
		}
		m, err = scanStockMovement(tx.QueryRow(ctx, `INSERT INTO stock_movements (organization_id, id, site_id, item_id, delta, reason, origin, actor, created_at, feed_seq)
			VALUES ($1, $2, $3, $4, $5, $6, 'cloud', $7, now(), $8) RETURNING `+stockMovementColumns,
			orgID, pantry.NewID(), siteID, itemID, delta, reason, who.Type+":"+who.ID, seq))
		if err != nil {
			return fmt.Errorf("insert stock movement: %w", err)
		}
		return audit(ctx, tx, orgID, who, "stock_movement.create", "stock_movement", m.ID, nil, m)
	})
	if err != nil {
		return cloud.StockMovement{}, fmt.Errorf("record stock movement: %w", err)
	}
	return m, nil
}

// StockLevels returns the level of every item that site siteID sells or
// has stock movements of, by item name. Low is the item's low-stock rule
// (pantry.IsLow) applied to the level.
func (s *Store) StockLevels(ctx context.Context, orgID, siteID string) ([]pantry.StockLevel, error) {
	if err := checkPathID("site", siteID); err != nil {
		return nil, err
	}
	var levels []pantry.StockLevel
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		if _, err := getSite(ctx, tx, orgID, siteID, false); err != nil {
			return err
		}
		// The sum reads only the stock_movements_level index.
		rows, _ := tx.Query(ctx, `SELECT i.id, i.name, i.low_stock_threshold, COALESCE(l.level, 0)::bigint
			FROM items i
			LEFT JOIN (SELECT item_id, sum(delta) AS level FROM stock_movements
				WHERE organization_id = $1 AND site_id = $2 GROUP BY item_id) l ON l.item_id = i.id
			WHERE i.organization_id = $1 AND (l.item_id IS NOT NULL OR EXISTS (SELECT 1 FROM site_menu_items m
				WHERE m.organization_id = $1 AND m.site_id = $2 AND m.item_id = i.id))
			ORDER BY i.name, i.id`, orgID, siteID)
		var err error
		levels, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (pantry.StockLevel, error) {
			var l pantry.StockLevel
			var threshold int64
			err := r.Scan(&l.ItemID, &l.Name, &threshold, &l.Level)
			l.Low = pantry.IsLow(l.Level, threshold)
			return l, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("stock levels of site %s: %w", siteID, err)
	}
	return levels, nil
}

// ListStockMovements returns a page of site siteID's ledger, newest
// first, of one item if itemID is not "".
func (s *Store) ListStockMovements(ctx context.Context, orgID, siteID, itemID string, p cloud.Page) ([]cloud.StockMovement, string, error) {
	if err := checkPathID("site", siteID); err != nil {
		return nil, "", err
	}
	itemID = strings.TrimSpace(itemID)
	query, args := `SELECT `+stockMovementColumns+` FROM stock_movements WHERE organization_id = $1 AND site_id = $2`, []any{orgID, siteID}
	if itemID != "" {
		if !pantry.ValidID(itemID) {
			return nil, "", pantry.Errorf(pantry.EINVALID, "item_id %q is not a UUID", itemID)
		}
		query, args = query+` AND item_id = $3`, append(args, itemID)
	}
	var moves []cloud.StockMovement
	var next string
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		if _, err := getSite(ctx, tx, orgID, siteID, false); err != nil {
			return err
		}
		var err error
		moves, next, err = newestFirst(ctx, tx, p, query, args, scanStockMovement,
			func(m cloud.StockMovement) (time.Time, string) { return m.CreatedAt, m.ID })
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list stock movements: %w", err)
	}
	return moves, next, nil
}

// nextStockSeq numbers a cloud stock movement in its site's pull feed
// (0005_sync.sql). The UPDATE holds the site's row lock until tx ends, so
// numbers are handed out in commit order: an edge that has read movement
// n never finds n-1 committed after it. The site is announced to
// long-polling pulls (notifySitesSQL) when tx commits. Both statements
// go in one round trip: should the UPDATE find no site, the transaction
// fails and takes the notification with it.
func nextStockSeq(ctx context.Context, tx pgx.Tx, orgID, siteID string) (int64, error) {
	var seq int64
	var batch pgx.Batch
	batch.Queue(`UPDATE sites SET stock_seq = stock_seq + 1 WHERE organization_id = $1 AND id = $2 RETURNING stock_seq`,
		orgID, siteID).QueryRow(func(row pgx.Row) error { return row.Scan(&seq) })
	batch.Queue(notifySitesSQL, orgID, []string{siteID})
	if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
		return 0, fmt.Errorf("number stock movement: %w", notFound(err, "site", siteID))
	}
	return seq, nil
}
