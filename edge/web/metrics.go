package web

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pantry/pantry/internal/httpx"
	"github.com/pantry/pantry/internal/pantry"
)

type metrics struct {
	*httpx.RequestMetrics
	ordersPlaced  prometheus.Counter
	ordersRefused *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		RequestMetrics: httpx.NewRequestMetrics(reg, "pantry"),
		ordersPlaced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pantry_orders_placed_total", Help: "Orders placed (replays not counted).",
		}),
		ordersRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pantry_orders_refused_total", Help: "Orders refused, by error code.",
		}, []string{"code"}),
	}
	// The codes that page (deploy/monitoring/alerts.yml) start at 0, so
	// that the first refusal after a start is an increase Prometheus sees,
	// not a new series that is already 1.
	for _, code := range []string{pantry.EUNAVAILABLE, pantry.EINTERNAL} {
		m.ordersRefused.WithLabelValues(code)
	}
	reg.MustRegister(m.ordersPlaced, m.ordersRefused)
	return m
}
