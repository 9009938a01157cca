// Package api is the cloud's HTTP side (fiber): the admin REST API under
// /api/v1, health, readiness and metrics. Every route is listed in
// routes.go. The organization a request acts in always comes from its
// credential; row-level security in PostgreSQL enforces it again.
package api

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/httpx"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// Config is what the API needs. Log, every service and Keys are required.
type Config struct {
	Log *slog.Logger
	cloud.Services
	// Ready reports whether the database answers with the schema this
	// binary expects (/readyz).
	Ready func(context.Context) error
	// Keys holds the signing keys; swapped atomically when they rotate.
	Keys *atomic.Pointer[auth.KeySet]
	// Passwords are the argon2id parameters for new password hashes.
	Passwords auth.PasswordParams
	// Throttle limits failed logins per account and per client address.
	Throttle auth.ThrottlePolicy
	// Login checks sign-ins; nil makes one from Logins, Passwords and
	// Throttle. The server shares one with the dashboard, so both count
	// against the same bound on concurrent hashes.
	Login *auth.PasswordLogin
	// QRBaseURL is where phones in a building reach its edge node (a local
	// DNS name all buildings share); a room's qr_url is QRBaseURL/q/CODE.
	QRBaseURL string
	Registry  *prometheus.Registry
	Now       func() time.Time
}

// BodyLimit caps /api/v1 request bodies: the largest legitimate one, a
// site menu of a few hundred items, is far below it. Sync pushes may be
// larger (syncproto.MaxBodyBytes), which is the server's own limit.
const BodyLimit = 256 << 10

// limitBody refuses a body over n bytes with 413, for routes whose
// bodies are smaller than the server-wide limit.
func limitBody(n int) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if len(c.Request().Body()) > n {
			return pantry.Errorf(pantry.ETOOLARGE, "the request body is over %d KiB", n>>10)
		}
		return c.Next()
	}
}

type app struct {
	Config
	metrics *metrics
	// login checks passwords and hashes new ones (shared with the
	// dashboard through Config.Login when the server wires both).
	login *auth.PasswordLogin
}

// New builds the fiber app.
func New(cfg Config) *fiber.App {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.QRBaseURL == "" {
		cfg.QRBaseURL = "http://pantry.local:8080"
	}
	if cfg.Passwords == (auth.PasswordParams{}) {
		cfg.Passwords = auth.DefaultPasswordParams()
	}
	if cfg.Throttle == (auth.ThrottlePolicy{}) {
		cfg.Throttle = auth.DefaultThrottlePolicy()
	}
	if cfg.Login == nil {
		cfg.Login = auth.NewPasswordLogin(cfg.Logins, cfg.Passwords, cfg.Throttle)
	}
	a := &app{Config: cfg, metrics: newMetrics(cfg.Registry), login: cfg.Login}
	f := fiber.New(fiber.Config{
		Immutable: true, // strings from the request outlive the handler safely
		// A little over the largest body any route takes, so that one
		// just too large is read and refused with a JSON 413 by its route;
		// the server cuts off only what is far beyond (its 413 then races
		// the client's writing).
		BodyLimit:             syncproto.MaxBodyBytes + 1<<20,
		ErrorHandler:          httpx.ErrorHandler(cfg.Log),
		DisableStartupMessage: true,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          60 * time.Second,
		IdleTimeout:           2 * time.Minute,
		AppName:               "pantry-cloud",
		// Behind a load balancer the client address comes from it.
		ProxyHeader: fiber.HeaderXForwardedFor,
	})
	a.routes(f)
	return f
}

// ctx is the context for store calls made on behalf of a request, bounded
// so a stuck query cannot hold a connection forever.
func (a *app) ctx(c *fiber.Ctx) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}
