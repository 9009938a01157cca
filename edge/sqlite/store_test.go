package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/pantry"
)

// MustOpen opens a store in a fresh temp dir, seeded with the demo site.
func MustOpen(tb testing.TB) (*sqlite.Store, sqlite.Demo) {
	tb.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, tb.TempDir(), sqlite.Options{})
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	d, err := s.SeedDemo(ctx)
	if err != nil {
		tb.Fatalf("seed demo: %v", err)
	}
	return s, d
}

func mustSession(tb testing.TB, s *sqlite.Store, d sqlite.Demo) pantry.Session {
	tb.Helper()
	sess, _, err := s.OpenSession(context.Background(), d.Rooms[0].Code, time.Hour)
	if err != nil {
		tb.Fatalf("open session: %v", err)
	}
	return sess
}

func itemNamed(tb testing.TB, s *sqlite.Store, name string) pantry.Item {
	tb.Helper()
	menu, err := s.Menu(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	for _, it := range menu {
		if it.Name == name {
			return it
		}
	}
	tb.Fatalf("no item %q", name)
	return pantry.Item{}
}

func level(tb testing.TB, s *sqlite.Store, itemID string) int64 {
	tb.Helper()
	levels, err := s.StockLevels(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range levels {
		if l.ItemID == itemID {
			return l.Level
		}
	}
	tb.Fatalf("no level for %s", itemID)
	return 0
}

func order(itemID string, qty int) pantry.PlaceOrder {
	return pantry.PlaceOrder{Lines: []pantry.LineRequest{{ItemID: itemID, Quantity: qty}}}
}

func TestSeedDemoIsIdempotent(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d1, err := s.SeedDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d2, err := s.SeedDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d1.SiteID != d2.SiteID || d1.Tablet.Password != d2.Tablet.Password || len(d2.Rooms) != 6 {
		t.Fatalf("reseeded: %+v vs %+v", d1, d2)
	}
	menu, _ := s.Menu(ctx)
	if got, want := len(menu), 14; got != want {
		t.Fatalf("menu=%d items, want %d", got, want)
	}
}

func TestPlaceOrder(t *testing.T) {
	ctx := context.Background()
	s, d := MustOpen(t)
	sess := mustSession(t, s, d)
	coffee := itemNamed(t, s, "Flat white")
	before := level(t, s, coffee.ID)
	req := order(coffee.ID, 3)
	req.Coupon, req.CostCenter = "welcome10", "CC-1001"
	res, err := s.PlaceOrder(ctx, sess, "k1", req, sqlite.OrderLimit{})
	if err != nil {
		t.Fatal(err)
	}
	o := res.Order
	if got, want := o.Subtotal.Amount, 3*coffee.Price.Amount; got != want {
		t.Errorf("subtotal=%d, want %d", got, want)
	}
	if got, want := o.Discount.Amount, pantry.PercentOf(3*coffee.Price.Amount, 10); got != want {
		t.Errorf("discount=%d, want %d", got, want)
	}
	if got, want := o.Payment, pantry.PayCostCenter; got != want {
		t.Errorf("payment=%s, want %s", got, want)
	}
	if got, want := level(t, s, coffee.ID), before-3; got != want {
		t.Errorf("level=%d, want %d", got, want)
	}
	got, err := s.Order(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Total != o.Total || len(got.Lines) != 1 || got.Status != pantry.StatusPlaced {
		t.Errorf("stored order %+v differs from placed %+v", got, o)
	}
	t.Run("ReplaySameBody", func(t *testing.T) {
		again, err := s.PlaceOrder(ctx, sess, "k1", req, sqlite.OrderLimit{})
		if err != nil {
			t.Fatal(err)
		}
		if again.Order.ID != o.ID || again.Created {
			t.Fatalf("replay placed a new order %s (created=%v)", again.Order.ID, again.Created)
		}
		if got, want := level(t, s, coffee.ID), before-3; got != want {
			t.Errorf("level=%d after replay, want %d", got, want)
		}
	})
	t.Run("ReplayOtherBody", func(t *testing.T) {
		_, err := s.PlaceOrder(ctx, sess, "k1", order(coffee.ID, 1), sqlite.OrderLimit{})
		if got, want := pantry.ErrorCode(err), pantry.ECONFLICT; got != want {
			t.Fatalf("code=%q, want %q", got, want)
		}
	})
}

func TestOrderLifecycle(t *testing.T) {
	ctx := context.Background()
	s, d := MustOpen(t)
	sess := mustSession(t, s, d)
	it := itemNamed(t, s, "Croissant")
	before := level(t, s, it.ID)
	res, err := s.PlaceOrder(ctx, sess, "", order(it.ID, 2), sqlite.OrderLimit{})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Order.ID
	if _, err := s.SetOrderStatus(ctx, id, pantry.StatusReady, "", "t"); pantry.ErrorCode(err) != pantry.EINVALIDTRANSITION {
		t.Fatalf("placed->ready: err=%v, want invalid_transition", err)
	}
	if _, err := s.SetOrderStatus(ctx, id, pantry.StatusCancelled, "", "t"); pantry.ErrorCode(err) != pantry.EINVALID {
		t.Fatalf("cancel without reason: err=%v, want invalid_input", err)
	}
	if _, err := s.SetOrderStatus(ctx, id, pantry.StatusAccepted, "", "t"); err != nil {
		t.Fatal(err)
	}
	res, err = s.SetOrderStatus(ctx, id, pantry.StatusCancelled, "guest left", "t")
	if err != nil {
		t.Fatal(err)
	}
	if res.Order.Status != pantry.StatusCancelled || res.Order.CancelReason != "guest left" {
		t.Fatalf("order=%+v", res.Order)
	}
	if got, want := level(t, s, it.ID), before; got != want {
		t.Errorf("level=%d after cancel, want %d", got, want)
	}
	if _, err := s.SetOrderStatus(ctx, id, pantry.StatusAccepted, "", "t"); pantry.ErrorCode(err) != pantry.EINVALIDTRANSITION {
		t.Fatalf("cancelled->accepted: err=%v", err)
	}
	if bad, _ := s.LedgerMismatches(ctx); len(bad) > 0 {
		t.Fatalf("ledger mismatches: %v", bad)
	}
}

func TestOutOfStockWritesNothing(t *testing.T) {
	ctx := context.Background()
	s, d := MustOpen(t)
	sess := mustSession(t, s, d)
	platter := itemNamed(t, s, "Sandwich platter")
	coffee := itemNamed(t, s, "Espresso")
	st, _ := s.OutboxStats(ctx)
	req := pantry.PlaceOrder{Lines: []pantry.LineRequest{{ItemID: coffee.ID, Quantity: 1}, {ItemID: platter.ID, Quantity: 5}}}
	_, err := s.PlaceOrder(ctx, sess, "", req, sqlite.OrderLimit{})
	if got, want := pantry.ErrorCode(err), pantry.EOUTOFSTOCK; got != want {
		t.Fatalf("code=%q, want %q (%v)", got, want, err)
	}
	after, _ := s.OutboxStats(ctx)
	if after.LastSeq != st.LastSeq {
		t.Fatalf("outbox moved from %d to %d on a refused order", st.LastSeq, after.LastSeq)
	}
	if got, want := level(t, s, coffee.ID), coffee.Level; got != want {
		t.Fatalf("espresso level=%d, want %d", got, want)
	}
}

func TestConcurrentLastUnits(t *testing.T) {
	ctx := context.Background()
	s, d := MustOpen(t)
	it := itemNamed(t, s, "Cookie box")
	if _, err := s.RecordStock(ctx, it.ID, 10-it.Level, pantry.StockCount, "t"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, out := 0, 0
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sess := mustSession(t, s, d)
			_, err := s.PlaceOrder(ctx, sess, "", order(it.ID, 1), sqlite.OrderLimit{})
			mu.Lock()
			defer mu.Unlock()
			switch pantry.ErrorCode(err) {
			case "":
				ok++
			case pantry.EOUTOFSTOCK:
				out++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != 10 || out != 40 {
		t.Fatalf("ok=%d out_of_stock=%d, want 10 and 40", ok, out)
	}
	if got := level(t, s, it.ID); got != 0 {
		t.Fatalf("level=%d, want 0", got)
	}
}

func TestOutboxIsGapless(t *testing.T) {
	ctx := context.Background()
	s, d := MustOpen(t)
	sess := mustSession(t, s, d)
	it := itemNamed(t, s, "Green tea")
	for i := range 20 {
		q := 1
		if i%3 == 0 {
			q = 1000 // refused by validation
		}
		s.PlaceOrder(ctx, sess, "", order(it.ID, q), sqlite.OrderLimit{})
	}
	events, err := s.Outbox(ctx, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range events {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d", i, e.Seq)
		}
	}
}

func TestSessionExpiry(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d, err := s.SeedDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, token, err := s.OpenSession(ctx, d.Rooms[1].Code, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByToken(ctx, token); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour)
	if _, err := s.SessionByToken(ctx, token); pantry.ErrorCode(err) != pantry.ESESSIONEXPIRED {
		t.Fatalf("err=%v, want session_expired", err)
	}
	expired, err := s.ExpireSessions(ctx)
	if err != nil || len(expired) != 1 {
		t.Fatalf("expired=%v err=%v", expired, err)
	}
	if again, _ := s.ExpireSessions(ctx); len(again) != 0 {
		t.Fatalf("expired twice: %v", again)
	}
}

// TestWriteAfterCloseIsRefused: a write racing shutdown gets a clear
// refusal instead of waiting forever for a writer that has stopped.
func TestWriteAfterCloseIsRefused(t *testing.T) {
	s, d := MustOpen(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for i := range 20 {
		done := make(chan error, 1)
		go func() {
			_, _, err := s.OpenSession(context.Background(), d.Rooms[0].Code, time.Hour)
			done <- err
		}()
		select {
		case err := <-done:
			if got, want := pantry.ErrorCode(err), pantry.EUNAVAILABLE; got != want {
				t.Fatalf("write %d after Close: code=%q, want %q (%v)", i, got, want, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("write %d after Close is still waiting: queued for a writer that has stopped", i)
		}
	}
}

// TestWALStaysBounded: under a steady stream of commits the WAL must keep
// restarting. Background checkpoints alone never let it (a commit always
// lands during the copy) and it grew by ~100 KB per order.
func TestWALStaysBounded(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := sqlite.Open(ctx, dir, sqlite.Options{CheckpointEvery: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d, err := s.SeedDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sess := mustSession(t, s, d)
	it := itemNamed(t, s, "Espresso")
	if _, err := s.RecordStock(ctx, it.ID, 10000, pantry.StockRestock, "t"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 250 {
				if _, err := s.PlaceOrder(ctx, sess, "", order(it.ID, 1), sqlite.OrderLimit{}); err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	fi, err := os.Stat(filepath.Join(dir, sqlite.FileName+"-wal"))
	if err != nil {
		t.Fatal(err)
	}
	// 2,000 orders touch ~20 pages each: 160 MB of WAL if it never restarts.
	if got, limit := fi.Size(), int64(40<<20); got > limit {
		t.Fatalf("WAL is %d MB after 2,000 orders, want under %d MB", got>>20, limit>>20)
	}
}
