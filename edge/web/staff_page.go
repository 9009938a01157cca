package web

import (
	"encoding/json"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/httpx"
	"github.com/pantry/pantry/internal/pantry"
)

// The staff app (/staff) is the kitchen display pantry staff work the
// queue on. It is the one page that JavaScript drives (static/staff.js:
// live over MQTT, actions over the staff API), but the server still
// renders its sign-in and the queue as it stands, so a reload shows work
// at once and a tablet without a working script still sees the tickets.
//
// Signing in sets two cookies: the staff token (HttpOnly, SameSite=Strict,
// so no other site can act with it) and the chosen station. The page
// hands the token to its own script, which uses it as the bearer of the
// staff API and as the MQTT password of the tablet's broker login.

const (
	staffCookie   = "pantry_staff"
	stationCookie = "pantry_station"
)

// staffPage is what staff.html renders.
type staffPage struct {
	// Signed-out form.
	Error    string
	Username string
	Stations []string
	// Signed-in app.
	Tablet  sqlite.Tablet
	Station string
	Token   string
	WSPort  string
	Orders  []pantry.Order // the station's open orders
	Now     time.Time

	escalations Escalations
	// RepeatSeconds is how often the tablet rings again, if asked to, while
	// a ticket waits to be accepted.
	RepeatSeconds int
}

// EscalationJSON hands the stations' escalations to the page's script, so
// the server's tickets and the live ones agree.
func (p staffPage) EscalationJSON() (template.JS, error) {
	b, err := json.Marshal(p.escalations.seconds())
	return template.JS(b), err
}

// handleStaffPage shows the app to a signed-in tablet and the sign-in form
// to anyone else.
func (a *app) handleStaffPage(c *fiber.Ctx) error {
	token := c.Cookies(staffCookie)
	t, err := a.Store.StaffByToken(a.ctx(c), token)
	if err != nil {
		return a.renderStaffLogin(c, http.StatusOK, "", "")
	}
	orders, err := a.Store.Orders(a.ctx(c), sqlite.OrderFilter{Status: "open"})
	if err != nil {
		return a.errorPage(c, err)
	}
	station := cleanStation(c.Cookies(stationCookie))
	orders = slices.DeleteFunc(orders, func(o pantry.Order) bool { return !forStation(o, station) })
	slices.SortStableFunc(orders, func(x, y pantry.Order) int {
		return a.Escalations.ForOrder(x, station).FireAt(x).Compare(a.Escalations.ForOrder(y, station).FireAt(y))
	})
	c.Set(fiber.HeaderCacheControl, "no-store")
	return a.renderStaff(c, http.StatusOK, staffPage{
		Tablet: t, Station: station, Token: token, WSPort: a.wsPort(), Orders: orders, Now: a.Now().In(a.location(c)),
		escalations: a.Escalations, RepeatSeconds: int(a.RingRepeat / time.Second),
	})
}

// handleStaffSignIn signs a tablet in from the form and redirects to the
// app (POST/redirect/GET). A refused login shows the form again with the
// username kept, and sets no cookie.
func (a *app) handleStaffSignIn(c *fiber.Ctx) error {
	username, password := strings.TrimSpace(c.FormValue("username")), c.FormValue("password")
	token, err := a.Store.StaffLogin(a.ctx(c), username, password, a.StaffTokenTTL)
	if err != nil {
		status, _ := httpx.Resolve(err)
		return a.renderStaffLogin(c, status, pantry.ErrorMessage(err), username)
	}
	expires := a.Now().Add(a.StaffTokenTTL)
	c.Cookie(&fiber.Cookie{Name: staffCookie, Value: token, Path: "/", Expires: expires,
		HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode, Secure: c.Protocol() == "https"})
	c.Cookie(&fiber.Cookie{Name: stationCookie, Value: cleanStation(c.FormValue("station")), Path: "/", Expires: expires,
		SameSite: fiber.CookieSameSiteStrictMode, Secure: c.Protocol() == "https"})
	return c.Redirect("/staff", http.StatusSeeOther)
}

// handleStaffSignOut ends the tablet's login: the token stops working for
// the API and the broker, and the cookies are cleared.
func (a *app) handleStaffSignOut(c *fiber.Ctx) error {
	if token := c.Cookies(staffCookie); token != "" {
		if err := a.Store.StaffLogout(a.ctx(c), token); err != nil {
			return a.errorPage(c, err)
		}
	}
	for _, name := range []string{staffCookie, stationCookie} {
		c.Cookie(&fiber.Cookie{Name: name, Value: "", Path: "/", Expires: time.Unix(0, 0), MaxAge: -1,
			SameSite: fiber.CookieSameSiteStrictMode})
	}
	return c.Redirect("/staff", http.StatusSeeOther)
}

func (a *app) renderStaffLogin(c *fiber.Ctx, status int, msg, username string) error {
	stations, err := a.stations(c)
	if err != nil {
		return a.errorPage(c, err)
	}
	return a.renderStaff(c, status, staffPage{Error: msg, Username: username, Stations: stations})
}

// renderStaff renders staff.html with a Content-Security-Policy that also
// lets the page reach the broker's WebSocket listener, which is on its own
// port and so another origin. A page loaded over HTTPS may reach it only
// over wss (static/staff.js picks the scheme of the page), so its policy
// names only wss; one loaded over plain HTTP names both, as a
// TLS-terminating proxy may front the WebSocket port alone.
func (a *app) renderStaff(c *fiber.Ctx, status int, p staffPage) error {
	if err := render(c, status, "staff.html", p); err != nil {
		return err
	}
	if p.WSPort != "" {
		host := c.Hostname()
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		wss := url.URL{Scheme: "wss", Host: net.JoinHostPort(strings.Trim(host, "[]"), p.WSPort)}
		allow := wss.String()
		if c.Protocol() != "https" {
			ws := wss
			ws.Scheme = "ws"
			allow = ws.String() + " " + allow
		}
		c.Set("Content-Security-Policy", strings.Replace(pageCSP, "connect-src 'self'", "connect-src 'self' "+allow, 1))
	}
	return nil
}

// stations lists the choices of the sign-in form: "all", then every
// station of the menu.
func (a *app) stations(c *fiber.Ctx) ([]string, error) {
	items, err := a.Store.Menu(a.ctx(c))
	if err != nil {
		return nil, err
	}
	out := []string{pantry.StationAll}
	for _, it := range items {
		if s := it.Station; s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out[1:])
	return out, nil
}

// cleanStation keeps a station name the form or a cookie gave if it is a
// plausible one, and otherwise shows everything.
func cleanStation(s string) string {
	if s == "" || !pantry.ValidStation(s) {
		return pantry.StationAll
	}
	return s
}

// wsPort is the port the page connects to the broker's WebSocket
// listener on, on the host it was loaded from: the advertised one (a
// proxy or a port forward in front of the listener) or the listener's
// own; "" if there is no listener.
func (a *app) wsPort() string {
	_, port, err := net.SplitHostPort(a.MQTTWSAddr)
	if err != nil {
		return ""
	}
	if a.MQTTWSAdvertise != 0 {
		return strconv.Itoa(a.MQTTWSAdvertise)
	}
	return port
}

// forStation reports whether a tablet of station shows order o: one of
// its lines is the station's, or has no station (every tablet shows
// those). static/staff.js applies the same rule to live orders.
func forStation(o pantry.Order, station string) bool {
	return slices.ContainsFunc(o.Lines, func(l pantry.OrderLine) bool { return lineForStation(l, station) })
}

func lineForStation(l pantry.OrderLine, station string) bool {
	return station == pantry.StationAll || l.Station == "" || l.Station == station
}

// ticket is an open order as the kitchen display shows it; static/staff.js
// renders the same markup for the orders that arrive live.
type ticket struct {
	ID, Room, Note, Delivery, Payment string
	Status                            pantry.OrderStatus
	StatusText, Next                  string
	Cancellable                       bool
	Lines                             []ticketLine
	Age, AgeText                      string
	// Due is where a scheduled order stands ("later", "soon", "late"; ""
	// for as soon as possible) and DueAt its deliver-by time, "14:30".
	Due, DueAt string
}

// ticketLine is an order line; Other marks a line of another station,
// shown dimmed.
type ticketLine struct {
	pantry.OrderLine
	Other bool
}

// advanceLabels name the one-tap step from each open status.
var advanceLabels = map[pantry.OrderStatus]string{
	pantry.StatusPlaced: "Accept", pantry.StatusAccepted: "Start", pantry.StatusPreparing: "Ready", pantry.StatusReady: "Delivered",
}

// Ticket lays o out as a ticket of the page's station, at the page's time.
func (p staffPage) Ticket(o pantry.Order) ticket {
	age := p.Now.Sub(o.CreatedAt)
	t := ticket{
		ID: o.ID, Room: o.SpaceName, Note: o.Note, Status: o.Status, StatusText: statusTitle(o.Status),
		Next: advanceLabels[o.Status], Cancellable: pantry.CanTransition(o.Status, pantry.StatusCancelled),
		AgeText: ageText(age), Delivery: "To the room", Payment: "Complimentary", Age: "ok",
	}
	for _, l := range o.Lines {
		t.Lines = append(t.Lines, ticketLine{OrderLine: l, Other: !lineForStation(l, p.Station)})
	}
	if o.DeliverTo == pantry.DeliverPickup {
		t.Delivery = "Pickup"
	}
	if o.Payment == pantry.PayCostCenter {
		t.Payment = "Cost center " + o.CostCenter
	}
	t.Age, t.Due = p.escalations.ForOrder(o, p.Station).Level(o, p.Now)
	if o.DeliverBy != nil {
		t.DueAt = o.DeliverBy.In(p.Now.Location()).Format("15:04")
		t.AgeText = dueText(o.DeliverBy.Sub(p.Now))
	}
	return t
}

// ageText says how long ago an order was placed, as the ticket counts up.
func ageText(d time.Duration) string {
	m := int(d / time.Minute)
	if m < 1 {
		return "just now"
	}
	return strconv.Itoa(m) + " min"
}

// dueText says how far a scheduled order's deliver-by time is: "in 1 h
// 5 min", "in 25 min", "now", "3 min late".
func dueText(left time.Duration) string {
	switch m := int(left / time.Minute); {
	case left > 0 && m >= 60:
		return "in " + strconv.Itoa(m/60) + " h " + strconv.Itoa(m%60) + " min"
	case left > 0 && m >= 1:
		return "in " + strconv.Itoa(m) + " min"
	case left > -time.Minute:
		return "now"
	default:
		return strconv.Itoa(-m) + " min late"
	}
}

// statusTitle is a status as pages show it: "Placed".
func statusTitle(s pantry.OrderStatus) string {
	if s == "" {
		return ""
	}
	return strings.ToUpper(string(s[:1])) + string(s[1:])
}
