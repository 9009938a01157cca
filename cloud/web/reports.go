package web

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/pantry"
)

// Reports: consumption and spend over a range of days, grouped by site,
// room, cost center, item or day, as a table and a chart (chart.go), and
// as CSV (reports_csv.go), with the charge-back file finance imports.
// They ask what the API's consumption report asks (ActionRead, the sites
// the person may see, OrderService.Consumption) and read the same rows.
//
// People choose days, not instants: a range is from the first day's
// midnight to the midnight after the last day, on the clock of the sites
// reported on (the site's when one is chosen, else the zone all the
// person's sites share, else UTC), and the page says which clock.

// reportRoutes lists this area's pages.
func (a *app) reportRoutes(page pageFunc) {
	page(fiber.MethodGet, "/reports", a.handleReports)
	page(fiber.MethodGet, "/reports/consumption.csv", a.handleConsumptionCSV)
	page(fiber.MethodGet, "/reports/chargeback.csv", a.handleChargebackCSV)
}

// reportGroupings are the report's groupings, in the form's order.
var reportGroupings = []struct{ Value, Label, Noun string }{
	{cloud.GroupBySite, "Site", "sites"},
	{cloud.GroupBySpace, "Room", "rooms"},
	{cloud.GroupByCostCenter, "Cost center", "cost centers"},
	{cloud.GroupByItem, "Item", "items"},
	{cloud.GroupByDay, "Day", "days"},
}

// reportQuery is a report as asked for, checked.
type reportQuery struct {
	First, Last time.Time // the first and last day, at midnight in Zone
	From, To    time.Time // the range: [First, Last + 1 day)
	GroupBy     string
	Site        cloud.Site // the one site reported on; zero for all
	Scope       []string   // the sites to report on (nil: every site)
	Zone        *time.Location
}

// Values is the query as the report's links carry it.
func (q reportQuery) Values() url.Values {
	v := url.Values{"from": {q.First.Format(time.DateOnly)}, "to": {q.Last.Format(time.DateOnly)}, "group_by": {q.GroupBy}}
	if q.Site.ID != "" {
		v.Set("site", q.Site.ID)
	}
	return v
}

// readReportQuery reads and checks the report's parameters (from, to,
// group_by, site) against the sites p may see. A refused parameter is an
// error in f, next to its field; err is for a site p cannot see (404).
func (a *app) readReportQuery(ctx context.Context, c *fiber.Ctx, p auth.Principal, sites []cloud.Site) (q reportQuery, f form, err error) {
	f = newForm(c, "from", "to", "group_by", "site")
	if q.Scope, err = p.Scope(f.Value("site")); err != nil {
		return q, f, err
	}
	if id := f.Value("site"); id != "" {
		if q.Site, err = a.Sites.GetSite(ctx, p.OrgID, id); err != nil {
			return q, f, err
		}
		q.Scope = []string{id}
	}
	q.Zone = reportZone(q.Site, sites)
	q.GroupBy = f.Values["group_by"]
	if q.GroupBy == "" {
		q.GroupBy = cloud.GroupBySite
	}
	if !slices.ContainsFunc(reportGroupings, func(g struct{ Value, Label, Noun string }) bool { return g.Value == q.GroupBy }) {
		f.Errors["group_by"] = "Choose site, room, cost center, item or day."
	}
	today := a.Now().In(q.Zone)
	q.First = reportDay(f, "from", time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, q.Zone), q.Zone)
	q.Last = reportDay(f, "to", time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, q.Zone), q.Zone)
	if f.Err("from") != "" || f.Err("to") != "" {
		return q, f, nil
	}
	q.From, q.To = q.First, q.Last.AddDate(0, 0, 1)
	switch {
	case q.Last.Before(q.First):
		f.Errors["to"] = "The last day is before the first: choose a last day on or after " + q.First.Format("2 Jan 2006") + "."
	case cloud.CheckReportRange(q.From, q.To) != nil:
		f.Errors["to"] = fmt.Sprintf("A report covers at most %d days: choose a shorter range.", int(cloud.MaxReportSpan/(24*time.Hour)))
	}
	return q, f, nil
}

// reportDay reads the date in field name (YYYY-MM-DD), or def if it is
// empty; a malformed one is an error in f.
func reportDay(f form, name string, def time.Time, loc *time.Location) time.Time {
	s := f.Value(name)
	if s == "" {
		f.Values[name] = def.Format(time.DateOnly)
		return def
	}
	d, err := time.ParseInLocation(time.DateOnly, s, loc)
	switch {
	case err != nil:
		f.Errors[name] = "Enter a date as year-month-day, such as " + def.Format(time.DateOnly) + "."
	case d.Year() < reportFirstYear || d.Year() > reportLastYear:
		f.Errors[name] = fmt.Sprintf("Choose a day from the years %d to %d.", reportFirstYear, reportLastYear)
	}
	return d
}

// The years a report's days may be in: orders are from this century, and
// a range far outside it is a typing slip.
const reportFirstYear, reportLastYear = 2000, 2099

// reportZone is the clock a report's days are read on: site's if one is
// chosen, else the one every site shares, else UTC.
func reportZone(site cloud.Site, sites []cloud.Site) *time.Location {
	if site.ID != "" {
		return stockZone(site)
	}
	if len(sites) == 0 {
		return time.UTC
	}
	for _, s := range sites[1:] {
		if s.Timezone != sites[0].Timezone {
			return time.UTC
		}
	}
	return stockZone(sites[0])
}

type reportPage struct {
	*view
	Form      form
	Sites     []cloud.Site
	Groupings []struct{ Value, Label, Noun string }
	Query     reportQuery
	Group     string // the grouping's label: "Site"
	Period    string
	Rows      []reportRow
	Totals    []reportRow // one per currency
	Charts    []barChart  // one per currency
	// CSVURL and ChargebackURL download the report and the charge-back
	// file of the same days and sites.
	CSVURL, ChargebackURL string
	Ran                   bool // whether the report ran (the form was accepted)
}

// reportRow is a row of the report as the table shows it.
type reportRow struct {
	cloud.ReportRow
	Name            string
	Spend, Discount string
}

func (a *app) handleReports(c *fiber.Ctx) error {
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
	page := reportPage{view: v, Form: f, Sites: sites, Groupings: reportGroupings, Query: q}
	if f.Refused() {
		return render(c, fiber.StatusBadRequest, "reports.html", page)
	}
	rows, err := a.Orders.Consumption(ctx, p.OrgID, cloud.ReportFilter{SiteIDs: q.Scope, From: q.From, To: q.To, GroupBy: q.GroupBy})
	if pantry.ErrorCode(err) == pantry.EINVALID {
		page.Form = f.refuse(err)
		return render(c, fiber.StatusBadRequest, "reports.html", page)
	}
	if err != nil {
		return a.errorPage(c, v, err)
	}
	page.fill(rows)
	return render(c, fiber.StatusOK, "reports.html", page)
}

// fill lays the report's rows out for the page: the table's rows, a
// total and a chart per currency.
func (pg *reportPage) fill(rows []cloud.ReportRow) {
	pg.Ran = true
	q := pg.Query
	pg.CSVURL = "/reports/consumption.csv?" + q.Values().Encode()
	pg.ChargebackURL = "/reports/chargeback.csv?" + q.Values().Encode()
	pg.Period = periodText(q.First, q.Last) + " (" + q.Zone.String() + ")"
	noun := ""
	for _, g := range reportGroupings {
		if g.Value == q.GroupBy {
			pg.Group, noun = g.Label, g.Noun
		}
	}
	byCurrency, keys := map[string][]chartBar{}, map[string][]string{}
	totals := map[string]*cloud.ReportRow{}
	for _, r := range rows {
		name := reportName(q.GroupBy, r)
		pg.Rows = append(pg.Rows, reportRow{ReportRow: r, Name: name, Spend: r.Spend.String(), Discount: r.Discount.String()})
		cur := r.Spend.Currency
		byCurrency[cur] = append(byCurrency[cur], chartBar{Label: name, Value: r.Spend.Amount, Text: r.Spend.String()})
		keys[cur] = append(keys[cur], r.Key)
		t := totals[cur]
		if t == nil {
			t = &cloud.ReportRow{Spend: pantry.Money{Currency: cur}, Discount: pantry.Money{Currency: cur}}
			totals[cur] = t
		}
		t.Orders, t.Items = t.Orders+r.Orders, t.Items+r.Items
		t.Spend.Amount, t.Discount.Amount = t.Spend.Amount+r.Spend.Amount, t.Discount.Amount+r.Discount.Amount
	}
	currencies := make([]string, 0, len(totals))
	for cur := range totals {
		currencies = append(currencies, cur)
	}
	slices.Sort(currencies)
	for _, cur := range currencies {
		t := *totals[cur]
		pg.Totals = append(pg.Totals, reportRow{ReportRow: t, Name: "Total in " + cur, Spend: t.Spend.String(), Discount: t.Discount.String()})
		ch := barChart{
			ID: "chart-" + cur, Title: "Spend in " + cur + " by " + strings.ToLower(pg.Group) + ", " + periodText(q.First, q.Last),
			Noun: noun, Total: t.Spend.String(), Bars: byCurrency[cur],
		}
		if q.GroupBy == cloud.GroupByDay {
			dayAxis(&ch, keys[cur], q.First, q.Last)
		}
		pg.Charts = append(pg.Charts, ch)
	}
}

// dayAxis makes ch a chart along the period's days, first to last (or
// further, for a site whose local day lies outside the period's clock),
// each bar at its day: a day without orders is a gap, not a missing
// column. keys are the bars' days (YYYY-MM-DD).
func dayAxis(ch *barChart, keys []string, first, last time.Time) {
	const day = 24 * time.Hour
	start := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, time.UTC)
	end := time.Date(last.Year(), last.Month(), last.Day(), 0, 0, 0, 0, time.UTC)
	days := make([]time.Time, len(keys))
	for i, k := range keys {
		d, err := time.Parse(time.DateOnly, k)
		if err != nil {
			d = start
		}
		days[i] = d
		start, end = minTime(start, d), maxTime(end, d)
	}
	ch.Columns, ch.Slots = true, int(end.Sub(start)/day)+1
	for i, d := range days {
		ch.Bars[i].Slot = int(d.Sub(start) / day)
	}
	ch.AxisStart, ch.AxisEnd = start.Format("2 Jan 2006"), end.Format("2 Jan 2006")
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// reportName names a row for people: a cost center by its name and
// code, orders charged to none as such, a day with its weekday.
func reportName(groupBy string, r cloud.ReportRow) string {
	if groupBy == cloud.GroupByDay {
		if d, err := time.Parse(time.DateOnly, r.Key); err == nil {
			return d.Format("Mon 2 Jan 2006")
		}
	}
	switch {
	case groupBy == cloud.GroupByCostCenter && r.Key == "":
		return "No cost center (complimentary)"
	case groupBy == cloud.GroupByCostCenter && r.Label != r.Key:
		return r.Label + " (" + r.Key + ")"
	case r.Label == "":
		return r.Key
	}
	return r.Label
}

// periodText writes a range of days: "1 Nov 2026 – 30 Nov 2026", or one
// day.
func periodText(first, last time.Time) string {
	if first.Equal(last) {
		return first.Format("2 Jan 2006")
	}
	return first.Format("2 Jan 2006") + " – " + last.Format("2 Jan 2006")
}
