package pantry

import (
	"slices"
	"time"
	"unicode/utf8"
)

// OrderStatus is where an order is in its lifecycle.
type OrderStatus string

// The order lifecycle: placed → accepted → preparing → ready → delivered,
// and cancelled from placed or accepted.
const (
	StatusPlaced    OrderStatus = "placed"
	StatusAccepted  OrderStatus = "accepted"
	StatusPreparing OrderStatus = "preparing"
	StatusReady     OrderStatus = "ready"
	StatusDelivered OrderStatus = "delivered"
	StatusCancelled OrderStatus = "cancelled"
)

// transitions is the order state machine, the only copy of it: the edge
// checks each step with CanTransition, and the cloud rebuilds the history
// of an imported order with PathTo.
var transitions = map[OrderStatus][]OrderStatus{
	StatusPlaced:    {StatusAccepted, StatusCancelled},
	StatusAccepted:  {StatusPreparing, StatusCancelled},
	StatusPreparing: {StatusReady},
	StatusReady:     {StatusDelivered},
}

// paths holds PathTo's answers, worked out once from transitions.
var paths = shortestPaths(StatusPlaced)

// Valid reports whether s is a known status.
func (s OrderStatus) Valid() bool {
	switch s {
	case StatusPlaced, StatusAccepted, StatusPreparing, StatusReady, StatusDelivered, StatusCancelled:
		return true
	}
	return false
}

// Open reports whether an order in status s is still being worked on and so
// belongs in the staff queue.
func (s OrderStatus) Open() bool {
	return s == StatusPlaced || s == StatusAccepted || s == StatusPreparing || s == StatusReady
}

// CanTransition reports whether an order may move from one status to another.
func CanTransition(from, to OrderStatus) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// PathTo returns the statuses an order went through to reach s, from
// StatusPlaced to s, both included: the shortest way through the
// transitions, so a cancelled order was placed then cancelled. The cloud
// rebuilds the history of an order imported without one from it, so the
// lifecycle is not written down a second time there. It returns nil for
// a status no order reaches. The slice is the caller's to keep.
func PathTo(s OrderStatus) []OrderStatus {
	return slices.Clone(paths[s])
}

// shortestPaths walks transitions breadth first from start and returns,
// for every status it reaches, the path to it. Each status's successors
// are taken in the order transitions lists them, so a tie would always be
// broken the same way.
func shortestPaths(start OrderStatus) map[OrderStatus][]OrderStatus {
	out := map[OrderStatus][]OrderStatus{start: {start}}
	for queue := []OrderStatus{start}; len(queue) > 0; queue = queue[1:] {
		from := queue[0]
		for _, to := range transitions[from] {
			if _, seen := out[to]; !seen {
				out[to] = append(slices.Clip(out[from]), to)
				queue = append(queue, to)
			}
		}
	}
	return out
}

// Delivery says where an order goes.
type Delivery string

// Deliver to the room, or the attendee picks it up at the pantry.
const (
	DeliverRoom   Delivery = "room"
	DeliverPickup Delivery = "pickup"
)

// PaymentMethod is how an order is paid.
type PaymentMethod string

// Orders are either on the house or charged to a cost center.
const (
	PayComplimentary PaymentMethod = "complimentary"
	PayCostCenter    PaymentMethod = "cost_center"
)

// Order is one attendee order from one room.
type Order struct {
	ID           string        `json:"id"`
	SiteID       string        `json:"site_id"`
	SpaceID      string        `json:"space_id"`
	SpaceName    string        `json:"space_name"`
	SessionID    string        `json:"-"`
	Status       OrderStatus   `json:"status"`
	Lines        []OrderLine   `json:"lines"`
	Note         string        `json:"note"`
	DeliverTo    Delivery      `json:"deliver_to"`
	Subtotal     Money         `json:"subtotal"`
	Discount     Money         `json:"discount"`
	Total        Money         `json:"total"`
	Coupon       string        `json:"coupon,omitempty"`
	CostCenter   string        `json:"cost_center,omitempty"`
	Payment      PaymentMethod `json:"payment"`
	CatalogRev   int64         `json:"catalog_revision"`
	CancelReason string        `json:"cancel_reason,omitempty"`
	// DeliverBy is when the attendee wants the order delivered (or ready
	// to pick up), in UTC to the second; nil for as soon as possible.
	// Tablets flag an open order late once it has passed.
	DeliverBy *time.Time `json:"deliver_by,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// OrderLine is one item of an order, priced when the order was placed.
//
// Station, Tags and Allergens are the item's as the order was placed, not
// as it is now: the ticket a pantry works from must show what the
// attendee was offered (an allergen added to the recipe later was not in
// this sandwich), and a line stays at the station that took it.
type OrderLine struct {
	ItemID    string   `json:"item_id"`
	Name      string   `json:"name"`
	Quantity  int      `json:"quantity"`
	UnitPrice Money    `json:"unit_price"`
	LineTotal Money    `json:"line_total"`
	Note      string   `json:"note"`
	Station   string   `json:"station,omitempty"`
	Tags      []string `json:"tags,omitempty"`
	Allergens []string `json:"allergens,omitempty"`
}

// Limits on what one order may ask for. A meeting room of 40 people does not
// order 10,000 coffees; a request that does is a mistake or an attack.
const (
	MaxLines        = 50
	MaxQuantity     = 100
	MaxNoteLen      = 500
	MaxCodeLen      = 64
	MaxIdempotency  = 128
	MaxNameLen      = 200
	MaxStockDelta   = 100_000
	MaxReasonLength = 500
)

// Bounds of an order's deliver-by time, checked when it is placed
// (PlaceOrder.CheckDeliverBy). A pantry works a queue, not a calendar: a
// time more than MaxDeliverAhead ahead is a mistake (a wrong date, a
// phone set to another year), not a booking. DeliverBySkew forgives a
// time just past: the phone's clock and the node's disagree by seconds,
// and "14:30" chosen at 14:30:20 means now, not a refusal.
const (
	MaxDeliverAhead = 24 * time.Hour
	DeliverBySkew   = time.Minute
)

// PlaceOrder is an attendee's request to place an order.
//
// DeliverBy is omitted from the JSON when nil, so a request without one
// encodes (and hashes, for its Idempotency-Key) as it did before the
// field existed.
type PlaceOrder struct {
	Lines      []LineRequest `json:"lines"`
	Note       string        `json:"note"`
	DeliverTo  Delivery      `json:"deliver_to"`
	Coupon     string        `json:"coupon"`
	CostCenter string        `json:"cost_center"`
	DeliverBy  *time.Time    `json:"deliver_by,omitempty"`
}

// LineRequest is one requested line of a PlaceOrder.
type LineRequest struct {
	ItemID   string `json:"item_id"`
	Quantity int    `json:"quantity"`
	Note     string `json:"note"`
}

// Validate checks the request's shape: bounds, lengths and UTF-8. Whether
// items exist and are in stock is the store's business, and so is
// whether DeliverBy is in range (CheckDeliverBy needs the node's clock);
// Validate only normalises it to UTC and whole seconds, the precision
// every store keeps (PostgreSQL keeps microseconds, SQLite nanoseconds:
// the edge and the cloud must hold the same instant).
func (p *PlaceOrder) Validate() error {
	if len(p.Lines) == 0 {
		return Errorf(EINVALID, "choose at least one item")
	}
	if len(p.Lines) > MaxLines {
		return Errorf(EINVALID, "an order may have at most %d lines", MaxLines)
	}
	if p.DeliverTo == "" {
		p.DeliverTo = DeliverRoom
	}
	if p.DeliverTo != DeliverRoom && p.DeliverTo != DeliverPickup {
		return Errorf(EINVALID, "deliver_to must be \"room\" or \"pickup\"")
	}
	if err := CheckText("note", p.Note, MaxNoteLen); err != nil {
		return err
	}
	if err := CheckText("coupon", p.Coupon, MaxCodeLen); err != nil {
		return err
	}
	if err := CheckText("cost_center", p.CostCenter, MaxCodeLen); err != nil {
		return err
	}
	if p.DeliverBy != nil {
		t := p.DeliverBy.UTC().Truncate(time.Second)
		p.DeliverBy = &t
	}
	seen := make(map[string]bool, len(p.Lines))
	for i, l := range p.Lines {
		if l.ItemID == "" || len(l.ItemID) > MaxCodeLen {
			return Errorf(EINVALID, "line %d: item_id is required", i+1)
		}
		if seen[l.ItemID] {
			return Errorf(EINVALID, "line %d: item %s appears twice; use its quantity", i+1, l.ItemID)
		}
		seen[l.ItemID] = true
		if l.Quantity < 1 || l.Quantity > MaxQuantity {
			return Errorf(EINVALID, "line %d: quantity must be between 1 and %d", i+1, MaxQuantity)
		}
		if err := CheckText("line note", l.Note, MaxNoteLen); err != nil {
			return err
		}
	}
	return nil
}

// CheckDeliverBy checks DeliverBy against now, the node's clock: at
// most DeliverBySkew in the past and at most MaxDeliverAhead ahead. No
// DeliverBy (as soon as possible) is always fine.
func (p *PlaceOrder) CheckDeliverBy(now time.Time) error {
	if p.DeliverBy == nil {
		return nil
	}
	at, now := p.DeliverBy.UTC(), now.UTC().Truncate(time.Second)
	if at.Before(now.Add(-DeliverBySkew)) {
		return Errorf(EINVALID, "deliver_by %s has passed (it is %s here); leave it out to have the order as soon as possible",
			at.Format(time.RFC3339), now.Format(time.RFC3339))
	}
	if at.After(now.Add(MaxDeliverAhead)) {
		return Errorf(EINVALID, "deliver_by %s is more than %d hours ahead (it is %s here): the pantry takes orders for the next %d hours only",
			at.Format(time.RFC3339), int(MaxDeliverAhead.Hours()), now.Format(time.RFC3339), int(MaxDeliverAhead.Hours()))
	}
	return nil
}

// CheckText rejects invalid UTF-8, control characters other than newline
// and tab, and strings longer than max bytes.
func CheckText(field, s string, max int) error {
	if len(s) > max {
		return Errorf(EINVALID, "%s is longer than %d bytes", field, max)
	}
	if !utf8.ValidString(s) {
		return Errorf(EINVALID, "%s is not valid UTF-8", field)
	}
	for _, r := range s {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			return Errorf(EINVALID, "%s contains a control character", field)
		}
	}
	return nil
}
