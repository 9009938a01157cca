package web

import (
	"cmp"
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/pantry"
)

// A site's menu: every item of the catalog, whether the site sells it,
// whether it is available now, and at what price if not the catalog's.
// The form sends the whole menu, which replaces the site's as PUT
// /api/v1/sites/:site_id/menu does (CatalogService.PutMenu). Archived
// items are not offered: PutMenu refuses them, and the edge sells none.

// Form fields: "on" and "available" repeat, once per item ticked, with
// the item's id; "price-ID" is the override typed for item ID.
const (
	menuOn        = "on"
	menuAvailable = "available"
	menuPrice     = "price-"
)

// menuRow is one catalog item as the menu form shows it.
type menuRow struct {
	Item          cloud.Item
	On, Available bool
	Price         string // the override, as typed or as stored ("" for none)
	Err           string
}

type menuPage struct {
	*view
	siteKit
	Site  cloud.Site
	Rows  []menuRow
	Error string // about no single item
	On    int
}

func (a *app) handleSiteMenu(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Title, v.Nav = "Menu", "sites"
	p := v.principal()
	siteID := c.Params("site_id")
	if err := p.Can(auth.ActionRead, siteID); err != nil {
		return a.errorPage(c, v, err)
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	site, err := a.Sites.GetSite(ctx, p.OrgID, siteID)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	menu, err := a.Catalog.GetMenu(ctx, p.OrgID, siteID)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	items, err := a.menuItems(ctx, p.OrgID)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	rows := make([]menuRow, len(items))
	for i, it := range items {
		rows[i] = menuRow{Item: it, Available: true} // an item put on the menu is available unless unticked
		if j := slices.IndexFunc(menu.Items, func(m cloud.MenuItem) bool { return m.ItemID == it.ID }); j >= 0 {
			m := menu.Items[j]
			rows[i].On, rows[i].Available = true, m.Available
			if m.Price != nil {
				rows[i].Price = m.Price.Major()
			}
		}
	}
	return render(c, fiber.StatusOK, "site-menu.html", newMenuPage(v, site, rows, ""))
}

func newMenuPage(v *view, site cloud.Site, rows []menuRow, msg string) menuPage {
	v.Title = "Menu · " + site.Name
	page := menuPage{view: v, Site: site, Rows: rows, Error: msg}
	for _, r := range rows {
		if r.On {
			page.On++
		}
	}
	return page
}

// menuItemsMax bounds the catalog pages the menu reads: a menu holds at
// most cloud.MaxMenuItems items.
const menuItemsMax = cloud.MaxMenuItems/cloud.MaxPageSize + 2

// menuItems reads the catalog's items a menu may offer (not archived), by
// name.
func (a *app) menuItems(ctx context.Context, orgID string) ([]cloud.Item, error) {
	var items []cloud.Item
	cursor := ""
	for range menuItemsMax {
		page, next, err := a.Catalog.ListItems(ctx, orgID, cloud.Page{Limit: cloud.MaxPageSize, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		for _, it := range page {
			if it.ArchivedAt == nil {
				items = append(items, it)
			}
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	slices.SortFunc(items, func(x, y cloud.Item) int {
		return cmp.Or(cmp.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name)), cmp.Compare(x.ID, y.ID))
	})
	return items, nil
}

// handlePutSiteMenu replaces the site's menu with the form's, as PUT
// /api/v1/sites/:site_id/menu does. A price that is not an amount is
// refused before anything is sent; what PutMenu refuses ("menu item 2:
// …") is shown on that item's row.
func (a *app) handlePutSiteMenu(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Title, v.Nav = "Menu", "sites"
	p := v.principal()
	siteID := c.Params("site_id")
	if err := p.Can(auth.ActionWriteSite, siteID); err != nil {
		return a.errorPage(c, v, err)
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	site, err := a.Sites.GetSite(ctx, p.OrgID, siteID)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	items, err := a.menuItems(ctx, p.OrgID)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	rows, entries, bad := postedMenu(c, items, site.Currency)
	if bad {
		return render(c, fiber.StatusBadRequest, "site-menu.html", newMenuPage(v, site, rows, "Some prices are not amounts: see the items marked below. Nothing was saved."))
	}
	menu, err := a.Catalog.PutMenu(ctx, p.OrgID, siteActor(p), siteID, entries)
	if err != nil {
		status, ok := siteRefusal(err)
		if !ok {
			return a.errorPage(c, v, err)
		}
		msg := pantry.ErrorMessage(err)
		if id := menuEntryOf(msg, entries); id != "" {
			if i := slices.IndexFunc(rows, func(r menuRow) bool { return r.Item.ID == id }); i >= 0 {
				rows[i].Err = menuItemPrefix.ReplaceAllString(msg, "")
				msg = "An item cannot be sold as it is: see the item marked below. Nothing was saved."
			}
		}
		return render(c, status, "site-menu.html", newMenuPage(v, site, rows, msg))
	}
	available := 0
	for _, it := range menu.Items {
		if it.Available {
			available++
		}
	}
	return a.done(c, "/sites/"+siteID+"/menu", "Menu saved: "+strconv.Itoa(len(menu.Items))+" items, "+strconv.Itoa(available)+" available now.")
}

// postedMenu reads the menu form: the rows to show again if it is
// refused, the entries to put, and whether a price was not an amount.
// Entries follow the order items were ticked in, so PutMenu's "menu item
// N" is entries[N-1].
func postedMenu(c *fiber.Ctx, items []cloud.Item, currency string) ([]menuRow, []cloud.MenuEntry, bool) {
	args := c.Request().PostArgs()
	available := map[string]bool{}
	for _, id := range args.PeekMulti(menuAvailable) {
		available[string(id)] = true
	}
	rows := make([]menuRow, len(items))
	for i, it := range items {
		rows[i] = menuRow{Item: it, Available: available[it.ID], Price: strings.TrimSpace(c.FormValue(menuPrice + it.ID))}
	}
	var entries []cloud.MenuEntry
	bad := false
	for _, raw := range args.PeekMulti(menuOn) {
		id := string(raw)
		e := cloud.MenuEntry{ItemID: id, Available: available[id]}
		i := slices.IndexFunc(rows, func(r menuRow) bool { return r.Item.ID == id })
		if i >= 0 {
			rows[i].On = true
			price, err := parseMenuPrice(rows[i].Price, currency)
			if err != nil {
				rows[i].Err, bad = pantry.ErrorMessage(err), true
			}
			e.Price = price
		}
		entries = append(entries, e)
	}
	return rows, entries, bad
}

// menuItemPrefix is how PutMenu's messages name an entry: "menu item 2: ".
var menuItemPrefix = regexp.MustCompile(`^menu item (\d+): `)

// menuEntryOf is the item id of the entry a PutMenu message is about, or
// "" if it is about none.
func menuEntryOf(msg string, entries []cloud.MenuEntry) string {
	m := menuItemPrefix.FindStringSubmatch(msg)
	if m == nil {
		return ""
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n < 1 || n > len(entries) {
		return ""
	}
	return entries[n-1].ItemID
}

// parseMenuPrice reads a price typed in major units of the site's
// currency ("3.50", "3,5", "3") as cloud.ParseAmount does for the
// catalog's prices; "" is no override (nil).
func parseMenuPrice(s, currency string) (*pantry.Money, error) {
	if s == "" {
		return nil, nil
	}
	m, err := cloud.ParseAmount("price", s, currency)
	if err != nil {
		return nil, err
	}
	return &m, nil
}
