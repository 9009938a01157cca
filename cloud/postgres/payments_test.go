package postgres

import (
	"slices"
	"testing"
	"time"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

func TestListPayments(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh := newShop(t, s, "A")
	o := []pantry.Order{
		sh.order(orderSpec{site: 0, at: t0, qty: [2]int{1, 0}}),
		sh.order(orderSpec{site: 0, at: t0.Add(time.Hour), qty: [2]int{1, 0}, costCenter: "CC-1"}),
		sh.order(orderSpec{site: 1, at: t0.Add(2 * time.Hour), qty: [2]int{0, 1}, costCenter: "CC-1"}),
		sh.order(orderSpec{site: 1, at: t0.Add(3 * time.Hour), qty: [2]int{0, 1}}),
	}
	mustInsert(t, s, sh.org, o...)
	for name, tc := range map[string]struct {
		f    cloud.PaymentFilter
		want []int // indexes into o, newest first
	}{
		"All":             {cloud.PaymentFilter{}, []int{3, 2, 1, 0}},
		"Site":            {cloud.PaymentFilter{SiteID: sh.sites[0]}, []int{1, 0}},
		"Method":          {cloud.PaymentFilter{Method: "cost_center"}, []int{2, 1}},
		"SiteAndMethod":   {cloud.PaymentFilter{SiteID: sh.sites[1], Method: "complimentary"}, []int{3}},
		"Range":           {cloud.PaymentFilter{From: t0.Add(time.Hour), To: t0.Add(3 * time.Hour)}, []int{2, 1}},
		"Restricted":      {cloud.PaymentFilter{SiteIDs: []string{sh.sites[1]}}, []int{3, 2}},
		"RestrictedNone":  {cloud.PaymentFilter{SiteIDs: []string{}}, nil},
		"RestrictedOther": {cloud.PaymentFilter{SiteIDs: []string{sh.sites[1]}, SiteID: sh.sites[0]}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			got, next, err := s.ListPayments(t.Context(), sh.org, tc.f, cloud.Page{})
			if err != nil {
				t.Fatal(err)
			}
			var gotIDs, wantIDs []string
			for _, p := range got {
				gotIDs = append(gotIDs, p.OrderID)
			}
			for _, i := range tc.want {
				wantIDs = append(wantIDs, o[i].ID)
			}
			if !slices.Equal(gotIDs, wantIDs) || next != "" {
				t.Fatalf("payments of orders %v (next %q), want %v", gotIDs, next, wantIDs)
			}
		})
	}
	t.Run("Pages", func(t *testing.T) {
		var seen []string
		page := cloud.Page{Limit: 3}
		for {
			ps, next, err := s.ListPayments(t.Context(), sh.org, cloud.PaymentFilter{}, page)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ps {
				seen = append(seen, p.OrderID)
			}
			if next == "" {
				break
			}
			page.Cursor = next
		}
		if want := []string{o[3].ID, o[2].ID, o[1].ID, o[0].ID}; !slices.Equal(seen, want) {
			t.Fatalf("pages hold %v, want %v", seen, want)
		}
	})
	t.Run("BadInput", func(t *testing.T) {
		for name, tc := range map[string]struct {
			f cloud.PaymentFilter
			p cloud.Page
		}{
			"UnknownMethod": {f: cloud.PaymentFilter{Method: "cash"}},
			"FromAfterTo":   {f: cloud.PaymentFilter{From: t0, To: t0.Add(-time.Second)}},
			"BadSite":       {f: cloud.PaymentFilter{SiteID: "x"}},
			"BadLimit":      {p: cloud.Page{Limit: cloud.MaxPageSize + 1}},
			"BadCursor":     {p: cloud.Page{Cursor: "%%%"}},
		} {
			t.Run(name, func(t *testing.T) {
				_, _, err := s.ListPayments(t.Context(), sh.org, tc.f, tc.p)
				wantCode(t, err, pantry.EINVALID)
			})
		}
	})
}
