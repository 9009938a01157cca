package sqlite_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/pantry"
)

// BenchmarkPlaceOrderParallel is the raw limit of the order path: the same
// rows the HTTP API writes (order, line, sale movement, payment, outbox
// events, idempotency key), through the same group-commit writer, with
// synchronous=FULL, but no HTTP, JSON or MQTT. Compare with `make bench`'s
// load generator.
func BenchmarkPlaceOrderParallel(b *testing.B) {
	ctx := context.Background()
	s, d := MustOpen(b)
	menu, err := s.Menu(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for _, it := range menu {
		for range 10 {
			if _, err := s.RecordStock(ctx, it.ID, pantry.MaxStockDelta, pantry.StockRestock, "bench"); err != nil {
				b.Fatal(err)
			}
		}
	}
	sessions := make([]pantry.Session, 64)
	for i := range sessions {
		sessions[i], _, err = s.OpenSession(ctx, d.Rooms[i%len(d.Rooms)].Code, time.Hour)
		if err != nil {
			b.Fatal(err)
		}
	}
	var n atomic.Int64
	b.SetParallelism(32) // many attendees per core, as over HTTP
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			req := pantry.PlaceOrder{Lines: []pantry.LineRequest{{ItemID: menu[i%int64(len(menu))].ID, Quantity: 1}}}
			if _, err := s.PlaceOrder(ctx, sessions[i%64], fmt.Sprint("k", i), req, sqlite.OrderLimit{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
}
