package api

import (
	"bytes"
	"context"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/pantry"
)

// timeRange reads ?from= and ?to= (RFC 3339; from inclusive, to exclusive).
func timeRange(c *fiber.Ctx) (from, to time.Time, err error) {
	parse := func(name string) (time.Time, error) {
		v := c.Query(name)
		if v == "" {
			return time.Time{}, nil
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return t, pantry.Errorf(pantry.EINVALID, "%s must be an RFC 3339 time, e.g. 2026-11-25T00:00:00Z", name)
		}
		return t, nil
	}
	if from, err = parse("from"); err != nil {
		return
	}
	to, err = parse("to")
	return
}

// siteScope is the sites a principal may read, narrowed to ?site_id= if
// given: nil means every site. A site the principal cannot see is the
// same 404 as one that does not exist.
func siteScope(c *fiber.Ctx, p auth.Principal) (scope []string, site string, err error) {
	site = c.Query("site_id")
	scope, err = p.Scope(site)
	return scope, site, err
}

func (a *app) handleListOrders(c *fiber.Ctx) error {
	return listPage(a, c, "orders", auth.ActionRead, "", func(ctx context.Context, p auth.Principal, pg cloud.Page) ([]pantry.Order, string, error) {
		scope, site, err := siteScope(c, p)
		if err != nil {
			return nil, "", err
		}
		from, to, err := timeRange(c)
		if err != nil {
			return nil, "", err
		}
		f := cloud.OrderFilter{SiteIDs: scope, SiteID: site, SpaceID: c.Query("space_id"), Status: c.Query("status"), From: from, To: to}
		return a.Orders.ListOrders(ctx, p.OrgID, f, pg)
	})
}

func (a *app) handleGetOrder(c *fiber.Ctx) error {
	p, err := can(c, auth.ActionRead, "")
	if err != nil {
		return err
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	o, err := a.Orders.GetOrder(ctx, p.OrgID, c.Params("order_id"))
	if err != nil {
		return err
	}
	if !p.CanSeeSite(o.SiteID) {
		return pantry.Errorf(pantry.ENOTFOUND, "order %s not found", o.ID)
	}
	return c.JSON(o)
}

func (a *app) handleListPayments(c *fiber.Ctx) error {
	return listPage(a, c, "payments", auth.ActionRead, "", func(ctx context.Context, p auth.Principal, pg cloud.Page) ([]pantry.Payment, string, error) {
		scope, site, err := siteScope(c, p)
		if err != nil {
			return nil, "", err
		}
		from, to, err := timeRange(c)
		if err != nil {
			return nil, "", err
		}
		return a.Orders.ListPayments(ctx, p.OrgID, cloud.PaymentFilter{SiteIDs: scope, SiteID: site, From: from, To: to, Method: c.Query("method")}, pg)
	})
}

func (a *app) handleListAudit(c *fiber.Ctx) error {
	return listPage(a, c, "entries", auth.ActionReadAudit, "", func(ctx context.Context, p auth.Principal, pg cloud.Page) ([]cloud.AuditEntry, string, error) {
		from, to, err := timeRange(c)
		if err != nil {
			return nil, "", err
		}
		f := cloud.AuditFilter{Resource: c.Query("resource"), ResourceID: c.Query("resource_id"), ActorID: c.Query("actor_id"), From: from, To: to}
		return a.Audit.ListAudit(ctx, p.OrgID, f, pg)
	})
}

// handleConsumptionReport answers JSON, or CSV for Accept: text/csv.
func (a *app) handleConsumptionReport(c *fiber.Ctx) error {
	p, err := can(c, auth.ActionRead, "")
	if err != nil {
		return err
	}
	scope, site, err := siteScope(c, p)
	if err != nil {
		return err
	}
	if site != "" {
		scope = []string{site}
	}
	from, to, err := timeRange(c)
	if err != nil {
		return err
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	rows, err := a.Orders.Consumption(ctx, p.OrgID, cloud.ReportFilter{SiteIDs: scope, From: from, To: to, GroupBy: c.Query("group_by", "site")})
	if err != nil {
		return err
	}
	if strings.Contains(c.Get(fiber.HeaderAccept), "text/csv") {
		var buf bytes.Buffer
		if err := cloud.WriteCSV(&buf, rows); err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="consumption.csv"`)
		return c.Send(buf.Bytes())
	}
	if rows == nil {
		rows = []cloud.ReportRow{}
	}
	return c.JSON(fiber.Map{"rows": rows})
}
