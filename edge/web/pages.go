package web

import (
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/httpx"
	"github.com/pantry/pantry/internal/pantry"
)

// Every page, style and script is embedded: the edge works with no
// network beyond the building's LAN.
//
//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"money":  func(m pantry.Money) string { return m.String() },
	"digits": pantry.MinorDigits,
	"title":  statusTitle,
	"steps": func() []pantry.OrderStatus {
		return []pantry.OrderStatus{pantry.StatusPlaced, pantry.StatusAccepted, pantry.StatusPreparing, pantry.StatusReady, pantry.StatusDelivered}
	},
	"reached": reached,
}).ParseFS(templateFS, "templates/*.html"))

// reached reports whether an order in status cur has passed step.
func reached(cur, step pantry.OrderStatus) bool {
	order := map[pantry.OrderStatus]int{pantry.StatusPlaced: 1, pantry.StatusAccepted: 2, pantry.StatusPreparing: 3, pantry.StatusReady: 4, pantry.StatusDelivered: 5}
	return order[cur] >= order[step]
}

func (a *app) handleStatic() fiber.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	return filesystem.New(filesystem.Config{Root: http.FS(sub), PathPrefix: "", MaxAge: 3600})
}

// pageCSP lets a page load and reach only what this node serves: no inline
// script or style, nothing from the internet.
const pageCSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'"

func render(c *fiber.Ctx, status int, name string, data any) error {
	c.Status(status).Type("html", "utf-8")
	c.Set("Content-Security-Policy", pageCSP)
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "no-referrer")
	return pages.ExecuteTemplate(c.Response().BodyWriter(), name, data)
}

func (a *app) errorPage(c *fiber.Ctx, err error) error {
	status, _ := httpx.Resolve(err)
	if status >= http.StatusInternalServerError {
		a.Log.Error("page failed", "path", c.Path(), "err", err)
	}
	return render(c, status, "error.html", map[string]any{"Message": pantry.ErrorMessage(err)})
}

func (a *app) handleHome(c *fiber.Ctx) error {
	return render(c, http.StatusOK, "home.html", nil)
}

type roomPage struct {
	Space  pantry.Space
	Items  []pantry.Item
	Error  string
	Key    string
	Form   map[string]string
	Placed []pantry.Order
}

// handleRoomPage opens (or resumes) the room's session in a cookie and
// shows the menu.
func (a *app) handleRoomPage(c *fiber.Ctx) error {
	sess, err := a.pageSession(c, c.Params("code"))
	if err != nil {
		return a.errorPage(c, err)
	}
	return a.renderRoom(c, http.StatusOK, sess, c.Params("code"), "", nil)
}

// pageSession resumes the cookie's session if it is live and for this
// room, and otherwise opens a new one and sets the cookie.
func (a *app) pageSession(c *fiber.Ctx, code string) (pantry.Session, error) {
	space, err := a.Store.SpaceByCode(a.ctx(c), code)
	if err != nil {
		return pantry.Session{}, err
	}
	if sess, err := a.Store.SessionByToken(a.ctx(c), c.Cookies(sessionCookie)); err == nil && sess.SpaceID == space.ID {
		return sess, nil
	}
	sess, token, err := a.Store.OpenSession(a.ctx(c), code, a.SessionTTL)
	if err != nil {
		return sess, err
	}
	c.Cookie(&fiber.Cookie{
		Name: sessionCookie, Value: token, Path: "/", Expires: sess.ExpiresAt,
		HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode,
	})
	return sess, nil
}

func (a *app) renderRoom(c *fiber.Ctx, status int, sess pantry.Session, code, msg string, form map[string]string) error {
	items, err := a.Store.Menu(a.ctx(c))
	if err != nil {
		return a.errorPage(c, err)
	}
	placed, err := a.Store.Orders(a.ctx(c), sessionFilter(sess.ID))
	if err != nil {
		return a.errorPage(c, err)
	}
	if form == nil {
		form = map[string]string{}
	}
	return render(c, status, "room.html", roomPage{
		Space: pantry.Space{ID: sess.SpaceID, Name: sess.SpaceName, Code: code},
		Items: items, Error: msg, Key: pantry.NewSecret(16), Form: form, Placed: placed,
	})
}

// handleOrderForm places an order from the plain HTML form, so ordering
// works with JavaScript disabled. Success redirects to the order's page
// (POST/redirect/GET: a reload cannot order twice, and the form's hidden
// Idempotency-Key catches a double tap).
func (a *app) handleOrderForm(c *fiber.Ctx) error {
	code := c.Params("code")
	space, err := a.Store.SpaceByCode(a.ctx(c), code)
	if err != nil {
		return a.errorPage(c, err)
	}
	sess, err := a.Store.SessionByToken(a.ctx(c), c.Cookies(sessionCookie))
	if err != nil || sess.SpaceID != space.ID {
		return c.Redirect("/q/"+code, http.StatusSeeOther)
	}
	c.Locals("session", sess)
	req, form := parseOrderForm(c)
	if err := req.Validate(); err != nil {
		return a.renderRoom(c, http.StatusBadRequest, sess, code, pantry.ErrorMessage(err), form)
	}
	if err := a.formDeliverBy(c, &req, form["deliver_at"]); err != nil {
		return a.renderRoom(c, http.StatusBadRequest, sess, code, pantry.ErrorMessage(err), form)
	}
	res, err := a.placeOrder(c, form["key"], req)
	if err != nil {
		status, _ := httpx.Resolve(err)
		if status >= 500 {
			return a.errorPage(c, err)
		}
		return a.renderRoom(c, status, sess, code, pantry.ErrorMessage(err), form)
	}
	return c.Redirect("/orders/"+res.Order.ID, http.StatusSeeOther)
}

func parseOrderForm(c *fiber.Ctx) (pantry.PlaceOrder, map[string]string) {
	form := map[string]string{}
	req := pantry.PlaceOrder{}
	c.Request().PostArgs().VisitAll(func(k, v []byte) {
		key, val := string(k), string(v)
		form[key] = val
		if id, ok := strings.CutPrefix(key, "qty_"); ok && strings.TrimSpace(val) != "" && val != "0" {
			n, err := strconv.Atoi(strings.TrimSpace(val))
			if err != nil {
				n = -1 // Validate reports it
			}
			req.Lines = append(req.Lines, pantry.LineRequest{ItemID: id, Quantity: n, Note: form["note_"+id]})
		}
	})
	for i := range req.Lines {
		req.Lines[i].Note = form["note_"+req.Lines[i].ItemID]
	}
	req.Note, req.DeliverTo = form["note"], pantry.Delivery(form["deliver_to"])
	req.Coupon, req.CostCenter = strings.TrimSpace(form["coupon"]), strings.TrimSpace(form["cost_center"])
	return req, form
}

// requirePageSession admits page requests with a live cookie session.
func (a *app) requirePageSession(c *fiber.Ctx) error {
	sess, err := a.Store.SessionByToken(a.ctx(c), c.Cookies(sessionCookie))
	if err != nil {
		return a.errorPage(c, err)
	}
	c.Locals("session", sess)
	return c.Next()
}

type orderPage struct {
	// Unseen: no pantry tablet has been online since the order was placed.
	Unseen    bool
	Order     pantry.Order
	Code      string
	PlacedAgo string
	// DeliverBy says when the order is wanted on the building's clock
	// ("Deliver by 14:30"), "" for as soon as possible; DeliverByAt is
	// that instant in RFC 3339, for machines.
	DeliverBy, DeliverByAt string
}

func (a *app) handleOrderPage(c *fiber.Ctx) error {
	o, err := a.sessionOrder(c, c.Params("id"))
	if err != nil {
		return a.errorPage(c, err)
	}
	code := ""
	if sp, err := a.spaceCode(c, o.SpaceID); err == nil {
		code = sp
	}
	// Honest about a pantry nobody is watching: a placed order that no
	// tablet showing its lines has been connected since.
	unseen := o.Status == pantry.StatusPlaced && a.StaffSeen != nil && !a.StaffSeen(o)
	loc := a.location(c)
	page := orderPage{Order: o, Code: code, PlacedAgo: o.CreatedAt.In(loc).Format("15:04"), Unseen: unseen}
	if o.DeliverBy != nil {
		page.DeliverBy, page.DeliverByAt = deliverByText(o, loc), o.DeliverBy.UTC().Format(time.RFC3339)
	}
	return render(c, http.StatusOK, "order.html", page)
}

func sessionFilter(sessionID string) sqlite.OrderFilter {
	return sqlite.OrderFilter{SessionID: sessionID, Limit: 50}
}

func (a *app) spaceCode(c *fiber.Ctx, spaceID string) (string, error) {
	spaces, err := a.Store.Spaces(a.ctx(c))
	if err != nil {
		return "", err
	}
	for _, sp := range spaces {
		if sp.ID == spaceID {
			return sp.Code, nil
		}
	}
	return "", pantry.Errorf(pantry.ENOTFOUND, "space %s not found", spaceID)
}
