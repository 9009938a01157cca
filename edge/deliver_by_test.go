package edge_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/pantry/pantry/edge"
	"github.com/pantry/pantry/edge/edgetest"
	"github.com/pantry/pantry/internal/pantry"
)

// TestTabletsGetDeliverBy: what a tablet reads of an order over MQTT, the
// order.created event and the retained queue entry, carries its
// deliver_by as the staff API does ("deliver_by", RFC 3339 in UTC), and
// the queue the node rebuilds from SQLite after a restart still does.
func TestTabletsGetDeliverBy(t *testing.T) {
	dir := t.TempDir()
	at := time.Now().Add(45 * time.Minute).UTC().Truncate(time.Second)
	want := at.Format(time.RFC3339)
	deliverBy := func(tb testing.TB, payload []byte, event bool) string {
		tb.Helper()
		var o struct {
			DeliverBy *string `json:"deliver_by"`
		}
		if event {
			var ev struct{ Order json.RawMessage }
			if err := json.Unmarshal(payload, &ev); err != nil {
				tb.Fatal(err)
			}
			payload = ev.Order
		}
		if err := json.Unmarshal(payload, &o); err != nil || o.DeliverBy == nil {
			tb.Fatalf("no deliver_by in %s (%v)", payload, err)
		}
		return *o.DeliverBy
	}

	var orderID string
	func() {
		n := edgetest.Start(t, func(c *edge.Config) { c.DataDir = dir })
		site := "pantry/" + n.Demo.SiteID
		tab := tablet(t, n)
		token := n.Session(t, 0)
		r := n.Do(t, "POST", "/api/v1/orders", token, map[string]any{
			"lines": []map[string]any{{"item_id": platterID(t, n), "quantity": 1}}, "deliver_by": at.In(time.FixedZone("", -5*3600)),
		})
		if r.Status != http.StatusCreated {
			t.Fatalf("place: %d %s", r.Status, r.Body)
		}
		var o pantry.Order
		r.Decode(t, &o)
		orderID = o.ID
		m := tab.Await(t, "order.created", func(m edgetest.Message) bool { return m.Topic == site+"/orders/"+o.ID })
		if got := deliverBy(t, m.Payload, true); got != want {
			t.Errorf("order.created deliver_by=%q, want %q", got, want)
		}
		m = tab.Await(t, "queue entry", func(m edgetest.Message) bool { return m.Topic == site+"/queue/"+o.ID })
		if got := deliverBy(t, m.Payload, false); got != want {
			t.Errorf("queue entry deliver_by=%q, want %q", got, want)
		}
		n.Stop(t)
	}()

	n := edgetest.Start(t, func(c *edge.Config) { c.DataDir = dir })
	tab := tablet(t, n)
	m := tab.Await(t, "retained queue entry after restart", func(m edgetest.Message) bool {
		return m.Topic == "pantry/"+n.Demo.SiteID+"/queue/"+orderID && m.Retain
	})
	if got := deliverBy(t, m.Payload, false); got != want {
		t.Errorf("queue entry after restart deliver_by=%q, want %q", got, want)
	}
}
