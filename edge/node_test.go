package edge_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/edge"
	"github.com/pantry/pantry/edge/edgetest"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/internal/testclock"
)

func tablet(tb testing.TB, n *edgetest.Node) *edgetest.Tablet {
	tb.Helper()
	t, err := edgetest.Connect(tb, n.MQTTAddr().String(), n.Demo.Tablet.Username, n.Demo.Tablet.Password)
	if err != nil {
		tb.Fatalf("tablet login: %v", err)
	}
	if code := t.Subscribe(tb, "pantry/"+n.Demo.SiteID+"/#"); code != 1 {
		tb.Fatalf("subscribe own site: reason 0x%02x", code)
	}
	return t
}

func platterID(tb testing.TB, n *edgetest.Node) string {
	tb.Helper()
	menu, err := n.Store().Menu(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	for _, it := range menu {
		if it.Name == "Sandwich platter" {
			return it.ID
		}
	}
	tb.Fatal("no sandwich platter")
	return ""
}

// TestTabletSeesOrdersLive follows one order from a phone to a tablet:
// order.created, the retained queue entry, the stock level crossing its
// threshold with an inventory.low alert, and the queue entry cleared on
// delivery.
func TestTabletSeesOrdersLive(t *testing.T) {
	n := edgetest.Start(t)
	site := "pantry/" + n.Demo.SiteID
	tab := tablet(t, n)
	if m := n.Do(t, "GET", "/metrics", "", nil); !strings.Contains(string(m.Body), "pantry_mqtt_clients_connected 1") {
		t.Errorf("metrics do not count the connected tablet")
	}
	item := platterID(t, n)
	tab.Await(t, "retained stock level at connect", func(m edgetest.Message) bool {
		return m.Topic == site+"/stock/"+item && m.Retain
	})

	token := n.Session(t, 0)
	resp := n.Do(t, "POST", "/api/v1/orders", token, map[string]any{"lines": []map[string]any{{"item_id": item, "quantity": 2}}})
	if resp.Status != http.StatusCreated {
		t.Fatalf("place: %d %s", resp.Status, resp.Body)
	}
	var o pantry.Order
	resp.Decode(t, &o)

	m := tab.Await(t, "order.created", func(m edgetest.Message) bool { return m.Topic == site+"/orders/"+o.ID })
	var ev struct {
		Event string
		Order pantry.Order
	}
	json.Unmarshal(m.Payload, &ev)
	if ev.Event != "order.created" || ev.Order.ID != o.ID || ev.Order.Total != o.Total || len(ev.Order.Lines) != 1 {
		t.Fatalf("order event=%s", m.Payload)
	}
	tab.Await(t, "queue entry", func(m edgetest.Message) bool {
		return m.Topic == site+"/queue/"+o.ID && strings.Contains(string(m.Payload), `"status":"placed"`)
	})
	m = tab.Await(t, "stock level", func(m edgetest.Message) bool { return m.Topic == site+"/stock/"+item })
	var lvl struct {
		ItemID string `json:"item_id"`
		Level  int64
		Low    bool
	}
	json.Unmarshal(m.Payload, &lvl)
	if lvl.Level != 2 || !lvl.Low {
		t.Fatalf("stock=%s, want level 2 and low", m.Payload)
	}
	tab.Await(t, "inventory.low alert", func(m edgetest.Message) bool {
		return m.Topic == site+"/alerts" && strings.Contains(string(m.Payload), `"inventory.low"`) && strings.Contains(string(m.Payload), item)
	})

	staff := n.StaffToken(t)
	for _, st := range []string{"accepted", "preparing", "ready", "delivered"} {
		n.Do(t, "POST", "/api/v1/staff/orders/"+o.ID+"/status", staff, map[string]string{"status": st})
		tab.Await(t, "order.updated "+st, func(m edgetest.Message) bool {
			return m.Topic == site+"/orders/"+o.ID && strings.Contains(string(m.Payload), `"status":"`+st+`"`)
		})
	}
	tab.Await(t, "queue entry cleared", func(m edgetest.Message) bool {
		return m.Topic == site+"/queue/"+o.ID && len(m.Payload) == 0
	})
}

// TestQueueSurvivesRestart: the retained queue is rebuilt from SQLite, so a
// tablet that connects after a restart still gets every open order.
func TestQueueSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	var orderID string
	func() {
		n := edgetest.Start(t, func(c *edge.Config) { c.DataDir = dir })
		token := n.Session(t, 0)
		resp := n.Do(t, "POST", "/api/v1/orders", token, map[string]any{"lines": []map[string]any{{"item_id": platterID(t, n), "quantity": 1}}})
		var o pantry.Order
		resp.Decode(t, &o)
		orderID = o.ID
		n.Stop(t)
	}()
	n := edgetest.Start(t, func(c *edge.Config) { c.DataDir = dir })
	tab := tablet(t, n)
	tab.Await(t, "retained queue entry after restart", func(m edgetest.Message) bool {
		return m.Topic == "pantry/"+n.Demo.SiteID+"/queue/"+orderID && m.Retain
	})
}

// TestSessionExpiryIsAnnounced: once a session's time is up, the sweeper
// marks it expired, writes session.expired and publishes it.
func TestSessionExpiryIsAnnounced(t *testing.T) {
	clock := testclock.New(time.Now())
	n := edgetest.Start(t, func(c *edge.Config) {
		c.Now, c.SessionTTL, c.ExpiryEvery = clock.Now, time.Hour, 20*time.Millisecond
	})
	tab := tablet(t, n)
	token := n.Session(t, 3)
	clock.Advance(time.Hour + time.Second)
	m := tab.Await(t, "session.expired", func(m edgetest.Message) bool {
		return strings.HasPrefix(m.Topic, "pantry/"+n.Demo.SiteID+"/sessions/") && strings.Contains(string(m.Payload), `"session.expired"`)
	})
	if r := n.Do(t, "GET", "/api/v1/menu", token, nil); r.Status != http.StatusUnauthorized || r.ErrorCode() != pantry.ESESSIONEXPIRED {
		t.Fatalf("menu with expired session: %d %s (event %s)", r.Status, r.Body, m.Payload)
	}
}

// TestTabletRefusals: a wrong password is refused, and a tablet cannot
// subscribe outside its site.
func TestTabletRefusals(t *testing.T) {
	n := edgetest.Start(t)
	if _, err := edgetest.Connect(t, n.MQTTAddr().String(), n.Demo.Tablet.Username, "wrong"); err == nil {
		t.Fatal("wrong password accepted")
	}
	tab := tablet(t, n)
	for _, f := range []string{"#", "pantry/#", "pantry/+/orders/+", "pantry/" + pantry.NewID() + "/#"} {
		if code := tab.Subscribe(t, f); code < 0x80 {
			t.Errorf("subscribe %q granted (0x%02x)", f, code)
		}
	}
}
