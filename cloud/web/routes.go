package web

import "github.com/gofiber/fiber/v2"

// routes lists every page of the dashboard. They share the cloud's port
// with /api/v1, /sync/v1 and the health routes, and none of those paths;
// each route carries its own middleware (a fiber group with middleware
// would apply it to every path of the app, the API's too). Every page but
// sign-in needs a session (signedIn), and every form a CSRF token
// (signedIn checks it on anything but GET and HEAD). Each area of the
// dashboard lists its own pages in its file's routes function, called
// from here.
func (a *app) routes(f *fiber.App) {
	f.Use("/static/dashboard", headers, static())

	f.Get("/login", headers, a.handleLoginPage)
	f.Post("/login", headers, a.handleLogin)

	page := func(method, path string, h fiber.Handler) { f.Add(method, path, headers, a.signedIn, h) }
	page(fiber.MethodPost, "/logout", a.handleLogout)
	page(fiber.MethodGet, "/", a.handleFleet)
	page(fiber.MethodGet, "/orders", a.handleOrders)
	page(fiber.MethodGet, "/orders/events", a.handleOrderEvents)
	page(fiber.MethodGet, "/orders/:order_id", a.handleOrder)
	page(fiber.MethodGet, "/orders/:order_id/row", a.handleOrderRow)
	a.siteRoutes(page)    // sites.go: sites, rooms, menus, tablets, enrollment, QR sheets
	a.catalogRoutes(page) // catalog.go: items, coupons, cost centers
	a.stockRoutes(page)   // stock.go: levels, par levels, restock list, movements
	a.reportRoutes(page)  // reports.go: consumption, charge-back
	a.adminRoutes(page)   // admin.go: users, API keys, audit log, dead letters, single sign-on settings
	a.ssoRoutes(f)        // sso.go: /login/sso and its callback (signed out)
}

// pageFunc adds a signed-in page: method, path, handler.
type pageFunc func(method, path string, h fiber.Handler)
