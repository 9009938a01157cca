package web

import (
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/httpx"
	"github.com/pantry/pantry/internal/pantry"
)

// Live orders: the organization's latest orders, filtered by site and
// status, kept current by static/dashboard.js over Server-Sent Events
// (orders_live.go); and one order's page with its lines, payment and
// history.

type ordersPage struct {
	*view
	Orders       []pantry.Order
	Sites        []cloud.Site
	SiteNames    map[string]string
	Site, Status string
	Statuses     []string
	Next         string
	Now          timeNow
	zones        map[string]*time.Location
}

// orderStatuses are the status filter's choices.
var orderStatuses = []string{cloud.StatusOpen, string(pantry.StatusPlaced), string(pantry.StatusAccepted),
	string(pantry.StatusPreparing), string(pantry.StatusReady), string(pantry.StatusDelivered), string(pantry.StatusCancelled)}

func (a *app) handleOrders(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Title, v.Nav = "Live orders", "orders"
	p := v.principal()
	if err := p.Can(auth.ActionRead, ""); err != nil {
		return a.errorPage(c, v, err)
	}
	site, status := c.Query("site"), c.Query("status")
	scope, err := p.Scope(site)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	if status != "" && !slices.Contains(orderStatuses, status) {
		return a.errorPage(c, v, pantry.Errorf(pantry.EINVALID, "unknown status %q", status))
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	orders, next, err := a.Orders.ListOrders(ctx, p.OrgID, cloud.OrderFilter{SiteIDs: scope, SiteID: site, Status: status},
		cloud.Page{Limit: cloud.DefaultPageSize, Cursor: c.Query("cursor")})
	if err != nil {
		return a.errorPage(c, v, err)
	}
	sites, _, err := a.Sites.ListSites(ctx, p.OrgID, scope, cloud.Page{Limit: cloud.MaxPageSize})
	if err != nil {
		return a.errorPage(c, v, err)
	}
	names := map[string]string{}
	for _, s := range sites {
		names[s.ID] = s.Name
	}
	return render(c, fiber.StatusOK, "orders.html", ordersPage{view: v, Orders: orders, Sites: sites, SiteNames: names,
		Site: site, Status: status, Statuses: orderStatuses, Next: next, Now: timeNow{a.Now()}, zones: zones(sites)})
}

type orderPage struct {
	*view
	Order    cloud.OrderDetail
	SiteName string
}

func (a *app) handleOrder(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Title, v.Nav = "Order", "orders"
	p := v.principal()
	if err := p.Can(auth.ActionRead, ""); err != nil {
		return a.errorPage(c, v, err)
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	o, err := a.Orders.GetOrder(ctx, p.OrgID, c.Params("order_id"))
	if err == nil && !p.CanSeeSite(o.SiteID) {
		err = pantry.Errorf(pantry.ENOTFOUND, "order %s not found", c.Params("order_id"))
	}
	if err != nil {
		return a.errorPage(c, v, err)
	}
	page := orderPage{view: v, Order: o}
	if s, err := a.Sites.GetSite(ctx, p.OrgID, o.SiteID); err == nil {
		page.SiteName = s.Name
	}
	v.Title = "Order in " + o.SpaceName
	return render(c, fiber.StatusOK, "order.html", page)
}

// orderRow is an order as the live list shows it; the same template
// renders the rows of the page and the rows the live updates fetch.
type orderRow struct {
	ID                        string
	Status                    pantry.OrderStatus
	Placed, Site, Room, Total string
	Paid                      string
}

// Row lays out o for the list.
func (p ordersPage) Row(o pantry.Order) orderRow {
	paid := "Complimentary"
	if o.Payment == pantry.PayCostCenter {
		paid = "Cost center " + o.CostCenter
	}
	return orderRow{ID: o.ID, Status: o.Status, Placed: placedText(p.Now.Time, o.CreatedAt, p.zones[o.SiteID]), Site: p.SiteNames[o.SiteID],
		Room: o.SpaceName, Total: o.Total.String(), Paid: paid}
}

// placedText says when an order was placed, on its building's clock
// (UTC if the zone is unknown): the time today, else the date too.
func placedText(now, t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	t, now = t.In(loc), now.In(loc)
	if y, m, d := now.Date(); t.Year() == y && t.Month() == m && t.Day() == d {
		return t.Format("15:04:05")
	}
	return t.Format("2 Jan 15:04")
}

// zones loads the sites' time zones, by site id.
func zones(sites []cloud.Site) map[string]*time.Location {
	out := make(map[string]*time.Location, len(sites))
	for _, s := range sites {
		if loc, err := time.LoadLocation(s.Timezone); err == nil {
			out[s.ID] = loc
		}
	}
	return out
}

// handleOrderRow renders one order's row of the live list, for the
// script to add or replace: the server lays rows out, the script never.
func (a *app) handleOrderRow(c *fiber.Ctx) error {
	v := viewOf(c)
	p := v.principal()
	ctx, cancel := a.ctx(c)
	defer cancel()
	o, err := a.Orders.GetOrder(ctx, p.OrgID, c.Params("order_id"))
	if err == nil && !p.CanSeeSite(o.SiteID) {
		err = pantry.Errorf(pantry.ENOTFOUND, "order %s not found", c.Params("order_id"))
	}
	if err != nil {
		status, _ := httpx.Resolve(err)
		return c.Status(status).SendString(pantry.ErrorMessage(err))
	}
	s, err := a.Sites.GetSite(ctx, p.OrgID, o.SiteID)
	if err != nil {
		return err
	}
	page := ordersPage{view: v, SiteNames: map[string]string{s.ID: s.Name}, Now: timeNow{a.Now()}, zones: zones([]cloud.Site{s})}
	return render(c, fiber.StatusOK, "order-row", page.Row(o.Order))
}
