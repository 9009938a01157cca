package fleetsim

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// testConfig is a site's configuration as a pull would bring it.
func testConfig() *syncproto.Config {
	eur := func(a int64) syncproto.Money { return syncproto.Money{Amount: a, Currency: "EUR"} }
	now := time.Now().UTC()
	return &syncproto.Config{
		Revision: 4,
		Site:     syncproto.Site{ID: pantry.NewID(), OrgID: pantry.NewID(), Name: "HQ", Timezone: "Europe/Amsterdam", Currency: "EUR"},
		Spaces:   []syncproto.Space{{ID: pantry.NewID(), Name: "Room 1"}, {ID: pantry.NewID(), Name: "Room 2"}},
		Items: []syncproto.Item{
			{ID: pantry.NewID(), Name: "Coffee", Price: eur(250), Available: true},
			{ID: pantry.NewID(), Name: "Tea", Price: eur(200), Available: true},
			{ID: pantry.NewID(), Name: "Cake", Price: eur(400), Available: true},
			{ID: pantry.NewID(), Name: "Soup", Price: eur(500), Available: false},
		},
		Coupons:     []syncproto.Coupon{{ID: pantry.NewID(), Code: "WELCOME", Kind: "fixed", Value: 50, ValidFrom: now.Add(-time.Hour), ValidTo: now.Add(time.Hour)}},
		CostCenters: []syncproto.CostCenter{{ID: pantry.NewID(), Code: "CC-100", Name: "Dept"}},
	}
}

// TestGeneratorMakesEventsTheCloudApplies runs a node's generator through
// a day and checks each event as the cloud would: its payload decodes and
// validates, seqs have no gaps, every order refers to an opened session
// and a room and item of the site, its amounts add up, and every status
// change is a step the state machine allows from where the order was.
func TestGeneratorMakesEventsTheCloudApplies(t *testing.T) {
	cfg := testConfig()
	g := newGenerator(rand.New(rand.NewPCG(1, 2)), time.Now, 41)
	g.setConfig(cfg)
	var events []simEvent
	for range 2000 {
		events = append(events, g.tick()...)
	}
	events = append(events, g.backlog(700)...)

	spaces, items := map[string]bool{}, map[string]bool{}
	for _, s := range cfg.Spaces {
		spaces[s.ID] = true
	}
	for _, it := range cfg.Items {
		items[it.ID] = it.Available
	}
	sessions, expired := map[string]bool{}, map[string]bool{}
	status := map[string]pantry.OrderStatus{}
	kinds := map[string]int{}
	for i, e := range events {
		if got, want := e.Seq, int64(42+i); got != want {
			t.Fatalf("event %d: seq %d, want %d", i, got, want)
		}
		v, err := syncproto.DecodePayload(e.Event)
		if err != nil {
			t.Fatalf("event %d (%s): the cloud would dead-letter it: %v", i, e.Type, err)
		}
		kinds[e.Type]++
		switch p := v.(type) {
		case *syncproto.Session:
			if !spaces[p.SpaceID] || p.SiteID != cfg.Site.ID {
				t.Fatalf("session %s in an unknown room or site", p.ID)
			}
			if e.Type == syncproto.EventSessionExpired {
				if !sessions[p.ID] || expired[p.ID] {
					t.Fatalf("session %s expires without being open", p.ID)
				}
				expired[p.ID] = true
			} else {
				sessions[p.ID] = true
			}
		case *syncproto.OrderPlaced:
			if !sessions[p.SessionID] || expired[p.SessionID] || !spaces[p.SpaceID] || p.SiteID != cfg.Site.ID {
				t.Fatalf("order %s: session %s open=%v, room known=%v", p.ID, p.SessionID, sessions[p.SessionID] && !expired[p.SessionID], spaces[p.SpaceID])
			}
			for _, l := range p.Lines {
				if !items[l.ItemID] {
					t.Fatalf("order %s sells item %s, which the menu does not offer", p.ID, l.ItemID)
				}
			}
			if got, want := e.lines, len(p.Lines); got != want {
				t.Fatalf("order %s: counted %d lines, has %d", p.ID, got, want)
			}
			status[p.ID] = pantry.StatusPlaced
		case *syncproto.StatusChanged:
			from, ok := status[p.OrderID]
			if !ok || string(from) != p.From || !pantry.CanTransition(from, pantry.OrderStatus(p.To)) {
				t.Fatalf("order %s changes %s→%s, but it is %q", p.OrderID, p.From, p.To, from)
			}
			status[p.OrderID] = pantry.OrderStatus(p.To)
		case *syncproto.PaymentRecorded:
			if status[p.OrderID] == "" {
				t.Fatalf("payment of unknown order %s", p.OrderID)
			}
		case *syncproto.CouponRedeemed:
			if status[p.OrderID] == "" || p.CouponID != cfg.Coupons[0].ID {
				t.Fatalf("redemption of order %s, coupon %s", p.OrderID, p.CouponID)
			}
		case *syncproto.StockMovement:
			if _, ok := items[p.ItemID]; !ok {
				t.Fatalf("stock movement of unknown item %s", p.ItemID)
			}
		}
	}
	for _, typ := range []string{syncproto.EventSessionOpened, syncproto.EventSessionExpired, syncproto.EventOrderPlaced,
		syncproto.EventOrderStatusChanged, syncproto.EventPaymentRecorded, syncproto.EventCouponRedeemed, syncproto.EventStockMoved,
		syncproto.EventItemAvailability} {
		if kinds[typ] == 0 {
			t.Errorf("a day made no %s event: %v", typ, kinds)
		}
	}
	req := syncproto.PushRequest{Version: syncproto.Version, NodeID: pantry.NewID(), Events: make([]syncproto.Event, 0, len(events))}
	for _, e := range events[:min(len(events), syncproto.MaxBatchEvents)] {
		req.Events = append(req.Events, e.Event)
	}
	if err := req.Validate(); err != nil {
		t.Fatalf("a push of these events is invalid: %v", err)
	}
}

// TestGeneratorTick: a push carries a few events, and a backlog at least
// what was asked.
func TestGeneratorTick(t *testing.T) {
	g := newGenerator(rand.New(rand.NewPCG(3, 4)), time.Now, 0)
	g.setConfig(testConfig())
	total := 0
	for range 1000 {
		n := len(g.tick())
		if n == 0 {
			t.Fatal("a tick made no event")
		}
		total += n
	}
	if mean := float64(total) / 1000; mean < 2 || mean > 10 {
		t.Fatalf("mean events per push = %.1f, want a few (2 to 10)", mean)
	}
	if got := len(g.backlog(500)); got < 500 {
		t.Fatalf("backlog(500) made %d events", got)
	}
}

// TestGeneratorWithoutMenu: a site whose menu offers nothing takes no
// orders (the node then has nothing to push), rather than orders of
// items it does not sell.
func TestGeneratorWithoutMenu(t *testing.T) {
	cfg := testConfig()
	for i := range cfg.Items {
		cfg.Items[i].Available = false
	}
	g := newGenerator(rand.New(rand.NewPCG(5, 6)), time.Now, 0)
	g.setConfig(cfg)
	for range 20 {
		for _, e := range g.tick() {
			if e.Type == syncproto.EventOrderPlaced {
				t.Fatal("an order from a site that sells nothing")
			}
		}
	}
}
