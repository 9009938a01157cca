package web

import (
	"cmp"
	"context"
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/pantry"
)

// Stock: a site's levels (the sum of its ledger), low items first, with
// each item's par level and what it takes to bring it up to par; the
// par levels' form (stock_par.go), the restock list to print or download
// (stock_restock.go), and the ledger's history with a form to record a
// delivery, waste or a count (stock_movements.go). Every page asks what
// the API's stock handlers ask: ActionRead at the site to read,
// ActionWriteSite at the site to change anything.

// stockRoutes lists this area's pages.
func (a *app) stockRoutes(page pageFunc) {
	page(fiber.MethodGet, "/stock", a.handleStock)
	page(fiber.MethodGet, "/stock/:site_id/par", a.handleParForm)
	page(fiber.MethodPost, "/stock/:site_id/par", a.handleSetParLevels)
	page(fiber.MethodGet, "/stock/:site_id/restock", a.handleRestock)
	page(fiber.MethodGet, "/stock/:site_id/restock.csv", a.handleRestockCSV)
	page(fiber.MethodGet, "/stock/:site_id/movements", a.handleMovements)
	page(fiber.MethodPost, "/stock/:site_id/movements", a.handleRecordMovement)
}

// stockRow is an item's stock at a site as the stock page shows it.
type stockRow struct {
	pantry.StockLevel
	Par    int64
	HasPar bool
	// Bring is par − level when that is positive: what a restock brings.
	Bring int64
}

type stockPage struct {
	*view
	Sites []cloud.Site
	Site  cloud.Site
	Rows  []stockRow
	Low   int // items at or below their low-stock threshold
	Below int // items below their par level
}

func (a *app) handleStock(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Title, v.Nav = "Stock", "stock"
	p := v.principal()
	if err := p.Can(auth.ActionRead, ""); err != nil {
		return a.errorPage(c, v, err)
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	sites, err := a.visibleSitesByName(ctx, p)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	page := stockPage{view: v, Sites: sites}
	siteID := c.Query("site")
	if siteID == "" {
		if len(sites) == 0 {
			return render(c, fiber.StatusOK, "stock.html", page)
		}
		siteID = sites[0].ID
	}
	if page.Site, err = a.stockSite(ctx, p, auth.ActionRead, siteID); err != nil {
		return a.errorPage(c, v, err)
	}
	if page.Rows, err = a.stockRows(ctx, p.OrgID, page.Site.ID); err != nil {
		return a.errorPage(c, v, err)
	}
	lowFirst(page.Rows)
	for _, r := range page.Rows {
		if r.Low {
			page.Low++
		}
		if r.Bring > 0 {
			page.Below++
		}
	}
	v.Title = "Stock at " + page.Site.Name
	return render(c, fiber.StatusOK, "stock.html", page)
}

// stockSite returns site siteID if p may do action there: ENOTFOUND for a
// site p cannot see (another organization's, or a facility manager's
// other sites), EFORBIDDEN for one p sees but may not change.
func (a *app) stockSite(ctx context.Context, p auth.Principal, action auth.Action, siteID string) (cloud.Site, error) {
	if err := p.Can(action, siteID); err != nil {
		return cloud.Site{}, err
	}
	return a.Sites.GetSite(ctx, p.OrgID, siteID)
}

// visibleSitesByName lists the sites p may see, by name.
func (a *app) visibleSitesByName(ctx context.Context, p auth.Principal) ([]cloud.Site, error) {
	scope, err := p.Scope("")
	if err != nil {
		return nil, err
	}
	sites, _, err := a.Sites.ListSites(ctx, p.OrgID, scope, cloud.Page{Limit: cloud.MaxPageSize})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(sites, func(x, y cloud.Site) int { return cmp.Compare(x.Name, y.Name) })
	return sites, nil
}

// stockRows reads a site's levels with their par levels, by item name
// (the store's order).
func (a *app) stockRows(ctx context.Context, orgID, siteID string) ([]stockRow, error) {
	levels, err := a.Stock.StockLevels(ctx, orgID, siteID)
	if err != nil {
		return nil, err
	}
	pars, err := a.Stock.ParLevels(ctx, orgID, siteID)
	if err != nil {
		return nil, err
	}
	par := make(map[string]int64, len(pars))
	for _, l := range pars {
		par[l.ItemID] = l.Par
	}
	rows := make([]stockRow, len(levels))
	for i, l := range levels {
		rows[i] = stockRow{StockLevel: l}
		if n, ok := par[l.ItemID]; ok {
			rows[i].Par, rows[i].HasPar = n, true
			rows[i].Bring = max(n-l.Level, 0)
		}
	}
	return rows, nil
}

// lowFirst orders rows with the low items first, each group staying in
// its order.
func lowFirst(rows []stockRow) {
	slices.SortStableFunc(rows, func(x, y stockRow) int {
		switch {
		case x.Low == y.Low:
			return 0
		case x.Low:
			return -1
		}
		return 1
	})
}

// stockActor is the signed-in person as the audit log records them.
func stockActor(v *view) cloud.Actor { return cloud.Actor{Type: "user", ID: v.Session.UserID} }
