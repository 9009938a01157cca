package web

import (
	"log/slog"

	"github.com/pantry/pantry/edge/mqtt"
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
	AnnounceStock(a.Bus, a.Log, a.SiteID, changes)
}

// AnnounceStock publishes new stock levels (retained) and an
// inventory.low alert for each item that just crossed its threshold,
// whether the movement was made here or pulled from the cloud.
func AnnounceStock(bus *mqtt.Broker, log *slog.Logger, site string, changes []sqlite.StockChange) {
	for _, ch := range changes {
		if err := bus.PublishStock(site, ch.Level); err != nil {
			log.Warn("publish stock", "item_id", ch.Level.ItemID, "err", err)
		}
		if ch.BecameLow {
			alert := map[string]any{"event": "inventory.low", "item_id": ch.Level.ItemID, "name": ch.Level.Name, "level": ch.Level.Level}
			if err := bus.PublishAlert(site, alert); err != nil {
				log.Warn("publish alert", "item_id", ch.Level.ItemID, "err", err)
			}
		}
	}
}
