package fleetsim

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// The event generator: what one building's outbox holds over a day, made
// from the configuration the node pulled (its rooms, its menu at its
// prices, the organization's coupons and cost centers), in the order an
// edge writes it. Attendees open a session in a room and order from it
// (sale movements, the order, its payment, a coupon's redemption); staff
// work the queue one step at a time (accepted, preparing, ready,
// delivered; now and then cancelled, the stock returned), mark an item
// sold out and back, and count or waste stock. Every event is one the
// cloud applies: the generator never makes a dead letter on purpose, and
// a run that meets one fails.

// genConfig is what the generator takes from a pulled configuration.
type genConfig struct {
	revision    int64
	siteID      string
	currency    string
	spaces      []syncproto.Space
	items       []syncproto.Item // available ones only
	coupons     []syncproto.Coupon
	costCenters []string
}

// newGenConfig keeps what the generator needs of cfg.
func newGenConfig(cfg *syncproto.Config) genConfig {
	g := genConfig{revision: cfg.Revision, siteID: cfg.Site.ID, currency: cfg.Site.Currency, spaces: cfg.Spaces, coupons: cfg.Coupons}
	for _, it := range cfg.Items {
		if it.Available && it.Price.Currency == cfg.Site.Currency {
			g.items = append(g.items, it)
		}
	}
	for _, cc := range cfg.CostCenters {
		g.costCenters = append(g.costCenters, cc.Code)
	}
	return g
}

// genOrder is an order the generator placed and staff still work on.
type genOrder struct {
	id     string
	status pantry.OrderStatus
	lines  []syncproto.OrderLine
}

// genSession is the attendee session orders are placed in.
type genSession struct {
	s    syncproto.Session
	uses int
}

// generator makes one node's events. It is not safe for concurrent use:
// its node's push loop alone calls it.
type generator struct {
	rng     *rand.Rand
	now     func() time.Time
	seq     int64 // the last seq made
	cfg     genConfig
	session *genSession
	open    []*genOrder
	soldOut map[string]bool // items staff marked sold out
}

// simEvent is an event with what it adds to the cloud's rows: the
// exactly-once check counts rows by kind against these.
type simEvent struct {
	syncproto.Event
	lines int // order lines, for an order.placed
}

func newGenerator(rng *rand.Rand, now func() time.Time, seq int64) *generator {
	return &generator{rng: rng, now: now, seq: seq, soldOut: map[string]bool{}}
}

// setConfig replaces the configuration new events are made from.
func (g *generator) setConfig(cfg *syncproto.Config) { g.cfg = newGenConfig(cfg) }

// tick makes what a building writes between two pushes: a few events. An
// order placed (about six events) three times in five, and one or two
// steps of staff work; now and then a staff stock count or a sold-out
// switch.
func (g *generator) tick() []simEvent {
	var out []simEvent
	if g.rng.IntN(5) < 3 {
		out = append(out, g.place()...)
	}
	for range 1 + g.rng.IntN(2) {
		out = append(out, g.step()...)
	}
	switch g.rng.IntN(40) {
	case 0:
		out = append(out, g.staffStock()...)
	case 1:
		out = append(out, g.availability()...)
	}
	if len(out) == 0 {
		out = append(out, g.place()...)
	}
	if len(out) == 0 { // nothing to sell and nothing open: staff count the shelf
		out = append(out, g.staffStock()...)
	}
	return out
}

// backlog makes at least n events: what piles up in the outbox while the
// building's link is down, worked as a day is.
func (g *generator) backlog(n int) []simEvent {
	var out []simEvent
	for len(out) < n {
		before := len(out)
		out = append(out, g.tick()...)
		if len(out) == before {
			break
		}
	}
	return out
}

// event makes the next outbox event.
func (g *generator) event(typ, entity string, payload any) (simEvent, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return simEvent{}, fmt.Errorf("encode %s: %w", typ, err)
	}
	g.seq++
	return simEvent{Event: syncproto.Event{Seq: g.seq, ID: pantry.NewID(), Type: typ, Schema: syncproto.EventSchema,
		EntityID: entity, Payload: b, CreatedAt: g.now().UTC()}}, nil
}

// must is event for the generator's own payloads, which always encode:
// they are structs of strings, numbers and times.
func (g *generator) must(typ, entity string, payload any) simEvent {
	e, err := g.event(typ, entity, payload)
	if err != nil {
		e, _ = g.event(typ, entity, struct{}{})
	}
	return e
}

// sessionFor returns the session the next order is placed in, opening one
// (and expiring the one before) every few orders.
func (g *generator) sessionFor() (*genSession, []simEvent) {
	if g.session != nil && g.session.uses < 3 {
		return g.session, nil
	}
	var out []simEvent
	now := g.now().UTC()
	if old := g.session; old != nil {
		out = append(out, g.must(syncproto.EventSessionExpired, old.s.ID, old.s))
	}
	sp := g.cfg.spaces[g.rng.IntN(len(g.cfg.spaces))]
	g.session = &genSession{s: syncproto.Session{ID: pantry.NewID(), SiteID: g.cfg.siteID, SpaceID: sp.ID, SpaceName: sp.Name,
		CreatedAt: now, ExpiresAt: now.Add(2 * time.Hour)}}
	out = append(out, g.must(syncproto.EventSessionOpened, g.session.s.ID, g.session.s))
	return g.session, out
}

// place makes one order's events: its sale movements, the order priced at
// the node's configuration, its payment and, one time in five, a coupon's
// redemption. Nothing when the site sells nothing or has no room.
func (g *generator) place() []simEvent {
	items := g.sellable()
	if len(items) == 0 || len(g.cfg.spaces) == 0 {
		return nil
	}
	sess, out := g.sessionFor()
	sess.uses++
	now := g.now().UTC()
	o := &genOrder{id: pantry.NewID(), status: pantry.StatusPlaced}
	var subtotal int64
	for _, k := range g.rng.Perm(len(items))[:min(1+g.rng.IntN(3), len(items))] {
		it, qty := items[k], 1+g.rng.Int64N(3)
		o.lines = append(o.lines, syncproto.OrderLine{ItemID: it.ID, Name: it.Name, Quantity: qty,
			UnitPrice: it.Price, LineTotal: g.money(it.Price.Amount * qty)})
		subtotal += it.Price.Amount * qty
		out = append(out, g.must(syncproto.EventStockMoved, it.ID, syncproto.StockMovement{ID: pantry.NewID(), SiteID: g.cfg.siteID,
			ItemID: it.ID, Delta: -qty, Reason: string(pantry.StockSale), OrderID: o.id, CreatedAt: now}))
	}
	placed := syncproto.OrderPlaced{ID: o.id, SiteID: g.cfg.siteID, SpaceID: sess.s.SpaceID, SessionID: sess.s.ID,
		Status: string(pantry.StatusPlaced), Lines: o.lines, DeliverTo: string(pantry.DeliverRoom), Payment: string(pantry.PayComplimentary),
		CatalogRev: g.cfg.revision, CreatedAt: now, UpdatedAt: now}
	coupon, hasCoupon := g.coupon(now)
	var discount int64
	if hasCoupon {
		discount = pantry.Coupon{Kind: pantry.CouponKind(coupon.Kind), Value: coupon.Value}.Discount(subtotal)
		placed.Coupon = coupon.Code
	}
	if len(g.cfg.costCenters) > 0 && g.rng.IntN(5) < 2 {
		placed.Payment, placed.CostCenter = string(pantry.PayCostCenter), g.cfg.costCenters[g.rng.IntN(len(g.cfg.costCenters))]
	}
	placed.Subtotal, placed.Discount, placed.Total = g.money(subtotal), g.money(discount), g.money(subtotal-discount)
	ev := g.must(syncproto.EventOrderPlaced, o.id, placed)
	ev.lines = len(o.lines)
	out = append(out, ev)
	out = append(out, g.must(syncproto.EventPaymentRecorded, o.id, syncproto.PaymentRecorded{ID: pantry.NewID(), OrderID: o.id,
		Method: placed.Payment, Amount: placed.Total, Discount: placed.Discount, Coupon: placed.Coupon, CostCenter: placed.CostCenter, CreatedAt: now}))
	if hasCoupon {
		out = append(out, g.must(syncproto.EventCouponRedeemed, o.id, syncproto.CouponRedeemed{ID: pantry.NewID(), CouponID: coupon.ID,
			Code: coupon.Code, OrderID: o.id, Discount: placed.Discount, At: now}))
	}
	g.open = append(g.open, o)
	return out
}

// sellable lists the items attendees may order now.
func (g *generator) sellable() []syncproto.Item {
	var out []syncproto.Item
	for _, it := range g.cfg.items {
		if !g.soldOut[it.ID] {
			out = append(out, it)
		}
	}
	return out
}

// coupon picks a coupon for one order in five, if one is valid now.
func (g *generator) coupon(now time.Time) (syncproto.Coupon, bool) {
	if len(g.cfg.coupons) == 0 || g.rng.IntN(5) != 0 {
		return syncproto.Coupon{}, false
	}
	c := g.cfg.coupons[g.rng.IntN(len(g.cfg.coupons))]
	if now.Before(c.ValidFrom) || !now.Before(c.ValidTo) {
		return syncproto.Coupon{}, false
	}
	return c, true
}

func (g *generator) money(amount int64) syncproto.Money {
	return syncproto.Money{Amount: amount, Currency: g.cfg.currency}
}

// step moves one of the oldest open orders on by one status; one order in
// forty is cancelled while still placed or accepted, its stock returned.
func (g *generator) step() []simEvent {
	if len(g.open) == 0 {
		return nil
	}
	i := g.rng.IntN(min(len(g.open), 3))
	o := g.open[i]
	to := next[o.status]
	if (o.status == pantry.StatusPlaced || o.status == pantry.StatusAccepted) && g.rng.IntN(40) == 0 {
		to = pantry.StatusCancelled
	}
	now := g.now().UTC()
	c := syncproto.StatusChanged{ID: pantry.NewID(), OrderID: o.id, From: string(o.status), To: string(to), Actor: "tablet-1", At: now}
	if to == pantry.StatusCancelled {
		c.Reason = "meeting moved"
	}
	o.status = to
	out := []simEvent{g.must(syncproto.EventOrderStatusChanged, o.id, c)}
	if to == pantry.StatusCancelled {
		for _, l := range o.lines {
			out = append(out, g.must(syncproto.EventStockMoved, l.ItemID, syncproto.StockMovement{ID: pantry.NewID(), SiteID: g.cfg.siteID,
				ItemID: l.ItemID, Delta: l.Quantity, Reason: string(pantry.StockReturn), OrderID: o.id, Actor: "tablet-1", CreatedAt: now}))
		}
	}
	if to == pantry.StatusDelivered || to == pantry.StatusCancelled {
		g.open = append(g.open[:i], g.open[i+1:]...)
	}
	return out
}

// next is the status staff move an order to from each open one.
var next = map[pantry.OrderStatus]pantry.OrderStatus{
	pantry.StatusPlaced: pantry.StatusAccepted, pantry.StatusAccepted: pantry.StatusPreparing,
	pantry.StatusPreparing: pantry.StatusReady, pantry.StatusReady: pantry.StatusDelivered,
}

// staffStock is staff writing off what spoiled, or correcting a count.
func (g *generator) staffStock() []simEvent {
	if len(g.cfg.items) == 0 {
		return nil
	}
	it := g.cfg.items[g.rng.IntN(len(g.cfg.items))]
	m := syncproto.StockMovement{ID: pantry.NewID(), SiteID: g.cfg.siteID, ItemID: it.ID, Delta: -1, Reason: string(pantry.StockWaste),
		Actor: "tablet-1", CreatedAt: g.now().UTC()}
	if g.rng.IntN(2) == 0 {
		m.Delta, m.Reason = 1+g.rng.Int64N(5), string(pantry.StockCount)
	}
	return []simEvent{g.must(syncproto.EventStockMoved, it.ID, m)}
}

// availability is staff marking an item sold out, or back.
func (g *generator) availability() []simEvent {
	if len(g.cfg.items) == 0 {
		return nil
	}
	it := g.cfg.items[g.rng.IntN(len(g.cfg.items))]
	out := !g.soldOut[it.ID]
	if out && len(g.sellable()) == 1 {
		return nil // keep one item to sell
	}
	g.soldOut[it.ID] = out
	return []simEvent{g.must(syncproto.EventItemAvailability, it.ID, syncproto.ItemAvailability{ItemID: it.ID, Available: !out,
		Actor: "tablet-1", At: g.now().UTC()})}
}
