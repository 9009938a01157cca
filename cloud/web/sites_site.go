package web

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/pantry"
)

// A site's page: its rooms and where to print their codes, a summary of
// its menu, its tablets, its edge node and how to enroll one, and its
// settings. Each section's form posts to its own route; a refused form
// comes back on this page, with the error next to its field.

// siteForms are the forms of a site's page as they show: empty, or as
// posted and refused.
type siteForms struct {
	Edit, Room, Tablet, Enroll form
}

// siteRoom is a room with the URL its QR code encodes.
type siteRoom struct {
	cloud.Space
	QRURL string
}

// siteFloor is a floor with rooms, for its own QR sheet.
type siteFloor struct {
	Floor string
	Label string // "Floor 3", "Mezzanine"
	Rooms int
}

type sitePage struct {
	*view
	siteKit
	siteForms
	Site      cloud.Site
	Rooms     []siteRoom
	Floors    []siteFloor
	Live      int // rooms not archived: what a sheet prints
	MenuItems int
	Available int
	Tablets   []cloud.Tablet
	Nodes     []fleetRow
	TTLs      []siteTTL
	Now       timeNow
}

func (a *app) handleSite(c *fiber.Ctx) error {
	return a.renderSite(c, viewOf(c), fiber.StatusOK, siteForms{})
}

// renderSite shows the site the path names with forms as given (a form
// with no values shows empty, the settings form with the site's own).
func (a *app) renderSite(c *fiber.Ctx, v *view, status int, forms siteForms) error {
	v.Title, v.Nav = "Site", "sites"
	p := v.principal()
	siteID := c.Params("site_id")
	if err := p.Can(auth.ActionRead, siteID); err != nil {
		return a.errorPage(c, v, err)
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	page, err := a.loadSitePage(ctx, p, siteID)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	page.view, page.siteForms = v, forms
	if page.Edit.Values == nil {
		page.Edit.Values = map[string]string{"name": page.Site.Name, "timezone": page.Site.Timezone}
	}
	if page.Enroll.Values == nil {
		page.Enroll.Values = map[string]string{"ttl": siteTTLs[1].Value}
	}
	v.Title = page.Site.Name
	return render(c, status, "site.html", page)
}

// loadSitePage reads what a site's page shows, with the reads the API's
// GET handlers of each make.
func (a *app) loadSitePage(ctx context.Context, p auth.Principal, siteID string) (sitePage, error) {
	site, err := a.Sites.GetSite(ctx, p.OrgID, siteID)
	if err != nil {
		return sitePage{}, err
	}
	rooms, err := a.siteRooms(ctx, p.OrgID, site.ID)
	if err != nil {
		return sitePage{}, err
	}
	menu, err := a.Catalog.GetMenu(ctx, p.OrgID, site.ID)
	if err != nil {
		return sitePage{}, err
	}
	tablets, _, err := a.Sites.ListTablets(ctx, p.OrgID, site.ID, cloud.Page{Limit: cloud.MaxPageSize})
	if err != nil {
		return sitePage{}, err
	}
	nodes, _, err := a.Nodes.ListNodes(ctx, p.OrgID, cloud.NodeFilter{SiteID: site.ID}, cloud.Page{Limit: cloud.DefaultPageSize})
	if err != nil {
		return sitePage{}, err
	}
	now := a.Now()
	page := sitePage{Site: site, Rooms: rooms, Tablets: tablets, TTLs: siteTTLs, Now: timeNow{now}, MenuItems: len(menu.Items)}
	for _, it := range menu.Items {
		if it.Available {
			page.Available++
		}
	}
	for _, n := range nodes {
		h, reason := cloud.NodeHealth(n, now, a.Version, a.NodeOfflineAfter)
		page.Nodes = append(page.Nodes, fleetRow{NodeStatus: n, SiteName: site.Name, Health: h, Reason: reason})
	}
	page.Floors, page.Live = siteFloors(rooms)
	return page, nil
}

// siteRoomsMax bounds the rooms a page or a sheet reads: 40 pages of the
// largest size, far beyond any building.
const siteRoomsMax = 40

// siteRooms reads every room of a site, by floor then name.
func (a *app) siteRooms(ctx context.Context, orgID, siteID string) ([]siteRoom, error) {
	var rooms []siteRoom
	cursor := ""
	for range siteRoomsMax {
		spaces, next, err := a.Sites.ListSpaces(ctx, orgID, siteID, cloud.Page{Limit: cloud.MaxPageSize, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		for _, sp := range spaces {
			rooms = append(rooms, siteRoom{Space: sp, QRURL: a.roomURL(sp)})
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	slices.SortFunc(rooms, func(x, y siteRoom) int {
		return cmp.Or(compareFloor(x.Floor, y.Floor), cmp.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name)), cmp.Compare(x.ID, y.ID))
	})
	return rooms, nil
}

// roomURL is what a room's QR code encodes: the API's qr_url
// (cloud/api sites.go withQR), which the tests hold the two to.
func (a *app) roomURL(sp cloud.Space) string {
	return strings.TrimRight(a.QRBaseURL, "/") + "/q/" + sp.Code
}

// compareFloor orders floors as the printed sheets do: numbers by value
// ("2" before "10"), then named floors, the empty floor last.
func compareFloor(x, y string) int {
	switch {
	case x == y:
		return 0
	case x == "":
		return 1
	case y == "":
		return -1
	}
	nx, errx := strconv.Atoi(x)
	ny, erry := strconv.Atoi(y)
	switch {
	case errx == nil && erry == nil:
		return cmp.Compare(nx, ny)
	case errx == nil:
		return -1
	case erry == nil:
		return 1
	}
	return cmp.Compare(strings.ToLower(x), strings.ToLower(y))
}

// siteFloors lists the floors that have rooms in use, and counts those
// rooms: the sheets print them, archived rooms no longer scan.
func siteFloors(rooms []siteRoom) ([]siteFloor, int) {
	var floors []siteFloor
	live := 0
	for _, r := range rooms {
		if r.ArchivedAt != nil {
			continue
		}
		live++
		if r.Floor == "" {
			continue
		}
		if i := slices.IndexFunc(floors, func(f siteFloor) bool { return f.Floor == r.Floor }); i >= 0 {
			floors[i].Rooms++
			continue
		}
		floors = append(floors, siteFloor{Floor: r.Floor, Label: floorText(r.Floor), Rooms: 1})
	}
	return floors, live
}

// floorText names a floor as the printed sheets do: "Floor 3" for a
// number, the floor's own name ("Mezzanine") otherwise.
func floorText(floor string) string {
	n := strings.TrimPrefix(floor, "-")
	if n != "" && strings.Trim(n, "0123456789") == "" {
		return "Floor " + floor
	}
	return floor
}

// handleUpdateSite saves the settings form (name, time zone) or the
// archive form (archived=true|false), as the API's PATCH does with the
// fields it is given.
func (a *app) handleUpdateSite(c *fiber.Ctx) error {
	v := viewOf(c)
	p := v.principal()
	siteID := c.Params("site_id")
	if err := p.Can(auth.ActionWriteSite, siteID); err != nil {
		return a.errorPage(c, v, err)
	}
	var up cloud.SiteUpdate
	f := newForm(c, "name", "timezone")
	archived, archiving, err := archivedField(c)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	if archiving {
		up.Archived = &archived
	} else {
		name, tz := f.Value("name"), f.Value("timezone")
		up.Name, up.Timezone = &name, &tz
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	s, err := a.Sites.UpdateSite(ctx, p.OrgID, siteActor(p), siteID, up)
	if err != nil {
		if status, ok := siteRefusal(err); ok && !archiving {
			return a.renderSite(c, v, status, siteForms{Edit: f.refuse(err)})
		}
		return a.errorPage(c, v, err)
	}
	msg := "Site saved."
	switch {
	case archiving && archived:
		msg = "Site " + s.Name + " archived: no edge node can enroll here until you restore it."
	case archiving:
		msg = "Site " + s.Name + " restored."
	}
	return a.done(c, "/sites/"+s.ID, msg)
}

// archivedField reads the archive forms' field: archived=true or false,
// or none (another form).
func archivedField(c *fiber.Ctx) (archived, present bool, err error) {
	switch c.FormValue("archived") {
	case "":
		return false, false, nil
	case "true":
		return true, true, nil
	case "false":
		return false, true, nil
	}
	return false, false, pantry.Errorf(pantry.EINVALID, "archived must be true or false")
}

// siteTTL is a choice of how long an enrollment token lives.
type siteTTL struct {
	Value, Label string
	TTL          time.Duration
}

// siteTTLs are the lifetimes the enrollment form offers, the API's
// default (a day) second.
var siteTTLs = []siteTTL{
	{"1h", "1 hour", time.Hour},
	{"24h", "1 day", cloud.DefaultEnrollmentTTL},
	{"168h", "7 days", cloud.MaxEnrollmentTTL},
}

// siteTTLOf reads the enrollment form's choice.
func siteTTLOf(value string) (time.Duration, error) {
	for _, t := range siteTTLs {
		if t.Value == value {
			return t.TTL, nil
		}
	}
	return 0, pantry.Errorf(pantry.EINVALID, "ttl %q is not one of the choices: choose 1 hour, 1 day or 7 days", value)
}

// zoneTime is t on the site's clock with its zone's name, and in UTC:
// "2025-06-02 14:00 Europe/Berlin (12:00 UTC)".
func zoneTime(t time.Time, zone string) string {
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "UTC" {
		return t.UTC().Format("2006-01-02 15:04") + " UTC"
	}
	return fmt.Sprintf("%s %s (%s UTC)", t.In(loc).Format("2006-01-02 15:04"), zone, t.UTC().Format("15:04"))
}
