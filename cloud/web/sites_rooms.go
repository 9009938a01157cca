package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
)

// Rooms: made from a site's page; each has a page of its own with its QR
// code, its settings, and the rotation of its code when a printed card
// leaks (the old card stops working, so the page asks first).

// handleCreateRoom adds a room to a site, as POST
// /api/v1/sites/:site_id/spaces does.
func (a *app) handleCreateRoom(c *fiber.Ctx) error {
	v := viewOf(c)
	p := v.principal()
	siteID := c.Params("site_id")
	if err := p.Can(auth.ActionWriteSite, siteID); err != nil {
		return a.errorPage(c, v, err)
	}
	f := newForm(c, "name", "floor")
	ctx, cancel := a.ctx(c)
	defer cancel()
	sp, err := a.Sites.CreateSpace(ctx, p.OrgID, siteActor(p), siteID, cloud.SpaceInput{Name: f.Value("name"), Floor: f.Value("floor")})
	if err != nil {
		if status, ok := siteRefusal(err); ok {
			return a.renderSite(c, v, status, siteForms{Room: f.refuse(err)})
		}
		return a.errorPage(c, v, err)
	}
	return a.done(c, "/sites/"+siteID+"#rooms", "Room "+sp.Name+" added. Print its QR code from the links above the rooms.")
}

type roomPage struct {
	*view
	siteKit
	Site cloud.Site
	Room siteRoom
	Form form
}

func (a *app) handleRoom(c *fiber.Ctx) error {
	return a.renderRoom(c, viewOf(c), fiber.StatusOK, form{})
}

// renderRoom shows the room the path names, with its settings form as
// given (empty: the room's own values).
func (a *app) renderRoom(c *fiber.Ctx, v *view, status int, f form) error {
	v.Title, v.Nav = "Room", "sites"
	p := v.principal()
	siteID := c.Params("site_id")
	if err := p.Can(auth.ActionRead, siteID); err != nil {
		return a.errorPage(c, v, err)
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	site, err := a.Sites.GetSite(ctx, p.OrgID, siteID)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	sp, err := a.Sites.GetSpace(ctx, p.OrgID, siteID, c.Params("space_id"))
	if err != nil {
		return a.errorPage(c, v, err)
	}
	if f.Values == nil {
		f.Values = map[string]string{"name": sp.Name, "floor": sp.Floor}
	}
	v.Title = sp.Name + " · " + site.Name
	return render(c, status, "site-room.html", roomPage{view: v, Site: site, Room: siteRoom{Space: sp, QRURL: a.roomURL(sp)}, Form: f})
}

// handleUpdateRoom saves a room's settings form (name, floor) or its
// archive form (archived=true|false), as PATCH
// /api/v1/sites/:site_id/spaces/:space_id does with the fields it is given.
func (a *app) handleUpdateRoom(c *fiber.Ctx) error {
	v := viewOf(c)
	p := v.principal()
	siteID := c.Params("site_id")
	if err := p.Can(auth.ActionWriteSite, siteID); err != nil {
		return a.errorPage(c, v, err)
	}
	var up cloud.SpaceUpdate
	f := newForm(c, "name", "floor")
	archived, archiving, err := archivedField(c)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	if archiving {
		up.Archived = &archived
	} else {
		name, floor := f.Value("name"), f.Value("floor")
		up.Name, up.Floor = &name, &floor
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	sp, err := a.Sites.UpdateSpace(ctx, p.OrgID, siteActor(p), siteID, c.Params("space_id"), up)
	if err != nil {
		if status, ok := siteRefusal(err); ok && !archiving {
			return a.renderRoom(c, v, status, f.refuse(err))
		}
		return a.errorPage(c, v, err)
	}
	msg := "Room saved."
	switch {
	case archiving && archived:
		msg = "Room " + sp.Name + " archived: its QR code no longer takes orders, and the sheets leave it out."
	case archiving:
		msg = "Room " + sp.Name + " restored: its QR code takes orders again."
	}
	return a.done(c, "/sites/"+siteID+"/rooms/"+sp.ID, msg)
}

// confirmPage asks once more before a change that cannot be taken back.
type confirmPage struct {
	*view
	Site     cloud.Site
	Question string   // the heading: "Rotate the QR code of Oslo?"
	Effects  []string // what happens, one sentence each
	Action   string   // where the form posts, with confirm=yes
	Button   string
	Back     string // where "Cancel" goes
}

// handleRotateRoom gives a room a new QR code, as POST
// /api/v1/sites/:site_id/spaces/:space_id/rotate-code does, once the
// person has confirmed: without confirm=yes it only asks.
func (a *app) handleRotateRoom(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Nav = "sites"
	p := v.principal()
	siteID, spaceID := c.Params("site_id"), c.Params("space_id")
	if err := p.Can(auth.ActionWriteSite, siteID); err != nil {
		return a.errorPage(c, v, err)
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	if c.FormValue("confirm") != "yes" {
		site, err := a.Sites.GetSite(ctx, p.OrgID, siteID)
		if err != nil {
			return a.errorPage(c, v, err)
		}
		sp, err := a.Sites.GetSpace(ctx, p.OrgID, siteID, spaceID)
		if err != nil {
			return a.errorPage(c, v, err)
		}
		v.Title = "Rotate the QR code of " + sp.Name
		back := "/sites/" + site.ID + "/rooms/" + sp.ID
		return render(c, fiber.StatusOK, "site-confirm.html", confirmPage{view: v, Site: site,
			Question: "Rotate the QR code of " + sp.Name + "?",
			Effects: []string{
				"The room gets a new QR code. The code printed on its table stops working as soon as the building's edge node has the change (within seconds when it is online): scanning it no longer opens the room's menu.",
				"Print the room's new code and replace the old card. Use this when a card was lost, photographed or taken away.",
			},
			Action: back + "/rotate", Button: "Rotate the QR code", Back: back})
	}
	sp, err := a.Sites.RotateSpaceCode(ctx, p.OrgID, siteActor(p), siteID, spaceID)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	return a.done(c, "/sites/"+siteID+"/rooms/"+sp.ID, "New QR code made for "+sp.Name+": the old card no longer works. Print the new one.")
}
