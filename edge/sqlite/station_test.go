package sqlite_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// lineSnapshot is what a ticket shows of a line besides the item.
type lineSnapshot struct {
	station         string
	tags, allergens []string
}

func snapshotOf(l pantry.OrderLine) lineSnapshot { return lineSnapshot{l.Station, l.Tags, l.Allergens} }

func (a lineSnapshot) equal(b lineSnapshot) bool {
	return a.station == b.station && slices.Equal(a.tags, b.tags) && slices.Equal(a.allergens, b.allergens)
}

// TestOrderLinesKeepItemSnapshot: an order's lines carry the station,
// tags and allergens the item had when it was ordered, however the cloud
// changes the item afterwards; the menu and new orders follow the cloud.
func TestOrderLinesKeepItemSnapshot(t *testing.T) {
	ctx := context.Background()
	c := newCloudSite(t)
	c.cfg.Items[1].Station, c.cfg.Items[1].Tags = "food", []string{"vegetarian"} // the croissant, with gluten
	s := mustEnroll(t, c)
	croissant := c.cfg.Items[1]
	room := c.cfg.Spaces[0].Code
	placed, err := s.PlaceOrder(ctx, mustSessionIn(t, s, room), "", order(croissant.ID, 2), sqlite.OrderLimit{})
	if err != nil {
		t.Fatal(err)
	}
	then := lineSnapshot{"food", []string{"vegetarian"}, []string{"gluten"}}
	if got := snapshotOf(placed.Order.Lines[0]); !got.equal(then) {
		t.Fatalf("placed line=%+v, want %+v", got, then)
	}

	// Revision 2: the croissant moves to the snacks station and gains milk.
	c.cfg.Items[1].Station, c.cfg.Items[1].Allergens, c.cfg.Items[1].Tags = "snacks", []string{"gluten", "milk"}, nil
	mustApply(t, s, c.page(2))

	t.Run("OrderKeepsSnapshot", func(t *testing.T) {
		o, err := s.Order(ctx, placed.Order.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got := snapshotOf(o.Lines[0]); !got.equal(then) {
			t.Fatalf("line after the change=%+v, want %+v", got, then)
		}
	})
	t.Run("QueueKeepsSnapshot", func(t *testing.T) {
		open, err := s.Orders(ctx, sqlite.OrderFilter{Status: "open"})
		if err != nil || len(open) != 1 {
			t.Fatalf("open orders=%+v err=%v, want one", open, err)
		}
		if got := snapshotOf(open[0].Lines[0]); !got.equal(then) {
			t.Fatalf("queued line=%+v, want %+v", got, then)
		}
	})
	t.Run("MenuFollowsCloud", func(t *testing.T) {
		it, _ := menuItem(t, s, croissant.ID)
		if got, want := it.Station, "snacks"; got != want {
			t.Fatalf("menu station=%q, want %q", got, want)
		}
	})
	t.Run("NewOrderTakesNewSnapshot", func(t *testing.T) {
		res, err := s.PlaceOrder(ctx, mustSessionIn(t, s, room), "", order(croissant.ID, 1), sqlite.OrderLimit{})
		if err != nil {
			t.Fatal(err)
		}
		want := lineSnapshot{"snacks", []string{}, []string{"gluten", "milk"}}
		if got := snapshotOf(res.Order.Lines[0]); !got.equal(want) {
			t.Fatalf("new line=%+v, want %+v", got, want)
		}
	})
	t.Run("NoStationNoLabels", func(t *testing.T) {
		fruit := c.cfg.Items[2]
		res, err := s.PlaceOrder(ctx, mustSessionIn(t, s, room), "", order(fruit.ID, 1), sqlite.OrderLimit{})
		if err != nil {
			t.Fatal(err)
		}
		if l := res.Order.Lines[0]; l.Station != "" || len(l.Tags) != 0 || len(l.Allergens) != 0 {
			t.Fatalf("line of an item without station or labels=%+v", l)
		}
	})
}

// TestApplyPullRefusesBadStation: a snapshot with a station no tablet
// could choose is refused whole; the node keeps what it had.
func TestApplyPullRefusesBadStation(t *testing.T) {
	ctx := context.Background()
	c := newCloudSite(t)
	c.cfg.Items[0].Station = "drinks"
	s := mustEnroll(t, c)
	for _, bad := range []string{"Drinks", "hot food", pantry.StationAll, strings.Repeat("x", 33)} {
		t.Run(bad, func(t *testing.T) {
			c.cfg.Items[0].Station, c.cfg.Items[0].Name = bad, "Renamed"
			wantErrCode(t, s.ApplyPull(ctx, c.page(2)), pantry.EINVALID, "station")
			it, _ := menuItem(t, s, c.cfg.Items[0].ID)
			if it.Station != "drinks" || it.Name != "Espresso" {
				t.Fatalf("after a refused snapshot: %+v", it)
			}
			if st, _ := s.SyncState(ctx); st.Cursor.ConfigRevision != 1 {
				t.Fatalf("cursor moved to %+v", st.Cursor)
			}
		})
	}
}

// TestStationRulesAgree: the domain's rule and the wire's, written twice
// because syncproto imports only the standard library, say the same.
func TestStationRulesAgree(t *testing.T) {
	cases := []string{"", "a", "drinks", "hot-food", "-", "9", "all", "all-day", "All", "Drinks", "hot food", "hot_food",
		"café", "drinks\n", "drinks ", " drinks", strings.Repeat("a", 32), strings.Repeat("a", 33), "a/b", `"`, "\x00"}
	for c := range 128 {
		cases = append(cases, string(rune(c)), "x"+string(rune(c))+"y")
	}
	for _, st := range cases {
		if d, w := pantry.ValidStation(st), syncproto.ValidStation(st); d != w {
			t.Errorf("station %q: pantry says %v, syncproto %v", st, d, w)
		}
	}
}

// TestDemoItemsHaveStations: the demo's tablets have stations to choose.
func TestDemoItemsHaveStations(t *testing.T) {
	s, _ := MustOpen(t)
	want := map[string]string{"Espresso": "drinks", "Orange juice": "drinks", "Sandwich platter": "food",
		"Cheese board": "food", "Mixed nuts": "snacks", "Croissant": "snacks"}
	for name, station := range want {
		if got := itemNamed(t, s, name).Station; got != station {
			t.Errorf("%s: station %q, want %q", name, got, station)
		}
	}
	menu, err := s.Menu(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range menu {
		if !pantry.ValidStation(it.Station) || it.Station == "" {
			t.Errorf("%s: station %q", it.Name, it.Station)
		}
	}
}
