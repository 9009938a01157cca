// Package web is the edge node's HTTP side (fiber): the attendee pages and
// JSON API, the staff API for tablets, health, readiness and metrics. Every
// route is listed in routes.go.
package web

import (
	"context"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pantry/pantry/edge/mqtt"
	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/httpx"
	"github.com/pantry/pantry/internal/pantry"
)

// Config is what the web app needs. Log, Store and Bus are required.
type Config struct {
	Log   *slog.Logger
	Store *sqlite.Store
	Bus   *mqtt.Broker
	// SiteID is the site this node serves; it never changes while it runs.
	SiteID string
	// MQTTWSAddr is the broker's WebSocket listener ("" if none), which the
	// staff app connects to on the host the page was loaded from.
	MQTTWSAddr string
	// MQTTWSAdvertise is the port the staff app's browsers reach that
	// listener on, when a TLS-terminating proxy or a port forward puts it
	// on another port than its own (0: the listener's own port).
	MQTTWSAdvertise int
	// HTTPSPort is the port the node serves HTTPS on, 0 if it does not.
	// When set, requests over plain HTTP are redirected there (see
	// requireTLS) and the staff page lets its script reach the broker
	// over wss only.
	HTTPSPort int
	// HTTPLanding keeps the attendee pages on plain HTTP too when
	// HTTPSPort is set, for phones that do not trust the site CA.
	HTTPLanding bool
	// Registry receives the HTTP metrics; nil makes a private one.
	Registry *prometheus.Registry
	// SessionTTL is how long an attendee session lives (default 3 h).
	SessionTTL time.Duration
	// StaffTokenTTL is how long a tablet login lasts (default 12 h).
	StaffTokenTTL time.Duration
	// SessionOrders caps orders per attendee session per OrderWindow (0 disables).
	SessionOrders int
	// OrderWindow is the window for SessionOrders (default 10 min).
	OrderWindow time.Duration
	// AddressRPM caps requests per client address per minute (0 disables).
	AddressRPM int
	// StaffSeen reports whether a tablet showing an order's lines has been
	// connected to the broker since the order was placed (edge.Node's
	// StaffSeen), so that the attendee's page can say honestly that the
	// pantry has not seen the order yet. nil: unknown (say neither).
	StaffSeen func(o pantry.Order) bool
	// Escalations are when tickets turn amber and red, per station (nil:
	// DefaultEscalations).
	Escalations Escalations
	// RingRepeat is how often a tablet that asks for it rings again while
	// one of its tickets waits to be accepted (default 30 s).
	RingRepeat time.Duration
	// Stop ends long-lived responses (Server-Sent Events) at shutdown:
	// fiber's shutdown does not end open streams by itself.
	Stop <-chan struct{}
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// BodyLimit caps request bodies. An order of 50 lines with notes fits in a
// few kilobytes; 64 KiB leaves room and refuses megabyte bodies at once.
const BodyLimit = 64 << 10

type app struct {
	Config
	metrics *metrics
}

// New builds the fiber app.
func New(cfg Config) *fiber.App {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 3 * time.Hour
	}
	if cfg.StaffTokenTTL <= 0 {
		cfg.StaffTokenTTL = 12 * time.Hour
	}
	if cfg.OrderWindow <= 0 {
		cfg.OrderWindow = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Escalations == nil {
		cfg.Escalations = DefaultEscalations()
	}
	if cfg.RingRepeat < time.Second {
		cfg.RingRepeat = 30 * time.Second
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Stop == nil {
		cfg.Stop = make(chan struct{})
	}
	a := &app{Config: cfg, metrics: newMetrics(cfg.Registry)}
	f := fiber.New(fiber.Config{
		// Immutable: strings from Params, Query and Body stay valid after
		// the handler returns (fasthttp reuses its buffers otherwise).
		Immutable:             true,
		BodyLimit:             BodyLimit,
		ErrorHandler:          httpx.ErrorHandler(cfg.Log),
		DisableStartupMessage: true,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          0, // Server-Sent Events streams stay open
		IdleTimeout:           2 * time.Minute,
		AppName:               "pantry-edge",
	})
	a.routes(f)
	return f
}

// ctx is the context for store calls made on behalf of a request. fiber's
// c.Context() is fasthttp's and must not reach the store; the store's
// writes complete regardless of the client.
func (a *app) ctx(c *fiber.Ctx) context.Context { return c.UserContext() }
