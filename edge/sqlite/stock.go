package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// StockChange is an item's level after a movement, and whether the movement
// took it across its low-stock threshold (the moment to alert staff).
type StockChange struct {
	Level     pantry.StockLevel
	BecameLow bool
}

// moveStock appends one movement to the ledger, updates the cached level and
// writes its stock.moved event (in the wire shape, actor included), all in
// tx.
func (s *Store) moveStock(ctx context.Context, tx *wtx, itemID string, delta int64, reason pantry.StockReason, orderID, actor string) (StockChange, error) {
	var ch StockChange
	name, before, threshold, soldOut, err := itemLevel(ctx, tx, itemID)
	if errors.Is(err, sql.ErrNoRows) {
		return ch, pantry.Errorf(pantry.ENOTFOUND, "item %s not found", itemID)
	}
	if err != nil {
		return ch, err
	}
	m := pantry.StockMovement{
		ID: pantry.NewID(), ItemID: itemID, Delta: delta, Reason: reason,
		OrderID: orderID, CreatedAt: s.now().UTC(),
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO stock_movements (id, item_id, delta, reason, order_id, actor, created_at)
		VALUES (?, ?, ?, ?, NULLIF(?, ''), ?, ?)`, m.ID, itemID, delta, string(reason), orderID, actor, m.CreatedAt.UnixNano()); err != nil {
		return ch, fmt.Errorf("insert stock movement: %w", err)
	}
	if err := addLevel(ctx, tx, itemID, delta); err != nil {
		return ch, err
	}
	if err := appendEvent(ctx, s, tx, syncproto.EventStockMoved, m.ID, stockMoved(m, actor)); err != nil {
		return ch, err
	}
	return stockChange(pantry.StockLevel{ItemID: itemID, Name: name, Level: before + delta, SoldOut: soldOut}, before, threshold), nil
}

// itemLevel reads what moving an item's stock needs: its name, cached
// level, low-stock threshold and the staff's sold-out switch;
// sql.ErrNoRows for an unknown item.
func itemLevel(ctx context.Context, tx *wtx, itemID string) (name string, level, threshold int64, soldOut bool, err error) {
	err = tx.QueryRowContext(ctx, `SELECT i.name, COALESCE(l.level, 0), i.low_stock_threshold, NOT i.staff_available
		FROM items i LEFT JOIN stock_levels l ON l.item_id = i.id WHERE i.id = ?`, itemID).Scan(&name, &level, &threshold, &soldOut)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		err = fmt.Errorf("read stock level: %w", err)
	}
	return name, level, threshold, soldOut, err
}

// addLevel moves an item's cached level by delta, in the transaction that
// adds the movement to the ledger: the level stays the ledger's sum.
func addLevel(ctx context.Context, tx *wtx, itemID string, delta int64) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO stock_levels (item_id, level) VALUES (?, ?)
		ON CONFLICT (item_id) DO UPDATE SET level = level + excluded.level`, itemID, delta); err != nil {
		return fmt.Errorf("update stock level: %w", err)
	}
	return nil
}

// stockChange is what moving an item from level before to lvl.Level
// tells tablets: the new level, and whether it just crossed the threshold.
func stockChange(lvl pantry.StockLevel, before, threshold int64) StockChange {
	lvl.Low = pantry.IsLow(lvl.Level, threshold)
	return StockChange{Level: lvl, BecameLow: lvl.Low && !pantry.IsLow(before, threshold)}
}

// RecordStock records a staff movement (restock, waste or count correction).
// A movement that would take the level below zero is refused.
func (s *Store) RecordStock(ctx context.Context, itemID string, delta int64, reason pantry.StockReason, actor string) (StockChange, error) {
	if !reason.StaffReason() {
		return StockChange{}, pantry.Errorf(pantry.EINVALID, "reason must be restock, waste or count")
	}
	if delta == 0 || delta > pantry.MaxStockDelta || delta < -pantry.MaxStockDelta {
		return StockChange{}, pantry.Errorf(pantry.EINVALID, "delta must be non-zero and at most %d either way", pantry.MaxStockDelta)
	}
	if reason == pantry.StockRestock && delta < 0 {
		return StockChange{}, pantry.Errorf(pantry.EINVALID, "a restock adds stock: delta must be positive")
	}
	if reason == pantry.StockWaste && delta > 0 {
		return StockChange{}, pantry.Errorf(pantry.EINVALID, "waste removes stock: delta must be negative")
	}
	var ch StockChange
	err := s.write(ctx, func(ctx context.Context, tx *wtx) error {
		level, err := stockLevel(ctx, tx, itemID)
		if err != nil {
			return err
		}
		if level+delta < 0 {
			return pantry.Errorf(pantry.EINVALID, "only %d in stock: the level cannot go below zero", level)
		}
		ch, err = s.moveStock(ctx, tx, itemID, delta, reason, "", actor)
		return err
	})
	if err != nil {
		return StockChange{}, fmt.Errorf("record stock: %w", err)
	}
	return ch, nil
}

// RecordCount records a stock count: staff counted the shelf and found
// counted. The movement is the difference from the level the ledger
// holds, computed in the transaction that writes it, so a sale made
// while staff typed is not counted twice; a count that matches the
// ledger moves nothing (and reports Moved false).
func (s *Store) RecordCount(ctx context.Context, itemID string, counted int64, actor string) (ch StockChange, moved bool, err error) {
	if counted < 0 || counted > pantry.MaxStockDelta {
		return StockChange{}, false, pantry.Errorf(pantry.EINVALID, "level must be between 0 and %d", pantry.MaxStockDelta)
	}
	err = s.write(ctx, func(ctx context.Context, tx *wtx) error {
		if _, err := stockLevel(ctx, tx, itemID); err != nil {
			return err // not found, or archived
		}
		name, level, threshold, soldOut, err := itemLevel(ctx, tx, itemID)
		if err != nil {
			return err
		}
		if counted == level {
			ch = stockChange(pantry.StockLevel{ItemID: itemID, Name: name, Level: level, SoldOut: soldOut}, level, threshold)
			return nil
		}
		moved = true
		ch, err = s.moveStock(ctx, tx, itemID, counted-level, pantry.StockCount, "", actor)
		return err
	})
	if err != nil {
		return StockChange{}, false, fmt.Errorf("record count: %w", err)
	}
	return ch, moved, nil
}

func stockLevel(ctx context.Context, q querier, itemID string) (int64, error) {
	var level int64
	err := q.QueryRowContext(ctx, `SELECT COALESCE((SELECT level FROM stock_levels WHERE item_id = i.id), 0)
		FROM items i WHERE i.id = ? AND i.archived_at IS NULL`, itemID).Scan(&level)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, pantry.Errorf(pantry.ENOTFOUND, "item %s not found", itemID)
	}
	if err != nil {
		return 0, fmt.Errorf("read stock level: %w", err)
	}
	return level, nil
}

// StockLevels lists every item's level, by catalog order, but for the
// items the cloud archived.
func (s *Store) StockLevels(ctx context.Context) ([]pantry.StockLevel, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT i.id, i.name, COALESCE(l.level, 0), i.low_stock_threshold, NOT i.staff_available
		FROM items i LEFT JOIN stock_levels l ON l.item_id = i.id WHERE i.archived_at IS NULL ORDER BY i.sort, i.name`)
	if err != nil {
		return nil, fmt.Errorf("list stock: %w", err)
	}
	defer rows.Close()
	out := []pantry.StockLevel{}
	for rows.Next() {
		var l pantry.StockLevel
		var threshold int64
		if err := rows.Scan(&l.ItemID, &l.Name, &l.Level, &threshold, &l.SoldOut); err != nil {
			return nil, fmt.Errorf("list stock: %w", err)
		}
		l.Low = pantry.IsLow(l.Level, threshold)
		out = append(out, l)
	}
	return out, rows.Err()
}

// LedgerMismatches returns the items whose cached level differs from the sum
// of their ledger: always empty unless something is badly wrong. Tests and
// `pantry edge status` use it.
func (s *Store) LedgerMismatches(ctx context.Context) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT i.id FROM items i
		WHERE COALESCE((SELECT level FROM stock_levels WHERE item_id = i.id), 0)
		   != COALESCE((SELECT SUM(delta) FROM stock_movements WHERE item_id = i.id), 0)`)
	if err != nil {
		return nil, fmt.Errorf("check ledger: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("check ledger: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
