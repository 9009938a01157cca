package postgres

import (
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

func TestMenu(t *testing.T) {
	t.Parallel()
	f := newCatalogFixture(t)
	a, b := f.a, f.b
	site, other := f.site(t, a, "EUR"), f.site(t, a, "EUR")
	tea, coffee := f.item(t, a, "Tea", 200, "EUR"), f.item(t, a, "Coffee", 250, "EUR")
	dollars := f.item(t, a, "Bagel", 300, "USD")
	bItem := f.item(t, b, "Water", 100, "EUR")
	eur := func(n int64) *pantry.Money { return &pantry.Money{Amount: n, Currency: "EUR"} }

	t.Run("EmptyAtFirst", func(t *testing.T) {
		m, err := f.s.GetMenu(t.Context(), a.id, site)
		if err != nil || m.SiteID != site || m.Currency != "EUR" || m.Items == nil || len(m.Items) != 0 {
			t.Fatalf("menu %+v (%v), want an empty one", m, err)
		}
	})
	t.Run("Put", func(t *testing.T) {
		rev, revOther := f.revision(t, a.id, site), f.revision(t, a.id, other)
		m, err := f.s.PutMenu(t.Context(), a.id, a.who, site, []cloud.MenuEntry{
			{ItemID: tea, Available: true},
			{ItemID: coffee, Available: false, Price: eur(280)},
			{ItemID: dollars, Available: true, Price: eur(310)},
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []struct {
			name      string
			available bool
			override  int64 // -1: none
			effective int64
		}{{"Bagel", true, 310, 310}, {"Coffee", false, 280, 280}, {"Tea", true, -1, 200}}
		if len(m.Items) != len(want) {
			t.Fatalf("menu %+v", m)
		}
		for i, w := range want {
			mi := m.Items[i]
			override := int64(-1)
			if mi.Price != nil {
				override = mi.Price.Amount
			}
			if mi.Item.Name != w.name || mi.ItemID != mi.Item.ID || mi.Available != w.available || override != w.override ||
				mi.EffectivePrice != (pantry.Money{Amount: w.effective, Currency: "EUR"}) {
				t.Errorf("item %d: %+v, want %+v", i, mi, w)
			}
		}
		if got := f.revision(t, a.id, site); got != rev+1 || m.CatalogRevision != got {
			t.Errorf("revision %d (menu says %d), want %d", got, m.CatalogRevision, rev+1)
		}
		if got := f.revision(t, a.id, other); got != revOther {
			t.Errorf("other site's revision %d, want %d", got, revOther)
		}
		got, err := f.s.GetMenu(t.Context(), a.id, site)
		if err != nil || len(got.Items) != 3 || got.CatalogRevision != m.CatalogRevision {
			t.Fatalf("read back %+v (%v)", got, err)
		}
	})
	t.Run("Replace", func(t *testing.T) {
		m, err := f.s.PutMenu(t.Context(), a.id, a.who, site, []cloud.MenuEntry{{ItemID: coffee, Available: true}})
		if err != nil || len(m.Items) != 1 || m.Items[0].ItemID != coffee || m.Items[0].Price != nil || m.Items[0].EffectivePrice.Amount != 250 {
			t.Fatalf("replaced: %+v (%v)", m, err)
		}
	})
	t.Run("AuditBeforeAfter", func(t *testing.T) {
		// The log stores the entries as PutMenu takes them, before and after.
		rows, _ := f.super.Query(t.Context(), `SELECT format('%s %s %s', jsonb_array_length(before), jsonb_array_length(after), after->0->>'item_id')
			FROM audit_log WHERE organization_id = $1 AND resource_id = $2 AND action = 'menu.put' ORDER BY at, id`, a.id, site)
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"0 3 " + dollars, "3 1 " + coffee}; strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("audit before/after %q, want %q", got, want)
		}
	})
	t.Run("BadInput", func(t *testing.T) {
		unknown := pantry.NewID()
		tests := []struct {
			name    string
			site    string
			entries []cloud.MenuEntry
			code    string
			message string // a part of the message
		}{
			{"UnknownItem", site, []cloud.MenuEntry{{ItemID: tea}, {ItemID: unknown}}, pantry.EINVALID, unknown},
			{"OtherTenantsItem", site, []cloud.MenuEntry{{ItemID: bItem}}, pantry.EINVALID, bItem},
			{"WrongOverrideCurrency", site, []cloud.MenuEntry{{ItemID: tea, Price: &pantry.Money{Amount: 100, Currency: "USD"}}}, pantry.EINVALID, "USD"},
			{"ItemInOtherCurrency", site, []cloud.MenuEntry{{ItemID: dollars}}, pantry.EINVALID, dollars},
			{"NegativeOverride", site, []cloud.MenuEntry{{ItemID: tea, Price: eur(-1)}}, pantry.EINVALID, "out of range"},
			{"Duplicate", site, []cloud.MenuEntry{{ItemID: tea}, {ItemID: tea}}, pantry.EINVALID, "twice"},
			{"MalformedItem", site, []cloud.MenuEntry{{ItemID: "tea"}}, pantry.EINVALID, "not a UUID"},
			{"TooMany", site, make([]cloud.MenuEntry, cloud.MaxMenuItems+1), pantry.EINVALID, "at most"},
			{"UnknownSite", pantry.NewID(), []cloud.MenuEntry{{ItemID: tea}}, pantry.ENOTFOUND, "not found"},
			{"MalformedSite", "x", nil, pantry.ENOTFOUND, "not found"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var err error
				f.refused(t, tt.code, func() error { _, err = f.s.PutMenu(t.Context(), a.id, a.who, tt.site, tt.entries); return err })
				if !strings.Contains(pantry.ErrorMessage(err), tt.message) {
					t.Errorf("message %q does not say %q", pantry.ErrorMessage(err), tt.message)
				}
			})
		}
		m, err := f.s.GetMenu(t.Context(), a.id, site)
		if err != nil || len(m.Items) != 1 || m.Items[0].ItemID != coffee {
			t.Fatalf("menu after refusals: %+v (%v), want the last good one", m, err)
		}
	})
	t.Run("ArchivedItem", func(t *testing.T) {
		yes := true
		old := f.item(t, a, "Old", 100, "EUR")
		if _, err := f.s.UpdateItem(t.Context(), a.id, a.who, old, cloud.ItemUpdate{Archived: &yes}); err != nil {
			t.Fatal(err)
		}
		f.refused(t, pantry.EINVALID, func() error {
			_, err := f.s.PutMenu(t.Context(), a.id, a.who, site, []cloud.MenuEntry{{ItemID: old}})
			return err
		})
	})
	t.Run("Empty", func(t *testing.T) {
		m, err := f.s.PutMenu(t.Context(), a.id, a.who, other, nil)
		if err != nil || len(m.Items) != 0 {
			t.Fatalf("menu %+v (%v)", m, err)
		}
	})
	t.Run("ConcurrentChanges", func(t *testing.T) {
		// Menus of two sites and the items on them, changed at once: every
		// change commits (no deadlock between the sites' and the items'
		// locks) and every one bumps the revisions it should.
		s1, s2 := f.site(t, a, "EUR"), f.site(t, a, "EUR")
		rev1, rev2 := f.revision(t, a.id, s1), f.revision(t, a.id, s2)
		const workers, rounds = 4, 10
		errs := make(chan error, workers*rounds)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for n := range rounds {
					var err error
					switch price := (pantry.Money{Amount: int64(n), Currency: "EUR"}); (w + n) % 4 {
					case 0:
						_, err = f.s.PutMenu(t.Context(), a.id, a.who, s1, []cloud.MenuEntry{{ItemID: tea}, {ItemID: coffee}})
					case 1:
						_, err = f.s.PutMenu(t.Context(), a.id, a.who, s2, []cloud.MenuEntry{{ItemID: coffee}, {ItemID: tea}})
					case 2:
						_, err = f.s.UpdateItem(t.Context(), a.id, a.who, tea, cloud.ItemUpdate{Price: &price})
					case 3:
						_, err = f.s.UpdateItem(t.Context(), a.id, a.who, coffee, cloud.ItemUpdate{Price: &price})
					}
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		// Each site: its own puts (a quarter of the calls) plus every item
		// update (half of them).
		want := int64(workers * rounds * 3 / 4)
		if g1, g2 := f.revision(t, a.id, s1)-rev1, f.revision(t, a.id, s2)-rev2; g1 != want || g2 != want {
			t.Fatalf("revisions moved by %d and %d, want %d each", g1, g2, want)
		}
	})
	t.Run("TenantIsolation", func(t *testing.T) {
		f.refused(t, pantry.ENOTFOUND, func() error { _, err := f.s.GetMenu(t.Context(), b.id, site); return err })
		f.refused(t, pantry.ENOTFOUND, func() error {
			_, err := f.s.PutMenu(t.Context(), b.id, b.who, site, []cloud.MenuEntry{{ItemID: bItem}})
			return err
		})
		// B's own site with A's item: A's item does not exist for B.
		bSite := f.site(t, b, "EUR")
		f.refused(t, pantry.EINVALID, func() error {
			_, err := f.s.PutMenu(t.Context(), b.id, b.who, bSite, []cloud.MenuEntry{{ItemID: tea}})
			return err
		})
	})
}
