package web

import (
	"bytes"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/pantry"
)

// The report's downloads: the same rows as the page, in the API's CSV
// (cloud.WriteCSV), and the charge-back file per cost center
// (cloud.WriteChargebackCSV). Both take the page's parameters; a bad one
// is an error page, as a link to a file cannot show a form.

func (a *app) handleConsumptionCSV(c *fiber.Ctx) error {
	return a.reportCSV(c, "", func(q reportQuery, rows []cloud.ReportRow) (string, []byte, error) {
		var buf bytes.Buffer
		err := cloud.WriteCSV(&buf, rows)
		return "consumption-" + q.GroupBy + "-" + q.First.Format(time.DateOnly) + "-" + q.Last.Format(time.DateOnly) + ".csv", buf.Bytes(), err
	})
}

// handleChargebackCSV sends what each cost center is to be charged over
// the period, for finance to import.
func (a *app) handleChargebackCSV(c *fiber.Ctx) error {
	return a.reportCSV(c, cloud.GroupByCostCenter, func(q reportQuery, rows []cloud.ReportRow) (string, []byte, error) {
		var buf bytes.Buffer
		err := cloud.WriteChargebackCSV(&buf, rows, q.First, q.Last)
		return "chargeback-" + q.First.Format(time.DateOnly) + "-" + q.Last.Format(time.DateOnly) + ".csv", buf.Bytes(), err
	})
}

// reportCSV runs the report the request asks for (grouped by groupBy if
// not "") and sends what write makes of it as a CSV attachment.
func (a *app) reportCSV(c *fiber.Ctx, groupBy string, write func(reportQuery, []cloud.ReportRow) (string, []byte, error)) error {
	v := viewOf(c)
	v.Title, v.Nav = "Reports", "reports"
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
	q, f, err := a.readReportQuery(ctx, c, p, sites)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	if groupBy != "" {
		q.GroupBy = groupBy
		delete(f.Errors, "group_by")
	}
	for _, name := range []string{"from", "to", "group_by"} {
		if msg := f.Err(name); msg != "" {
			return a.errorPage(c, v, pantry.Errorf(pantry.EINVALID, "%s: %s", title(name), msg))
		}
	}
	rows, err := a.Orders.Consumption(ctx, p.OrgID, cloud.ReportFilter{SiteIDs: q.Scope, From: q.From, To: q.To, GroupBy: q.GroupBy})
	if err != nil {
		return a.errorPage(c, v, err)
	}
	name, body, err := write(q, rows)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	return sendAttachmentCSV(c, name, body)
}
