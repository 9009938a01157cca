package web_test

import (
	"context"
	"encoding/csv"
	"encoding/xml"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/internal/pantry"
)

// reportPlace is a site and one of its rooms.
type reportPlace struct{ ID, Space string }

// reportSite creates a site with a room through the API.
func reportSite(tb testing.TB, s *cloudtest.Server, a cloudtest.Tenant, name string) reportPlace {
	tb.Helper()
	r := s.Do(tb, "POST", "/api/v1/sites", a.Org.Token, map[string]string{"name": name, "timezone": "Europe/Berlin", "currency": "EUR"})
	if r.Status != http.StatusCreated {
		tb.Fatalf("create site: %d %s", r.Status, r.Body)
	}
	var site, space struct{ ID string }
	r.Decode(tb, &site)
	r = s.Do(tb, "POST", "/api/v1/sites/"+site.ID+"/spaces", a.Org.Token, map[string]string{"name": name + " room", "floor": "1"})
	if r.Status != http.StatusCreated {
		tb.Fatalf("create room: %d %s", r.Status, r.Body)
	}
	r.Decode(tb, &space)
	return reportPlace{ID: site.ID, Space: space.ID}
}

// reportOrder stores an order of qty × unit cents of A's item at place,
// charged to costCenter ("" for complimentary), as an edge's sync would.
func reportOrder(tb testing.TB, s *cloudtest.Server, a cloudtest.Tenant, place reportPlace, qty int, unit int64, costCenter string, at time.Time) {
	tb.Helper()
	eur := func(n int64) pantry.Money { return pantry.Money{Amount: n, Currency: "EUR"} }
	total := int64(qty) * unit
	o := pantry.Order{ID: pantry.NewID(), SiteID: place.ID, SpaceID: place.Space, Status: pantry.StatusDelivered, DeliverTo: pantry.DeliverRoom,
		Lines:    []pantry.OrderLine{{ItemID: a.Item, Name: a.Names[0] + " coffee", Quantity: qty, UnitPrice: eur(unit), LineTotal: eur(total)}},
		Subtotal: eur(total), Discount: eur(0), Total: eur(total), Payment: pantry.PayComplimentary, CreatedAt: at, UpdatedAt: at}
	if costCenter != "" {
		o.Payment, o.CostCenter = pantry.PayCostCenter, costCenter
	}
	if err := s.Store().InsertOrders(context.Background(), a.Org.ID, []pantry.Order{o}, ""); err != nil {
		tb.Fatalf("insert order: %v", err)
	}
}

// reportNow is when the tests' orders are placed: an hour ago, as
// cloudtest.InsertOrder's.
func reportNow() time.Time { return time.Now().UTC().Add(-time.Hour) }

// reportRange is a range of days around now that holds the tests' orders.
func reportRange() url.Values {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	now := time.Now().In(berlin)
	return url.Values{"from": {now.AddDate(0, 0, -3).Format(time.DateOnly)}, "to": {now.AddDate(0, 0, 1).Format(time.DateOnly)}}
}

func reportWith(v url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = vs
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

// reportCSV downloads path and parses it, header first.
func reportCSV(tb testing.TB, c *client, path string) [][]string {
	tb.Helper()
	p := c.get(tb, path)
	if p.Status != http.StatusOK || !strings.HasPrefix(p.Header.Get("Content-Type"), "text/csv") || !strings.HasPrefix(p.Header.Get("Content-Disposition"), "attachment;") {
		tb.Fatalf("GET %s: %d %q %q\n%s", path, p.Status, p.Header.Get("Content-Type"), p.Header.Get("Content-Disposition"), p.Body)
	}
	records, err := csv.NewReader(strings.NewReader(p.Body)).ReadAll()
	if err != nil {
		tb.Fatalf("parse %s: %v\n%s", path, err, p.Body)
	}
	return records
}

// cents reads an amount in major units ("26.50") as cents.
func cents(tb testing.TB, s string) int64 {
	tb.Helper()
	whole, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil || len(frac) != 2 {
		tb.Fatalf("amount %q: %v", s, err)
	}
	return n
}

var svgRE = regexp.MustCompile(`(?s)<svg .*?</svg>`)

// reportChart finds the page's one chart and parses it as XML: its
// title, and how many bars it draws.
func reportChart(tb testing.TB, p page) (title string, bars int) {
	tb.Helper()
	svgs := svgRE.FindAllString(p.Body, -1)
	if len(svgs) != 1 {
		tb.Fatalf("%d charts in the page, want 1", len(svgs))
	}
	var doc struct {
		XMLName xml.Name `xml:"svg"`
		Role    string   `xml:"role,attr"`
		Title   string   `xml:"title"`
		Desc    string   `xml:"desc"`
		Rects   []struct {
			Class string `xml:"class,attr"`
		} `xml:"rect"`
	}
	if err := xml.Unmarshal([]byte(svgs[0]), &doc); err != nil {
		tb.Fatalf("the chart is not XML: %v\n%s", err, svgs[0])
	}
	if doc.Role != "img" || doc.Title == "" || doc.Desc == "" {
		tb.Fatalf("the chart is not an image with a title and a description: %+v", doc)
	}
	for _, r := range doc.Rects {
		if r.Class == "bar" {
			bars++
		}
	}
	return doc.Title, bars
}

var reportRowRE = regexp.MustCompile(`<tr data-key="([^"]*)" data-currency="EUR">`)

// TestReports: orders of known totals at two sites, charged to two cost
// centers or to none. The report by site, room, cost center, item and
// day shows them as a table and a chart with a bar per row; its CSV adds
// up to what was ordered; the charge-back file bills each cost center
// exactly its orders, escapes a formula-like name, and leaves out
// complimentary orders.
func TestReports(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme") // and its order: 2 × 3.50, complimentary, at HQ
	hq, annex := reportPlace{ID: a.Site, Space: a.Space}, reportSite(t, s, a, "Annex")
	if r := s.Do(t, "POST", "/api/v1/cost-centers", a.Org.Token, map[string]string{"code": "CC-9", "name": "=SUM(A1) Sales"}); r.Status != http.StatusCreated {
		t.Fatalf("create cost center: %d %s", r.Status, r.Body)
	}
	now := reportNow()
	reportOrder(t, s, a, hq, 2, 350, "CC-acme", now)
	reportOrder(t, s, a, hq, 1, 1250, "cc-9", now) // codes match whatever their case
	reportOrder(t, s, a, annex, 3, 1000, "CC-acme", now)
	reportOrder(t, s, a, annex, 1, 500, "", now)
	reportOrder(t, s, a, annex, 9, 1000, "CC-acme", now.AddDate(0, 0, -30)) // outside the range
	c := stockSignIn(t, s, "viewer@acme.test")                              // a viewer reads reports
	span := reportRange()

	t.Run("BySite", func(t *testing.T) {
		p := c.get(t, "/reports?"+reportWith(span, "group_by", "site").Encode())
		if p.Status != http.StatusOK {
			t.Fatalf("GET /reports: %d\n%s", p.Status, p.Body)
		}
		keys := reportRowRE.FindAllStringSubmatch(p.Body, -1)
		if len(keys) != 2 || !strings.Contains(p.Body, "EUR 26.50") || !strings.Contains(p.Body, "EUR 35.00") || !strings.Contains(p.Body, "EUR 61.50") {
			t.Fatalf("report by site: rows %q\n%s", keys, p.Body)
		}
		title, bars := reportChart(t, p)
		if !strings.HasPrefix(title, "Spend in EUR by site") || bars != len(keys) {
			t.Fatalf("chart %q with %d bars, want one per row (%d)", title, bars, len(keys))
		}
		want := map[string][]string{a.Site: {"3", "5", "26.50"}, annex.ID: {"2", "4", "35.00"}}
		records := reportCSV(t, c, "/reports/consumption.csv?"+reportWith(span, "group_by", "site").Encode())
		var sum int64
		for _, r := range records[1:] {
			if w := want[r[0]]; w == nil || r[2] != "EUR" || r[3] != w[0] || r[4] != w[1] || r[5] != w[2] {
				t.Errorf("CSV row %q, want %q", r, w)
			}
			sum += cents(t, r[5])
		}
		if len(records) != 3 || sum != 700+700+1250+3000+500 {
			t.Fatalf("CSV %q: spend adds up to %d cents", records, sum)
		}
	})
	t.Run("ByCostCenter", func(t *testing.T) {
		p := c.get(t, "/reports?"+reportWith(span, "group_by", "cost_center").Encode())
		for _, want := range []string{"secret-acme facilities (CC-acme)", "=SUM(A1) Sales (CC-9)", "No cost center (complimentary)", "EUR 37.00", "EUR 12.50", "EUR 12.00"} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("the report by cost center lacks %q", want)
			}
		}
		if _, bars := reportChart(t, p); bars != 3 {
			t.Errorf("chart with %d bars, want 3", bars)
		}
	})
	t.Run("Chargeback", func(t *testing.T) {
		records := reportCSV(t, c, "/reports/chargeback.csv?"+span.Encode())
		if got, want := strings.Join(records[0], ","), "cost_center_code,cost_center_name,currency,orders,items,amount,period_start,period_end"; got != want {
			t.Fatalf("header %q, want %q", got, want)
		}
		want := map[string]string{
			"CC-acme": "CC-acme,secret-acme facilities,EUR,2,5,37.00," + span.Get("from") + "," + span.Get("to"),
			"CC-9":    "CC-9,'=SUM(A1) Sales,EUR,1,1,12.50," + span.Get("from") + "," + span.Get("to"),
		}
		if len(records) != 3 {
			t.Fatalf("charge-back %q, want a line per cost center and none for complimentary orders", records)
		}
		for _, r := range records[1:] {
			if got := strings.Join(r, ","); got != want[r[0]] {
				t.Errorf("charge-back line %q, want %q", got, want[r[0]])
			}
		}
	})
	for _, group := range []string{"space", "item", "day"} {
		t.Run("By"+group, func(t *testing.T) {
			p := c.get(t, "/reports?"+reportWith(span, "group_by", group).Encode())
			rows := reportRowRE.FindAllStringSubmatch(p.Body, -1)
			if p.Status != http.StatusOK || len(rows) == 0 || !strings.Contains(p.Body, "EUR 61.50") {
				t.Fatalf("report by %s: %d, rows %q\n%s", group, p.Status, rows, p.Body)
			}
			if _, bars := reportChart(t, p); bars != len(rows) {
				t.Fatalf("chart with %d bars for %d rows", bars, len(rows))
			}
		})
	}
	t.Run("DefaultsToThisMonth", func(t *testing.T) {
		p := c.get(t, "/reports")
		berlin, _ := time.LoadLocation("Europe/Berlin")
		first := time.Now().In(berlin).Format("2006-01") + "-01"
		if p.Status != http.StatusOK || !strings.Contains(p.Body, `name="from" type="date" value="`+first+`"`) {
			t.Fatalf("GET /reports with no range: %d, want the range to start on %s\n%s", p.Status, first, p.Body)
		}
	})
}

// TestReportsRefused: a bad range or grouping comes back as the form with
// the error next to its field; a site the person may not see is 404; a
// bad link to a CSV is an error page; none of it changes anything.
func TestReportsRefused(t *testing.T) {
	t.Parallel()
	s := cloudtest.Start(t)
	a := cloudtest.SeedTenant(t, s, "acme")
	b := cloudtest.SeedTenant(t, s, "globex")
	c := stockSignIn(t, s, a.Org.OwnerEmail)
	for _, tc := range []struct {
		name, path string
		status     int
		field      string
		says       string
	}{
		{"FromAfterTo", "/reports?from=2026-03-10&to=2026-03-01", 400, "to", "The last day is before the first"},
		{"OverAYear", "/reports?from=2025-01-01&to=2026-03-01", 400, "to", "A report covers at most 366 days"},
		{"UnknownGrouping", "/reports?group_by=weekday", 400, "group_by", "Choose site, room, cost center, item or day."},
		{"NotADate", "/reports?from=yesterday", 400, "from", "Enter a date as year-month-day"},
		{"AbsurdYear", "/reports?from=1800-01-01&to=1800-01-02", 400, "from", "from the years 2000 to 2099"},
		{"UnknownSite", "/reports?site=" + pantry.NewID(), 404, "", "not found"},
		{"NotASiteID", "/reports?site=HQ", 404, "", "not found"},
		{"OtherOrgsSite", "/reports?site=" + b.Site, 404, "", "not found"},
		{"ChargebackFromAfterTo", "/reports/chargeback.csv?from=2026-03-10&to=2026-03-01", 400, "", "The last day is before the first"},
		{"CSVOverAYear", "/reports/consumption.csv?from=2024-01-01&to=2026-03-01", 400, "", "at most 366 days"},
		{"CSVUnknownGrouping", "/reports/consumption.csv?group_by=weekday", 400, "", "Choose site, room"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := cloudtest.Fingerprint(t, s, a.Org.ID)
			p := c.get(t, tc.path)
			if p.Status != tc.status || !strings.Contains(p.Body, tc.says) {
				t.Fatalf("%d, want %d saying %q\n%s", p.Status, tc.status, tc.says, p.Body)
			}
			if tc.field != "" && !strings.Contains(p.Body, `data-field-error="`+tc.field+`"`) {
				t.Errorf("the error is not next to %s", tc.field)
			}
			if strings.Contains(p.Body, "<svg") || strings.Contains(p.Body, "data-report") {
				t.Errorf("a refused report shows data")
			}
			if cloudtest.Fingerprint(t, s, a.Org.ID) != before {
				t.Fatalf("a refused report changed data")
			}
		})
	}
}
