package postgres

import (
	"testing"
	"time"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// TestReadsTenantIsolation: organization B, asking every read it can with
// A's ids, gets nothing of A's.
func TestReadsTenantIsolation(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	a, b := newShop(t, s, "A"), newShop(t, s, "B")
	ctx := t.Context()
	var aOrders []pantry.Order
	for i := range 6 {
		aOrders = append(aOrders, a.order(orderSpec{site: i % 2, space: i % 2, at: t0.Add(time.Duration(i) * time.Minute), status: pantry.StatusPlaced, qty: [2]int{1, 1}}))
	}
	mustInsert(t, s, a.org, aOrders...)
	bOrder := b.order(orderSpec{at: t0, status: pantry.StatusPlaced, qty: [2]int{1, 0}})
	mustInsert(t, s, b.org, bOrder)
	aIDs := map[string]bool{a.org: true}
	for _, o := range aOrders {
		aIDs[o.ID] = true
	}
	for _, id := range append(a.sites[:], a.spaces[0][0], a.spaces[1][1], a.items[0], a.items[1]) {
		aIDs[id] = true
	}

	t.Run("Orders", func(t *testing.T) {
		for name, f := range map[string]cloud.OrderFilter{
			"All": {}, "Open": {Status: cloud.StatusOpen}, "ASite": {SiteID: a.sites[0]}, "ASpace": {SpaceID: a.spaces[0][0]},
			"ASites": {SiteIDs: a.sites[:]}, "ASiteOpen": {SiteID: a.sites[1], Status: cloud.StatusOpen},
		} {
			got, _, err := s.ListOrders(ctx, b.org, f, cloud.Page{})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for _, o := range got {
				if aIDs[o.ID] || o.ID != bOrder.ID {
					t.Errorf("%s: B sees order %s", name, o.ID)
				}
			}
		}
		for _, o := range aOrders {
			_, err := s.GetOrder(ctx, b.org, o.ID)
			wantCode(t, err, pantry.ENOTFOUND)
		}
	})
	t.Run("ACursor", func(t *testing.T) {
		// A cursor names a position, not a tenant: B paging with A's
		// cursor still sees only B's orders.
		_, next, err := s.ListOrders(ctx, a.org, cloud.OrderFilter{}, cloud.Page{Limit: 2})
		if err != nil || next == "" {
			t.Fatalf("A's first page: next %q, %v", next, err)
		}
		got, _, err := s.ListOrders(ctx, b.org, cloud.OrderFilter{}, cloud.Page{Cursor: next})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range got {
			if aIDs[o.ID] {
				t.Errorf("B sees A's order %s", o.ID)
			}
		}
	})
	t.Run("Payments", func(t *testing.T) {
		for name, f := range map[string]cloud.PaymentFilter{"All": {}, "ASite": {SiteID: a.sites[0]}, "ASites": {SiteIDs: a.sites[:]}} {
			got, _, err := s.ListPayments(ctx, b.org, f, cloud.Page{})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for _, p := range got {
				if aIDs[p.OrderID] || p.OrderID != bOrder.ID {
					t.Errorf("%s: B sees the payment of order %s", name, p.OrderID)
				}
			}
		}
	})
	t.Run("Audit", func(t *testing.T) {
		for name, f := range map[string]cloud.AuditFilter{"All": {}, "AOrg": {ResourceID: a.org}, "Organizations": {Resource: "organization"}} {
			got, _, err := s.ListAudit(ctx, b.org, f, cloud.Page{})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for _, e := range got {
				if e.ResourceID != b.org {
					t.Errorf("%s: B sees audit entry %+v", name, e)
				}
			}
		}
	})
	t.Run("Reports", func(t *testing.T) {
		for _, g := range []string{cloud.GroupBySite, cloud.GroupBySpace, cloud.GroupByCostCenter, cloud.GroupByDay, cloud.GroupByItem} {
			for _, sites := range [][]string{nil, a.sites[:]} {
				rows, err := s.Consumption(ctx, b.org, cloud.ReportFilter{SiteIDs: sites, From: t0.Add(-time.Hour), To: t0.Add(time.Hour), GroupBy: g})
				if err != nil {
					t.Fatalf("%s: %v", g, err)
				}
				var orders int64
				for _, r := range rows {
					orders += r.Orders
					if aIDs[r.Key] {
						t.Errorf("%s: B sees A's %s", g, r.Key)
					}
				}
				want := int64(0) // A's sites hold none of B's orders
				if sites == nil {
					want = 1
				}
				if orders != want {
					t.Errorf("%s (sites %v): B's report counts %d orders, want %d", g, sites, orders, want)
				}
			}
		}
	})
	t.Run("InsertIntoASite", func(t *testing.T) {
		// B cannot write an order naming A's site and room: the composite
		// foreign keys find no such room in B's organization.
		o := a.order(orderSpec{at: t0, qty: [2]int{1, 0}})
		o.Lines[0].ItemID = b.items[0]
		wantCode(t, s.InsertOrders(ctx, b.org, []pantry.Order{o}, ""), pantry.EINVALID)
		if _, err := s.GetOrder(ctx, a.org, o.ID); pantry.ErrorCode(err) != pantry.ENOTFOUND {
			t.Fatalf("the order reached A: %v", err)
		}
	})
}
