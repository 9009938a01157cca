package syncproto

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// Ids of the payloads below, as the edge that wrote them made them.
const (
	prevSite     = "01a24d18-6566-78dd-bb8e-19c5552a6927"
	prevSpace    = "01a24d18-6566-7947-b8dc-1abed16f7e45"
	prevSession  = "01a24d18-660b-7df4-995b-a2949d48c416"
	prevItem     = "01a24d18-6566-7eac-b2c4-36b8b28d6304"
	prevOrder    = "01a24d18-660e-70f2-8b92-2e5e0a8e4230"
	prevPayment  = "01a24d18-660e-788b-a9f6-cc036da6a6ff"
	prevCoupon   = "01a24d18-660a-7ac5-b7b7-62e573d5f5ff"
	prevRedeem   = "01a24d18-660e-798e-b12e-f10cf99e9c7e"
	prevStep     = "01a24d18-664e-7e48-9a39-608c560efd0f"
	prevMovement = "01a24d18-664f-7031-a6b7-f1a52f3f87ef"
)

// prevT is when the payloads below were written (the test's clock).
var prevT = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// previousEdgePayloads are outbox payloads exactly as the edge wrote them
// before its outbox held syncproto's types: one of each event type,
// copied from the outbox of a store driven through a session, an order
// with a coupon and a cost center, its cancellation, and an item switched
// off. Where they differ from what an edge writes now:
//
//   - order.placed carried "space_name" (the edge encoded its own Order,
//     which has one) and "session_id" last; OrderPlaced has no space_name.
//   - coupon.redeemed, order.status_changed and item.availability_changed
//     were maps, so their keys came in alphabetical order.
//
// The other payloads are byte for byte what an edge writes now.
var previousEdgePayloads = []struct {
	typ, payload string
	want         any
}{
	{EventSessionOpened,
		`{"id":"01a24d18-660b-7df4-995b-a2949d48c416","site_id":"01a24d18-6566-78dd-bb8e-19c5552a6927","space_id":"01a24d18-6566-7947-b8dc-1abed16f7e45","space_name":"Amsterdam","created_at":"2026-11-25T09:00:00Z","expires_at":"2026-11-25T10:00:00Z"}`,
		&Session{ID: prevSession, SiteID: prevSite, SpaceID: prevSpace, SpaceName: "Amsterdam", CreatedAt: prevT, ExpiresAt: prevT.Add(time.Hour)}},
	{EventOrderPlaced,
		`{"id":"01a24d18-660e-70f2-8b92-2e5e0a8e4230","site_id":"01a24d18-6566-78dd-bb8e-19c5552a6927","space_id":"01a24d18-6566-7947-b8dc-1abed16f7e45","space_name":"Amsterdam","status":"placed","lines":[{"item_id":"01a24d18-6566-7eac-b2c4-36b8b28d6304","name":"Flat white","quantity":2,"unit_price":{"amount":350,"currency":"EUR"},"line_total":{"amount":700,"currency":"EUR"},"note":"oat"}],"note":"by 10","deliver_to":"room","subtotal":{"amount":700,"currency":"EUR"},"discount":{"amount":70,"currency":"EUR"},"total":{"amount":630,"currency":"EUR"},"coupon":"WELCOME10","cost_center":"CC-1001","payment":"cost_center","catalog_revision":1,"created_at":"2026-11-25T09:00:00Z","updated_at":"2026-11-25T09:00:00Z","session_id":"01a24d18-660b-7df4-995b-a2949d48c416"}`,
		&OrderPlaced{ID: prevOrder, SiteID: prevSite, SpaceID: prevSpace, SessionID: prevSession, Status: "placed",
			Lines: []OrderLine{{ItemID: prevItem, Name: "Flat white", Quantity: 2, UnitPrice: eur(350), LineTotal: eur(700), Note: "oat"}},
			Note:  "by 10", DeliverTo: "room", Subtotal: eur(700), Discount: eur(70), Total: eur(630), Coupon: "WELCOME10",
			CostCenter: "CC-1001", Payment: "cost_center", CatalogRev: 1, CreatedAt: prevT, UpdatedAt: prevT}},
	{EventPaymentRecorded,
		`{"id":"01a24d18-660e-788b-a9f6-cc036da6a6ff","order_id":"01a24d18-660e-70f2-8b92-2e5e0a8e4230","method":"cost_center","amount":{"amount":630,"currency":"EUR"},"discount":{"amount":70,"currency":"EUR"},"coupon":"WELCOME10","cost_center":"CC-1001","created_at":"2026-11-25T09:00:00Z"}`,
		&PaymentRecorded{ID: prevPayment, OrderID: prevOrder, Method: "cost_center", Amount: eur(630), Discount: eur(70),
			Coupon: "WELCOME10", CostCenter: "CC-1001", CreatedAt: prevT}},
	{EventCouponRedeemed,
		`{"at":"2026-11-25T09:00:00Z","code":"WELCOME10","coupon_id":"01a24d18-660a-7ac5-b7b7-62e573d5f5ff","discount":{"amount":70,"currency":"EUR"},"id":"01a24d18-660e-798e-b12e-f10cf99e9c7e","order_id":"01a24d18-660e-70f2-8b92-2e5e0a8e4230"}`,
		&CouponRedeemed{ID: prevRedeem, CouponID: prevCoupon, Code: "WELCOME10", OrderID: prevOrder, Discount: eur(70), At: prevT}},
	{EventOrderStatusChanged,
		`{"actor":"pantry-demo","at":"2026-11-25T09:00:00Z","from":"accepted","id":"01a24d18-664e-7e48-9a39-608c560efd0f","order_id":"01a24d18-660e-70f2-8b92-2e5e0a8e4230","reason":"guest left","to":"cancelled"}`,
		&StatusChanged{ID: prevStep, OrderID: prevOrder, From: "accepted", To: "cancelled", Reason: "guest left", Actor: "pantry-demo", At: prevT}},
	{EventStockMoved,
		`{"id":"01a24d18-664f-7031-a6b7-f1a52f3f87ef","item_id":"01a24d18-6566-7eac-b2c4-36b8b28d6304","delta":2,"reason":"cancel_return","order_id":"01a24d18-660e-70f2-8b92-2e5e0a8e4230","actor":"pantry-demo","created_at":"2026-11-25T09:00:00Z"}`,
		&StockMovement{ID: prevMovement, ItemID: prevItem, Delta: 2, Reason: "cancel_return", OrderID: prevOrder, Actor: "pantry-demo", CreatedAt: prevT}},
	{EventItemAvailability,
		`{"actor":"pantry-demo","at":"2026-11-25T09:00:00Z","available":false,"item_id":"01a24d18-6566-7eac-b2c4-36b8b28d6304"}`,
		&ItemAvailability{ItemID: prevItem, Available: false, Actor: "pantry-demo", At: prevT}},
	{EventSessionExpired,
		`{"id":"01a24d18-660b-7df4-995b-a2949d48c416","site_id":"01a24d18-6566-78dd-bb8e-19c5552a6927","space_id":"01a24d18-6566-7947-b8dc-1abed16f7e45","space_name":"Amsterdam","created_at":"2026-11-25T09:00:00Z","expires_at":"2026-11-25T10:00:00Z"}`,
		&Session{ID: prevSession, SiteID: prevSite, SpaceID: prevSpace, SpaceName: "Amsterdam", CreatedAt: prevT, ExpiresAt: prevT.Add(time.Hour)}},
}

// TestDecodePayloadPreviousEdge: the cloud applies what edges wrote
// before their outbox held syncproto's types, and reads it as the same
// value as the shape they write now. Such events wait in an outbox for as
// long as a building is offline, and are pushed after the edge upgrades.
// It is also why DecodePayload must keep ignoring unknown fields within
// a schema: those order.placed payloads carry a space_name.
func TestDecodePayloadPreviousEdge(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range previousEdgePayloads {
		seen[tc.typ] = true
		t.Run(tc.typ, func(t *testing.T) {
			old := Event{Type: tc.typ, Schema: 1, Payload: json.RawMessage(tc.payload)}
			got, err := DecodePayload(old)
			if err != nil {
				t.Fatalf("the previous edge's payload is refused: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("previous payload decodes to\n%+v\nwant\n%+v", got, tc.want)
			}
			now := Event{Type: tc.typ, Schema: EventSchema, Payload: raw(tc.want)}
			fromNow, err := DecodePayload(now)
			if err != nil {
				t.Fatalf("today's payload is refused: %v", err)
			}
			if !reflect.DeepEqual(got, fromNow) {
				t.Fatalf("previous and today's payloads decode differently:\n%+v\n%+v", got, fromNow)
			}
		})
	}
	for _, typ := range []string{EventOrderPlaced, EventOrderStatusChanged, EventPaymentRecorded, EventStockMoved,
		EventSessionOpened, EventSessionExpired, EventCouponRedeemed, EventItemAvailability} {
		if !seen[typ] {
			t.Errorf("no previous payload of type %s", typ)
		}
	}
}
