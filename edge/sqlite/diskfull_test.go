package sqlite

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pantry/pantry/internal/pantry"
)

// TestFullDiskRefusesCleanly fills the database to a page limit (SQLite's
// max_page_count gives the same SQLITE_FULL a full disk does): the order
// that does not fit is refused with "unavailable", nothing of it is kept,
// every order acknowledged before it survives, and the store keeps
// answering.
func TestFullDiskRefusesCleanly(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d, err := s.SeedDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sess, _, err := s.OpenSession(ctx, d.Rooms[0].Code, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	menu, err := s.Menu(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Cap the file a few pages above its current size.
	err = s.write(ctx, func(ctx context.Context, tx *wtx) error {
		var pages int
		if err := tx.conn.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
			return err
		}
		return tx.raw(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages+4))
	})
	if err != nil {
		t.Fatal(err)
	}
	var placed []string
	var refused error
	for i := 0; i < 2000 && refused == nil; i++ {
		req := pantry.PlaceOrder{Lines: []pantry.LineRequest{{ItemID: menu[0].ID, Quantity: 1}}, Note: fmt.Sprint("order ", i)}
		res, err := s.PlaceOrder(ctx, sess, fmt.Sprint("k", i), req, OrderLimit{})
		if err != nil {
			refused = err
			break
		}
		placed = append(placed, res.Order.ID)
	}
	if refused == nil {
		t.Fatal("2,000 orders fit in a capped database")
	}
	if got, want := pantry.ErrorCode(refused), pantry.EUNAVAILABLE; got != want {
		t.Fatalf("refusal code=%q, want %q: %v", got, want, refused)
	}
	before, _ := s.OutboxStats(ctx)
	req := pantry.PlaceOrder{Lines: []pantry.LineRequest{{ItemID: menu[0].ID, Quantity: 1}}, Note: "one more"}
	if _, err := s.PlaceOrder(ctx, sess, "again", req, OrderLimit{}); pantry.ErrorCode(err) != pantry.EUNAVAILABLE {
		t.Fatalf("next order on a full disk: %v", err)
	}
	after, _ := s.OutboxStats(ctx)
	if after.LastSeq != before.LastSeq {
		t.Fatalf("a refused order moved the outbox from %d to %d", before.LastSeq, after.LastSeq)
	}
	for _, id := range placed {
		if _, err := s.Order(ctx, id); err != nil {
			t.Fatalf("acknowledged order %s lost: %v", id, err)
		}
	}
	if bad, _ := s.LedgerMismatches(ctx); len(bad) > 0 {
		t.Fatalf("ledger mismatches after a full disk: %v", bad)
	}
}
