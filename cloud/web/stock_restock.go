package web

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
)

// The restock list is what to bring to a site to get every item back to
// its par level: par − level for each item below its par. It is a page
// designed to be printed and taken to the storeroom (the print styles
// in dashboard.css leave out everything but the list), and the same
// rows as CSV for whoever orders from suppliers.

// restockRow is one line of the restock list.
type restockRow struct {
	ItemID, Name      string
	Level, Par, Bring int64
}

type restockPage struct {
	*view
	Site    cloud.Site
	Rows    []restockRow
	Units   int64 // the units to bring, all items together
	HasPars bool  // whether any item of the site has a par level
	Made    string
}

// restockList reads site siteID's restock list, by item name, and
// whether the site has any par level at all.
func (a *app) restockList(ctx context.Context, orgID, siteID string) (rows []restockRow, hasPars bool, err error) {
	stock, err := a.stockRows(ctx, orgID, siteID)
	if err != nil {
		return nil, false, err
	}
	for _, r := range stock {
		hasPars = hasPars || r.HasPar
		if r.Bring > 0 {
			rows = append(rows, restockRow{ItemID: r.ItemID, Name: r.Name, Level: r.Level, Par: r.Par, Bring: r.Bring})
		}
	}
	return rows, hasPars, nil
}

func (a *app) handleRestock(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Title, v.Nav = "Restock list", "stock"
	p := v.principal()
	ctx, cancel := a.ctx(c)
	defer cancel()
	site, err := a.stockSite(ctx, p, auth.ActionRead, c.Params("site_id"))
	if err != nil {
		return a.errorPage(c, v, err)
	}
	rows, hasPars, err := a.restockList(ctx, p.OrgID, site.ID)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	page := restockPage{view: v, Site: site, Rows: rows, HasPars: hasPars, Made: stockClock(a.Now(), site)}
	for _, r := range rows {
		page.Units += r.Bring
	}
	v.Title = "Restock list for " + site.Name
	return render(c, fiber.StatusOK, "stock_restock.html", page)
}

// handleRestockCSV sends the restock list as a CSV attachment: site,
// item, on hand, par, to bring. Names are escaped against formula
// injection (cloud.CSVCell): they are typed by admins, and the file is
// opened by others.
func (a *app) handleRestockCSV(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Title, v.Nav = "Restock list", "stock"
	p := v.principal()
	ctx, cancel := a.ctx(c)
	defer cancel()
	site, err := a.stockSite(ctx, p, auth.ActionRead, c.Params("site_id"))
	if err != nil {
		return a.errorPage(c, v, err)
	}
	rows, _, err := a.restockList(ctx, p.OrgID, site.ID)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	var buf bytes.Buffer
	if err := writeRestockCSV(&buf, site, rows); err != nil {
		return a.errorPage(c, v, err)
	}
	day := a.Now().In(stockZone(site)).Format(time.DateOnly)
	return sendAttachmentCSV(c, "restock-"+day+".csv", buf.Bytes())
}

func writeRestockCSV(buf *bytes.Buffer, site cloud.Site, rows []restockRow) error {
	w := csv.NewWriter(buf)
	w.UseCRLF = true
	if err := w.Write([]string{"site", "item", "on_hand", "par", "bring"}); err != nil {
		return fmt.Errorf("write restock csv: %w", err)
	}
	for _, r := range rows {
		rec := []string{cloud.CSVCell(site.Name), cloud.CSVCell(r.Name), strconv.FormatInt(r.Level, 10),
			strconv.FormatInt(r.Par, 10), strconv.FormatInt(r.Bring, 10)}
		if err := w.Write(rec); err != nil {
			return fmt.Errorf("write restock csv: %w", err)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("write restock csv: %w", err)
	}
	return nil
}

// sendAttachmentCSV answers with body as a CSV file to save as filename
// (which the callers make of digits, letters and dashes only).
func sendAttachmentCSV(c *fiber.Ctx, filename string, body []byte) error {
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+filename+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(body)
}

// stockZone is the site's time zone, UTC if it is not one this server
// knows.
func stockZone(s cloud.Site) *time.Location {
	if loc, err := time.LoadLocation(s.Timezone); err == nil {
		return loc
	}
	return time.UTC
}

// stockClock writes t on the site's clock, naming the zone.
func stockClock(t time.Time, s cloud.Site) string {
	loc := stockZone(s)
	return t.In(loc).Format("2 Jan 2006 15:04") + " (" + loc.String() + ")"
}
