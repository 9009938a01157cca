package edgetest

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
)

// Message is one MQTT message a Tablet received.
type Message struct {
	Topic   string
	Payload []byte
	Retain  bool
}

// Tablet is a real paho MQTT 5 client logged in as a staff tablet.
type Tablet struct {
	*paho.Client
	Msgs chan Message
}

// Connect logs a tablet in over TCP; it returns the CONNACK's error.
func Connect(tb testing.TB, addr, username, password string) (*Tablet, error) {
	tb.Helper()
	return ConnectAs(tb, addr, tb.Name()+"-"+time.Now().Format("150405.000000000"), username, password)
}

// ConnectAs is Connect with a chosen client id, which is where the staff
// app declares its station: "tablet-{username}-{station}-{suffix}" (see
// edge/mqtt's tabletStation).
func ConnectAs(tb testing.TB, addr, clientID, username, password string) (*Tablet, error) {
	tb.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		tb.Fatalf("mqtt dial: %v", err)
	}
	return connectOver(tb, conn, clientID, username, password)
}

// ConnectTLS logs a tablet in over MQTT over TLS (mqtts) with cfg; a
// failed TLS handshake is returned, not fatal.
func ConnectTLS(tb testing.TB, addr string, cfg *tls.Config, username, password string) (*Tablet, error) {
	tb.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	return connectOver(tb, conn, tb.Name()+"-"+time.Now().Format("150405.000000000"), username, password)
}

// connectOver sends CONNECT over conn.
func connectOver(tb testing.TB, conn net.Conn, clientID, username, password string) (*Tablet, error) {
	tb.Helper()
	t := &Tablet{Msgs: make(chan Message, 10000)}
	t.Client = paho.NewClient(paho.ClientConfig{
		// Locked per packet: paho's writes interleave on a TLS conn.
		Conn: packets.NewThreadSafeConn(conn),
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			t.Msgs <- Message{Topic: pr.Packet.Topic, Payload: pr.Packet.Payload, Retain: pr.Packet.Retain}
			return true, nil
		}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := t.Connect(ctx, &paho.Connect{
		ClientID: clientID, CleanStart: true, KeepAlive: 30,
		Username: username, UsernameFlag: true, Password: []byte(password), PasswordFlag: true,
	})
	if err != nil {
		return nil, err
	}
	tb.Cleanup(func() { _ = t.Disconnect(&paho.Disconnect{}) })
	return t, nil
}

// Subscribe subscribes at QoS 1 and returns the SUBACK's reason code,
// retrying 0x91 (mochi reuses packet ids across directions).
func (t *Tablet) Subscribe(tb testing.TB, filter string) byte {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 50 {
		sa, err := t.Client.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}})
		if sa == nil {
			tb.Fatalf("subscribe %s: %v", filter, err)
		}
		if sa.Reasons[0] != 0x91 {
			return sa.Reasons[0]
		}
	}
	tb.Fatalf("subscribe %s: packet identifier always in use", filter)
	return 0
}

// Await collects messages until ok has seen what it wants, or fails after
// a generous bound.
func (t *Tablet) Await(tb testing.TB, what string, ok func(Message) bool) Message {
	tb.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case m := <-t.Msgs:
			if ok(m) {
				return m
			}
		case <-deadline:
			tb.Fatalf("no MQTT message: %s", what)
			return Message{}
		}
	}
}
