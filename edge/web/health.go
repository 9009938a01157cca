package web

import (
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"github.com/pantry/pantry/internal/pantry"
)

func (a *app) handleHealthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// handleReadyz answers 200 only while the store answers and the broker
// serves: a load balancer or technician can trust it.
func (a *app) handleReadyz(c *fiber.Ctx) error {
	if err := a.Store.Ping(a.ctx(c)); err != nil {
		return pantry.Errorf(pantry.EUNAVAILABLE, "store is not ready")
	}
	if !a.Bus.Ready() {
		return pantry.Errorf(pantry.EUNAVAILABLE, "MQTT broker is not ready")
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

// limitAddress caps requests per client address per minute, so one phone
// (or one script behind a printed QR code) cannot flood the node.
func (a *app) limitAddress() fiber.Handler {
	if a.AddressRPM <= 0 {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	return limiter.New(limiter.Config{
		Max:               a.AddressRPM,
		Expiration:        60e9,
		LimiterMiddleware: limiter.SlidingWindow{},
		LimitReached: func(c *fiber.Ctx) error {
			return pantry.Errorf(pantry.ERATELIMITED, "too many requests from this address; try again in a minute")
		},
	})
}
