package syncproto

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Event types: every fact an edge records in its outbox (sync invariant 1).
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

// OrderPlaced is an order as the edge took and priced it, with the
// catalog revision it was priced against (sync invariant 7): the cloud
// stores that price, it never re-prices history.
type OrderPlaced struct {
	ID           string      `json:"id"`
	SiteID       string      `json:"site_id"`
	SpaceID      string      `json:"space_id"`
	SessionID    string      `json:"session_id,omitempty"`
	Status       string      `json:"status"` // "placed": later steps come as status changes
	Lines        []OrderLine `json:"lines"`
	Note         string      `json:"note"`
	DeliverTo    string      `json:"deliver_to"`
	Subtotal     Money       `json:"subtotal"`
	Discount     Money       `json:"discount"`
	Total        Money       `json:"total"`
	Coupon       string      `json:"coupon,omitempty"`
	CostCenter   string      `json:"cost_center,omitempty"`
	Payment      string      `json:"payment"`
	CatalogRev   int64       `json:"catalog_revision"`
	CancelReason string      `json:"cancel_reason,omitempty"`
	CreatedAt    time.Time   `json:"created_at"`
	UpdatedAt    time.Time   `json:"updated_at"`
	// DeliverBy is when the attendee wants the order, nil for as soon as
	// possible (changelog, 2026-12-06). Last and omitted when nil, so an
	// order without one is the payload it was before the field existed.
	// The cloud checks only that it is a time: its bounds are the edge's
	// rule when the order is placed (pantry.MaxDeliverAhead), and an
	// edge that relaxes them must not see its orders dead-lettered.
	DeliverBy *time.Time `json:"deliver_by,omitempty"`
}

// OrderLine is one line of an order.
type OrderLine struct {
	ItemID    string `json:"item_id"`
	Name      string `json:"name"`
	Quantity  int64  `json:"quantity"`
	UnitPrice Money  `json:"unit_price"`
	LineTotal Money  `json:"line_total"`
	Note      string `json:"note"`
}

// StatusChanged is one step of an order's life.
type StatusChanged struct {
	ID      string    `json:"id"`
	OrderID string    `json:"order_id"`
	From    string    `json:"from"`
	To      string    `json:"to"`
	Reason  string    `json:"reason"`
	Actor   string    `json:"actor"`
	At      time.Time `json:"at"`
}

// PaymentRecorded is how an order was paid.
type PaymentRecorded struct {
	ID         string    `json:"id"`
	OrderID    string    `json:"order_id"`
	Method     string    `json:"method"`
	Amount     Money     `json:"amount"`
	Discount   Money     `json:"discount"`
	Coupon     string    `json:"coupon,omitempty"`
	CostCenter string    `json:"cost_center,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

// Session is an attendee's session in a room, opened by scanning its QR
// code; session.expired carries it again when it ends.
type Session struct {
	ID        string    `json:"id"`
	SiteID    string    `json:"site_id"`
	SpaceID   string    `json:"space_id"`
	SpaceName string    `json:"space_name"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CouponRedeemed is a coupon's use by an order.
type CouponRedeemed struct {
	ID       string    `json:"id"`
	CouponID string    `json:"coupon_id"`
	Code     string    `json:"code"`
	OrderID  string    `json:"order_id"`
	Discount Money     `json:"discount"`
	At       time.Time `json:"at"`
}

// ItemAvailability is staff marking an item sold out or back. The menu is
// the cloud's (it comes down in Config); the cloud records the edge's
// change for admins but does not let it overwrite the menu.
type ItemAvailability struct {
	ItemID    string    `json:"item_id"`
	Available bool      `json:"available"`
	Actor     string    `json:"actor"`
	At        time.Time `json:"at"`
}

// Order statuses, payment methods and delivery modes.
var (
	orderStatuses  = set("placed", "accepted", "preparing", "ready", "delivered", "cancelled")
	paymentMethods = set("complimentary", "cost_center")
	deliveries     = set("room", "pickup")
	stockReasons   = set("sale", "cancel_return", "restock", "waste", "count", "adjustment")
)

// DecodePayload decodes and validates e's payload into the type its Type
// names (*OrderPlaced, *StatusChanged, *PaymentRecorded, *StockMovement,
// *Session, *CouponRedeemed or *ItemAvailability). Unknown fields are
// ignored: an older cloud reads what it knows of a payload within the
// same schema, and every cloud reads the order.placed of edges from
// before their outbox held these types, which carries a space_name
// (TestDecodePayloadPreviousEdge). An error says what is wrong, for a
// dead letter's reason.
func DecodePayload(e Event) (any, error) {
	if e.Schema > EventSchema {
		return nil, fmt.Errorf("event schema %d is newer than this cloud knows (%d)", e.Schema, EventSchema)
	}
	if len(e.Payload) > MaxEventBytes {
		return nil, fmt.Errorf("payload of %d bytes is over the limit of %d", len(e.Payload), MaxEventBytes)
	}
	var v interface{ validate() error }
	switch e.Type {
	case EventOrderPlaced:
		v = new(OrderPlaced)
	case EventOrderStatusChanged:
		v = new(StatusChanged)
	case EventPaymentRecorded:
		v = new(PaymentRecorded)
	case EventStockMoved:
		v = new(StockMovement)
	case EventSessionOpened, EventSessionExpired:
		v = new(Session)
	case EventCouponRedeemed:
		v = new(CouponRedeemed)
	case EventItemAvailability:
		v = new(ItemAvailability)
	default:
		return nil, fmt.Errorf("unknown event type %q", e.Type)
	}
	if err := decodeValid(e, v); err != nil {
		return nil, err
	}
	return v, nil
}

// decodeValid decodes e's payload into v, ignoring unknown fields, and
// validates it: DecodePayload's work once it has chosen v's type. A test
// runs it with the types of an older cloud.
func decodeValid(e Event, v interface{ validate() error }) error {
	dec := json.NewDecoder(bytes.NewReader(e.Payload))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s payload: %w", e.Type, err)
	}
	if dec.More() {
		return fmt.Errorf("%s payload: data after the object", e.Type)
	}
	if err := v.validate(); err != nil {
		return fmt.Errorf("%s payload: %w", e.Type, err)
	}
	return nil
}

func (o *OrderPlaced) validate() error {
	var c check
	c.id("id", o.ID)
	c.id("site_id", o.SiteID)
	c.id("space_id", o.SpaceID)
	if o.SessionID != "" {
		c.id("session_id", o.SessionID)
	}
	c.oneOf("status", o.Status, orderStatuses)
	c.oneOf("deliver_to", o.DeliverTo, deliveries)
	c.oneOf("payment", o.Payment, paymentMethods)
	c.text("note", o.Note, maxNote)
	c.text("coupon", o.Coupon, maxCode)
	c.text("cost_center", o.CostCenter, maxCode)
	c.text("cancel_reason", o.CancelReason, maxNote)
	c.time("created_at", o.CreatedAt)
	if o.DeliverBy != nil {
		c.time("deliver_by", *o.DeliverBy)
	}
	if o.CatalogRev < 0 {
		c.fail("catalog_revision %d is negative", o.CatalogRev)
	}
	cur := o.Total.Currency
	c.money("subtotal", o.Subtotal, cur)
	c.money("discount", o.Discount, cur)
	c.money("total", o.Total, cur)
	if len(o.Lines) == 0 || len(o.Lines) > maxLines {
		c.fail("an order has 1 to %d lines, not %d", maxLines, len(o.Lines))
	}
	var sum int64
	for i, l := range o.Lines {
		c.id(fmt.Sprintf("lines[%d].item_id", i), l.ItemID)
		c.text(fmt.Sprintf("lines[%d].name", i), l.Name, maxName)
		c.text(fmt.Sprintf("lines[%d].note", i), l.Note, maxNote)
		if l.Quantity < 1 || l.Quantity > maxQuantity {
			c.fail("lines[%d].quantity %d is not between 1 and %d", i, l.Quantity, maxQuantity)
		}
		c.money(fmt.Sprintf("lines[%d].unit_price", i), l.UnitPrice, cur)
		c.money(fmt.Sprintf("lines[%d].line_total", i), l.LineTotal, cur)
		sum += l.LineTotal.Amount
	}
	if c.err == nil && (sum != o.Subtotal.Amount || o.Subtotal.Amount-o.Discount.Amount != o.Total.Amount) {
		c.fail("amounts do not add up: lines %d, subtotal %d, discount %d, total %d", sum, o.Subtotal.Amount, o.Discount.Amount, o.Total.Amount)
	}
	return c.err
}

func (s *StatusChanged) validate() error {
	var c check
	c.id("id", s.ID)
	c.id("order_id", s.OrderID)
	c.oneOf("from", s.From, orderStatuses)
	c.oneOf("to", s.To, orderStatuses)
	c.text("reason", s.Reason, maxNote)
	c.text("actor", s.Actor, maxName)
	c.time("at", s.At)
	return c.err
}

func (p *PaymentRecorded) validate() error {
	var c check
	c.id("id", p.ID)
	c.id("order_id", p.OrderID)
	c.oneOf("method", p.Method, paymentMethods)
	c.money("amount", p.Amount, p.Amount.Currency)
	c.money("discount", p.Discount, p.Amount.Currency)
	c.text("coupon", p.Coupon, maxCode)
	c.text("cost_center", p.CostCenter, maxCode)
	c.time("created_at", p.CreatedAt)
	return c.err
}

func (m *StockMovement) validate() error {
	var c check
	c.id("id", m.ID)
	if m.SiteID != "" {
		c.id("site_id", m.SiteID)
	}
	c.id("item_id", m.ItemID)
	if m.OrderID != "" {
		c.id("order_id", m.OrderID)
	}
	if m.Delta == 0 || m.Delta < -maxStockDelta || m.Delta > maxStockDelta {
		c.fail("delta %d is not a non-zero number between %d and %d", m.Delta, -maxStockDelta, maxStockDelta)
	}
	c.oneOf("reason", m.Reason, stockReasons)
	c.text("actor", m.Actor, maxName)
	c.time("created_at", m.CreatedAt)
	return c.err
}

func (s *Session) validate() error {
	var c check
	c.id("id", s.ID)
	c.id("site_id", s.SiteID)
	c.id("space_id", s.SpaceID)
	c.text("space_name", s.SpaceName, maxName)
	c.time("created_at", s.CreatedAt)
	c.time("expires_at", s.ExpiresAt)
	if c.err == nil && s.ExpiresAt.Before(s.CreatedAt) {
		c.fail("expires_at is before created_at")
	}
	return c.err
}

func (r *CouponRedeemed) validate() error {
	var c check
	c.id("id", r.ID)
	c.id("coupon_id", r.CouponID)
	c.id("order_id", r.OrderID)
	c.text("code", r.Code, maxCode)
	c.money("discount", r.Discount, r.Discount.Currency)
	c.time("at", r.At)
	return c.err
}

func (a *ItemAvailability) validate() error {
	var c check
	c.id("item_id", a.ItemID)
	c.text("actor", a.Actor, maxName)
	c.time("at", a.At)
	return c.err
}
