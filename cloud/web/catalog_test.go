package web_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/internal/pantry"
)

func init() { attackSets = append(attackSets, catalogAttacks) }

// catalogAttacks aims every catalog page at organization A's items,
// coupons and cost centers: A's ids are not found, B's own lists and new
// forms show only B's data, and B's creations (a coupon with A's code
// among them) land in B.
func catalogAttacks(a cloudtest.Tenant) map[string]pageAttack {
	item := url.Values{"name": {"beta tea"}, "price": {"2.00"}, "currency": {"EUR"}}
	coupon := url.Values{"code": {strings.ToUpper("alpha") + "10"}, "kind": {"percent"}, "value": {"5"},
		"valid_from": {"2030-01-01T09:00"}, "valid_to": {"2030-02-01T09:00"}, "zone": {"Europe/Berlin"}, "active": {"on"}}
	costCenter := url.Values{"code": {"CC-alpha"}, "name": {"beta facilities"}, "active": {"on"}}
	return map[string]pageAttack{
		"GET /catalog":                               {path: "/catalog", want: http.StatusOK},
		"GET /catalog/items/new":                     {path: "/catalog/items/new", want: http.StatusOK},
		"POST /catalog/items":                        {path: "/catalog/items", form: item, want: http.StatusSeeOther},
		"GET /catalog/items/:item_id":                {path: "/catalog/items/" + a.Item, want: http.StatusNotFound},
		"POST /catalog/items/:item_id":               {path: "/catalog/items/" + a.Item, form: item, want: http.StatusNotFound},
		"GET /catalog/coupons":                       {path: "/catalog/coupons", want: http.StatusOK},
		"GET /catalog/coupons/new":                   {path: "/catalog/coupons/new", want: http.StatusOK},
		"POST /catalog/coupons":                      {path: "/catalog/coupons", form: coupon, want: http.StatusSeeOther},
		"GET /catalog/coupons/:coupon_id":            {path: "/catalog/coupons/" + a.Coupon, want: http.StatusNotFound},
		"POST /catalog/coupons/:coupon_id":           {path: "/catalog/coupons/" + a.Coupon, form: coupon, want: http.StatusNotFound},
		"GET /catalog/cost-centers":                  {path: "/catalog/cost-centers", want: http.StatusOK},
		"GET /catalog/cost-centers/new":              {path: "/catalog/cost-centers/new", want: http.StatusOK},
		"POST /catalog/cost-centers":                 {path: "/catalog/cost-centers", form: costCenter, want: http.StatusSeeOther},
		"GET /catalog/cost-centers/:cost_center_id":  {path: "/catalog/cost-centers/" + a.CostCenter, want: http.StatusNotFound},
		"POST /catalog/cost-centers/:cost_center_id": {path: "/catalog/cost-centers/" + a.CostCenter, form: costCenter, want: http.StatusNotFound},
	}
}

// catalogClient signs email in and returns the client.
func catalogClient(tb testing.TB, s *cloudtest.Server, email string) *client {
	tb.Helper()
	c := newClient(tb, s)
	if p := c.signIn(tb, email, cloudtest.Password); p.Status != http.StatusSeeOther {
		tb.Fatalf("%s signs in: %d\n%s", email, p.Status, p.Body)
	}
	return c
}

// catalogPost sends form to path with the session's CSRF token, as the
// page's form would.
func catalogPost(tb testing.TB, c *client, path string, form url.Values) page {
	tb.Helper()
	withToken := url.Values{"csrf": {csrf(tb, c.get(tb, "/catalog"))}}
	for k, v := range form {
		withToken[k] = v
	}
	return c.do(tb, "POST", path, withToken)
}

var catalogFieldErrorRE = regexp.MustCompile(`data-field-error="([a-z_]+)">([^<]*)<`)

// catalogFieldErrors are the errors a page shows next to its fields, by field.
func catalogFieldErrors(p page) map[string]string {
	out := map[string]string{}
	for _, m := range catalogFieldErrorRE.FindAllStringSubmatch(p.Body, -1) {
		out[m[1]] = html.UnescapeString(m[2])
	}
	return out
}

// catalogRefusal is a form posted with bad input: the page must come back
// with status, saying says next to field, and change nothing.
type catalogRefusal struct {
	name        string
	path        string
	form        url.Values
	status      int
	field, says string
}

// catalogCheckRefusals posts each case and checks its page and that A's data
// did not change.
func catalogCheckRefusals(t *testing.T, s *cloudtest.Server, orgID string, c *client, cases []catalogRefusal) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := cloudtest.Fingerprint(t, s, orgID)
			p := catalogPost(t, c, tc.path, tc.form)
			if p.Status != tc.status {
				t.Fatalf("%d, want %d\n%s", p.Status, tc.status, p.Body)
			}
			if tc.field == "" {
				if !strings.Contains(html.UnescapeString(p.Body), tc.says) {
					t.Fatalf("the page does not say %q:\n%s", tc.says, p.Body)
				}
			} else if got := catalogFieldErrors(p); !strings.Contains(got[tc.field], tc.says) {
				t.Fatalf("errors by field %q, want %q next to %s\n%s", got, tc.says, tc.field, p.Body)
			}
			// What was typed is still there (a choice a select does not
			// offer cannot be, nor text with a control character).
			typed := strings.TrimSpace(tc.form.Get(tc.field))
			if tc.field != "" && tc.field != "kind" && tc.field != "zone" && typed != "" && len(typed) < 100 && strings.IndexFunc(typed, unicode.IsControl) < 0 &&
				!strings.Contains(p.Body, `value="`+html.EscapeString(typed)+`"`) && !strings.Contains(p.Body, ">"+html.EscapeString(typed)+"<") {
				t.Errorf("the form did not keep %s=%q", tc.field, typed)
			}
			if after := cloudtest.Fingerprint(t, s, orgID); after != before {
				t.Fatalf("a refused form changed data:\n before %s\n after  %s", before, after)
			}
		})
	}
}

// catalogWith is form with key set to value (deleted if value is "-").
func catalogWith(form url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, v := range form {
		out[k] = append([]string(nil), v...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "-" {
			out.Del(kv[i])
		} else {
			out.Set(kv[i], kv[i+1])
		}
	}
	return out
}

var catalogItemForm = url.Values{"name": {"Flat white"}, "description": {"Double shot"}, "price": {"3.50"}, "currency": {"EUR"},
	"station": {"drinks"}, "tags": {"hot, vegetarian"}, "allergens": {"milk"}, "low_stock_threshold": {"10"}}

// TestCatalogItemRefusals: every bad item form, new or edited, comes back
// with the error next to its field and what was typed, and changes
// nothing; unknown and other organizations' items are not found.
func TestCatalogItemRefusals(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	b := cloudtest.SeedTenant(t, s, "globex")
	c := catalogClient(t, s, a.Org.OwnerEmail)
	others := make([]string, 21)
	for i := range others {
		others[i] = "other" + string(rune('a'+i))
	}
	long := strings.Repeat("x", 201)
	var cases []catalogRefusal
	for _, path := range []string{"/catalog/items", "/catalog/items/" + a.Item} {
		kind := "New"
		if path != "/catalog/items" {
			kind = "Edit"
		}
		for _, tc := range []catalogRefusal{
			{name: "EmptyName", form: catalogWith(catalogItemForm, "name", " "), field: "name", says: "Name is required"},
			{name: "TooLongName", form: catalogWith(catalogItemForm, "name", long), field: "name", says: "Name is longer than 200 bytes"},
			{name: "ControlCharacterInName", form: catalogWith(catalogItemForm, "name", "Flat\x01white"), field: "name", says: "Name contains a control character"},
			{name: "TooLongDescription", form: catalogWith(catalogItemForm, "description", strings.Repeat("d", 2001)), field: "description", says: "Description is longer than 2000 bytes"},
			{name: "NegativePrice", form: catalogWith(catalogItemForm, "price", "-1.00"), field: "price", says: "Price must not be negative"},
			{name: "AbsurdPrice", form: catalogWith(catalogItemForm, "price", "1000000000"), field: "price", says: "Price must be at most EUR 100000000.00"},
			{name: "ThreeDecimalsInEUR", form: catalogWith(catalogItemForm, "price", "3.505"), field: "price", says: "Price in EUR has at most 2 decimals"},
			{name: "DecimalsInJPY", form: catalogWith(catalogItemForm, "price", "350.5", "currency", "JPY"), field: "price", says: "Price in JPY has no decimals"},
			{name: "NotAPrice", form: catalogWith(catalogItemForm, "price", "3 euros"), field: "price", says: "Price must be a number like 3.50"},
			{name: "EmptyPrice", form: catalogWith(catalogItemForm, "price", ""), field: "price", says: "Price is required"},
			{name: "NotACurrency", form: catalogWith(catalogItemForm, "currency", "EURO"), field: "currency", says: `Currency "EURO" is not an ISO 4217 code`},
			{name: "NoCurrency", form: catalogWith(catalogItemForm, "currency", ""), field: "currency", says: "Currency is required"},
			{name: "StationWithCapitalsAndSpace", form: catalogWith(catalogItemForm, "station", "Drinks Bar"), field: "station", says: "Station must be empty or up to 32 lowercase letters"},
			{name: "StationAll", form: catalogWith(catalogItemForm, "station", "all"), field: "station", says: "Station must be empty"},
			{name: "TooLongTag", form: catalogWith(catalogItemForm, "tags", "hot, "+strings.Repeat("t", 41)), field: "tags", says: "Tags entry is longer than 40 bytes"},
			{name: "TooManyAllergens", form: catalogWith(catalogItemForm, "allergens_other", strings.Join(others, ", ")), field: "allergens_other", says: "At most 20 allergens"},
			{name: "NegativeThreshold", form: catalogWith(catalogItemForm, "low_stock_threshold", "-1"), field: "low_stock_threshold", says: "Low-stock threshold must be between 0 and 1000000"},
			{name: "ThresholdNotANumber", form: catalogWith(catalogItemForm, "low_stock_threshold", "ten"), field: "low_stock_threshold", says: "Low-stock threshold must be a whole number"},
			{name: "ScriptPhotoURL", form: catalogWith(catalogItemForm, "image_url", "javascript:alert(1)"), field: "image_url", says: "Photo URL must be an http or https URL"},
		} {
			tc.name, tc.path, tc.status = kind+"/"+tc.name, path, http.StatusBadRequest
			cases = append(cases, tc)
		}
	}
	cases = append(cases,
		// The seeded item is on the site's menu at its own price, in EUR.
		catalogRefusal{name: "Edit/CurrencyTheSiteDoesNotSell", path: "/catalog/items/" + a.Item, form: catalogWith(catalogItemForm, "currency", "CHF"),
			status: http.StatusBadRequest, field: "currency", says: "sells this item at its own price and does not sell in CHF"},
		catalogRefusal{name: "Edit/UnknownItem", path: "/catalog/items/" + pantry.NewID(), form: catalogItemForm, status: http.StatusNotFound, says: "not found"},
		catalogRefusal{name: "Edit/NotAnID", path: "/catalog/items/nope", form: catalogItemForm, status: http.StatusNotFound, says: "not found"},
		catalogRefusal{name: "Edit/OtherOrganizationsItem", path: "/catalog/items/" + b.Item, form: catalogItemForm, status: http.StatusNotFound, says: "not found"},
		catalogRefusal{name: "Archive/NotABoolean", path: "/catalog/items/" + a.Item, form: url.Values{"archive": {"maybe"}}, status: http.StatusBadRequest, says: "archive must be true or false"},
	)
	cases = append(cases, catalogRefusal{name: "New/EveryErrorAtOnce", path: "/catalog/items", status: http.StatusBadRequest,
		form: catalogWith(catalogItemForm, "name", "", "price", "x", "station", "Bar", "image_url", "ftp://x", "tags", strings.Repeat("t", 41))})
	catalogCheckRefusals(t, s, a.Org.ID, c, cases)
	t.Run("EveryErrorAtOnce", func(t *testing.T) {
		got := catalogFieldErrors(catalogPost(t, c, "/catalog/items", cases[len(cases)-1].form))
		for _, field := range []string{"name", "price", "station", "image_url", "tags"} {
			if got[field] == "" {
				t.Errorf("no error next to %s: %q", field, got)
			}
		}
	})
	if p := c.get(t, "/catalog/items/"+b.Item); p.Status != http.StatusNotFound || strings.Contains(p.Body, b.Names[0]) {
		t.Fatalf("A opens B's item: %d\n%s", p.Status, p.Body)
	}
}

var catalogCouponForm = url.Values{"code": {"SUMMER"}, "kind": {"percent"}, "value": {"10"}, "valid_from": {"2030-06-01T09:00"},
	"valid_to": {"2030-06-30T18:00"}, "zone": {"Europe/Berlin"}, "max_uses_per_site": {"0"}, "active": {"on"}}

// TestCatalogCouponRefusals: bad coupons are refused next to their
// field, a duplicate code as a conflict next to the code, and nothing
// changes.
func TestCatalogCouponRefusals(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	b := cloudtest.SeedTenant(t, s, "globex")
	c := catalogClient(t, s, a.Org.OwnerEmail)
	if p := catalogPost(t, c, "/catalog/coupons", catalogCouponForm); p.Status != http.StatusSeeOther {
		t.Fatalf("create SUMMER: %d\n%s", p.Status, p.Body)
	}
	var cases []catalogRefusal
	for _, path := range []string{"/catalog/coupons", "/catalog/coupons/" + a.Coupon} {
		kind := "New"
		if path != "/catalog/coupons" {
			kind = "Edit"
		}
		for _, tc := range []catalogRefusal{
			{name: "DuplicateCode", form: catalogWith(catalogCouponForm, "code", "summer"), status: http.StatusConflict, field: "code", says: "A coupon with this code already exists"},
			{name: "EmptyCode", form: catalogWith(catalogCouponForm, "code", ""), field: "code", says: "Code is required"},
			{name: "CodeWithSpace", form: catalogWith(catalogCouponForm, "code", "TEN OFF"), field: "code", says: "Code must not contain spaces"},
			{name: "TooLongCode", form: catalogWith(catalogCouponForm, "code", strings.Repeat("C", 65)), field: "code", says: "Code is longer than 64 bytes"},
			{name: "PercentOver100", form: catalogWith(catalogCouponForm, "value", "101"), field: "value", says: "A percent coupon's value must be between 1 and 100"},
			{name: "PercentZero", form: catalogWith(catalogCouponForm, "value", "0"), field: "value", says: "A percent coupon's value must be between 1 and 100"},
			{name: "PercentNotANumber", form: catalogWith(catalogCouponForm, "value", "10.5"), field: "value", says: "Value must be a whole number of percent"},
			{name: "FixedThreeDecimals", form: catalogWith(catalogCouponForm, "kind", "fixed", "value", "2.505"), field: "value", says: "Value in EUR has at most 2 decimals"},
			{name: "FixedNegative", form: catalogWith(catalogCouponForm, "kind", "fixed", "value", "-2"), field: "value", says: "Value must not be negative"},
			{name: "FixedZero", form: catalogWith(catalogCouponForm, "kind", "fixed", "value", "0"), field: "value", says: "A fixed coupon's value must be between 1 and"},
			{name: "UnknownKind", form: catalogWith(catalogCouponForm, "kind", "bogus"), field: "kind", says: `Kind must be "percent" or "fixed"`},
			{name: "ValidToBeforeValidFrom", form: catalogWith(catalogCouponForm, "valid_to", "2030-05-31T09:00"), field: "valid_to", says: "Valid until must be after valid from"},
			{name: "ValidToEqualsValidFrom", form: catalogWith(catalogCouponForm, "valid_to", "2030-06-01T09:00"), field: "valid_to", says: "Valid until must be after valid from"},
			{name: "NoValidFrom", form: catalogWith(catalogCouponForm, "valid_from", ""), field: "valid_from", says: "Valid from is required"},
			{name: "NotADate", form: catalogWith(catalogCouponForm, "valid_from", "next monday"), field: "valid_from", says: "Valid from must be a date and a time"},
			{name: "ZoneNotOffered", form: catalogWith(catalogCouponForm, "zone", "Mars/Olympus"), field: "zone", says: "Time zone must be one of Europe/Berlin, UTC"},
			{name: "NegativeMaxUses", form: catalogWith(catalogCouponForm, "max_uses_per_site", "-1"), field: "max_uses_per_site", says: "Max uses per site must be between 0 (unlimited) and 1000000"},
			{name: "MaxUsesNotANumber", form: catalogWith(catalogCouponForm, "max_uses_per_site", "lots"), field: "max_uses_per_site", says: "Max uses per site must be a whole number"},
		} {
			tc.name, tc.path = kind+"/"+tc.name, path
			if tc.status == 0 {
				tc.status = http.StatusBadRequest
			}
			cases = append(cases, tc)
		}
	}
	cases = append(cases,
		catalogRefusal{name: "New/EveryErrorAtOnce", path: "/catalog/coupons", status: http.StatusBadRequest,
			form: catalogWith(catalogCouponForm, "code", "", "value", "101", "valid_to", "2030-05-01T09:00", "max_uses_per_site", "-5")},
		catalogRefusal{name: "Edit/UnknownCoupon", path: "/catalog/coupons/" + pantry.NewID(), form: catalogCouponForm, status: http.StatusNotFound, says: "not found"},
		catalogRefusal{name: "Edit/OtherOrganizationsCoupon", path: "/catalog/coupons/" + b.Coupon, form: catalogCouponForm, status: http.StatusNotFound, says: "not found"},
	)
	catalogCheckRefusals(t, s, a.Org.ID, c, cases)
	got := catalogFieldErrors(catalogPost(t, c, "/catalog/coupons", cases[len(cases)-3].form))
	for _, field := range []string{"code", "value", "valid_to", "max_uses_per_site"} {
		if got[field] == "" {
			t.Errorf("every error at once: none next to %s: %q", field, got)
		}
	}
}

// TestCatalogCostCenterRefusals: the same for cost centers.
func TestCatalogCostCenterRefusals(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	b := cloudtest.SeedTenant(t, s, "globex")
	c := catalogClient(t, s, a.Org.OwnerEmail)
	good := url.Values{"code": {"CC-4711"}, "name": {"Marketing"}, "active": {"on"}}
	if p := catalogPost(t, c, "/catalog/cost-centers", good); p.Status != http.StatusSeeOther {
		t.Fatalf("create CC-4711: %d\n%s", p.Status, p.Body)
	}
	var cases []catalogRefusal
	for _, path := range []string{"/catalog/cost-centers", "/catalog/cost-centers/" + a.CostCenter} {
		kind := "New"
		if path != "/catalog/cost-centers" {
			kind = "Edit"
		}
		for _, tc := range []catalogRefusal{
			{name: "DuplicateCode", form: catalogWith(good, "code", "cc-4711"), status: http.StatusConflict, field: "code", says: "A cost center with this code already exists"},
			{name: "EmptyCode", form: catalogWith(good, "code", ""), field: "code", says: "Code is required"},
			{name: "CodeWithSpace", form: catalogWith(good, "code", "CC 1"), field: "code", says: "Code must not contain spaces"},
			{name: "TooLongName", form: catalogWith(good, "name", strings.Repeat("n", 201)), field: "name", says: "Name is longer than 200 bytes"},
		} {
			tc.name, tc.path = kind+"/"+tc.name, path
			if tc.status == 0 {
				tc.status = http.StatusBadRequest
			}
			cases = append(cases, tc)
		}
	}
	cases = append(cases,
		catalogRefusal{name: "Edit/UnknownCostCenter", path: "/catalog/cost-centers/" + pantry.NewID(), form: good, status: http.StatusNotFound, says: "not found"},
		catalogRefusal{name: "Edit/OtherOrganizationsCostCenter", path: "/catalog/cost-centers/" + b.CostCenter, form: good, status: http.StatusNotFound, says: "not found"},
	)
	catalogCheckRefusals(t, s, a.Org.ID, c, cases)
}

// catalogWrites are every catalog form, as the tenant's owner would post
// them.
func catalogWrites(a cloudtest.Tenant) map[string]url.Values {
	return map[string]url.Values{
		"/catalog/items":                        catalogItemForm,
		"/catalog/items/" + a.Item:              catalogItemForm,
		"/catalog/items/" + a.Item + "#archive": {"archive": {"true"}},
		"/catalog/coupons":                      catalogCouponForm,
		"/catalog/coupons/" + a.Coupon:          catalogCouponForm,
		"/catalog/cost-centers":                 {"code": {"CC-1"}, "name": {"x"}},
		"/catalog/cost-centers/" + a.CostCenter: {"code": {"CC-1"}, "name": {"x"}},
	}
}

// TestCatalogWithoutCSRF: each catalog form posted without its token, or
// with another's, is refused and changes nothing.
func TestCatalogWithoutCSRF(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	c := catalogClient(t, s, a.Org.OwnerEmail)
	before := cloudtest.Fingerprint(t, s, a.Org.ID)
	for path, form := range catalogWrites(a) {
		path, _, _ = strings.Cut(path, "#")
		for _, token := range []string{"", "forged"} {
			f := catalogWith(form, "csrf", token)
			if token == "" {
				f.Del("csrf")
			}
			if p := c.do(t, "POST", path, f); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "did not come from this dashboard") {
				t.Errorf("POST %s with csrf %q: %d, want 403\n%s", path, token, p.Status, p.Body)
			}
		}
	}
	if after := cloudtest.Fingerprint(t, s, a.Org.ID); after != before {
		t.Fatalf("forms without their token changed data:\n before %s\n after  %s", before, after)
	}
}

// TestCatalogReadOnlyRoles: a viewer and a facility manager (the API's
// rule: they build menus from the catalog, they do not change it) see
// the catalog with no way to change it, and posting anyway is refused
// and changes nothing.
func TestCatalogReadOnlyRoles(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	r := s.Do(t, "POST", "/api/v1/users", a.Org.Token, map[string]any{"email": "fm@acme.test", "name": "Fran", "role": "facility_manager",
		"password": cloudtest.Password, "site_ids": []string{a.Site}})
	if r.Status != http.StatusCreated {
		t.Fatalf("create facility manager: %d %s", r.Status, r.Body)
	}
	for _, who := range []struct{ name, email, role string }{
		{"Viewer", "viewer@acme.test", "viewer"},
		{"FacilityManager", "fm@acme.test", "facility_manager"},
	} {
		t.Run(who.name, func(t *testing.T) {
			c := catalogClient(t, s, who.email)
			for path, hidden := range map[string]string{
				"/catalog":                              `data-action="new-item"`,
				"/catalog/items/" + a.Item:              `data-form="item"`,
				"/catalog/coupons":                      `data-action="new-coupon"`,
				"/catalog/coupons/" + a.Coupon:          `data-form="coupon"`,
				"/catalog/cost-centers":                 `data-action="new-cost-center"`,
				"/catalog/cost-centers/" + a.CostCenter: `data-form="cost-center"`,
			} {
				p := c.get(t, path)
				if p.Status != http.StatusOK || !strings.Contains(p.Body, a.Names[0]) && !strings.Contains(p.Body, "ACME10") && !strings.Contains(p.Body, "CC-acme") {
					t.Errorf("%s reads %s: %d\n%s", who.name, path, p.Status, p.Body)
				}
				if strings.Contains(p.Body, hidden) || strings.Contains(p.Body, `method="post" action="/catalog`) {
					t.Errorf("%s sees a way to change the catalog on %s", who.name, path)
				}
			}
			if p := c.get(t, "/catalog/items/"+a.Item); !strings.Contains(p.Body, "EUR 3.50") {
				t.Errorf("the item's facts do not show its price:\n%s", p.Body)
			}
			for _, path := range []string{"/catalog/items/new", "/catalog/coupons/new", "/catalog/cost-centers/new"} {
				if p := c.get(t, path); p.Status != http.StatusForbidden {
					t.Errorf("%s opens %s: %d, want 403", who.name, path, p.Status)
				}
			}
			before := cloudtest.Fingerprint(t, s, a.Org.ID)
			for path, form := range catalogWrites(a) {
				path, _, _ = strings.Cut(path, "#")
				p := catalogPost(t, c, path, form)
				if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "may not change the catalog") {
					t.Errorf("%s posts %s: %d, want 403 saying why\n%s", who.name, path, p.Status, p.Body)
				}
			}
			if after := cloudtest.Fingerprint(t, s, a.Org.ID); after != before {
				t.Fatalf("%s changed the catalog:\n before %s\n after  %s", who.name, before, after)
			}
		})
	}
}

// TestCatalogItemLifecycle: an owner adds an item through the form, sees
// it in the list with its price and labels, changes its price, archives
// and restores it; prices follow their currency's minor units.
func TestCatalogItemLifecycle(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	c := catalogClient(t, s, a.Org.OwnerEmail)

	form := c.get(t, "/catalog/items/new")
	if !strings.Contains(form.Body, `name="currency" type="text" value="EUR"`) || !strings.Contains(form.Body, `<option value="EUR">`) {
		t.Errorf("the new item's currency is not the sites' EUR:\n%s", form.Body)
	}
	p := catalogPost(t, c, "/catalog/items", catalogWith(catalogItemForm, "allergens_other", "lactose,", "station", " drinks "))
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/catalog" {
		t.Fatalf("add item: %d to %q\n%s", p.Status, p.Header.Get("Location"), p.Body)
	}
	list := c.get(t, "/catalog")
	row := catalogRow(t, list, "Flat white")
	for _, want := range []string{"EUR 3.50", "drinks", "<li>hot</li>", "<li>vegetarian</li>", "<li>milk</li>", "<li>lactose</li>", ">10<", `data-state="active"`} {
		if !strings.Contains(row, want) {
			t.Errorf("the list's row lacks %s:\n%s", want, row)
		}
	}
	if !strings.Contains(list.Body, `class="flash" role="status">Added Flat white at EUR 3.50.`) {
		t.Errorf("no message after adding:\n%s", list.Body)
	}
	id := regexp.MustCompile(`data-item-id="([^"]+)"[^>]*>\s*<td><a href="/catalog/items/[^"]+" data-item-name>Flat white<`).FindStringSubmatch(list.Body)
	if id == nil {
		t.Fatalf("no row for Flat white:\n%s", list.Body)
	}
	item := c.get(t, "/catalog/items/"+id[1])
	for _, want := range []string{`value="Flat white"`, `value="3.50"`, `value="milk" checked`, `value="lactose"`, `value="drinks"`, `<option value="drinks">`} {
		if !strings.Contains(item.Body, want) {
			t.Errorf("the item's form lacks %s", want)
		}
	}
	if strings.Contains(item.Body, `value="egg" checked`) {
		t.Errorf("an allergen the item does not have is ticked")
	}

	if p := catalogPost(t, c, "/catalog/items/"+id[1], catalogWith(catalogItemForm, "price", "4,2")); p.Status != http.StatusSeeOther {
		t.Fatalf("edit price: %d\n%s", p.Status, p.Body)
	}
	if row := catalogRow(t, c.get(t, "/catalog"), "Flat white"); !strings.Contains(row, "EUR 4.20") {
		t.Errorf("after the edit the row shows:\n%s", row)
	}
	if p := catalogPost(t, c, "/catalog/items/"+id[1], catalogWith(catalogItemForm, "price", "1.234", "currency", "KWD")); p.Status != http.StatusSeeOther {
		t.Fatalf("price in dinars: %d\n%s", p.Status, p.Body)
	}
	if row := catalogRow(t, c.get(t, "/catalog"), "Flat white"); !strings.Contains(row, "KWD 1.234") {
		t.Errorf("a price in dinars shows as:\n%s", row)
	}
	if p := catalogPost(t, c, "/catalog/items/"+id[1], catalogWith(catalogItemForm, "price", "350", "currency", "JPY")); p.Status != http.StatusSeeOther {
		t.Fatalf("price in yen: %d\n%s", p.Status, p.Body)
	}
	var got struct{ Price pantry.Money }
	s.Do(t, "GET", "/api/v1/items/"+id[1], a.Org.Token, nil).Decode(t, &got)
	if got.Price != (pantry.Money{Amount: 350, Currency: "JPY"}) {
		t.Errorf("350 yen is stored as %+v", got.Price)
	}

	p = catalogPost(t, c, "/catalog/items/"+id[1], url.Values{"archive": {"true"}})
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/catalog/items/"+id[1] {
		t.Fatalf("archive: %d to %q", p.Status, p.Header.Get("Location"))
	}
	if page := c.get(t, "/catalog/items/"+id[1]); !strings.Contains(page.Body, "is archived") || !strings.Contains(page.Body, `data-action="restore"`) {
		t.Errorf("the archived item's page:\n%s", page.Body)
	}
	if row := catalogRow(t, c.get(t, "/catalog"), "Flat white"); !strings.Contains(row, `data-state="archived"`) {
		t.Errorf("the archived item's row:\n%s", row)
	}
	catalogPost(t, c, "/catalog/items/"+id[1], url.Values{"archive": {"false"}})
	if row := catalogRow(t, c.get(t, "/catalog"), "Flat white"); !strings.Contains(row, `data-state="active"`) {
		t.Errorf("the restored item's row:\n%s", row)
	}
}

// catalogRow is the list's table row whose item is named name.
func catalogRow(tb testing.TB, p page, name string) string {
	tb.Helper()
	for _, row := range strings.Split(p.Body, "<tr ")[1:] {
		if strings.Contains(row, ">"+html.EscapeString(name)+"</a>") {
			row, _, _ = strings.Cut(row, "</tr>")
			return row
		}
	}
	tb.Fatalf("no row for %s (status %d):\n%s", name, p.Status, p.Body)
	return ""
}

// TestCatalogCouponsAndCostCenters: coupon times are read in the zone the
// form names, a fixed value in the sites' currency; saving a coupon's
// form unchanged keeps it exactly as it was; an inactive coupon or cost
// center says so.
func TestCatalogCouponsAndCostCenters(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	c := catalogClient(t, s, a.Org.OwnerEmail)

	form := c.get(t, "/catalog/coupons/new")
	if !strings.Contains(form.Body, `<option value="Europe/Berlin" selected>`) || !strings.Contains(form.Body, `<option value="UTC">`) {
		t.Errorf("the coupon form does not offer the sites' zone first:\n%s", form.Body)
	}
	p := catalogPost(t, c, "/catalog/coupons", catalogWith(catalogCouponForm, "kind", "fixed", "value", "2.50", "max_uses_per_site", "3"))
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/catalog/coupons" {
		t.Fatalf("create coupon: %d\n%s", p.Status, p.Body)
	}
	var coupons struct {
		Coupons []struct {
			ID, Code, Kind string
			Value          int64
			ValidFrom      time.Time `json:"valid_from"`
			To             time.Time `json:"valid_to"`
			MaxUses        int64     `json:"max_uses_per_site"`
		}
	}
	s.Do(t, "GET", "/api/v1/coupons", a.Org.Token, nil).Decode(t, &coupons)
	cp := coupons.Coupons[0]
	wantFrom, wantTo := time.Date(2030, 6, 1, 7, 0, 0, 0, time.UTC), time.Date(2030, 6, 30, 16, 0, 0, 0, time.UTC) // CEST is UTC+2
	if cp.Code != "SUMMER" || cp.Kind != "fixed" || cp.Value != 250 || !cp.ValidFrom.Equal(wantFrom) || !cp.To.Equal(wantTo) || cp.MaxUses != 3 {
		t.Fatalf("stored coupon %+v, want 250 off from %s to %s", cp, wantFrom, wantTo)
	}
	list := c.get(t, "/catalog/coupons")
	for _, want := range []string{"Valid from (Europe/Berlin)", "EUR 2.50", "2030-06-01 09:00", "2030-06-30 18:00", `data-state="scheduled"`, "Not yet valid", `data-state="active"`} {
		if !strings.Contains(list.Body, want) {
			t.Errorf("the coupon list lacks %s", want)
		}
	}
	// The same times in UTC are the same instants.
	if p := catalogPost(t, c, "/catalog/coupons/"+cp.ID, catalogWith(catalogCouponForm, "kind", "fixed", "value", "2.50", "max_uses_per_site", "3",
		"zone", "UTC", "valid_from", "2030-06-01T07:00", "valid_to", "2030-06-30T16:00")); p.Status != http.StatusSeeOther {
		t.Fatalf("save in UTC: %d\n%s", p.Status, p.Body)
	}
	s.Do(t, "GET", "/api/v1/coupons", a.Org.Token, nil).Decode(t, &coupons)
	if got := coupons.Coupons[0]; !got.ValidFrom.Equal(wantFrom) || !got.To.Equal(wantTo) {
		t.Errorf("saved in UTC: %s to %s, want %s to %s", got.ValidFrom, got.To, wantFrom, wantTo)
	}

	// The seeded coupon's times have microseconds; its form, saved as
	// shown but inactive, keeps them.
	var seeded struct {
		ValidFrom time.Time  `json:"valid_from"`
		ValidTo   time.Time  `json:"valid_to"`
		Archived  *time.Time `json:"archived_at"`
	}
	s.Do(t, "GET", "/api/v1/coupons/"+a.Coupon, a.Org.Token, nil).Decode(t, &seeded)
	page := c.get(t, "/catalog/coupons/"+a.Coupon)
	shown := url.Values{}
	for _, m := range regexp.MustCompile(`name="([a-z_]+)" type="[a-z-]+" value="([^"]*)"`).FindAllStringSubmatch(page.Body, -1) {
		shown.Set(m[1], html.UnescapeString(m[2]))
	}
	shown.Set("kind", "percent")
	shown.Set("zone", "Europe/Berlin")
	if p := catalogPost(t, c, "/catalog/coupons/"+a.Coupon, shown); p.Status != http.StatusSeeOther {
		t.Fatalf("save the seeded coupon as shown (%v): %d\n%s", shown, p.Status, p.Body)
	}
	before := seeded
	s.Do(t, "GET", "/api/v1/coupons/"+a.Coupon, a.Org.Token, nil).Decode(t, &seeded)
	if !seeded.ValidFrom.Equal(before.ValidFrom) || !seeded.ValidTo.Equal(before.ValidTo) || seeded.Archived == nil {
		t.Errorf("saved as shown without Active: %+v, was %+v", seeded, before)
	}
	if row := c.get(t, "/catalog/coupons"); !strings.Contains(row.Body, `data-state="inactive"`) {
		t.Errorf("the inactive coupon is not shown as such")
	}

	if p := catalogPost(t, c, "/catalog/cost-centers", url.Values{"code": {"CC-4711"}, "name": {"Marketing"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("add cost center: %d\n%s", p.Status, p.Body)
	}
	if p := catalogPost(t, c, "/catalog/cost-centers/"+a.CostCenter, url.Values{"code": {"CC-acme"}, "name": {"Facilities"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("deactivate cost center: %d\n%s", p.Status, p.Body)
	}
	ccs := c.get(t, "/catalog/cost-centers")
	for _, want := range []string{"CC-4711", "Marketing", "Facilities", `data-state="inactive"`, `data-state="active"`, "Saved cost center CC-acme."} {
		if !strings.Contains(ccs.Body, want) {
			t.Errorf("the cost center list lacks %s:\n%s", want, ccs.Body)
		}
	}
}

// TestCatalogNamesAreText: names typed as markup show as text on every
// page that shows them: the catalog, the item's page, the coupon and
// cost center lists, and the live orders and order pages of an order
// that has the item.
func TestCatalogNamesAreText(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	c := catalogClient(t, s, a.Org.OwnerEmail)
	const script = "<script>alert(1)</script>"
	escaped := html.EscapeString(script)
	if p := catalogPost(t, c, "/catalog/items/"+a.Item, catalogWith(catalogItemForm, "name", script, "description", script, "tags", script, "allergens_other", "<img src=x onerror=alert(1)>")); p.Status != http.StatusSeeOther {
		t.Fatalf("rename the item: %d\n%s", p.Status, p.Body)
	}
	if p := catalogPost(t, c, "/catalog/cost-centers", url.Values{"code": {"<b>CC</b>"}, "name": {script}}); p.Status != http.StatusSeeOther {
		t.Fatalf("add a cost center: %d\n%s", p.Status, p.Body)
	}
	if p := catalogPost(t, c, "/catalog/coupons", catalogWith(catalogCouponForm, "code", "<script>")); p.Status != http.StatusSeeOther {
		t.Fatalf("add a coupon: %d\n%s", p.Status, p.Body)
	}
	named := a
	named.Names = []string{script}
	order := cloudtest.InsertOrder(t, s, named) // its line is the item, named as it now is
	for _, tc := range []struct {
		path  string
		shows bool // the page shows the name
	}{
		{"/catalog", true},
		{"/catalog/items/" + a.Item, true},
		{"/catalog/coupons", false},
		{"/catalog/cost-centers", true},
		{"/orders", false},
		{"/orders/" + order, true},
	} {
		p := c.get(t, tc.path)
		if p.Status != http.StatusOK {
			t.Fatalf("GET %s: %d", tc.path, p.Status)
		}
		for _, raw := range []string{"<script>alert", "<img src=x", "<b>CC</b>", "<script>\n", ">" + "<script>" + "<"} {
			if strings.Contains(p.Body, raw) {
				t.Errorf("%s has %q as markup", tc.path, raw)
			}
		}
		if tc.shows && !strings.Contains(p.Body, escaped) {
			t.Errorf("%s does not show the name as text:\n%s", tc.path, p.Body)
		}
	}
	if p := c.get(t, "/catalog/coupons"); !strings.Contains(p.Body, "&lt;script&gt;</a>") {
		t.Errorf("the coupon code is not shown as text")
	}
}
