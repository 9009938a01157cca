package pantry

import (
	"encoding/json"
	"time"
)

// OutboxEvent is one row of the edge's outbox: a fact with a per-node
// sequence number that has no gaps. Its Type is one of syncproto's Event
// names and its Payload the syncproto type that name carries: the names
// and shapes of what goes on the wire live there, once, not in the domain.
type OutboxEvent struct {
	Seq       int64           `json:"seq"`
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	EntityID  string          `json:"entity_id"`
	Payload   json.RawMessage `json:"payload"`
	CreatedAt time.Time       `json:"created_at"`
	PushedAt  *time.Time      `json:"pushed_at"`
}
