package sqlite

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// TestOrderActionsInOneGroup: taps on one ticket that the writer commits
// in one group (each in its own savepoint of one transaction, none of
// them committed yet when the next runs) still move it exactly once. The
// writer is held busy until every tap is queued, so they do share a
// group: the case where checking the order anywhere but in the group's
// transaction would let them all see it unmoved.
func TestOrderActionsInOneGroup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, orderID := openWithOrder(t)
	running, release, held := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		held <- s.write(ctx, func(context.Context, *wtx) error { close(running); <-release; return nil })
	}()
	<-running

	const n = 32
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			act := pantry.OrderAction{ActionID: pantry.NewID(), Action: pantry.ActionAdvance, From: pantry.StatusPlaced}
			_, errs[i] = s.ApplyOrderAction(ctx, orderID, act, Tablet{ID: pantry.NewID(), Username: "pantry-1"})
		})
	}
	for deadline := time.Now().Add(10 * time.Second); len(s.reqs) < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d taps queued, want %d", len(s.reqs), n)
		}
	}
	close(release)
	wg.Wait()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	advanced := 0
	for _, err := range errs {
		switch {
		case err == nil:
			advanced++
		case pantry.ErrorMessage(err) != "already accepted by tablet pantry-1":
			t.Errorf("loser: %v, want conflict: already accepted", err)
		}
	}
	if advanced != 1 {
		t.Fatalf("%d taps advanced the order, want 1", advanced)
	}
	events, err := s.Outbox(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	changes := 0
	for _, e := range events {
		if e.Type == syncproto.EventOrderStatusChanged {
			changes++
		}
	}
	if changes != 1 {
		t.Fatalf("status events=%d, want 1", changes)
	}
}

func openWithOrder(tb testing.TB) (*Store, string) {
	tb.Helper()
	ctx := context.Background()
	s, err := Open(ctx, tb.TempDir(), Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	d, err := s.SeedDemo(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	sess, _, err := s.OpenSession(ctx, d.Rooms[0].Code, time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	menu, err := s.Menu(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	res, err := s.PlaceOrder(ctx, sess, "", pantry.PlaceOrder{Lines: []pantry.LineRequest{{ItemID: menu[0].ID, Quantity: 1}}}, OrderLimit{})
	if err != nil {
		tb.Fatal(err)
	}
	return s, res.Order.ID
}

// TestRefusedActionLeavesNoWrites: an action refused after it began
// writing leaves none of its writes, while its refusal is kept as the
// tap's answer.
func TestRefusedActionLeavesNoWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, orderID := openWithOrder(t)
	key := actionKey{id: pantry.NewID(), tabletID: "t", kind: "advance", target: orderID, request: "x"}
	act := func(ctx context.Context, tx *wtx) (actionOutcome, error) {
		if _, err := tx.ExecContext(ctx, `UPDATE orders SET note = 'half-done' WHERE id = ?`, orderID); err != nil {
			return actionOutcome{}, err
		}
		return actionOutcome{}, pantry.Errorf(pantry.ECONFLICT, "changed my mind")
	}
	for i, want := range []bool{false, true} {
		out, replayed, err := s.onceWrite(ctx, key, act)
		if err != nil || replayed != want || pantry.ErrorMessage(out.refused()) != "changed my mind" {
			t.Fatalf("call %d: out=%+v replayed=%v err=%v, want the refusal, replayed=%v", i, out, replayed, err, want)
		}
	}
	if o, err := s.Order(ctx, orderID); err != nil || o.Note != "" {
		t.Fatalf("note=%q (%v), want the refused write rolled back", o.Note, err)
	}
}
