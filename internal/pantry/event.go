package pantry

import (
	"encoding/json"
	"time"
)

// Event types recorded in the edge's transactional outbox. Each is an
// immutable fact that replication carries to the cloud.
const (
	EventOrderPlaced        = "order.placed"
	EventOrderStatusChanged = "order.status_changed"
	EventPaymentRecorded    = "payment.recorded"
	EventStockMoved         = "stock.moved"
	EventSessionOpened      = "session.opened"
	EventSessionExpired     = "session.expired"
	EventCouponRedeemed     = "coupon.redeemed"
	EventItemAvailability   = "item.availability_changed"
)

// OutboxEvent is one row of the edge's outbox: a fact with a per-node
// sequence number that has no gaps.
type OutboxEvent struct {
	Seq       int64           `json:"seq"`
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	EntityID  string          `json:"entity_id"`
	Payload   json.RawMessage `json:"payload"`
	CreatedAt time.Time       `json:"created_at"`
	PushedAt  *time.Time      `json:"pushed_at"`
}
