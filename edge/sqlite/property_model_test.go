package sqlite_test

import (
	"reflect"
	"strings"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// sentOrder is a PlaceOrder call as it was made, kept so a later step can
// reuse its key and body.
type sentOrder struct {
	sess pantry.Session
	key  string
	req  pantry.PlaceOrder
}

// idemKey is what an Idempotency-Key is scoped to.
type idemKey struct{ sessionID, key string }

type keyedOrder struct {
	req     pantry.PlaceOrder
	orderID string
}

type modelOrder struct {
	sessionID string
	status    pantry.OrderStatus
	lines     []pantry.LineRequest
}

// model is what the store should hold. Its counters are successful state
// changes by kind; each maps to one outbox event type.
type model struct {
	items      []pantry.Item
	price      map[string]int64
	level      map[string]int64
	switchedOn map[string]bool
	sessions   []pantry.Session
	orders     map[string]*modelOrder
	orderIDs   []string
	keys       map[idemKey]keyedOrder
	sent       []sentOrder

	movements, statusChanges, redemptions, toggles int64
}

func newModel(menu []pantry.Item) *model {
	m := &model{
		items: menu, price: map[string]int64{}, level: map[string]int64{}, switchedOn: map[string]bool{},
		orders: map[string]*modelOrder{}, keys: map[idemKey]keyedOrder{},
	}
	for _, it := range menu {
		m.price[it.ID], m.level[it.ID], m.switchedOn[it.ID] = it.Price.Amount, it.Level, true
	}
	return m
}

// orderable is what the menu shows: switched on and at least one left.
func (m *model) orderable(itemID string) bool {
	return m.switchedOn[itemID] && m.level[itemID] > 0
}

// placeOutcome predicts PlaceOrder's error code, in the order the store
// checks: key replay or conflict, rate limit, each line, coupon, cost
// center. A replay also returns the id of the order it replays.
func (m *model) placeOutcome(sessionID, key string, req pantry.PlaceOrder, limit sqlite.OrderLimit) (string, string) {
	if prev, ok := m.keys[idemKey{sessionID, key}]; ok && key != "" {
		if !sameRequest(prev.req, req) {
			return pantry.ECONFLICT, ""
		}
		return "", prev.orderID
	}
	if limit.Max > 0 && m.placedBy(sessionID) >= limit.Max {
		return pantry.ERATELIMITED, ""
	}
	for _, l := range req.Lines {
		if code := m.lineOutcome(l); code != "" {
			return code, ""
		}
	}
	if req.Coupon != "" && !strings.EqualFold(req.Coupon, "WELCOME10") {
		return pantry.EINVALID, ""
	}
	if req.CostCenter != "" && req.CostCenter != "CC-1001" {
		return pantry.EINVALID, ""
	}
	return "", ""
}

func (m *model) lineOutcome(l pantry.LineRequest) string {
	level, ok := m.level[l.ItemID]
	switch {
	case !ok:
		return pantry.EINVALID
	case !m.switchedOn[l.ItemID], level < int64(l.Quantity):
		return pantry.EOUTOFSTOCK
	}
	return ""
}

// sameRequest compares two requests as the store hashes them: after
// Validate has filled in the default delivery.
func sameRequest(a, b pantry.PlaceOrder) bool {
	if err := a.Validate(); err != nil {
		return false
	}
	if err := b.Validate(); err != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}

// placedBy counts the session's orders; all of them fall inside the rate
// limit's hour, cancelled ones included.
func (m *model) placedBy(sessionID string) int {
	n := 0
	for _, o := range m.orders {
		if o.sessionID == sessionID {
			n++
		}
	}
	return n
}

func (m *model) place(sessionID, key string, req pantry.PlaceOrder, orderID string) {
	m.orders[orderID] = &modelOrder{sessionID: sessionID, status: pantry.StatusPlaced, lines: req.Lines}
	m.orderIDs = append(m.orderIDs, orderID)
	if key != "" {
		m.keys[idemKey{sessionID, key}] = keyedOrder{req: req, orderID: orderID}
	}
	for _, l := range req.Lines {
		m.level[l.ItemID] -= int64(l.Quantity)
	}
	m.movements += int64(len(req.Lines))
	if req.Coupon != "" {
		m.redemptions++
	}
}

func (m *model) cancelOutcome(id, reason string) string {
	if strings.TrimSpace(reason) == "" {
		return pantry.EINVALID
	}
	return m.transitionOutcome(id, pantry.StatusCancelled)
}

func (m *model) transitionOutcome(id string, to pantry.OrderStatus) string {
	o, ok := m.orders[id]
	switch {
	case !to.Valid():
		return pantry.EINVALID
	case !ok:
		return pantry.ENOTFOUND
	case !pantry.CanTransition(o.status, to):
		return pantry.EINVALIDTRANSITION
	}
	return ""
}

// cancel returns the order's stock: one cancel-return movement per line.
func (m *model) cancel(id string) {
	o := m.orders[id]
	o.status = pantry.StatusCancelled
	for _, l := range o.lines {
		m.level[l.ItemID] += int64(l.Quantity)
	}
	m.movements += int64(len(o.lines))
	m.statusChanges++
}

func (m *model) stockOutcome(itemID string, delta int64, reason pantry.StockReason) string {
	level, known := m.level[itemID]
	switch {
	case !reason.StaffReason(), delta == 0,
		reason == pantry.StockRestock && delta < 0,
		reason == pantry.StockWaste && delta > 0:
		return pantry.EINVALID
	case !known:
		return pantry.ENOTFOUND
	case level+delta < 0:
		return pantry.EINVALID
	}
	return ""
}

// events is how many outbox events of each type the store should hold.
func (m *model) events() map[string]int64 {
	orders := int64(len(m.orders))
	return map[string]int64{
		syncproto.EventSessionOpened:      int64(len(m.sessions)),
		syncproto.EventOrderPlaced:        orders,
		syncproto.EventPaymentRecorded:    orders,
		syncproto.EventCouponRedeemed:     m.redemptions,
		syncproto.EventOrderStatusChanged: m.statusChanges,
		syncproto.EventStockMoved:         m.movements,
		syncproto.EventItemAvailability:   m.toggles,
	}
}
