package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/pantry"
)

// TestOpenOrderStations: open orders are counted at each station their
// lines go to, once per order; closed orders do not count.
func TestOpenOrderStations(t *testing.T) {
	ctx := context.Background()
	s, d := MustOpen(t)
	espresso, croissant, fruit := itemNamed(t, s, "Espresso"), itemNamed(t, s, "Croissant"), itemNamed(t, s, "Fruit bowl")
	place := func(items ...pantry.Item) pantry.Order {
		t.Helper()
		req := pantry.PlaceOrder{}
		for _, it := range items {
			req.Lines = append(req.Lines, pantry.LineRequest{ItemID: it.ID, Quantity: 1})
		}
		res, err := s.PlaceOrder(ctx, mustSession(t, s, d), "", req, sqlite.OrderLimit{})
		if err != nil {
			t.Fatal(err)
		}
		return res.Order
	}
	first := place(espresso, croissant) // drinks and snacks
	place(espresso)                     // drinks
	closed := place(fruit)              // food, then cancelled
	if _, err := s.SetOrderStatus(ctx, closed.ID, pantry.StatusCancelled, "test", "pantry-demo"); err != nil {
		t.Fatal(err)
	}
	got, err := s.OpenOrderStations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []sqlite.StationBacklog{
		{Station: "drinks", OpenOrders: 2, Oldest: first.CreatedAt},
		{Station: "snacks", OpenOrders: 1, Oldest: first.CreatedAt},
	}
	if len(got) != len(want) {
		t.Fatalf("backlog=%+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Station != want[i].Station || got[i].OpenOrders != want[i].OpenOrders || !got[i].Oldest.Equal(want[i].Oldest) {
			t.Fatalf("backlog[%d]=%+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestStaffPresenceSnapshot(t *testing.T) {
	ctx := context.Background()
	s, _ := MustOpen(t)
	if _, ok, err := s.LastStaffPresence(ctx); err != nil || ok {
		t.Fatalf("before any: ok=%v err=%v", ok, err)
	}
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	p := sqlite.StaffPresence{ObservedAt: at, Running: true,
		Tablets: []sqlite.PresentTablet{{Username: "pantry-demo", ClientID: "tablet-pantry-demo-drinks-a1", Station: "drinks", Since: at}},
		Absent:  []sqlite.AbsentStation{{Station: "food", Since: at.Add(-time.Hour), OpenOrders: 3}},
	}
	if err := s.SaveStaffPresence(ctx, p); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.LastStaffPresence(ctx)
	if err != nil || !ok || !got.ObservedAt.Equal(at) || len(got.Tablets) != 1 || got.Tablets[0] != p.Tablets[0] || len(got.Absent) != 1 || got.Absent[0] != p.Absent[0] {
		t.Fatalf("got %+v ok=%v err=%v, want %+v", got, ok, err, p)
	}
}
