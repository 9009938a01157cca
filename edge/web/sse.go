package web

import (
	"bufio"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/internal/pantry"
)

// sseMaxLife bounds one stream; EventSource reconnects by itself.
const sseMaxLife = 30 * time.Minute

// handleOrderEvents streams an order's status changes as Server-Sent
// Events: first its current state, then each change as the edge publishes
// it on MQTT, until the order closes, the client leaves or the node stops.
func (a *app) handleOrderEvents(c *fiber.Ctx) error {
	id := c.Params("id")
	if _, err := a.sessionOrder(c, id); err != nil {
		return err
	}
	// Subscribe before reading the state sent first, so no change can fall
	// between the snapshot and the stream; a change seen twice is harmless.
	updates := make(chan []byte, 16)
	topic := fmt.Sprintf("pantry/%s/orders/%s", a.SiteID, id)
	unsubscribe, err := a.Bus.Subscribe(topic, func(_ string, payload []byte) {
		select {
		case updates <- payload:
		default: // a stalled reader loses intermediate states, never blocks the broker
		}
	})
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", topic, err)
	}
	o, err := a.sessionOrder(c, id)
	if err != nil {
		unsubscribe()
		return err
	}
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set("X-Accel-Buffering", "no")
	first, _ := json.Marshal(map[string]any{"event": "order.snapshot", "order": o})
	stop := a.Stop
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer unsubscribe()
		streamOrder(w, first, o.Status, updates, stop)
	})
	return nil
}

func streamOrder(w *bufio.Writer, first []byte, status pantry.OrderStatus, updates <-chan []byte, stop <-chan struct{}) {
	if writeEvent(w, "order", first) != nil || !status.Open() {
		return
	}
	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	deadline := time.NewTimer(sseMaxLife)
	defer deadline.Stop()
	for {
		select {
		case p := <-updates:
			if writeEvent(w, "order", p) != nil || closed(p) {
				return
			}
		case <-heartbeat.C:
			if _, err := w.WriteString(": keep-alive\n\n"); err != nil || w.Flush() != nil {
				return
			}
		case <-deadline.C:
			return
		case <-stop:
			return
		}
	}
}

func writeEvent(w *bufio.Writer, name string, data []byte) error {
	if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, data); err != nil {
		return err
	}
	return w.Flush()
}

// closed reports whether an order event says the order is finished.
func closed(payload []byte) bool {
	var ev struct {
		Order struct {
			Status pantry.OrderStatus `json:"status"`
		} `json:"order"`
	}
	return json.Unmarshal(payload, &ev) == nil && ev.Order.Status != "" && !ev.Order.Status.Open()
}
