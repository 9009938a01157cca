package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/internal/testclock"
)

// openClocked opens a demo store whose clock a test moves, and returns
// its demo and the id of its espresso.
func openClocked(tb testing.TB) (*sqlite.Store, *testclock.Clock, sqlite.Demo, string) {
	tb.Helper()
	ctx := context.Background()
	clock := testclock.New(time.Date(2026, 12, 6, 13, 0, 0, 0, time.UTC))
	s, err := sqlite.Open(ctx, tb.TempDir(), sqlite.Options{Now: clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	d, err := s.SeedDemo(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return s, clock, d, itemNamed(tb, s, "Espresso").ID
}

// TestDeliverByIsKept: an order's deliver-by time is stored and read back
// by every read of orders, in UTC to the second; an order without one
// reads back without one.
func TestDeliverByIsKept(t *testing.T) {
	ctx := context.Background()
	s, clock, d, espresso := openClocked(t)
	sess := mustSession(t, s, d)
	sent := clock.Now().Add(90*time.Minute + 750*time.Millisecond).In(time.FixedZone("CET", 3600))
	want := time.Date(2026, 12, 6, 14, 30, 0, 0, time.UTC)

	req := order(espresso, 2)
	req.DeliverBy = &sent
	res, err := s.PlaceOrder(ctx, sess, "", req, sqlite.OrderLimit{})
	if err != nil {
		t.Fatal(err)
	}
	asap, err := s.PlaceOrder(ctx, sess, "", order(espresso, 1), sqlite.OrderLimit{})
	if err != nil {
		t.Fatal(err)
	}
	check := func(where string, o pantry.Order) {
		t.Helper()
		switch o.ID {
		case res.Order.ID:
			if o.DeliverBy == nil || *o.DeliverBy != want {
				t.Errorf("%s: deliver_by=%v, want %v", where, o.DeliverBy, want)
			}
		case asap.Order.ID:
			if o.DeliverBy != nil {
				t.Errorf("%s: deliver_by=%v for an order placed without one, want nil", where, *o.DeliverBy)
			}
		}
	}
	check("placed", res.Order)
	check("placed", asap.Order)
	for _, id := range []string{res.Order.ID, asap.Order.ID} {
		o, err := s.Order(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		check("Order", o)
	}
	queue, err := s.Orders(ctx, sqlite.OrderFilter{Status: "open"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(queue), 2; got != want {
		t.Fatalf("open queue=%d orders, want %d", got, want)
	}
	for _, o := range queue {
		check("open queue", o)
	}
	moved, err := s.SetOrderStatus(ctx, res.Order.ID, pantry.StatusAccepted, "", "pantry-1")
	if err != nil {
		t.Fatal(err)
	}
	check("after a status change", moved.Order)
}

// TestDeliverByRefused: a deliver-by time out of bounds is invalid_input,
// and nothing is written.
func TestDeliverByRefused(t *testing.T) {
	ctx := context.Background()
	s, clock, d, espresso := openClocked(t)
	now := clock.Now()
	tests := []struct {
		name string
		at   time.Time
	}{
		{"PastTheSkew", now.Add(-pantry.DeliverBySkew - time.Second)},
		{"AnHourAgo", now.Add(-time.Hour)},
		{"PastTheLimit", now.Add(pantry.MaxDeliverAhead + time.Second)},
		{"NextWeek", now.Add(7 * 24 * time.Hour)},
		{"YearOne", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sess := mustSession(t, s, d)
			head, err := s.OutboxHead(ctx)
			if err != nil {
				t.Fatal(err)
			}
			req := order(espresso, 1)
			req.DeliverBy = &tt.at
			_, err = s.PlaceOrder(ctx, sess, "key-"+tt.name, req, sqlite.OrderLimit{})
			if got, want := pantry.ErrorCode(err), pantry.EINVALID; got != want {
				t.Fatalf("code=%q (%v), want %q", got, err, want)
			}
			if after, _ := s.OutboxHead(ctx); after != head {
				t.Fatalf("outbox head %d -> %d: a refused order wrote events", head, after)
			}
			orders, err := s.Orders(ctx, sqlite.OrderFilter{SessionID: sess.ID})
			if err != nil {
				t.Fatal(err)
			}
			if len(orders) != 0 {
				t.Fatalf("%d orders stored, want none", len(orders))
			}
			// The key was not spent on the refusal: the same key with a
			// good time places the order.
			good := now.Add(time.Hour)
			req.DeliverBy = &good
			if _, err := s.PlaceOrder(ctx, sess, "key-"+tt.name, req, sqlite.OrderLimit{}); err != nil {
				t.Fatalf("the key of a refused order cannot be used again: %v", err)
			}
		})
	}
}

// TestDeliverByReplayAfterItPassed: a retry with the same Idempotency-Key
// gets the first answer, even once the deliver-by time has passed; a
// new order for that time is refused.
func TestDeliverByReplayAfterItPassed(t *testing.T) {
	ctx := context.Background()
	s, clock, d, espresso := openClocked(t)
	sess := mustSession(t, s, d)
	soon := clock.Now().Add(5 * time.Minute)
	req := order(espresso, 1)
	req.DeliverBy = &soon
	first, err := s.PlaceOrder(ctx, sess, "retry-1", req, sqlite.OrderLimit{})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(10 * time.Minute)
	again, err := s.PlaceOrder(ctx, sess, "retry-1", req, sqlite.OrderLimit{})
	if err != nil {
		t.Fatalf("replay after deliver_by passed: %v", err)
	}
	if again.Created || again.Order.ID != first.Order.ID {
		t.Fatalf("replay created=%v id=%s, want the first order %s", again.Created, again.Order.ID, first.Order.ID)
	}
	if _, err := s.PlaceOrder(ctx, sess, "retry-2", req, sqlite.OrderLimit{}); pantry.ErrorCode(err) != pantry.EINVALID {
		t.Fatalf("a new order for a time that passed: %v, want invalid_input", err)
	}
}
