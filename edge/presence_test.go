package edge_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/pantry/pantry/edge"
	"github.com/pantry/pantry/edge/edgetest"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/internal/testclock"
)

// staffAlert is the payload of a staff presence alert.
type staffAlert struct {
	Event      string    `json:"event"`
	Station    string    `json:"station"`
	Since      time.Time `json:"since"`
	OpenOrders int       `json:"open_orders"`
}

// awaitStaffAlert waits for the next staff.* alert on the site's alerts topic.
func awaitStaffAlert(tb testing.TB, n *edgetest.Node, tab *edgetest.Tablet, event string) staffAlert {
	tb.Helper()
	var a staffAlert
	tab.Await(tb, event, func(m edgetest.Message) bool {
		if m.Topic != "pantry/"+n.Demo.SiteID+"/alerts" || json.Unmarshal(m.Payload, &a) != nil {
			return false
		}
		return strings.HasPrefix(a.Event, "staff.")
	})
	if a.Event != event {
		tb.Fatalf("alert %+v, want %s", a, event)
	}
	return a
}

// metric returns the /metrics line for name{labels}, or "".
func metric(tb testing.TB, n *edgetest.Node, series string) string {
	tb.Helper()
	for _, line := range strings.Split(string(n.Do(tb, "GET", "/metrics", "", nil).Body), "\n") {
		if strings.HasPrefix(line, series+" ") {
			return line
		}
	}
	return ""
}

// awaitMetric waits (bounded, never timed) until series has value: the
// broker counts a tablet once it has sent the CONNACK, and uncounts it
// once it has seen the connection end, both a moment after the client
// itself knows.
func awaitMetric(tb testing.TB, n *edgetest.Node, series, value string) {
	tb.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		got := metric(tb, n, series)
		if strings.HasSuffix(got, " "+value) {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("metric %q, want %s %s", got, series, value)
		}
	}
}

// TestStaffAbsence follows a drinks order while the drinks station has no
// tablet: nothing is said before --staff-absent-after, then staff.absent
// (in MQTT, /metrics and the status snapshot), the attendee's page is told
// the pantry has not seen the order, and staff.present when a drinks
// tablet connects. The clock is moved, never waited for.
func TestStaffAbsence(t *testing.T) {
	clock := testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	start := clock.Now()
	n := edgetest.Start(t, func(c *edge.Config) {
		c.Now, c.StaffAbsentAfter, c.PresenceEvery = clock.Now, 2*time.Minute, 20*time.Millisecond
	})
	user, password, addr := n.Demo.Tablet.Username, n.Demo.Tablet.Password, n.MQTTAddr().String()
	// The snacks tablet watches the alerts; it does not show drinks.
	snacks, err := edgetest.ConnectAs(t, addr, "tablet-"+user+"-snacks-w1", user, password)
	if err != nil {
		t.Fatal(err)
	}
	if code := snacks.Subscribe(t, "pantry/"+n.Demo.SiteID+"/alerts"); code != 1 {
		t.Fatalf("subscribe alerts: 0x%02x", code)
	}
	o := placeEspresso(t, n)
	if n.StaffSeen(o) {
		t.Fatal("StaffSeen with no drinks tablet connected")
	}

	clock.Advance(2*time.Minute + time.Second)
	a := awaitStaffAlert(t, n, snacks, "staff.absent")
	if a.Station != "drinks" || a.OpenOrders != 1 || !a.Since.Equal(start) {
		t.Fatalf("alert=%+v, want drinks since %v with 1 open order", a, start)
	}
	if got := metric(t, n, `pantry_staff_absent{station="drinks"}`); !strings.HasSuffix(got, " 1") {
		t.Errorf("metric %q, want 1", got)
	}
	if got := metric(t, n, `pantry_staff_tablets_connected{station="snacks"}`); !strings.HasSuffix(got, " 1") {
		t.Errorf("metric %q, want 1", got)
	}
	snap, ok, err := n.Store().LastStaffPresence(context.Background())
	if err != nil || !ok || !snap.Running || len(snap.Absent) != 1 || snap.Absent[0].Station != "drinks" || len(snap.Tablets) != 1 {
		t.Errorf("status snapshot=%+v ok=%v err=%v, want drinks absent and one tablet", snap, ok, err)
	}

	clock.Advance(time.Minute)
	drinks, err := edgetest.ConnectAs(t, addr, "tablet-"+user+"-drinks-d1", user, password)
	if err != nil {
		t.Fatal(err)
	}
	a = awaitStaffAlert(t, n, snacks, "staff.present")
	if a.Station != "drinks" || !a.Since.Equal(clock.Now()) {
		t.Fatalf("alert=%+v, want drinks since %v", a, clock.Now())
	}
	if !n.StaffSeen(o) {
		t.Fatal("not StaffSeen with a drinks tablet connected")
	}
	if got := metric(t, n, `pantry_staff_absent{station="drinks"}`); !strings.HasSuffix(got, " 0") {
		t.Errorf("metric %q, want 0", got)
	}

	t.Run("AbsentAgainSinceTheTabletLeft", func(t *testing.T) {
		left := clock.Now()
		_ = drinks.Disconnect(&paho.Disconnect{})
		awaitMetric(t, n, `pantry_staff_tablets_connected{station="drinks"}`, "0")
		if !n.StaffSeen(o) {
			t.Fatal("the order is no longer seen once its tablet left, but it was")
		}
		clock.Advance(2*time.Minute + time.Second)
		a := awaitStaffAlert(t, n, snacks, "staff.absent")
		if a.Station != "drinks" || !a.Since.Equal(left) {
			t.Fatalf("alert=%+v, want drinks since %v", a, left)
		}
	})
}

// TestStaffSeenOnlySinceOrder: a tablet that left before an order was
// placed did not see it; an "all" tablet sees every station.
func TestStaffSeenOnlySinceOrder(t *testing.T) {
	clock := testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	n := edgetest.Start(t, func(c *edge.Config) { c.Now = clock.Now })
	user, password, addr := n.Demo.Tablet.Username, n.Demo.Tablet.Password, n.MQTTAddr().String()
	all, err := edgetest.ConnectAs(t, addr, "tablet-"+user+"-all-a1", user, password)
	if err != nil {
		t.Fatal(err)
	}
	awaitMetric(t, n, `pantry_staff_tablets_connected{station="all"}`, "1")
	_ = all.Disconnect(&paho.Disconnect{})
	awaitMetric(t, n, `pantry_staff_tablets_connected{station="all"}`, "0")
	clock.Advance(time.Second)
	o := placeEspresso(t, n)
	if n.StaffSeen(o) {
		t.Fatal("StaffSeen by a tablet that left before the order")
	}
	if _, err := edgetest.ConnectAs(t, addr, "tablet-"+user+"-all-a2", user, password); err != nil {
		t.Fatal(err)
	}
	awaitMetric(t, n, `pantry_staff_tablets_connected{station="all"}`, "1")
	if !n.StaffSeen(o) {
		t.Fatal("not StaffSeen with an all tablet connected")
	}
}

// placeEspresso places an order of one espresso (a drinks line).
func placeEspresso(tb testing.TB, n *edgetest.Node) pantry.Order {
	tb.Helper()
	menu, err := n.Store().Menu(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	var espresso string
	for _, it := range menu {
		if it.Name == "Espresso" {
			espresso = it.ID
		}
	}
	resp := n.Do(tb, "POST", "/api/v1/orders", n.Session(tb, 0), map[string]any{"lines": []map[string]any{{"item_id": espresso, "quantity": 1}}})
	if resp.Status != http.StatusCreated {
		tb.Fatalf("place: %d %s", resp.Status, resp.Body)
	}
	var o pantry.Order
	resp.Decode(tb, &o)
	if len(o.Lines) != 1 || o.Lines[0].Station != "drinks" {
		tb.Fatalf("order lines=%+v, want one drinks line", o.Lines)
	}
	return o
}
