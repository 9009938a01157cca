package web

import (
	"github.com/pantry/pantry/edge/sqlite"
)

// announce publishes a committed order change and the stock it moved to the
// tablets. It runs after the commit: a tablet never hears of an order that
// might still roll back. Publishing failures are logged, not returned: the
// order is already durable, and tablets resync from retained state.
func (a *app) announce(res sqlite.OrderResult, event string) {
	if err := a.Bus.PublishOrder(res.Order.SiteID, event, res.Order); err != nil {
		a.Log.Warn("publish order", "order_id", res.Order.ID, "err", err)
	}
	a.announceStock(res.Stock)
}

func (a *app) announceStock(changes []sqlite.StockChange) {
	site := a.SiteID
	for _, ch := range changes {
		if err := a.Bus.PublishStock(site, ch.Level); err != nil {
			a.Log.Warn("publish stock", "item_id", ch.Level.ItemID, "err", err)
		}
		if ch.BecameLow {
			alert := map[string]any{"event": "inventory.low", "item_id": ch.Level.ItemID, "name": ch.Level.Name, "level": ch.Level.Level}
			if err := a.Bus.PublishAlert(site, alert); err != nil {
				a.Log.Warn("publish alert", "item_id", ch.Level.ItemID, "err", err)
			}
		}
	}
}
