package postgres

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

func TestStock(t *testing.T) {
	t.Parallel()
	f := newCatalogFixture(t)
	a, b := f.a, f.b
	site, other := f.site(t, a, "EUR"), f.site(t, a, "EUR")
	tea, coffee, water := f.item(t, a, "Tea", 200, "EUR"), f.item(t, a, "Coffee", 250, "EUR"), f.item(t, a, "Water", 100, "EUR")
	low := int64(5)
	if _, err := f.s.UpdateItem(t.Context(), a.id, a.who, coffee, cloud.ItemUpdate{LowStockThreshold: &low}); err != nil {
		t.Fatal(err)
	}
	// Tea is on the menu and has never moved; coffee moves; water is on
	// no menu and never moves, so it has no level here.
	if _, err := f.s.PutMenu(t.Context(), a.id, a.who, site, []cloud.MenuEntry{{ItemID: tea, Available: true}, {ItemID: coffee, Available: true}}); err != nil {
		t.Fatal(err)
	}

	t.Run("Record", func(t *testing.T) {
		m, err := f.s.RecordStockMovement(t.Context(), a.id, a.who, site, coffee, 10, "restock")
		if err != nil {
			t.Fatal(err)
		}
		if m.SiteID != site || m.ItemID != coffee || m.Delta != 10 || m.Reason != pantry.StockRestock || m.Origin != "cloud" ||
			m.Actor != "user:"+a.who.ID || m.OrderID != "" || m.CreatedAt.IsZero() {
			t.Fatalf("recorded %+v", m)
		}
		entries := f.audit(t, a.id, m.ID)
		if auditActions(entries) != "stock_movement.create" || entries[0].After["delta"] != 10.0 {
			t.Fatalf("audit %+v", entries)
		}
	})
	t.Run("Levels", func(t *testing.T) {
		for _, mv := range []struct {
			delta  int64
			reason string
		}{{-3, "waste"}, {-1, "count"}} {
			if _, err := f.s.RecordStockMovement(t.Context(), a.id, a.who, site, coffee, mv.delta, mv.reason); err != nil {
				t.Fatal(err)
			}
		}
		// Below zero is allowed: the edge's restock may not have arrived.
		if _, err := f.s.RecordStockMovement(t.Context(), a.id, a.who, other, water, -2, "adjustment"); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			site string
			want string
		}{
			{site, fmt.Sprintf("%s Coffee 6 false|%s Tea 0 true", coffee, tea)},
			{other, fmt.Sprintf("%s Water -2 true", water)},
		}
		for _, tt := range tests {
			levels, err := f.s.StockLevels(t.Context(), a.id, tt.site)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range levels {
				got = append(got, fmt.Sprintf("%s %s %d %v", l.ItemID, l.Name, l.Level, l.Low))
			}
			if strings.Join(got, "|") != tt.want {
				t.Errorf("levels\n%s\nwant\n%s", strings.Join(got, "|"), tt.want)
			}
		}
	})
	t.Run("ListWithItemFilter", func(t *testing.T) {
		if _, err := f.s.RecordStockMovement(t.Context(), a.id, a.who, site, tea, 4, "restock"); err != nil {
			t.Fatal(err)
		}
		all, next, err := f.s.ListStockMovements(t.Context(), a.id, site, "", cloud.Page{})
		if err != nil || len(all) != 4 || next != "" || all[0].ItemID != tea || all[0].Delta != 4 {
			t.Fatalf("all %+v next %q (%v)", all, next, err)
		}
		coffees, _, err := f.s.ListStockMovements(t.Context(), a.id, site, coffee, cloud.Page{})
		if err != nil || len(coffees) != 3 || coffees[0].Delta != -1 || coffees[2].Delta != 10 {
			t.Fatalf("coffee %+v (%v)", coffees, err)
		}
	})
	t.Run("BadInput", func(t *testing.T) {
		record := func(site, item string, delta int64, reason string) func() error {
			return func() error {
				_, err := f.s.RecordStockMovement(t.Context(), a.id, a.who, site, item, delta, reason)
				return err
			}
		}
		tests := []struct {
			name string
			call func() error
			code string
		}{
			{"ZeroDelta", record(site, tea, 0, "count"), pantry.EINVALID},
			{"HugeDelta", record(site, tea, pantry.MaxStockDelta+1, "restock"), pantry.EINVALID},
			{"HugeNegativeDelta", record(site, tea, -pantry.MaxStockDelta-1, "waste"), pantry.EINVALID},
			{"SaleIsTheEdges", record(site, tea, -1, "sale"), pantry.EINVALID},
			{"ReturnIsTheEdges", record(site, tea, 1, "cancel_return"), pantry.EINVALID},
			{"UnknownReason", record(site, tea, 1, "theft"), pantry.EINVALID},
			{"UnknownItem", record(site, pantry.NewID(), 1, "restock"), pantry.ENOTFOUND},
			{"MalformedItem", record(site, "tea", 1, "restock"), pantry.ENOTFOUND},
			{"UnknownSite", record(pantry.NewID(), tea, 1, "restock"), pantry.ENOTFOUND},
			{"LevelsOfUnknownSite", func() error { _, err := f.s.StockLevels(t.Context(), a.id, pantry.NewID()); return err }, pantry.ENOTFOUND},
			{"ListMalformedItem", func() error {
				_, _, err := f.s.ListStockMovements(t.Context(), a.id, site, "x", cloud.Page{})
				return err
			}, pantry.EINVALID},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { f.refused(t, tt.code, tt.call) })
		}
	})
	t.Run("TenantIsolation", func(t *testing.T) {
		bSite, bItem := f.site(t, b, "EUR"), f.item(t, b, "Juice", 300, "EUR")
		for name, call := range map[string]func() error{
			"RecordAtASite": func() error {
				_, err := f.s.RecordStockMovement(t.Context(), b.id, b.who, site, bItem, 1, "restock")
				return err
			},
			"RecordAnItem": func() error {
				_, err := f.s.RecordStockMovement(t.Context(), b.id, b.who, bSite, tea, 1, "restock")
				return err
			},
			"LevelsOfASite": func() error { _, err := f.s.StockLevels(t.Context(), b.id, site); return err },
			"MovementsOfASite": func() error {
				_, _, err := f.s.ListStockMovements(t.Context(), b.id, site, "", cloud.Page{})
				return err
			},
			"ASiteWithOwnItem": func() error {
				_, _, err := f.s.ListStockMovements(t.Context(), b.id, site, bItem, cloud.Page{})
				return err
			},
			"AsAWithBsItem": func() error {
				_, err := f.s.RecordStockMovement(t.Context(), a.id, a.who, site, bItem, 1, "restock")
				return err
			},
		} {
			t.Run(name, func(t *testing.T) { f.refused(t, pantry.ENOTFOUND, call) })
		}
		levels, err := f.s.StockLevels(t.Context(), b.id, bSite)
		if err != nil || len(levels) != 0 {
			t.Fatalf("B's levels %+v (%v), want none", levels, err)
		}
		moves, _, err := f.s.ListStockMovements(t.Context(), b.id, bSite, tea, cloud.Page{})
		if err != nil || len(moves) != 0 {
			t.Fatalf("B's movements of A's item %+v (%v), want none", moves, err)
		}
	})
	t.Run("Pagination", func(t *testing.T) {
		var want []string
		for i := range 7 {
			m, err := f.s.RecordStockMovement(t.Context(), a.id, a.who, other, tea, int64(i+1), "restock")
			if err != nil {
				t.Fatal(err)
			}
			want = append([]string{m.ID}, want...)
		}
		checkSevenInPages(t, want, func(p cloud.Page) ([]cloud.StockMovement, string, error) {
			return f.s.ListStockMovements(t.Context(), a.id, other, tea, p)
		}, func(m cloud.StockMovement) string { return m.ID })
	})
}
