package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/pantry"
)

// The live orders page follows the organization's order changes as
// Server-Sent Events. The cloud's OrderFeed hears them from PostgreSQL
// (LISTEN/NOTIFY), so an order pushed through any cloud instance reaches
// a page served by any other.

// Timing of a live stream.
const (
	// liveHeartbeat keeps proxies from closing an idle stream.
	liveHeartbeat = 15 * time.Second
	// liveRecheck is how often a stream checks that its session still
	// lives, unless Config.LiveRecheck says otherwise: signing out, or
	// being disabled, ends the feed within it.
	liveRecheck = time.Minute
	// liveMaxLife bounds one stream; EventSource reconnects by itself.
	liveMaxLife = 30 * time.Minute
)

// liveEvent is what a page is told of an order change: enough to find its
// row and decide whether its filters keep it, not the order itself (the
// page fetches the row, through the same permission checks as any page).
type liveEvent struct {
	ID     string             `json:"id"`
	SiteID string             `json:"site_id"`
	Status pantry.OrderStatus `json:"status"`
}

func (a *app) handleOrderEvents(c *fiber.Ctx) error {
	v := viewOf(c)
	p := v.principal()
	if err := p.Can(auth.ActionRead, ""); err != nil {
		return a.errorPage(c, v, err)
	}
	if a.OrderFeed == nil {
		return a.errorPage(c, v, pantry.Errorf(pantry.EUNAVAILABLE, "live updates are off on this server"))
	}
	changes, cancel := a.OrderFeed.SubscribeOrders(p.OrgID)
	orgID, secret, _ := splitCookie(c.Cookies(sessionCookie))
	hash := hashSecret(secret)
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set("X-Accel-Buffering", "no")
	stop := a.Stop
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer cancel()
		// Not a.ctx(c): the handler has returned and fiber has recycled c
		// by the time the stream runs.
		alive := func() bool {
			ctx, done := context.WithTimeout(context.Background(), 30*time.Second)
			defer done()
			now := a.Now()
			_, err := a.Sessions.WebSession(ctx, orgID, hash, now, now.Add(a.SessionIdle))
			return err == nil
		}
		a.streamOrders(w, p, changes, alive, stop)
	})
	return nil
}

// streamOrders writes p's share of changes until the client leaves, the
// session ends, the stream has lived long enough or the server stops.
func (a *app) streamOrders(w *bufio.Writer, p auth.Principal, changes <-chan cloud.OrderChange, alive func() bool, stop <-chan struct{}) {
	// A comment first, so the browser sees the stream open at once.
	if _, err := w.WriteString(": live\n\n"); err != nil || w.Flush() != nil {
		return
	}
	heartbeat := time.NewTicker(liveHeartbeat)
	defer heartbeat.Stop()
	recheck := time.NewTicker(a.LiveRecheck)
	defer recheck.Stop()
	deadline := time.NewTimer(liveMaxLife)
	defer deadline.Stop()
	for {
		select {
		case ch, ok := <-changes:
			if !ok {
				return
			}
			if err := writeChange(w, p, ch); err != nil {
				return
			}
		case <-heartbeat.C:
			if _, err := w.WriteString(": keep-alive\n\n"); err != nil || w.Flush() != nil {
				return
			}
		case <-recheck.C:
			if !alive() {
				_ = writeSSE(w, "signed-out", []byte(`{}`))
				return
			}
		case <-deadline.C:
			return
		case <-stop:
			return
		}
	}
}

func writeChange(w *bufio.Writer, p auth.Principal, ch cloud.OrderChange) error {
	if ch.Event == cloud.OrdersResync {
		return writeSSE(w, "resync", []byte(`{}`))
	}
	if !p.CanSeeSite(ch.SiteID) {
		return nil // a facility manager hears only their sites
	}
	data, err := json.Marshal(liveEvent{ID: ch.OrderID, SiteID: ch.SiteID, Status: ch.Status})
	if err != nil {
		return err
	}
	return writeSSE(w, "order", data)
}

func writeSSE(w *bufio.Writer, event string, data []byte) error {
	if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data); err != nil {
		return err
	}
	return w.Flush()
}
