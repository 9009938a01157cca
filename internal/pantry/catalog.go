package pantry

import "time"

// Organization is a tenant: a company with one or more buildings.
type Organization struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Site is one building, served by one edge node.
type Site struct {
	ID       string `json:"id"`
	OrgID    string `json:"org_id"`
	Name     string `json:"name"`
	Timezone string `json:"timezone"`
	Currency string `json:"currency"`
}

// Space is a meeting room with the unguessable code printed in its QR.
type Space struct {
	ID     string `json:"id"`
	SiteID string `json:"site_id"`
	Name   string `json:"name"`
	Floor  string `json:"floor"`
	Code   string `json:"code"`
}

// Item is a catalog item as one site sells it: price, availability and stock.
type Item struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Price       Money    `json:"price"`
	Tags        []string `json:"tags"`
	Allergens   []string `json:"allergens"`
	// Station is where the pantry prepares the item ("drinks", "food"):
	// a staff tablet set to a station sees only its lines. "" is no
	// station; such lines show on tablets set to StationAll only.
	Station           string `json:"station"`
	ImageURL          string `json:"image_url,omitempty"`
	LowStockThreshold int64  `json:"low_stock_threshold"`
	Available         bool   `json:"available"`
	Level             int64  `json:"-"`
}

// StockReason says why stock moved. Sales and cancel-returns come from
// orders; the rest are made by staff or admins.
type StockReason string

// Every kind of stock movement in the ledger.
const (
	StockSale       StockReason = "sale"
	StockReturn     StockReason = "cancel_return"
	StockRestock    StockReason = "restock"
	StockWaste      StockReason = "waste"
	StockCount      StockReason = "count"
	StockAdjustment StockReason = "adjustment"
)

// StaffReason reports whether staff may record a movement with reason r.
func (r StockReason) StaffReason() bool {
	return r == StockRestock || r == StockWaste || r == StockCount
}

// StockMovement is one immutable entry of the stock ledger. An item's level
// is the sum of its movements' deltas.
type StockMovement struct {
	ID        string      `json:"id"`
	SiteID    string      `json:"site_id"`
	ItemID    string      `json:"item_id"`
	Delta     int64       `json:"delta"`
	Reason    StockReason `json:"reason"`
	OrderID   string      `json:"order_id,omitempty"`
	CreatedAt time.Time   `json:"created_at"`
}

// StockLevel is an item's current level at a site.
type StockLevel struct {
	ItemID string `json:"item_id"`
	Name   string `json:"name"`
	Level  int64  `json:"level"`
	Low    bool   `json:"low"`
	// SoldOut is the staff's switch (sold out / back), whatever the
	// level. Only the edge knows it; the cloud leaves it out.
	SoldOut bool `json:"sold_out,omitempty"`
}

// IsLow reports whether level is at or below an item's low-stock threshold.
func IsLow(level, threshold int64) bool { return level <= threshold }

// Session is an attendee's visit to a room, opened by scanning its QR code.
type Session struct {
	ID        string    `json:"id"`
	SiteID    string    `json:"site_id"`
	SpaceID   string    `json:"space_id"`
	SpaceName string    `json:"space_name"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CouponKind says how a coupon discounts.
type CouponKind string

// A coupon takes a percentage or a fixed amount off the subtotal.
const (
	CouponPercent CouponKind = "percent"
	CouponFixed   CouponKind = "fixed"
)

// Coupon is a discount code with a validity window and a per-site
// redemption limit (0 means unlimited).
type Coupon struct {
	ID        string     `json:"id"`
	Code      string     `json:"code"`
	Kind      CouponKind `json:"kind"`
	Value     int64      `json:"value"`
	ValidFrom time.Time  `json:"valid_from"`
	ValidTo   time.Time  `json:"valid_to"`
	MaxUses   int64      `json:"max_uses"`
}

// Discount returns what c takes off subtotal, never more than subtotal.
func (c Coupon) Discount(subtotal int64) int64 {
	var d int64
	switch c.Kind {
	case CouponPercent:
		d = PercentOf(subtotal, c.Value)
	case CouponFixed:
		d = c.Value
	}
	return min(max(d, 0), subtotal)
}

// ActiveAt reports whether c may be redeemed at t.
func (c Coupon) ActiveAt(t time.Time) bool {
	return !t.Before(c.ValidFrom) && t.Before(c.ValidTo)
}

// CostCenter is an accounting code orders can be charged to.
type CostCenter struct {
	ID   string `json:"id"`
	Code string `json:"code"`
	Name string `json:"name"`
}

// Payment records how an order is paid, in minor units.
type Payment struct {
	ID         string        `json:"id"`
	OrderID    string        `json:"order_id"`
	Method     PaymentMethod `json:"method"`
	Amount     Money         `json:"amount"`
	Discount   Money         `json:"discount"`
	Coupon     string        `json:"coupon,omitempty"`
	CostCenter string        `json:"cost_center,omitempty"`
	CreatedAt  time.Time     `json:"created_at"`
}
