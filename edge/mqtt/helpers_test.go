package mqtt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	"github.com/gorilla/websocket"

	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/internal/testport"
)

// wait bounds every wait in these tests; nothing is timed, only bounded.
const wait = 10 * time.Second

// Tablet accounts known to the test Authenticator.
var accounts = map[string]struct{ password, site string }{
	"tab-s":  {"pw-s", "S"},
	"tab-s2": {"pw-s2", "S"},
	"tab-t":  {"pw-t", "T"},
}

// testAuth stands in for the edge store's tablet table, the true outer
// boundary of this package. "broken" makes the check itself fail. Each
// account's credential is "cred-{username}".
var testAuth = AuthenticatorFunc(func(_ context.Context, username, password string) (Login, error) {
	if username == "broken" {
		return Login{}, errors.New("database is locked")
	}
	a, ok := accounts[username]
	if !ok || a.password != password {
		return Login{}, pantry.Errorf(pantry.EUNAUTHORIZED, "wrong username or password")
	}
	return Login{SiteID: a.site, Credential: "cred-" + username}, nil
})

// testLogger logs through tb until the test ends; mochi goroutines that log
// after that are dropped instead of panicking the test binary.
func testLogger(tb testing.TB) *slog.Logger {
	w := &testLogWriter{tb: tb}
	tb.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testLogWriter struct {
	mu   sync.Mutex
	tb   testing.TB
	done bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.tb.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

// MustServe starts a real broker on 127.0.0.1:0 and closes it when the test ends.
func MustServe(tb testing.TB, cfg Config) *Broker {
	tb.Helper()
	if cfg.TCPAddr == "" {
		cfg.TCPAddr = "127.0.0.1:0"
	}
	cfg.Log = testLogger(tb)
	b, err := New(cfg, testAuth)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := b.Close(); err != nil {
			tb.Error(err)
		}
	})
	if err := b.Serve(); err != nil {
		tb.Fatal(err)
	}
	return b
}

// message is one PUBLISH a test client received.
type message struct {
	Topic   string
	Payload []byte
	Retain  bool
}

// tablet is a real paho MQTT 5 client.
type tablet struct {
	*paho.Client
	msgs chan message
	// kicked receives the reason code of a DISCONNECT the broker sends.
	kicked chan byte
}

// dialTCP returns a TCP connection to b.
func dialTCP(tb testing.TB, b *Broker) net.Conn {
	tb.Helper()
	conn, err := net.DialTimeout("tcp", b.TCPAddr().String(), wait)
	if err != nil {
		tb.Fatal(err)
	}
	return conn
}

// connect sends cp over conn and returns the client with the CONNACK and
// Connect's error; a client whose CONNECT failed is already closed. A
// keepalive of 0 in cp becomes 30 s.
func connect(tb testing.TB, conn net.Conn, cp *paho.Connect) (*tablet, *paho.Connack, error) {
	tb.Helper()
	if cp.KeepAlive == 0 {
		cp.KeepAlive = 30
	}
	return connectExact(tb, conn, cp)
}

// connectExact is connect sending cp as it is.
func connectExact(tb testing.TB, conn net.Conn, cp *paho.Connect) (*tablet, *paho.Connack, error) {
	tb.Helper()
	tab := &tablet{msgs: make(chan message, 1000), kicked: make(chan byte, 1)}
	tab.Client = paho.NewClient(paho.ClientConfig{
		// paho writes a packet as several buffers and pings from its own
		// goroutine; over TLS or WebSocket those writes can interleave
		// (a SUBSCRIBE split by a PINGREQ reaches the broker as a
		// malformed packet), so every test conn is locked per packet.
		Conn:               packets.NewThreadSafeConn(conn),
		OnServerDisconnect: func(d *paho.Disconnect) { tab.kicked <- d.ReasonCode },
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) {
				tab.msgs <- message{Topic: pr.Packet.Topic, Payload: pr.Packet.Payload, Retain: pr.Packet.Retain}
				return true, nil
			},
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ca, err := tab.Connect(ctx, cp)
	if err != nil {
		return nil, ca, err
	}
	tb.Cleanup(func() {
		_ = tab.Disconnect(&paho.Disconnect{})
		select {
		case <-tab.Done():
		case <-time.After(wait):
			tb.Error("paho client did not shut down")
		}
	})
	return tab, ca, nil
}

// login connects as a known tablet with a fresh client id.
func login(tb testing.TB, b *Broker, username string) *tablet {
	tb.Helper()
	tab, _, err := connect(tb, dialTCP(tb, b), credentials(tb.Name()+"/"+username, username))
	if err != nil {
		tb.Fatalf("login %s: %v", username, err)
	}
	return tab
}

// credentials returns a CONNECT packet with the account's right password.
func credentials(clientID, username string) *paho.Connect {
	return &paho.Connect{
		ClientID: clientID, CleanStart: true,
		Username: username, UsernameFlag: true,
		Password: []byte(accounts[username].password), PasswordFlag: true,
	}
}

// subscribe subscribes at QoS 1 and returns the SUBACK reason codes, one per
// filter; paho's error for failure codes is deliberately ignored so callers
// check each code.
//
// It retries a SUBACK of 0x91 (packet identifier in use), as a real tablet
// must: mochi v2.7.9 looks the SUBSCRIBE's packet id up among the messages
// it has in flight *to* the client, although the two directions have
// separate id spaces, so a SUBSCRIBE sent while a QoS 1 delivery with the
// same id awaits its PUBACK is refused.
func (tab *tablet) subscribe(tb testing.TB, filters ...string) []byte {
	tb.Helper()
	for range 100 {
		codes := tab.subscribeOnce(tb, filters...)
		if !slices.ContainsFunc(codes, func(c byte) bool { return c == 0x91 }) {
			return codes
		}
	}
	tb.Fatalf("subscribe %v: packet identifier always in use", filters)
	return nil
}

func (tab *tablet) subscribeOnce(tb testing.TB, filters ...string) []byte {
	tb.Helper()
	s := &paho.Subscribe{}
	for _, f := range filters {
		s.Subscriptions = append(s.Subscriptions, paho.SubscribeOptions{Topic: f, QoS: 1})
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	sa, err := tab.Subscribe(ctx, s)
	if sa == nil {
		tb.Fatalf("subscribe %v: %v", filters, err)
	}
	if got, want := len(sa.Reasons), len(filters); got != want {
		tb.Fatalf("suback has %d reasons, want %d", got, want)
	}
	return sa.Reasons
}

// mustSubscribe subscribes and fails unless every filter was granted QoS 1.
func (tab *tablet) mustSubscribe(tb testing.TB, filters ...string) {
	tb.Helper()
	for i, code := range tab.subscribe(tb, filters...) {
		if code != 1 {
			tb.Fatalf("subscribe %s: reason 0x%02x, want 0x01", filters[i], code)
		}
	}
}

// drain discards what tab receives until its connection ends, for a test
// that only needs paho to keep reading.
func (tab *tablet) drain() {
	go func() {
		for {
			select {
			case <-tab.msgs:
			case <-tab.Done():
				return
			}
		}
	}()
}

// next returns the next message the tablet receives.
func (tab *tablet) next(tb testing.TB) message {
	tb.Helper()
	select {
	case m := <-tab.msgs:
		return m
	case <-time.After(wait):
		tb.Fatal("no message received")
		return message{}
	}
}

// expectOnly proves that a tablet received nothing else before a sentinel:
// the broker publishes a fresh retained stock level on its own site, the
// tablet subscribes to it, and the next message must be that sentinel.
// A SUBSCRIBE is handled on the tablet's own connection after everything
// already queued for it, so this needs no sleeping.
func (tab *tablet) expectOnly(tb testing.TB, b *Broker, site string) {
	tb.Helper()
	if err := b.PublishStock(site, pantry.StockLevel{ItemID: "sentinel", Level: 1}); err != nil {
		tb.Fatal(err)
	}
	tab.mustSubscribe(tb, "pantry/"+site+"/stock/sentinel")
	if m := tab.next(tb); m.Topic != "pantry/"+site+"/stock/sentinel" {
		tb.Fatalf("received %s %q before the sentinel", m.Topic, m.Payload)
	}
}

// freePort returns a free local address (testport), for the WebSocket
// listener, which cannot bind port 0 usefully.
func freePort(tb testing.TB) string {
	tb.Helper()
	return testport.Addr(tb)
}

// dialWS opens an MQTT-over-WebSocket connection to addr as a net.Conn.
func dialWS(addr string) (net.Conn, error) {
	d := websocket.Dialer{Subprotocols: []string{"mqtt"}, HandshakeTimeout: wait}
	u := url.URL{Scheme: "ws", Host: addr, Path: "/"}
	c, resp, err := d.Dial(u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("websocket dial %s: %w", u.String(), err)
	}
	_ = resp.Body.Close()
	if got, want := c.Subprotocol(), "mqtt"; got != want {
		_ = c.Close()
		return nil, fmt.Errorf("subprotocol=%q, want %q", got, want)
	}
	return &wsConn{Conn: c}, nil
}

// wsConn adapts a WebSocket to net.Conn: MQTT packets travel in binary
// messages. paho writes a packet in several Writes while holding the
// Locker, so packets never interleave; wmu serialises gorilla's writer.
type wsConn struct {
	*websocket.Conn
	sync.Mutex // the Locker paho takes around each packet
	wmu        sync.Mutex
	r          io.Reader
}

func (c *wsConn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			_, r, err := c.NextReader()
			if err != nil {
				return 0, err
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if errors.Is(err, io.EOF) {
			c.r = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (c *wsConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *wsConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}
