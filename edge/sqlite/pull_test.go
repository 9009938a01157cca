package sqlite_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// restock is a delivery booked in the cloud, at place seq of the site's feed.
func restock(itemID string, delta, seq int64) syncproto.StockMovement {
	return syncproto.StockMovement{Seq: seq, ID: pantry.NewID(), ItemID: itemID, Delta: delta, Reason: "restock",
		Actor: "admin@example.com", CreatedAt: time.Now().UTC()}
}

func mustApply(tb testing.TB, s *sqlite.Store, p syncproto.PullResponse) sqlite.PullChanges {
	tb.Helper()
	ch, err := s.ApplyPullChanges(context.Background(), p)
	if err != nil {
		tb.Fatalf("apply pull: %v", err)
	}
	return ch
}

// menuItem finds an item on the menu; ok is false when it is not there.
func menuItem(tb testing.TB, s *sqlite.Store, id string) (pantry.Item, bool) {
	tb.Helper()
	menu, err := s.Menu(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	for _, it := range menu {
		if it.ID == id {
			return it, true
		}
	}
	return pantry.Item{}, false
}

func mustSessionIn(tb testing.TB, s *sqlite.Store, code string) pantry.Session {
	tb.Helper()
	sess, _, err := s.OpenSession(context.Background(), code, time.Hour)
	if err != nil {
		tb.Fatalf("open session with code %s: %v", code, err)
	}
	return sess
}

func TestApplyPullConfig(t *testing.T) {
	ctx := context.Background()
	c := newCloudSite(t)
	s := mustEnroll(t, c)
	amstel, brouwers, cruquius := c.cfg.Spaces[0], c.cfg.Spaces[1], c.cfg.Spaces[2]
	espresso, croissant, fruit := c.cfg.Items[0], c.cfg.Items[1], c.cfg.Items[2]

	// An order from Cruquius, the room the next snapshot removes.
	sess := mustSessionIn(t, s, cruquius.Code)
	before, err := s.PlaceOrder(ctx, sess, "", order(espresso.ID, 2), sqlite.OrderLimit{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := before.Order.CatalogRev, int64(1); got != want {
		t.Fatalf("catalog revision=%d, want %d", got, want)
	}

	// Revision 2: Cruquius, the fruit bowl and the coupon archived;
	// Amstel and Brouwersgracht swap QR codes; espresso costs more.
	c.cfg.Spaces = []syncproto.Space{brouwers, amstel}
	c.cfg.Spaces[0].Code, c.cfg.Spaces[1].Code = amstel.Code, brouwers.Code
	c.cfg.Items = []syncproto.Item{espresso, croissant}
	c.cfg.Items[0].Price = eur(275)
	coupon := c.cfg.Coupons[0]
	c.cfg.Coupons = nil
	outbox, _ := s.OutboxStats(ctx)
	ch := mustApply(t, s, c.page(2))
	if !ch.Config || len(ch.Stock) != 0 {
		t.Fatalf("changes=%+v, want a config and no stock", ch)
	}
	if st, _ := s.OutboxStats(ctx); st.LastSeq != outbox.LastSeq {
		t.Fatalf("applying a snapshot wrote to the outbox: seq %d -> %d", outbox.LastSeq, st.LastSeq)
	}

	t.Run("RoomArchived", func(t *testing.T) {
		if _, err := s.SpaceByCode(ctx, cruquius.Code); pantry.ErrorCode(err) != pantry.ENOTFOUND {
			t.Fatalf("archived room's code resolves: err=%v", err)
		}
		if _, _, err := s.OpenSession(ctx, cruquius.Code, time.Hour); pantry.ErrorCode(err) != pantry.ENOTFOUND {
			t.Fatalf("session opened in an archived room: err=%v", err)
		}
		spaces, _ := s.Spaces(ctx)
		if got, want := len(spaces), 2; got != want {
			t.Fatalf("rooms=%d, want %d: %+v", got, want, spaces)
		}
		o, err := s.Order(ctx, before.Order.ID)
		if err != nil || o.SpaceName != "Cruquius" || len(o.Lines) != 1 || o.Total != before.Order.Total {
			t.Fatalf("order history of the archived room: %+v err=%v", o, err)
		}
	})
	t.Run("CodesSwapped", func(t *testing.T) {
		for code, want := range map[string]string{amstel.Code: brouwers.ID, brouwers.Code: amstel.ID} {
			sp, err := s.SpaceByCode(ctx, code)
			if err != nil || sp.ID != want {
				t.Fatalf("code %s: room %s err=%v, want %s", code, sp.ID, err, want)
			}
		}
	})
	t.Run("NewPriceAndRevision", func(t *testing.T) {
		res, err := s.PlaceOrder(ctx, mustSessionIn(t, s, amstel.Code), "", order(espresso.ID, 2), sqlite.OrderLimit{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := res.Order.Total.Amount, int64(550); got != want {
			t.Errorf("total=%d, want %d", got, want)
		}
		if got, want := res.Order.CatalogRev, int64(2); got != want {
			t.Errorf("catalog revision=%d, want %d", got, want)
		}
	})
	t.Run("ItemArchived", func(t *testing.T) {
		if _, ok := menuItem(t, s, fruit.ID); ok {
			t.Fatal("archived item is on the menu")
		}
		_, err := s.PlaceOrder(ctx, mustSessionIn(t, s, amstel.Code), "", order(fruit.ID, 1), sqlite.OrderLimit{})
		wantErrCode(t, err, pantry.EINVALID, "not on the menu")
		if _, err := s.SetAvailability(ctx, fruit.ID, false, "t"); pantry.ErrorCode(err) != pantry.ENOTFOUND {
			t.Fatalf("availability of an archived item: err=%v", err)
		}
	})
	t.Run("CouponArchived", func(t *testing.T) {
		req := order(croissant.ID, 1)
		req.Coupon = coupon.Code
		_, err := s.PlaceOrder(ctx, mustSessionIn(t, s, amstel.Code), "", req, sqlite.OrderLimit{})
		wantErrCode(t, err, pantry.EINVALID, "does not exist")
	})
	t.Run("SamePageTwice", func(t *testing.T) {
		if ch := mustApply(t, s, c.page(2)); !ch.Config || len(ch.Stock) != 0 || len(ch.RevokedTablets) != 0 {
			t.Fatalf("changes=%+v", ch)
		}
		if _, err := s.SpaceByCode(ctx, cruquius.Code); pantry.ErrorCode(err) != pantry.ENOTFOUND {
			t.Fatalf("archived room's code resolves: err=%v", err)
		}
		if sp, err := s.SpaceByCode(ctx, amstel.Code); err != nil || sp.ID != brouwers.ID {
			t.Fatalf("code %s: room %s err=%v, want %s", amstel.Code, sp.ID, err, brouwers.ID)
		}
	})
	t.Run("ComesBack", func(t *testing.T) {
		c.cfg.Spaces = append(c.cfg.Spaces, cruquius)
		c.cfg.Coupons = []syncproto.Coupon{coupon}
		mustApply(t, s, c.page(3))
		if sp, err := s.SpaceByCode(ctx, cruquius.Code); err != nil || sp.ID != cruquius.ID {
			t.Fatalf("restored room: %+v err=%v", sp, err)
		}
	})
}

// TestStaffSoldOutSurvivesSnapshot: the cloud's menu and the staff's
// sold-out switch are kept apart; an item is orderable only with both on.
func TestStaffSoldOutSurvivesSnapshot(t *testing.T) {
	ctx := context.Background()
	c := newCloudSite(t)
	s := mustEnroll(t, c)
	croissant := c.cfg.Items[1]
	if _, err := s.SetAvailability(ctx, croissant.ID, false, "pantry-1"); err != nil {
		t.Fatal(err)
	}
	c.cfg.Items[1].Name = "Butter croissant"
	mustApply(t, s, c.page(2))
	it, _ := menuItem(t, s, croissant.ID)
	if it.Available || it.Name != "Butter croissant" {
		t.Fatalf("after a snapshot: %+v, want renamed and still sold out", it)
	}
	_, err := s.PlaceOrder(ctx, mustSessionIn(t, s, c.cfg.Spaces[0].Code), "", order(croissant.ID, 1), sqlite.OrderLimit{})
	wantErrCode(t, err, pantry.EOUTOFSTOCK, "not available")

	if it, err = s.SetAvailability(ctx, croissant.ID, true, "pantry-1"); err != nil || !it.Available {
		t.Fatalf("back on: %+v err=%v", it, err)
	}
	c.cfg.Items[1].Available = false // the cloud takes it off this site's menu
	mustApply(t, s, c.page(3))
	if it, _ := menuItem(t, s, croissant.ID); it.Available {
		t.Fatal("available although the cloud's menu does not offer it")
	}
	if it, err := s.SetAvailability(ctx, croissant.ID, true, "pantry-1"); err != nil || it.Available {
		t.Fatalf("staff switched on an item off the cloud's menu: %+v err=%v", it, err)
	}
}

func TestRevokedTabletLoggedOut(t *testing.T) {
	ctx := context.Background()
	c := newCloudSite(t)
	s := mustEnroll(t, c)
	tokens := map[string]string{}
	for _, u := range []string{"pantry-1", "pantry-2"} {
		tok, err := s.StaffLogin(ctx, u, tabletPassword, time.Hour)
		if err != nil {
			t.Fatalf("login %s: %v", u, err)
		}
		tokens[u] = tok
	}
	c.cfg.Tablets = c.cfg.Tablets[1:]
	ch := mustApply(t, s, c.page(2))
	if got := strings.Join(ch.RevokedTablets, ","); got != "pantry-1" {
		t.Fatalf("revoked=%q, want pantry-1", got)
	}
	if _, err := s.StaffByToken(ctx, tokens["pantry-1"]); pantry.ErrorCode(err) != pantry.EUNAUTHORIZED {
		t.Fatalf("revoked tablet's token: err=%v, want unauthorized", err)
	}
	if _, err := s.AuthenticateTablet(ctx, "pantry-1", tabletPassword); pantry.ErrorCode(err) != pantry.EUNAUTHORIZED {
		t.Fatalf("revoked tablet's password: err=%v, want unauthorized", err)
	}
	if tab, err := s.StaffByToken(ctx, tokens["pantry-2"]); err != nil || tab.SiteID != c.id.SiteID {
		t.Fatalf("kept tablet's token: %+v err=%v", tab, err)
	}
	t.Run("UsernamesSwapped", func(t *testing.T) {
		// The new tablet comes first: its username is still taken when it
		// is upserted, unless the apply freed it beforehand.
		fresh := syncproto.Tablet{ID: pantry.NewID(), Username: "pantry-2", PasswordHash: c.cfg.Tablets[0].PasswordHash}
		c.cfg.Tablets = append([]syncproto.Tablet{fresh}, c.cfg.Tablets...)
		c.cfg.Tablets[1].Username = "pantry-old"
		mustApply(t, s, c.page(3))
		if _, err := s.AuthenticateTablet(ctx, "pantry-old", tabletPassword); err != nil {
			t.Fatal(err)
		}
	})
}

func TestApplyPullStockOnce(t *testing.T) {
	ctx := context.Background()
	c := newCloudSite(t)
	s := mustEnroll(t, c) // 100 of each
	espresso, fruit := c.cfg.Items[0].ID, c.cfg.Items[2].ID
	outbox, _ := s.OutboxStats(ctx)
	count := syncproto.StockMovement{Seq: 6, ID: pantry.NewID(), ItemID: fruit, Delta: -99, Reason: "count", Actor: "admin", CreatedAt: time.Now()}
	p := syncproto.PullResponse{
		Cursor: syncproto.Cursor{ConfigRevision: 1, StockSeq: 6},
		Stock:  []syncproto.StockMovement{restock(espresso, 20, 4), restock(espresso, 5, 5), count},
	}
	ch := mustApply(t, s, p)
	want := map[string]sqlite.StockChange{
		espresso: {Level: pantry.StockLevel{ItemID: espresso, Name: "Espresso", Level: 125, Low: false}},
		fruit:    {Level: pantry.StockLevel{ItemID: fruit, Name: "Fruit bowl", Level: 1, Low: true}, BecameLow: true},
	}
	if len(ch.Stock) != len(want) {
		t.Fatalf("changes=%+v, want %+v", ch.Stock, want)
	}
	for _, got := range ch.Stock {
		if got != want[got.Level.ItemID] {
			t.Fatalf("change %+v, want %+v", got, want[got.Level.ItemID])
		}
	}
	again := mustApply(t, s, p)
	if len(again.Stock) != 0 {
		t.Fatalf("the page applied twice moved stock again: %+v", again.Stock)
	}
	if got, want := level(t, s, espresso), int64(125); got != want {
		t.Fatalf("espresso level=%d, want %d", got, want)
	}
	if bad, _ := s.LedgerMismatches(ctx); len(bad) > 0 {
		t.Fatalf("ledger mismatches: %v", bad)
	}
	if st, _ := s.OutboxStats(ctx); st.LastSeq != outbox.LastSeq {
		t.Fatalf("cloud movements reached the outbox: seq %d -> %d", outbox.LastSeq, st.LastSeq)
	}
	// An item the node has never been told about (stocked in the cloud,
	// never on this site's menu) must not stop the feed: the ledger keeps
	// it under a placeholder until a snapshot describes it.
	t.Run("UnknownItem", func(t *testing.T) {
		stranger := pantry.NewID()
		p := syncproto.PullResponse{
			Cursor: syncproto.Cursor{ConfigRevision: 1, StockSeq: 8},
			Stock:  []syncproto.StockMovement{restock(espresso, 1, 7), restock(stranger, 12, 8)},
		}
		mustApply(t, s, p)
		if got, want := level(t, s, espresso), int64(126); got != want {
			t.Fatalf("espresso level=%d, want %d", got, want)
		}
		if st, _ := s.SyncState(ctx); st.Cursor.StockSeq != 8 {
			t.Fatalf("cursor %+v, want stock seq 8", st.Cursor)
		}
		menu, err := s.Menu(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range menu {
			if it.ID == stranger {
				t.Fatalf("the placeholder is on the menu: %+v", it)
			}
		}
		// The snapshot that puts it on the menu fills it in, level kept.
		cfg := c.cfg
		cfg.Revision = 2
		cfg.Items = append(append([]syncproto.Item(nil), cfg.Items...), syncproto.Item{ID: stranger, Name: "Stroopwafel",
			Price: syncproto.Money{Amount: 150, Currency: "EUR"}, Tags: []string{}, Allergens: []string{}, Available: true})
		mustApply(t, s, syncproto.PullResponse{Cursor: syncproto.Cursor{ConfigRevision: 2, StockSeq: 8}, Config: &cfg, Stock: []syncproto.StockMovement{}})
		if menu, err = s.Menu(ctx); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, it := range menu {
			found = found || (it.ID == stranger && it.Name == "Stroopwafel")
		}
		if !found || level(t, s, stranger) != 12 {
			t.Fatalf("after the snapshot: on the menu %v, level %d; want Stroopwafel at 12", found, level(t, s, stranger))
		}
		if bad, _ := s.LedgerMismatches(ctx); len(bad) > 0 {
			t.Fatalf("ledger mismatches: %v", bad)
		}
	})
}

func TestCursorNeverBackwards(t *testing.T) {
	ctx := context.Background()
	c := newCloudSite(t)
	s := mustEnroll(t, c) // cursor {1, 3}
	c.cfg.Items[0].Price = eur(300)
	rev2 := c.page(2)
	rev2.Cursor.StockSeq = 40
	mustApply(t, s, rev2)
	c.cfg.Items[0].Price = eur(100)
	stale := c.page(1) // an old snapshot, replayed late
	stale.Cursor.StockSeq = 3
	if ch := mustApply(t, s, stale); ch.Config {
		t.Fatal("an older snapshot was applied")
	}
	st, err := s.SyncState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.Cursor, (syncproto.Cursor{ConfigRevision: 2, StockSeq: 40}); got != want {
		t.Fatalf("cursor=%+v, want %+v", got, want)
	}
	if it, _ := menuItem(t, s, c.cfg.Items[0].ID); it.Price.Amount != 300 {
		t.Fatalf("price=%d, want revision 2's 300", it.Price.Amount)
	}
	t.Run("ErrRevisionWithoutSnapshot", func(t *testing.T) {
		p := syncproto.PullResponse{Cursor: syncproto.Cursor{ConfigRevision: 3, StockSeq: 40}}
		wantErrCode(t, s.ApplyPull(ctx, p), pantry.EINVALID, "no snapshot")
	})
	t.Run("ErrOtherSite", func(t *testing.T) {
		other := newCloudSite(t)
		wantErrCode(t, s.ApplyPull(ctx, other.page(5)), pantry.EINVALID, "this node serves site "+c.id.SiteID)
	})
	t.Run("ErrNotEnrolled", func(t *testing.T) {
		demo, _ := MustOpen(t)
		wantErrCode(t, demo.ApplyPull(ctx, c.page(5)), pantry.EINVALID, "not enrolled")
	})
}
