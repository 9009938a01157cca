package web

import (
	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/pantry"
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

// announceStock publishes the stock levels a committed movement changed,
// with an alert for each item it took low; failures are logged, as in
// announce.
func (a *app) announceStock(changes []sqlite.StockChange) {
	for _, ch := range changes {
		if err := a.Bus.PublishStockChange(a.SiteID, ch.Level, ch.BecameLow); err != nil {
			a.Log.Warn("publish stock", "item_id", ch.Level.ItemID, "err", err)
		}
	}
}

// announceAvailability publishes an item's stock row after staff marked it
// sold out or back, so every tablet's stock panel shows the switch.
func (a *app) announceAvailability(it pantry.Item, available bool) {
	lvl := pantry.StockLevel{ItemID: it.ID, Name: it.Name, Level: it.Level,
		Low: pantry.IsLow(it.Level, it.LowStockThreshold), SoldOut: !available}
	if err := a.Bus.PublishStock(a.SiteID, lvl); err != nil {
		a.Log.Warn("publish stock", "item_id", it.ID, "err", err)
	}
}
