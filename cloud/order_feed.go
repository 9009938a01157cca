package cloud

import (
	"time"

	"github.com/pantry/pantry/internal/pantry"
)

// OrderChange is one entry of an organization's live order feed
// (OrderFeed): an order the cloud stored, or whose status changed, as the
// transaction that did it announced it; or a resync marker.
//
// The feed is a shortcut, not the record: it tells a page what to update
// without a reload, and says OrdersResync when it may have missed
// something (the subscriber fell behind, or the instance lost its
// connection to the database), after which the page reads its list from
// the database again (OrderService.ListOrders) rather than trust what it
// has. Changes of one order come in the order they were committed; an
// order placed and moved on in one push comes once, in the status it
// ended in.
type OrderChange struct {
	// Event is OrderCreated, OrderUpdated or OrdersResync. A resync
	// carries nothing else.
	Event   string `json:"event"`
	OrgID   string `json:"organization_id,omitempty"`
	SiteID  string `json:"site_id,omitempty"`
	OrderID string `json:"order_id,omitempty"`
	// Status and UpdatedAt are the order's as stored by the change: a
	// page that already shows a later UpdatedAt for the order (read from
	// the database after the change) keeps what it shows.
	Status    pantry.OrderStatus `json:"status,omitempty"`
	UpdatedAt time.Time          `json:"updated_at,omitzero"`
}

// The events of an OrderChange. The first two are the names the edge's
// MQTT feed uses for the same facts (DESIGN.md, "Edge real-time").
const (
	// OrderCreated is an order the cloud had not stored before.
	OrderCreated = "order.created"
	// OrderUpdated is a stored order whose status changed.
	OrderUpdated = "order.updated"
	// OrdersResync says changes may have been missed: read the orders
	// again.
	OrdersResync = "orders.resync"
)
