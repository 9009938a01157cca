package sqlite_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// cloudSite is what the cloud holds for one site: tests edit its
// configuration and hand the edge snapshots of it.
type cloudSite struct {
	id  sqlite.Identity
	cfg syncproto.Config
}

// tabletPassword is the password of every test tablet.
const tabletPassword = "correct horse battery"

func newCloudSite(tb testing.TB) *cloudSite {
	tb.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(tabletPassword), bcrypt.MinCost)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now().UTC()
	c := &cloudSite{id: sqlite.Identity{
		NodeID: pantry.NewID(), OrgID: pantry.NewID(), SiteID: pantry.NewID(),
		CloudURL: "https://cloud.example", Credential: "node-secret-1", EnrolledAt: now.Truncate(time.Second),
	}}
	c.cfg = syncproto.Config{
		Site: syncproto.Site{ID: c.id.SiteID, OrgID: c.id.OrgID, Name: "Canal House", Timezone: "Europe/Amsterdam", Currency: "EUR"},
		Spaces: []syncproto.Space{
			{ID: pantry.NewID(), Name: "Amstel", Floor: "1", Code: "code-amstel"},
			{ID: pantry.NewID(), Name: "Brouwersgracht", Floor: "1", Code: "code-brouwers"},
			{ID: pantry.NewID(), Name: "Cruquius", Floor: "2", Code: "code-cruquius"},
		},
		Items: []syncproto.Item{
			{ID: pantry.NewID(), Name: "Espresso", Price: eur(250), Tags: []string{"hot"}, LowStockThreshold: 5, Available: true},
			{ID: pantry.NewID(), Name: "Croissant", Price: eur(290), Allergens: []string{"gluten"}, LowStockThreshold: 2, Available: true},
			{ID: pantry.NewID(), Name: "Fruit bowl", Price: eur(1450), LowStockThreshold: 1, Available: true},
		},
		Coupons: []syncproto.Coupon{{ID: pantry.NewID(), Code: "SPRING", Kind: "percent", Value: 10,
			ValidFrom: now.Add(-time.Hour), ValidTo: now.AddDate(1, 0, 0)}},
		CostCenters: []syncproto.CostCenter{{ID: pantry.NewID(), Code: "CC-7", Name: "Sales"}},
		Tablets: []syncproto.Tablet{
			{ID: pantry.NewID(), Name: "Pantry 1", Username: "pantry-1", PasswordHash: string(hash)},
			{ID: pantry.NewID(), Name: "Pantry 2", Username: "pantry-2", PasswordHash: string(hash)},
		},
	}
	return c
}

func eur(amount int64) syncproto.Money { return syncproto.Money{Amount: amount, Currency: "EUR"} }

// page is a pull page carrying the current configuration as revision rev,
// and stock movements up to the last one's seq.
func (c *cloudSite) page(rev int64, stock ...syncproto.StockMovement) syncproto.PullResponse {
	cfg := c.cfg
	cfg.Revision = rev
	p := syncproto.PullResponse{Version: syncproto.Version, Cursor: syncproto.Cursor{ConfigRevision: rev}, Config: &cfg, Stock: stock}
	if len(stock) > 0 {
		p.Cursor.StockSeq = stock[len(stock)-1].Seq
	}
	return p
}

// mustOpenFresh opens a store in a fresh temp dir, neither seeded nor enrolled.
func mustOpenFresh(tb testing.TB) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(context.Background(), tb.TempDir(), sqlite.Options{})
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// mustEnroll enrolls a fresh store with c's configuration as revision 1
// and 100 of each item in stock.
func mustEnroll(tb testing.TB, c *cloudSite) *sqlite.Store {
	tb.Helper()
	s := mustOpenFresh(tb)
	var stock []syncproto.StockMovement
	for i, it := range c.cfg.Items {
		stock = append(stock, restock(it.ID, 100, int64(i+1)))
	}
	if err := s.Enroll(context.Background(), c.id, c.page(1, stock...)); err != nil {
		tb.Fatalf("enroll: %v", err)
	}
	return s
}

func wantErrCode(tb testing.TB, err error, code, contains string) {
	tb.Helper()
	if got := pantry.ErrorCode(err); got != code {
		tb.Fatalf("code=%q, want %q (err: %v)", got, code, err)
	}
	if !strings.Contains(err.Error(), contains) {
		tb.Fatalf("error %q does not say %q", err, contains)
	}
}

func TestEnroll(t *testing.T) {
	ctx := context.Background()
	c := newCloudSite(t)
	s := mustOpenFresh(t)
	if _, ok, err := s.Identity(ctx); err != nil || ok {
		t.Fatalf("fresh store: enrolled=%v err=%v, want not enrolled", ok, err)
	}
	t.Run("ErrNoConfig", func(t *testing.T) {
		p := c.page(1)
		p.Config = nil
		wantErrCode(t, s.Enroll(ctx, c.id, p), pantry.EINVALID, "configuration")
		if _, ok, _ := s.Identity(ctx); ok {
			t.Fatal("enrolled without a configuration")
		}
	})
	if err := s.Enroll(ctx, c.id, c.page(1, restock(c.cfg.Items[0].ID, 10, 1))); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Identity(ctx)
	if err != nil || !ok {
		t.Fatalf("identity: ok=%v err=%v", ok, err)
	}
	if !got.EnrolledAt.Equal(c.id.EnrolledAt) {
		t.Errorf("enrolled at %v, want %v", got.EnrolledAt, c.id.EnrolledAt)
	}
	got.EnrolledAt = c.id.EnrolledAt
	if got != c.id {
		t.Errorf("identity=%+v, want %+v", got, c.id)
	}
	site, err := s.Site(ctx)
	if err != nil || site.ID != c.id.SiteID || site.Name != "Canal House" || site.Currency != "EUR" {
		t.Fatalf("site=%+v err=%v", site, err)
	}
	if it, ok := menuItem(t, s, c.cfg.Items[0].ID); !ok || !it.Available || it.Level != 10 {
		t.Fatalf("espresso on the menu=%v: %+v, want available with 10", ok, it)
	}
	st, err := s.SyncState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.Cursor, (syncproto.Cursor{ConfigRevision: 1, StockSeq: 1}); got != want {
		t.Errorf("cursor=%+v, want %+v", got, want)
	}
	t.Run("SameSiteNewCredential", func(t *testing.T) {
		id := c.id
		id.Credential = "node-secret-2"
		if err := s.Enroll(ctx, id, c.page(1)); err != nil {
			t.Fatal(err)
		}
		got, _, _ := s.Identity(ctx)
		if got.Credential != "node-secret-2" {
			t.Fatalf("credential=%q, want the new one", got.Credential)
		}
	})
	t.Run("ErrOtherSite", func(t *testing.T) {
		other := newCloudSite(t)
		wantErrCode(t, s.Enroll(ctx, other.id, other.page(1)), pantry.EINVALID, "belongs to site "+c.id.SiteID)
		if got, _, _ := s.Identity(ctx); got.SiteID != c.id.SiteID {
			t.Fatalf("identity moved to site %s", got.SiteID)
		}
	})
	t.Run("ErrSeedDemo", func(t *testing.T) {
		_, err := s.SeedDemo(ctx)
		wantErrCode(t, err, pantry.EINVALID, "enrolled")
	})
	t.Run("ErrAddTablet", func(t *testing.T) {
		wantErrCode(t, s.AddTablet(ctx, "local", "long enough password", ""), pantry.EINVALID, "enrolled")
	})
}

func TestEnrollDemoRefused(t *testing.T) {
	s, _ := MustOpen(t)
	c := newCloudSite(t)
	wantErrCode(t, s.Enroll(context.Background(), c.id, c.page(1)), pantry.EINVALID, "runs a demo site")
	if _, ok, _ := s.Identity(context.Background()); ok {
		t.Fatal("a demo store got enrolled")
	}
}

func TestPendingEvents(t *testing.T) {
	ctx := context.Background()
	s, _ := MustOpen(t) // seeding restocked 14 items: 14 events
	all, err := s.PendingEvents(ctx, 0, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(all), 14; got != want {
		t.Fatalf("events=%d, want %d", got, want)
	}
	for i, e := range all {
		if e.Seq != int64(i+1) || e.Schema != syncproto.EventSchema || e.Type != syncproto.EventStockMoved || len(e.Payload) == 0 {
			t.Fatalf("event %d: %+v", i, e)
		}
	}
	size := func(es []syncproto.Event) (n int) {
		for _, e := range es {
			n += len(e.Payload)
		}
		return n
	}
	for _, tc := range []struct {
		name                 string
		after                int64
		maxEvents, maxBytes  int
		wantFirst, wantCount int64
	}{
		{"ByCount", 0, 5, 0, 1, 5},
		{"After", 10, 100, 0, 11, 4},
		{"ByBytes", 0, 100, size(all[:3]), 1, 3},
		{"ByBytesJustUnder", 0, 100, size(all[:3]) - 1, 1, 2},
		{"AtLeastOne", 2, 100, 1, 3, 1},
		{"NoneLeft", 14, 100, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.PendingEvents(ctx, tc.after, tc.maxEvents, tc.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(got)) != tc.wantCount {
				t.Fatalf("events=%d, want %d", len(got), tc.wantCount)
			}
			if len(got) > 0 && got[0].Seq != tc.wantFirst {
				t.Fatalf("first seq=%d, want %d", got[0].Seq, tc.wantFirst)
			}
		})
	}
}

func TestMarkPushed(t *testing.T) {
	ctx := context.Background()
	s, _ := MustOpen(t)
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	if err := s.MarkPushed(ctx, 10, at); err != nil {
		t.Fatal(err)
	}
	st, _ := s.OutboxStats(ctx)
	if got, want := st.Unpushed, int64(4); got != want {
		t.Fatalf("unpushed=%d, want %d", got, want)
	}
	if err := s.MarkPushed(ctx, 5, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	state, _ := s.SyncState(ctx)
	if got, want := state.AckedSeq, int64(10); got != want {
		t.Fatalf("acked seq=%d after acknowledging 5, want %d", got, want)
	}
	events, _ := s.Outbox(ctx, 0, 100)
	if p := events[4].PushedAt; p == nil || !p.Equal(at) {
		t.Fatalf("event 5 pushed at %v, want %v (kept, not moved)", p, at)
	}
	if events[10].PushedAt != nil {
		t.Fatalf("event 11 is marked pushed")
	}
	t.Run("ErrPastTheHead", func(t *testing.T) {
		wantErrCode(t, s.MarkPushed(ctx, 15, at), pantry.ECONFLICT, "ends at 14")
	})
	if err := s.MarkPushed(ctx, 14, at); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.OutboxStats(ctx); st.Unpushed != 0 || !st.OldestUnpushed.IsZero() {
		t.Fatalf("outbox stats %+v after acknowledging everything", st)
	}
}

func TestRecordSync(t *testing.T) {
	ctx := context.Background()
	s := mustOpenFresh(t)
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	skew := 1500 * time.Millisecond
	steps := []struct {
		kind string
		at   time.Time
		skew *time.Duration
		err  error
	}{
		{"push", t0, &skew, nil},
		{"pull", t0.Add(time.Minute), nil, errors.New("dial tcp: connection refused")},
		{"push", t0.Add(2 * time.Minute), nil, errors.New("503 unavailable")},
	}
	for _, st := range steps {
		if err := s.RecordSync(ctx, st.kind, st.at, st.skew, st.err); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.SyncState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := sqlite.SyncState{
		LastPushAt: t0, LastErrorAt: t0.Add(2 * time.Minute), LastError: "push: 503 unavailable",
		ConsecutiveFailures: 2, ClockSkew: skew,
	}
	if got != want {
		t.Fatalf("state=%+v\nwant  %+v", got, want)
	}
	newSkew := -2 * time.Second
	if err := s.RecordSync(ctx, "pull", t0.Add(3*time.Minute), &newSkew, nil); err != nil {
		t.Fatal(err)
	}
	got, _ = s.SyncState(ctx)
	want.LastPullAt, want.ConsecutiveFailures, want.ClockSkew = t0.Add(3*time.Minute), 0, newSkew
	if got != want {
		t.Fatalf("after a success: state=%+v\nwant  %+v", got, want)
	}
	t.Run("ErrKind", func(t *testing.T) {
		wantErrCode(t, s.RecordSync(ctx, "sync", t0, nil, nil), pantry.EINVALID, "neither push nor pull")
	})
	t.Run("LongError", func(t *testing.T) {
		if err := s.RecordSync(ctx, "pull", t0, nil, errors.New(strings.Repeat("é", 2000))); err != nil {
			t.Fatal(err)
		}
		got, _ := s.SyncState(ctx)
		if len(got.LastError) > 1100 || !strings.HasPrefix(got.LastError, "pull: éé") {
			t.Fatalf("stored error of %d bytes: %.40q…", len(got.LastError), got.LastError)
		}
	})
}

// TestOutboxPayloadsDecode: every kind of event the edge writes decodes
// and validates as the cloud will read it (syncproto.DecodePayload).
func TestOutboxPayloadsDecode(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	s, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d, err := s.SeedDemo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sess := mustSession(t, s, d)
	coffee, croissant := itemNamed(t, s, "Flat white"), itemNamed(t, s, "Croissant")
	var orders []string
	for _, req := range []pantry.PlaceOrder{
		{Lines: []pantry.LineRequest{{ItemID: coffee.ID, Quantity: 3, Note: "oat milk"}, {ItemID: croissant.ID, Quantity: 1}},
			Coupon: "welcome10", CostCenter: "cc-1001", DeliverTo: pantry.DeliverPickup, Note: "by 10"},
		{Lines: []pantry.LineRequest{{ItemID: coffee.ID, Quantity: 1}}, Coupon: "WELCOME10"},
		{Lines: []pantry.LineRequest{{ItemID: croissant.ID, Quantity: 2}}, CostCenter: "CC-1001"},
	} {
		res, err := s.PlaceOrder(ctx, sess, "", req, sqlite.OrderLimit{})
		if err != nil {
			t.Fatal(err)
		}
		orders = append(orders, res.Order.ID)
	}
	for _, to := range []pantry.OrderStatus{pantry.StatusAccepted, pantry.StatusPreparing, pantry.StatusReady, pantry.StatusDelivered} {
		if _, err := s.SetOrderStatus(ctx, orders[0], to, "", "pantry-demo"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.SetOrderStatus(ctx, orders[1], pantry.StatusCancelled, "guest left", "pantry-demo"); err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		delta  int64
		reason pantry.StockReason
	}{{12, pantry.StockRestock}, {-1, pantry.StockWaste}, {-3, pantry.StockCount}} {
		if _, err := s.RecordStock(ctx, coffee.ID, m.delta, m.reason, "pantry-demo"); err != nil {
			t.Fatal(err)
		}
	}
	for _, on := range []bool{false, true} {
		if _, err := s.SetAvailability(ctx, croissant.ID, on, "pantry-demo"); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(2 * time.Hour)
	if expired, err := s.ExpireSessions(ctx); err != nil || len(expired) != 1 {
		t.Fatalf("expired %d sessions, err=%v; want 1", len(expired), err)
	}

	events, err := s.PendingEvents(ctx, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range events {
		v, err := syncproto.DecodePayload(e)
		if err != nil {
			t.Fatalf("event %d (%s): %v\n%s", e.Seq, e.Type, err, e.Payload)
		}
		seen[e.Type]++
		switch p := v.(type) {
		case *syncproto.OrderPlaced:
			if p.SessionID != sess.ID || p.SiteID != d.SiteID || p.ID != e.EntityID {
				t.Errorf("order.placed %s: session %q site %q, want %s and %s", p.ID, p.SessionID, p.SiteID, sess.ID, d.SiteID)
			}
		case *syncproto.StockMovement:
			if p.Reason == "restock" && p.Actor == "" {
				t.Errorf("stock.moved %s has no actor", p.ID)
			}
		}
	}
	for typ, want := range map[string]int{
		syncproto.EventOrderPlaced: 3, syncproto.EventPaymentRecorded: 3, syncproto.EventCouponRedeemed: 2,
		syncproto.EventOrderStatusChanged: 5, syncproto.EventStockMoved: 14 + 4 + 1 + 3,
		syncproto.EventSessionOpened: 1, syncproto.EventSessionExpired: 1, syncproto.EventItemAvailability: 2,
	} {
		if got := seen[typ]; got != want {
			t.Errorf("%d %s events, want %d", got, typ, want)
		}
	}
}
