package web_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pantry/pantry/cloud/cloudtest"
)

// Who may do what in the sites area: every form refused without its
// CSRF token, to a viewer, and at a site a facility manager does not
// manage; and names that hold markup shown as text.

// sitePosts are a valid post to every form of the area, for the tests
// that check who may post them.
func sitePosts(a cloudtest.Tenant) map[string]url.Values {
	site, room := "/sites/"+a.Site, "/sites/"+a.Site+"/rooms/"+a.Space
	return map[string]url.Values{
		"/sites":          {"name": {"Annex"}, "timezone": {"UTC"}, "currency": {"EUR"}},
		site:              {"name": {"Renamed"}, "timezone": {"UTC"}},
		site + "?archive": {"archived": {"true"}},
		site + "/rooms":   {"name": {"Oslo"}, "floor": {"2"}},
		room:              {"name": {"Renamed"}, "floor": {"9"}},
		room + "/rotate":  {"confirm": {"yes"}},
		site + "/menu":    {"on": {a.Item}, "available": {a.Item}, "price-" + a.Item: {"1.00"}},
		site + "/tablets": {"name": {"Counter"}},
		site + "/tablets/" + a.Tablet + "/revoke": {"confirm": {"yes"}},
		site + "/enrollment-tokens":               {"ttl": {"24h"}},
	}
}

// TestSitesWithoutCSRF: every form posted without the session's CSRF
// token, or with another's, is refused with 403 and changes nothing.
func TestSitesWithoutCSRF(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	c := siteClient(t, s, a.Org.OwnerEmail)
	other := csrf(t, siteClient(t, s, a.Org.OwnerEmail).get(t, "/sites"))
	for path, form := range sitePosts(a) {
		for name, token := range map[string]string{"None": "", "AnotherSessions": other} {
			t.Run(strings.ReplaceAll(path, "/", "_")+"/"+name, func(t *testing.T) {
				before := cloudtest.Fingerprint(t, s, a.Org.ID)
				f := url.Values{"csrf": {token}}
				for k, v := range form {
					f[k] = v
				}
				p := sitePost(t, c, strings.TrimSuffix(path, "?archive"), f)
				if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "did not come from this dashboard") {
					t.Fatalf("%d, want 403 saying the form did not come from here\n%s", p.Status, p.Body)
				}
				if after := cloudtest.Fingerprint(t, s, a.Org.ID); after != before {
					t.Fatalf("a form without its token changed the data")
				}
			})
		}
	}
}

// TestSitesViewer: a viewer sees every page of a site without a form or
// button that changes it, and posting one anyway is refused (403) and
// changes nothing.
func TestSitesViewer(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	c := siteClient(t, s, "viewer@acme.test")
	for _, path := range []string{"/sites", "/sites/" + a.Site, "/sites/" + a.Site + "/menu", "/sites/" + a.Site + "/rooms/" + a.Space} {
		p := c.get(t, path)
		if p.Status != http.StatusOK {
			t.Fatalf("GET %s: %d", path, p.Status)
		}
		if strings.Contains(p.Body, "data-form=") || strings.Contains(p.Body, "data-action=") || strings.Contains(p.Body, `href="/sites/new"`) {
			t.Errorf("GET %s shows a viewer a form or button that changes things:\n%s", path, p.Body)
		}
	}
	if p := c.get(t, "/sites/"+a.Site); !strings.Contains(p.Body, a.Names[0]+" room") || !strings.Contains(p.Body, "See the menu") || !strings.Contains(p.Body, a.Names[0]+" tablet") {
		t.Errorf("the viewer does not see the site's rooms, menu link and tablets")
	}
	if p := c.get(t, "/sites/new"); p.Status != http.StatusForbidden {
		t.Errorf("GET /sites/new as a viewer: %d, want 403", p.Status)
	}
	for path, form := range sitePosts(a) {
		t.Run(strings.ReplaceAll(path, "/", "_"), func(t *testing.T) {
			before := cloudtest.Fingerprint(t, s, a.Org.ID)
			p := sitePost(t, c, strings.TrimSuffix(path, "?archive"), form)
			if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "role viewer may not") {
				t.Fatalf("%d, want 403 saying a viewer may not\n%s", p.Status, p.Body)
			}
			if after := cloudtest.Fingerprint(t, s, a.Org.ID); after != before {
				t.Fatalf("a viewer's post changed the data")
			}
		})
	}
}

// TestSitesFacilityManager: a facility manager sees and changes only
// their site: the other is not found, on every page and form, they make
// no site and enroll no node, and their own site's forms work.
func TestSitesFacilityManager(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	r := s.Do(t, "POST", "/api/v1/sites", a.Org.Token, map[string]string{"name": "Other building", "timezone": "Europe/Paris", "currency": "EUR"})
	var other struct{ ID string }
	r.Decode(t, &other)
	r = s.Do(t, "POST", "/api/v1/sites/"+other.ID+"/spaces", a.Org.Token, map[string]string{"name": "Elsewhere room"})
	var otherRoom struct{ ID string }
	r.Decode(t, &otherRoom)
	r = s.Do(t, "POST", "/api/v1/users", a.Org.Token, map[string]any{"email": "fm@acme.test", "name": "Facility manager", "role": "facility_manager",
		"site_ids": []string{a.Site}, "password": cloudtest.Password})
	if r.Status != http.StatusCreated {
		t.Fatalf("create the facility manager: %d %s", r.Status, r.Body)
	}
	c := siteClient(t, s, "fm@acme.test")

	list := c.get(t, "/sites")
	if !strings.Contains(list.Body, `data-site-id="`+a.Site+`"`) || strings.Contains(list.Body, other.ID) || strings.Contains(list.Body, "Other building") || strings.Contains(list.Body, `href="/sites/new"`) {
		t.Errorf("the facility manager's list: want their site only, and no New site link\n%s", list.Body)
	}
	own := c.get(t, "/sites/"+a.Site)
	if siteFormHTML(own.Body, "room") == "" || siteFormHTML(own.Body, "edit") == "" || siteFormHTML(own.Body, "enroll") != "" {
		t.Errorf("their own site's page: want its forms, but not enrollment's")
	}
	site := "/sites/" + other.ID
	for _, path := range []string{site, site + "/menu", site + "/rooms/" + otherRoom.ID, site + "/qr.pdf", site + "/qr.svg", site + "/rooms/" + otherRoom.ID + "/qr.png"} {
		if p := c.get(t, path); p.Status != http.StatusNotFound || strings.Contains(p.Body, "Other building") {
			t.Errorf("GET %s: %d, want 404 without its name", path, p.Status)
		}
	}
	mine := sitePosts(a)
	for path, form := range sitePosts(cloudtest.Tenant{Site: other.ID, Space: otherRoom.ID, Tablet: a.Tablet, Item: a.Item}) {
		want := http.StatusNotFound
		if path == "/sites" {
			want = http.StatusForbidden
		}
		t.Run("Other"+strings.ReplaceAll(strings.TrimPrefix(path, site), "/", "_"), func(t *testing.T) {
			before := cloudtest.Fingerprint(t, s, a.Org.ID)
			if p := sitePost(t, c, strings.TrimSuffix(path, "?archive"), form); p.Status != want {
				t.Fatalf("%d, want %d\n%s", p.Status, want, p.Body)
			}
			if cloudtest.Fingerprint(t, s, a.Org.ID) != before {
				t.Fatal("the post changed the data")
			}
		})
	}
	if p := sitePost(t, c, "/sites/"+a.Site+"/enrollment-tokens", mine["/sites/"+a.Site+"/enrollment-tokens"]); p.Status != http.StatusForbidden {
		t.Errorf("a facility manager enrolls a node: %d, want 403", p.Status)
	}
	siteRedirect(t, sitePost(t, c, "/sites/"+a.Site+"/rooms", url.Values{"name": {"Managed room"}, "floor": {"1"}}), "/sites/"+a.Site)
	siteRedirect(t, sitePost(t, c, "/sites/"+a.Site+"/menu", mine["/sites/"+a.Site+"/menu"]), "/sites/"+a.Site+"/menu")
}

// TestSitesNamesAreText: names with markup show as text on every page
// and in the SVG sheet, never as markup.
func TestSitesNamesAreText(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	c := siteClient(t, s, a.Org.OwnerEmail)
	const evil = `<script>alert(1)</script>`
	loc := siteRedirect(t, sitePost(t, c, "/sites", url.Values{"name": {evil + " HQ"}, "timezone": {"UTC"}, "currency": {"EUR"}}), "/sites/")
	siteRedirect(t, sitePost(t, c, loc+"/rooms", url.Values{"name": {evil}, "floor": {`"><b>2`}}), loc)
	if p := sitePost(t, c, loc+"/tablets", url.Values{"name": {evil}}); p.Status != http.StatusCreated || strings.Contains(p.Body, "<script>alert") {
		t.Errorf("add a tablet named with markup: %d\n%s", p.Status, p.Body)
	}
	rooms := siteAPISpaces(t, s, a, strings.TrimPrefix(loc, "/sites/"))
	escaped := html.EscapeString(evil)
	for _, path := range []string{"/sites", loc, loc + "/rooms/" + rooms[0].ID, loc + "/menu"} {
		p := c.get(t, path)
		if strings.Contains(p.Body, "<script>alert") || strings.Contains(p.Body, `"><b>2`) {
			t.Errorf("GET %s renders a name as markup:\n%s", path, p.Body)
		}
		if !strings.Contains(p.Body, escaped) {
			t.Errorf("GET %s does not show the name as text", path)
		}
	}
	svg := c.get(t, loc+"/qr.svg")
	if svg.Status != http.StatusOK || strings.Contains(svg.Body, "<script") || !strings.Contains(svg.Body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("the SVG: %d, want the room's name as escaped text\n%s", svg.Status, svg.Body)
	}
}
