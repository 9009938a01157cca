// Package server wires the multi-tenant cloud service: the PostgreSQL store,
// the sync server over it, the signing keys every instance shares, and the
// HTTP API. Instances are stateless; run as many as needed against one
// database. It lives apart from the domain (package cloud) because it
// imports every adapter, and they all import the domain.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/api"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/cloud/postgres"
	"github.com/pantry/pantry/cloud/sso"
	"github.com/pantry/pantry/cloud/syncserver"
	"github.com/pantry/pantry/cloud/web"
)

// Config configures a Server. DatabaseURL and HTTPAddr are required.
type Config struct {
	DatabaseURL string
	HTTPAddr    string
	ServiceRole string // default pantry_service
	// DBMaxConns caps the instance's pool of database connections, beside
	// the one its listener holds (default: pgxpool's, the larger of 4 and
	// the number of CPUs, or pool_max_conns in DatabaseURL).
	DBMaxConns int32
	// KeyReload is how often signing keys are re-read, so a key another
	// instance added is known here (default 1 min).
	KeyReload time.Duration
	// QRBaseURL is where phones in a building reach its edge node; rooms'
	// qr_url is QRBaseURL/q/CODE (default http://pantry.local:8080).
	QRBaseURL string
	// NodeOfflineAfter is how long an edge node may go unseen before the
	// dashboard shows it offline (default cloud.OfflineAfter).
	NodeOfflineAfter time.Duration
	// LiveRecheck is how often a dashboard's live stream rechecks its
	// session (default a minute; tests shorten it).
	LiveRecheck time.Duration
	// Passwords overrides the argon2id parameters (tests use cheap ones).
	Passwords auth.PasswordParams
	Log       *slog.Logger
	Now       func() time.Time
	// SSO tunes the dashboard's single sign-on (zero: production's rules;
	// tests allow the loopback test identity provider).
	SSO sso.Options
}

// Server is a running cloud instance.
type Server struct {
	cfg   Config
	log   *slog.Logger
	store *postgres.Store
	keys  atomic.Pointer[auth.KeySet]
	app   *fiber.App
	ln    net.Listener
	// stop is closed when Run ends, to end the dashboard's live streams.
	stop chan struct{}
}

// listenTimeout bounds how long New waits for the store's listener to
// LISTEN on a database that has just answered.
const listenTimeout = 10 * time.Second

// New opens the database (refusing one whose schema is behind), loads or
// creates the signing keys, starts the store's LISTEN connection and
// binds the HTTP listener.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.KeyReload <= 0 {
		cfg.KeyReload = time.Minute
	}
	s := &Server{cfg: cfg, log: cfg.Log, stop: make(chan struct{})}
	var err error
	if s.store, err = postgres.Open(ctx, cfg.DatabaseURL, postgres.Options{ServiceRole: cfg.ServiceRole, MaxConns: cfg.DBMaxConns, Logger: cfg.Log}); err != nil {
		return nil, err
	}
	if err := s.loadKeys(ctx, true); err != nil {
		s.store.Close()
		return nil, err
	}
	// The dashboard's live pages hear order changes through the store's
	// listener: listening before serving means a page that subscribes
	// hears every change from then on, rather than a resync first.
	listenCtx, cancel := context.WithTimeout(ctx, listenTimeout)
	err = s.store.Listen(listenCtx)
	cancel()
	if err != nil {
		s.store.Close()
		return nil, err
	}
	if s.ln, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		s.store.Close()
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("HTTP address %s is already in use: stop the program using it or pass --http with another address", cfg.HTTPAddr)
		}
		return nil, fmt.Errorf("cannot listen on %s (%v): pass --http with a valid address", cfg.HTTPAddr, err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	services := Services(s.store, cfg.Now, s.stop)
	login := auth.NewPasswordLogin(services.Logins, cfg.Passwords, auth.ThrottlePolicy{})
	s.app = api.New(api.Config{
		Log: cfg.Log, Services: services, Ready: s.store.Ping, Login: login,
		Keys: &s.keys, Passwords: cfg.Passwords, QRBaseURL: cfg.QRBaseURL, Registry: reg, Now: cfg.Now,
	})
	web.Register(s.app, web.Config{Log: cfg.Log, Services: services, Login: login, QRBaseURL: cfg.QRBaseURL, SSOOptions: cfg.SSO, Stop: s.stop, Now: cfg.Now,
		NodeOfflineAfter: cfg.NodeOfflineAfter, LiveRecheck: cfg.LiveRecheck})
	return s, nil
}

// Services are the cloud's services over store: the store itself for
// all but replication, and the sync server over it, whose long polls end
// when stop is closed.
func Services(store *postgres.Store, now func() time.Time, stop <-chan struct{}) cloud.Services {
	return cloud.Services{
		Sites: store, Catalog: store, Stock: store, Orders: store, Users: store,
		Logins: store, Audit: store, Nodes: store, Sync: syncserver.New(store, syncserver.Options{Now: now, Stop: stop}),
		OrderFeed: store,
		Sessions:  store,
		SSO:       store,
	}
}

// loadKeys reads the signing keys. Every stored key verifies; the one
// that signs is the newest key that every instance has had time to load
// (older than two reload intervals), so no instance ever meets a token
// signed with a key it does not know yet. With none stored (a new
// database) it creates the first one: instances racing to do so each
// insert one, and all of them then load the same set.
func (s *Server) loadKeys(ctx context.Context, create bool) error {
	stored, err := s.store.SigningKeys(ctx)
	if err != nil {
		return err
	}
	if len(stored) == 0 && create {
		if err := AddSigningKey(ctx, s.store); err != nil {
			return err
		}
		return s.loadKeys(ctx, false)
	}
	if len(stored) == 0 {
		return errors.New("no signing keys")
	}
	keys := make([]auth.Key, len(stored))
	signer := 0 // the oldest, when none is old enough (a brand-new database)
	for i, sk := range stored {
		if keys[i], err = auth.ParseKey(sk.Key); err != nil {
			return fmt.Errorf("load signing key: %w", err)
		}
		if sk.CreatedAt.Before(s.cfg.Now().Add(-2 * s.cfg.KeyReload)) {
			signer = i
		}
	}
	others := append(append([]auth.Key{}, keys[:signer]...), keys[signer+1:]...)
	set, err := auth.NewKeySet(keys[signer], others...)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	s.keys.Store(set)
	return nil
}

// AddSigningKey creates a signing key and stores it. Instances start
// signing with it once they all have loaded it (see loadKeys); `pantry
// cloud keys rotate` calls it.
func AddSigningKey(ctx context.Context, store *postgres.Store) error {
	k, err := auth.NewKey()
	if err != nil {
		return fmt.Errorf("create signing key: %w", err)
	}
	b, err := k.MarshalBinary()
	if err != nil {
		return fmt.Errorf("create signing key: %w", err)
	}
	return store.AddSigningKey(ctx, k.ID(), b)
}

// Addr is the bound HTTP address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Store returns the server's store (for tests and the CLI).
func (s *Server) Store() *postgres.Store { return s.store }

// Run serves until ctx ends, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.app.Listener(s.ln) }()
	reloadDone := make(chan struct{})
	go func() { defer close(reloadDone); s.reloadKeys(ctx) }()
	s.log.Info("cloud serving", "http", s.Addr().String())
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		err = fmt.Errorf("serve HTTP: %w", err)
	}
	close(s.stop)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if e := s.app.ShutdownWithContext(shutdownCtx); e != nil {
		s.log.Warn("HTTP shutdown", "err", e)
	}
	<-reloadDone
	s.store.Close()
	return err
}

func (s *Server) reloadKeys(ctx context.Context) {
	t := time.NewTicker(s.cfg.KeyReload)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.loadKeys(ctx, false); err != nil && ctx.Err() == nil {
				s.log.Warn("reload signing keys", "err", err)
			}
		}
	}
}

// Routes lists every route the server answers, as "METHOD /pattern".
func (s *Server) Routes() []string {
	var out []string
	for _, r := range s.app.GetRoutes(true) {
		if r.Method == "HEAD" || r.Method == "USE" {
			continue
		}
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}
