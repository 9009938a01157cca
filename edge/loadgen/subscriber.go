package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// tablet is one staff tablet: a real MQTT 5 client on its own connection,
// subscribed to what the staff app subscribes to (the order events, the
// retained queue and stock, the alerts). It times the order.created event
// of every order the attendees place.
type tablet struct {
	client  *paho.Client
	sent    *sync.Map // the run's note -> send time
	closing atomic.Bool
	lost    atomic.Bool // the connection ended before close

	mu         sync.Mutex
	seen       map[string]struct{} // notes delivered
	latencies  []time.Duration
	duplicates int
	queued     int // retained queue entries received since subscribing
	live       int // messages received that were not retained: every live event on every topic
}

// tabletReport is what one tablet measured.
type tabletReport struct {
	latencies    []time.Duration
	messages     int
	duplicates   int
	disconnected bool
}

// connectTablets connects cfg.Tablets tablets, a few at a time, and waits
// until each has received the open queue (every open order this run
// placed) that the broker replays on subscribing.
func (r *run) connectTablets(ctx context.Context) error {
	r.tablets = make([]*tablet, r.cfg.Tablets)
	prefix := fmt.Sprintf("loadgen-%d-", time.Now().UnixNano())
	err := parallel(ctx, r.cfg.Tablets, 8, func(ctx context.Context, i int) error {
		t, err := connectTablet(ctx, r.cfg, prefix+fmt.Sprint(i), r.staff, &r.sent)
		r.mu.Lock()
		r.tablets[i] = t
		r.mu.Unlock()
		return err
	})
	if err != nil {
		return fmt.Errorf("connect %d tablets: %w", r.cfg.Tablets, err)
	}
	return r.awaitQueue(ctx, r.cfg.OpenOrders+r.cfg.LiveClients)
}

// awaitQueue waits (bounded) until every tablet has received at least want
// retained queue entries.
func (r *run) awaitQueue(ctx context.Context, want int) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		least := want
		for _, t := range r.tablets {
			t.mu.Lock()
			least = min(least, t.queued)
			t.mu.Unlock()
		}
		if least >= want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("a tablet received %d of the %d open orders: %w", least, want, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// closeTablets disconnects every tablet connected so far.
func (r *run) closeTablets() {
	for _, t := range r.tablets {
		if t != nil {
			t.close()
		}
	}
}

// delivered is how many order events the tablets have timed so far.
func (r *run) delivered() int {
	n := 0
	for _, t := range r.tablets {
		t.mu.Lock()
		n += len(t.latencies)
		t.mu.Unlock()
	}
	return n
}

// connectTablet connects one tablet. Like the staff app, it signs in to the
// broker with its staff token rather than its password: a token is one
// indexed lookup, a password a bcrypt comparison.
func connectTablet(ctx context.Context, cfg Config, clientID, token string, sent *sync.Map) (*tablet, error) {
	conn, err := (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, "tcp", cfg.MQTTAddr)
	if err != nil {
		return nil, fmt.Errorf("mqtt dial %s: %w", cfg.MQTTAddr, err)
	}
	t := &tablet{sent: sent, seen: map[string]struct{}{}}
	t.client = paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) {
				t.received(pr.Packet, time.Now())
				return true, nil
			},
		},
		OnClientError:      func(error) { t.ended() },
		OnServerDisconnect: func(*paho.Disconnect) { t.ended() },
	})
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ca, err := t.client.Connect(ctx, &paho.Connect{
		ClientID: clientID, CleanStart: true, KeepAlive: 30,
		Username: cfg.Username, UsernameFlag: true, Password: []byte(token), PasswordFlag: true,
	})
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("mqtt connect %s: %w (reason %v)", clientID, err, reasonOf(ca))
	}
	if err := t.subscribe(ctx, cfg.SiteID); err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

// subscribe subscribes as the staff app does, checking every reason code.
func (t *tablet) subscribe(ctx context.Context, siteID string) error {
	prefix := "pantry/" + siteID + "/"
	var subs []paho.SubscribeOptions
	for _, f := range []string{"queue/+", "orders/+", "stock/+", "alerts"} {
		subs = append(subs, paho.SubscribeOptions{Topic: prefix + f, QoS: 1})
	}
	for range 20 { // mochi may answer 0x91 (packet id in use) to an early SUBSCRIBE; retry
		sa, err := t.client.Subscribe(ctx, &paho.Subscribe{Subscriptions: subs})
		if sa == nil {
			return fmt.Errorf("mqtt subscribe %s…: %w", prefix, err)
		}
		if granted(sa.Reasons, len(subs)) {
			return nil
		}
	}
	return fmt.Errorf("mqtt subscribe %s…: refused", prefix)
}

// granted reports whether a SUBACK granted all n filters at QoS 1.
func granted(reasons []byte, n int) bool {
	if len(reasons) != n {
		return false
	}
	for _, c := range reasons {
		if c != 1 {
			return false
		}
	}
	return true
}

func reasonOf(ca *paho.Connack) any {
	if ca == nil {
		return "none"
	}
	return ca.ReasonCode
}

// received handles one PUBLISH, on the tablet's own paho goroutine.
func (t *tablet) received(p *paho.Publish, at time.Time) {
	t.mu.Lock()
	switch {
	case !p.Retain:
		t.live++
	case strings.Contains(p.Topic, "/queue/"):
		t.queued++
	}
	t.mu.Unlock()
	note, ok := loadNote(p.Payload)
	if !ok {
		return
	}
	v, ok := t.sent.Load(note)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, dup := t.seen[note]; dup {
		t.duplicates++
		return
	}
	t.seen[note] = struct{}{}
	t.latencies = append(t.latencies, at.Sub(v.(time.Time)))
}

// loadNote returns the note of an order.created event whose note is a
// load generator's marker ("load-N"). It looks for the two markers in the
// bytes rather than decoding the JSON: 50 tablets receive three messages
// per order (order, queue entry, stock level) on the same two cores that
// run the node, and decoding every order in full cost the load generator
// more CPU than the figures it measures can spare. An OrderEvent is
// encoded with "event" first, and only the order's own note can hold the
// marker.
func loadNote(payload []byte) (string, bool) {
	if !bytes.HasPrefix(payload, []byte(`{"event":"order.created"`)) {
		return "", false
	}
	const key = `"note":"`
	i := bytes.Index(payload, []byte(key+"load-"))
	if i < 0 {
		return "", false
	}
	rest := payload[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return "", false
	}
	return string(rest[:j]), true
}

// ended records that the connection ended, unless close ended it.
func (t *tablet) ended() {
	if !t.closing.Load() {
		t.lost.Store(true)
	}
}

func (t *tablet) report() tabletReport {
	t.mu.Lock()
	defer t.mu.Unlock()
	return tabletReport{latencies: t.latencies, messages: t.live, duplicates: t.duplicates, disconnected: t.lost.Load()}
}

func (t *tablet) close() {
	t.closing.Store(true)
	_ = t.client.Disconnect(&paho.Disconnect{})
}
