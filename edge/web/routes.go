package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/internal/httpx"
)

// routes lists every route the edge serves.
func (a *app) routes(f *fiber.App) {
	f.Use(a.metrics.Observe)

	f.Get("/healthz", a.handleHealthz)
	f.Get("/readyz", a.handleReadyz)
	f.Get("/metrics", httpx.MetricsHandler(a.Registry))
	f.Use(a.requireTLS) // with HTTPS on, plain HTTP redirects below this line
	f.Use("/static", a.handleStatic())

	f.Use(a.limitAddress())

	// Attendee pages: work without JavaScript, update live with it.
	f.Get("/", a.handleHome)
	f.Get("/q/:code", a.handleRoomPage)
	f.Post("/q/:code/orders", a.handleOrderForm)
	f.Get("/orders/:id", a.requirePageSession, a.handleOrderPage)

	// The staff app: a kitchen display, live over MQTT; it signs in and
	// shows the queue as it stands without JavaScript.
	f.Get("/staff", a.handleStaffPage)
	f.Post("/staff/login", a.handleStaffSignIn)
	f.Post("/staff/logout", a.handleStaffSignOut)

	api := f.Group("/api/v1")
	api.Post("/sessions", a.handleOpenSession)
	api.Get("/menu", a.requireSession, a.handleMenu)
	api.Post("/orders", a.requireSession, a.handlePlaceOrder)
	api.Get("/orders", a.requireSession, a.handleMyOrders)
	api.Get("/orders/:id", a.requireSession, a.handleGetOrder)
	api.Get("/orders/:id/events", a.requireSession, a.handleOrderEvents)

	staff := api.Group("/staff")
	staff.Post("/login", a.handleStaffLogin)
	staff.Get("/orders", a.requireStaff, a.handleStaffOrders)
	staff.Get("/orders/:id", a.requireStaff, a.handleStaffOrder)
	staff.Post("/orders/:id/status", a.requireStaff, a.handleSetStatus)
	staff.Post("/orders/:id/actions", a.requireStaff, a.handleOrderAction)
	staff.Get("/stock", a.requireStaff, a.handleStock)
	staff.Post("/stock/movements", a.requireStaff, a.handleStockMovement)
	staff.Post("/items/:id/availability", a.requireStaff, a.handleAvailability)
	staff.Get("/sync", a.requireStaff, a.handleSyncReport)
}
