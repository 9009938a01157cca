package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
)

// Cost centers: the accounting codes orders can be charged to, listed,
// added and changed; an inactive one is no longer offered by the sites,
// and the orders already charged to it keep its code.

var costCenterFields = []string{"code", "name", "active"}

type costCentersPage struct {
	catalogView
	Rows  []cloud.CostCenter
	Next  string
	Paged bool
}

func (a *app) handleCostCenters(c *fiber.Ctx) error {
	cv, err := catalogPage(c, "Cost centers", "cost-centers", auth.ActionRead)
	if err != nil {
		return a.errorPage(c, cv.view, err)
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	cursor := catalogCursor(c)
	rows, next, err := a.Catalog.ListCostCenters(ctx, cv.Session.OrgID, cloud.Page{Limit: cloud.DefaultPageSize, Cursor: cursor})
	if err != nil {
		return a.errorPage(c, cv.view, err)
	}
	return render(c, fiber.StatusOK, "catalog_costcenters.html", costCentersPage{catalogView: cv, Rows: rows, Next: next, Paged: cursor != ""})
}

// costCenterPage is a cost center's page, or the form of a new one
// (CostCenter nil).
type costCenterPage struct {
	catalogView
	CostCenter *cloud.CostCenter
	Form       form
}

func costCenterForm(cc cloud.CostCenter) form {
	active := "on"
	if cc.ArchivedAt != nil {
		active = ""
	}
	return form{Errors: map[string]string{}, Values: map[string]string{"code": cc.Code, "name": cc.Name, "active": active}}
}

// readCostCenter reads the posted form and checks it with the catalog's
// rules, every field at once.
func readCostCenter(c *fiber.Ctx) form {
	f := newForm(c, costCenterFields...)
	in := cloud.CostCenterInput{Code: f.Value("code"), Name: f.Value("name")}
	settle := func(field string) bool {
		switch field {
		case "code":
			in.Code = "X"
		case "name":
			in.Name = ""
		default:
			return false
		}
		return true
	}
	return catalogRuleErrors(f, func() error { probe := in; return probe.Normalize() }, settle)
}

func (a *app) handleNewCostCenter(c *fiber.Ctx) error {
	cv, err := catalogPage(c, "New cost center", "cost-centers", auth.ActionWriteCatalog)
	if err != nil {
		return a.errorPage(c, cv.view, err)
	}
	return render(c, fiber.StatusOK, "catalog_costcenter.html", costCenterPage{catalogView: cv,
		Form: form{Values: map[string]string{}, Errors: map[string]string{}}})
}

func (a *app) handleCreateCostCenter(c *fiber.Ctx) error {
	cv, err := catalogPage(c, "New cost center", "cost-centers", auth.ActionWriteCatalog)
	if err != nil {
		return a.errorPage(c, cv.view, err)
	}
	f := readCostCenter(c)
	if f.Refused() {
		return render(c, fiber.StatusBadRequest, "catalog_costcenter.html", costCenterPage{catalogView: cv, Form: f})
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	cc, err := a.Catalog.CreateCostCenter(ctx, cv.Session.OrgID, catalogActor(cv.view), cloud.CostCenterInput{Code: f.Value("code"), Name: f.Value("name")})
	if err != nil {
		if !catalogRefusal(err) {
			return a.errorPage(c, cv.view, err)
		}
		return render(c, catalogRefusedStatus(err), "catalog_costcenter.html", costCenterPage{catalogView: cv, Form: refuseCatalog(f, err)})
	}
	return a.done(c, "/catalog/cost-centers", "Added cost center "+cc.Code+".")
}

func (a *app) handleCostCenter(c *fiber.Ctx) error {
	cv, err := catalogPage(c, "Cost center", "cost-centers", auth.ActionRead)
	if err != nil {
		return a.errorPage(c, cv.view, err)
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	cc, err := a.Catalog.GetCostCenter(ctx, cv.Session.OrgID, catalogParam(c, "cost_center_id"))
	if err != nil {
		return a.errorPage(c, cv.view, err)
	}
	cv.Title = "Cost center " + cc.Code
	return render(c, fiber.StatusOK, "catalog_costcenter.html", costCenterPage{catalogView: cv, CostCenter: &cc, Form: costCenterForm(cc)})
}

func (a *app) handleUpdateCostCenter(c *fiber.Ctx) error {
	cv, err := catalogPage(c, "Cost center", "cost-centers", auth.ActionWriteCatalog)
	if err != nil {
		return a.errorPage(c, cv.view, err)
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	cc, err := a.Catalog.GetCostCenter(ctx, cv.Session.OrgID, catalogParam(c, "cost_center_id"))
	if err != nil {
		return a.errorPage(c, cv.view, err)
	}
	cv.Title = "Cost center " + cc.Code
	f := readCostCenter(c)
	if f.Refused() {
		return render(c, fiber.StatusBadRequest, "catalog_costcenter.html", costCenterPage{catalogView: cv, CostCenter: &cc, Form: f})
	}
	code, name, archived := f.Value("code"), f.Value("name"), f.Value("active") == ""
	saved, err := a.Catalog.UpdateCostCenter(ctx, cv.Session.OrgID, catalogActor(cv.view), cc.ID,
		cloud.CostCenterUpdate{Code: &code, Name: &name, Archived: &archived})
	if err != nil {
		if !catalogRefusal(err) {
			return a.errorPage(c, cv.view, err)
		}
		return render(c, catalogRefusedStatus(err), "catalog_costcenter.html", costCenterPage{catalogView: cv, CostCenter: &cc, Form: refuseCatalog(f, err)})
	}
	return a.done(c, "/catalog/cost-centers", "Saved cost center "+saved.Code+".")
}
