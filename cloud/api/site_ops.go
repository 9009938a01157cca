package api

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/httpx"
)

func (a *app) handleGetMenu(c *fiber.Ctx) error {
	site := c.Params("site_id")
	p, err := can(c, auth.ActionRead, site)
	if err != nil {
		return err
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	m, err := a.Catalog.GetMenu(ctx, p.OrgID, site)
	if err != nil {
		return err
	}
	return c.JSON(m)
}

// handlePutMenu replaces a site's menu: which items it sells, whether each
// is available, and at what price when it differs from the item's own.
func (a *app) handlePutMenu(c *fiber.Ctx) error {
	var req struct {
		Items []cloud.MenuEntry `json:"items"`
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
	m, err := a.Catalog.PutMenu(ctx, p.OrgID, actor(p), site, req.Items)
	if err != nil {
		return err
	}
	return c.JSON(m)
}

func (a *app) handleStockLevels(c *fiber.Ctx) error {
	site := c.Params("site_id")
	p, err := can(c, auth.ActionRead, site)
	if err != nil {
		return err
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	levels, err := a.Stock.StockLevels(ctx, p.OrgID, site)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": levels})
}

func (a *app) handleListStockMovements(c *fiber.Ctx) error {
	site := c.Params("site_id")
	return listPage(a, c, "movements", auth.ActionRead, site, func(ctx context.Context, p auth.Principal, pg cloud.Page) ([]cloud.StockMovement, string, error) {
		return a.Stock.ListStockMovements(ctx, p.OrgID, site, c.Query("item_id"), pg)
	})
}

// handleCreateStockMovement records a delivery, waste or a count made in
// the cloud; it reaches the site's edge with the next pull.
func (a *app) handleCreateStockMovement(c *fiber.Ctx) error {
	var req struct {
		ItemID string `json:"item_id"`
		Delta  int64  `json:"delta"`
		Reason string `json:"reason"`
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
	m, err := a.Stock.RecordStockMovement(ctx, p.OrgID, actor(p), site, req.ItemID, req.Delta, req.Reason)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(m)
}

func (a *app) handleListTablets(c *fiber.Ctx) error {
	site := c.Params("site_id")
	return listPage(a, c, "tablets", auth.ActionRead, site, func(ctx context.Context, p auth.Principal, pg cloud.Page) ([]cloud.Tablet, string, error) {
		return a.Sites.ListTablets(ctx, p.OrgID, site, pg)
	})
}

// handleCreateTablet makes a staff tablet's login and shows its password
// this once; only a bcrypt hash is kept.
func (a *app) handleCreateTablet(c *fiber.Ctx) error {
	var req struct {
		Name string `json:"name"`
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
	t, password, err := a.Sites.CreateTablet(ctx, p.OrgID, actor(p), site, req.Name)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(struct {
		cloud.Tablet
		Password string `json:"password"`
	}{t, password})
}

func (a *app) handleRevokeTablet(c *fiber.Ctx) error {
	site := c.Params("site_id")
	p, err := can(c, auth.ActionWriteSite, site)
	if err != nil {
		return err
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	t, err := a.Sites.RevokeTablet(ctx, p.OrgID, actor(p), site, c.Params("tablet_id"))
	if err != nil {
		return err
	}
	return c.JSON(t)
}
