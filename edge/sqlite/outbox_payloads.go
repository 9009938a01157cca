package sqlite

import (
	"time"

	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// The outbox carries syncproto's payload types and nothing else: the cloud
// decodes them with syncproto.DecodePayload and syncproto's golden files
// pin their JSON, so what the edge sends is pinned with them. The
// functions below turn the edge's domain values into those types; each
// maps field for field and adds nothing of its own.

// outboxPayload is every type an outbox event may carry. appendEvent accepts
// only these, so a domain value (whose JSON is shaped for attendees and
// tablets, not for the cloud) cannot reach the wire by accident.
type outboxPayload interface {
	syncproto.OrderPlaced | syncproto.StatusChanged | syncproto.PaymentRecorded | syncproto.StockMovement |
		syncproto.Session | syncproto.CouponRedeemed | syncproto.ItemAvailability
}

// orderPlaced is the order.placed payload of o, as the edge priced it.
func orderPlaced(o pantry.Order) syncproto.OrderPlaced {
	return syncproto.OrderPlaced{
		ID: o.ID, SiteID: o.SiteID, SpaceID: o.SpaceID, SessionID: o.SessionID, Status: string(o.Status),
		Lines: orderLines(o.Lines), Note: o.Note, DeliverTo: string(o.DeliverTo),
		Subtotal: money(o.Subtotal), Discount: money(o.Discount), Total: money(o.Total),
		Coupon: o.Coupon, CostCenter: o.CostCenter, Payment: string(o.Payment), CatalogRev: o.CatalogRev,
		CancelReason: o.CancelReason, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt, DeliverBy: o.DeliverBy,
	}
}

// orderLines converts an order's lines, keeping nil as nil.
func orderLines(lines []pantry.OrderLine) []syncproto.OrderLine {
	var out []syncproto.OrderLine
	for _, l := range lines {
		out = append(out, syncproto.OrderLine{
			ItemID: l.ItemID, Name: l.Name, Quantity: int64(l.Quantity),
			UnitPrice: money(l.UnitPrice), LineTotal: money(l.LineTotal), Note: l.Note,
		})
	}
	return out
}

func money(m pantry.Money) syncproto.Money {
	return syncproto.Money{Amount: m.Amount, Currency: m.Currency}
}

// statusChanged is the order.status_changed payload of one step of an
// order's life, named id (the step's row in order_status_history).
func statusChanged(id, orderID string, from, to pantry.OrderStatus, reason, actor string, at time.Time) syncproto.StatusChanged {
	return syncproto.StatusChanged{
		ID: id, OrderID: orderID, From: string(from), To: string(to), Reason: reason, Actor: actor, At: at,
	}
}

// paymentRecorded is the payment.recorded payload of p.
func paymentRecorded(p pantry.Payment) syncproto.PaymentRecorded {
	return syncproto.PaymentRecorded{
		ID: p.ID, OrderID: p.OrderID, Method: string(p.Method), Amount: money(p.Amount), Discount: money(p.Discount),
		Coupon: p.Coupon, CostCenter: p.CostCenter, CreatedAt: p.CreatedAt,
	}
}

// couponRedeemed is the coupon.redeemed payload of order o's use of
// coupon c, named id (the redemption's row).
func couponRedeemed(id string, c pantry.Coupon, o pantry.Order) syncproto.CouponRedeemed {
	return syncproto.CouponRedeemed{
		ID: id, CouponID: c.ID, Code: c.Code, OrderID: o.ID, Discount: money(o.Discount), At: o.CreatedAt,
	}
}

// stockMoved is the stock.moved payload of m, made by actor ("" for an
// attendee's sale). The edge leaves SiteID empty: the cloud takes the
// site from the node's credential.
func stockMoved(m pantry.StockMovement, actor string) syncproto.StockMovement {
	return syncproto.StockMovement{
		ID: m.ID, SiteID: m.SiteID, ItemID: m.ItemID, Delta: m.Delta, Reason: string(m.Reason),
		OrderID: m.OrderID, Actor: actor, CreatedAt: m.CreatedAt,
	}
}

// sessionPayload is the payload of session.opened and session.expired:
// the same session, once when it opens and once when it ends.
func sessionPayload(s pantry.Session) syncproto.Session {
	return syncproto.Session{
		ID: s.ID, SiteID: s.SiteID, SpaceID: s.SpaceID, SpaceName: s.SpaceName,
		CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt,
	}
}

// itemAvailability is the item.availability_changed payload of staff
// switching an item on or off.
func itemAvailability(itemID string, available bool, actor string, at time.Time) syncproto.ItemAvailability {
	return syncproto.ItemAvailability{ItemID: itemID, Available: available, Actor: actor, At: at}
}
