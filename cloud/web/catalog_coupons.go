package web

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/pantry"
)

// Coupons: the list and a form for each (a new coupon is active; its
// page can make it inactive, which takes it off every site). A coupon is valid at every site
// between two instants; the form takes them as local date-times in a
// time zone it names and offers (the sites' zones, the most common first,
// and UTC). A fixed coupon's value is typed as an amount in the currency
// most sites sell in and kept in its minor units, which is what each site
// deducts in its own currency (cloud.Coupon).

// couponFields are the coupon form's fields.
var couponFields = []string{"code", "kind", "value", "valid_from", "valid_to", "zone", "max_uses_per_site", "active"}

// localLayouts are how a datetime-local input sends a time (with seconds
// when step allows them), and how a person types one where the browser
// has no picker.
var localLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02 15:04:05"}

type couponRow struct {
	cloud.Coupon
	Discount, From, To, Uses, State string
}

type couponsPage struct {
	catalogView
	Rows  []couponRow
	Zone  string
	Next  string
	Paged bool
}

func (a *app) handleCoupons(c *fiber.Ctx) error {
	cv, err := catalogPage(c, "Coupons", "coupons", auth.ActionRead)
	if err != nil {
		return a.errorPage(c, cv.view, err)
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	d, err := a.loadCatalogDefaults(ctx, cv.principal())
	if err != nil {
		return a.errorPage(c, cv.view, err)
	}
	cursor := catalogCursor(c)
	coupons, next, err := a.Catalog.ListCoupons(ctx, cv.Session.OrgID, cloud.Page{Limit: cloud.DefaultPageSize, Cursor: cursor})
	if err != nil {
		return a.errorPage(c, cv.view, err)
	}
	page := couponsPage{catalogView: cv, Zone: d.Zone(), Next: next, Paged: cursor != ""}
	for _, cp := range coupons {
		page.Rows = append(page.Rows, newCouponRow(cp, d, a.Now()))
	}
	return render(c, fiber.StatusOK, "catalog_coupons.html", page)
}

// newCouponRow lays coupon cp out for people: its times in the sites'
// zone, its discount in their currency, its state as of now.
func newCouponRow(cp cloud.Coupon, d catalogDefaults, now time.Time) couponRow {
	loc := zoneOrUTC(d.Zone())
	uses := "Unlimited"
	if cp.MaxUsesPerSite > 0 {
		uses = strconv.FormatInt(cp.MaxUsesPerSite, 10)
	}
	return couponRow{Coupon: cp, Discount: discountText(cp, d.Currency()),
		From: cp.ValidFrom.In(loc).Format("2006-01-02 15:04"), To: cp.ValidTo.In(loc).Format("2006-01-02 15:04"),
		Uses: uses, State: couponState(cp, now)}
}

// discountText says what a coupon takes off: "10 %", "EUR 2.50".
func discountText(cp cloud.Coupon, currency string) string {
	if cp.Kind == pantry.CouponPercent {
		return strconv.FormatInt(cp.Value, 10) + " %"
	}
	m := pantry.Money{Amount: cp.Value, Currency: currency}
	if currency == "" {
		return m.Major()
	}
	return m.String()
}

// couponState says whether people can use a coupon now: a word, which
// the list also shows as a colour.
func couponState(cp cloud.Coupon, now time.Time) string {
	switch {
	case cp.ArchivedAt != nil:
		return "inactive"
	case now.Before(cp.ValidFrom):
		return "scheduled"
	case !now.Before(cp.ValidTo):
		return "expired"
	}
	return "active"
}

func zoneOrUTC(name string) *time.Location {
	if loc, err := time.LoadLocation(name); err == nil {
		return loc
	}
	return time.UTC
}

// couponPage is a coupon's page, or the form of a new one (Coupon nil).
type couponPage struct {
	catalogView
	Coupon   *cloud.Coupon
	Form     form
	Defaults catalogDefaults
	Row      couponRow
}

// KindInput chooses percent or fixed.
func (p couponPage) KindInput() catalogInput {
	return catalogInput{fieldView: field(p.Form, "kind", "Kind", "select!", ""), Options: []catalogOption{
		{string(pantry.CouponPercent), "Percent off the order"}, {string(pantry.CouponFixed), "Fixed amount off the order"}}}
}

// ValueInput is the discount: a percentage, or an amount.
func (p couponPage) ValueInput() catalogInput {
	cur := p.Defaults.Currency()
	hint := "For a percent coupon, 1 to 100. For a fixed one, the amount off, like " + priceExample(cur)
	if cur != "" {
		hint += " (" + cur + ")"
	}
	hint += "."
	if len(p.Defaults.Currencies) > 1 {
		hint += " Sites in another currency take off as many of their own minor units."
	}
	return catalogInput{fieldView: field(p.Form, "value", "Value", "text!", hint), InputMode: "decimal", Class: "catalog-short"}
}

// ZoneInput chooses the zone of the validity window's times.
func (p couponPage) ZoneInput() catalogInput {
	in := catalogInput{fieldView: field(p.Form, "zone", "Time zone of these times", "select!",
		"Valid from and until are read in this zone.")}
	for _, z := range p.Defaults.Zones {
		in.Options = append(in.Options, catalogOption{z, z})
	}
	return in
}

// couponForm is coupon cp as its form shows it, times in zone.
func couponForm(cp cloud.Coupon, d catalogDefaults) form {
	loc := zoneOrUTC(d.Zone())
	value := strconv.FormatInt(cp.Value, 10)
	if cp.Kind == pantry.CouponFixed {
		value = (pantry.Money{Amount: cp.Value, Currency: d.Currency()}).Major()
	}
	active := "on"
	if cp.ArchivedAt != nil {
		active = ""
	}
	return form{Errors: map[string]string{}, Values: map[string]string{
		"code": cp.Code, "kind": string(cp.Kind), "value": value, "valid_from": localText(cp.ValidFrom, loc),
		"valid_to": localText(cp.ValidTo, loc), "zone": d.Zone(), "max_uses_per_site": strconv.FormatInt(cp.MaxUsesPerSite, 10),
		"active": active,
	}}
}

// localText is t as a datetime-local input shows it in loc: to the
// minute, or the second when it has seconds.
func localText(t time.Time, loc *time.Location) string {
	t = t.In(loc)
	if t.Second() != 0 {
		return t.Format("2006-01-02T15:04:05")
	}
	return t.Format("2006-01-02T15:04")
}

// readCoupon reads the posted coupon form; stored, if not nil, is the
// coupon being edited, whose times are kept to the microsecond when the
// form shows them unchanged (the form shows whole seconds).
func readCoupon(c *fiber.Ctx, d catalogDefaults, stored *cloud.Coupon) (form, cloud.CouponInput) {
	f := newForm(c, couponFields...)
	in := cloud.CouponInput{Code: f.Value("code"), Kind: pantry.CouponKind(f.Value("kind"))}
	zone := f.Value("zone")
	if zone == "" {
		zone = d.Zone()
		f.Values["zone"] = zone
	}
	if !slices.Contains(d.Zones, zone) {
		f.Errors["zone"] = "Time zone must be one of " + strings.Join(d.Zones, ", ") + "."
	}
	loc := zoneOrUTC(zone)
	switch v := f.Value("value"); in.Kind {
	case pantry.CouponPercent:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			f.Errors["value"] = "Value must be a whole number of percent, from 1 to 100."
		}
		in.Value = n
	case pantry.CouponFixed:
		m, err := cloud.ParseAmount("value", v, d.Currency())
		if err != nil {
			f.Errors["value"] = catalogSentence(pantry.ErrorMessage(err))
		}
		in.Value = m.Amount
	}
	var storedFrom, storedTo time.Time
	if stored != nil {
		storedFrom, storedTo = stored.ValidFrom, stored.ValidTo
	}
	in.ValidFrom = readLocal(&f, "valid_from", "Valid from", loc, storedFrom)
	in.ValidTo = readLocal(&f, "valid_to", "Valid until", loc, storedTo)
	if s := f.Value("max_uses_per_site"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			f.Errors["max_uses_per_site"] = "Max uses per site must be a whole number (0 for unlimited)."
		}
		in.MaxUsesPerSite = n
	}
	return couponRuleErrors(f, in), in
}

// couponRuleErrors adds to f every error the catalog's rules find in in.
func couponRuleErrors(f form, in cloud.CouponInput) form {
	settle := func(field string) bool {
		switch field {
		case "code":
			in.Code = "X"
		case "kind", "value":
			in.Kind, in.Value = pantry.CouponPercent, 1
		case "valid_from", "valid_to", "zone":
			in.ValidFrom = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
			in.ValidTo = in.ValidFrom.Add(time.Hour)
		case "max_uses_per_site":
			in.MaxUsesPerSite = 0
		default:
			return false
		}
		return true
	}
	return catalogRuleErrors(f, func() error { probe := in; return probe.Normalize() }, settle)
}

// readLocal reads field as a local time in loc, or files why not; a time
// equal to stored but for its fraction of a second is stored.
func readLocal(f *form, name, label string, loc *time.Location, stored time.Time) time.Time {
	s := f.Value(name)
	if s == "" {
		f.Errors[name] = label + " is required: a date and a time."
		return time.Time{}
	}
	for _, layout := range localLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			if !stored.IsZero() && t.Equal(stored.Truncate(time.Second)) {
				return stored
			}
			return t
		}
	}
	f.Errors[name] = label + " must be a date and a time, like 2025-06-01 09:00."
	return time.Time{}
}

func (a *app) handleNewCoupon(c *fiber.Ctx) error {
	cv, err := catalogPage(c, "New coupon", "coupons", auth.ActionWriteCatalog)
	if err != nil {
		return a.errorPage(c, cv.view, err)
	}
	return a.renderCoupon(c, fiber.StatusOK, couponPage{catalogView: cv, Form: form{Values: map[string]string{
		"kind": string(pantry.CouponPercent), "max_uses_per_site": "0"}, Errors: map[string]string{}}})
}

// renderCoupon shows a coupon's page with its form's choices.
func (a *app) renderCoupon(c *fiber.Ctx, status int, page couponPage) error {
	if page.Defaults.Zones == nil {
		ctx, cancel := a.ctx(c)
		defer cancel()
		var err error
		if page.Defaults, err = a.loadCatalogDefaults(ctx, page.principal()); err != nil {
			return a.errorPage(c, page.view, err)
		}
	}
	if page.Form.Value("zone") == "" {
		page.Form.Values["zone"] = page.Defaults.Zone()
	}
	if page.Coupon != nil {
		page.Row = newCouponRow(*page.Coupon, page.Defaults, a.Now())
	}
	return render(c, status, "catalog_coupon.html", page)
}

func (a *app) handleCreateCoupon(c *fiber.Ctx) error {
	cv, err := catalogPage(c, "New coupon", "coupons", auth.ActionWriteCatalog)
	if err != nil {
		return a.errorPage(c, cv.view, err)
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	d, err := a.loadCatalogDefaults(ctx, cv.principal())
	if err != nil {
		return a.errorPage(c, cv.view, err)
	}
	f, in := readCoupon(c, d, nil)
	page := couponPage{catalogView: cv, Form: f, Defaults: d}
	if f.Refused() {
		return a.renderCoupon(c, fiber.StatusBadRequest, page)
	}
	cp, err := a.Catalog.CreateCoupon(ctx, cv.Session.OrgID, catalogActor(cv.view), in)
	if err != nil {
		if !catalogRefusal(err) {
			return a.errorPage(c, cv.view, err)
		}
		page.Form = refuseCatalog(f, err)
		return a.renderCoupon(c, catalogRefusedStatus(err), page)
	}
	return a.done(c, "/catalog/coupons", "Added coupon "+cp.Code+".")
}

func (a *app) handleCoupon(c *fiber.Ctx) error {
	cv, err := catalogPage(c, "Coupon", "coupons", auth.ActionRead)
	if err != nil {
		return a.errorPage(c, cv.view, err)
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	cp, err := a.Catalog.GetCoupon(ctx, cv.Session.OrgID, catalogParam(c, "coupon_id"))
	if err != nil {
		return a.errorPage(c, cv.view, err)
	}
	d, err := a.loadCatalogDefaults(ctx, cv.principal())
	if err != nil {
		return a.errorPage(c, cv.view, err)
	}
	cv.Title = "Coupon " + cp.Code
	return a.renderCoupon(c, fiber.StatusOK, couponPage{catalogView: cv, Coupon: &cp, Form: couponForm(cp, d), Defaults: d})
}

func (a *app) handleUpdateCoupon(c *fiber.Ctx) error {
	cv, err := catalogPage(c, "Coupon", "coupons", auth.ActionWriteCatalog)
	if err != nil {
		return a.errorPage(c, cv.view, err)
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	cp, err := a.Catalog.GetCoupon(ctx, cv.Session.OrgID, catalogParam(c, "coupon_id"))
	if err != nil {
		return a.errorPage(c, cv.view, err)
	}
	d, err := a.loadCatalogDefaults(ctx, cv.principal())
	if err != nil {
		return a.errorPage(c, cv.view, err)
	}
	cv.Title = "Coupon " + cp.Code
	f, in := readCoupon(c, d, &cp)
	page := couponPage{catalogView: cv, Coupon: &cp, Form: f, Defaults: d}
	if f.Refused() {
		return a.renderCoupon(c, fiber.StatusBadRequest, page)
	}
	archived := f.Value("active") == ""
	saved, err := a.Catalog.UpdateCoupon(ctx, cv.Session.OrgID, catalogActor(cv.view), cp.ID, cloud.CouponUpdate{
		Code: &in.Code, Kind: &in.Kind, Value: &in.Value, ValidFrom: &in.ValidFrom, ValidTo: &in.ValidTo,
		MaxUsesPerSite: &in.MaxUsesPerSite, Archived: &archived})
	if err != nil {
		if !catalogRefusal(err) {
			return a.errorPage(c, cv.view, err)
		}
		page.Form = refuseCatalog(f, err)
		return a.renderCoupon(c, catalogRefusedStatus(err), page)
	}
	return a.done(c, "/catalog/coupons", "Saved coupon "+saved.Code+".")
}
