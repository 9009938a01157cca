package api

import (
	"context"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/httpx"
)

func (a *app) handleListSites(c *fiber.Ctx) error {
	return listPage(a, c, "sites", auth.ActionRead, "", func(ctx context.Context, p auth.Principal, pg cloud.Page) ([]cloud.Site, string, error) {
		sites, all := p.Sites()
		if all {
			sites = nil
		}
		return a.Sites.ListSites(ctx, p.OrgID, sites, pg)
	})
}

func (a *app) handleCreateSite(c *fiber.Ctx) error {
	var req struct {
		Name     string `json:"name"`
		Timezone string `json:"timezone"`
		Currency string `json:"currency"`
	}
	if err := httpx.DecodeJSON(c.Body(), &req); err != nil {
		return err
	}
	p, err := can(c, auth.ActionWriteSite, "") // with "": create a site (role.go)
	if err != nil {
		return err
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	s, err := a.Sites.CreateSite(ctx, p.OrgID, actor(p), cloud.SiteInput{Name: req.Name, Timezone: req.Timezone, Currency: req.Currency})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(s)
}

func (a *app) handleGetSite(c *fiber.Ctx) error {
	site := c.Params("site_id")
	p, err := can(c, auth.ActionRead, site)
	if err != nil {
		return err
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	s, err := a.Sites.GetSite(ctx, p.OrgID, site)
	if err != nil {
		return err
	}
	return c.JSON(s)
}

func (a *app) handleUpdateSite(c *fiber.Ctx) error {
	var req struct {
		Name     *string `json:"name"`
		Timezone *string `json:"timezone"`
		Archived *bool   `json:"archived"`
	}
	if err := httpx.DecodeJSON(c.Body(), &req); err != nil {
		return err
	}
	site := c.Params("site_id")
	p, err := can(c, auth.ActionWriteSite, site)
	if err != nil {
		return err
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	s, err := a.Sites.UpdateSite(ctx, p.OrgID, actor(p), site, cloud.SiteUpdate{Name: req.Name, Timezone: req.Timezone, Archived: req.Archived})
	if err != nil {
		return err
	}
	return c.JSON(s)
}

// space is a room as the API shows it: with the URL its QR code encodes.
type space struct {
	cloud.Space
	QRURL string `json:"qr_url"`
}

func (a *app) withQR(s cloud.Space) space {
	return space{Space: s, QRURL: strings.TrimRight(a.QRBaseURL, "/") + "/q/" + s.Code}
}

func (a *app) handleListSpaces(c *fiber.Ctx) error {
	site := c.Params("site_id")
	return listPage(a, c, "spaces", auth.ActionRead, site, func(ctx context.Context, p auth.Principal, pg cloud.Page) ([]space, string, error) {
		spaces, next, err := a.Sites.ListSpaces(ctx, p.OrgID, site, pg)
		out := make([]space, len(spaces))
		for i, s := range spaces {
			out[i] = a.withQR(s)
		}
		return out, next, err
	})
}

func (a *app) handleCreateSpace(c *fiber.Ctx) error {
	var req struct {
		Name  string `json:"name"`
		Floor string `json:"floor"`
	}
	if err := httpx.DecodeJSON(c.Body(), &req); err != nil {
		return err
	}
	site := c.Params("site_id")
	p, err := can(c, auth.ActionWriteSite, site)
	if err != nil {
		return err
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	s, err := a.Sites.CreateSpace(ctx, p.OrgID, actor(p), site, cloud.SpaceInput{Name: req.Name, Floor: req.Floor})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(a.withQR(s))
}

func (a *app) handleGetSpace(c *fiber.Ctx) error {
	site := c.Params("site_id")
	p, err := can(c, auth.ActionRead, site)
	if err != nil {
		return err
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	s, err := a.Sites.GetSpace(ctx, p.OrgID, site, c.Params("space_id"))
	if err != nil {
		return err
	}
	return c.JSON(a.withQR(s))
}

func (a *app) handleUpdateSpace(c *fiber.Ctx) error {
	var req struct {
		Name     *string `json:"name"`
		Floor    *string `json:"floor"`
		Archived *bool   `json:"archived"`
	}
	if err := httpx.DecodeJSON(c.Body(), &req); err != nil {
		return err
	}
	site := c.Params("site_id")
	p, err := can(c, auth.ActionWriteSite, site)
	if err != nil {
		return err
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	s, err := a.Sites.UpdateSpace(ctx, p.OrgID, actor(p), site, c.Params("space_id"), cloud.SpaceUpdate{Name: req.Name, Floor: req.Floor, Archived: req.Archived})
	if err != nil {
		return err
	}
	return c.JSON(a.withQR(s))
}

// handleRotateSpaceCode gives a room a new QR code (a card leaked or was
// photographed); the old code stops working once the edge pulls the change.
func (a *app) handleRotateSpaceCode(c *fiber.Ctx) error {
	site := c.Params("site_id")
	p, err := can(c, auth.ActionWriteSite, site)
	if err != nil {
		return err
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	s, err := a.Sites.RotateSpaceCode(ctx, p.OrgID, actor(p), site, c.Params("space_id"))
	if err != nil {
		return err
	}
	return c.JSON(a.withQR(s))
}
