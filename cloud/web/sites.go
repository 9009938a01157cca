package web

import (
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/httpx"
)

// Sites: the organization's buildings, and in each its rooms (with their
// QR codes), its menu, its staff tablets and its edge node's enrollment.
// Each page and form asks auth.Principal.Can exactly what the API handler
// of the same action asks (cloud/api sites.go, site_ops.go, sync.go) and
// calls the same service, so the dashboard can do nothing the API would
// refuse. Files: sites.go (the list, a new site), sites_site.go (a
// site's page and settings), sites_rooms.go, sites_menu.go,
// sites_tablets.go (tablets and enrollment tokens), sites_qr.go (QR
// sheets).

// siteRoutes lists this area's pages. A POST that changes something a
// person cannot take back (a room's printed code, a tablet's login) first
// answers a page that says so and asks again (confirm=yes).
func (a *app) siteRoutes(page pageFunc) {
	page(fiber.MethodGet, "/sites", a.handleSites)
	page(fiber.MethodGet, "/sites/new", a.handleNewSite) // before /sites/:site_id, which would take "new"
	page(fiber.MethodPost, "/sites", a.handleCreateSite)
	page(fiber.MethodGet, "/sites/:site_id", a.handleSite)
	page(fiber.MethodPost, "/sites/:site_id", a.handleUpdateSite)

	page(fiber.MethodPost, "/sites/:site_id/rooms", a.handleCreateRoom)
	page(fiber.MethodGet, "/sites/:site_id/rooms/:space_id", a.handleRoom)
	page(fiber.MethodPost, "/sites/:site_id/rooms/:space_id", a.handleUpdateRoom)
	page(fiber.MethodPost, "/sites/:site_id/rooms/:space_id/rotate", a.handleRotateRoom)

	page(fiber.MethodGet, "/sites/:site_id/menu", a.handleSiteMenu)
	page(fiber.MethodPost, "/sites/:site_id/menu", a.handlePutSiteMenu)

	page(fiber.MethodPost, "/sites/:site_id/tablets", a.handleCreateTablet)
	page(fiber.MethodPost, "/sites/:site_id/tablets/:tablet_id/revoke", a.handleRevokeTablet)
	page(fiber.MethodPost, "/sites/:site_id/enrollment-tokens", a.handleCreateEnrollmentToken)

	page(fiber.MethodGet, "/sites/:site_id/qr.pdf", a.handleSiteQRPDF)
	page(fiber.MethodGet, "/sites/:site_id/qr.svg", a.handleSiteQRSVG)
	page(fiber.MethodGet, "/sites/:site_id/rooms/:space_id/qr.png", a.handleRoomQRPNG)
}

// siteActor is the signed-in person as the audit log records them.
func siteActor(p auth.Principal) cloud.Actor { return cloud.Actor{Type: "user", ID: p.ID} }

// siteRefusal reports the status to answer a form refused with err, and
// whether the form should come back with the error next to its field: a
// rule the person can satisfy (400) or a duplicate (409). Anything else
// (an unknown id, a forbidden action, a failure of ours) is an error page.
func siteRefusal(err error) (int, bool) {
	status, _ := httpx.Resolve(err)
	return status, status == fiber.StatusBadRequest || status == fiber.StatusConflict
}

// siteKit holds what every page of this area's templates calls: fields
// with an id of their own (a site's page has several forms, each with a
// "name"), and the time zones and currencies the fields suggest.
type siteKit struct{}

// siteFieldView is the "site-field" template's data: fieldView, with the
// element id its form's prefix makes unique and an optional datalist.
type siteFieldView struct {
	fieldView
	ID, List string
}

// Field is field (forms.go) for one of several forms on a page: prefix
// sets the ids ("room" gives "room-name"), list names a datalist.
func (siteKit) Field(f form, prefix, name, label, typ, hint, list string) siteFieldView {
	return siteFieldView{fieldView: field(f, name, label, typ, hint), ID: prefix + "-" + name, List: list}
}

// Zones are the time zones the forms suggest.
func (siteKit) Zones() []string { return siteZones }

// Currencies are the currencies the new-site form suggests: common ones
// written with two decimals, as pantry.Money shows amounts.
func (siteKit) Currencies() []string {
	return []string{"EUR", "USD", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "CAD", "AUD", "SGD"}
}

// sitesRow is a site as the list shows it.
type sitesRow struct {
	cloud.Site
	Rooms  int
	Nodes  int
	Health cloud.Health // the worst of its edge nodes, "" without one
	Reason string
}

type sitesPage struct {
	*view
	siteKit
	Rows []sitesRow
	Next string
}

func (a *app) handleSites(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Title, v.Nav = "Sites", "sites"
	p := v.principal()
	if err := p.Can(auth.ActionRead, ""); err != nil {
		return a.errorPage(c, v, err)
	}
	scope, err := p.Scope("")
	if err != nil {
		return a.errorPage(c, v, err)
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	sites, next, err := a.Sites.ListSites(ctx, p.OrgID, scope, cloud.Page{Limit: cloud.DefaultPageSize, Cursor: c.Query("cursor")})
	if err != nil {
		return a.errorPage(c, v, err)
	}
	ids := make([]string, len(sites))
	for i, s := range sites {
		ids[i] = s.ID
	}
	rooms, err := a.Sites.CountSpaces(ctx, p.OrgID, ids)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	// A site has one live node (enrolling another revokes the first), so
	// one page of nodes covers a page of sites.
	nodes, _, err := a.Nodes.ListNodes(ctx, p.OrgID, cloud.NodeFilter{SiteIDs: ids}, cloud.Page{Limit: cloud.MaxPageSize})
	if err != nil {
		return a.errorPage(c, v, err)
	}
	page := sitesPage{view: v, Next: next, Rows: make([]sitesRow, len(sites))}
	for i, s := range sites {
		page.Rows[i] = sitesRow{Site: s, Rooms: rooms[s.ID]}
	}
	now := a.Now()
	for _, n := range nodes {
		i := slices.IndexFunc(page.Rows, func(r sitesRow) bool { return r.ID == n.SiteID })
		if i < 0 {
			continue
		}
		r := &page.Rows[i]
		h, reason := cloud.NodeHealth(n, now, a.Version, a.NodeOfflineAfter)
		if r.Nodes++; r.Health == "" || h.Rank() < r.Health.Rank() {
			r.Health, r.Reason = h, reason
		}
	}
	return render(c, fiber.StatusOK, "sites.html", page)
}

type newSitePage struct {
	*view
	siteKit
	Form form
}

// handleNewSite shows the form that makes a site, to those who may.
func (a *app) handleNewSite(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Title, v.Nav = "New site", "sites"
	if err := v.principal().Can(auth.ActionWriteSite, ""); err != nil {
		return a.errorPage(c, v, err)
	}
	f := form{Values: map[string]string{"timezone": "Europe/Berlin", "currency": "EUR"}}
	return render(c, fiber.StatusOK, "site-new.html", newSitePage{view: v, Form: f})
}

// handleCreateSite makes a site: ActionWriteSite with "", as the API's
// POST /api/v1/sites asks (role.go).
func (a *app) handleCreateSite(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Title, v.Nav = "New site", "sites"
	p := v.principal()
	if err := p.Can(auth.ActionWriteSite, ""); err != nil {
		return a.errorPage(c, v, err)
	}
	f := newForm(c, "name", "timezone", "currency")
	ctx, cancel := a.ctx(c)
	defer cancel()
	s, err := a.Sites.CreateSite(ctx, p.OrgID, siteActor(p), cloud.SiteInput{
		Name: f.Value("name"), Timezone: f.Value("timezone"), Currency: strings.ToUpper(f.Value("currency")),
	})
	if err != nil {
		if status, ok := siteRefusal(err); ok {
			return render(c, status, "site-new.html", newSitePage{view: v, Form: f.refuse(err)})
		}
		return a.errorPage(c, v, err)
	}
	return a.done(c, "/sites/"+s.ID, "Site "+s.Name+" created. Add its rooms, then its menu.")
}
