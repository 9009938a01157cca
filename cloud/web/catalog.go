package web

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/httpx"
	"github.com/pantry/pantry/internal/pantry"
)

// The catalog: what the organization sells (items), its coupons and its
// cost centers, all organization-wide. Everyone who signs in may read it
// (facility managers too: they build their sites' menus from it); only
// those the API lets change the catalog (auth.ActionWriteCatalog: owners
// and admins) see its forms, and the handlers check again. Every change
// goes through the CatalogService with the rules the API applies.

// catalogRoutes lists this area's pages.
func (a *app) catalogRoutes(page pageFunc) {
	page(fiber.MethodGet, "/catalog", a.handleItems)
	page(fiber.MethodGet, "/catalog/items/new", a.handleNewItem)
	page(fiber.MethodPost, "/catalog/items", a.handleCreateItem)
	page(fiber.MethodGet, "/catalog/items/:item_id", a.handleItem)
	page(fiber.MethodPost, "/catalog/items/:item_id", a.handleUpdateItem)

	page(fiber.MethodGet, "/catalog/coupons", a.handleCoupons)
	page(fiber.MethodGet, "/catalog/coupons/new", a.handleNewCoupon)
	page(fiber.MethodPost, "/catalog/coupons", a.handleCreateCoupon)
	page(fiber.MethodGet, "/catalog/coupons/:coupon_id", a.handleCoupon)
	page(fiber.MethodPost, "/catalog/coupons/:coupon_id", a.handleUpdateCoupon)

	page(fiber.MethodGet, "/catalog/cost-centers", a.handleCostCenters)
	page(fiber.MethodGet, "/catalog/cost-centers/new", a.handleNewCostCenter)
	page(fiber.MethodPost, "/catalog/cost-centers", a.handleCreateCostCenter)
	page(fiber.MethodGet, "/catalog/cost-centers/:cost_center_id", a.handleCostCenter)
	page(fiber.MethodPost, "/catalog/cost-centers/:cost_center_id", a.handleUpdateCostCenter)
}

// catalogView is what every catalog page shows around its content: the
// sub-navigation (Sub: "items", "coupons" or "cost-centers") and whether
// the person may change the catalog.
type catalogView struct {
	*view
	Sub      string
	CanWrite bool
}

// catalogPage starts a catalog page: the person must be allowed action
// (auth.ActionRead or auth.ActionWriteCatalog), as the API's handler of
// the same action asks.
func catalogPage(c *fiber.Ctx, title, sub string, action auth.Action) (catalogView, error) {
	v := viewOf(c)
	v.Title, v.Nav = title, "catalog"
	p := v.principal()
	cv := catalogView{view: v, Sub: sub, CanWrite: p.Can(auth.ActionWriteCatalog, "") == nil}
	return cv, p.Can(action, "")
}

// catalogActor is the signed-in person as the audit log records them.
func catalogActor(v *view) cloud.Actor { return cloud.Actor{Type: "user", ID: v.Session.UserID} }

// catalogParam is a path parameter, copied out of fasthttp's reused memory.
func catalogParam(c *fiber.Ctx, name string) string { return utils.CopyString(c.Params(name)) }

// catalogCursor is the ?cursor= of a list, copied.
func catalogCursor(c *fiber.Ctx) string { return utils.CopyString(c.Query("cursor")) }

// catalogDefaults are what the organization's sites (those the person may
// see) say about money and time, for forms that need a currency or a
// time zone: the most common first.
type catalogDefaults struct {
	Currencies []string // the sites' currencies
	Zones      []string // the sites' time zones, then UTC
}

// Currency is the currency most of the sites sell in, "" with no site.
func (d catalogDefaults) Currency() string {
	if len(d.Currencies) == 0 {
		return ""
	}
	return d.Currencies[0]
}

// Zone is the time zone most of the sites are in, UTC with no site.
func (d catalogDefaults) Zone() string {
	if len(d.Zones) == 0 {
		return "UTC"
	}
	return d.Zones[0]
}

// loadCatalogDefaults reads the currencies and zones of the sites p may
// see.
func (a *app) loadCatalogDefaults(ctx context.Context, p auth.Principal) (catalogDefaults, error) {
	scope, err := p.Scope("")
	if err != nil {
		return catalogDefaults{}, err
	}
	sites, _, err := a.Sites.ListSites(ctx, p.OrgID, scope, cloud.Page{Limit: cloud.MaxPageSize})
	if err != nil {
		return catalogDefaults{}, fmt.Errorf("read the sites' currencies and zones: %w", err)
	}
	currencies, zones := map[string]int{}, map[string]int{}
	for _, s := range sites {
		currencies[s.Currency]++
		zones[s.Timezone]++
	}
	d := catalogDefaults{Currencies: commonestFirst(currencies), Zones: commonestFirst(zones)}
	if !slices.Contains(d.Zones, "UTC") {
		d.Zones = append(d.Zones, "UTC")
	}
	return d, nil
}

// commonestFirst lists the keys of counts, the most counted first (then by name).
func commonestFirst(counts map[string]int) []string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y string) int {
		return cmp.Or(counts[y]-counts[x], strings.Compare(x, y))
	})
	return keys
}

// catalogRefusedStatus is the status of a page showing a form refused
// with err: 400, or 409 for a duplicate.
func catalogRefusedStatus(err error) int {
	status, _ := httpx.Resolve(err)
	return status
}

// catalogRefusal is an error a form shows next to its fields rather than as
// a page of its own: input the rules refuse, or a duplicate.
func catalogRefusal(err error) bool {
	code := pantry.ErrorCode(err)
	return code == pantry.EINVALID || code == pantry.ECONFLICT
}

// catalogMessageFields finds the field of the catalog services' messages that do
// not start with their field's name (form.refuse finds the others).
var catalogMessageFields = []struct{ says, field string }{
	{"sells this item at its own price", "currency"},
	{" tags", "tags"},
	{"allergens", "allergens_other"},
	{"coupon's value", "value"},
	{"valid_from and valid_to are required", "valid_from"},
	{"coupon with this code", "code"},
	{"cost center with this code", "code"},
}

// catalogFieldWords are the API's field names in its messages, as the forms
// label them.
var catalogFieldWords = strings.NewReplacer(
	"low_stock_threshold", "low-stock threshold",
	"image_url", "photo URL",
	"max_uses_per_site", "max uses per site",
	"valid_from", "valid from",
	"valid_to", "valid until",
)

// refuseCatalog files err's message under its field, in the forms' words
// and as a sentence: "Low-stock threshold must be between 0 and …".
func refuseCatalog(f form, err error) form {
	msg := pantry.ErrorMessage(err)
	placed := false
	for _, m := range catalogMessageFields {
		if _, ok := f.Values[m.field]; ok && strings.Contains(msg, m.says) {
			f.Errors[m.field], placed = msg, true
			break
		}
	}
	if !placed {
		f = f.refuse(err)
	}
	for name, msg := range f.Errors {
		f.Errors[name] = catalogSentence(catalogFieldWords.Replace(msg))
	}
	return f
}

// catalogRuleErrors adds to f every error the catalog's rules (the
// services' own Normalize) find, not only the first: check runs the
// rules on a probe, and settle(field) puts a valid value in the probe's
// field (false for a field it does not know), so that the next run
// looks further. Fields f already refuses are settled first.
func catalogRuleErrors(f form, check func() error, settle func(field string) bool) form {
	for name := range f.Errors {
		settle(name)
	}
	for range len(f.Values) + 1 {
		err := check()
		if err == nil || !catalogRefusal(err) {
			return f
		}
		found := refuseCatalog(form{Values: f.Values, Errors: map[string]string{}}, err)
		for name, msg := range found.Errors {
			if _, seen := f.Errors[name]; !seen {
				f.Errors[name] = msg
			}
			if !settle(name) {
				return f
			}
		}
	}
	return f
}

// catalogSentence starts s with a capital letter.
func catalogSentence(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// catalogChecked are every value posted for name (checkboxes), trimmed and
// copied, the empty ones left out.
func catalogChecked(c *fiber.Ctx, name string) []string {
	var out []string
	for _, v := range c.Request().PostArgs().PeekMulti(name) {
		if s := strings.TrimSpace(string(v)); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// catalogLabels reads comma-separated labels ("hot, vegan"), leaving out
// empty ones (a trailing comma); the services check the rest.
func catalogLabels(s string) []string {
	out := []string{}
	for _, l := range strings.Split(s, ",") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// catalogOption is a choice: of a select, a datalist or checkboxes.
type catalogOption struct{ Value, Label string }

// catalogCheck is a checkbox.
type catalogCheck struct {
	catalogOption
	Checked bool
}

// catalogInput is a field the "field" template cannot draw: a text input
// with suggestions (Options, as a datalist) or a typing mode, or a select
// (Type "select", of Options).
type catalogInput struct {
	fieldView
	InputMode string
	Class     string // added to the field's, e.g. catalog-short
	Upper     bool   // typed in capitals (a currency code)
	Options   []catalogOption
}
