package web

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

type metrics struct {
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	ordersPlaced  prometheus.Counter
	ordersRefused *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pantry_http_requests_total", Help: "HTTP requests by route and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pantry_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route"}),
		ordersPlaced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pantry_orders_placed_total", Help: "Orders placed (replays not counted).",
		}),
		ordersRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pantry_orders_refused_total", Help: "Orders refused, by error code.",
		}, []string{"code"}),
	}
	reg.MustRegister(m.requests, m.duration, m.ordersPlaced, m.ordersRefused)
	return m
}

// observe records every request's route, status and latency. The route
// is the pattern (/api/v1/orders/:id), never the raw path, so ids cannot
// explode the label set.
func (a *app) observe(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	status := c.Response().StatusCode()
	if err != nil {
		if fe, ok := err.(*fiber.Error); ok {
			status = fe.Code
		} else {
			status = 0 // resolved by the error handler after us; label by route only
		}
	}
	route := c.Route().Path
	a.metrics.requests.WithLabelValues(c.Method(), route, strconv.Itoa(status)).Inc()
	a.metrics.duration.WithLabelValues(c.Method(), route).Observe(time.Since(start).Seconds())
	return err
}

func (a *app) handleMetrics() fiber.Handler {
	h := fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(a.Registry, promhttp.HandlerOpts{}))
	return func(c *fiber.Ctx) error {
		h(c.Context())
		return nil
	}
}
