package web

import (
	"cmp"
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

// A site's stock ledger, newest first, a page at a time: what moved, by
// how much, why and who; and the form that records a delivery (restock),
// waste or a count, as the API's stock movements do (ActionWriteSite,
// then StockService.RecordStockMovement with its rules). People think in
// units delivered, thrown away or counted on the shelf, so the form asks
// for those and works out the ledger's signed change.

// movementReasons are the form's choices, in its order.
var movementReasons = []struct{ Value, Label string }{
	{string(pantry.StockRestock), "Restock: a delivery arrived"},
	{string(pantry.StockWaste), "Waste: thrown away or broken"},
	{string(pantry.StockCount), "Count: what is on the shelf now"},
}

// movementRow is a movement as the history shows it.
type movementRow struct {
	cloud.StockMovement
	When, Item, Change, Why, Who string
}

type movementsPage struct {
	*view
	Site    cloud.Site
	Rows    []movementRow
	Next    string
	Items   []stockRow // the site's items, by name: the form's choices
	Reasons []struct{ Value, Label string }
	Form    form
}

func (a *app) handleMovements(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Title, v.Nav = "Stock movements", "stock"
	p := v.principal()
	ctx, cancel := a.ctx(c)
	defer cancel()
	site, err := a.stockSite(ctx, p, auth.ActionRead, c.Params("site_id"))
	if err != nil {
		return a.errorPage(c, v, err)
	}
	page := movementsPage{view: v, Site: site, Reasons: movementReasons,
		Form: form{Values: map[string]string{"reason": string(pantry.StockRestock)}, Errors: map[string]string{}}}
	if err := a.loadMovements(ctx, p, &page, c.Query("cursor")); err != nil {
		return a.errorPage(c, v, err)
	}
	return render(c, fiber.StatusOK, "stock_movements.html", page)
}

// handleRecordMovement records what the form says and goes back to the
// history; a refused form comes back with what was typed and the error
// next to its field.
func (a *app) handleRecordMovement(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Title, v.Nav = "Stock movements", "stock"
	p := v.principal()
	ctx, cancel := a.ctx(c)
	defer cancel()
	site, err := a.stockSite(ctx, p, auth.ActionWriteSite, c.Params("site_id"))
	if err != nil {
		return a.errorPage(c, v, err)
	}
	page := movementsPage{view: v, Site: site, Reasons: movementReasons, Form: newForm(c, "item", "reason", "quantity")}
	if err := a.loadMovements(ctx, p, &page, ""); err != nil {
		return a.errorPage(c, v, err)
	}
	item, delta, ok := movementDelta(page.Form, page.Items)
	if ok {
		_, err = a.Stock.RecordStockMovement(ctx, p.OrgID, stockActor(v), site.ID, item.ItemID, delta, page.Form.Value("reason"))
		if err == nil {
			return a.done(c, "/stock/"+site.ID+"/movements", movementMessage(pantry.StockReason(page.Form.Value("reason")), item.Name, page.Form.Value("quantity"), delta))
		}
		if pantry.ErrorCode(err) != pantry.EINVALID {
			return a.errorPage(c, v, err)
		}
		page.Form = page.Form.refuse(err)
	}
	return render(c, fiber.StatusBadRequest, "stock_movements.html", page)
}

// movementDelta reads the form: the item, and the ledger's change for
// the reason and quantity typed. ok is false, with f's errors set, if
// the form asks for something that cannot be recorded.
func movementDelta(f form, items []stockRow) (item stockRow, delta int64, ok bool) {
	i := slices.IndexFunc(items, func(it stockRow) bool { return it.ItemID == f.Value("item") })
	if i < 0 {
		f.Errors["item"] = "Choose an item this site stocks."
	} else {
		item = items[i]
	}
	reason := pantry.StockReason(f.Value("reason"))
	if !reason.StaffReason() {
		f.Errors["reason"] = "Choose restock, waste or count."
	}
	q, ok := movementQuantity(f, reason)
	if !ok || len(f.Errors) > 0 {
		return item, 0, false
	}
	delta = ledgerChange(reason, q, item.Level)
	switch {
	case delta == 0:
		f.Errors["quantity"] = fmt.Sprintf("The level is already %d: there is nothing to record.", q)
	case delta < -pantry.MaxStockDelta || delta > pantry.MaxStockDelta:
		f.Errors["quantity"] = fmt.Sprintf("This count is %d away from the level of %d: record a restock or waste first.", delta, item.Level)
	}
	return item, delta, len(f.Errors) == 0
}

// movementQuantity reads the units typed: at least 1 for a restock or
// waste, 0 or more for a count, at most pantry.MaxStockDelta.
func movementQuantity(f form, reason pantry.StockReason) (int64, bool) {
	lowest := int64(1)
	if reason == pantry.StockCount {
		lowest = 0
	}
	q, err := strconv.ParseInt(f.Value("quantity"), 10, 64)
	if err != nil || q < lowest || q > pantry.MaxStockDelta {
		f.Errors["quantity"] = fmt.Sprintf("Enter a whole number of units from %d to %d.", lowest, pantry.MaxStockDelta)
		return 0, false
	}
	return q, true
}

// ledgerChange is the ledger's change for q units: in for a restock, out
// for waste, and for a count the difference from level, the level the
// cloud's ledger has as the form is saved (sales the building has not
// sent yet are not in it; they arrive as their own movements).
func ledgerChange(reason pantry.StockReason, q, level int64) int64 {
	switch reason {
	case pantry.StockWaste:
		return -q
	case pantry.StockCount:
		return q - level
	}
	return q
}

// movementMessage says what was recorded, as the person typed it.
func movementMessage(reason pantry.StockReason, item, quantity string, delta int64) string {
	switch {
	case reason == pantry.StockWaste:
		return fmt.Sprintf("Recorded %s × %s as waste.", quantity, item)
	case reason == pantry.StockCount && delta < 0:
		return fmt.Sprintf("Recorded a count of %s × %s: %d fewer than the ledger said.", quantity, item, -delta)
	case reason == pantry.StockCount:
		return fmt.Sprintf("Recorded a count of %s × %s: %d more than the ledger said.", quantity, item, delta)
	}
	return fmt.Sprintf("Recorded a delivery of %s × %s.", quantity, item)
}

// loadMovements reads a page of the site's ledger from cursor, with the
// site's items (for names, and for the form) and, for those who may see
// them, the names of the people who moved stock.
func (a *app) loadMovements(ctx context.Context, p auth.Principal, page *movementsPage, cursor string) error {
	levels, err := a.stockRows(ctx, p.OrgID, page.Site.ID)
	if err != nil {
		return err
	}
	page.Items = levels
	names := map[string]string{}
	for _, it := range levels {
		names[it.ItemID] = it.Name
	}
	moves, next, err := a.Stock.ListStockMovements(ctx, p.OrgID, page.Site.ID, "", cloud.Page{Limit: cloud.DefaultPageSize, Cursor: cursor})
	if err != nil {
		return err
	}
	people, err := a.movementPeople(ctx, p)
	if err != nil {
		return err
	}
	now, loc := a.Now(), stockZone(page.Site)
	for _, m := range moves {
		item := names[m.ItemID]
		if item == "" {
			item = "Item " + m.ItemID
		}
		page.Rows = append(page.Rows, movementRow{StockMovement: m, When: placedText(now, m.CreatedAt, loc), Item: item,
			Change: signedUnits(m.Delta), Why: title(string(m.Reason)), Who: movementWho(m, p, people)})
	}
	page.Next = next
	return nil
}

// movementPeople names the organization's users by id, for those who may
// read the list of users (the API's rule: ActionManageUsers); nil for
// the others, who see "a user".
func (a *app) movementPeople(ctx context.Context, p auth.Principal) (map[string]string, error) {
	if p.Can(auth.ActionManageUsers, "") != nil {
		return nil, nil
	}
	users, _, err := a.Users.ListUsers(ctx, p.OrgID, cloud.Page{Limit: cloud.MaxPageSize})
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(users))
	for _, u := range users {
		out[u.ID] = cmp.Or(u.Name, u.Email)
	}
	return out, nil
}

// movementWho says who made m.
func movementWho(m cloud.StockMovement, p auth.Principal, people map[string]string) string {
	kind, id, _ := strings.Cut(m.Actor, ":")
	switch {
	case m.Origin == "edge" && m.OrderID != "":
		return "An order at the building"
	case m.Origin == "edge":
		return "Staff at the building"
	case kind == "user" && id == p.ID:
		return "You"
	case kind == "user" && people[id] != "":
		return people[id]
	case kind == "user":
		return "A user of the dashboard"
	case kind == "api_key":
		return "A technician's API key"
	}
	return "The system"
}

// signedUnits writes a change with its sign: "+12", "−3".
func signedUnits(n int64) string {
	if n < 0 {
		return "−" + strconv.FormatInt(-n, 10)
	}
	return "+" + strconv.FormatInt(n, 10)
}
