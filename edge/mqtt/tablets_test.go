package mqtt

import (
	"encoding/json"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/pantry/pantry/internal/pantry"
)

func TestTabletStation(t *testing.T) {
	tests := []struct {
		name, clientID, username string
		want                     string // "" means refused
	}{
		{"Station", "tablet-tab-s-drinks-x1y2", "tab-s", "drinks"},
		{"All", "tablet-tab-s-all-x1", "tab-s", pantry.StationAll},
		{"HyphensEverywhere", "tablet-pantry-demo-hot-food-k9", "pantry-demo", "hot-food"},
		{"NoConvention", "kiosk-1", "tab-s", pantry.StationAll},
		{"OtherUsername", "tablet-tab-t-drinks-x1", "tab-s", pantry.StationAll},
		{"NoSuffix", "tablet-tab-s-drinks", "tab-s", ""},
		{"EmptySuffix", "tablet-tab-s-drinks-", "tab-s", ""},
		{"EmptyStation", "tablet-tab-s--x1", "tab-s", ""},
		{"UpperCase", "tablet-tab-s-Drinks-x1", "tab-s", ""},
		{"TooLong", "tablet-tab-s-" + strings.Repeat("a", 40) + "-x1", "tab-s", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tabletStation(tt.clientID, tt.username)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("station=%q, want refused", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("station=%q err=%v, want %q", got, err, tt.want)
			}
		})
	}
}

// TestStationRefusedAtConnect: a client id that follows the convention
// but names no valid station is refused, so the app's author sees it.
func TestStationRefusedAtConnect(t *testing.T) {
	b := MustServe(t, Config{})
	_, ca, err := connect(t, dialTCP(t, b), credentials("tablet-tab-s-Drinks-x1", "tab-s"))
	if ca == nil || ca.ReasonCode != 0x85 || err == nil {
		t.Fatalf("CONNACK=%+v err=%v, want reason 0x85", ca, err)
	}
}

// TestKeepaliveImposed: a tablet asking for no keepalive, or a long one,
// is told to use maxKeepalive, so that a vanished tablet stops counting as
// present within 90 s; a reasonable one is left alone.
func TestKeepaliveImposed(t *testing.T) {
	b := MustServe(t, Config{})
	for _, tt := range []struct {
		name      string
		keepalive uint16
		want      uint16 // 0: none imposed
	}{
		{"None", 0, maxKeepalive},
		{"Long", 3600, maxKeepalive},
		{"Reasonable", 15, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cp := credentials(t.Name(), "tab-s")
			cp.KeepAlive = tt.keepalive
			_, ca, err := connectExact(t, dialTCP(t, b), cp)
			if err != nil {
				t.Fatal(err)
			}
			var got uint16
			if ca.Properties != nil && ca.Properties.ServerKeepAlive != nil {
				got = *ca.Properties.ServerKeepAlive
			}
			if got != tt.want {
				t.Fatalf("server keepalive=%d, want %d", got, tt.want)
			}
		})
	}
}

func TestPresence(t *testing.T) {
	var pokes atomic.Int64
	clock := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	b := MustServe(t, Config{OnPresence: func() { pokes.Add(1) }, Now: func() time.Time { return clock }})

	login(t, b, "tab-s") // a client id without a station: "all"
	bar, _, err := connect(t, dialTCP(t, b), credentials("tablet-tab-s2-drinks-a1", "tab-s2"))
	if err != nil {
		t.Fatal(err)
	}
	// mochi calls OnSessionEstablished after it has written the CONNACK,
	// so a client can be connected a moment before the broker counts it.
	deadline := time.Now().Add(wait)
	for len(b.Presence().Tablets) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	p := b.Presence()
	got := make([]string, 0, len(p.Tablets))
	for _, tab := range p.Tablets {
		got = append(got, tab.Username+"/"+tab.Station)
		if !tab.Since.Equal(clock) {
			t.Errorf("%s since %v, want %v", tab.ClientID, tab.Since, clock)
		}
	}
	slices.Sort(got)
	if want := []string{"tab-s/all", "tab-s2/drinks"}; !slices.Equal(got, want) {
		t.Fatalf("tablets=%v, want %v", got, want)
	}
	if n := pokes.Load(); n != 2 {
		t.Fatalf("OnPresence called %d times, want 2", n)
	}

	if err := bar.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(wait)
	for len(b.Presence().Tablets) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("tablets=%+v after the drinks tablet left", b.Presence().Tablets)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if at, ok := b.Presence().LastLeft["drinks"]; !ok || !at.Equal(clock) {
		t.Fatalf("LastLeft=%v, want drinks at %v", b.Presence().LastLeft, clock)
	}
}

// TestRevoke: the connections made with a revoked credential are told
// "not authorized" and closed, the others are untouched, and the revoked
// credential's session can be taken over by a valid login of its site.
func TestRevoke(t *testing.T) {
	b := MustServe(t, Config{})
	revoked := login(t, b, "tab-s")
	revoked.mustSubscribe(t, "pantry/S/alerts")
	kept := login(t, b, "tab-s2")
	kept.mustSubscribe(t, "pantry/S/alerts")
	if got, want := b.Credentials(), []string{"cred-tab-s", "cred-tab-s2"}; !slices.Equal(got, want) {
		t.Fatalf("credentials=%v, want %v", got, want)
	}

	if n := b.Revoke([]string{"cred-tab-s"}); n != 1 {
		t.Fatalf("Revoke closed %d connections, want 1", n)
	}
	select {
	case code := <-revoked.kicked:
		if code != 0x87 {
			t.Fatalf("DISCONNECT reason 0x%02x, want 0x87", code)
		}
	case <-time.After(wait):
		t.Fatal("revoked tablet not disconnected")
	}
	select {
	case <-revoked.Done():
	case <-time.After(wait):
		t.Fatal("revoked tablet's connection still open")
	}
	if got, want := b.Credentials(), []string{"cred-tab-s2"}; !slices.Equal(got, want) {
		t.Fatalf("credentials=%v, want %v", got, want)
	}
	if err := b.PublishAlert("S", map[string]string{"event": "test"}); err != nil {
		t.Fatal(err)
	}
	if m := kept.next(t); m.Topic != "pantry/S/alerts" {
		t.Fatalf("kept tablet got %s", m.Topic)
	}
	if n := b.Revoke([]string{"cred-tab-s"}); n != 0 {
		t.Fatalf("second Revoke closed %d connections, want 0", n)
	}
}

// TestReplayKeepsOrder: a change published while a subscription's retained
// replay is running reaches the subscriber after the replay, so the
// subscriber ends with the newest state, never the replayed older one;
// order events, which are not retained, are not held back at all.
func TestReplayKeepsOrder(t *testing.T) {
	b := MustServe(t, Config{})
	for _, id := range []string{"o1", "o2"} {
		if err := b.PublishQueue("S", testOrder(id, pantry.StatusPlaced)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	changed := false
	unsub, err := b.Subscribe("pantry/S/#", func(topic string, payload []byte) {
		got = append(got, topic+" "+statusOf(t, payload))
		if !changed { // the replay has sent o1, not o2 yet: change both
			changed = true
			if err := b.PublishOrder("S", EventOrderUpdated, testOrder("o1", pantry.StatusReady)); err != nil {
				t.Error(err)
			}
			if err := b.PublishOrder("S", EventOrderUpdated, testOrder("o2", pantry.StatusDelivered)); err != nil {
				t.Error(err)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unsub()
	want := []string{
		"pantry/S/queue/o1 placed",
		"pantry/S/orders/o1 ready",     // events go through at once
		"pantry/S/orders/o2 delivered", //
		"pantry/S/queue/o2 placed",     // the replay's snapshot, taken before the change
		"pantry/S/queue/o1 ready",      // held back during the replay, then the newest state
		"pantry/S/queue/o2 ",           // cleared (delivered)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("received %q, want %q", got, want)
	}
}

// statusOf returns the order status in a queue entry or an order event,
// "" for an empty payload.
func statusOf(tb testing.TB, payload []byte) string {
	tb.Helper()
	if len(payload) == 0 {
		return ""
	}
	var o struct {
		Status string
		Order  struct{ Status string }
	}
	if err := json.Unmarshal(payload, &o); err != nil {
		tb.Fatal(err)
	}
	return o.Status + o.Order.Status
}

// TestRetainHandlingNoReplay: Retain Handling 2 asks for no retained
// messages at subscription.
func TestRetainHandlingNoReplay(t *testing.T) {
	b := MustServe(t, Config{})
	if err := b.PublishQueue("S", testOrder("o1", pantry.StatusPlaced)); err != nil {
		t.Fatal(err)
	}
	tab := login(t, b, "tab-s")
	ctx := t.Context()
	sa, err := tab.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "pantry/S/queue/+", QoS: 1, RetainHandling: 2}}})
	if err != nil || sa.Reasons[0] != 1 {
		t.Fatalf("suback=%+v err=%v", sa, err)
	}
	tab.expectOnly(t, b, "S")
}

func TestRetainedTopic(t *testing.T) {
	for topic, want := range map[string]bool{
		"pantry/S/queue/o1":   true,
		"pantry/S/stock/i1":   true,
		"pantry/S/orders/o1":  false,
		"pantry/S/alerts":     false,
		"pantry/S/queue":      true, // a kind's root, never published, still the kind
		"other/S/queue/o1":    false,
		"pantry/queue/o1/x":   false,
		"$SYS/broker/clients": false,
	} {
		if got := retainedTopic(topic); got != want {
			t.Errorf("retainedTopic(%q)=%v, want %v", topic, got, want)
		}
	}
}
