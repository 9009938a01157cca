// Package mqtt embeds the edge node's MQTT 5 broker (mochi-mqtt): it
// authenticates tablets, confines each to its own site's topic tree, and
// publishes the domain events tablets and the edge's own Server-Sent Events
// streams follow. Only the edge publishes; tablets only read.
package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Authenticator checks a tablet's MQTT login and returns the site the tablet
// belongs to and which credential it proved. Wrong credentials are a
// *pantry.Error with code pantry.EUNAUTHORIZED; any other error means the
// check itself failed, and the tablet is told the server is unavailable
// rather than that its password is wrong. It runs once per connection
// attempt, never on the packet path.
type Authenticator interface {
	AuthenticateTablet(ctx context.Context, username, password string) (Login, error)
}

// Login is what a successful MQTT login proved.
type Login struct {
	// SiteID is the site whose topic tree the tablet may read.
	SiteID string
	// Credential names the credential the tablet logged in with (never the
	// secret itself), so that the broker can end exactly the connections
	// made with a credential that has since been revoked: see
	// Broker.Credentials and Broker.Revoke. Opaque to the broker.
	Credential string
}

// AuthenticatorFunc adapts a function to Authenticator, for wiring and tests.
type AuthenticatorFunc func(ctx context.Context, username, password string) (Login, error)

var _ Authenticator = AuthenticatorFunc(nil)

// AuthenticateTablet calls f.
func (f AuthenticatorFunc) AuthenticateTablet(ctx context.Context, username, password string) (Login, error) {
	return f(ctx, username, password)
}

// Config says where the broker listens and where it logs.
type Config struct {
	TCPAddr string // e.g. ":1883" or "127.0.0.1:0"; "" for none, if TLSAddr is set
	WSAddr  string // e.g. ":1884"; "" disables the WebSocket listener; port 0 is refused
	// TLSAddr is the MQTT over TLS (mqtts) listener, e.g. ":8883"; "" for
	// none. It needs TLS.
	TLSAddr string
	// TLS, when set, is the server side of TLS: that of the TLSAddr
	// listener, and it turns the WebSocket listener into wss, since a
	// page loaded over HTTPS may open only secure WebSockets.
	TLS *tls.Config
	Log *slog.Logger
	// OnPresence, if set, is called each time a tablet connects or leaves,
	// so that whoever watches Presence need not poll it. It runs on that
	// tablet's connection goroutine and must not block.
	OnPresence func()
	// Now is the clock of Presence's times (default time.Now).
	Now func() time.Time
}

// ErrClosed is returned by methods called after Close.
var ErrClosed = errors.New("mqtt broker closed")

// Broker is the edge's embedded MQTT broker. Create it with New, start it
// with Serve and stop it with Close; publishing and Subscribe are safe for
// concurrent use.
type Broker struct {
	server   *mochi.Server
	hook     *hook
	retained *retainedStore // the edge's retained state, see retained.go
	log      *slog.Logger
	tcpAddr  net.Addr           // nil without a plain TCP listener
	tlsAddr  net.Addr           // nil without an mqtts listener
	cancel   context.CancelFunc // ends in-flight authentications on Close

	mu     sync.Mutex // serialises Serve and Close
	served bool
	closed atomic.Bool

	nextSubID atomic.Int64 // inline subscription ids; mochi keys inline subscriptions by them
}

// Timeouts on the connect path; neither is on any packet path.
const (
	// connectTimeout bounds how long an accepted TCP connection may take to
	// send CONNECT: mochi sets no deadline until it has read one, so a socket
	// that never speaks would otherwise hold two goroutines forever.
	connectTimeout = 10 * time.Second
	// authTimeout bounds one Authenticator call.
	authTimeout = 5 * time.Second
)

// New creates a broker with our authentication and ACL hook. It binds the TCP
// and mqtts listeners now, so "address in use" is reported here rather than
// lost in a log line, and checks that the WebSocket address is bindable for the same
// reason: mochi's WebSocket listener binds only in Serve and logs, rather
// than returns, a failure to bind. For that reason WSAddr cannot use port 0
// (the port mochi picks could never be reported); a small window remains in
// which another process can take the WebSocket port between New and Serve.
func New(cfg Config, auth Authenticator) (*Broker, error) {
	if auth == nil {
		return nil, errors.New("mqtt: nil authenticator")
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.TLSAddr != "" && cfg.TLS == nil {
		return nil, errors.New("mqtt: an mqtts address without a TLS configuration")
	}
	var lns bound
	if cfg.TCPAddr != "" || cfg.TLSAddr == "" {
		ln, err := net.Listen("tcp", cfg.TCPAddr)
		if err != nil {
			return nil, &ListenError{Addr: cfg.TCPAddr, Err: err}
		}
		lns.tcp = ln
	}
	if cfg.TLSAddr != "" {
		ln, err := net.Listen("tcp", cfg.TLSAddr)
		if err != nil {
			lns.close()
			return nil, &ListenError{TLS: true, Addr: cfg.TLSAddr, Err: err}
		}
		lns.tls = ln
	}
	if cfg.WSAddr != "" {
		if err := checkBindable(cfg.WSAddr); err != nil {
			lns.close()
			return nil, &ListenError{WebSocket: true, Addr: cfg.WSAddr, Err: err}
		}
	}
	b, err := newBroker(cfg, log, auth, lns)
	if err != nil {
		lns.close()
		return nil, err
	}
	return b, nil
}

// bound are the listeners New bound: plain TCP and mqtts, each may be nil.
type bound struct{ tcp, tls net.Listener }

func (l bound) close() {
	for _, ln := range []net.Listener{l.tcp, l.tls} {
		if ln != nil {
			_ = ln.Close()
		}
	}
}

// newBroker builds the mochi server around already bound listeners.
func newBroker(cfg Config, log *slog.Logger, auth Authenticator, lns bound) (*Broker, error) {
	ctx, cancel := context.WithCancel(context.Background())
	server := mochi.New(&mochi.Options{
		Capabilities: capabilities(),
		InlineClient: true, // Publish and Subscribe from the edge itself
		Logger:       log.With("component", "mochi"),
		// $SYS topics are unreadable by tablets (see readAllowed); refreshing
		// them every second (the default) would only cost a ReadMemStats a second.
		SysTopicResendInterval: 60,
	})
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	b := &Broker{server: server, retained: newRetainedStore(), log: log, cancel: cancel}
	b.hook = newHook(ctx, server, auth, log, b.retained, now, cfg.OnPresence)
	if err := server.AddHook(b.hook, nil); err != nil {
		cancel()
		return nil, fmt.Errorf("mqtt add hook: %w", err)
	}
	if lns.tcp != nil {
		b.tcpAddr = lns.tcp.Addr()
		if err := server.AddListener(listeners.NewNet("tcp", &acceptListener{Listener: lns.tcp, log: log})); err != nil {
			cancel()
			return nil, fmt.Errorf("mqtt add listener %s: %w", lns.tcp.Addr(), err)
		}
	}
	if lns.tls != nil {
		// TLS over the hardened listener: the CONNECT deadline covers the
		// handshake too, and mochi sees *tls.Conn connections.
		b.tlsAddr = lns.tls.Addr()
		ln := tls.NewListener(&acceptListener{Listener: lns.tls, log: log}, cfg.TLS)
		if err := server.AddListener(listeners.NewNet("tls", ln)); err != nil {
			cancel()
			return nil, fmt.Errorf("mqtt add listener %s: %w", lns.tls.Addr(), err)
		}
	}
	if cfg.WSAddr != "" {
		var wsTLS *tls.Config
		if cfg.TLS != nil {
			// HTTP/1.1 first: WebSockets over HTTP/2 are not served (Go
			// does not offer RFC 8441 by default), so a browser must not
			// be led to negotiate h2 on this port.
			wsTLS = cfg.TLS.Clone()
			wsTLS.NextProtos = []string{"http/1.1"}
		}
		ws := listeners.NewWebsocket(listeners.Config{Type: listeners.TypeWS, ID: "ws", Address: cfg.WSAddr, TLSConfig: wsTLS})
		if err := server.AddListener(ws); err != nil {
			cancel()
			return nil, fmt.Errorf("mqtt add listener %s: %w", cfg.WSAddr, err)
		}
	}
	return b, nil
}

// capabilities returns mochi's defaults with the settings that matter for
// Pantry chosen deliberately.
func capabilities() *mochi.Capabilities {
	c := mochi.NewDefaultServerCapabilities()
	// mochi v2.7.9 force-expires QoS 1 messages queued for an offline
	// session, and retained messages, older than MaximumMessageExpiryInterval
	// (24 h by default) even without an expiry property. Our retained queue
	// and stock are not in mochi's store at all (retained.go), but a queued
	// order event must not vanish on a timer either: 0 disables that
	// enforcement. MaximumInflight (default 8192) and
	// MaximumSessionExpiryInterval below still bound what an offline session
	// holds.
	c.MaximumMessageExpiryInterval = 0
	// A client whose outbound queue is full silently loses messages, QoS 1
	// included (the hook then disconnects it so it resyncs; see
	// OnPublishDropped). The queue holds live events only: the retained
	// replay at SUBSCRIBE, the one big burst (every open order), is written
	// by the hook straight to the connection (retained.go). 4096 is far
	// beyond any live burst, while costing 32 KiB of channel per connection
	// instead of 64.
	c.MaximumClientWritesPending = 4096
	// A session kept for an offline tablet holds its subscriptions and
	// queued messages. After an hour away, a tablet is better served by the
	// retained queue than by a backlog of stale events, and memory stays
	// bounded (mochi's default keeps MQTT 3 sessions for 136 years).
	c.MaximumSessionExpiryInterval = 60 * 60
	// Everything is published at QoS 1 and tablets never publish, so QoS 2
	// state machines would only be attack surface.
	c.MaximumQos = 1
	// Tablets send CONNECT, SUBSCRIBE and PINGREQ: all small. Without a limit
	// (mochi's default) one unauthenticated CONNECT could make the broker
	// buffer up to 256 MiB.
	c.MaximumPacketSize = 64 << 10
	return c
}

// checkBindable reports whether addr can be listened on now.
func checkBindable(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if port == "0" || port == "" {
		return errors.New("port 0 is not supported: mochi's websocket listener binds in Serve and cannot report the port it picks")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return ln.Close()
}

// Serve starts accepting connections and returns at once, as mochi's Serve
// does. It may be called once.
func (b *Broker) Serve() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return ErrClosed
	}
	if b.served {
		return errors.New("mqtt: Serve called twice")
	}
	if err := b.server.Serve(); err != nil {
		return fmt.Errorf("mqtt serve: %w", err)
	}
	b.served = true
	b.log.Info("mqtt broker serving", "tcp", addrString(b.tcpAddr), "mqtts", addrString(b.tlsAddr))
	return nil
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// TCPAddr returns the address the TCP listener is bound to, so callers that
// asked for port 0 learn the real port; nil if there is none.
func (b *Broker) TCPAddr() net.Addr { return b.tcpAddr }

// TLSAddr returns the address the mqtts listener is bound to; nil if
// there is none.
func (b *Broker) TLSAddr() net.Addr { return b.tlsAddr }

// Ready reports whether the broker is serving: Serve succeeded and Close has
// not been called. Health checks use it.
func (b *Broker) Ready() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.served && !b.closed.Load()
}

// Close stops the listeners, disconnects every client and cancels
// authentications in progress. Retained messages live only in memory and are
// lost: the edge republishes its state from its store after a restart.
// Close may be called more than once, and before Serve.
func (b *Broker) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Swap(true) {
		return nil
	}
	b.cancel()
	if err := b.server.Close(); err != nil {
		return fmt.Errorf("mqtt close: %w", err)
	}
	return nil
}

// acceptListener hardens the TCP listener mochi serves from. It gives every
// accepted connection connectTimeout to send CONNECT (mochi replaces that
// deadline with the keepalive deadline once it has read CONNECT), and it
// retries temporary Accept errors: mochi's accept loop returns on any error,
// so one EMFILE under a connection flood would otherwise stop the MQTT
// listener for good.
type acceptListener struct {
	net.Listener
	log *slog.Logger
}

// Accept returns the next connection, with its CONNECT deadline set. It
// returns an error only once the listener is closed or fails permanently.
func (l *acceptListener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			if err := c.SetDeadline(time.Now().Add(connectTimeout)); err != nil {
				_ = c.Close()
				continue
			}
			return c, nil
		}
		if errors.Is(err, net.ErrClosed) {
			return nil, err
		}
		// Same backoff as net/http: the listener is still open, so retrying
		// is what keeps the broker reachable once file descriptors free up.
		delay = min(max(2*delay, 5*time.Millisecond), time.Second)
		l.log.Warn("mqtt accept failed; retrying", "err", err, "retry_in", delay)
		time.Sleep(delay)
	}
}

// ConnectedClients is how many MQTT clients (tablets) are connected now.
func (b *Broker) ConnectedClients() int64 {
	return atomic.LoadInt64(&b.server.Info.ClientsConnected)
}

// ListenError says which listener could not bind, so the caller can name
// the right flag.
type ListenError struct {
	WebSocket bool
	TLS       bool // the mqtts listener
	Addr      string
	Err       error
}

func (e *ListenError) Error() string {
	kind := "mqtt listen"
	switch {
	case e.WebSocket:
		kind = "mqtt websocket listen"
	case e.TLS:
		kind = "mqtts listen"
	}
	return fmt.Sprintf("%s %s: %v", kind, e.Addr, e.Err)
}

// Unwrap returns the listener's error.
func (e *ListenError) Unwrap() error { return e.Err }
