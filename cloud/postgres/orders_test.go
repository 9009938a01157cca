package postgres

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// shop is an organization with two sites (0 in Europe/Berlin, 1 in UTC),
// two rooms at each, two items (2.50 and 4.00), a cost center and an
// edge node at site 0.
type shop struct {
	org    string
	sites  [2]string
	spaces [2][2]string
	items  [2]string
	prices [2]int64
	node   string
}

// newShop seeds a shop through the service role, as its tenant.
func newShop(tb testing.TB, s *Store, label string) shop {
	tb.Helper()
	ctx := context.Background()
	created, err := s.CreateOrganization(ctx, cloud.NewOrganization{
		Name: "Shop " + label, OwnerEmail: "owner-" + label + "-" + pantry.NewSecret(4) + "@example.com", OwnerPasswordHash: "$argon2id$fake",
	})
	if err != nil {
		tb.Fatalf("create organization: %v", err)
	}
	sh := shop{org: created.OrgID, items: [2]string{pantry.NewID(), pantry.NewID()}, prices: [2]int64{250, 400}, node: pantry.NewID()}
	err = s.InTenant(ctx, sh.org, func(tx pgx.Tx) error {
		for i, tz := range []string{"Europe/Berlin", "UTC"} {
			sh.sites[i] = pantry.NewID()
			if _, err := tx.Exec(ctx, `INSERT INTO sites (organization_id, id, name, timezone, currency) VALUES ($1, $2, $3, $4, 'EUR')`,
				sh.org, sh.sites[i], []string{"Berlin HQ", "London"}[i], tz); err != nil {
				return err
			}
			for j := range 2 {
				sh.spaces[i][j] = pantry.NewID()
				if _, err := tx.Exec(ctx, `INSERT INTO spaces (organization_id, id, site_id, name, code) VALUES ($1, $2, $3, $4, $5)`,
					sh.org, sh.spaces[i][j], sh.sites[i], []string{"Room A", "Room B"}[j], pantry.NewSecret(16)); err != nil {
					return err
				}
			}
		}
		for i, id := range sh.items {
			if _, err := tx.Exec(ctx, `INSERT INTO items (organization_id, id, name, price_amount, currency) VALUES ($1, $2, $3, $4, 'EUR')`,
				sh.org, id, []string{"Coffee", "Sandwich"}[i], sh.prices[i]); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO cost_centers (organization_id, id, code, name) VALUES ($1, $2, 'CC-1', 'Finance')`, sh.org, pantry.NewID()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO edge_nodes (organization_id, id, site_id, credential_hash) VALUES ($1, $2, $3, $4)`,
			sh.org, sh.node, sh.sites[0], randomBytes(32))
		return err
	})
	if err != nil {
		tb.Fatalf("seed shop %s: %v", label, err)
	}
	return sh
}

// orderSpec describes a test order: where, when, in what status, and how
// many of each of the shop's items.
type orderSpec struct {
	site, space int
	at          time.Time
	status      pantry.OrderStatus
	qty         [2]int
	discount    int64
	costCenter  string
	currency    string // default EUR
}

// order makes the pantry.Order of o, priced with the shop's prices.
func (sh shop) order(o orderSpec) pantry.Order {
	cur := o.currency
	if cur == "" {
		cur = "EUR"
	}
	if o.status == "" {
		o.status = pantry.StatusDelivered
	}
	out := pantry.Order{
		ID: pantry.NewID(), SiteID: sh.sites[o.site], SpaceID: sh.spaces[o.site][o.space], Status: o.status,
		DeliverTo: pantry.DeliverRoom, Payment: pantry.PayComplimentary, CatalogRev: 3,
		CreatedAt: o.at, UpdatedAt: o.at.Add(10 * time.Minute), Lines: []pantry.OrderLine{},
	}
	for i, q := range o.qty {
		if q == 0 {
			continue
		}
		price := pantry.Money{Amount: sh.prices[i], Currency: cur}
		out.Lines = append(out.Lines, pantry.OrderLine{ItemID: sh.items[i], Name: []string{"Coffee", "Sandwich"}[i],
			Quantity: q, UnitPrice: price, LineTotal: pantry.Money{Amount: price.Amount * int64(q), Currency: cur}})
		out.Subtotal.Amount += price.Amount * int64(q)
	}
	if o.costCenter != "" {
		out.Payment, out.CostCenter = pantry.PayCostCenter, o.costCenter
	}
	if o.discount > 0 {
		out.Coupon = "WELCOME"
	}
	if o.status == pantry.StatusCancelled {
		out.CancelReason = "meeting moved"
	}
	out.Discount.Amount, out.Total.Amount = o.discount, out.Subtotal.Amount-o.discount
	out.Subtotal.Currency, out.Discount.Currency, out.Total.Currency = cur, cur, cur
	return out
}

// mustInsert inserts orders into sh's organization.
func mustInsert(tb testing.TB, s *Store, org string, orders ...pantry.Order) {
	tb.Helper()
	if err := s.InsertOrders(context.Background(), org, orders, ""); err != nil {
		tb.Fatalf("insert orders: %v", err)
	}
}

// newTestStore is a store on a new migrated database.
func newTestStore(tb testing.TB) *Store {
	tb.Helper()
	return mustOpen(tb, migratedDB(tb, MigrateOptions{}), Options{})
}

func ids(orders []pantry.Order) []string {
	out := make([]string, len(orders))
	for i, o := range orders {
		out[i] = o.ID
	}
	return out
}

func wantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := pantry.ErrorCode(err); got != code {
		tb.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

var t0 = time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)

func TestInsertAndGetOrder(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh := newShop(t, s, "A")
	ctx := t.Context()
	o := sh.order(orderSpec{site: 0, space: 1, at: t0, qty: [2]int{2, 1}, discount: 90, costCenter: "CC-1"})
	o.Note = "no sugar"
	o.Lines[0].Note = "oat milk"
	if err := s.InsertOrders(ctx, sh.org, []pantry.Order{o}, sh.node); err != nil {
		t.Fatalf("insert: %v", err)
	}
	got, err := s.GetOrder(ctx, sh.org, o.ID)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	want := o
	want.SpaceName = "Room B"
	if !equalOrder(got.Order, want) {
		t.Fatalf("got  %+v\nwant %+v", got.Order, want)
	}
	t.Run("History", func(t *testing.T) {
		steps := []pantry.OrderStatus{"", "placed", "accepted", "preparing", "ready", "delivered"}
		if got, want := len(got.History), 5; got != want {
			t.Fatalf("history has %d steps, want %d: %+v", got, want, got)
		}
		for i, h := range got.History {
			if h.From != steps[i] || h.To != steps[i+1] {
				t.Errorf("step %d: %s -> %s, want %s -> %s", i, h.From, h.To, steps[i], steps[i+1])
			}
		}
		if first, last := got.History[0].At, got.History[4].At; !first.Equal(o.CreatedAt) || !last.Equal(o.UpdatedAt) {
			t.Errorf("history from %s to %s, want %s to %s", first, last, o.CreatedAt, o.UpdatedAt)
		}
	})
	t.Run("Payment", func(t *testing.T) {
		ps, _, err := s.ListPayments(ctx, sh.org, cloud.PaymentFilter{}, cloud.Page{})
		if err != nil || len(ps) != 1 {
			t.Fatalf("payments = %+v, %v; want one", ps, err)
		}
		p := ps[0]
		if p.OrderID != o.ID || p.Method != pantry.PayCostCenter || p.Amount != o.Total || p.Discount != o.Discount ||
			p.Coupon != "WELCOME" || p.CostCenter != "CC-1" || !p.CreatedAt.Equal(o.CreatedAt) {
			t.Fatalf("payment = %+v, want the order's %+v", p, o)
		}
	})
	t.Run("CancelledHistory", func(t *testing.T) {
		c := sh.order(orderSpec{at: t0, status: pantry.StatusCancelled, qty: [2]int{1, 0}})
		mustInsert(t, s, sh.org, c)
		got, err := s.GetOrder(ctx, sh.org, c.ID)
		if err != nil || len(got.History) != 2 || got.History[1].To != pantry.StatusCancelled || got.History[1].Reason != "meeting moved" {
			t.Fatalf("history = %+v, %v; want placed then cancelled with its reason", got.History, err)
		}
	})
	t.Run("DuplicateIsConflict", func(t *testing.T) {
		fresh := sh.order(orderSpec{at: t0, qty: [2]int{1, 0}})
		err := s.InsertOrders(ctx, sh.org, []pantry.Order{fresh, o}, "")
		wantCode(t, err, pantry.ECONFLICT)
		if _, err := s.GetOrder(ctx, sh.org, fresh.ID); pantry.ErrorCode(err) != pantry.ENOTFOUND {
			t.Fatalf("the batch's other order was written (%v): a batch is all or nothing", err)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		_, err := s.GetOrder(ctx, sh.org, pantry.NewID())
		wantCode(t, err, pantry.ENOTFOUND)
		_, err = s.GetOrder(ctx, sh.org, "not-a-uuid")
		wantCode(t, err, pantry.ENOTFOUND)
	})
}

// equalOrder compares orders, times by instant.
func equalOrder(a, b pantry.Order) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) || !a.UpdatedAt.Equal(b.UpdatedAt) {
		return false
	}
	if (a.DeliverBy == nil) != (b.DeliverBy == nil) || a.DeliverBy != nil && !a.DeliverBy.Equal(*b.DeliverBy) {
		return false
	}
	a.CreatedAt, a.UpdatedAt, b.CreatedAt, b.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	a.DeliverBy, b.DeliverBy = nil, nil
	return reflect.DeepEqual(a, b)
}

func TestInsertOrdersBadInput(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh := newShop(t, s, "A")
	for name, tc := range map[string]struct {
		mutate func(o *pantry.Order)
		node   string
		code   string
	}{
		"BadID":              {mutate: func(o *pantry.Order) { o.ID = "x" }, code: pantry.EINVALID},
		"UnknownStatus":      {mutate: func(o *pantry.Order) { o.Status = "lost" }, code: pantry.EINVALID},
		"NoTime":             {mutate: func(o *pantry.Order) { o.CreatedAt = time.Time{} }, code: pantry.EINVALID},
		"MixedCurrencies":    {mutate: func(o *pantry.Order) { o.Discount.Currency = "USD" }, code: pantry.EINVALID},
		"BadItemID":          {mutate: func(o *pantry.Order) { o.Lines[0].ItemID = "coffee" }, code: pantry.EINVALID},
		"UnknownItem":        {mutate: func(o *pantry.Order) { o.Lines[0].ItemID = pantry.NewID() }, code: pantry.EINVALID},
		"UnknownSpace":       {mutate: func(o *pantry.Order) { o.SpaceID = pantry.NewID() }, code: pantry.EINVALID},
		"SpaceOfAnotherSite": {mutate: func(o *pantry.Order) { o.SpaceID = sh.spaces[1][0] }, code: pantry.EINVALID},
		"BadNode":            {node: "x", code: pantry.EINVALID},
		"NodeOfAnotherSite":  {mutate: func(o *pantry.Order) { o.SiteID, o.SpaceID = sh.sites[1], sh.spaces[1][0] }, node: sh.node, code: pantry.EINVALID},
		"HugeQuantity":       {mutate: func(o *pantry.Order) { o.Lines[0].Quantity = 1 << 32 }, code: pantry.EINVALID},
		"BadPaymentMethod":   {mutate: func(o *pantry.Order) { o.Payment = "cash" }, code: pantry.EINVALID},
	} {
		t.Run(name, func(t *testing.T) {
			o := sh.order(orderSpec{at: t0, qty: [2]int{1, 1}})
			if tc.mutate != nil {
				tc.mutate(&o)
			}
			wantCode(t, s.InsertOrders(t.Context(), sh.org, []pantry.Order{o}, tc.node), tc.code)
		})
	}
	if got, _, err := s.ListOrders(t.Context(), sh.org, cloud.OrderFilter{}, cloud.Page{}); err != nil || len(got) != 0 {
		t.Fatalf("after bad inputs: %d orders (%v), want none written", len(got), err)
	}
}

func TestListOrdersFilters(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh := newShop(t, s, "A")
	day := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
	o := map[string]pantry.Order{
		"s0r0Delivered": sh.order(orderSpec{site: 0, space: 0, at: day, qty: [2]int{1, 0}}),
		"s0r1Placed":    sh.order(orderSpec{site: 0, space: 1, at: day.Add(time.Hour), status: pantry.StatusPlaced, qty: [2]int{1, 0}}),
		"s0r0Ready":     sh.order(orderSpec{site: 0, space: 0, at: day.Add(2 * time.Hour), status: pantry.StatusReady, qty: [2]int{0, 1}}),
		"s1r0Accepted":  sh.order(orderSpec{site: 1, space: 0, at: day.Add(3 * time.Hour), status: pantry.StatusAccepted, qty: [2]int{1, 0}}),
		"s1r1Cancelled": sh.order(orderSpec{site: 1, space: 1, at: day.Add(4 * time.Hour), status: pantry.StatusCancelled, qty: [2]int{1, 0}}),
		"s0r0NextDay":   sh.order(orderSpec{site: 0, space: 0, at: day.Add(24 * time.Hour), status: pantry.StatusPreparing, qty: [2]int{1, 0}}),
		"s0r0DayBefore": sh.order(orderSpec{site: 0, space: 0, at: day.Add(-time.Microsecond), qty: [2]int{1, 0}}),
	}
	all := make([]pantry.Order, 0, len(o))
	for _, v := range o {
		all = append(all, v)
	}
	mustInsert(t, s, sh.org, all...)
	// Each want lists names newest first.
	for name, tc := range map[string]struct {
		f    cloud.OrderFilter
		want []string
	}{
		"All":        {cloud.OrderFilter{}, []string{"s0r0NextDay", "s1r1Cancelled", "s1r0Accepted", "s0r0Ready", "s0r1Placed", "s0r0Delivered", "s0r0DayBefore"}},
		"Site":       {cloud.OrderFilter{SiteID: sh.sites[1]}, []string{"s1r1Cancelled", "s1r0Accepted"}},
		"Space":      {cloud.OrderFilter{SpaceID: sh.spaces[0][1]}, []string{"s0r1Placed"}},
		"Open":       {cloud.OrderFilter{Status: cloud.StatusOpen}, []string{"s0r0NextDay", "s1r0Accepted", "s0r0Ready", "s0r1Placed"}},
		"OpenAtSite": {cloud.OrderFilter{Status: cloud.StatusOpen, SiteID: sh.sites[0]}, []string{"s0r0NextDay", "s0r0Ready", "s0r1Placed"}},
		"OneStatus":  {cloud.OrderFilter{Status: "placed"}, []string{"s0r1Placed"}},
		"Cancelled":  {cloud.OrderFilter{Status: "cancelled"}, []string{"s1r1Cancelled"}},
		// From is inclusive (the order at exactly midnight is in), To is
		// exclusive (the one at the next midnight is not).
		"OneDay":         {cloud.OrderFilter{From: day, To: day.Add(24 * time.Hour)}, []string{"s1r1Cancelled", "s1r0Accepted", "s0r0Ready", "s0r1Placed", "s0r0Delivered"}},
		"SiteDay":        {cloud.OrderFilter{SiteID: sh.sites[0], From: day, To: day.Add(24 * time.Hour)}, []string{"s0r0Ready", "s0r1Placed", "s0r0Delivered"}},
		"FromOnly":       {cloud.OrderFilter{From: day.Add(4 * time.Hour)}, []string{"s0r0NextDay", "s1r1Cancelled"}},
		"ToOnly":         {cloud.OrderFilter{To: day.Add(time.Microsecond)}, []string{"s0r0Delivered", "s0r0DayBefore"}},
		"EmptyRange":     {cloud.OrderFilter{From: day, To: day}, nil},
		"Restricted":     {cloud.OrderFilter{SiteIDs: []string{sh.sites[1]}}, []string{"s1r1Cancelled", "s1r0Accepted"}},
		"RestrictedNone": {cloud.OrderFilter{SiteIDs: []string{}}, nil},
		// A facility manager asking for a site that is not theirs gets
		// nothing, not the site's orders.
		"RestrictedOtherSite": {cloud.OrderFilter{SiteIDs: []string{sh.sites[1]}, SiteID: sh.sites[0]}, nil},
		"RestrictedOpen":      {cloud.OrderFilter{SiteIDs: []string{sh.sites[0]}, Status: cloud.StatusOpen}, []string{"s0r0NextDay", "s0r0Ready", "s0r1Placed"}},
	} {
		t.Run(name, func(t *testing.T) {
			got, next, err := s.ListOrders(t.Context(), sh.org, tc.f, cloud.Page{})
			if err != nil {
				t.Fatal(err)
			}
			want := make([]string, len(tc.want))
			for i, n := range tc.want {
				want[i] = o[n].ID
			}
			if !slices.Equal(ids(got), want) || next != "" {
				t.Fatalf("got %d orders %v (next %q), want %v", len(got), ids(got), next, tc.want)
			}
			for _, g := range got {
				if len(g.Lines) != len(o[nameOf(o, g.ID)].Lines) {
					t.Errorf("order %s has %d lines, want %d", g.ID, len(g.Lines), len(o[nameOf(o, g.ID)].Lines))
				}
			}
		})
	}
}

func nameOf(m map[string]pantry.Order, id string) string {
	for k, v := range m {
		if v.ID == id {
			return k
		}
	}
	return ""
}

// TestListOrdersPages pages through 250 orders, many sharing a created_at
// (ids break the ties), 100 at a time, with a new order arriving between
// pages: every order comes exactly once, in order.
func TestListOrdersPages(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh := newShop(t, s, "A")
	var orders []pantry.Order
	for i := range 250 {
		orders = append(orders, sh.order(orderSpec{site: i % 2, space: i % 3 % 2, at: t0.Add(time.Duration(i/5) * time.Second), qty: [2]int{1, i % 2}}))
	}
	mustInsert(t, s, sh.org, orders...)
	want := slices.Clone(orders)
	slices.SortFunc(want, func(a, b pantry.Order) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return compareUUID(b.ID, a.ID)
	})
	var got []pantry.Order
	var sizes []int
	page := cloud.Page{Limit: 100}
	for {
		os, next, err := s.ListOrders(t.Context(), sh.org, cloud.OrderFilter{}, page)
		if err != nil {
			t.Fatal(err)
		}
		got, sizes = append(got, os...), append(sizes, len(os))
		if next == "" {
			break
		}
		if len(sizes) == 1 { // a newer order arrives: later pages must not shift
			mustInsert(t, s, sh.org, sh.order(orderSpec{at: t0.Add(time.Hour), qty: [2]int{1, 0}}))
		}
		page.Cursor = next
	}
	if !slices.Equal(sizes, []int{100, 100, 50}) {
		t.Errorf("page sizes %v, want [100 100 50]", sizes)
	}
	if !slices.Equal(ids(got), ids(want)) {
		t.Fatalf("pages hold %d orders, not the 250 newest first without gaps or repeats", len(got))
	}
}

// compareUUID orders canonical UUID strings as PostgreSQL orders uuids:
// bytewise, which for lower-case hex is the string order.
func compareUUID(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestListBadInput(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh := newShop(t, s, "A")
	ctx := t.Context()
	garbage := []string{"garbage", "eyJ0IjoieCJ9", encodeCursor(t0, "")[:10] + "!", "e30"}
	for name, tc := range map[string]struct {
		f cloud.OrderFilter
		p cloud.Page
	}{
		"NegativeLimit":  {p: cloud.Page{Limit: -1}},
		"HugeLimit":      {p: cloud.Page{Limit: 100000}},
		"FromAfterTo":    {f: cloud.OrderFilter{From: t0.Add(time.Second), To: t0}},
		"UnknownStatus":  {f: cloud.OrderFilter{Status: "lost"}},
		"BadSiteID":      {f: cloud.OrderFilter{SiteID: "site-1"}},
		"BadSpaceID":     {f: cloud.OrderFilter{SpaceID: "'; DROP TABLE orders; --"}},
		"BadAllowedSite": {f: cloud.OrderFilter{SiteIDs: []string{sh.sites[0], "x"}}},
		// Bad input is refused whoever asks, even a caller who may see
		// no site at all.
		"NoSitesBadStatus": {f: cloud.OrderFilter{SiteIDs: []string{}, Status: "lost"}},
		"NoSitesBadSite":   {f: cloud.OrderFilter{SiteIDs: []string{}, SiteID: "x"}},
		"GarbageCursor0":   {p: cloud.Page{Cursor: garbage[0]}},
		"GarbageCursor1":   {p: cloud.Page{Cursor: garbage[1]}},
		"GarbageCursor2":   {p: cloud.Page{Cursor: garbage[2]}},
		"EmptyJSONCursor":  {p: cloud.Page{Cursor: garbage[3]}},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := s.ListOrders(ctx, sh.org, tc.f, tc.p)
			wantCode(t, err, pantry.EINVALID)
		})
	}
	t.Run("ZeroLimitIsDefault", func(t *testing.T) {
		// Page's contract: 0 is the default page size. An API that wants
		// ?limit=0 refused must tell it from an absent limit itself.
		if _, _, err := s.ListOrders(ctx, sh.org, cloud.OrderFilter{}, cloud.Page{Limit: 0}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("BadOrg", func(t *testing.T) {
		_, _, err := s.ListOrders(ctx, "org", cloud.OrderFilter{}, cloud.Page{})
		wantCode(t, err, pantry.EINVALID)
	})
}

// TestOpenStatusesMatchIndex: the open filter, the domain's idea of an
// open order and the partial index orders_open list the same statuses,
// spelled the same way (TestQueriesUseIndexes checks that the planner
// agrees).
func TestOpenStatusesMatchIndex(t *testing.T) {
	migration, err := migrationFiles.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	list := strings.TrimPrefix(openStatusSQL, "o.")
	if !strings.Contains(string(migration), "ON orders (organization_id, site_id, created_at, id)\n\tWHERE "+list+";") {
		t.Errorf("orders_open's predicate in 0001_init.sql is not %q", list)
	}
	for _, s := range []pantry.OrderStatus{"placed", "accepted", "preparing", "ready", "delivered", "cancelled"} {
		if got, want := strings.Contains(list, "'"+string(s)+"'"), s.Open(); got != want {
			t.Errorf("status %s: in the open filter %v, open for the domain %v", s, got, want)
		}
	}
}
