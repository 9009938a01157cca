package postgres

import (
	"slices"
	"testing"
	"time"

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
		f    PaymentFilter
		want []int // indexes into o, newest first
	}{
		"All":             {PaymentFilter{}, []int{3, 2, 1, 0}},
		"Site":            {PaymentFilter{SiteID: sh.sites[0]}, []int{1, 0}},
		"Method":          {PaymentFilter{Method: "cost_center"}, []int{2, 1}},
		"SiteAndMethod":   {PaymentFilter{SiteID: sh.sites[1], Method: "complimentary"}, []int{3}},
		"Range":           {PaymentFilter{From: t0.Add(time.Hour), To: t0.Add(3 * time.Hour)}, []int{2, 1}},
		"Restricted":      {PaymentFilter{SiteIDs: []string{sh.sites[1]}}, []int{3, 2}},
		"RestrictedNone":  {PaymentFilter{SiteIDs: []string{}}, nil},
		"RestrictedOther": {PaymentFilter{SiteIDs: []string{sh.sites[1]}, SiteID: sh.sites[0]}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			got, next, err := s.ListPayments(t.Context(), sh.org, tc.f, Page{})
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
		page := Page{Limit: 3}
		for {
			ps, next, err := s.ListPayments(t.Context(), sh.org, PaymentFilter{}, page)
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
			f PaymentFilter
			p Page
		}{
			"UnknownMethod": {f: PaymentFilter{Method: "cash"}},
			"FromAfterTo":   {f: PaymentFilter{From: t0, To: t0.Add(-time.Second)}},
			"BadSite":       {f: PaymentFilter{SiteID: "x"}},
			"BadLimit":      {p: Page{Limit: MaxPageSize + 1}},
			"BadCursor":     {p: Page{Cursor: "%%%"}},
		} {
			t.Run(name, func(t *testing.T) {
				_, _, err := s.ListPayments(t.Context(), sh.org, tc.f, tc.p)
				wantCode(t, err, pantry.EINVALID)
			})
		}
	})
}
