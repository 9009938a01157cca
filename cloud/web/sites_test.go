package web_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/cloud/server"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// The sites area over real HTTP: forms posted as a browser posts them,
// pages read as a person reads them, and what the forms changed read
// back through the API, which the dashboard must agree with.

func init() { attackSets = append(attackSets, siteAttacks) }

// siteAttacks aims every sites route at A's ids.
func siteAttacks(a cloudtest.Tenant) map[string]pageAttack {
	site := "/sites/" + a.Site
	room := site + "/rooms/" + a.Space
	return map[string]pageAttack{
		"GET /sites":                                     {path: "/sites", want: http.StatusOK}, // B's own list
		"GET /sites/new":                                 {path: "/sites/new", want: http.StatusOK},
		"POST /sites":                                    {path: "/sites", form: url.Values{"name": {"Beta annex"}, "timezone": {"UTC"}, "currency": {"EUR"}}, want: http.StatusSeeOther}, // makes B's own
		"GET /sites/:site_id":                            {path: site, want: http.StatusNotFound},
		"POST /sites/:site_id":                           {path: site, form: url.Values{"name": {"Taken over"}, "timezone": {"UTC"}}, want: http.StatusNotFound},
		"POST /sites/:site_id/rooms":                     {path: site + "/rooms", form: url.Values{"name": {"Planted"}}, want: http.StatusNotFound},
		"GET /sites/:site_id/rooms/:space_id":            {path: room, want: http.StatusNotFound},
		"POST /sites/:site_id/rooms/:space_id":           {path: room, form: url.Values{"name": {"Renamed"}, "floor": {"9"}}, want: http.StatusNotFound},
		"POST /sites/:site_id/rooms/:space_id/rotate":    {path: room + "/rotate", form: url.Values{"confirm": {"yes"}}, want: http.StatusNotFound},
		"GET /sites/:site_id/rooms/:space_id/qr.png":     {path: room + "/qr.png", want: http.StatusNotFound},
		"GET /sites/:site_id/menu":                       {path: site + "/menu", want: http.StatusNotFound},
		"POST /sites/:site_id/menu":                      {path: site + "/menu", form: url.Values{"on": {a.Item}}, want: http.StatusNotFound},
		"POST /sites/:site_id/tablets":                   {path: site + "/tablets", form: url.Values{"name": {"Planted"}}, want: http.StatusNotFound},
		"POST /sites/:site_id/tablets/:tablet_id/revoke": {path: site + "/tablets/" + a.Tablet + "/revoke", form: url.Values{"confirm": {"yes"}}, want: http.StatusNotFound},
		"POST /sites/:site_id/enrollment-tokens":         {path: site + "/enrollment-tokens", form: url.Values{"ttl": {"24h"}}, want: http.StatusNotFound},
		"GET /sites/:site_id/qr.pdf":                     {path: site + "/qr.pdf?paper=a4", want: http.StatusNotFound},
		"GET /sites/:site_id/qr.svg":                     {path: site + "/qr.svg", want: http.StatusNotFound},
	}
}

// siteClient signs email in (every test user's password is
// cloudtest.Password) and returns the browser-like client.
func siteClient(tb testing.TB, s *cloudtest.Server, email string) *client {
	tb.Helper()
	c := newClient(tb, s)
	if p := c.signIn(tb, email, cloudtest.Password); p.Status != http.StatusSeeOther {
		tb.Fatalf("sign in %s: %d\n%s", email, p.Status, p.Body)
	}
	return c
}

// sitePost posts form to path as the dashboard's forms do, with the
// session's CSRF token unless the form already has a "csrf" (empty to
// send none).
func sitePost(tb testing.TB, c *client, path string, form url.Values) page {
	tb.Helper()
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	if _, ok := f["csrf"]; !ok {
		f.Set("csrf", csrf(tb, c.get(tb, "/sites")))
	} else if f.Get("csrf") == "" {
		f.Del("csrf")
	}
	return c.do(tb, "POST", path, f)
}

// formHTML is the part of a page inside the form marked data-form=name,
// "" if the page has none.
func siteFormHTML(body, name string) string {
	i := strings.Index(body, `data-form="`+name+`"`)
	if i < 0 {
		return ""
	}
	j := strings.Index(body[i:], "</form>")
	if j < 0 {
		return body[i:]
	}
	return body[i : i+j]
}

var siteFieldErrorRE = regexp.MustCompile(`data-field-error="([^"]+)">([^<]*)</p>`)

// fieldErrors are the errors shown next to fields in some HTML, by field.
func siteFieldErrors(h string) map[string]string {
	out := map[string]string{}
	for _, m := range siteFieldErrorRE.FindAllStringSubmatch(h, -1) {
		out[m[1]] = html.UnescapeString(m[2])
	}
	return out
}

// redirectedTo checks that p is the 303 of a form that worked, to a path
// starting with prefix, and returns where it goes.
func siteRedirect(tb testing.TB, p page, prefix string) string {
	tb.Helper()
	loc := p.Header.Get("Location")
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(loc, prefix) {
		tb.Fatalf("%d to %q, want 303 to %s…\n%s", p.Status, loc, prefix, p.Body)
	}
	return loc
}

// siteAPISpace is a room as the API shows it.
type siteAPISpace struct {
	ID, Name, Floor, Code string
	QRURL                 string  `json:"qr_url"`
	ArchivedAt            *string `json:"archived_at"`
}

// siteAPISpaces lists a site's rooms through the API, as the owner.
func siteAPISpaces(tb testing.TB, s *cloudtest.Server, a cloudtest.Tenant, site string) []siteAPISpace {
	tb.Helper()
	r := s.Do(tb, "GET", "/api/v1/sites/"+site+"/spaces?limit=500", a.Org.Token, nil)
	if r.Status != http.StatusOK {
		tb.Fatalf("list spaces: %d %s", r.Status, r.Body)
	}
	var out struct{ Spaces []siteAPISpace }
	r.Decode(tb, &out)
	return out.Spaces
}

// TestSitesCreateEditList: an owner creates a site from the form, is taken
// to its page with a message, finds it in the list with its time zone,
// currency and rooms, renames it, moves its time zone, archives and
// restores it; the API sees each change.
func TestSitesCreateEditList(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	c := siteClient(t, s, a.Org.OwnerEmail)

	list := c.get(t, "/sites")
	if list.Status != http.StatusOK || !strings.Contains(list.Body, `href="/sites/new"`) || !strings.Contains(list.Body, `data-site-id="`+a.Site+`"`) {
		t.Fatalf("GET /sites: %d, want the seeded site and a New site link\n%s", list.Status, list.Body)
	}
	if !strings.Contains(list.Body, `data-rooms="1"`) || !strings.Contains(list.Body, "Europe/Berlin") || !strings.Contains(list.Body, `data-health=`) {
		t.Errorf("the list lacks the seeded site's rooms, zone or node health:\n%s", list.Body)
	}
	if p := c.get(t, "/sites/new"); p.Status != http.StatusOK || siteFormHTML(p.Body, "site") == "" || !strings.Contains(p.Body, `<option value="Europe/Berlin">`) {
		t.Fatalf("GET /sites/new: %d, want the form with time zones to choose from\n%s", p.Status, p.Body)
	}

	loc := siteRedirect(t, sitePost(t, c, "/sites", url.Values{"name": {" Amsterdam HQ "}, "timezone": {"Europe/Amsterdam"}, "currency": {"eur"}}), "/sites/")
	id := strings.TrimPrefix(loc, "/sites/")
	if !pantry.ValidID(id) {
		t.Fatalf("redirected to %s, not a site's page", loc)
	}
	p := c.get(t, loc)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "Site Amsterdam HQ created.") || !strings.Contains(p.Body, "<h1 data-site-id=\""+id+"\">Amsterdam HQ</h1>") {
		t.Fatalf("the new site's page: %d\n%s", p.Status, p.Body)
	}
	if again := c.get(t, loc); strings.Contains(again.Body, "created.") {
		t.Errorf("the message shows again on the next page")
	}
	if !strings.Contains(p.Body, "No rooms yet") || !strings.Contains(p.Body, "Nothing on the menu yet") || !strings.Contains(p.Body, "No edge node has enrolled") {
		t.Errorf("a new site's page lacks its empty states:\n%s", p.Body)
	}
	var got struct{ Name, Timezone, Currency string }
	s.Do(t, "GET", "/api/v1/sites/"+id, a.Org.Token, nil).Decode(t, &got)
	if got.Name != "Amsterdam HQ" || got.Timezone != "Europe/Amsterdam" || got.Currency != "EUR" {
		t.Fatalf("the API sees %+v", got)
	}

	siteRedirect(t, sitePost(t, c, loc, url.Values{"name": {"Amsterdam Zuid"}, "timezone": {"Europe/London"}}), loc)
	s.Do(t, "GET", "/api/v1/sites/"+id, a.Org.Token, nil).Decode(t, &got)
	if got.Name != "Amsterdam Zuid" || got.Timezone != "Europe/London" {
		t.Fatalf("after the settings form the API sees %+v", got)
	}
	siteRedirect(t, sitePost(t, c, loc, url.Values{"archived": {"true"}}), loc)
	if p := c.get(t, loc); !strings.Contains(p.Body, "data-archived") || siteFormHTML(p.Body, "enroll") != "" || !strings.Contains(p.Body, "archived: no edge node can enroll") {
		t.Errorf("an archived site's page: want it marked archived, without the enrollment form\n%s", p.Body)
	}
	before := cloudtest.Fingerprint(t, s, a.Org.ID)
	if p := sitePost(t, c, loc+"/enrollment-tokens", url.Values{"ttl": {"24h"}}); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "is archived: restore it before enrolling a node") {
		t.Errorf("a token for an archived site: %d, want 400 saying to restore it first\n%s", p.Status, p.Body)
	}
	if cloudtest.Fingerprint(t, s, a.Org.ID) != before {
		t.Errorf("a refused token changed the data")
	}
	if p := c.get(t, "/sites"); !strings.Contains(p.Body, "Amsterdam Zuid</a> <span class=\"status status-cancelled\">Archived</span>") {
		t.Errorf("the list does not mark the archived site")
	}
	siteRedirect(t, sitePost(t, c, loc, url.Values{"archived": {"false"}}), loc)
	if p := c.get(t, loc); strings.Contains(p.Body, "data-archived") || siteFormHTML(p.Body, "enroll") == "" {
		t.Errorf("a restored site's page is still marked archived")
	}
}

// TestSitesRooms: rooms added on two floors show on the site's page by
// floor with their print links; a room's page shows the URL its code
// encodes, the API's qr_url; renaming and archiving work; rotating asks
// first, saying the printed code stops working, and only the confirmed
// POST gives the room a new code.
func TestSitesRooms(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t, func(cfg *server.Config) { cfg.QRBaseURL = "https://pantry.acme.test/" })
	a := cloudtest.SeedTenant(t, s, "acme")
	c := siteClient(t, s, a.Org.OwnerEmail)
	site := "/sites/" + a.Site

	siteRedirect(t, sitePost(t, c, site+"/rooms", url.Values{"name": {"Oslo"}, "floor": {"2"}}), site)
	siteRedirect(t, sitePost(t, c, site+"/rooms", url.Values{"name": {"Lisboa"}, "floor": {"Mezzanine"}}), site)
	p := c.get(t, site)
	for _, want := range []string{"Room Lisboa added.", `data-floor="2"`, `data-floor="Mezzanine"`, "Floor 2 (1 room)",
		`href="/sites/` + a.Site + `/qr.pdf?paper=a4&amp;floor=Mezzanine"`, `href="/sites/` + a.Site + `/qr.pdf?paper=letter"`, `href="/sites/` + a.Site + `/qr.svg"`} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("the site's page lacks %s", want)
		}
	}
	rooms := siteAPISpaces(t, s, a, a.Site)
	if len(rooms) != 3 {
		t.Fatalf("the API lists %d rooms, want 3", len(rooms))
	}
	for _, r := range rooms {
		if !strings.HasPrefix(r.QRURL, "https://pantry.acme.test/q/") {
			t.Errorf("%s: qr_url %s, want the configured base", r.Name, r.QRURL)
		}
		rp := c.get(t, site+"/rooms/"+r.ID)
		if rp.Status != http.StatusOK || !strings.Contains(rp.Body, `<code class="site-url" data-qr-url>`+r.QRURL+`</code>`) {
			t.Errorf("%s's page: %d, want its qr_url %s", r.Name, rp.Status, r.QRURL)
		}
	}
	oslo := rooms[slices.IndexFunc(rooms, func(r siteAPISpace) bool { return r.Name == "Oslo" })]
	roomPath := site + "/rooms/" + oslo.ID

	siteRedirect(t, sitePost(t, c, roomPath, url.Values{"name": {"Oslo fjord"}, "floor": {"4"}}), roomPath)
	if p := c.get(t, roomPath); !strings.Contains(p.Body, "Room saved.") || !strings.Contains(p.Body, ">Oslo fjord</h1>") || !strings.Contains(p.Body, "Floor: 4") {
		t.Errorf("after renaming, the room's page:\n%s", p.Body)
	}

	before := cloudtest.Fingerprint(t, s, a.Org.ID)
	ask := sitePost(t, c, roomPath+"/rotate", url.Values{})
	if ask.Status != http.StatusOK || !strings.Contains(ask.Body, "stops working") || !strings.Contains(ask.Body, `name="confirm" value="yes"`) {
		t.Fatalf("rotate without confirming: %d, want a page that asks, saying the printed code stops working\n%s", ask.Status, ask.Body)
	}
	if after := cloudtest.Fingerprint(t, s, a.Org.ID); after != before {
		t.Fatalf("asking to rotate changed the data")
	}
	siteRedirect(t, sitePost(t, c, roomPath+"/rotate", url.Values{"confirm": {"yes"}}), roomPath)
	rotated := siteAPISpaces(t, s, a, a.Site)
	now := rotated[slices.IndexFunc(rotated, func(r siteAPISpace) bool { return r.ID == oslo.ID })]
	if now.Code == oslo.Code || now.QRURL == oslo.QRURL {
		t.Fatalf("the room kept its code %s after rotating", oslo.Code)
	}
	if p := c.get(t, roomPath); !strings.Contains(p.Body, now.QRURL) || strings.Contains(p.Body, oslo.QRURL) || !strings.Contains(p.Body, "the old card no longer works") {
		t.Errorf("the room's page after rotating does not show the new URL only")
	}

	siteRedirect(t, sitePost(t, c, roomPath, url.Values{"archived": {"true"}}), roomPath)
	if p := c.get(t, roomPath); !strings.Contains(p.Body, "data-archived") || strings.Contains(p.Body, "qr.png") {
		t.Errorf("an archived room's page still offers its code")
	}
	if p := c.get(t, site); !strings.Contains(p.Body, `data-room-id="`+oslo.ID+`" data-archived`) || strings.Contains(p.Body, `data-floor="4"`) {
		t.Errorf("the site's page prints an archived room's floor, or does not mark the room")
	}
}

// TestSitesMenu: the menu form lists every catalog item with its price,
// puts the items ticked with their availability and price overrides
// (read back through the API), shows them ticked after, and an item
// removed leaves the menu.
func TestSitesMenu(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	tea := siteItem(t, s, a, "Green tea", 250, "EUR")
	siteItem(t, s, a, "Sparkling water", 180, "EUR")
	c := siteClient(t, s, a.Org.OwnerEmail)
	menu := "/sites/" + a.Site + "/menu"

	p := c.get(t, menu)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "EUR 2.50") || !strings.Contains(p.Body, "EUR 1.80") || !strings.Contains(p.Body, "1 of the catalog's 3 items") {
		t.Fatalf("GET menu: %d, want every item with its catalog price\n%s", p.Status, p.Body)
	}
	siteRedirect(t, sitePost(t, c, menu, url.Values{"on": {a.Item, tea}, "available": {tea}, "price-" + tea: {"2,2"}}), menu)
	p = c.get(t, menu)
	if !strings.Contains(p.Body, "Menu saved: 2 items, 1 available now.") || !strings.Contains(p.Body, `value="2.20"`) {
		t.Errorf("after saving, the menu page:\n%s", p.Body)
	}
	var got struct {
		Items []struct {
			ItemID    string `json:"item_id"`
			Available bool
			Price     *pantry.Money
		}
	}
	s.Do(t, "GET", "/api/v1/sites/"+a.Site+"/menu", a.Org.Token, nil).Decode(t, &got)
	if len(got.Items) != 2 {
		t.Fatalf("the API's menu has %d items, want 2", len(got.Items))
	}
	for _, it := range got.Items {
		switch it.ItemID {
		case tea:
			if !it.Available || it.Price == nil || *it.Price != (pantry.Money{Amount: 220, Currency: "EUR"}) {
				t.Errorf("tea: available %t at %v, want available at EUR 2.20", it.Available, it.Price)
			}
		case a.Item:
			if it.Available || it.Price != nil {
				t.Errorf("coffee: available %t at %v, want unavailable at the catalog's price", it.Available, it.Price)
			}
		}
	}
	siteRedirect(t, sitePost(t, c, menu, url.Values{"on": {tea}, "available": {tea}}), menu)
	s.Do(t, "GET", "/api/v1/sites/"+a.Site+"/menu", a.Org.Token, nil).Decode(t, &got)
	if len(got.Items) != 1 || got.Items[0].ItemID != tea || got.Items[0].Price != nil {
		t.Errorf("after unticking coffee and clearing the price the API's menu is %+v", got.Items)
	}
	if p := c.get(t, "/sites/"+a.Site); !strings.Contains(p.Body, "1 item on the menu, 1 available now.") {
		t.Errorf("the site's page does not sum the menu up")
	}
}

// siteItem adds an item to the catalog through the API.
func siteItem(tb testing.TB, s *cloudtest.Server, a cloudtest.Tenant, name string, amount int64, currency string) string {
	tb.Helper()
	r := s.Do(tb, "POST", "/api/v1/items", a.Org.Token, map[string]any{"name": name, "price": map[string]any{"amount": amount, "currency": currency},
		"tags": []string{}, "allergens": []string{}, "low_stock_threshold": 0})
	if r.Status != http.StatusCreated {
		tb.Fatalf("create item: %d %s", r.Status, r.Body)
	}
	var it struct{ ID string }
	r.Decode(tb, &it)
	return it.ID
}

var siteSecretRE = regexp.MustCompile(`data-secret>([^<]+)<`)

// TestSitesTabletPasswordOnce: adding a tablet shows its username and
// password once, with a warning; the site's page lists the tablet but
// never its password; revoking asks first, then revokes.
func TestSitesTabletPasswordOnce(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	c := siteClient(t, s, a.Org.OwnerEmail)
	site := "/sites/" + a.Site

	p := sitePost(t, c, site+"/tablets", url.Values{"name": {"Pantry counter"}})
	m := siteSecretRE.FindStringSubmatch(p.Body)
	if p.Status != http.StatusCreated || m == nil || !strings.Contains(p.Body, "shown only this once") || p.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("add a tablet: %d (Cache-Control %q), want its password shown once, not cached\n%s", p.Status, p.Header.Get("Cache-Control"), p.Body)
	}
	password := m[1]
	if len(password) < 16 {
		t.Fatalf("password %q", password)
	}
	page := c.get(t, site)
	if !strings.Contains(page.Body, "Pantry counter") || strings.Contains(page.Body, password) {
		t.Fatalf("the site's page: want the tablet listed, never its password")
	}
	var list struct {
		Tablets []struct{ ID, Name string }
	}
	s.Do(t, "GET", "/api/v1/sites/"+a.Site+"/tablets", a.Org.Token, nil).Decode(t, &list)
	i := slices.IndexFunc(list.Tablets, func(x struct{ ID, Name string }) bool { return x.Name == "Pantry counter" })
	if i < 0 {
		t.Fatalf("the API does not list the tablet: %+v", list)
	}
	id := list.Tablets[i].ID
	revoke := site + "/tablets/" + id + "/revoke"
	if !strings.Contains(page.Body, `action="`+revoke+`"`) {
		t.Errorf("the tablet's row has no revoke button")
	}
	before := cloudtest.Fingerprint(t, s, a.Org.ID)
	if ask := sitePost(t, c, revoke, url.Values{}); ask.Status != http.StatusOK || !strings.Contains(ask.Body, "cannot be undone") {
		t.Fatalf("revoke without confirming: %d, want a page that asks\n%s", ask.Status, ask.Body)
	}
	if cloudtest.Fingerprint(t, s, a.Org.ID) != before {
		t.Fatal("asking to revoke revoked")
	}
	siteRedirect(t, sitePost(t, c, revoke, url.Values{"confirm": {"yes"}}), site)
	if p := c.get(t, site); !strings.Contains(p.Body, `data-tablet-id="`+id+`" data-revoked`) || strings.Contains(p.Body, `action="`+revoke+`"`) {
		t.Errorf("after revoking, the tablet is not marked revoked or can be revoked again")
	}
}

// TestSitesEnrollmentToken: the enrollment form shows, once, the command
// a technician runs, naming this cloud as the browser reached it, and
// the token in it really enrolls the site's node.
func TestSitesEnrollmentToken(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	c := siteClient(t, s, a.Org.OwnerEmail)
	site := "/sites/" + a.Site

	p := sitePost(t, c, site+"/enrollment-tokens", url.Values{"ttl": {"1h"}})
	cmd := regexp.MustCompile(`data-command>([^<]+)<`).FindStringSubmatch(p.Body)
	if p.Status != http.StatusCreated || cmd == nil || !strings.Contains(p.Body, "shown only this once") || !strings.Contains(p.Body, "revokes it") {
		t.Fatalf("create a token: %d, want the command shown once (and that it replaces the node)\n%s", p.Status, p.Body)
	}
	fields := strings.Fields(html.UnescapeString(cmd[1]))
	if len(fields) != 7 || strings.Join(fields[:5], " ") != "pantry edge init --cloud "+s.URL || fields[5] != "--token" {
		t.Fatalf("command %q, want pantry edge init --cloud %s --token TOKEN", cmd[1], s.URL)
	}
	token := fields[6]
	if strings.Contains(c.get(t, site).Body, token) {
		t.Fatal("the site's page shows the token again")
	}
	r := s.Do(t, "POST", syncproto.PathEnroll, "", syncproto.EnrollRequest{Version: syncproto.Version, Token: token, Name: "edge-2", SoftwareVersion: "test"})
	if r.Status != http.StatusCreated {
		t.Fatalf("enroll with the page's token: %d %s", r.Status, r.Body)
	}
	if p := c.get(t, site); !strings.Contains(p.Body, "<td>edge-2</td>") {
		t.Errorf("the site's page does not show the enrolled node")
	}
}

// TestSitesFormRefusals posts bad input to every form: each answers its
// status with the error next to the field it is about (or above the form)
// and the values typed kept, and changes nothing, in A or in B.
func TestSitesFormRefusals(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	b := cloudtest.SeedTenant(t, s, "globex")
	c := siteClient(t, s, a.Org.OwnerEmail)
	site, room := "/sites/"+a.Site, "/sites/"+a.Site+"/rooms/"+a.Space
	long, floor65 := strings.Repeat("n", 201), strings.Repeat("f", 65)
	newSite := func(name, tz, cur string) url.Values {
		return url.Values{"name": {name}, "timezone": {tz}, "currency": {cur}}
	}
	for _, tc := range []struct {
		name, path string
		form       url.Values
		status     int
		in         string // the form (data-form) the error shows in; "" for an error page
		field      string // the field it is next to; "" for the form's own error
		says       string
	}{
		{"NewSiteEmptyName", "/sites", newSite("", "Europe/Berlin", "EUR"), 400, "site", "name", "name is required"},
		{"NewSiteMarsTimezone", "/sites", newSite("Mars HQ", "Mars/Base", "EUR"), 400, "site", "timezone", `timezone "Mars/Base" is not an IANA time zone name`},
		{"NewSiteLocalTimezone", "/sites", newSite("Local HQ", "Local", "EUR"), 400, "site", "timezone", "is not an IANA time zone name"},
		{"NewSiteBadCurrency", "/sites", newSite("Euro HQ", "Europe/Berlin", "EURO"), 400, "site", "currency", `currency "EURO" is not an ISO 4217 code`},
		{"NewSiteDigitCurrency", "/sites", newSite("Euro HQ", "Europe/Berlin", "E1R"), 400, "site", "currency", "is not an ISO 4217 code"},
		{"NewSiteLongName", "/sites", newSite(long, "Europe/Berlin", "EUR"), 400, "site", "name", "name is longer than 200 bytes"},
		{"NewSiteControlCharacter", "/sites", newSite("HQ\x07", "Europe/Berlin", "EUR"), 400, "site", "name", "name contains a control character"},
		{"EditEmptyName", site, url.Values{"name": {""}, "timezone": {"UTC"}}, 400, "edit", "name", "name is required"},
		{"EditMarsTimezone", site, url.Values{"name": {"HQ"}, "timezone": {"Mars/Base"}}, 400, "edit", "timezone", `"Mars/Base" is not an IANA time zone name`},
		{"EditLongName", site, url.Values{"name": {long}, "timezone": {"UTC"}}, 400, "edit", "name", "longer than 200 bytes"},
		{"EditArchivedNotABool", site, url.Values{"archived": {"maybe"}}, 400, "", "", "archived must be true or false"},
		{"RoomEmptyName", site + "/rooms", url.Values{"name": {" "}, "floor": {"2"}}, 400, "room", "name", "name is required"},
		{"RoomLongName", site + "/rooms", url.Values{"name": {long}, "floor": {"2"}}, 400, "room", "name", "longer than 200 bytes"},
		{"RoomLongFloor", site + "/rooms", url.Values{"name": {"Oslo"}, "floor": {floor65}}, 400, "room", "floor", "floor is longer than 64 bytes"},
		{"RoomEditEmptyName", room, url.Values{"name": {""}, "floor": {"2"}}, 400, "room-edit", "name", "name is required"},
		{"RoomEditLongFloor", room, url.Values{"name": {"Oslo"}, "floor": {floor65}}, 400, "room-edit", "floor", "floor is longer than 64 bytes"},
		{"TabletEmptyName", site + "/tablets", url.Values{"name": {""}}, 400, "tablet", "name", "name is required"},
		{"TabletLongName", site + "/tablets", url.Values{"name": {long}}, 400, "tablet", "name", "longer than 200 bytes"},
		{"EnrollForever", site + "/enrollment-tokens", url.Values{"ttl": {"forever"}}, 400, "enroll", "ttl", "not one of the choices"},
		{"MenuPriceNotANumber", site + "/menu", url.Values{"on": {a.Item}, "price-" + a.Item: {"three"}}, 400, "menu", "price-" + a.Item, "price must be a number like 3.50"},
		{"MenuPriceNegative", site + "/menu", url.Values{"on": {a.Item}, "price-" + a.Item: {"-3"}}, 400, "menu", "price-" + a.Item, "must not be negative"},
		{"MenuPriceThreeDecimals", site + "/menu", url.Values{"on": {a.Item}, "price-" + a.Item: {"3.555"}}, 400, "menu", "price-" + a.Item, "at most 2 decimals"},
		{"MenuUnknownItem", site + "/menu", url.Values{"on": {pantry.NewID()}}, 400, "menu", "", "does not exist"},
		{"MenuOtherOrganizationsItem", site + "/menu", url.Values{"on": {b.Item}}, 400, "menu", "", "does not exist"},
		{"MenuItemTwice", site + "/menu", url.Values{"on": {a.Item, a.Item}}, 400, "menu", "price-" + a.Item, "appears twice"},
		{"UnknownSite", "/sites/" + pantry.NewID(), url.Values{"name": {"HQ"}, "timezone": {"UTC"}}, 404, "", "", "not found"},
		{"SiteNotAnID", "/sites/nope/rooms", url.Values{"name": {"Oslo"}}, 404, "", "", "not found"},
		{"UnknownRoom", site + "/rooms/" + pantry.NewID(), url.Values{"name": {"Oslo"}}, 404, "", "", "not found"},
		{"UnknownRoomRotate", site + "/rooms/" + pantry.NewID() + "/rotate", url.Values{"confirm": {"yes"}}, 404, "", "", "not found"},
		{"UnknownTabletRevoke", site + "/tablets/" + pantry.NewID() + "/revoke", url.Values{"confirm": {"yes"}}, 404, "", "", "not found"},
		{"UnknownTabletAsk", site + "/tablets/" + pantry.NewID() + "/revoke", url.Values{}, 404, "", "", "not found"},
		{"OtherOrganizationsSite", "/sites/" + b.Site + "/rooms", url.Values{"name": {"Planted"}}, 404, "", "", "not found"},
		{"OtherOrganizationsSiteMenu", "/sites/" + b.Site + "/menu", url.Values{"on": {b.Item}}, 404, "", "", "not found"},
		{"OtherOrganizationsRoom", site + "/rooms/" + b.Space, url.Values{"name": {"Renamed"}}, 404, "", "", "not found"},
		{"OtherOrganizationsRoomRotate", site + "/rooms/" + b.Space + "/rotate", url.Values{"confirm": {"yes"}}, 404, "", "", "not found"},
		{"OtherOrganizationsTablet", site + "/tablets/" + b.Tablet + "/revoke", url.Values{"confirm": {"yes"}}, 404, "", "", "not found"},
		{"OtherOrganizationsEnroll", "/sites/" + b.Site + "/enrollment-tokens", url.Values{"ttl": {"24h"}}, 404, "", "", "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			beforeA, beforeB := cloudtest.Fingerprint(t, s, a.Org.ID), cloudtest.Fingerprint(t, s, b.Org.ID)
			p := sitePost(t, c, tc.path, tc.form)
			if p.Status != tc.status {
				t.Fatalf("%d, want %d\n%s", p.Status, tc.status, p.Body)
			}
			switch {
			case tc.in == "":
				if !strings.Contains(p.Body, "data-error>") || !strings.Contains(html.UnescapeString(p.Body), tc.says) {
					t.Errorf("the error page does not say %q:\n%s", tc.says, p.Body)
				}
			case tc.field == "":
				f := siteFormHTML(p.Body, tc.in)
				if !strings.Contains(f, "data-form-error>") || !strings.Contains(html.UnescapeString(f), tc.says) {
					t.Errorf("the %s form does not say %q above it:\n%s", tc.in, tc.says, f)
				}
			default:
				f := siteFormHTML(p.Body, tc.in)
				if got := siteFieldErrors(f)[tc.field]; !strings.Contains(got, tc.says) {
					t.Errorf("the %s form's %s field shows %q, want %q (errors %v)\n%s", tc.in, tc.field, got, tc.says, siteFieldErrors(p.Body), p.Body)
				}
				if n := len(siteFieldErrors(p.Body)); n != 1 {
					t.Errorf("%d field errors on the page, want 1: %v", n, siteFieldErrors(p.Body))
				}
				for k, v := range tc.form {
					if k == "on" || v[0] == "" || len(v[0]) > 100 || k == "ttl" || strings.ContainsAny(v[0], "\x07") {
						continue
					}
					if !strings.Contains(f, `value="`+html.EscapeString(strings.TrimSpace(v[0]))+`"`) && !strings.Contains(f, `value="`+strings.TrimSpace(v[0])+`"`) {
						t.Errorf("the form did not keep %s=%q", k, v[0])
					}
				}
			}
			if after := cloudtest.Fingerprint(t, s, a.Org.ID); after != beforeA {
				t.Errorf("A's data changed:\n before %s\n after  %s", beforeA, after)
			}
			if after := cloudtest.Fingerprint(t, s, b.Org.ID); after != beforeB {
				t.Errorf("B's data changed:\n before %s\n after  %s", beforeB, after)
			}
		})
	}
}
