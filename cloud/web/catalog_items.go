package web

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/pantry"
)

// Items: the list (paged, newest first), a form to add one, and each
// item's page, a form to change it and a button to archive it for those
// who may change the catalog, its facts for the others. A price is typed
// in major units of its currency ("3.50") and converted with the
// currency's own minor units (cloud.ParseAmount): 3.505 EUR is refused,
// 1.234 KWD is not.

// euAllergens are the fourteen allergens EU law (Regulation 1169/2011,
// Annex II) requires a menu to declare, offered as checkboxes; anything
// else is typed under "Other allergens". The values are the labels the
// edge shows on tickets, as the demo catalog spells them.
var euAllergens = []catalogOption{
	{"gluten", "Cereals containing gluten"}, {"crustaceans", "Crustaceans"}, {"egg", "Eggs"}, {"fish", "Fish"},
	{"peanuts", "Peanuts"}, {"soy", "Soybeans"}, {"milk", "Milk"}, {"nuts", "Tree nuts"}, {"celery", "Celery"},
	{"mustard", "Mustard"}, {"sesame", "Sesame"}, {"sulphites", "Sulphur dioxide and sulphites"}, {"lupin", "Lupin"},
	{"molluscs", "Molluscs"},
}

// itemFields are the item form's fields (allergens are also checkboxes).
var itemFields = []string{"name", "description", "price", "currency", "station", "tags", "allergens_other", "low_stock_threshold", "image_url"}

// maxStationItems bounds how many items are read for the station
// suggestions: enough for any real catalog, and only suggestions.
const maxStationItems = 4 * cloud.MaxPageSize

type itemRow struct {
	cloud.Item
	Price string
}

type itemsPage struct {
	catalogView
	Rows  []itemRow
	Next  string
	Paged bool // not the first page
}

func (a *app) handleItems(c *fiber.Ctx) error {
	cv, err := catalogPage(c, "Catalog", "items", auth.ActionRead)
	if err != nil {
		return a.errorPage(c, cv.view, err)
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	cursor := catalogCursor(c)
	items, next, err := a.Catalog.ListItems(ctx, cv.Session.OrgID, cloud.Page{Limit: cloud.DefaultPageSize, Cursor: cursor})
	if err != nil {
		return a.errorPage(c, cv.view, err)
	}
	page := itemsPage{catalogView: cv, Next: next, Paged: cursor != ""}
	for _, it := range items {
		page.Rows = append(page.Rows, itemRow{Item: it, Price: it.Price.String()})
	}
	return render(c, fiber.StatusOK, "catalog.html", page)
}

// itemPage is an item's page, or the form of a new one (Item nil).
type itemPage struct {
	catalogView
	Item     *cloud.Item
	Form     form
	Checked  []string // the allergens ticked
	Stations []string // for suggestions
	Defaults catalogDefaults
}

// Allergens are the checkboxes of the EU allergens.
func (p itemPage) Allergens() []catalogCheck {
	out := make([]catalogCheck, len(euAllergens))
	for i, o := range euAllergens {
		out[i] = catalogCheck{catalogOption: o, Checked: slices.Contains(p.Checked, o.Value)}
	}
	return out
}

// Price is the item's price as people read it: "EUR 3.50".
func (p itemPage) Price() string { return p.Item.Price.String() }

// PriceInput is the price field, typed in major units.
func (p itemPage) PriceInput() catalogInput {
	hint := "In major units, like " + priceExample(p.Form.Value("currency")) + "."
	return catalogInput{fieldView: field(p.Form, "price", "Price", "text!", hint), InputMode: "decimal", Class: "catalog-short"}
}

// CurrencyInput is the currency field, suggesting the sites' currencies.
func (p itemPage) CurrencyInput() catalogInput {
	hint := "Three letters (ISO 4217), like EUR."
	if len(p.Defaults.Currencies) > 0 {
		hint = "Three letters (ISO 4217). Your sites sell in " + strings.Join(p.Defaults.Currencies, ", ") + "."
	}
	in := catalogInput{fieldView: field(p.Form, "currency", "Currency", "text!", hint), Class: "catalog-short", Upper: true}
	for _, cur := range p.Defaults.Currencies {
		in.Options = append(in.Options, catalogOption{Value: cur})
	}
	return in
}

// StationInput is the station field, suggesting the stations in use.
func (p itemPage) StationInput() catalogInput {
	in := catalogInput{fieldView: field(p.Form, "station", "Station", "text",
		"Where the pantry prepares it; each station's tablet shows its tickets. Lowercase letters, digits and hyphens, like drinks.")}
	for _, s := range p.Stations {
		in.Options = append(in.Options, catalogOption{Value: s})
	}
	return in
}

// priceExample is 3.50 written as currency writes amounts.
func priceExample(currency string) string {
	return pantry.Money{Amount: 350 * pow10(pantry.MinorDigits(currency)-2), Currency: currency}.Major()
}

func pow10(n int) int64 {
	if n < 0 {
		return 1
	}
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// itemForm is item it as its form shows it.
func itemForm(it cloud.Item) (form, []string) {
	var checked, other []string
	for _, l := range it.Allergens {
		if slices.ContainsFunc(euAllergens, func(o catalogOption) bool { return o.Value == l }) {
			checked = append(checked, l)
		} else {
			other = append(other, l)
		}
	}
	f := form{Errors: map[string]string{}, Values: map[string]string{
		"name": it.Name, "description": it.Description, "price": it.Price.Major(), "currency": it.Price.Currency,
		"station": it.Station, "tags": strings.Join(it.Tags, ", "), "allergens_other": strings.Join(other, ", "),
		"low_stock_threshold": strconv.FormatInt(it.LowStockThreshold, 10), "image_url": it.ImageURL,
	}}
	return f, checked
}

// readItem reads the posted item form and checks it with the catalog's
// rules: the form comes back refused, with every error next to its
// field, if what was typed cannot be read (a price that is not an
// amount) or breaks a rule. What only the store can check (a currency a
// site's menu does not sell in) is the service's to refuse.
func readItem(c *fiber.Ctx) (form, []string, cloud.ItemInput) {
	f := newForm(c, itemFields...)
	checked := catalogChecked(c, "allergens")
	currency := strings.ToUpper(f.Value("currency"))
	f.Values["currency"] = currency
	switch {
	case currency == "":
		f.Errors["currency"] = "Currency is required: three letters, like EUR."
	case !pantry.ValidCurrency(currency):
		f.Errors["currency"] = "Currency \"" + currency + "\" is not an ISO 4217 code: three letters, like EUR."
	}
	price, err := cloud.ParseAmount("price", f.Value("price"), currency)
	if err != nil {
		f.Errors["price"] = catalogSentence(pantry.ErrorMessage(err))
	}
	var threshold int64
	if s := f.Value("low_stock_threshold"); s != "" {
		if threshold, err = strconv.ParseInt(s, 10, 64); err != nil {
			f.Errors["low_stock_threshold"] = "Low-stock threshold must be a whole number (0 for no warning)."
		}
	}
	in := cloud.ItemInput{Name: f.Value("name"), Description: f.Value("description"), Price: price,
		Tags: catalogLabels(f.Value("tags")), Allergens: append(slices.Clone(checked), catalogLabels(f.Value("allergens_other"))...),
		LowStockThreshold: threshold, ImageURL: f.Value("image_url"), Station: f.Value("station")}
	return itemRuleErrors(f, in), checked, in
}

// itemRuleErrors adds to f every error the catalog's rules find in in.
func itemRuleErrors(f form, in cloud.ItemInput) form {
	settle := func(field string) bool {
		switch field {
		case "name":
			in.Name = "x"
		case "description":
			in.Description = ""
		case "price", "currency":
			in.Price = pantry.Money{Currency: "EUR"}
		case "tags":
			in.Tags = nil
		case "allergens_other":
			in.Allergens = nil
		case "low_stock_threshold":
			in.LowStockThreshold = 0
		case "station":
			in.Station = ""
		case "image_url":
			in.ImageURL = ""
		default:
			return false
		}
		return true
	}
	return catalogRuleErrors(f, func() error { probe := in; return probe.Normalize() }, settle)
}

func (a *app) handleNewItem(c *fiber.Ctx) error {
	cv, err := catalogPage(c, "New item", "items", auth.ActionWriteCatalog)
	if err != nil {
		return a.errorPage(c, cv.view, err)
	}
	page := itemPage{catalogView: cv, Form: form{Values: map[string]string{"low_stock_threshold": "0"}, Errors: map[string]string{}}}
	return a.renderItem(c, fiber.StatusOK, page)
}

// renderItem shows an item's form with the suggestions it offers.
func (a *app) renderItem(c *fiber.Ctx, status int, page itemPage) error {
	if page.CanWrite {
		ctx, cancel := a.ctx(c)
		defer cancel()
		var err error
		if page.Defaults, err = a.loadCatalogDefaults(ctx, page.principal()); err != nil {
			return a.errorPage(c, page.view, err)
		}
		if page.Stations, err = a.catalogStations(ctx, page.Session.OrgID); err != nil {
			return a.errorPage(c, page.view, err)
		}
		if page.Item == nil && page.Form.Value("currency") == "" {
			page.Form.Values["currency"] = page.Defaults.Currency()
		}
	}
	return render(c, status, "catalog_item.html", page)
}

// catalogStations lists the stations the catalog's items use.
func (a *app) catalogStations(ctx context.Context, orgID string) ([]string, error) {
	var out []string
	pg := cloud.Page{Limit: cloud.MaxPageSize}
	for read := 0; read < maxStationItems; read += cloud.MaxPageSize {
		items, next, err := a.Catalog.ListItems(ctx, orgID, pg)
		if err != nil {
			return nil, fmt.Errorf("read the stations in use: %w", err)
		}
		for _, it := range items {
			if it.Station != "" && !slices.Contains(out, it.Station) {
				out = append(out, it.Station)
			}
		}
		if next == "" {
			break
		}
		pg.Cursor = next
	}
	slices.Sort(out)
	return out, nil
}

func (a *app) handleCreateItem(c *fiber.Ctx) error {
	cv, err := catalogPage(c, "New item", "items", auth.ActionWriteCatalog)
	if err != nil {
		return a.errorPage(c, cv.view, err)
	}
	f, checked, in := readItem(c)
	page := itemPage{catalogView: cv, Form: f, Checked: checked}
	if f.Refused() {
		return a.renderItem(c, fiber.StatusBadRequest, page)
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	it, err := a.Catalog.CreateItem(ctx, cv.Session.OrgID, catalogActor(cv.view), in)
	if err != nil {
		if !catalogRefusal(err) {
			return a.errorPage(c, cv.view, err)
		}
		page.Form = refuseCatalog(f, err)
		return a.renderItem(c, catalogRefusedStatus(err), page)
	}
	return a.done(c, "/catalog", "Added "+it.Name+" at "+it.Price.String()+".")
}

func (a *app) handleItem(c *fiber.Ctx) error {
	cv, err := catalogPage(c, "Item", "items", auth.ActionRead)
	if err != nil {
		return a.errorPage(c, cv.view, err)
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	it, err := a.Catalog.GetItem(ctx, cv.Session.OrgID, catalogParam(c, "item_id"))
	if err != nil {
		return a.errorPage(c, cv.view, err)
	}
	cv.Title = it.Name
	f, checked := itemForm(it)
	return a.renderItem(c, fiber.StatusOK, itemPage{catalogView: cv, Item: &it, Form: f, Checked: checked})
}

// handleUpdateItem saves an item's form, or archives or restores it (the
// form of the archive button: archive=true or false).
func (a *app) handleUpdateItem(c *fiber.Ctx) error {
	cv, err := catalogPage(c, "Item", "items", auth.ActionWriteCatalog)
	if err != nil {
		return a.errorPage(c, cv.view, err)
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	it, err := a.Catalog.GetItem(ctx, cv.Session.OrgID, catalogParam(c, "item_id"))
	if err != nil {
		return a.errorPage(c, cv.view, err)
	}
	cv.Title = it.Name
	if archive := c.FormValue("archive"); archive != "" {
		return a.archiveItem(c, cv, it, archive)
	}
	f, checked, in := readItem(c)
	page := itemPage{catalogView: cv, Item: &it, Form: f, Checked: checked}
	if f.Refused() {
		return a.renderItem(c, fiber.StatusBadRequest, page)
	}
	up := cloud.ItemUpdate{Name: &in.Name, Description: &in.Description, Price: &in.Price, Tags: &in.Tags, Allergens: &in.Allergens,
		LowStockThreshold: &in.LowStockThreshold, ImageURL: &in.ImageURL, Station: &in.Station}
	saved, err := a.Catalog.UpdateItem(ctx, cv.Session.OrgID, catalogActor(cv.view), it.ID, up)
	if err != nil {
		if !catalogRefusal(err) {
			return a.errorPage(c, cv.view, err)
		}
		page.Form = refuseCatalog(f, err)
		return a.renderItem(c, catalogRefusedStatus(err), page)
	}
	return a.done(c, "/catalog", "Saved "+saved.Name+": "+saved.Price.String()+".")
}

func (a *app) archiveItem(c *fiber.Ctx, cv catalogView, it cloud.Item, archive string) error {
	archived, err := strconv.ParseBool(archive)
	if err != nil {
		return a.errorPage(c, cv.view, pantry.Errorf(pantry.EINVALID, "archive must be true or false"))
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	if _, err := a.Catalog.UpdateItem(ctx, cv.Session.OrgID, catalogActor(cv.view), it.ID, cloud.ItemUpdate{Archived: &archived}); err != nil {
		return a.errorPage(c, cv.view, err)
	}
	msg := it.Name + " is archived: no menu offers it any more."
	if !archived {
		msg = it.Name + " is back in the catalog: the menus that listed it offer it again."
	}
	return a.done(c, "/catalog/items/"+it.ID, msg)
}
