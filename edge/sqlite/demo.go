package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/pantry/pantry/internal/pantry"
)

// Demo is what --demo seeded: enough to order from a room and log in a tablet.
type Demo struct {
	OrgID  string
	SiteID string
	Rooms  []pantry.Space
	Tablet struct{ Username, Password string }
	Coupon string
}

type demoItem struct {
	name, desc      string
	price           int64
	tags, allergens []string
	stock, low      int64
	station         string
}

var demoRooms = []struct{ name, floor string }{
	{"Amsterdam", "1"}, {"Berlin", "1"}, {"Copenhagen", "2"},
	{"Dublin", "2"}, {"Edinburgh", "3"}, {"Florence", "3"},
}

// The demo's stations: drinks are made at the machine, food (the
// platters and boards that serve a meeting) is plated, and snacks are
// picked from the shelf, so each has its own tablet in a busy pantry.
const (
	demoDrinks = "drinks"
	demoFood   = "food"
	demoSnacks = "snacks"
)

var demoItems = []demoItem{
	{"Espresso", "Double shot, single origin", 250, []string{"hot", "vegan"}, nil, 400, 40, demoDrinks},
	{"Flat white", "Espresso with steamed whole milk", 350, []string{"hot", "vegetarian"}, []string{"milk"}, 300, 30, demoDrinks},
	{"Oat cappuccino", "Cappuccino with oat milk", 380, []string{"hot", "vegan"}, []string{"gluten"}, 200, 20, demoDrinks},
	{"Green tea", "Sencha, loose leaf", 220, []string{"hot", "vegan"}, nil, 250, 20, demoDrinks},
	{"Sparkling water", "0.5 l bottle", 180, []string{"cold", "vegan"}, nil, 500, 50, demoDrinks},
	{"Orange juice", "Freshly pressed, 0.3 l", 420, []string{"cold", "vegan"}, nil, 60, 10, demoDrinks},
	{"Croissant", "All-butter, baked this morning", 290, []string{"vegetarian"}, []string{"gluten", "milk", "egg"}, 80, 10, demoSnacks},
	{"Fruit bowl", "Seasonal fruit, serves 6", 1450, []string{"vegan", "gluten-free"}, nil, 12, 3, demoFood},
	{"Sandwich platter", "Twelve half sandwiches, mixed fillings", 4800, nil, []string{"gluten", "milk", "egg", "mustard"}, 4, 3, demoFood},
	{"Vegan wraps", "Eight falafel wraps with hummus", 3600, []string{"vegan"}, []string{"gluten", "sesame"}, 10, 2, demoFood},
	{"Mixed nuts", "Roasted and salted, 150 g", 320, []string{"vegan", "gluten-free"}, []string{"nuts", "peanuts"}, 90, 10, demoSnacks},
	{"Dark chocolate", "70 % cocoa, 100 g bar", 300, []string{"vegan"}, []string{"soy"}, 70, 10, demoSnacks},
	{"Cookie box", "Twelve chocolate-chip cookies", 1200, []string{"vegetarian"}, []string{"gluten", "milk", "egg"}, 25, 5, demoSnacks},
	{"Cheese board", "Three cheeses, crackers and grapes", 2900, []string{"vegetarian"}, []string{"milk", "gluten"}, 8, 2, demoFood},
}

// SeedDemo seeds one organization, one site, six rooms, fourteen items with
// stock (the sandwich platter nearly sold out), a tablet, a cost center and
// a coupon. It is idempotent: once seeded, it returns what is there. A
// data directory enrolled with a cloud is refused: its site is real.
func (s *Store) SeedDemo(ctx context.Context) (Demo, error) {
	id, enrolled, err := s.Identity(ctx)
	if err != nil {
		return Demo{}, err
	}
	if enrolled {
		return Demo{}, pantry.Errorf(pantry.EINVALID, "this data directory is enrolled with site %s; start it without --demo, or use a fresh --data directory for a demo", id.SiteID)
	}
	siteID, err := getMeta(ctx, s.r, "site_id")
	if err != nil {
		return Demo{}, err
	}
	if siteID == "" {
		if err := s.write(ctx, s.seedDemo); err != nil {
			return Demo{}, fmt.Errorf("seed demo: %w", err)
		}
	}
	return s.loadDemo(ctx)
}

func (s *Store) seedDemo(ctx context.Context, tx *wtx) error {
	if v, err := getMeta(ctx, tx, "site_id"); err != nil || v != "" {
		return err
	}
	now := s.now()
	orgID, siteID := pantry.NewID(), pantry.NewID()
	if _, err := tx.ExecContext(ctx, `INSERT INTO sites (id, org_id, name, timezone, currency) VALUES (?, ?, 'Demo HQ', 'Europe/Amsterdam', 'EUR')`, siteID, orgID); err != nil {
		return fmt.Errorf("site: %w", err)
	}
	for _, r := range demoRooms {
		if _, err := tx.ExecContext(ctx, `INSERT INTO spaces (id, site_id, name, floor, code) VALUES (?, ?, ?, ?, ?)`,
			pantry.NewID(), siteID, r.name, r.floor, pantry.NewSecret(12)); err != nil {
			return fmt.Errorf("space: %w", err)
		}
	}
	for i, it := range demoItems {
		if err := s.seedItem(ctx, tx, i, it); err != nil {
			return err
		}
	}
	password := pantry.NewSecret(12)
	if err := insertTablet(ctx, tx, "pantry-demo", password, "Demo pantry tablet"); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO cost_centers (id, code, name) VALUES (?, 'CC-1001', 'Facilities')`, pantry.NewID()); err != nil {
		return fmt.Errorf("cost center: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO coupons (id, code, kind, value, valid_from, valid_to, max_uses) VALUES (?, 'WELCOME10', 'percent', 10, ?, ?, 1000)`,
		pantry.NewID(), now.Add(-time.Hour).UnixNano(), now.AddDate(1, 0, 0).UnixNano()); err != nil {
		return fmt.Errorf("coupon: %w", err)
	}
	for k, v := range map[string]string{"org_id": orgID, "site_id": siteID, "catalog_revision": "1", "demo_tablet_password": password} {
		if err := setMeta(ctx, tx, k, v); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) seedItem(ctx context.Context, tx *wtx, i int, it demoItem) error {
	id := pantry.NewID()
	tags, allergens := encodeLabels(it.tags, it.allergens)
	if _, err := tx.ExecContext(ctx, `INSERT INTO items (id, name, description, price_amount, currency, tags, allergens, low_stock_threshold, sort, station)
		VALUES (?, ?, ?, ?, 'EUR', ?, ?, ?, ?, ?)`, id, it.name, it.desc, it.price, tags, allergens, it.low, i, it.station); err != nil {
		return fmt.Errorf("item %s: %w", it.name, err)
	}
	if _, err := s.moveStock(ctx, tx, id, it.stock, pantry.StockRestock, "", "demo"); err != nil {
		return fmt.Errorf("item %s: %w", it.name, err)
	}
	return nil
}

func (s *Store) loadDemo(ctx context.Context) (Demo, error) {
	var d Demo
	site, err := s.Site(ctx)
	if err != nil {
		return d, err
	}
	d.OrgID, d.SiteID = site.OrgID, site.ID
	if d.Rooms, err = s.Spaces(ctx); err != nil {
		return d, err
	}
	d.Tablet.Username = "pantry-demo"
	if d.Tablet.Password, err = getMeta(ctx, s.r, "demo_tablet_password"); err != nil {
		return d, err
	}
	d.Coupon = "WELCOME10"
	return d, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
