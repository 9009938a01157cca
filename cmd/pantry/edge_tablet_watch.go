package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/spf13/cobra"

	"github.com/pantry/pantry/edge/mqtt"
	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/pantry"
)

const watchLong = `Watch a site's live order queue through the node's MQTT broker, logged in
as a tablet, to check a building's MQTT without a tablet: it prints the open
queue the broker holds (kind "queued"), then every new order ("new") and
every change ("update") as one line: time, order, room, status, lines.
--json prints one JSON object a line instead.

It subscribes as the staff app does, with a client id that declares
--station: while it watches, the node counts it as a tablet of that
station (it holds off staff.absent alerts for it, and edge status and
doctor count it).

The site comes from --site, else from the node's database in --data (on
the node itself). Give the password in PANTRY_TABLET_PASSWORD rather than
--password, which stays in your shell's history.

It runs until Ctrl-C, or for --for (for scripts and tests).

Exit codes:
  0  stopped by Ctrl-C or at the end of --for
  1  the broker could not be reached, refused the login or the
     subscription, or closed the connection`

// watchConfig is what `pantry edge tablet watch` was asked.
type watchConfig struct {
	broker, username, password, site, station, dir string
	duration                                       time.Duration
	json                                           bool
}

func newEdgeTabletWatchCmd(getenv func(string) string, stdout io.Writer) *cobra.Command {
	var c watchConfig
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Watch the live order queue through the broker, logged in as a tablet",
		Long:  watchLong,
		Args:  cobra.NoArgs,
	}
	e := &env{getenv: getenv, flags: cmd.Flags()}
	e.String(&c.broker, "broker", "PANTRY_BROKER", "tcp://127.0.0.1:1883", "the node's MQTT broker: tcp://HOST:PORT")
	e.String(&c.username, "username", "PANTRY_TABLET_USERNAME", "", "a tablet login's username")
	// Not e.String: the variable's value would show as the default in --help.
	cmd.Flags().StringVar(&c.password, "password", "", "its password (env PANTRY_TABLET_PASSWORD, better: a flag stays in the shell's history)")
	e.String(&c.site, "site", "PANTRY_SITE", "", "the site's id (default: read from --data)")
	dataDir(e, &c.dir, "the node's data directory, to read the site's id from")
	e.String(&c.station, "station", "PANTRY_STATION", pantry.StationAll, "show the lines of this station (all: every station)")
	cmd.Flags().DurationVar(&c.duration, "for", 0, "stop after this long (0: until Ctrl-C)")
	cmd.Flags().BoolVar(&c.json, "json", false, "print one JSON object per line")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if e.err != nil {
			return e.err
		}
		if c.password == "" {
			c.password = getenv("PANTRY_TABLET_PASSWORD")
		}
		if err := c.check(); err != nil {
			return err
		}
		ctx := cmd.Context()
		if c.site == "" {
			site, err := siteFromData(ctx, c.dir)
			if err != nil {
				return err
			}
			c.site = site
		}
		if c.duration > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, c.duration)
			defer cancel()
		}
		err := watch(ctx, c, stdout, cmd.ErrOrStderr())
		if err != nil && ctx.Err() != nil {
			return nil // Ctrl-C or the end of --for, even before the watch began
		}
		return err
	}
	return cmd
}

// check refuses what cannot work before anything connects.
func (c *watchConfig) check() error {
	switch {
	case c.username == "":
		return errors.New("pass --username with a tablet login (pantry edge tablet add makes one)")
	case c.password == "":
		return errors.New("set PANTRY_TABLET_PASSWORD (or pass --password) to the tablet login's password")
	case c.station != pantry.StationAll && (c.station == "" || !pantry.ValidStation(c.station)):
		return fmt.Errorf("--station %q is neither %q nor a station (lowercase letters, digits and hyphens)", c.station, pantry.StationAll)
	case c.duration < 0:
		return errors.New("--for must not be negative")
	}
	if c.site != "" {
		if _, err := mqtt.SiteTopic(c.site); err != nil {
			return fmt.Errorf("--site: %w", err)
		}
	}
	u, err := url.Parse(c.broker)
	if err != nil || (u.Scheme != "tcp" && u.Scheme != "mqtt") || u.Host == "" || u.Port() == "" {
		return fmt.Errorf("--broker %q: write it as tcp://HOST:PORT, e.g. tcp://127.0.0.1:1883", c.broker)
	}
	return nil
}

// siteFromData reads the site's id from the node's database.
func siteFromData(ctx context.Context, dir string) (string, error) {
	db, err := sqlite.OpenReader(ctx, dir)
	if err != nil {
		return "", fmt.Errorf("pass --site with the site's id, or --data with the node's data directory (%v)", err)
	}
	defer db.Close()
	site, err := db.Site(ctx)
	if err != nil {
		return "", fmt.Errorf("pass --site with the site's id: the node in %s has none (%v)", dir, err)
	}
	return site.ID, nil
}

// watchMessage is one message the watcher received.
type watchMessage struct {
	topic   string
	payload []byte
	retain  bool
}

// watch connects, subscribes and prints until ctx ends or the broker
// closes the connection.
func watch(ctx context.Context, c watchConfig, stdout, stderr io.Writer) error {
	u, _ := url.Parse(c.broker) // checked
	conn, err := (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return fmt.Errorf("cannot reach the broker at %s (%v): is the node running? pantry edge doctor tells", u.Host, err)
	}
	msgs := make(chan watchMessage, 1024)
	lost := make(chan error, 1)
	done := make(chan struct{}) // closed before Disconnect, which waits for the callbacks
	client := paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			select {
			case msgs <- watchMessage{pr.Packet.Topic, pr.Packet.Payload, pr.Packet.Retain}:
			case <-done:
			}
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) {
			sendLost(lost, fmt.Errorf("the broker closed the connection (%s)", reason(d.ReasonCode, disconnectReason(d))))
		},
		OnClientError: func(err error) { sendLost(lost, fmt.Errorf("the connection to the broker broke (%v)", err)) },
	})
	if err := connectTablet(ctx, client, c); err != nil {
		close(done)
		return err // Connect closed the connection
	}
	defer func() {
		close(done)
		_ = client.Disconnect(&paho.Disconnect{ReasonCode: 0})
	}()
	if err := subscribeQueue(ctx, client, c.site); err != nil {
		return err
	}
	if !c.json {
		fmt.Fprintf(stdout, "Watching site %s on %s as %s (station %s). Ctrl-C stops.\n", c.site, u.Host, c.username, c.station)
	} else {
		fmt.Fprintf(stderr, "watching site %s on %s as %s (station %s)\n", c.site, u.Host, c.username, c.station)
	}
	p := &queuePrinter{w: stdout, json: c.json, station: c.station, seen: map[string]time.Time{}}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-lost:
			return err
		case m := <-msgs:
			if err := p.print(m); err != nil {
				return err
			}
		}
	}
}

func sendLost(lost chan<- error, err error) {
	select {
	case lost <- err:
	default:
	}
}

// connectTablet logs in with the tablet's credentials and a client id
// that declares the station as the staff app's does (see edge/mqtt's
// tabletStation).
func connectTablet(ctx context.Context, client *paho.Client, c watchConfig) error {
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ca, err := client.Connect(ctx, &paho.Connect{
		ClientID: "tablet-" + c.username + "-" + c.station + "-watch" + hex.EncodeToString(suffix), CleanStart: true, KeepAlive: 30,
		Username: c.username, UsernameFlag: true, Password: []byte(c.password), PasswordFlag: true,
	})
	if err == nil {
		return nil
	}
	if ca == nil {
		return fmt.Errorf("the broker did not answer the login (%v): is %s an edge node's MQTT port?", err, c.broker)
	}
	switch ca.ReasonCode {
	case 0x86, 0x87: // bad user name or password, not authorized
		return fmt.Errorf("the broker refused the login (%s): check --username and the password; a tablet login is made with `pantry edge tablet add` or in the dashboard",
			reason(ca.ReasonCode, connackReason(ca)))
	}
	return fmt.Errorf("the broker refused the connection (%s)", reason(ca.ReasonCode, connackReason(ca)))
}

// reasonNames name the MQTT 5 reason codes a broker answers a tablet with.
var reasonNames = map[byte]string{
	0x80: "unspecified error", 0x85: "client identifier not valid", 0x86: "bad user name or password",
	0x87: "not authorized", 0x88: "server unavailable", 0x8b: "server shutting down", 0x8d: "keep alive timeout",
	0x8e: "session taken over", 0x97: "quota exceeded", 0x98: "administrative action",
}

// reason renders an MQTT reason code with the broker's reason string,
// or the code's name when the broker gave none.
func reason(code byte, text string) string {
	if text == "" {
		text = reasonNames[code]
	}
	if text == "" {
		return fmt.Sprintf("0x%02x", code)
	}
	return fmt.Sprintf("0x%02x %s", code, text)
}

// subscribeQueue subscribes, as the staff app does, to the retained queue
// and the order events of the site, checking each filter's reason code.
func subscribeQueue(ctx context.Context, client *paho.Client, site string) error {
	var subs []paho.SubscribeOptions
	for _, kind := range []string{mqtt.KindQueue, mqtt.KindOrders} {
		topic, err := mqtt.SiteTopic(site, kind)
		if err != nil {
			return fmt.Errorf("--site: %w", err)
		}
		subs = append(subs, paho.SubscribeOptions{Topic: topic + "/+", QoS: 1})
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for range 20 { // mochi may answer 0x91 (packet id in use) to an early SUBSCRIBE; retry
		sa, err := client.Subscribe(ctx, &paho.Subscribe{Subscriptions: subs})
		if sa == nil {
			return fmt.Errorf("subscribe to site %s: %w", site, err)
		}
		refused := ""
		for i, code := range sa.Reasons {
			if code >= 0x80 && code != 0x91 && i < len(subs) {
				refused = fmt.Sprintf("the broker refused the subscription to %s (%s)", subs[i].Topic, reason(code, ""))
			}
		}
		if refused != "" {
			return errors.New(refused + ": is --site the site of this tablet login?")
		}
		if !slices.Contains(sa.Reasons, 0x91) {
			return nil
		}
	}
	return fmt.Errorf("subscribe to site %s: the broker kept answering 0x91 (packet identifier in use)", site)
}

// watchLine is one printed change: --json prints it as it is.
type watchLine struct {
	At      time.Time          `json:"at"`
	Kind    string             `json:"kind"` // queued, new, update
	OrderID string             `json:"order_id"`
	Room    string             `json:"room"`
	Status  pantry.OrderStatus `json:"status"`
	Lines   []watchOrderLine   `json:"lines"`
}

type watchOrderLine struct {
	Quantity int    `json:"quantity"`
	Name     string `json:"name"`
	Station  string `json:"station,omitempty"`
}

// queuePrinter prints the queue's changes for one station.
type queuePrinter struct {
	w       io.Writer
	json    bool
	station string
	// seen is the UpdatedAt of each order last printed, so that a queue
	// entry replayed after a newer change of its order is not printed as
	// if it were news.
	seen map[string]time.Time
}

// print prints one message: a retained queue entry (the queue as the
// broker holds it when the watch starts) or an order event. Live queue
// entries repeat the order events and are skipped.
func (p *queuePrinter) print(m watchMessage) error {
	var kind string
	var o pantry.Order
	switch {
	case strings.Contains(m.topic, "/"+mqtt.KindQueue+"/"):
		if !m.retain || len(m.payload) == 0 {
			return nil
		}
		if err := json.Unmarshal(m.payload, &o); err != nil {
			return p.skip(m, err)
		}
		kind = "queued"
	default:
		var ev mqtt.OrderEvent
		if err := json.Unmarshal(m.payload, &ev); err != nil {
			return p.skip(m, err)
		}
		o, kind = ev.Order, map[string]string{mqtt.EventOrderCreated: "new"}[ev.Event]
		if kind == "" {
			kind = "update"
		}
	}
	if last, ok := p.seen[o.ID]; ok && !o.UpdatedAt.After(last) {
		return nil
	}
	p.seen[o.ID] = o.UpdatedAt
	line := watchLine{At: o.UpdatedAt, Kind: kind, OrderID: o.ID, Room: o.SpaceName, Status: o.Status, Lines: []watchOrderLine{}}
	for _, l := range o.Lines {
		if p.station == pantry.StationAll || l.Station == "" || l.Station == p.station {
			line.Lines = append(line.Lines, watchOrderLine{Quantity: l.Quantity, Name: l.Name, Station: l.Station})
		}
	}
	if len(line.Lines) == 0 {
		return nil // nothing of this station's
	}
	return p.write(line)
}

// skip reports a message that is not what the topic promises, and goes on.
func (p *queuePrinter) skip(m watchMessage, err error) error {
	if p.json {
		return nil
	}
	_, werr := fmt.Fprintf(p.w, "?  %s: unreadable payload (%v)\n", m.topic, err)
	return werr
}

func (p *queuePrinter) write(l watchLine) error {
	if p.json {
		return json.NewEncoder(p.w).Encode(l)
	}
	items := make([]string, len(l.Lines))
	for i, x := range l.Lines {
		items[i] = fmt.Sprintf("%d× %s", x.Quantity, x.Name)
	}
	_, err := fmt.Fprintf(p.w, "%s  %-6s  #%s  %s  %s  %s\n", l.At.Local().Format("15:04:05"), l.Kind, shortOrderID(l.OrderID), l.Room, l.Status, strings.Join(items, ", "))
	return err
}

// shortOrderID is the end of an order's id, which is its random part
// (UUIDv7 begins with the time): enough to tell orders apart on screen.
func shortOrderID(id string) string {
	if len(id) > 6 {
		return id[len(id)-6:]
	}
	return id
}

func connackReason(ca *paho.Connack) string {
	if ca.Properties == nil {
		return ""
	}
	return ca.Properties.ReasonString
}

func disconnectReason(d *paho.Disconnect) string {
	if d.Properties == nil {
		return ""
	}
	return d.Properties.ReasonString
}
