package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// sentEvent is an outbox event a test expects: its type, its entity and
// its payload as the cloud decodes it.
type sentEvent struct {
	typ, entity string
	want        any // a pointer, as syncproto.DecodePayload returns it
}

// outboxScenario drives a store through one change of every kind and
// says which events each must have written; ids the store makes are read
// back from its tables through a read-only view.
type outboxScenario struct {
	t    *testing.T
	ctx  context.Context
	s    *sqlite.Store
	d    sqlite.Demo
	db   *sql.DB
	now  time.Time
	want []sentEvent
}

// tabletUser is who makes every staff change.
const tabletUser = "pantry-7"

// TestOutboxPayloadsAreSyncproto pins what the edge sends, not only what
// syncproto's golden files say it should: for each kind of change, the
// outbox event is the syncproto payload its type names, carrying the
// change's values. Decoded as the cloud decodes it, it equals the
// expected struct; encoded again, it gives back the very bytes the edge
// wrote, so the edge adds, renames and reorders nothing (DecodePayload
// ignores unknown fields, so decoding alone would not show an extra one).
func TestOutboxPayloadsAreSyncproto(t *testing.T) {
	sc := newOutboxScenario(t)
	head, err := sc.s.OutboxHead(sc.ctx) // what seeding the demo wrote
	if err != nil {
		t.Fatal(err)
	}
	sess := sc.openSession()
	deliverBy := sc.now.Add(90 * time.Minute)
	placed := sc.placeOrder(sess, pantry.PlaceOrder{
		Lines: []pantry.LineRequest{
			{ItemID: sc.item("Flat white").ID, Quantity: 2, Note: "oat milk"},
			{ItemID: sc.item("Croissant").ID, Quantity: 1},
		},
		Note: "by 10", DeliverTo: pantry.DeliverPickup, Coupon: "welcome10", CostCenter: "cc-1001", DeliverBy: &deliverBy,
	})
	sc.placeOrder(sess, pantry.PlaceOrder{Lines: []pantry.LineRequest{{ItemID: sc.item("Espresso").ID, Quantity: 1}}})
	sc.setStatus(placed, pantry.StatusPlaced, pantry.StatusAccepted, "")
	sc.setStatus(placed, pantry.StatusAccepted, pantry.StatusCancelled, "guest left")
	sc.restock(sc.item("Flat white"), 12)
	sc.switchOff(sc.item("Croissant"))
	sc.expire(sess)

	events, err := sc.s.PendingEvents(sc.ctx, head, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(events), len(sc.want); got != want {
		t.Fatalf("outbox has %d new events, want %d", got, want)
	}
	for i, e := range events {
		checkSent(t, e, sc.want[i])
	}
}

// checkSent checks one outbox event against what the change should have
// written.
func checkSent(t *testing.T, e syncproto.Event, want sentEvent) {
	t.Helper()
	if e.Type != want.typ || e.EntityID != want.entity {
		t.Fatalf("event %d is %s of %s, want %s of %s", e.Seq, e.Type, e.EntityID, want.typ, want.entity)
	}
	got, err := syncproto.DecodePayload(e)
	if err != nil {
		t.Fatalf("event %d (%s): the cloud refuses it: %v\n%s", e.Seq, e.Type, err, e.Payload)
	}
	if !reflect.DeepEqual(got, want.want) {
		t.Fatalf("event %d (%s) decodes to\n%+v\nwant\n%+v", e.Seq, e.Type, got, want.want)
	}
	again, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, e.Payload) {
		t.Fatalf("event %d (%s) is not exactly its syncproto type:\nedge wrote %s\nsyncproto  %s", e.Seq, e.Type, e.Payload, again)
	}
}

func newOutboxScenario(t *testing.T) *outboxScenario {
	sc := &outboxScenario{t: t, ctx: context.Background(), now: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
	s, err := sqlite.Open(sc.ctx, t.TempDir(), sqlite.Options{Now: func() time.Time { return sc.now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if sc.d, err = s.SeedDemo(sc.ctx); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", readOnlyDSN(s.Path()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sc.s, sc.db = s, db
	return sc
}

// tick moves the clock on a minute, so each change has its own time and
// a payload showing another change's time is caught.
func (sc *outboxScenario) tick() time.Time {
	sc.now = sc.now.Add(time.Minute)
	return sc.now
}

func (sc *outboxScenario) expect(typ, entity string, want any) {
	sc.want = append(sc.want, sentEvent{typ: typ, entity: entity, want: want})
}

// id reads one id the store made, by query.
func (sc *outboxScenario) id(query string, args ...any) string {
	sc.t.Helper()
	var id string
	if err := sc.db.QueryRowContext(sc.ctx, query, args...).Scan(&id); err != nil {
		sc.t.Fatalf("%s %v: %v", query, args, err)
	}
	return id
}

func (sc *outboxScenario) item(name string) pantry.Item { return itemNamed(sc.t, sc.s, name) }

func (sc *outboxScenario) openSession() pantry.Session {
	at := sc.tick()
	room := sc.d.Rooms[0]
	sess, _, err := sc.s.OpenSession(sc.ctx, room.Code, time.Hour)
	if err != nil {
		sc.t.Fatal(err)
	}
	sc.expect(syncproto.EventSessionOpened, sess.ID, &syncproto.Session{ID: sess.ID, SiteID: sc.d.SiteID,
		SpaceID: room.ID, SpaceName: room.Name, CreatedAt: at, ExpiresAt: at.Add(time.Hour)})
	return sess
}

// placeOrder places req and expects its events: a sale per line, the
// order, its payment and, with a coupon, the redemption. Prices come from
// the demo menu, the discount from its 10 % coupon; an order that names
// no delivery goes to the room. req's DeliverBy, if any, must be in UTC
// and whole seconds, as the store keeps it.
func (sc *outboxScenario) placeOrder(sess pantry.Session, req pantry.PlaceOrder) pantry.Order {
	at := sc.tick()
	res, err := sc.s.PlaceOrder(sc.ctx, sess, "", req, sqlite.OrderLimit{})
	if err != nil {
		sc.t.Fatal(err)
	}
	o := res.Order
	want := &syncproto.OrderPlaced{ID: o.ID, SiteID: sc.d.SiteID, SpaceID: sess.SpaceID, SessionID: sess.ID, Status: "placed",
		Note: req.Note, DeliverTo: string(req.DeliverTo), Payment: "complimentary", CatalogRev: 1, CreatedAt: at, UpdatedAt: at,
		DeliverBy: req.DeliverBy}
	if req.DeliverTo == "" {
		want.DeliverTo = "room"
	}
	var subtotal int64
	for _, l := range req.Lines {
		it := sc.itemByID(l.ItemID)
		lineTotal := it.Price.Amount * int64(l.Quantity)
		want.Lines = append(want.Lines, syncproto.OrderLine{ItemID: it.ID, Name: it.Name, Quantity: int64(l.Quantity),
			UnitPrice: eur(it.Price.Amount), LineTotal: eur(lineTotal), Note: l.Note})
		subtotal += lineTotal
		sc.expectMovement(it.ID, -int64(l.Quantity), "sale", o.ID, "", at)
	}
	want.Subtotal, want.Discount, want.Total = eur(subtotal), eur(0), eur(subtotal)
	if req.Coupon != "" {
		want.Coupon, want.Discount, want.Total = "WELCOME10", eur(pantry.PercentOf(subtotal, 10)), eur(subtotal-pantry.PercentOf(subtotal, 10))
	}
	if req.CostCenter != "" {
		want.CostCenter, want.Payment = "CC-1001", "cost_center"
	}
	sc.expect(syncproto.EventOrderPlaced, o.ID, want)
	sc.expectPayment(want)
	if req.Coupon != "" {
		sc.expectRedemption(want)
	}
	return o
}

func (sc *outboxScenario) itemByID(id string) pantry.Item {
	menu, err := sc.s.Menu(sc.ctx)
	if err != nil {
		sc.t.Fatal(err)
	}
	for _, it := range menu {
		if it.ID == id {
			return it
		}
	}
	sc.t.Fatalf("no item %s", id)
	return pantry.Item{}
}

func (sc *outboxScenario) expectPayment(o *syncproto.OrderPlaced) {
	id := sc.id(`SELECT id FROM payments WHERE order_id = ?`, o.ID)
	sc.expect(syncproto.EventPaymentRecorded, id, &syncproto.PaymentRecorded{ID: id, OrderID: o.ID, Method: o.Payment,
		Amount: o.Total, Discount: o.Discount, Coupon: o.Coupon, CostCenter: o.CostCenter, CreatedAt: o.CreatedAt})
}

func (sc *outboxScenario) expectRedemption(o *syncproto.OrderPlaced) {
	id := sc.id(`SELECT id FROM coupon_redemptions WHERE order_id = ?`, o.ID)
	coupon := sc.id(`SELECT id FROM coupons WHERE code = ?`, o.Coupon)
	sc.expect(syncproto.EventCouponRedeemed, id, &syncproto.CouponRedeemed{ID: id, CouponID: coupon, Code: o.Coupon,
		OrderID: o.ID, Discount: o.Discount, At: o.CreatedAt})
}

func (sc *outboxScenario) expectMovement(itemID string, delta int64, reason, orderID, actor string, at time.Time) {
	id := sc.id(`SELECT id FROM stock_movements WHERE item_id = ? AND reason = ? AND created_at = ?`, itemID, reason, at.UnixNano())
	sc.expect(syncproto.EventStockMoved, id, &syncproto.StockMovement{ID: id, ItemID: itemID, Delta: delta, Reason: reason,
		OrderID: orderID, Actor: actor, CreatedAt: at})
}

// setStatus moves o on from status from and expects the step and, for a
// cancellation, the return of each line's stock.
func (sc *outboxScenario) setStatus(o pantry.Order, from, to pantry.OrderStatus, reason string) {
	at := sc.tick()
	res, err := sc.s.SetOrderStatus(sc.ctx, o.ID, to, reason, tabletUser)
	if err != nil {
		sc.t.Fatal(err)
	}
	id := sc.id(`SELECT id FROM order_status_history WHERE order_id = ? AND to_status = ?`, o.ID, string(to))
	sc.expect(syncproto.EventOrderStatusChanged, o.ID, &syncproto.StatusChanged{ID: id, OrderID: o.ID, From: string(from),
		To: string(to), Reason: reason, Actor: tabletUser, At: at})
	if to != pantry.StatusCancelled {
		return
	}
	for _, l := range res.Order.Lines {
		sc.expectMovement(l.ItemID, int64(l.Quantity), "cancel_return", o.ID, tabletUser, at)
	}
}

func (sc *outboxScenario) restock(it pantry.Item, delta int64) {
	at := sc.tick()
	if _, err := sc.s.RecordStock(sc.ctx, it.ID, delta, pantry.StockRestock, tabletUser); err != nil {
		sc.t.Fatal(err)
	}
	sc.expectMovement(it.ID, delta, "restock", "", tabletUser, at)
}

func (sc *outboxScenario) switchOff(it pantry.Item) {
	at := sc.tick()
	if _, err := sc.s.SetAvailability(sc.ctx, it.ID, false, tabletUser); err != nil {
		sc.t.Fatal(err)
	}
	sc.expect(syncproto.EventItemAvailability, it.ID, &syncproto.ItemAvailability{ItemID: it.ID, Available: false,
		Actor: tabletUser, At: at})
}

// expire runs the clock past sess's end and expects session.expired to
// carry the session as it opened.
func (sc *outboxScenario) expire(sess pantry.Session) {
	sc.now = sess.ExpiresAt.Add(time.Minute)
	expired, err := sc.s.ExpireSessions(sc.ctx)
	if err != nil || len(expired) != 1 {
		sc.t.Fatalf("expired %d sessions, err=%v; want 1", len(expired), err)
	}
	sc.expect(syncproto.EventSessionExpired, sess.ID, &syncproto.Session{ID: sess.ID, SiteID: sess.SiteID,
		SpaceID: sess.SpaceID, SpaceName: sess.SpaceName, CreatedAt: sess.CreatedAt, ExpiresAt: sess.ExpiresAt})
}
