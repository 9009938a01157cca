package postgres

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// withDeliverBy returns events with the payload of their order.placed
// given deliver_by at, as an edge that has the field writes it.
func withDeliverBy(tb testing.TB, events []syncproto.Event, at time.Time) []syncproto.Event {
	tb.Helper()
	out := append([]syncproto.Event(nil), events...)
	for i, e := range out {
		if e.Type != syncproto.EventOrderPlaced {
			continue
		}
		var o syncproto.OrderPlaced
		if err := json.Unmarshal(e.Payload, &o); err != nil {
			tb.Fatal(err)
		}
		o.DeliverBy = &at
		b, err := json.Marshal(o)
		if err != nil {
			tb.Fatal(err)
		}
		out[i].Payload = b
	}
	return out
}

// TestApplyPushDeliverBy: the applier stores an order.placed's deliver_by
// with the order, in the same set-based statement; the order reads back
// with it, from one order and from the list; an order.placed without one
// (an older edge's, or an order for as soon as possible) stores NULL and
// reads back without one.
func TestApplyPushDeliverBy(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh := newShop(t, s, "A")
	ctx := t.Context()
	g := newEdgeSim(t, s, sh)
	at := t0.Add(2 * time.Hour).In(time.FixedZone("CET", 3600))

	timed, events := g.place(false)
	events = withDeliverBy(t, events, at)
	asap, more := g.place(true)
	events = append(events, more...)
	events = append(events, g.change(timed, "accepted")...)
	if resp := push(t, s, sh, events...); len(resp.DeadLettered) != 0 || resp.AppliedSeq != g.seq {
		t.Fatalf("push: %+v, want every event applied", resp)
	}
	counts := wantCounts(t, events)
	wantSameCounts(t, rowCounts(t, s, sh.org), counts)

	check := func(where string, o pantry.Order) {
		t.Helper()
		switch o.ID {
		case timed.id:
			if o.DeliverBy == nil || !o.DeliverBy.Equal(at) || o.DeliverBy.Location() != time.UTC {
				t.Errorf("%s: deliver_by=%v, want %v in UTC", where, o.DeliverBy, at.UTC())
			}
		case asap.id:
			if o.DeliverBy != nil {
				t.Errorf("%s: deliver_by=%v for an order without one, want nil", where, *o.DeliverBy)
			}
		default:
			t.Errorf("%s: unexpected order %s", where, o.ID)
		}
	}
	for _, id := range []string{timed.id, asap.id} {
		d, err := s.GetOrder(ctx, sh.org, id)
		if err != nil {
			t.Fatal(err)
		}
		check("GetOrder", d.Order)
	}
	list, _, err := s.ListOrders(ctx, sh.org, cloud.OrderFilter{}, cloud.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("ListOrders: %d orders, want 2", len(list))
	}
	for _, o := range list {
		check("ListOrders", o)
	}
	if n := countRows(t, s, sh.org, `SELECT count(*) FROM orders WHERE organization_id = $1 AND deliver_by IS NULL`, sh.org); n != 1 {
		t.Errorf("%d orders with a NULL deliver_by, want 1", n)
	}

	t.Run("ReplayChangesNothing", func(t *testing.T) {
		again := withDeliverBy(t, events, at.Add(time.Hour))
		if resp := push(t, s, sh, again...); resp.AppliedSeq != g.seq || len(resp.DeadLettered) != 0 {
			t.Fatalf("replay: %+v", resp)
		}
		d, err := s.GetOrder(ctx, sh.org, timed.id)
		if err != nil {
			t.Fatal(err)
		}
		check("after a replay", d.Order)
		wantSameCounts(t, rowCounts(t, s, sh.org), counts)
	})
}

// TestInsertOrdersDeliverBy: orders stored directly (an import) keep
// their deliver_by too, and a batch mixes orders with and without one.
func TestInsertOrdersDeliverBy(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh := newShop(t, s, "A")
	at := t0.Add(90 * time.Minute)
	timed := sh.order(orderSpec{at: t0, status: pantry.StatusPlaced, qty: [2]int{1, 0}})
	timed.DeliverBy = &at
	asap := sh.order(orderSpec{at: t0, status: pantry.StatusPlaced, qty: [2]int{0, 1}})
	mustInsert(t, s, sh.org, timed, asap)
	for _, want := range []pantry.Order{timed, asap} {
		got, err := s.GetOrder(t.Context(), sh.org, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		want.SpaceName = "Room A"
		if !equalOrder(got.Order, want) {
			t.Fatalf("got  %+v\nwant %+v", got.Order, want)
		}
	}
}
