package postgres

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// pull pulls for node after cursor, failing the test on an error.
func (f *catalogFixture) pull(t *testing.T, node cloud.Node, cursor syncproto.Cursor) syncproto.PullResponse {
	t.Helper()
	resp, err := f.s.Pull(t.Context(), node, syncproto.PullRequest{Version: syncproto.Version, NodeID: node.ID, Cursor: cursor}, time.Now())
	if err != nil {
		t.Fatalf("pull after %+v: %v", cursor, err)
	}
	return resp
}

func TestPullConfig(t *testing.T) {
	t.Parallel()
	f := newCatalogFixture(t)
	a, ctx := f.a, t.Context()
	site, other := f.site(t, a, "EUR"), f.site(t, a, "EUR")
	tea, coffee := f.item(t, a, "Tea", 200, "EUR"), f.item(t, a, "Coffee", 250, "EUR")
	bagel, water := f.item(t, a, "Bagel", 300, "USD"), f.item(t, a, "Water", 100, "EUR")
	gone := f.item(t, a, "Gone", 100, "EUR")
	drinks := "drinks"
	if _, err := f.s.UpdateItem(ctx, a.id, a.who, tea, cloud.ItemUpdate{Tags: &[]string{"hot"}, Station: &drinks}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.PutMenu(ctx, a.id, a.who, site, []cloud.MenuEntry{
		{ItemID: tea, Available: true},
		{ItemID: coffee, Available: false, Price: &pantry.Money{Amount: 280, Currency: "EUR"}},
		{ItemID: bagel, Available: true, Price: &pantry.Money{Amount: 310, Currency: "EUR"}},
		{ItemID: gone, Available: true},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.PutMenu(ctx, a.id, a.who, other, []cloud.MenuEntry{{ItemID: water, Available: true}}); err != nil {
		t.Fatal(err)
	}
	yes := true
	if _, err := f.s.UpdateItem(ctx, a.id, a.who, gone, cloud.ItemUpdate{Archived: &yes}); err != nil {
		t.Fatal(err)
	}
	room, err := f.s.CreateSpace(ctx, a.id, a.who, site, cloud.SpaceInput{Name: "Room A", Floor: "3"})
	if err != nil {
		t.Fatal(err)
	}
	closed, err := f.s.CreateSpace(ctx, a.id, a.who, site, cloud.SpaceInput{Name: "Room B"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.UpdateSpace(ctx, a.id, a.who, site, closed.ID, cloud.SpaceUpdate{Archived: &yes}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.CreateSpace(ctx, a.id, a.who, other, cloud.SpaceInput{Name: "Elsewhere"}); err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	welcome, err := f.s.CreateCoupon(ctx, a.id, a.who, cloud.CouponInput{Code: "WELCOME", Kind: pantry.CouponPercent, Value: 10,
		ValidFrom: from, ValidTo: from.AddDate(1, 0, 0), MaxUsesPerSite: 5})
	if err != nil {
		t.Fatal(err)
	}
	old, err := f.s.CreateCoupon(ctx, a.id, a.who, cloud.CouponInput{Code: "OLD", Kind: pantry.CouponFixed, Value: 50, ValidFrom: from, ValidTo: from.AddDate(0, 1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.UpdateCoupon(ctx, a.id, a.who, old.ID, cloud.CouponUpdate{Archived: &yes}); err != nil {
		t.Fatal(err)
	}
	finance, err := f.s.CreateCostCenter(ctx, a.id, a.who, cloud.CostCenterInput{Code: "CC-1", Name: "Finance"})
	if err != nil {
		t.Fatal(err)
	}
	closedCC, err := f.s.CreateCostCenter(ctx, a.id, a.who, cloud.CostCenterInput{Code: "CC-0"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.UpdateCostCenter(ctx, a.id, a.who, closedCC.ID, cloud.CostCenterUpdate{Archived: &yes}); err != nil {
		t.Fatal(err)
	}
	tablet, _, err := f.s.CreateTablet(ctx, a.id, a.who, site, "Pantry 1")
	if err != nil {
		t.Fatal(err)
	}
	lost, _, err := f.s.CreateTablet(ctx, a.id, a.who, site, "Lost")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.RevokeTablet(ctx, a.id, a.who, site, lost.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.s.CreateTablet(ctx, a.id, a.who, other, "Elsewhere"); err != nil {
		t.Fatal(err)
	}
	// Organization B's catalog must not leak into A's snapshot.
	bSite := f.site(t, f.b, "EUR")
	f.item(t, f.b, "B's item", 100, "EUR")
	if _, err := f.s.CreateSpace(ctx, f.b.id, f.b.who, bSite, cloud.SpaceInput{Name: "B's room"}); err != nil {
		t.Fatal(err)
	}
	node, _ := f.enroll(t, a, site)
	rev := f.revision(t, a.id, site)

	resp := f.pull(t, node, syncproto.Cursor{})
	if resp.Version != syncproto.Version || resp.Cursor != (syncproto.Cursor{ConfigRevision: rev}) || resp.More || resp.Stock == nil || len(resp.Stock) != 0 {
		t.Fatalf("response %+v, want the config at revision %d and no stock", resp, rev)
	}
	cfg := resp.Config
	if cfg == nil {
		t.Fatal("no config for an edge that has none")
	}
	t.Run("Site", func(t *testing.T) {
		want := syncproto.Site{ID: site, OrgID: a.id, Name: "Site", Timezone: "Europe/Paris", Currency: "EUR"}
		if cfg.Revision != rev || cfg.Site != want {
			t.Errorf("revision %d, site %+v; want %d, %+v", cfg.Revision, cfg.Site, rev, want)
		}
	})
	t.Run("Spaces", func(t *testing.T) {
		want := []syncproto.Space{{ID: room.ID, Name: "Room A", Floor: "3", Code: room.Code}}
		if !slices.Equal(cfg.Spaces, want) {
			t.Errorf("spaces %+v, want %+v", cfg.Spaces, want)
		}
	})
	t.Run("ItemsAreTheMenu", func(t *testing.T) {
		type item struct {
			id        string
			price     syncproto.Money
			available bool
		}
		var got []item
		for _, it := range cfg.Items {
			got = append(got, item{it.ID, it.Price, it.Available})
			if it.Tags == nil || it.Allergens == nil {
				t.Errorf("item %s: nil tags or allergens", it.Name)
			}
		}
		eur := func(n int64) syncproto.Money { return syncproto.Money{Amount: n, Currency: "EUR"} }
		want := []item{{bagel, eur(310), true}, {coffee, eur(280), false}, {tea, eur(200), true}} // by name; not Water, not Gone
		if !slices.Equal(got, want) {
			t.Errorf("items %+v, want %+v", got, want)
		}
		if i := slices.IndexFunc(cfg.Items, func(it syncproto.Item) bool { return it.ID == tea }); i < 0 || !slices.Equal(cfg.Items[i].Tags, []string{"hot"}) {
			t.Errorf("tea's tags lost: %+v", cfg.Items)
		}
		for _, it := range cfg.Items {
			if want := map[string]string{tea: "drinks"}[it.ID]; it.Station != want {
				t.Errorf("item %s: station %q, want %q", it.Name, it.Station, want)
			}
		}
	})
	t.Run("Coupons", func(t *testing.T) {
		want := []syncproto.Coupon{{ID: welcome.ID, Code: "WELCOME", Kind: "percent", Value: 10, ValidFrom: from, ValidTo: from.AddDate(1, 0, 0), MaxUses: 5}}
		if len(cfg.Coupons) != 1 || cfg.Coupons[0].ID != want[0].ID || cfg.Coupons[0].Code != "WELCOME" || cfg.Coupons[0].Kind != "percent" ||
			cfg.Coupons[0].Value != 10 || !cfg.Coupons[0].ValidFrom.Equal(from) || !cfg.Coupons[0].ValidTo.Equal(want[0].ValidTo) || cfg.Coupons[0].MaxUses != 5 {
			t.Errorf("coupons %+v, want %+v", cfg.Coupons, want)
		}
	})
	t.Run("CostCenters", func(t *testing.T) {
		want := []syncproto.CostCenter{{ID: finance.ID, Code: "CC-1", Name: "Finance"}}
		if !slices.Equal(cfg.CostCenters, want) {
			t.Errorf("cost centers %+v, want %+v", cfg.CostCenters, want)
		}
	})
	t.Run("Tablets", func(t *testing.T) {
		if len(cfg.Tablets) != 1 || cfg.Tablets[0].ID != tablet.ID || cfg.Tablets[0].Username != tablet.Username ||
			cfg.Tablets[0].Name != "Pantry 1" || !strings.HasPrefix(cfg.Tablets[0].PasswordHash, "$2a$10$") {
			t.Errorf("tablets %+v, want only %+v with its bcrypt hash", cfg.Tablets, tablet)
		}
	})
	t.Run("NotAgainWhenCurrent", func(t *testing.T) {
		again := f.pull(t, node, resp.Cursor)
		if again.Config != nil || again.Cursor != resp.Cursor || len(again.Stock) != 0 {
			t.Errorf("second pull %+v, want nothing new", again)
		}
	})
	t.Run("AgainWhenAhead", func(t *testing.T) {
		// An edge ahead of the cloud (a database restored from a backup)
		// is sent the cloud's configuration.
		ahead := f.pull(t, node, syncproto.Cursor{ConfigRevision: rev + 5})
		if ahead.Config == nil || ahead.Cursor.ConfigRevision != rev {
			t.Errorf("pull ahead %+v, want the config at %d", ahead, rev)
		}
	})
	t.Run("AgainAfterAChange", func(t *testing.T) {
		rotated, err := f.s.RotateSpaceCode(ctx, a.id, a.who, site, room.ID)
		if err != nil {
			t.Fatal(err)
		}
		next := f.pull(t, node, resp.Cursor)
		if next.Config == nil || next.Cursor.ConfigRevision != rev+1 || len(next.Config.Spaces) != 1 || next.Config.Spaces[0].Code != rotated.Code {
			t.Errorf("pull after a code rotation %+v, want the new code at revision %d", next, rev+1)
		}
	})
	t.Run("RecordsContact", func(t *testing.T) {
		now := time.Now().UTC().Truncate(time.Millisecond)
		cursor := syncproto.Cursor{ConfigRevision: f.revision(t, a.id, site)}
		req := syncproto.PullRequest{Version: syncproto.Version, NodeID: node.ID, SoftwareVersion: "2.0.0", Cursor: cursor,
			SentAt: now.Add(1500 * time.Millisecond), OutboxHead: 42}
		if _, err := f.s.Pull(ctx, node, req, now); err != nil {
			t.Fatal(err)
		}
		req.OutboxHead, req.SoftwareVersion, req.SentAt = 10, "", now.Add(-time.Second)
		if _, err := f.s.Pull(ctx, node, req, now); err != nil {
			t.Fatal(err)
		}
		st, err := f.s.GetNode(ctx, a.id, node.ID)
		if err != nil {
			t.Fatal(err)
		}
		if st.LastPullAt == nil || !st.LastPullAt.Equal(now) || st.LastSeenAt == nil || st.LastSeenAt.Before(now) ||
			st.ConfigRevision != cursor.ConfigRevision || st.SiteRevision != cursor.ConfigRevision ||
			st.SoftwareVersion != "2.0.0" || st.EdgeLastSeq != 42 || st.ClockSkewMS == nil || *st.ClockSkewMS != -1000 {
			t.Errorf("node after pulls %+v", st)
		}
	})
	t.Run("AnotherNodeID", func(t *testing.T) {
		_, err := f.s.Pull(ctx, node, syncproto.PullRequest{Version: syncproto.Version, NodeID: pantry.NewID()}, time.Now())
		wantError(t, err, pantry.EFORBIDDEN, "this credential is node ")
	})
}

// TestPullNumbersNewSite: a site no change has numbered (revision 0) is
// served at revision 1, so that an edge's cursor 0 keeps meaning "no
// configuration".
func TestPullNumbersNewSite(t *testing.T) {
	t.Parallel()
	f := newCatalogFixture(t)
	site := f.site(t, f.a, "EUR")
	node, _ := f.enroll(t, f.a, site)
	if rev := f.revision(t, f.a.id, site); rev != 0 {
		t.Fatalf("a new site at revision %d, want 0", rev)
	}
	resp := f.pull(t, node, syncproto.Cursor{})
	if resp.Config == nil || resp.Config.Revision != 1 || resp.Cursor.ConfigRevision != 1 || f.revision(t, f.a.id, site) != 1 {
		t.Fatalf("first pull %+v, want the config at revision 1", resp)
	}
	if again := f.pull(t, node, resp.Cursor); again.Config != nil {
		t.Errorf("second pull sent the config again")
	}
	changed, err := f.s.WaitForChange(t.Context(), node, resp.Cursor, 100*time.Millisecond)
	if err != nil || changed {
		t.Errorf("wait at the current revision: %v, %v; want no change", changed, err)
	}
}

// TestPullTenancy: a node reads its own site and nothing else, whatever
// Node it is handed.
func TestPullTenancy(t *testing.T) {
	t.Parallel()
	f := newCatalogFixture(t)
	a, b, ctx := f.a, f.b, t.Context()
	aSite, aOther, bSite := f.site(t, a, "EUR"), f.site(t, a, "EUR"), f.site(t, b, "EUR")
	aItem, bItem := f.item(t, a, "Tea", 200, "EUR"), f.item(t, b, "Tea", 200, "EUR")
	for _, o := range []struct {
		org  catalogOrg
		site string
	}{{a, aSite}, {b, bSite}} {
		if _, err := f.s.CreateSpace(ctx, o.org.id, o.org.who, o.site, cloud.SpaceInput{Name: "Room"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.s.RecordStockMovement(ctx, b.id, b.who, bSite, bItem, 5, "restock"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.RecordStockMovement(ctx, a.id, a.who, aOther, aItem, 5, "restock"); err != nil {
		t.Fatal(err)
	}
	_, aCred := f.enroll(t, a, aSite)
	bNode, _ := f.enroll(t, b, bSite)
	aNode, err := syncServer(f.s).AuthenticateNode(ctx, aCred)
	if err != nil {
		t.Fatal(err)
	}

	resp := f.pull(t, aNode, syncproto.Cursor{})
	if resp.Config.Site.ID != aSite || resp.Config.Site.OrgID != a.id || len(resp.Config.Spaces) != 1 || len(resp.Stock) != 0 {
		t.Errorf("A's pull %+v", resp)
	}
	forged := map[string]cloud.Node{
		"AnotherOrgsSite":      {OrgID: a.id, SiteID: bSite, ID: aNode.ID},
		"AnotherOrg":           {OrgID: b.id, SiteID: bSite, ID: aNode.ID},
		"AnotherOrgOwnSite":    {OrgID: b.id, SiteID: aSite, ID: aNode.ID},
		"AnotherSite":          {OrgID: a.id, SiteID: aOther, ID: aNode.ID},
		"AnotherOrgsNode":      {OrgID: a.id, SiteID: aSite, ID: bNode.ID},
		"AnotherOrgsNodeAsOrg": {OrgID: b.id, SiteID: aSite, ID: bNode.ID},
		"Garbage":              {OrgID: "a", SiteID: "b", ID: "c"},
		"Zero":                 {},
	}
	for name, node := range forged {
		t.Run(name, func(t *testing.T) {
			_, err := f.s.Pull(ctx, node, syncproto.PullRequest{Version: syncproto.Version}, time.Now())
			wantError(t, err, pantry.EUNAUTHORIZED, "invalid node credential")
			_, err = f.s.WaitForChange(ctx, node, syncproto.Cursor{}, time.Second)
			wantError(t, err, pantry.EUNAUTHORIZED, "invalid node credential")
		})
	}
	var pulled int
	if err := f.super.QueryRow(ctx, `SELECT count(*) FROM edge_nodes WHERE last_pull_at IS NOT NULL AND id <> $1`, aNode.ID).Scan(&pulled); err != nil || pulled != 0 {
		t.Errorf("%d other nodes recorded as pulled (%v), want 0", pulled, err)
	}
}

// TestEveryConfigChangeBumpsRevision: every change to what an edge runs
// on moves its site's revision in its own transaction, and the next pull
// brings the change; a site's own changes leave other sites alone,
// organization-wide ones (catalog, coupons, cost centers) move them all.
func TestEveryConfigChangeBumpsRevision(t *testing.T) {
	t.Parallel()
	f := newCatalogFixture(t)
	a, ctx := f.a, t.Context()
	site, other := f.site(t, a, "EUR"), f.site(t, a, "EUR")
	bSite := f.site(t, f.b, "EUR")
	item := f.item(t, a, "Tea", 200, "EUR")
	space, err := f.s.CreateSpace(ctx, a.id, a.who, site, cloud.SpaceInput{Name: "Room"})
	if err != nil {
		t.Fatal(err)
	}
	tablet, _, err := f.s.CreateTablet(ctx, a.id, a.who, site, "Pantry")
	if err != nil {
		t.Fatal(err)
	}
	coupon, err := f.s.CreateCoupon(ctx, a.id, a.who, cloud.CouponInput{Code: "C", Kind: pantry.CouponPercent, Value: 5,
		ValidFrom: time.Now(), ValidTo: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := f.s.CreateCostCenter(ctx, a.id, a.who, cloud.CostCenterInput{Code: "CC"})
	if err != nil {
		t.Fatal(err)
	}
	node, _ := f.enroll(t, a, site)
	cursor := f.pull(t, node, syncproto.Cursor{}).Cursor
	name, tz, yes, price := "New name", "UTC", true, pantry.Money{Amount: 220, Currency: "EUR"}
	ccName, value := "Finance", int64(7)

	tests := []struct {
		name     string
		orgWide  bool
		change   func() error
		reflects func(*syncproto.Config) bool // the pulled config shows the change
	}{
		{"CreateSpace", false, func() error {
			_, err := f.s.CreateSpace(ctx, a.id, a.who, site, cloud.SpaceInput{Name: "Room 2"})
			return err
		}, func(c *syncproto.Config) bool { return len(c.Spaces) == 2 }},
		{"UpdateSpace", false, func() error {
			_, err := f.s.UpdateSpace(ctx, a.id, a.who, site, space.ID, cloud.SpaceUpdate{Name: &name})
			return err
		}, func(c *syncproto.Config) bool {
			return slices.ContainsFunc(c.Spaces, func(s syncproto.Space) bool { return s.Name == name })
		}},
		{"RotateSpaceCode", false, func() error {
			_, err := f.s.RotateSpaceCode(ctx, a.id, a.who, site, space.ID)
			return err
		}, nil},
		{"ArchiveSpace", false, func() error {
			_, err := f.s.UpdateSpace(ctx, a.id, a.who, site, space.ID, cloud.SpaceUpdate{Archived: &yes})
			return err
		}, func(c *syncproto.Config) bool { return len(c.Spaces) == 1 }},
		{"CreateTablet", false, func() error {
			_, _, err := f.s.CreateTablet(ctx, a.id, a.who, site, "Pantry 2")
			return err
		}, func(c *syncproto.Config) bool { return len(c.Tablets) == 2 }},
		{"RevokeTablet", false, func() error {
			_, err := f.s.RevokeTablet(ctx, a.id, a.who, site, tablet.ID)
			return err
		}, func(c *syncproto.Config) bool { return len(c.Tablets) == 1 }},
		{"RenameSite", false, func() error {
			_, err := f.s.UpdateSite(ctx, a.id, a.who, site, cloud.SiteUpdate{Name: &name})
			return err
		}, func(c *syncproto.Config) bool { return c.Site.Name == name }},
		{"SiteTimezone", false, func() error {
			_, err := f.s.UpdateSite(ctx, a.id, a.who, site, cloud.SiteUpdate{Timezone: &tz})
			return err
		}, func(c *syncproto.Config) bool { return c.Site.Timezone == tz }},
		{"PutMenu", false, func() error {
			_, err := f.s.PutMenu(ctx, a.id, a.who, site, []cloud.MenuEntry{{ItemID: item, Available: true}})
			return err
		}, func(c *syncproto.Config) bool { return len(c.Items) == 1 && c.Items[0].Price.Amount == 200 }},
		{"MenuPrice", false, func() error {
			_, err := f.s.PutMenu(ctx, a.id, a.who, site, []cloud.MenuEntry{{ItemID: item, Available: true, Price: &pantry.Money{Amount: 180, Currency: "EUR"}}})
			return err
		}, func(c *syncproto.Config) bool { return len(c.Items) == 1 && c.Items[0].Price.Amount == 180 }},
		{"CreateItem", true, func() error {
			_, err := f.s.CreateItem(ctx, a.id, a.who, cloud.ItemInput{Name: "Cake", Price: price})
			return err
		}, nil},
		{"UpdateItem", true, func() error {
			_, err := f.s.UpdateItem(ctx, a.id, a.who, item, cloud.ItemUpdate{Name: &name})
			return err
		}, func(c *syncproto.Config) bool { return len(c.Items) == 1 && c.Items[0].Name == name }},
		{"CreateCoupon", true, func() error {
			_, err := f.s.CreateCoupon(ctx, a.id, a.who, cloud.CouponInput{Code: "D", Kind: pantry.CouponFixed, Value: 50,
				ValidFrom: time.Now(), ValidTo: time.Now().Add(time.Hour)})
			return err
		}, func(c *syncproto.Config) bool { return len(c.Coupons) == 2 }},
		{"UpdateCoupon", true, func() error {
			_, err := f.s.UpdateCoupon(ctx, a.id, a.who, coupon.ID, cloud.CouponUpdate{Value: &value})
			return err
		}, func(c *syncproto.Config) bool {
			return slices.ContainsFunc(c.Coupons, func(cp syncproto.Coupon) bool { return cp.Value == value })
		}},
		{"CreateCostCenter", true, func() error {
			_, err := f.s.CreateCostCenter(ctx, a.id, a.who, cloud.CostCenterInput{Code: "CC-2"})
			return err
		}, func(c *syncproto.Config) bool { return len(c.CostCenters) == 2 }},
		{"UpdateCostCenter", true, func() error {
			_, err := f.s.UpdateCostCenter(ctx, a.id, a.who, cc.ID, cloud.CostCenterUpdate{Name: &ccName})
			return err
		}, func(c *syncproto.Config) bool {
			return slices.ContainsFunc(c.CostCenters, func(x syncproto.CostCenter) bool { return x.Name == ccName })
		}},
		{"ArchiveItem", true, func() error {
			_, err := f.s.UpdateItem(ctx, a.id, a.who, item, cloud.ItemUpdate{Archived: &yes})
			return err
		}, func(c *syncproto.Config) bool { return len(c.Items) == 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rev, otherRev, bRev := f.revision(t, a.id, site), f.revision(t, a.id, other), f.revision(t, f.b.id, bSite)
			if err := tt.change(); err != nil {
				t.Fatal(err)
			}
			if got := f.revision(t, a.id, site); got != rev+1 {
				t.Errorf("site revision %d, want %d", got, rev+1)
			}
			wantOther := otherRev
			if tt.orgWide {
				wantOther++
			}
			if got := f.revision(t, a.id, other); got != wantOther {
				t.Errorf("other site's revision %d, want %d", got, wantOther)
			}
			if got := f.revision(t, f.b.id, bSite); got != bRev {
				t.Errorf("another organization's site moved from %d to %d", bRev, got)
			}
			resp := f.pull(t, node, cursor)
			if resp.Config == nil || resp.Cursor.ConfigRevision != rev+1 {
				t.Fatalf("pull after the change: %+v, want the config at %d", resp, rev+1)
			}
			if tt.reflects != nil && !tt.reflects(resp.Config) {
				t.Errorf("config does not show the change: %+v", resp.Config)
			}
			cursor = resp.Cursor
		})
	}
}

// TestPullStockPages: cloud movements come in feed order, a page at a
// time; edge movements and other sites' never come.
func TestPullStockPages(t *testing.T) {
	t.Parallel()
	f := newCatalogFixture(t)
	a, ctx := f.a, t.Context()
	site, other := f.site(t, a, "EUR"), f.site(t, a, "EUR")
	item := f.item(t, a, "Tea", 200, "EUR")
	node, _ := f.enroll(t, a, site)
	const bulk = syncproto.MaxStockPage + 2
	err := f.s.InTenant(ctx, a.id, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE sites SET stock_seq = stock_seq + $3 WHERE organization_id = $1 AND id = $2`, a.id, site, bulk); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO stock_movements (organization_id, id, site_id, item_id, delta, reason, origin, actor, created_at, feed_seq)
			SELECT o.id, md5($5 || g)::uuid, $2, $3, 1, 'restock', 'cloud', 'system:', now(), g
			FROM organizations o, generate_series(1, $4::int) AS g WHERE o.id = $1`, // see insertAuditAt
			a.id, site, item, bulk, pantry.NewID()); err != nil {
			return err
		}
		// An edge's own movement is not sent back to it.
		_, err := tx.Exec(ctx, `INSERT INTO stock_movements (organization_id, id, site_id, item_id, delta, reason, origin, created_at)
			VALUES ($1, $2, $3, $4, -1, 'sale', 'edge', now())`, a.id, pantry.NewID(), site, item)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	last, err := f.s.RecordStockMovement(ctx, a.id, a.who, site, item, -3, "waste")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.RecordStockMovement(ctx, a.id, a.who, other, item, 9, "restock"); err != nil {
		t.Fatal(err)
	}

	first := f.pull(t, node, syncproto.Cursor{})
	if len(first.Stock) != syncproto.MaxStockPage || !first.More || first.Cursor.StockSeq != syncproto.MaxStockPage {
		t.Fatalf("first page: %d movements, more %v, cursor %+v", len(first.Stock), first.More, first.Cursor)
	}
	for i, m := range first.Stock {
		if m.Seq != int64(i+1) || m.SiteID != site || m.ItemID != item {
			t.Fatalf("movement %d: %+v", i, m)
		}
	}
	second := f.pull(t, node, first.Cursor)
	if len(second.Stock) != 3 || second.More || second.Config != nil || second.Cursor.StockSeq != bulk+1 {
		t.Fatalf("second page: %+v", second)
	}
	got := second.Stock[2]
	want := syncproto.StockMovement{Seq: bulk + 1, ID: last.ID, SiteID: site, ItemID: item, Delta: -3, Reason: "waste", Actor: "user:" + a.who.ID}
	got.CreatedAt = time.Time{}
	if got != want || !second.Stock[2].CreatedAt.Equal(last.CreatedAt) {
		t.Errorf("last movement %+v, want %+v", second.Stock[2], want)
	}
	third := f.pull(t, node, second.Cursor)
	if len(third.Stock) != 0 || third.More || third.Cursor != second.Cursor {
		t.Errorf("third page: %+v, want nothing and the same cursor", third)
	}
}
