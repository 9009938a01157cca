package loadgen_test

import (
	"context"
	"testing"
	"time"

	"github.com/pantry/pantry/edge/edgetest"
	"github.com/pantry/pantry/edge/loadgen"
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
