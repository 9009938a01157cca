package httpx

import (
	"errors"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pantry/pantry/internal/pantry"
)

// TestObserveLabelsTheAnsweredStatus: a request is counted under the
// status the client gets, also when a handler's error is turned into it
// later by the error handler (deploy/monitoring's 5xx alerts count them).
func TestObserveLabelsTheAnsweredStatus(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewRequestMetrics(reg, "test")
	app := fiber.New(fiber.Config{ErrorHandler: ErrorHandler(slog.New(slog.DiscardHandler))})
	app.Use(m.Observe)
	app.Get("/ok", func(c *fiber.Ctx) error { return c.SendString("ok") })
	app.Get("/missing", func(*fiber.Ctx) error { return pantry.Errorf(pantry.ENOTFOUND, "no such thing") })
	app.Get("/down", func(*fiber.Ctx) error { return pantry.Errorf(pantry.EUNAVAILABLE, "database is not ready") })
	app.Get("/bug", func(*fiber.Ctx) error { return errors.New("pq: relation does not exist") })
	app.Get("/fiber", func(*fiber.Ctx) error { return fiber.ErrTooManyRequests })

	for _, tc := range []struct{ path, status string }{
		{"/ok", "200"}, {"/missing", "404"}, {"/down", "503"}, {"/bug", "500"}, {"/fiber", "429"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			res, err := app.Test(httptest.NewRequest("GET", tc.path, nil))
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if got := strconv.Itoa(res.StatusCode); got != tc.status {
				t.Fatalf("answered %s, want %s", got, tc.status)
			}
			if got := countedStatuses(t, reg, tc.path); len(got) != 1 || got[0] != tc.status {
				t.Fatalf("test_http_requests_total{route=%q} counted under status %v, want [%s]", tc.path, got, tc.status)
			}
		})
	}
}

// countedStatuses lists the status labels of test_http_requests_total for route.
func countedStatuses(t *testing.T, reg *prometheus.Registry, route string) []string {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range families {
		if f.GetName() != "test_http_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["route"] == route {
				out = append(out, labels["status"])
			}
		}
	}
	return out
}
