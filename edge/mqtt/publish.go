package mqtt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/pantry/pantry/internal/pantry"
)

// Events named in the "event" field of published payloads.
const (
	EventOrderCreated   = "order.created"
	EventOrderUpdated   = "order.updated"
	EventSessionExpired = "session.expired" // named like the outbox's event, but a tablet's contract, not the cloud's
	EventInventoryLow   = "inventory.low"
	EventStaffAbsent    = "staff.absent"
	EventStaffPresent   = "staff.present"
)

// qos is the QoS of everything the edge publishes: at least once, since a
// tablet that misses an order update shows the wrong queue.
const qos = 1

// OrderEvent is the payload on pantry/{site}/orders/{order_id}.
type OrderEvent struct {
	Event string       `json:"event"`
	Order pantry.Order `json:"order"`
}

// StockMessage is the retained payload on pantry/{site}/stock/{item_id}.
type StockMessage struct {
	ItemID string `json:"item_id"`
	Level  int64  `json:"level"`
	Low    bool   `json:"low"`
	// SoldOut is the staff's sold-out switch (added after DESIGN.md's
	// three fields; readers that do not know it ignore it).
	SoldOut bool `json:"sold_out"`
}

// InventoryLowAlert is the payload on pantry/{site}/alerts when a movement
// takes an item's stock down to its low-stock threshold. The fields are in
// the order of their JSON names, the order the map it replaced was encoded
// in, so the bytes tablets receive did not change.
type InventoryLowAlert struct {
	Event  string `json:"event"` // EventInventoryLow
	ItemID string `json:"item_id"`
	Level  int64  `json:"level"`
	Name   string `json:"name"`
}

// StaffAlert is the payload on pantry/{site}/alerts when a station's open
// orders have waited longer than the edge's --staff-absent-after with no
// tablet showing that station's lines connected (EventStaffAbsent; Since is
// when the last one left, or when the node started if none came since),
// and when one is connected again (EventStaffPresent; Since is when it
// connected). Station "" stands for lines without a station, which every
// tablet shows: its absence means no tablet at all. An alert that ends
// because the station's orders closed is not announced.
type StaffAlert struct {
	Event      string    `json:"event"`
	Station    string    `json:"station"`
	Since      time.Time `json:"since"`
	OpenOrders int       `json:"open_orders"`
}

// SessionEvent is the payload on pantry/{site}/sessions/{session_id}.
type SessionEvent struct {
	Event     string    `json:"event"`
	SessionID string    `json:"session_id"`
	SpaceID   string    `json:"space_id"`
	SpaceName string    `json:"space_name"`
	ExpiresAt time.Time `json:"expires_at"`
}

// PublishOrder announces an order change, event being EventOrderCreated or
// EventOrderUpdated. Every change goes to pantry/{site}/orders/{id} as an
// OrderEvent. The order itself is also retained on pantry/{site}/queue/{id}
// while it is open, so a tablet that (re)subscribes gets the whole live queue
// at once; when it closes, an empty retained message clears it, which live
// subscribers receive as an empty payload meaning "left the queue".
func (b *Broker) PublishOrder(siteID string, event string, o pantry.Order) error {
	if event != EventOrderCreated && event != EventOrderUpdated {
		return pantry.Errorf(pantry.EINVALID, "unknown order event %q", event)
	}
	if o.SiteID != "" && o.SiteID != siteID {
		return pantry.Errorf(pantry.EINVALID, "order %s belongs to site %s, not %s", o.ID, o.SiteID, siteID)
	}
	if err := b.publishJSON(siteID, OrderEvent{Event: event, Order: o}, false, KindOrders, o.ID); err != nil {
		return err
	}
	return b.PublishQueue(siteID, o)
}

// PublishQueue sets only the retained queue entry of o, as PublishOrder
// does, without announcing a change: the edge uses it after a restart to
// rebuild the broker's retained queue (held only in memory) from its store.
func (b *Broker) PublishQueue(siteID string, o pantry.Order) error {
	if o.SiteID != "" && o.SiteID != siteID {
		return pantry.Errorf(pantry.EINVALID, "order %s belongs to site %s, not %s", o.ID, o.SiteID, siteID)
	}
	if o.Status.Open() {
		return b.publishJSON(siteID, o, true, KindQueue, o.ID)
	}
	return b.publish(siteID, nil, true, KindQueue, o.ID)
}

// PublishStock retains an item's stock level on pantry/{site}/stock/{item_id},
// so a tablet learns every level when it subscribes.
func (b *Broker) PublishStock(siteID string, lvl pantry.StockLevel) error {
	msg := StockMessage{ItemID: lvl.ItemID, Level: lvl.Level, Low: lvl.Low, SoldOut: lvl.SoldOut}
	return b.publishJSON(siteID, msg, true, KindStock, lvl.ItemID)
}

// PublishStockChange announces an item's stock after a movement, whether
// it was made at this edge or pulled from the cloud: the new level,
// retained (PublishStock), and, when the movement took the item across its
// low-stock threshold (becameLow), an InventoryLowAlert for staff. Both are
// attempted even if the first fails; the error joins whichever did.
func (b *Broker) PublishStockChange(siteID string, lvl pantry.StockLevel, becameLow bool) error {
	err := b.PublishStock(siteID, lvl)
	if becameLow {
		alert := InventoryLowAlert{Event: EventInventoryLow, ItemID: lvl.ItemID, Level: lvl.Level, Name: lvl.Name}
		err = errors.Join(err, b.PublishAlert(siteID, alert))
	}
	return err
}

// PublishAlert sends payload (a JSON object with an "event" field, such as
// EventInventoryLow) to pantry/{site}/alerts. Alerts are not retained: they
// are news, not state.
func (b *Broker) PublishAlert(siteID string, payload any) error {
	if payload == nil {
		return pantry.Errorf(pantry.EINVALID, "alert payload is required")
	}
	return b.publishJSON(siteID, payload, false, KindAlerts)
}

// PublishSessionExpired tells the attendee page of session s, and staff, that
// the session ended, on pantry/{site}/sessions/{session_id}.
func (b *Broker) PublishSessionExpired(siteID string, s pantry.Session) error {
	if s.SiteID != "" && s.SiteID != siteID {
		return pantry.Errorf(pantry.EINVALID, "session %s belongs to site %s, not %s", s.ID, s.SiteID, siteID)
	}
	ev := SessionEvent{Event: EventSessionExpired, SessionID: s.ID, SpaceID: s.SpaceID, SpaceName: s.SpaceName, ExpiresAt: s.ExpiresAt}
	return b.publishJSON(siteID, ev, false, KindSessions, s.ID)
}

// publishJSON encodes v and publishes it under the site's tree.
func (b *Broker) publishJSON(siteID string, v any, retain bool, parts ...string) error {
	payload, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s message: %w", parts[0], err)
	}
	return b.publish(siteID, payload, retain, parts...)
}

// publish sends payload to pantry/{site}/{parts...} through mochi's inline
// client, which bypasses the ACL. mochi only queues the message for each
// subscriber, so this never waits on a slow tablet. A retained message is
// kept in the Broker's own store, set before the live publish so that a
// replay running meanwhile can never miss it (retained.go); mochi itself
// is given the message unretained.
func (b *Broker) publish(siteID string, payload []byte, retain bool, parts ...string) error {
	topic, err := SiteTopic(siteID, parts...)
	if err != nil {
		return err
	}
	if b.closed.Load() {
		return fmt.Errorf("publish %s: %w", topic, ErrClosed)
	}
	if retain {
		if !retainedTopic(topic) {
			return fmt.Errorf("publish %s: only %v messages are retained", topic, retainedKinds)
		}
		b.retained.set(topic, payload)
	}
	if err := b.server.Publish(topic, payload, false, qos); err != nil {
		return fmt.Errorf("publish %s: %w", topic, err)
	}
	return nil
}

// Subscribe calls fn for every message published on a topic matching filter,
// for the edge's own Server-Sent Events streams. Retained messages matching
// filter are delivered before Subscribe returns. fn runs on the publisher's
// goroutine, possibly concurrently, and must not block: hand the message to
// a buffered channel and drop or resync when it is full. payload is fn's own
// copy; an empty one on a retained topic means the retained state was cleared.
// A retained topic changed during that first delivery reaches fn after it,
// so fn never ends with an older state (replayGate). The returned function
// unsubscribes; calling it more than once is harmless.
func (b *Broker) Subscribe(filter string, fn func(topic string, payload []byte)) (unsubscribe func(), err error) {
	if fn == nil {
		return nil, pantry.Errorf(pantry.EINVALID, "subscribe %s: nil handler", filter)
	}
	if !validFilter(filter) {
		return nil, pantry.Errorf(pantry.EINVALID, "subscribe: %q is not a valid topic filter", filter)
	}
	if b.closed.Load() {
		return nil, fmt.Errorf("subscribe %s: %w", filter, ErrClosed)
	}
	id := int(b.nextSubID.Add(1))
	gate := newReplayGate([]string{filter}, []string{filter}, nil) // the handler only ever sees deliveries
	handler := func(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) {
		if !gate.hold(pk.TopicName) {
			fn(pk.TopicName, bytes.Clone(pk.Payload))
		}
	}
	if err := b.server.Subscribe(filter, id, handler); err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", filter, err)
	}
	always := func(string) bool { return true } // the gate holds only what filter matches
	_ = b.retained.replayTo(gate, []string{filter}, always, func(topic string, payload []byte) error {
		fn(topic, bytes.Clone(payload))
		return nil
	})
	var once sync.Once
	return func() {
		once.Do(func() { _ = b.server.Unsubscribe(filter, id) })
	}, nil
}
