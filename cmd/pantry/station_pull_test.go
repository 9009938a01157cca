package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/pantry/pantry/edge/edgetest"
	"github.com/pantry/pantry/internal/pantry"
)

// TestStationReachesEdge: the station and allergens an admin gives an
// item in the cloud reach the building's edge, whose menu carries them,
// and an order for the item carries them on its line: in the attendee's
// answer and in the order the staff tablets get over MQTT. Real
// processes, as in TestPulledStockReachesTablets: the edge's sync client
// says it decodes stations, and the cloud sends them.
func TestStationReachesEdge(t *testing.T) {
	w := newWorld(t)
	w.start(1)
	e, coffee := w.edges[0], w.items[0]
	w.api("PATCH", "/api/v1/items/"+coffee, map[string]any{"station": "drinks", "allergens": []string{"milk"}}, 200)

	status, sess := doJSON("POST", e.url()+"/api/v1/sessions", "", map[string]string{"space_code": e.rooms[0]}, nil)
	if status != http.StatusCreated {
		t.Fatalf("open session: %d %v", status, sess)
	}
	token := sess["token"].(string)
	awaitMenuStation(t, e, token, coffee, "drinks")

	var placed pantry.Order
	status, body := doJSON("POST", e.url()+"/api/v1/orders", token, map[string]any{"lines": []map[string]any{{"item_id": coffee, "quantity": 1}}}, nil)
	decodeAs(t, body, &placed)
	if status != http.StatusCreated || len(placed.Lines) != 1 {
		t.Fatalf("place order: %d %+v", status, placed)
	}
	if l := placed.Lines[0]; l.Station != "drinks" || !slices.Equal(l.Allergens, []string{"milk"}) {
		t.Fatalf("order line %+v, want station drinks and allergen milk", l)
	}
	// The queue entry is retained: an exact topic, subscribed after the
	// order was placed, gets it.
	staff := subscribedTablet(t, e, "pantry/"+e.siteID+"/queue/"+placed.ID)
	staff.Await(t, "the queued order with its line's station and allergens", func(m edgetest.Message) bool {
		var o pantry.Order
		return json.Unmarshal(m.Payload, &o) == nil && len(o.Lines) == 1 &&
			o.Lines[0].Station == "drinks" && slices.Equal(o.Lines[0].Allergens, []string{"milk"})
	})
}

// menuEntry is what the test reads of an item on the edge's menu.
type menuEntry struct {
	ID      string `json:"id"`
	Station string `json:"station"`
}

// awaitMenuStation polls e's menu until item is at station: the edge's
// long-polling pull brings an admin's change within seconds.
func awaitMenuStation(t *testing.T, e *edgeNode, token, item, station string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var menu struct{ Items []menuEntry }
	for time.Now().Before(deadline) {
		if status, body := doJSON("GET", e.url()+"/api/v1/menu", token, nil, nil); status == http.StatusOK {
			decodeAs(t, body, &menu)
			i := slices.IndexFunc(menu.Items, func(it menuEntry) bool { return it.ID == item })
			if i >= 0 && menu.Items[i].Station == station {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("item %s not at station %q on the edge's menu within 30 s: %+v", item, station, menu.Items)
}

// decodeAs reads the JSON object doJSON decoded as a map into out.
func decodeAs(t *testing.T, m map[string]any, out any) {
	t.Helper()
	b, err := json.Marshal(m)
	if err == nil {
		err = json.Unmarshal(b, out)
	}
	if err != nil {
		t.Fatalf("decode %v: %v", m, err)
	}
}
