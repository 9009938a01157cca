package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/internal/pantry"
)

// TestAdminBuildsASite is the "done when": an admin logs in,
// creates a site with rooms and a menu, and reads it back.
func TestAdminBuildsASite(t *testing.T) {
	s := cloudtest.Start(t)
	org := s.NewOrg(t, "acme")
	if r, _ := createUser(t, s, org.Token, "ada@acme.test", "admin"); r.Status != http.StatusCreated {
		t.Fatalf("create admin: %d %s", r.Status, r.Body)
	}
	tok := s.Login(t, "ada@acme.test", cloudtest.Password).AccessToken
	r := s.Do(t, "POST", "/api/v1/sites", tok, map[string]string{"name": "Amsterdam HQ", "timezone": "Europe/Amsterdam", "currency": "EUR"})
	must(t, r, 201, "create site")
	site := idOf(t, r)
	for _, name := range []string{"Rembrandt", "Vermeer", "Van Gogh"} {
		r := s.Do(t, "POST", "/api/v1/sites/"+site+"/spaces", tok, map[string]string{"name": name, "floor": "2"})
		must(t, r, 201, "create space")
		var sp struct {
			ID, Name, Code string
			QRURL          string `json:"qr_url"`
		}
		r.Decode(t, &sp)
		if len(sp.Code) < 16 || !strings.HasSuffix(sp.QRURL, "/q/"+sp.Code) {
			t.Fatalf("space=%+v", sp)
		}
	}
	r = s.Do(t, "POST", "/api/v1/items", tok, map[string]any{"name": "Flat white", "description": "Double shot", "price": map[string]any{"amount": 350, "currency": "EUR"}, "tags": []string{"hot"}, "allergens": []string{"milk"}, "low_stock_threshold": 10})
	must(t, r, 201, "create item")
	item := idOf(t, r)
	r = s.Do(t, "PUT", "/api/v1/sites/"+site+"/menu", tok, map[string]any{"items": []map[string]any{{"item_id": item, "available": true, "price": map[string]any{"amount": 300, "currency": "EUR"}}}})
	must(t, r, 200, "put menu")
	menu := s.Do(t, "GET", "/api/v1/sites/"+site+"/menu", tok, nil)
	if !strings.Contains(string(menu.Body), `"effective_price":{"amount":300,"currency":"EUR"}`) || !strings.Contains(string(menu.Body), "Flat white") {
		t.Fatalf("menu read back: %s", menu.Body)
	}
	spaces := s.Do(t, "GET", "/api/v1/sites/"+site+"/spaces", tok, nil)
	var list struct {
		Spaces     []struct{ ID string }
		NextCursor *string `json:"next_cursor"`
	}
	spaces.Decode(t, &list)
	if len(list.Spaces) != 3 || list.NextCursor != nil {
		t.Fatalf("spaces read back: %s", spaces.Body)
	}
	r = s.Do(t, "POST", "/api/v1/sites/"+site+"/stock/movements", tok, map[string]any{"item_id": item, "delta": 24, "reason": "restock"})
	must(t, r, 201, "restock")
	stock := s.Do(t, "GET", "/api/v1/sites/"+site+"/stock", tok, nil)
	if !strings.Contains(string(stock.Body), `"level":24`) {
		t.Fatalf("stock: %s", stock.Body)
	}
	r = s.Do(t, "POST", "/api/v1/sites/"+site+"/tablets", tok, map[string]string{"name": "2nd floor"})
	must(t, r, 201, "create tablet")
	var tab struct{ Username, Password string }
	r.Decode(t, &tab)
	if tab.Username == "" || len(tab.Password) < 12 {
		t.Fatalf("tablet=%s", r.Body)
	}
	if l := s.Do(t, "GET", "/api/v1/sites/"+site+"/tablets", tok, nil); strings.Contains(string(l.Body), tab.Password) {
		t.Fatal("tablet listing shows the password")
	}
}

func rowCount(tb testing.TB, s *cloudtest.Server) int {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.DBURL)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM sites) + (SELECT count(*) FROM spaces) + (SELECT count(*) FROM items)
		+ (SELECT count(*) FROM site_menu_items) + (SELECT count(*) FROM coupons) + (SELECT count(*) FROM cost_centers)
		+ (SELECT count(*) FROM users) + (SELECT count(*) FROM stock_movements) + (SELECT count(*) FROM audit_log)`).Scan(&n)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// TestBadInputWritesNothing: every refusal is the documented error, and
// no row (nor audit entry) appears.
func TestBadInputWritesNothing(t *testing.T) {
	s := cloudtest.Start(t)
	a := seedTenant(t, s, "acme")
	tok := a.org.Token
	site := "/api/v1/sites/" + a.site
	price := func(amount any, cur string) map[string]any { return map[string]any{"amount": amount, "currency": cur} }
	tests := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"MalformedJSON", "POST", "/api/v1/sites", `{"name":`, 400, pantry.EINVALID},
		{"WrongType", "POST", "/api/v1/sites", `{"name":42,"timezone":"UTC","currency":"EUR"}`, 400, pantry.EINVALID},
		{"UnknownField", "POST", "/api/v1/sites", `{"name":"x","timezone":"UTC","currency":"EUR","organization_id":"` + pantry.NewID() + `"}`, 400, pantry.EINVALID},
		{"BadTimezone", "POST", "/api/v1/sites", map[string]string{"name": "x", "timezone": "Mars/Olympus", "currency": "EUR"}, 400, pantry.EINVALID},
		{"BadCurrency", "POST", "/api/v1/sites", map[string]string{"name": "x", "timezone": "UTC", "currency": "euro"}, 400, pantry.EINVALID},
		{"EmptyName", "POST", "/api/v1/sites", map[string]string{"name": "", "timezone": "UTC", "currency": "EUR"}, 400, pantry.EINVALID},
		{"AbsurdName", "POST", "/api/v1/sites", map[string]string{"name": strings.Repeat("x", 10000), "timezone": "UTC", "currency": "EUR"}, 400, pantry.EINVALID},
		{"NegativePrice", "POST", "/api/v1/items", map[string]any{"name": "x", "price": price(-1, "EUR")}, 400, pantry.EINVALID},
		{"AbsurdPrice", "POST", "/api/v1/items", map[string]any{"name": "x", "price": price(int64(1)<<60, "EUR")}, 400, pantry.EINVALID},
		{"FractionalPrice", "POST", "/api/v1/items", `{"name":"x","price":{"amount":3.5,"currency":"EUR"}}`, 400, pantry.EINVALID},
		{"InvalidUTF8", "POST", "/api/v1/items", []byte("{\"name\":\"\xff\",\"price\":{\"amount\":1,\"currency\":\"EUR\"}}"), 400, pantry.EINVALID},
		{"StationUpperCase", "POST", "/api/v1/items", map[string]any{"name": "x", "price": price(1, "EUR"), "station": "Drinks"}, 400, pantry.EINVALID},
		{"StationReserved", "POST", "/api/v1/items", map[string]any{"name": "x", "price": price(1, "EUR"), "station": "all"}, 400, pantry.EINVALID},
		{"StationNotText", "POST", "/api/v1/items", `{"name":"x","price":{"amount":1,"currency":"EUR"},"station":7}`, 400, pantry.EINVALID},
		{"TwoMegabytes", "POST", "/api/v1/items", `{"name":"` + strings.Repeat("x", 2<<20) + `"}`, 413, pantry.ETOOLARGE},
		{"MenuUnknownItem", "PUT", site + "/menu", map[string]any{"items": []map[string]any{{"item_id": pantry.NewID(), "available": true}}}, 400, pantry.EINVALID},
		{"MenuWrongCurrency", "PUT", site + "/menu", map[string]any{"items": []map[string]any{{"item_id": a.item, "available": true, "price": price(100, "USD")}}}, 400, pantry.EINVALID},
		{"PercentOver100", "POST", "/api/v1/coupons", map[string]any{"code": "X", "kind": "percent", "value": 150, "valid_from": "2026-01-01T00:00:00Z", "valid_to": "2027-01-01T00:00:00Z"}, 400, pantry.EINVALID},
		{"CouponEndsBeforeStart", "POST", "/api/v1/coupons", map[string]any{"code": "X", "kind": "fixed", "value": 5, "valid_from": "2027-01-01T00:00:00Z", "valid_to": "2026-01-01T00:00:00Z"}, 400, pantry.EINVALID},
		{"DuplicateCostCenter", "POST", "/api/v1/cost-centers", map[string]string{"code": "cc-acme"}, 409, pantry.ECONFLICT},
		{"ZeroStockDelta", "POST", site + "/stock/movements", map[string]any{"item_id": a.item, "delta": 0, "reason": "count"}, 400, pantry.EINVALID},
		{"BadStockReason", "POST", site + "/stock/movements", map[string]any{"item_id": a.item, "delta": 1, "reason": "sale"}, 400, pantry.EINVALID},
		{"UnknownSite", "POST", "/api/v1/sites/" + pantry.NewID() + "/spaces", map[string]string{"name": "x"}, 404, pantry.ENOTFOUND},
		{"NotAUUID", "GET", "/api/v1/sites/not-a-uuid", nil, 404, pantry.ENOTFOUND},
		{"BadLimit", "GET", "/api/v1/items?limit=100000", nil, 400, pantry.EINVALID},
		{"BadCursor", "GET", "/api/v1/items?cursor=garbage", nil, 400, pantry.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := rowCount(t, s)
			r := s.Do(t, tt.method, tt.path, tok, tt.body)
			if r.Status != tt.status || r.ErrorCode() != tt.code {
				t.Fatalf("status=%d code=%q, want %d %q: %.300s", r.Status, r.ErrorCode(), tt.status, tt.code, r.Body)
			}
			if after := rowCount(t, s); after != before {
				t.Fatalf("rows went from %d to %d", before, after)
			}
		})
	}
}

// TestRoleLimitsOnSites: a viewer cannot write; a facility manager works
// on their own sites only and does not even see the others.
func TestRoleLimitsOnSites(t *testing.T) {
	s := cloudtest.Start(t)
	a := seedTenant(t, s, "acme")
	r := s.Do(t, "POST", "/api/v1/sites", a.org.Token, map[string]string{"name": "Second", "timezone": "UTC", "currency": "EUR"})
	must(t, r, 201, "second site")
	other := idOf(t, r)
	createUser(t, s, a.org.Token, "fm@acme.test", "facility_manager", a.site)
	createUser(t, s, a.org.Token, "v@acme.test", "viewer")
	fm := s.Login(t, "fm@acme.test", cloudtest.Password).AccessToken
	viewer := s.Login(t, "v@acme.test", cloudtest.Password).AccessToken
	tests := []struct {
		name, token, method, path string
		body                      any
		status                    int
	}{
		{"ViewerReads", viewer, "GET", "/api/v1/sites/" + a.site + "/spaces", nil, 200},
		{"ViewerCannotWrite", viewer, "POST", "/api/v1/sites/" + a.site + "/spaces", map[string]string{"name": "x"}, 403},
		{"ViewerCannotPriceItems", viewer, "PATCH", "/api/v1/items/" + a.item, map[string]string{"name": "x"}, 403},
		{"ManagerWritesOwnSite", fm, "POST", "/api/v1/sites/" + a.site + "/spaces", map[string]string{"name": "x"}, 201},
		{"ManagerCannotTouchOtherSite", fm, "POST", "/api/v1/sites/" + other + "/spaces", map[string]string{"name": "x"}, 404},
		{"ManagerCannotSeeOtherSite", fm, "GET", "/api/v1/sites/" + other, nil, 404},
		{"ManagerCannotEditCatalog", fm, "POST", "/api/v1/items", map[string]any{"name": "x", "price": map[string]any{"amount": 1, "currency": "EUR"}}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := s.Do(t, tt.method, tt.path, tt.token, tt.body); r.Status != tt.status {
				t.Fatalf("status=%d, want %d: %s", r.Status, tt.status, r.Body)
			}
		})
	}
	sites := s.Do(t, "GET", "/api/v1/sites", fm, nil)
	if strings.Contains(string(sites.Body), other) || !strings.Contains(string(sites.Body), a.site) {
		t.Fatalf("manager's site list: %s", sites.Body)
	}
}

// TestItemStation: an item's station is optional, read back as given,
// kept by a change that does not name it, and a bad one changes nothing.
func TestItemStation(t *testing.T) {
	s := cloudtest.Start(t)
	a := seedTenant(t, s, "acme")
	tok := a.org.Token
	station := func(r cloudtest.Response) string {
		t.Helper()
		var it struct {
			Station *string `json:"station"`
		}
		r.Decode(t, &it)
		if it.Station == nil {
			t.Fatalf("no station in %s", r.Body)
		}
		return *it.Station
	}
	if got := station(s.Do(t, "GET", "/api/v1/items/"+a.item, tok, nil)); got != "" {
		t.Fatalf("an item created without a station has %q", got)
	}
	r := s.Do(t, "POST", "/api/v1/items", tok, map[string]any{"name": "Tea", "price": map[string]any{"amount": 200, "currency": "EUR"}, "station": " drinks "})
	must(t, r, 201, "create item")
	if got, want := station(r), "drinks"; got != want {
		t.Fatalf("created station=%q, want %q", got, want)
	}
	item := "/api/v1/items/" + idOf(t, r)
	steps := []struct {
		name   string
		body   map[string]any
		status int
		want   string
	}{
		{"Change", map[string]any{"station": "hot-drinks"}, 200, "hot-drinks"},
		{"KeptByOtherChange", map[string]any{"name": "Green tea"}, 200, "hot-drinks"},
		{"ErrSpace", map[string]any{"station": "hot drinks"}, 400, "hot-drinks"},
		{"ErrTooLong", map[string]any{"station": strings.Repeat("d", 33)}, 400, "hot-drinks"},
		{"ErrReserved", map[string]any{"station": "all"}, 400, "hot-drinks"},
		{"Cleared", map[string]any{"station": ""}, 200, ""},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r := s.Do(t, "PATCH", item, tok, st.body)
			if r.Status != st.status || (st.status == 400 && r.ErrorCode() != pantry.EINVALID) {
				t.Fatalf("status=%d code=%q, want %d: %s", r.Status, r.ErrorCode(), st.status, r.Body)
			}
			if got := station(s.Do(t, "GET", item, tok, nil)); got != st.want {
				t.Fatalf("station=%q, want %q", got, st.want)
			}
		})
	}
}
