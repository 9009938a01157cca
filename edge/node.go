// Package edge wires one building's edge node: the SQLite store, the
// embedded MQTT broker and the HTTP server, plus the background work that
// keeps them honest (session expiry).
package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/pantry/pantry/edge/mqtt"
	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/edge/syncer"
	"github.com/pantry/pantry/edge/tlsca"
	"github.com/pantry/pantry/edge/web"
	"github.com/pantry/pantry/internal/pantry"
)

// Config configures a Node. DataDir, HTTPAddr and MQTTAddr are required
// (with TLS on, HTTPAddr or MQTTAddr may be empty to leave that plain
// listener out).
type Config struct {
	DataDir    string
	HTTPAddr   string
	MQTTAddr   string
	MQTTWSAddr string // "" disables MQTT over WebSocket
	// MQTTWSAdvertise is the port the staff app's browsers reach the
	// WebSocket listener on, on the host they loaded the page from, when a
	// TLS-terminating proxy or a port forward sits in front of it: a port
	// number, or "" for the listener's own port. New refuses anything else.
	MQTTWSAdvertise string
	// Demo seeds a demo site on first start (idempotent afterwards).
	Demo bool
	// PublicURL is the base URL printed in QR codes; default derived
	// from the HTTP address (the HTTPS one with TLS on) and the machine's
	// LAN address.
	PublicURL     string
	SessionTTL    time.Duration
	SessionOrders int
	AddressRPM    int
	// ExpiryEvery is how often expired sessions are swept (default 30 s).
	ExpiryEvery time.Duration
	// CloudURL overrides the cloud URL stored at enrollment (a moved
	// cloud, or a proxy in tests).
	CloudURL string
	// SyncHTTP is the sync worker's HTTP client (default: its own).
	SyncHTTP *http.Client
	// SyncMinBackoff and SyncMaxBackoff bound the sync worker's waits
	// between failed attempts (defaults 500 ms and 30 s).
	SyncMinBackoff, SyncMaxBackoff time.Duration
	// StaffAbsentAfter is how long a station's open orders may wait with
	// no tablet showing its lines connected before the node raises
	// staff.absent (default 2 min; see presence).
	StaffAbsentAfter time.Duration
	// PresenceEvery is how often staff presence is checked when no tablet
	// comes or goes (default 5 s): an absence is alerted at most this long
	// after StaffAbsentAfter has passed.
	PresenceEvery time.Duration
	// CredentialCheckEvery is how often the credentials of connected
	// tablets are checked (default 2 s), which bounds how long a tablet
	// removed with the CLI or signed out stays connected; a pull that
	// changes the configuration triggers a check at once.
	CredentialCheckEvery time.Duration
	// Escalations are when the staff app's tickets turn amber and red,
	// per station (default web.DefaultEscalations).
	Escalations web.Escalations
	// RingRepeat is how often a tablet set to ring until accepted rings
	// again (default 30 s).
	RingRepeat time.Duration
	Log        *slog.Logger
	Now        func() time.Time

	// TLS serves HTTPS and MQTT over TLS (see TLS); off by default.
	TLS TLS
}

// Node is a running edge node.
type Node struct {
	cfg   Config
	log   *slog.Logger
	store *sqlite.Store
	bus   *mqtt.Broker
	app   *fiber.App
	ln    net.Listener // plain HTTP; nil with TLS on and no HTTPAddr
	site  pantry.Site
	demo  *sqlite.Demo
	sync  *syncer.Worker // nil unless the node is enrolled
	stop  chan struct{}

	presence *presence
	credWake chan struct{} // a pull changed the configuration: check credentials now
	lock     *DataDirLock  // the data directory's (lock.go), held until Close

	// httpsLn is the HTTPS listener and certs its certificate, nil with
	// TLS off.
	httpsLn net.Listener
	certs   *tlsca.Certs
}

// New opens the store, checks the site configuration and binds every
// listener, so that a port in use or an unwritable data directory fails
// here with one clear sentence, before anything is served.
func New(ctx context.Context, cfg Config) (*Node, error) {
	if _, err := advertisedWSPort(cfg); err != nil {
		return nil, err
	}
	if err := checkTLS(cfg); err != nil {
		return nil, err
	}
	if cfg.TLS.CheckEvery <= 0 {
		cfg.TLS.CheckEvery = time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if cfg.ExpiryEvery <= 0 {
		cfg.ExpiryEvery = 30 * time.Second
	}
	if cfg.StaffAbsentAfter <= 0 {
		cfg.StaffAbsentAfter = 2 * time.Minute
	}
	if cfg.PresenceEvery <= 0 {
		cfg.PresenceEvery = 5 * time.Second
	}
	if cfg.CredentialCheckEvery <= 0 {
		cfg.CredentialCheckEvery = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	n := &Node{cfg: cfg, log: cfg.Log, stop: make(chan struct{}), credWake: make(chan struct{}, 1)}
	var err error
	if n.lock, err = lockDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	started := false
	defer func() {
		if !started {
			n.lock.Release()
		}
	}()
	if n.store, err = sqlite.Open(ctx, cfg.DataDir, sqlite.Options{Now: cfg.Now}); err != nil {
		return nil, fmt.Errorf("data directory %s cannot be used (%v); choose another with --data or fix its permissions", cfg.DataDir, err)
	}
	if err := n.loadSite(ctx); err != nil {
		n.store.Close()
		return nil, err
	}
	if err := n.setupTLS(); err != nil {
		n.store.Close()
		return nil, err
	}
	if err := n.listen(ctx); err != nil {
		n.store.Close()
		return nil, err
	}
	n.recordServing()
	started = true
	return n, nil
}

func (n *Node) loadSite(ctx context.Context) error {
	if n.cfg.Demo {
		d, err := n.store.SeedDemo(ctx)
		if err != nil {
			return fmt.Errorf("seed demo site: %w", err)
		}
		n.demo = &d
	}
	site, err := n.store.Site(ctx)
	if pantry.ErrorCode(err) == pantry.ENOTFOUND {
		return errors.New("this edge node has no site configuration: enroll it with `pantry edge init --cloud URL --token TOKEN`, or start it with --demo")
	}
	if err != nil {
		return fmt.Errorf("load site: %w", err)
	}
	n.site = site
	return nil
}

func (n *Node) listen(ctx context.Context) error {
	if err := n.bindHTTP(); err != nil {
		return err
	}
	presenceWake := make(chan struct{}, 1)
	bus, err := mqtt.New(mqtt.Config{
		TCPAddr: n.cfg.MQTTAddr, WSAddr: n.cfg.MQTTWSAddr, TLSAddr: n.mqttsAddr(), TLS: n.mqttTLS(),
		Log: n.log, Now: n.cfg.Now, OnPresence: func() { poke(presenceWake) },
	}, mqtt.AuthenticatorFunc(n.authenticateTablet))
	if err != nil {
		n.closeHTTP()
		var le *mqtt.ListenError
		if errors.As(err, &le) {
			flag := "--mqtt"
			switch {
			case le.WebSocket:
				flag = "--mqtt-ws"
			case le.TLS:
				flag = "--mqtts"
			}
			return addrError("MQTT", flag, le.Addr, le.Err)
		}
		return fmt.Errorf("start MQTT broker: %w", err)
	}
	n.bus = bus
	n.presence = newPresence(bus, n.store, n.site.ID, n.cfg, presenceWake)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(newStoreCollector(n.store), prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "pantry_mqtt_clients_connected", Help: "MQTT clients (tablets) connected now.",
	}, func() float64 { return float64(bus.ConnectedClients()) }), n.presence)
	if err := n.newSyncWorker(ctx, reg); err != nil {
		n.closeHTTP()
		bus.Close()
		return fmt.Errorf("start sync: %w", err)
	}
	wsAdvertise, _ := advertisedWSPort(n.cfg) // checked by New
	n.app = web.New(web.Config{
		Log: n.log, Store: n.store, Bus: bus, SiteID: n.site.ID, MQTTWSAddr: n.cfg.MQTTWSAddr, MQTTWSAdvertise: wsAdvertise, Registry: reg,
		SessionTTL: n.cfg.SessionTTL, SessionOrders: n.cfg.SessionOrders, AddressRPM: n.cfg.AddressRPM,
		StaffSeen: n.StaffSeen, Stop: n.stop, Now: n.cfg.Now, Escalations: n.cfg.Escalations,
		RingRepeat: n.cfg.RingRepeat, HTTPSPort: n.httpsPort(), HTTPLanding: n.cfg.TLS.HTTPLanding,
	})
	return nil
}

func addrError(what, flag, addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return &listenError{fmt.Sprintf("%s address %s is already in use: stop the program using it or pass %s with another address", what, addr, flag), err}
	}
	return &listenError{fmt.Sprintf("cannot listen for %s on %s (%v): pass %s with a valid address", what, addr, err, flag), err}
}

// listenError is a listener that could not bind, in words a technician
// can act on; errors.Is(err, syscall.EADDRINUSE) still finds a port in
// use.
type listenError struct {
	msg string
	err error
}

func (e *listenError) Error() string { return e.msg }
func (e *listenError) Unwrap() error { return e.err }

// Site returns the site the node serves.
func (n *Node) Site() pantry.Site { return n.site }

// Demo returns what --demo seeded, or nil.
func (n *Node) Demo() *sqlite.Demo { return n.demo }

// Store returns the node's store (for the CLI and tests).
func (n *Node) Store() *sqlite.Store { return n.store }

// HTTPAddr is the bound plain HTTP address, nil if TLS is on and there is
// no plain listener.
func (n *Node) HTTPAddr() net.Addr {
	if n.ln == nil {
		return nil
	}
	return n.ln.Addr()
}

// MQTTAddr is the bound MQTT TCP address, nil if TLS is on and there is
// no plain listener.
func (n *Node) MQTTAddr() net.Addr { return n.bus.TCPAddr() }

// PublicURL is the base URL attendees' phones reach the node at: with TLS
// on, https:// on the HTTPS port.
func (n *Node) PublicURL() string {
	if n.cfg.PublicURL != "" {
		return n.cfg.PublicURL
	}
	if n.httpsLn != nil {
		_, port, _ := net.SplitHostPort(n.httpsLn.Addr().String())
		return "https://" + net.JoinHostPort(n.publicHost(), port)
	}
	_, port, _ := net.SplitHostPort(n.ln.Addr().String())
	return "http://" + net.JoinHostPort(lanAddress(), port)
}

// Run serves until ctx ends, then shuts down gracefully.
func (n *Node) Run(ctx context.Context) error {
	if err := n.bus.Serve(); err != nil {
		return fmt.Errorf("serve MQTT: %w", err)
	}
	if err := n.republish(ctx); err != nil {
		n.log.Warn("republish retained state", "err", err)
	}
	errc := n.serveHTTP()
	bgCtx, stopBackground := context.WithCancel(ctx)
	defer stopBackground()
	background := n.startBackground(bgCtx)
	certsKept := n.keepCerts(bgCtx)
	syncCtx, stopSync := context.WithCancel(ctx)
	syncDone := make(chan struct{})
	go func() {
		defer close(syncDone)
		if n.sync != nil {
			if err := n.sync.Run(syncCtx); err != nil {
				n.log.Error("sync worker stopped", "err", err)
			}
		}
	}()
	n.log.Info("edge node serving", "site", n.site.Name, "http", addrString(n.HTTPAddr()), "https", addrString(n.HTTPSAddr()),
		"mqtt", addrString(n.MQTTAddr()), "mqtts", addrString(n.MQTTSAddr()), "mqtt_ws", n.cfg.MQTTWSAddr, "public_url", n.PublicURL(), "data", filepath.Clean(n.cfg.DataDir))
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		err = fmt.Errorf("serve HTTP: %w", err)
	}
	close(n.stop)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if e := n.app.ShutdownWithContext(shutdownCtx); e != nil {
		n.log.Warn("HTTP shutdown", "err", e)
	}
	n.closeHTTP() // a listener whose Serve had not begun when shutdown came
	stopBackground()
	background.Wait()
	<-certsKept
	stopSync()
	<-syncDone
	return errors.Join(err, n.Close())
}

// Close stops the broker, closes the HTTP listeners and the store. Run
// calls it.
func (n *Node) Close() error {
	n.closeHTTP()
	return errors.Join(n.bus.Close(), n.store.Close(), n.lock.Release())
}
