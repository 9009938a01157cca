package mqtt

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"

	"github.com/pantry/pantry/internal/pantry"
)

func testOrder(id string, status pantry.OrderStatus) pantry.Order {
	return pantry.Order{
		ID: id, SiteID: "S", SpaceName: "Room 1", Status: status,
		Lines: []pantry.OrderLine{{ItemID: "coffee", Name: "Coffee", Quantity: 2}},
		Total: pantry.Money{Amount: 700, Currency: "EUR"},
	}
}

func TestPublishOrder(t *testing.T) {
	b := MustServe(t, Config{})
	staff := login(t, b, "tab-s")
	staff.mustSubscribe(t, "pantry/S/orders/+")

	if err := b.PublishOrder("S", EventOrderCreated, testOrder("o1", pantry.StatusPlaced)); err != nil {
		t.Fatal(err)
	}
	t.Run("EventToSubscriber", func(t *testing.T) {
		m := staff.next(t)
		if got, want := m.Topic, "pantry/S/orders/o1"; got != want {
			t.Fatalf("topic=%s, want %s", got, want)
		}
		if m.Retain {
			t.Fatal("order event is retained")
		}
		var ev OrderEvent
		if err := json.Unmarshal(m.Payload, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Event != EventOrderCreated || ev.Order.ID != "o1" || ev.Order.Status != pantry.StatusPlaced {
			t.Fatalf("event=%+v", ev)
		}
	})

	late := login(t, b, "tab-s2")
	late.mustSubscribe(t, "pantry/S/queue/#")
	t.Run("RetainedQueueForLateSubscriber", func(t *testing.T) {
		m := late.next(t)
		if got, want := m.Topic, "pantry/S/queue/o1"; got != want {
			t.Fatalf("topic=%s, want %s", got, want)
		}
		if !m.Retain {
			t.Fatal("queue message not flagged retained")
		}
		var o pantry.Order
		if err := json.Unmarshal(m.Payload, &o); err != nil {
			t.Fatal(err)
		}
		if o.ID != "o1" || o.Status != pantry.StatusPlaced || len(o.Lines) != 1 {
			t.Fatalf("order=%+v", o)
		}
	})

	if err := b.PublishOrder("S", EventOrderUpdated, testOrder("o1", pantry.StatusCancelled)); err != nil {
		t.Fatal(err)
	}
	t.Run("ClosingClearsLiveSubscriber", func(t *testing.T) {
		m := late.next(t)
		if m.Topic != "pantry/S/queue/o1" || len(m.Payload) != 0 {
			t.Fatalf("got %s %q, want an empty pantry/S/queue/o1", m.Topic, m.Payload)
		}
		if ev := staff.next(t); !strings.Contains(string(ev.Payload), `"cancelled"`) {
			t.Fatalf("order event %q, want the cancelled order", ev.Payload)
		}
	})
	t.Run("ClosedOrderNotRetained", func(t *testing.T) {
		fresh := login(t, b, "tab-s")
		fresh.mustSubscribe(t, "pantry/S/queue/#")
		fresh.expectOnly(t, b, "S")
	})
}

func TestPublishOrderRefusesWrongSite(t *testing.T) {
	b := MustServe(t, Config{})
	err := b.PublishOrder("T", EventOrderCreated, testOrder("o1", pantry.StatusPlaced))
	if got, want := pantry.ErrorCode(err), pantry.EINVALID; got != want {
		t.Fatalf("code=%q, want %q (err %v)", got, want, err)
	}
	if err := b.PublishOrder("S", "order.exploded", testOrder("o1", pantry.StatusPlaced)); err == nil {
		t.Fatal("unknown event accepted")
	}
}

func TestPublishQueue(t *testing.T) {
	b := MustServe(t, Config{})
	tab := login(t, b, "tab-s")
	tab.mustSubscribe(t, "pantry/S/orders/+")
	if err := b.PublishQueue("S", testOrder("o1", pantry.StatusReady)); err != nil {
		t.Fatal(err)
	}
	tab.expectOnly(t, b, "S") // no order event
	late := login(t, b, "tab-s2")
	late.mustSubscribe(t, "pantry/S/queue/+")
	if m := late.next(t); m.Topic != "pantry/S/queue/o1" || !m.Retain || !strings.Contains(string(m.Payload), `"ready"`) {
		t.Fatalf("got %s %q retain=%v", m.Topic, m.Payload, m.Retain)
	}
}

func TestPublishStock(t *testing.T) {
	b := MustServe(t, Config{})
	if err := b.PublishStock("S", pantry.StockLevel{ItemID: "coffee", Name: "Coffee", Level: 3, Low: true}); err != nil {
		t.Fatal(err)
	}
	tab := login(t, b, "tab-s")
	tab.mustSubscribe(t, "pantry/S/stock/+")
	m := tab.next(t)
	if got, want := m.Topic, "pantry/S/stock/coffee"; got != want {
		t.Fatalf("topic=%s, want %s", got, want)
	}
	if !m.Retain {
		t.Fatal("stock level not flagged retained")
	}
	var got map[string]any
	if err := json.Unmarshal(m.Payload, &got); err != nil {
		t.Fatal(err)
	}
	if got["item_id"] != "coffee" || got["level"] != 3.0 || got["low"] != true || got["sold_out"] != false || len(got) != 4 {
		t.Fatalf("payload=%s", m.Payload)
	}
}

func TestPublishAlertAndSession(t *testing.T) {
	b := MustServe(t, Config{})
	tab := login(t, b, "tab-s")
	tab.mustSubscribe(t, "pantry/S/#")

	if err := b.PublishAlert("S", map[string]any{"event": EventInventoryLow, "item_id": "coffee"}); err != nil {
		t.Fatal(err)
	}
	if m := tab.next(t); m.Topic != "pantry/S/alerts" || !strings.Contains(string(m.Payload), EventInventoryLow) {
		t.Fatalf("got %s %q", m.Topic, m.Payload)
	}
	s := pantry.Session{ID: "s1", SiteID: "S", SpaceID: "r1", SpaceName: "Room 1", ExpiresAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := b.PublishSessionExpired("S", s); err != nil {
		t.Fatal(err)
	}
	m := tab.next(t)
	var ev SessionEvent
	if err := json.Unmarshal(m.Payload, &ev); err != nil {
		t.Fatal(err)
	}
	if m.Topic != "pantry/S/sessions/s1" || m.Retain || ev.Event != "session.expired" || ev.SessionID != "s1" || !ev.ExpiresAt.Equal(s.ExpiresAt) {
		t.Fatalf("got %s %+v", m.Topic, ev)
	}
}

func TestConnect(t *testing.T) {
	b := MustServe(t, Config{})
	tests := []struct {
		name string
		cp   *paho.Connect
		want byte
	}{
		{"Anonymous", &paho.Connect{ClientID: "anon", CleanStart: true}, 0x86},
		{"EmptyUsername", &paho.Connect{ClientID: "empty", CleanStart: true, UsernameFlag: true, PasswordFlag: true, Password: []byte("x")}, 0x86},
		{"WrongPassword", &paho.Connect{ClientID: "wrong", CleanStart: true, Username: "tab-s", UsernameFlag: true, Password: []byte("pw-t"), PasswordFlag: true}, 0x86},
		{"UnknownUser", &paho.Connect{ClientID: "unknown", CleanStart: true, Username: "nobody", UsernameFlag: true, Password: []byte("pw-s"), PasswordFlag: true}, 0x86},
		{"AuthenticatorFails", &paho.Connect{ClientID: "broken", CleanStart: true, Username: "broken", UsernameFlag: true, Password: []byte("x"), PasswordFlag: true}, 0x88},
		{"WillMessage", withWill(credentials("will", "tab-s")), 0x87},
		{"InlineClientID", credentials("inline", "tab-s"), 0x85},
		{"RightPassword", credentials("right", "tab-s"), 0x00},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ca, err := connect(t, dialTCP(t, b), tt.cp)
			if ca == nil {
				t.Fatalf("no CONNACK: %v", err)
			}
			if got := ca.ReasonCode; got != tt.want {
				t.Fatalf("CONNACK reason=0x%02x, want 0x%02x (err %v)", got, tt.want, err)
			}
			if (err == nil) != (tt.want == 0) {
				t.Fatalf("err=%v with reason 0x%02x", err, ca.ReasonCode)
			}
		})
	}
}

func withWill(cp *paho.Connect) *paho.Connect {
	cp.WillMessage = &paho.WillMessage{Topic: "pantry/S/queue/forged", Payload: []byte(`{}`), QoS: 1, Retain: true}
	return cp
}

func TestClientIDOfAnotherSite(t *testing.T) {
	b := MustServe(t, Config{})
	if _, _, err := connect(t, dialTCP(t, b), credentials("kiosk-1", "tab-s")); err != nil {
		t.Fatal(err)
	}
	t.Run("OtherSiteRefused", func(t *testing.T) {
		_, ca, _ := connect(t, dialTCP(t, b), credentials("kiosk-1", "tab-t"))
		if ca == nil || ca.ReasonCode != 0x85 {
			t.Fatalf("CONNACK=%+v, want reason 0x85", ca)
		}
	})
	t.Run("SameSiteTakesOver", func(t *testing.T) {
		if _, _, err := connect(t, dialTCP(t, b), credentials("kiosk-1", "tab-s2")); err != nil {
			t.Fatal(err)
		}
	})
}

// TestPersistentSession checks that a tablet with a session keeps receiving,
// after a reconnect, QoS 1 events published while it was away, and that no
// other site can claim its client id meanwhile.
func TestPersistentSession(t *testing.T) {
	b := MustServe(t, Config{})
	persistent := func(username string) *paho.Connect {
		cp := credentials("kiosk-p", username)
		expiry := uint32(60)
		cp.CleanStart, cp.Properties = false, &paho.ConnectProperties{SessionExpiryInterval: &expiry}
		return cp
	}
	tab, _, err := connect(t, dialTCP(t, b), persistent("tab-s"))
	if err != nil {
		t.Fatal(err)
	}
	tab.mustSubscribe(t, "pantry/S/orders/+")
	_ = tab.Disconnect(&paho.Disconnect{})

	if err := b.PublishOrder("S", EventOrderCreated, testOrder("o1", pantry.StatusPlaced)); err != nil {
		t.Fatal(err)
	}
	t.Run("OtherSiteRefused", func(t *testing.T) {
		_, ca, _ := connect(t, dialTCP(t, b), persistent("tab-t"))
		if ca == nil || ca.ReasonCode != 0x85 {
			t.Fatalf("CONNACK=%+v, want reason 0x85", ca)
		}
	})
	t.Run("QueuedEventDelivered", func(t *testing.T) {
		again, ca, err := connect(t, dialTCP(t, b), persistent("tab-s2"))
		if err != nil {
			t.Fatal(err)
		}
		if !ca.SessionPresent {
			t.Fatal("session not present after reconnect")
		}
		if m := again.next(t); m.Topic != "pantry/S/orders/o1" {
			t.Fatalf("got %s %q", m.Topic, m.Payload)
		}
	})
}

func TestSubscribeOtherSiteRefused(t *testing.T) {
	b := MustServe(t, Config{})
	tab := login(t, b, "tab-s")
	refused := []string{
		"pantry/T/#", "#", "+/S/#", "pantry/+/orders/#", "pantry/#", "pantry/T/orders/+",
		"$SYS/#", "$share/g/#", "$share/g/pantry/T/#", "$SHARE/g/pantry/+/#", "pantry/S/a#",
	}
	for i, code := range tab.subscribe(t, refused...) {
		if code < 0x80 {
			t.Errorf("subscribe %s: reason 0x%02x, want a failure", refused[i], code)
		}
	}
	tab.mustSubscribe(t, "pantry/S/orders/+", "$share/g/pantry/S/queue/#")

	if err := b.PublishOrder("T", EventOrderCreated, pantry.Order{ID: "t1", Status: pantry.StatusPlaced}); err != nil {
		t.Fatal(err)
	}
	if err := b.PublishStock("T", pantry.StockLevel{ItemID: "coffee", Level: 1}); err != nil {
		t.Fatal(err)
	}
	tab.expectOnly(t, b, "S")
}

func TestTabletPublishNotDelivered(t *testing.T) {
	b := MustServe(t, Config{})
	reader := login(t, b, "tab-s")
	reader.mustSubscribe(t, "pantry/S/#")
	writer := login(t, b, "tab-s2")

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	resp, err := writer.Publish(ctx, &paho.Publish{Topic: "pantry/S/orders/x", QoS: 1, Retain: true, Payload: []byte(`{"event":"order.created"}`)})
	if resp == nil || resp.ReasonCode != 0x87 {
		t.Fatalf("PUBACK=%+v (err %v), want reason 0x87", resp, err)
	}
	if _, err := writer.Publish(ctx, &paho.Publish{Topic: "pantry/S/queue/x", QoS: 0, Retain: true, Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	// mochi handles a connection's packets in order: once this SUBACK is
	// back, the QoS 0 publish above has been dealt with too.
	writer.mustSubscribe(t, "pantry/S/alerts")
	reader.expectOnly(t, b, "S")
	t.Run("NothingRetained", func(t *testing.T) {
		late := login(t, b, "tab-s")
		late.mustSubscribe(t, "pantry/S/queue/#", "pantry/S/orders/#")
		late.expectOnly(t, b, "S")
	})
}

func TestWebSocket(t *testing.T) {
	addr := freePort(t)
	b := MustServe(t, Config{WSAddr: addr})
	var (
		tab *tablet
		err error
	)
	// The listener binds in its own goroutine after Serve returns: retry the
	// dial (bounded) until it is up.
	deadline := time.Now().Add(wait)
	for {
		conn, derr := dialWS(addr)
		if derr == nil {
			tab, _, err = connect(t, conn, credentials("ws-tablet", "tab-s"))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("websocket listener never came up: %v", derr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("connect over websocket: %v", err)
	}
	tab.mustSubscribe(t, "pantry/S/stock/#")
	if err := b.PublishStock("S", pantry.StockLevel{ItemID: "tea", Level: 9}); err != nil {
		t.Fatal(err)
	}
	if m := tab.next(t); m.Topic != "pantry/S/stock/tea" || !strings.Contains(string(m.Payload), `"level":9`) {
		t.Fatalf("got %s %q", m.Topic, m.Payload)
	}
}

func TestSubscribeInline(t *testing.T) {
	b := MustServe(t, Config{})
	got := make(chan message, 10)
	fn := func(topic string, payload []byte) { got <- message{Topic: topic, Payload: payload} }

	if err := b.PublishOrder("S", EventOrderCreated, testOrder("o1", pantry.StatusPlaced)); err != nil {
		t.Fatal(err)
	}
	t.Run("RetainedBeforeReturn", func(t *testing.T) {
		unsub, err := b.Subscribe("pantry/S/queue/#", fn)
		if err != nil {
			t.Fatal(err)
		}
		unsub()
		if n := len(got); n != 1 {
			t.Fatalf("received %d retained messages, want 1", n)
		}
		if m := <-got; m.Topic != "pantry/S/queue/o1" {
			t.Fatalf("topic=%s", m.Topic)
		}
	})
	t.Run("LiveUntilUnsubscribed", func(t *testing.T) {
		unsub, err := b.Subscribe("pantry/S/orders/+", fn)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.PublishOrder("S", EventOrderUpdated, testOrder("o1", pantry.StatusAccepted)); err != nil {
			t.Fatal(err)
		}
		// Handlers run inside Publish, so the message is already here.
		if n := len(got); n != 1 {
			t.Fatalf("received %d messages, want 1", n)
		}
		if m := <-got; m.Topic != "pantry/S/orders/o1" || !strings.Contains(string(m.Payload), `"accepted"`) {
			t.Fatalf("got %s %q", m.Topic, m.Payload)
		}
		unsub()
		unsub()
		if err := b.PublishOrder("S", EventOrderUpdated, testOrder("o1", pantry.StatusPreparing)); err != nil {
			t.Fatal(err)
		}
		if n := len(got); n != 0 {
			t.Fatalf("received %d messages after unsubscribe", n)
		}
	})
	t.Run("InvalidFilter", func(t *testing.T) {
		if _, err := b.Subscribe("pantry/#/x", fn); pantry.ErrorCode(err) != pantry.EINVALID {
			t.Fatalf("err=%v, want %s", err, pantry.EINVALID)
		}
	})
}

func TestLifecycle(t *testing.T) {
	b, err := New(Config{TCPAddr: "127.0.0.1:0", Log: testLogger(t)}, testAuth)
	if err != nil {
		t.Fatal(err)
	}
	if b.TCPAddr().(*net.TCPAddr).Port == 0 {
		t.Fatal("TCPAddr reports port 0")
	}
	if b.Ready() {
		t.Fatal("ready before Serve")
	}
	t.Run("AddressInUse", func(t *testing.T) {
		_, err := New(Config{TCPAddr: b.TCPAddr().String()}, testAuth)
		if err == nil || !strings.HasPrefix(err.Error(), "mqtt listen ") {
			t.Fatalf("err=%v, want mqtt listen error", err)
		}
	})
	t.Run("WebSocketAddressInUse", func(t *testing.T) {
		_, err := New(Config{TCPAddr: "127.0.0.1:0", WSAddr: b.TCPAddr().String()}, testAuth)
		if err == nil {
			t.Fatal("New succeeded with a busy websocket address")
		}
	})
	t.Run("WebSocketPortZero", func(t *testing.T) {
		if _, err := New(Config{TCPAddr: "127.0.0.1:0", WSAddr: "127.0.0.1:0"}, testAuth); err == nil {
			t.Fatal("New accepted websocket port 0")
		}
	})
	if err := b.Serve(); err != nil {
		t.Fatal(err)
	}
	if !b.Ready() {
		t.Fatal("not ready after Serve")
	}
	if err := b.Serve(); err == nil {
		t.Fatal("second Serve succeeded")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if b.Ready() {
		t.Fatal("ready after Close")
	}
	if err := b.PublishStock("S", pantry.StockLevel{ItemID: "x"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("publish after close: %v", err)
	}
	if _, err := net.DialTimeout("tcp", b.TCPAddr().String(), wait); err == nil {
		t.Fatal("listener still accepting after Close")
	}
}

// TestRetainedOutsideMochi pins where the retained state lives: in the
// Broker's own store, replayed by the hook, and not in mochi's, which mochi
// v2.7.9 copies whole every second (retained.go). It also pins the
// capability that keeps mochi from expiring queued order events after 24 h.
func TestRetainedOutsideMochi(t *testing.T) {
	if c := capabilities(); c.MaximumMessageExpiryInterval != 0 {
		t.Fatalf("MaximumMessageExpiryInterval=%d: mochi would expire queued events", c.MaximumMessageExpiryInterval)
	}
	b := MustServe(t, Config{})
	if err := b.PublishOrder("S", EventOrderCreated, testOrder("o1", pantry.StatusPlaced)); err != nil {
		t.Fatal(err)
	}
	if err := b.PublishStock("S", pantry.StockLevel{ItemID: "coffee", Level: 3}); err != nil {
		t.Fatal(err)
	}
	if got := b.server.Topics.Messages("pantry/#"); len(got) != 0 {
		t.Fatalf("mochi retains %d messages under pantry/, want 0", len(got))
	}
	if got, want := b.retained.len(), 2; got != want {
		t.Fatalf("retained=%d, want %d", got, want)
	}
	late := login(t, b, "tab-s")
	late.mustSubscribe(t, "pantry/S/#")
	for _, want := range []string{"pantry/S/queue/o1", "pantry/S/stock/coffee"} { // sorted by topic
		if m := late.next(t); m.Topic != want || !m.Retain {
			t.Fatalf("got %s retain=%v, want %s retained", m.Topic, m.Retain, want)
		}
	}
}

// TestSlowClientDisconnected checks that a tablet which stops reading is
// disconnected once mochi starts dropping its messages, rather than left
// connected with a silently stale view.
func TestSlowClientDisconnected(t *testing.T) {
	b := MustServe(t, Config{})
	conn := dialTCP(t, b)
	t.Cleanup(func() { _ = conn.Close() })
	cp := credentials("slow", "tab-s").Packet()
	cp.ProtocolName, cp.ProtocolVersion, cp.KeepAlive = "MQTT", 5, 30
	sub := (&paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "pantry/S/alerts", QoS: 0}}}).Packet()
	sub.PacketID = 1
	for _, w := range []io.WriterTo{cp, sub} {
		if _, err := w.WriteTo(conn); err != nil {
			t.Fatal(err)
		}
	}
	_ = conn.SetDeadline(time.Now().Add(wait))
	for _, want := range []byte{packets.CONNACK, packets.SUBACK} {
		if p, err := packets.ReadPacket(conn); err != nil || p.Type != want {
			t.Fatalf("read packet type %v (err %v), want %d", p, err, want)
		}
	}

	// The client now reads nothing: publish until mochi has to drop.
	alert := map[string]string{"event": "test", "padding": strings.Repeat("x", 8<<10)}
	for i := 0; atomic.LoadInt64(&b.server.Info.MessagesDropped) == 0; i++ {
		if i == 100_000 {
			t.Fatal("no message dropped after 100000 publishes")
		}
		if err := b.PublishAlert("S", alert); err != nil {
			t.Fatal(err)
		}
	}
	_ = conn.SetDeadline(time.Now().Add(wait))
	if _, err := io.Copy(io.Discard, conn); err != nil && !isConnClosed(err) {
		t.Fatalf("connection not closed by the broker: %v", err)
	}
}

// isConnClosed reports whether err means the peer closed or reset the
// connection, as opposed to our read deadline passing.
func isConnClosed(err error) bool {
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}
