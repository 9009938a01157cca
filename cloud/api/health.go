package api

import (
	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pantry/pantry/internal/httpx"
	"github.com/pantry/pantry/internal/pantry"
)

func (a *app) handleHealthz(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) }

// handleReadyz is 200 only while the database answers with the schema this
// binary expects.
func (a *app) handleReadyz(c *fiber.Ctx) error {
	ctx, cancel := a.ctx(c)
	defer cancel()
	if err := a.Ready(ctx); err != nil {
		return pantry.Errorf(pantry.EUNAVAILABLE, "database is not ready")
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

type metrics struct {
	*httpx.RequestMetrics
	logins     *prometheus.CounterVec
	syncEvents prometheus.Counter
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		RequestMetrics: httpx.NewRequestMetrics(reg, "pantry_cloud"),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pantry_cloud_logins_total", Help: "Login attempts by outcome.",
		}, []string{"outcome"}),
		syncEvents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pantry_cloud_sync_events_received_total", Help: "Outbox events received in pushes from edge nodes (replays included).",
		}),
	}
	reg.MustRegister(m.logins, m.syncEvents)
	return m
}
