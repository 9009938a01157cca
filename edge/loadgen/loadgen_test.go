package loadgen_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/pantry/pantry/edge/edgetest"
	"github.com/pantry/pantry/edge/loadgen"
	"github.com/pantry/pantry/edge/sqlite"
)

// TestRunMeasuresARealNode drives a real node briefly: every order must be
// acknowledged and seen by the MQTT tablet, and the figures must add up.
func TestRunMeasuresARealNode(t *testing.T) {
	n := edgetest.Start(t)
	cfg := loadgen.Config{
		URL: n.URL, MQTTAddr: n.MQTTAddr().String(), SiteID: n.Demo.SiteID,
		Username: n.Demo.Tablet.Username, Password: n.Demo.Tablet.Password,
		Attendees: 4, Rate: 100, Duration: time.Second,
	}
	for _, r := range n.Demo.Rooms {
		cfg.RoomCodes = append(cfg.RoomCodes, r.Code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Orders == 0 || len(res.Errors) != 0 {
		t.Fatalf("orders=%d errors=%v", res.Orders, res.Errors)
	}
	if res.MQTTReceived != res.Orders || res.MQTTMissing != 0 {
		t.Fatalf("tablet saw %d of %d orders", res.MQTTReceived, res.Orders)
	}
	if !(0 < res.LatencyP50ms && res.LatencyP50ms <= res.LatencyP99ms && res.LatencyP99ms <= res.LatencyMaxms) {
		t.Fatalf("latency percentiles out of order: %+v", res)
	}
	placed, err := n.Store().OutboxStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if placed.LastSeq == 0 {
		t.Fatal("the store recorded nothing")
	}
}

// TestRunWithTabletsOpenOrdersAndLiveClients drives a real node that has
// open orders, several tablets and attendee pages following their orders:
// every tablet must see every order, every stream must stay open, and each
// status change made on a followed order must reach its page.
func TestRunWithTabletsOpenOrdersAndLiveClients(t *testing.T) {
	n := edgetest.Start(t)
	cfg := loadgen.Config{
		URL: n.URL, MQTTAddr: n.MQTTAddr().String(), SiteID: n.Demo.SiteID,
		Username: n.Demo.Tablet.Username, Password: n.Demo.Tablet.Password,
		Attendees: 4, Rate: 50, Duration: time.Second,
		Tablets: 3, OpenOrders: 20, LiveClients: 20,
		NodeStats: func() (loadgen.ProcessStats, error) { return loadgen.ReadProcessStats(os.Getpid()) },
	}
	for _, r := range n.Demo.Rooms {
		cfg.RoomCodes = append(cfg.RoomCodes, r.Code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Orders == 0 || len(res.Errors) != 0 {
		t.Fatalf("orders=%d errors=%v", res.Orders, res.Errors)
	}
	if got, want := res.MQTTReceived, res.Orders*3; got != want || res.MQTTMissing != 0 || res.TabletDuplicates != 0 {
		t.Fatalf("deliveries=%d, want %d (missing %d, duplicates %d)", got, want, res.MQTTMissing, res.TabletDuplicates)
	}
	if res.Tablets != 3 || res.TabletDisconnects != 0 {
		t.Fatalf("tablets=%d disconnects=%d, want 3 and 0", res.Tablets, res.TabletDisconnects)
	}
	if got, want := res.SSEConnected, 20; got != want || res.SSEDisconnects != 0 {
		t.Fatalf("streams open=%d, want %d (disconnects %d)", got, want, res.SSEDisconnects)
	}
	if res.SSEChanges == 0 || res.SSEMissing != 0 {
		t.Fatalf("status changes seen on their streams=%d, missing %d", res.SSEChanges, res.SSEMissing)
	}
	if res.NodePeakRSSMiB < res.NodeRSSMiB || res.NodeRSSMiB <= 0 || res.NodeOpenFiles <= 0 {
		t.Fatalf("process figures: rss=%v peak=%v files=%d", res.NodeRSSMiB, res.NodePeakRSSMiB, res.NodeOpenFiles)
	}
	open, err := n.Store().Orders(ctx, sqlite.OrderFilter{Status: "open", Limit: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(open), 20+20+res.Orders; got != want {
		t.Fatalf("open orders=%d, want %d (open, followed and placed in the phase)", got, want)
	}
}
