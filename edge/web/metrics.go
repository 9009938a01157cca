package web

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pantry/pantry/internal/httpx"
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
	reg.MustRegister(m.ordersPlaced, m.ordersRefused)
	return m
}
