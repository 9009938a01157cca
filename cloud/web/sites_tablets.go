package web

import (
	"context"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/pantry"
)

// Staff tablets and edge-node enrollment: both make a secret that is
// shown once, on the page the form's POST answers, and never again (the
// cloud keeps only its hash). That page is not a redirect's target: a
// secret never travels in a cookie or a URL.

type tabletAddedPage struct {
	*view
	Site     cloud.Site
	Tablet   cloud.Tablet
	Password string
	StaffURL string
}

// handleCreateTablet makes a staff tablet's login, as POST
// /api/v1/sites/:site_id/tablets does, and shows its password once.
func (a *app) handleCreateTablet(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Nav = "sites"
	p := v.principal()
	siteID := c.Params("site_id")
	if err := p.Can(auth.ActionWriteSite, siteID); err != nil {
		return a.errorPage(c, v, err)
	}
	f := newForm(c, "name")
	ctx, cancel := a.ctx(c)
	defer cancel()
	t, password, err := a.Sites.CreateTablet(ctx, p.OrgID, siteActor(p), siteID, f.Value("name"))
	if err != nil {
		if status, ok := siteRefusal(err); ok {
			return a.renderSite(c, v, status, siteForms{Tablet: f.refuse(err)})
		}
		return a.errorPage(c, v, err)
	}
	site, err := a.Sites.GetSite(ctx, p.OrgID, siteID)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	v.Title = "Tablet " + t.Name + " added"
	return render(c, fiber.StatusCreated, "site-tablet.html", tabletAddedPage{view: v, Site: site, Tablet: t, Password: password,
		StaffURL: strings.TrimRight(a.QRBaseURL, "/") + "/staff"})
}

// handleRevokeTablet revokes a tablet's login, as DELETE
// /api/v1/sites/:site_id/tablets/:tablet_id does, once the person has
// confirmed: without confirm=yes it only asks.
func (a *app) handleRevokeTablet(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Nav = "sites"
	p := v.principal()
	siteID, tabletID := c.Params("site_id"), c.Params("tablet_id")
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
		t, err := a.findTablet(ctx, p.OrgID, siteID, tabletID)
		if err != nil {
			return a.errorPage(c, v, err)
		}
		v.Title = "Revoke tablet " + t.Name
		back := "/sites/" + site.ID + "#tablets"
		return render(c, fiber.StatusOK, "site-confirm.html", confirmPage{view: v, Site: site,
			Question: "Revoke tablet " + t.Name + " (" + t.Username + ")?",
			Effects: []string{
				"The tablet is signed out of the staff app and its password stops working as soon as the building's edge node has the change (within seconds when it is online).",
				"This cannot be undone: to use the tablet again, add it again and sign in with the new password.",
			},
			Action: "/sites/" + site.ID + "/tablets/" + t.ID + "/revoke", Button: "Revoke the tablet", Back: back})
	}
	t, err := a.Sites.RevokeTablet(ctx, p.OrgID, siteActor(p), siteID, tabletID)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	return a.done(c, "/sites/"+siteID+"#tablets", "Tablet "+t.Name+" revoked.")
}

// siteTabletPages bounds the pages of tablets findTablet reads.
const siteTabletPages = 20

// findTablet reads one tablet of a site: the service lists tablets
// (revoked ones too), it has no read of one.
func (a *app) findTablet(ctx context.Context, orgID, siteID, tabletID string) (cloud.Tablet, error) {
	cursor := ""
	for range siteTabletPages {
		tablets, next, err := a.Sites.ListTablets(ctx, orgID, siteID, cloud.Page{Limit: cloud.MaxPageSize, Cursor: cursor})
		if err != nil {
			return cloud.Tablet{}, err
		}
		for _, t := range tablets {
			if t.ID == tabletID {
				return t, nil
			}
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	return cloud.Tablet{}, pantry.Errorf(pantry.ENOTFOUND, "tablet %s not found", tabletID)
}

type enrollPage struct {
	*view
	Site    cloud.Site
	Token   cloud.EnrollmentToken
	Command string
	Expires string
	Replace bool // the site has a node the new one will replace
}

// handleCreateEnrollmentToken makes a one-time token for the site's edge
// node, as POST /api/v1/sites/:site_id/enrollment-tokens does, and shows
// the command a technician runs with it, once.
func (a *app) handleCreateEnrollmentToken(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Nav = "sites"
	p := v.principal()
	siteID := c.Params("site_id")
	if err := p.Can(auth.ActionEnrollNode, siteID); err != nil {
		return a.errorPage(c, v, err)
	}
	f := newForm(c, "ttl")
	ttl, err := siteTTLOf(f.Value("ttl"))
	if err != nil {
		return a.renderSite(c, v, fiber.StatusBadRequest, siteForms{Enroll: f.refuse(err)})
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	tok, err := a.Sync.CreateEnrollmentToken(ctx, p.OrgID, siteActor(p), siteID, ttl)
	if err != nil {
		if status, ok := siteRefusal(err); ok {
			return a.renderSite(c, v, status, siteForms{Enroll: f.refuse(err)})
		}
		return a.errorPage(c, v, err)
	}
	site, err := a.Sites.GetSite(ctx, p.OrgID, siteID)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	nodes, _, err := a.Nodes.ListNodes(ctx, p.OrgID, cloud.NodeFilter{SiteID: siteID}, cloud.Page{Limit: 1})
	if err != nil {
		return a.errorPage(c, v, err)
	}
	v.Title = "Enroll the edge node of " + site.Name
	cmd := "pantry edge init --cloud " + shellWord(c.BaseURL()) + " --token " + shellWord(tok.Token)
	return render(c, fiber.StatusCreated, "site-enroll.html", enrollPage{view: v, Site: site, Token: tok, Command: cmd,
		Expires: zoneTime(tok.ExpiresAt, site.Timezone), Replace: len(nodes) > 0})
}

// shellWord quotes s for a POSIX shell unless it is plainly one word (a
// URL or a token almost always is).
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@+=,%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
