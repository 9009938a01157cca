package web

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/pantry"
)

// A site's par levels are set in one form: a field per item the site
// stocks, empty for no par level. Only the fields that changed are sent
// to the store, so two people editing different items do not undo each
// other, and a form saved unchanged writes nothing.

// parRow is one item of the par levels' form.
type parRow struct {
	ItemID, Name string
	Level        int64
	Value, Err   string // what was typed, and why it was refused
}

// Field is the row's input name.
func (r parRow) Field() string { return parField(r.ItemID) }

func parField(itemID string) string { return "par-" + itemID }

type parPage struct {
	*view
	Site  cloud.Site
	Rows  []parRow
	Error string // about the form as a whole
}

func (a *app) handleParForm(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Title, v.Nav = "Par levels", "stock"
	p := v.principal()
	ctx, cancel := a.ctx(c)
	defer cancel()
	site, err := a.stockSite(ctx, p, auth.ActionWriteSite, c.Params("site_id"))
	if err != nil {
		return a.errorPage(c, v, err)
	}
	rows, err := a.stockRows(ctx, p.OrgID, site.ID)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	page := parPage{view: v, Site: site, Rows: make([]parRow, len(rows))}
	for i, r := range rows {
		page.Rows[i] = parRow{ItemID: r.ItemID, Name: r.Name, Level: r.Level}
		if r.HasPar {
			page.Rows[i].Value = strconv.FormatInt(r.Par, 10)
		}
	}
	v.Title = "Par levels at " + site.Name
	return render(c, fiber.StatusOK, "stock_par.html", page)
}

// handleSetParLevels saves the form: the checks and the service call of
// a write to the site's stock (ActionWriteSite), then back to the stock
// page; a refused form comes back with what was typed and each error
// next to its item.
func (a *app) handleSetParLevels(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Title, v.Nav = "Par levels", "stock"
	p := v.principal()
	ctx, cancel := a.ctx(c)
	defer cancel()
	site, err := a.stockSite(ctx, p, auth.ActionWriteSite, c.Params("site_id"))
	if err != nil {
		return a.errorPage(c, v, err)
	}
	rows, err := a.stockRows(ctx, p.OrgID, site.ID)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	page := parPage{view: v, Site: site}
	changes, refused := readParForm(c, rows, &page)
	v.Title = "Par levels at " + site.Name
	if refused {
		page.Error = "Nothing was saved: correct the par levels marked below."
		return render(c, fiber.StatusBadRequest, "stock_par.html", page)
	}
	if len(changes) == 0 {
		return a.done(c, "/stock?site="+site.ID, "No par level changed.")
	}
	if _, err := a.Stock.SetParLevels(ctx, p.OrgID, stockActor(v), site.ID, changes); err != nil {
		if pantry.ErrorCode(err) != pantry.EINVALID {
			return a.errorPage(c, v, err)
		}
		page.Error = pantry.ErrorMessage(err)
		return render(c, fiber.StatusBadRequest, "stock_par.html", page)
	}
	return a.done(c, "/stock?site="+site.ID, fmt.Sprintf("Par levels saved: %d changed.", len(changes)))
}

// readParForm reads the form's field of each of rows into page.Rows and
// returns the changes it asks for; refused is true if a field is not a
// par level. An item without a field in the form (one put on the menu
// since the form was opened) keeps its par level: only an emptied field
// clears one.
func readParForm(c *fiber.Ctx, rows []stockRow, page *parPage) (changes []cloud.ParLevelChange, refused bool) {
	posted := c.Context().PostArgs()
	for _, r := range rows {
		row := parRow{ItemID: r.ItemID, Name: r.Name, Level: r.Level}
		if !posted.Has(parField(r.ItemID)) {
			if r.HasPar {
				row.Value = strconv.FormatInt(r.Par, 10)
			}
			page.Rows = append(page.Rows, row)
			continue
		}
		typed := strings.TrimSpace(string(posted.Peek(parField(r.ItemID))))
		row.Value = typed
		par, msg := parseParLevel(typed)
		row.Err = msg
		page.Rows = append(page.Rows, row)
		switch {
		case msg != "":
			refused = true
		case par == nil && r.HasPar, par != nil && (!r.HasPar || *par != r.Par):
			changes = append(changes, cloud.ParLevelChange{ItemID: r.ItemID, Par: par})
		}
	}
	return changes, refused
}

// parseParLevel reads a typed par level: nil for none (empty), or a
// whole number from 0 to cloud.MaxParLevel; msg says what is wrong.
func parseParLevel(s string) (par *int64, msg string) {
	if s == "" {
		return nil, ""
	}
	n, err := strconv.ParseInt(s, 10, 64)
	switch {
	case err != nil && strings.HasPrefix(s, "-") && stockDigits(s[1:]):
		return nil, "A par level cannot be negative."
	case err != nil && stockDigits(strings.TrimPrefix(s, "+")):
		return nil, fmt.Sprintf("A par level is at most %d.", cloud.MaxParLevel)
	case err != nil:
		return nil, fmt.Sprintf("Enter a whole number from 0 to %d, or leave it empty for no par level.", cloud.MaxParLevel)
	case n < 0:
		return nil, "A par level cannot be negative."
	case n > cloud.MaxParLevel:
		return nil, fmt.Sprintf("A par level is at most %d.", cloud.MaxParLevel)
	}
	return &n, ""
}

func stockDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
