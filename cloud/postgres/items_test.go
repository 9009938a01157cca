package postgres

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

func TestItems(t *testing.T) {
	t.Parallel()
	f := newCatalogFixture(t)
	a, b := f.a, f.b
	site1, site2, bSite := f.site(t, a, "EUR"), f.site(t, a, "EUR"), f.site(t, b, "EUR")
	rev1, rev2, revB := f.revision(t, a.id, site1), f.revision(t, a.id, site2), f.revision(t, b.id, bSite)
	it, err := f.s.CreateItem(t.Context(), a.id, a.who, cloud.ItemInput{
		Name: " Coffee ", Description: "Filter coffee", Price: pantry.Money{Amount: 250, Currency: "EUR"},
		Tags: []string{"hot", " hot", "drink "}, Allergens: nil, LowStockThreshold: 5, ImageURL: "https://img.example.com/c.png",
	})
	if err != nil {
		t.Fatal(err)
	}
	if it.Name != "Coffee" || it.Price != (pantry.Money{Amount: 250, Currency: "EUR"}) || !slices.Equal(it.Tags, []string{"hot", "drink"}) ||
		it.Allergens == nil || len(it.Allergens) != 0 || it.LowStockThreshold != 5 || it.CreatedAt.IsZero() || it.UpdatedAt.IsZero() {
		t.Fatalf("created %+v", it)
	}

	t.Run("JSON", func(t *testing.T) {
		b, _ := json.Marshal(it)
		for _, key := range []string{`"id":`, `"price":{"amount":250,"currency":"EUR"}`, `"tags":["hot","drink"]`, `"allergens":[]`,
			`"low_stock_threshold":5`, `"image_url":`, `"created_at":`, `"updated_at":`} {
			if !strings.Contains(string(b), key) {
				t.Errorf("%s lacks %s", b, key)
			}
		}
	})
	t.Run("CatalogRevisionOfEverySite", func(t *testing.T) {
		if f.revision(t, a.id, site1) != rev1+1 || f.revision(t, a.id, site2) != rev2+1 || f.revision(t, b.id, bSite) != revB {
			t.Fatalf("revisions %d %d (B: %d), want %d %d (B: %d)",
				f.revision(t, a.id, site1), f.revision(t, a.id, site2), f.revision(t, b.id, bSite), rev1+1, rev2+1, revB)
		}
	})
	t.Run("Get", func(t *testing.T) {
		got, err := f.s.GetItem(t.Context(), a.id, it.ID)
		if err != nil || got.Name != it.Name || !got.CreatedAt.Equal(it.CreatedAt) || !slices.Equal(got.Tags, it.Tags) {
			t.Fatalf("got %+v (%v), want %+v", got, err, it)
		}
	})
	t.Run("UpdateIsPartial", func(t *testing.T) {
		rev := f.revision(t, a.id, site1)
		price, allergens := pantry.Money{Amount: 300, Currency: "EUR"}, []string{"milk"}
		got, err := f.s.UpdateItem(t.Context(), a.id, a.who, it.ID, cloud.ItemUpdate{Price: &price, Allergens: &allergens})
		if err != nil || got.Price != price || !slices.Equal(got.Allergens, allergens) || got.Name != "Coffee" ||
			!slices.Equal(got.Tags, it.Tags) || got.Description != it.Description || got.ImageURL != it.ImageURL || !got.UpdatedAt.After(it.UpdatedAt) {
			t.Fatalf("updated %+v (%v)", got, err)
		}
		if f.revision(t, a.id, site1) != rev+1 {
			t.Errorf("revision %d, want %d", f.revision(t, a.id, site1), rev+1)
		}
		entries := f.audit(t, a.id, it.ID)
		if auditActions(entries) != "item.create item.update" || entries[1].ActorID != a.who.ID ||
			entries[1].Before["price"].(map[string]any)["amount"] != 250.0 || entries[1].After["price"].(map[string]any)["amount"] != 300.0 {
			t.Fatalf("audit %+v", entries)
		}
	})
	t.Run("BadInput", func(t *testing.T) {
		ok := cloud.ItemInput{Name: "Tea", Price: pantry.Money{Amount: 100, Currency: "EUR"}}
		with := func(change func(*cloud.ItemInput)) cloud.ItemInput { in := ok; change(&in); return in }
		many := make([]string, cloud.MaxItemLabels+1)
		for i := range many {
			many[i] = "t" + string(rune('a'+i))
		}
		empty, huge, neg, badURL := "", strings.Repeat("n", 10<<10), int64(-1), "javascript:alert(1)"
		upperStation, allStation := "Drinks", pantry.StationAll
		negPrice := pantry.Money{Amount: -1, Currency: "EUR"}
		tests := []struct {
			name string
			call func() error
			code string
		}{
			{"EmptyName", f.createItem(a, with(func(in *cloud.ItemInput) { in.Name = " " })), pantry.EINVALID},
			{"HugeName", f.createItem(a, with(func(in *cloud.ItemInput) { in.Name = huge })), pantry.EINVALID},
			{"HugeDescription", f.createItem(a, with(func(in *cloud.ItemInput) { in.Description = huge })), pantry.EINVALID},
			{"NegativePrice", f.createItem(a, with(func(in *cloud.ItemInput) { in.Price.Amount = -1 })), pantry.EINVALID},
			{"AbsurdPrice", f.createItem(a, with(func(in *cloud.ItemInput) { in.Price.Amount = pantry.MaxAmount + 1 })), pantry.EINVALID},
			{"BadCurrency", f.createItem(a, with(func(in *cloud.ItemInput) { in.Price.Currency = "euro" })), pantry.EINVALID},
			{"NoCurrency", f.createItem(a, with(func(in *cloud.ItemInput) { in.Price.Currency = "" })), pantry.EINVALID},
			{"TooManyTags", f.createItem(a, with(func(in *cloud.ItemInput) { in.Tags = many })), pantry.EINVALID},
			{"TooManyAllergens", f.createItem(a, with(func(in *cloud.ItemInput) { in.Allergens = many })), pantry.EINVALID},
			{"LongTag", f.createItem(a, with(func(in *cloud.ItemInput) { in.Tags = []string{strings.Repeat("t", 41)} })), pantry.EINVALID},
			{"EmptyTag", f.createItem(a, with(func(in *cloud.ItemInput) { in.Tags = []string{" "} })), pantry.EINVALID},
			{"NegativeThreshold", f.createItem(a, with(func(in *cloud.ItemInput) { in.LowStockThreshold = -1 })), pantry.EINVALID},
			{"JavascriptURL", f.createItem(a, with(func(in *cloud.ItemInput) { in.ImageURL = badURL })), pantry.EINVALID},
			{"FTPURL", f.createItem(a, with(func(in *cloud.ItemInput) { in.ImageURL = "ftp://x.example/a.png" })), pantry.EINVALID},
			{"StationUpperCase", f.createItem(a, with(func(in *cloud.ItemInput) { in.Station = "Drinks" })), pantry.EINVALID},
			{"StationSpace", f.createItem(a, with(func(in *cloud.ItemInput) { in.Station = "hot food" })), pantry.EINVALID},
			{"StationUnderscore", f.createItem(a, with(func(in *cloud.ItemInput) { in.Station = "hot_food" })), pantry.EINVALID},
			{"StationTooLong", f.createItem(a, with(func(in *cloud.ItemInput) { in.Station = strings.Repeat("s", 33) })), pantry.EINVALID},
			{"StationReserved", f.createItem(a, with(func(in *cloud.ItemInput) { in.Station = pantry.StationAll })), pantry.EINVALID},
			{"UpdateStationUpperCase", f.updateItem(a, it.ID, cloud.ItemUpdate{Station: &upperStation}), pantry.EINVALID},
			{"UpdateStationReserved", f.updateItem(a, it.ID, cloud.ItemUpdate{Station: &allStation}), pantry.EINVALID},
			{"RelativeURL", f.createItem(a, with(func(in *cloud.ItemInput) { in.ImageURL = "/a.png" })), pantry.EINVALID},
			{"LongURL", f.createItem(a, with(func(in *cloud.ItemInput) { in.ImageURL = "https://x.example/" + strings.Repeat("a", 2000) })), pantry.EINVALID},
			{"UpdateEmptyName", f.updateItem(a, it.ID, cloud.ItemUpdate{Name: &empty}), pantry.EINVALID},
			{"UpdateNegativePrice", f.updateItem(a, it.ID, cloud.ItemUpdate{Price: &negPrice}), pantry.EINVALID},
			{"UpdateNegativeThreshold", f.updateItem(a, it.ID, cloud.ItemUpdate{LowStockThreshold: &neg}), pantry.EINVALID},
			{"UpdateBadURL", f.updateItem(a, it.ID, cloud.ItemUpdate{ImageURL: &badURL}), pantry.EINVALID},
			{"UpdateTooManyTags", f.updateItem(a, it.ID, cloud.ItemUpdate{Tags: &many}), pantry.EINVALID},
			{"UpdateUnknown", f.updateItem(a, pantry.NewID(), cloud.ItemUpdate{}), pantry.ENOTFOUND},
			{"UpdateMalformedID", f.updateItem(a, "nope", cloud.ItemUpdate{}), pantry.ENOTFOUND},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { f.refused(t, tt.code, tt.call) })
		}
	})
	t.Run("Station", func(t *testing.T) {
		st, err := f.s.CreateItem(t.Context(), a.id, a.who, cloud.ItemInput{Name: "Tea", Price: pantry.Money{Amount: 200, Currency: "EUR"}, Station: " drinks "})
		if err != nil || st.Station != "drinks" {
			t.Fatalf("created %+v (%v), want station drinks", st, err)
		}
		food, none := "food", ""
		for _, step := range []struct {
			up   cloud.ItemUpdate
			want string
		}{
			{cloud.ItemUpdate{Station: &food}, "food"},
			{cloud.ItemUpdate{Name: &st.Name}, "food"},
			{cloud.ItemUpdate{Station: &none}, ""},
		} {
			got, err := f.s.UpdateItem(t.Context(), a.id, a.who, st.ID, step.up)
			if err != nil || got.Station != step.want {
				t.Fatalf("after %+v: station %q (%v), want %q", step.up, got.Station, err, step.want)
			}
			if read, _ := f.s.GetItem(t.Context(), a.id, st.ID); read.Station != step.want {
				t.Fatalf("read back station %q, want %q", read.Station, step.want)
			}
		}
		// A row written around the store cannot carry a station the
		// edges would refuse either (0008_item_station.sql).
		for _, bad := range []string{"Drinks", "all", "hot food", strings.Repeat("s", 33)} {
			if _, err := f.super.Exec(t.Context(), `UPDATE items SET station = $3 WHERE organization_id = $1 AND id = $2`, a.id, st.ID, bad); err == nil {
				t.Errorf("the table took station %q", bad)
			}
		}
	})
	t.Run("UpdateKeepsCallersSlices", func(t *testing.T) {
		tags := []string{" iced ", "iced"}
		if _, err := f.s.UpdateItem(t.Context(), a.id, a.who, it.ID, cloud.ItemUpdate{Tags: &tags}); err != nil {
			t.Fatal(err)
		}
		if len(tags) != 2 || tags[0] != " iced " {
			t.Fatalf("caller's tags became %q", tags)
		}
	})
	t.Run("CurrencyChangeOnAMenu", func(t *testing.T) {
		item := f.item(t, a, "Croissant", 180, "EUR")
		if _, err := f.s.PutMenu(t.Context(), a.id, a.who, site1, []cloud.MenuEntry{{ItemID: item, Available: true}}); err != nil {
			t.Fatal(err)
		}
		usd := pantry.Money{Amount: 200, Currency: "USD"}
		f.refused(t, pantry.EINVALID, f.updateItem(a, item, cloud.ItemUpdate{Price: &usd}))
		// With an override in the site's currency, the item's own price
		// may be in another.
		eur := pantry.Money{Amount: 190, Currency: "EUR"}
		if _, err := f.s.PutMenu(t.Context(), a.id, a.who, site1, []cloud.MenuEntry{{ItemID: item, Available: true, Price: &eur}}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.UpdateItem(t.Context(), a.id, a.who, item, cloud.ItemUpdate{Price: &usd}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Archive", func(t *testing.T) {
		yes, no := true, false
		got, err := f.s.UpdateItem(t.Context(), a.id, a.who, it.ID, cloud.ItemUpdate{Archived: &yes})
		if err != nil || got.ArchivedAt == nil {
			t.Fatalf("archived %+v (%v)", got, err)
		}
		got, err = f.s.UpdateItem(t.Context(), a.id, a.who, it.ID, cloud.ItemUpdate{Archived: &no})
		if err != nil || got.ArchivedAt != nil {
			t.Fatalf("restored %+v (%v)", got, err)
		}
	})
	t.Run("TenantIsolation", func(t *testing.T) {
		name := "stolen"
		f.refused(t, pantry.ENOTFOUND, func() error { _, err := f.s.GetItem(t.Context(), b.id, it.ID); return err })
		f.refused(t, pantry.ENOTFOUND, f.updateItem(b, it.ID, cloud.ItemUpdate{Name: &name}))
		if got, _, err := f.s.ListItems(t.Context(), b.id, cloud.Page{}); err != nil || len(got) != 0 {
			t.Fatalf("B lists %+v (%v), want none", got, err)
		}
	})
	t.Run("Pagination", func(t *testing.T) {
		c := f.newOrg(t, "Pages")
		var want []string
		for i := range 7 {
			want = append([]string{f.item(t, c, "Item "+string(rune('A'+i)), 100, "EUR")}, want...)
		}
		checkSevenInPages(t, want, func(p cloud.Page) ([]cloud.Item, string, error) { return f.s.ListItems(t.Context(), c.id, p) },
			func(it cloud.Item) string { return it.ID })
	})
}

func (f *catalogFixture) createItem(o catalogOrg, in cloud.ItemInput) func() error {
	return func() error { _, err := f.s.CreateItem(f.ctx, o.id, o.who, in); return err }
}

func (f *catalogFixture) updateItem(o catalogOrg, id string, up cloud.ItemUpdate) func() error {
	return func() error { _, err := f.s.UpdateItem(f.ctx, o.id, o.who, id, up); return err }
}
