package main

import (
	"testing"

	"github.com/pantry/pantry/edge/edgetest"
)

// TestPulledStockReachesTablets: stock an admin moves in the cloud reaches
// the tablets of the building's edge as stock moved at the edge does, in
// the same bytes: the movement that takes an item low raises the
// inventory.low alert, and the new level is retained for tablets that
// connect later. Real processes: the cloud on PostgreSQL and an enrolled
// edge, as a building runs them.
func TestPulledStockReachesTablets(t *testing.T) {
	w := newWorld(t)
	w.start(1)
	e, coffee := w.edges[0], w.items[0]
	// Each tablet subscribes to one exact topic, not pantry/{site}/#:
	// mochi v2.7.9 walks its topic tree without a lock to find the
	// retained messages a wildcard subscription gets, and the race
	// detector catches that racing with a retained publish.
	staff := subscribedTablet(t, e, "pantry/"+e.siteID+"/alerts")
	// 5,000 in stock, no threshold set: taking all of it makes it low.
	w.api("POST", "/api/v1/sites/"+e.siteID+"/stock/movements", map[string]any{"item_id": coffee, "delta": -5000, "reason": "waste"}, 201)
	alert := `{"event":"inventory.low","item_id":"` + coffee + `","level":0,"name":"Coffee"}`
	staff.Await(t, "alert "+alert, func(m edgetest.Message) bool { return string(m.Payload) == alert })
	late := subscribedTablet(t, e, "pantry/"+e.siteID+"/stock/"+coffee)
	stock := `{"item_id":"` + coffee + `","level":0,"low":true,"sold_out":false}`
	late.Await(t, "retained stock level "+stock, func(m edgetest.Message) bool { return m.Retain && string(m.Payload) == stock })
}

// subscribedTablet logs e's tablet in and subscribes it to topic.
func subscribedTablet(t *testing.T, e *edgeNode, topic string) *edgetest.Tablet {
	t.Helper()
	tab, err := edgetest.Connect(t, e.mqtt, e.tablet[0], e.tablet[1])
	if err != nil {
		t.Fatalf("tablet login: %v", err)
	}
	if code := tab.Subscribe(t, topic); code > 2 {
		t.Fatalf("subscribe %s: reason 0x%02x", topic, code)
	}
	return tab
}
