package web_test

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/internal/pantry"
)

// The stock pages: levels with par levels, the par levels' form, the
// restock list (page and CSV), and the ledger with its form.

func init() { attackSets = append(attackSets, stockAttacks) }

// stockAttacks aims every stock page at A's site, signed in as B's owner:
// each is 404, and A's stock and par levels stay as they were.
func stockAttacks(a cloudtest.Tenant) map[string]pageAttack {
	site := "/stock/" + a.Site
	return map[string]pageAttack{
		"GET /stock":                      {path: "/stock?site=" + a.Site, want: http.StatusNotFound},
		"GET /stock/:site_id/par":         {path: site + "/par", want: http.StatusNotFound},
		"POST /stock/:site_id/par":        {path: site + "/par", form: url.Values{"par-" + a.Item: {"99"}}, want: http.StatusNotFound},
		"GET /stock/:site_id/restock":     {path: site + "/restock", want: http.StatusNotFound},
		"GET /stock/:site_id/restock.csv": {path: site + "/restock.csv", want: http.StatusNotFound},
		"GET /stock/:site_id/movements":   {path: site + "/movements", want: http.StatusNotFound},
		"POST /stock/:site_id/movements":  {path: site + "/movements", form: url.Values{"item": {a.Item}, "reason": {"restock"}, "quantity": {"5"}}, want: http.StatusNotFound},
		"GET /reports":                    {path: "/reports?site=" + a.Site, want: http.StatusNotFound},
		"GET /reports/consumption.csv":    {path: "/reports/consumption.csv?site=" + a.Site, want: http.StatusNotFound},
		"GET /reports/chargeback.csv":     {path: "/reports/chargeback.csv?site=" + a.Site, want: http.StatusNotFound},
	}
}

// stockSignIn signs in as email and returns the client.
func stockSignIn(tb testing.TB, s *cloudtest.Server, email string) *client {
	tb.Helper()
	c := newClient(tb, s)
	if p := c.signIn(tb, email, cloudtest.Password); p.Status != http.StatusSeeOther {
		tb.Fatalf("sign in as %s: %d\n%s", email, p.Status, p.Body)
	}
	return c
}

// stockPost posts form to path with the CSRF token of the page at from.
func stockPost(tb testing.TB, c *client, from, path string, form url.Values) page {
	tb.Helper()
	f := url.Values{"csrf": {csrf(tb, c.get(tb, from))}}
	for k, v := range form {
		f[k] = v
	}
	return c.do(tb, "POST", path, f)
}

// stockItem creates an item through the API, puts it on site's menu next
// to the items already there, and brings its level to level.
func stockItem(tb testing.TB, s *cloudtest.Server, a cloudtest.Tenant, site, name string, threshold, level int64) string {
	tb.Helper()
	r := s.Do(tb, "POST", "/api/v1/items", a.Org.Token, map[string]any{"name": name, "price": map[string]any{"amount": 200, "currency": "EUR"},
		"tags": []string{}, "allergens": []string{}, "low_stock_threshold": threshold})
	if r.Status != http.StatusCreated {
		tb.Fatalf("create item %q: %d %s", name, r.Status, r.Body)
	}
	var it struct{ ID string }
	r.Decode(tb, &it)
	var menu struct {
		Items []map[string]any `json:"items"`
	}
	s.Do(tb, "GET", "/api/v1/sites/"+site+"/menu", a.Org.Token, nil).Decode(tb, &menu)
	entries := []map[string]any{{"item_id": it.ID, "available": true}}
	for _, e := range menu.Items {
		entries = append(entries, map[string]any{"item_id": e["item_id"], "available": true})
	}
	if r := s.Do(tb, "PUT", "/api/v1/sites/"+site+"/menu", a.Org.Token, map[string]any{"items": entries}); r.Status != http.StatusOK {
		tb.Fatalf("put menu: %d %s", r.Status, r.Body)
	}
	if level != 0 {
		if r := s.Do(tb, "POST", "/api/v1/sites/"+site+"/stock/movements", a.Org.Token,
			map[string]any{"item_id": it.ID, "delta": level, "reason": "restock"}); r.Status != http.StatusCreated {
			tb.Fatalf("restock: %d %s", r.Status, r.Body)
		}
	}
	return it.ID
}

var stockRowRE = regexp.MustCompile(`(?s)<tr data-item-id="([^"]+)" data-low="(true|false)">(.*?)</tr>`)

// stockRows reads the stock table: item id, low, level, par, to bring,
// in the page's order.
func stockRows(tb testing.TB, p page) []string {
	tb.Helper()
	var out []string
	cell := regexp.MustCompile(`data-(level|par|bring)>([^<]*)(?:<span class="stock-none">none</span>)?<`)
	for _, m := range stockRowRE.FindAllStringSubmatch(p.Body, -1) {
		row := m[1] + " low=" + m[2]
		for _, c := range cell.FindAllStringSubmatch(m[3], -1) {
			v := c[2]
			if v == "" {
				v = "none"
			}
			row += " " + c[1] + "=" + v
		}
		out = append(out, row)
	}
	return out
}

// TestStockParLevelsAndRestock: an owner sees a site's levels with the
// low item first (with the word, not only a colour), sets par levels in
// one form, and then sees what to bring, on the stock page, on the
// restock list and in its CSV; the change is in the audit log.
func TestStockParLevelsAndRestock(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	tea := stockItem(t, s, a, a.Site, "Tea <script>alert(1)</script>", 5, 3)
	water := stockItem(t, s, a, a.Site, "=HYPERLINK(\"http://evil\")", 0, 10)
	c := stockSignIn(t, s, a.Org.OwnerEmail)

	p := c.get(t, "/stock")
	if p.Status != http.StatusOK {
		t.Fatalf("GET /stock: %d\n%s", p.Status, p.Body)
	}
	want := []string{
		tea + " low=true level=3 par=none bring=–",
		water + " low=false level=10 par=none bring=–",
		a.Item + " low=false level=40 par=none bring=–",
	}
	// Low first; then by name ("=" sorts before letters).
	if got := stockRows(t, p); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("stock rows:\n%s\nwant the low item first, then by name:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(p.Body, `<span class="stock-state stock-low">Low</span>`) {
		t.Errorf("the low item is not marked Low in words")
	}
	if strings.Contains(p.Body, "<script>alert(1)") || !strings.Contains(p.Body, "Tea &lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("an item named with <script> is not shown as text")
	}

	form := c.get(t, "/stock/"+a.Site+"/par")
	if form.Status != http.StatusOK || !strings.Contains(form.Body, `<label for="par-`+tea+`">`) {
		t.Fatalf("par form: %d\n%s", form.Status, form.Body)
	}
	r := stockPost(t, c, "/stock/"+a.Site+"/par", "/stock/"+a.Site+"/par",
		url.Values{"par-" + tea: {"12"}, "par-" + water: {" 4 "}, "par-" + a.Item: {"50"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/stock?site="+a.Site {
		t.Fatalf("save par levels: %d to %q\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
	p = c.get(t, "/stock?site="+a.Site)
	if !strings.Contains(p.Body, "Par levels saved: 3 changed.") {
		t.Errorf("no message after saving")
	}
	got := strings.Join(stockRows(t, p), "\n")
	for _, w := range []string{tea + " low=true level=3 par=12 bring=9", water + " low=false level=10 par=4 bring=–", a.Item + " low=false level=40 par=50 bring=10"} {
		if !strings.Contains(got, w) {
			t.Errorf("stock rows lack %q:\n%s", w, got)
		}
	}

	list := c.get(t, "/stock/"+a.Site+"/restock")
	if list.Status != http.StatusOK || strings.Count(list.Body, "data-bring=") != 2 || !strings.Contains(list.Body, `data-item-id="`+tea+`" data-bring="9"`) ||
		!strings.Contains(list.Body, `data-item-id="`+a.Item+`" data-bring="10"`) || !strings.Contains(list.Body, "<strong>19</strong>") {
		t.Fatalf("restock list: %d\n%s", list.Status, list.Body)
	}

	file := c.get(t, "/stock/"+a.Site+"/restock.csv")
	if file.Status != http.StatusOK || !strings.HasPrefix(file.Header.Get("Content-Type"), "text/csv") ||
		!strings.HasPrefix(file.Header.Get("Content-Disposition"), `attachment; filename="restock-`) {
		t.Fatalf("restock.csv: %d %q %q", file.Status, file.Header.Get("Content-Type"), file.Header.Get("Content-Disposition"))
	}
	records, err := csv.NewReader(strings.NewReader(file.Body)).ReadAll()
	if err != nil {
		t.Fatalf("parse restock.csv: %v\n%s", err, file.Body)
	}
	wantCSV := [][]string{{"site", "item", "on_hand", "par", "bring"},
		{a.Names[0] + " HQ", "Tea <script>alert(1)</script>", "3", "12", "9"},
		{a.Names[0] + " HQ", a.Names[0] + " coffee", "40", "50", "10"}}
	slices.SortFunc(records[1:], func(x, y []string) int { return strings.Compare(x[1], y[1]) }) // the database's collation orders names
	if fmt.Sprint(records) != fmt.Sprint(wantCSV) {
		t.Fatalf("restock.csv:\n%q\nwant\n%q", records, wantCSV)
	}

	// Water above par is not on the list; brought under par, its
	// formula-like name is escaped in the CSV.
	stockPost(t, c, "/stock/"+a.Site+"/par", "/stock/"+a.Site+"/par", url.Values{"par-" + tea: {"12"}, "par-" + water: {"11"}, "par-" + a.Item: {"50"}})
	records, _ = csv.NewReader(strings.NewReader(c.get(t, "/stock/"+a.Site+"/restock.csv").Body)).ReadAll()
	if len(records) != 4 || records[1][1] != `'=HYPERLINK("http://evil")` {
		t.Fatalf("restock.csv with a formula-like name: %q", records)
	}

	// Both saves are in the audit log, with who made them.
	var audit struct {
		Entries []struct {
			Action  string `json:"action"`
			ActorID string `json:"actor_id"`
		} `json:"entries"`
	}
	s.Do(t, "GET", "/api/v1/audit-log?resource=par_levels", a.Org.Token, nil).Decode(t, &audit)
	if len(audit.Entries) != 2 || audit.Entries[0].ActorID != a.Org.OwnerID || audit.Entries[0].Action != "par_levels.set" {
		t.Fatalf("audit of par levels: %+v", audit.Entries)
	}

	// Saving the form unchanged writes nothing.
	before := cloudtest.Fingerprint(t, s, a.Org.ID)
	r = stockPost(t, c, "/stock/"+a.Site+"/par", "/stock/"+a.Site+"/par", url.Values{"par-" + tea: {"12"}, "par-" + water: {"11"}, "par-" + a.Item: {"50"}})
	if r.Status != http.StatusSeeOther || cloudtest.Fingerprint(t, s, a.Org.ID) != before {
		t.Fatalf("an unchanged save: %d, or it changed data", r.Status)
	}
	// Emptying a field clears that par level only.
	stockPost(t, c, "/stock/"+a.Site+"/par", "/stock/"+a.Site+"/par", url.Values{"par-" + tea: {""}, "par-" + water: {"11"}, "par-" + a.Item: {"50"}})
	if got := strings.Join(stockRows(t, c.get(t, "/stock")), "\n"); !strings.Contains(got, tea+" low=true level=3 par=none bring=–") ||
		!strings.Contains(got, a.Item+" low=false level=40 par=50 bring=10") {
		t.Fatalf("after clearing tea's par level:\n%s", got)
	}
	// An item the form did not have a field for keeps its par level.
	stockPost(t, c, "/stock/"+a.Site+"/par", "/stock/"+a.Site+"/par", url.Values{"par-" + tea: {"7"}})
	if got := strings.Join(stockRows(t, c.get(t, "/stock")), "\n"); !strings.Contains(got, tea+" low=true level=3 par=7 bring=4") ||
		!strings.Contains(got, a.Item+" low=false level=40 par=50 bring=10") || !strings.Contains(got, water+" low=false level=10 par=11 bring=1") {
		t.Fatalf("after a form with tea's field only:\n%s", got)
	}
}

// TestParLevelsRefused: every bad par level comes back with the form, the
// error next to the item it is about and what was typed; a site that is
// not the person's is 404, a form without its token 403; and none of
// them changes anything.
func TestParLevelsRefused(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	b := cloudtest.SeedTenant(t, s, "globex")
	c := stockSignIn(t, s, a.Org.OwnerEmail)
	field := "par-" + a.Item
	for _, tc := range []struct {
		name, path, value string
		noCSRF            bool
		status            int
		says              string
	}{
		{"Negative", "", "-1", false, http.StatusBadRequest, "A par level cannot be negative."},
		{"Absurd", "", "100001", false, http.StatusBadRequest, "A par level is at most 100000."},
		{"Huge", "", "99999999999999999999999", false, http.StatusBadRequest, "A par level is at most 100000."},
		{"NonNumeric", "", "ten", false, http.StatusBadRequest, "Enter a whole number from 0 to 100000"},
		{"Fraction", "", "2.5", false, http.StatusBadRequest, "Enter a whole number from 0 to 100000"},
		{"UnknownSite", "/stock/" + pantry.NewID() + "/par", "5", false, http.StatusNotFound, "not found"},
		{"NotASiteID", "/stock/HQ/par", "5", false, http.StatusNotFound, "not found"},
		{"OtherOrgsSite", "/stock/" + b.Site + "/par", "5", false, http.StatusNotFound, "not found"},
		{"MissingCSRF", "", "5", true, http.StatusForbidden, "did not come from this dashboard"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = "/stock/" + a.Site + "/par"
			}
			before, beforeB := cloudtest.Fingerprint(t, s, a.Org.ID), cloudtest.Fingerprint(t, s, b.Org.ID)
			var p page
			if tc.noCSRF {
				p = c.do(t, "POST", path, url.Values{field: {tc.value}})
			} else {
				p = stockPost(t, c, "/stock", path, url.Values{field: {tc.value}})
			}
			if p.Status != tc.status || !strings.Contains(p.Body, tc.says) {
				t.Fatalf("%d, want %d saying %q\n%s", p.Status, tc.status, tc.says, p.Body)
			}
			if tc.status == http.StatusBadRequest {
				if !strings.Contains(p.Body, `data-field-error="`+a.Item+`"`) || !strings.Contains(p.Body, `value="`+tc.value+`"`) {
					t.Errorf("the error is not next to its item, or the value typed was lost:\n%s", p.Body)
				}
			}
			if cloudtest.Fingerprint(t, s, a.Org.ID) != before || cloudtest.Fingerprint(t, s, b.Org.ID) != beforeB {
				t.Fatalf("a refused form changed data")
			}
		})
	}
}

// TestStockMovements: an owner records a delivery, waste and a count in
// units, as a person thinks of them, and sees each in the history with
// its signed change, why and who; bad forms come back with the error
// next to the field and change nothing.
func TestStockMovements(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	b := cloudtest.SeedTenant(t, s, "globex")
	c := stockSignIn(t, s, a.Org.OwnerEmail)
	path := "/stock/" + a.Site + "/movements"
	record := func(reason, quantity string) page {
		t.Helper()
		return stockPost(t, c, path, path, url.Values{"item": {a.Item}, "reason": {reason}, "quantity": {quantity}})
	}
	for _, step := range []struct{ reason, quantity, flash string }{
		{"restock", "24", "Recorded a delivery of 24 × " + a.Names[0] + " coffee."},
		{"waste", "4", "Recorded 4 × " + a.Names[0] + " coffee as waste."},
		{"count", "55", "Recorded a count of 55 × " + a.Names[0] + " coffee: 5 fewer than the ledger said."}, // 40 + 24 − 4 = 60 on the ledger
	} {
		if p := record(step.reason, step.quantity); p.Status != http.StatusSeeOther || p.Header.Get("Location") != path {
			t.Fatalf("record %s: %d\n%s", step.reason, p.Status, p.Body)
		}
		if p := c.get(t, path); !strings.Contains(p.Body, step.flash) {
			t.Fatalf("after %s, the page does not say %q", step.reason, step.flash)
		}
	}
	p := c.get(t, path)
	for _, want := range []string{`data-delta="-5" data-reason="count">`, `data-delta="-4" data-reason="waste">`, `data-delta="24" data-reason="restock">`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("the history lacks %s", want)
		}
	}
	if !regexp.MustCompile(`(?s)data-reason="count">.*?<td class="num">−5</td>\s*<td>Count</td><td>You</td>`).MatchString(p.Body) {
		t.Errorf("the count's row does not say −5, Count, You:\n%s", p.Body)
	}
	if got := stockRows(t, c.get(t, "/stock")); len(got) != 1 || !strings.Contains(got[0], "level=55") {
		t.Fatalf("level after the count: %q, want 55", got)
	}

	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		field  string
		says   string
	}{
		{"RestockZero", url.Values{"item": {a.Item}, "reason": {"restock"}, "quantity": {"0"}}, 400, "quantity", "from 1 to 100000"},
		{"WasteAbsurd", url.Values{"item": {a.Item}, "reason": {"waste"}, "quantity": {"100001"}}, 400, "quantity", "from 1 to 100000"},
		{"NotANumber", url.Values{"item": {a.Item}, "reason": {"restock"}, "quantity": {"a dozen"}}, 400, "quantity", "whole number"},
		{"CountUnchanged", url.Values{"item": {a.Item}, "reason": {"count"}, "quantity": {"55"}}, 400, "quantity", "already 55"},
		{"SaleIsTheBuildings", url.Values{"item": {a.Item}, "reason": {"sale"}, "quantity": {"1"}}, 400, "reason", "Choose restock, waste or count."},
		{"NoItem", url.Values{"reason": {"restock"}, "quantity": {"1"}}, 400, "item", "Choose an item this site stocks."},
		{"OtherOrgsItem", url.Values{"item": {b.Item}, "reason": {"restock"}, "quantity": {"1"}}, 400, "item", "Choose an item this site stocks."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := cloudtest.Fingerprint(t, s, a.Org.ID)
			p := stockPost(t, c, path, path, tc.form)
			if p.Status != tc.status || !strings.Contains(p.Body, `data-field-error="`+tc.field+`"`) || !strings.Contains(p.Body, tc.says) {
				t.Fatalf("%d, want %d with %q next to %s\n%s", p.Status, tc.status, tc.says, tc.field, p.Body)
			}
			if q := tc.form.Get("quantity"); q != "" && !strings.Contains(p.Body, `value="`+q+`"`) {
				t.Errorf("the quantity typed was lost")
			}
			if cloudtest.Fingerprint(t, s, a.Org.ID) != before {
				t.Fatalf("a refused movement changed data")
			}
		})
	}
	t.Run("Paged", func(t *testing.T) {
		for range 50 {
			if r := s.Do(t, "POST", "/api/v1/sites/"+a.Site+"/stock/movements", a.Org.Token,
				map[string]any{"item_id": a.Item, "delta": 1, "reason": "restock"}); r.Status != http.StatusCreated {
				t.Fatalf("restock: %d %s", r.Status, r.Body)
			}
		}
		first := c.get(t, path)
		next := regexp.MustCompile(`href="(/stock/[^"]+/movements\?cursor=[^"]+)">Older movements`).FindStringSubmatch(first.Body)
		if got := strings.Count(first.Body, "data-movement-id="); got != 50 || next == nil {
			t.Fatalf("first page: %d movements, link to older ones %v", got, next)
		}
		older := c.get(t, strings.ReplaceAll(next[1], "&amp;", "&"))
		if got := strings.Count(older.Body, "data-movement-id="); older.Status != http.StatusOK || got != 4 || strings.Contains(older.Body, "Older movements") {
			t.Fatalf("second page: %d with %d movements, want the 4 oldest and no further page", older.Status, got)
		}
		if p := c.get(t, path+"?cursor=not-a-cursor"); p.Status != http.StatusBadRequest {
			t.Fatalf("a made-up cursor: %d, want 400", p.Status)
		}
	})
	t.Run("MissingCSRF", func(t *testing.T) {
		before := cloudtest.Fingerprint(t, s, a.Org.ID)
		if p := c.do(t, "POST", path, url.Values{"item": {a.Item}, "reason": {"restock"}, "quantity": {"1"}}); p.Status != http.StatusForbidden {
			t.Fatalf("without the token: %d, want 403", p.Status)
		}
		if cloudtest.Fingerprint(t, s, a.Org.ID) != before {
			t.Fatalf("a form without its token changed data")
		}
	})
}

// TestStockViewer: a viewer sees stock, the restock list and the
// history, but no way to change them; posting anyway is a 403 page and
// changes nothing.
func TestStockViewer(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	c := stockSignIn(t, s, "viewer@acme.test")
	for _, path := range []string{"/stock", "/stock/" + a.Site + "/restock", "/stock/" + a.Site + "/restock.csv", "/stock/" + a.Site + "/movements"} {
		p := c.get(t, path)
		if p.Status != http.StatusOK {
			t.Fatalf("viewer GET %s: %d", path, p.Status)
		}
		if strings.Contains(p.Body, `/par"`) || strings.Contains(p.Body, `method="post" action="/stock`) {
			t.Errorf("viewer's %s offers a change:\n%s", path, p.Body)
		}
	}
	if p := c.get(t, "/stock/"+a.Site+"/par"); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "may not change this site") {
		t.Fatalf("viewer opens the par form: %d\n%s", p.Status, p.Body)
	}
	before := cloudtest.Fingerprint(t, s, a.Org.ID)
	for path, form := range map[string]url.Values{
		"/stock/" + a.Site + "/par":       {"par-" + a.Item: {"10"}},
		"/stock/" + a.Site + "/movements": {"item": {a.Item}, "reason": {"restock"}, "quantity": {"10"}},
	} {
		if p := stockPost(t, c, "/stock", path, form); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "may not change this site") {
			t.Fatalf("viewer POST %s: %d\n%s", path, p.Status, p.Body)
		}
	}
	if cloudtest.Fingerprint(t, s, a.Org.ID) != before {
		t.Fatalf("a viewer's posts changed data")
	}
}

// TestStockAndReportsFacilityManager: a facility manager of one site sees
// only that site in stock and in reports; the other site's pages are
// 404, as another organization's are, and its orders count nowhere in
// their reports.
func TestStockAndReportsFacilityManager(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	other := reportSite(t, s, a, "Annex")
	reportOrder(t, s, a, other, 3, 1000, "", reportNow())
	r := s.Do(t, "POST", "/api/v1/users", a.Org.Token, map[string]any{"email": "fm@acme.test", "name": "Facilities", "role": "facility_manager",
		"password": cloudtest.Password, "site_ids": []string{a.Site}})
	if r.Status != http.StatusCreated {
		t.Fatalf("create facility manager: %d %s", r.Status, r.Body)
	}
	c := stockSignIn(t, s, "fm@acme.test")

	p := c.get(t, "/stock")
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `<option value="`+a.Site+`"`) || strings.Contains(p.Body, other.ID) || strings.Contains(p.Body, "Annex") {
		t.Fatalf("the facility manager's stock page: %d\n%s", p.Status, p.Body)
	}
	if got := stockRows(t, p); len(got) != 1 {
		t.Fatalf("stock rows %q, want their site's one item", got)
	}
	for _, path := range []string{"/stock?site=" + other.ID, "/stock/" + other.ID + "/par", "/stock/" + other.ID + "/restock",
		"/stock/" + other.ID + "/restock.csv", "/stock/" + other.ID + "/movements", "/reports?site=" + other.ID,
		"/reports/consumption.csv?site=" + other.ID, "/reports/chargeback.csv?site=" + other.ID} {
		if p := c.get(t, path); p.Status != http.StatusNotFound || strings.Contains(p.Body, "Annex") {
			t.Errorf("facility manager GET %s: %d, want 404", path, p.Status)
		}
	}
	// They may change their own site's par levels.
	if p := stockPost(t, c, "/stock", "/stock/"+a.Site+"/par", url.Values{"par-" + a.Item: {"60"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("facility manager sets par levels at their site: %d\n%s", p.Status, p.Body)
	}
	before := cloudtest.Fingerprint(t, s, a.Org.ID)
	if p := stockPost(t, c, "/stock", "/stock/"+other.ID+"/par", url.Values{"par-" + a.Item: {"60"}}); p.Status != http.StatusNotFound {
		t.Fatalf("facility manager sets par levels at another site: %d", p.Status)
	}
	if cloudtest.Fingerprint(t, s, a.Org.ID) != before {
		t.Fatalf("a refused par level changed data")
	}

	rep := c.get(t, "/reports?"+reportRange().Encode())
	if rep.Status != http.StatusOK || strings.Contains(rep.Body, "Annex") || !strings.Contains(rep.Body, `data-key="`+a.Site+`"`) {
		t.Fatalf("the facility manager's report: %d\n%s", rep.Status, rep.Body)
	}
	records, err := csv.NewReader(strings.NewReader(c.get(t, "/reports/consumption.csv?"+reportRange().Encode()).Body)).ReadAll()
	if err != nil || len(records) != 2 || records[1][0] != a.Site {
		t.Fatalf("the facility manager's CSV: %q %v", records, err)
	}
}
