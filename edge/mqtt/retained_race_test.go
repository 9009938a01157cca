package mqtt

import (
	"fmt"
	"testing"

	"github.com/pantry/pantry/internal/pantry"
)

// TestRetainedReplayRaceFree publishes queue entries while a tablet
// subscribes to its whole site over and over. mochi v2.7.9 writes a topic's
// retainPath under the particle's lock (topics.go:461) but reads it
// without that lock when it looks up the retained messages of a wildcard
// filter (topics.go:554), so under -race this test failed while the queue
// was retained in mochi's own store. The queue and stock are now replayed
// by our hook from the Broker's own store, and mochi retains nothing under
// pantry/, so the two never meet.
func TestRetainedReplayRaceFree(t *testing.T) {
	b := MustServe(t, Config{})
	tab := login(t, b, "tab-s")
	tab.drain()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 300 {
			if err := b.PublishQueue("S", testOrder(fmt.Sprintf("o%d", i%50), pantry.StatusPlaced)); err != nil {
				t.Error(err)
				return
			}
			if err := b.PublishQueue("S", testOrder(fmt.Sprintf("o%d", (i+25)%50), pantry.StatusDelivered)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for range 30 {
		tab.mustSubscribe(t, "pantry/S/#")
	}
	<-done
}
