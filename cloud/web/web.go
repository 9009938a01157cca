// Package web is the facility admin's dashboard: server-rendered pages on
// the cloud's own port, beside the REST API (cloud/api) and with the same
// rules. A signed-in person is an auth.Principal like an API caller, every
// page and action asks auth.Principal.Can the same questions the API asks,
// and every read and write goes through the cloud's services, which run
// under row-level security with the organization of the session.
//
// Pages are HTML first (STYLE.md): forms post and redirect, and a little
// script (static/dashboard.js) adds live updates. No inline script or
// style, nothing from the internet: every page carries a strict
// Content-Security-Policy.
package web

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/cloud/qrsheet"
	"github.com/pantry/pantry/cloud/sso"
	"github.com/pantry/pantry/internal/buildinfo"
	"github.com/pantry/pantry/internal/httpx"
	"github.com/pantry/pantry/internal/pantry"
)

// Config is what the dashboard needs. Log, the services and Login are
// required.
type Config struct {
	Log *slog.Logger
	cloud.Services
	// Login checks passwords (shared with the API: the same throttle).
	Login *auth.PasswordLogin
	// SessionTTL is how long a sign-in lasts at most (default 12 h);
	// SessionIdle how long it lasts unused (default 2 h).
	SessionTTL, SessionIdle time.Duration
	// Version is the cloud's software version, which nodes are compared
	// with (default buildinfo.Version()).
	Version string
	// NodeOfflineAfter is how long a node may go unseen before the fleet
	// shows it offline (default cloud.OfflineAfter).
	NodeOfflineAfter time.Duration
	// QRBaseURL is where phones in a building reach its edge node: a
	// room's QR code encodes QRBaseURL/q/CODE, as the API's qr_url says
	// (default http://pantry.local:8080, the API's default too).
	QRBaseURL string
	// SSOOptions tune single sign-on's flow (cloud/sso); the zero value is
	// production's: identity providers on private networks are refused
	// (tests and self-hosted clouds set AllowPrivateNetworks).
	SSOOptions sso.Options
	// Stop ends the live streams at shutdown: fiber's shutdown waits for
	// open streams, it does not end them.
	Stop <-chan struct{}
	// LiveRecheck is how often a live orders stream checks that its
	// session still lives (default a minute).
	LiveRecheck time.Duration
	Now         func() time.Time
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"title":    title,
	"money":    func(m pantry.Money) string { return m.String() },
	"when":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"deref":    func(p *int64) int64 { return *p },
	"derefInt": func(p *int) int { return *p },
	"field":    field,
}).ParseFS(templateFS, "templates/*.html"))

// pageCSP lets a page load and reach only what the cloud serves: no inline
// script or style, no frames, forms only to itself.
const pageCSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

type app struct {
	Config
	// qrSheets keeps recent QR sheets, PDF and SVG (qrsheet.Cache): the
	// same rooms make the same bytes, and a sheet is printed floor after
	// floor.
	qrSheets *qrsheet.Cache
}

// qrSheetCache is how many QR sheets, PDF or SVG, an instance keeps
// (60 to 100 KiB each for 20 rooms: 25 MiB at most).
const qrSheetCache = 256

// Register adds the dashboard's routes to f, the cloud's fiber app.
func Register(f *fiber.App, cfg Config) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = 2 * time.Hour
	}
	if cfg.NodeOfflineAfter <= 0 {
		cfg.NodeOfflineAfter = cloud.OfflineAfter
	}
	if cfg.LiveRecheck <= 0 {
		cfg.LiveRecheck = liveRecheck
	}
	if cfg.Version == "" {
		cfg.Version = buildinfo.Version()
	}
	if cfg.QRBaseURL == "" {
		cfg.QRBaseURL = "http://pantry.local:8080"
	}
	sheets, err := qrsheet.NewCache(qrSheetCache)
	if err != nil {
		panic(err) // only for a size below 1
	}
	a := &app{Config: cfg, qrSheets: sheets}
	a.routes(f)
}

// ctx bounds the store calls made for a request.
func (a *app) ctx(c *fiber.Ctx) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.UserContext(), 30*time.Second)
}

// headers sets the security headers every dashboard answer carries.
func headers(c *fiber.Ctx) error {
	c.Set("Content-Security-Policy", pageCSP)
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "same-origin")
	c.Set("X-Frame-Options", "DENY")
	c.Set("Cross-Origin-Opener-Policy", "same-origin")
	return c.Next()
}

func static() fiber.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return filesystem.New(filesystem.Config{Root: http.FS(sub), MaxAge: 3600})
}

// render writes page name with data, framed by the layout. The page is
// made in full before any of it is sent, so a template that fails sends
// an error, not half a page.
func render(c *fiber.Ctx, status int, name string, data any) error {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	c.Status(status).Type("html", "utf-8")
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(b.Bytes())
}

// errorPage shows err as a page: its status and its message for domain
// errors, "internal error" (logged) for the rest.
func (a *app) errorPage(c *fiber.Ctx, v *view, err error) error {
	status, _ := httpx.Resolve(err)
	msg := pantry.ErrorMessage(err)
	if status >= 500 {
		a.Log.Error("dashboard", "path", c.Path(), "err", err)
		msg = "Something went wrong on our side. Try again in a moment."
	}
	if v == nil {
		v = &view{}
	}
	v.Title = http.StatusText(status)
	return render(c, status, "error.html", struct {
		*view
		Status  int
		Message string
	}{v, status, msg})
}

// title writes a status or role as a heading does: "Facility manager".
func title(s string) string {
	s = strings.ReplaceAll(s, "_", " ")
	if s == "" {
		return ""
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// agoText says how long before now t was, "never" for nil.
func agoText(now time.Time, t *time.Time) string {
	if t == nil {
		return "never"
	}
	return cloud.Ago(now.Sub(*t)) + " ago"
}

// timeNow is the time a page was made, for its template to say "12 min
// ago" of the times it shows.
type timeNow struct{ time.Time }

// Ago says how long before n t was, "never" for nil.
func (n timeNow) Ago(t *time.Time) string { return agoText(n.Time, t) }
