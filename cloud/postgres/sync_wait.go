package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/syncproto"
)

// Long polling (sync invariant 4: catalog edits reach a building within
// seconds). A transaction that moves a site's feed (bumpCatalogRevision,
// nextStockSeq) also runs notifySitesSQL, and PostgreSQL delivers the
// notification when, and only if, it commits. Each Store runs one
// listener: a goroutine holding one connection of its own that LISTENs
// and wakes the pulls waiting on that site, in this instance; every
// instance behind the load balancer has its own, so an edit made through
// any instance wakes a pull waiting on any other.
//
// Notifications are a shortcut, not the truth. One is lost while the
// listener reconnects, and none arrive at all behind a transaction-mode
// pooler (PgBouncer), where LISTEN runs on whichever server connection
// the pooler picks and hands on. So a waiting pull also reads its site's
// counters from the database every feedRecheck while the listener is
// down: at worst a change reaches a waiting edge that much later. While
// it listens, a pull reads them only every feedRecheckListening, for a
// listener that is connected but deaf (the pooler); the listener wakes
// every waiting pull when it listens again, so the changes committed
// while it was down are not left to the slow recheck. A thousand edge
// nodes each rechecking every 5 s were 200 transactions a second for
// nothing.
//
// The same listener, on the same connection, carries the live order feed
// (order_feed.go): one connection per instance whatever it listens to.

// siteChannel is the channel of the site feed's notifications; the
// payload is "<organization id>/<site id>".
const siteChannel = "pantry_site"

// listenerApplication is the application_name of the listener's
// connection, to tell it apart in pg_stat_activity.
const listenerApplication = "pantry-listener"

// listenSQL is what the listener runs on each new connection.
const listenSQL = "LISTEN " + siteChannel + "; LISTEN " + orderChannel

// notifySitesSQL announces sites $2 of organization $1, whose feeds
// moved. It reads no table on purpose: on Citus a pg_notify in a query
// over sites would run on the worker holding the organization's shard,
// where no listener hears it (the listener is on the coordinator), and a
// statement that names no distributed table runs on the coordinator.
const notifySitesSQL = `SELECT pg_notify('` + siteChannel + `', $1::uuid::text || '/' || s::text) FROM unnest($2::uuid[]) AS s`

// Timing of the listener and of waiting pulls.
const (
	// feedRecheck is how often a waiting pull reads its site's counters
	// while the listener is down, feedRecheckListening while it listens.
	feedRecheck          = 5 * time.Second
	feedRecheckListening = 20 * time.Second
	// listenPing is how long the listener waits for a notification
	// before checking that its connection is still alive: a connection
	// dropped without a word (a NAT timeout) otherwise looks like a quiet
	// one forever.
	listenPing        = 30 * time.Second
	listenPingTimeout = 5 * time.Second
	// The listener reconnects after a failure with exponential backoff
	// and jitter between these.
	listenBackoffMin = 100 * time.Millisecond
	listenBackoffMax = 15 * time.Second
)

// WaitForChange blocks until the site's feed moves past after (its
// configuration revision is not after's, or its stock_seq is greater
// than after.StockSeq), wait passes (at most syncproto.MaxPullWait), or
// ctx ends (ctx's error). It returns whether something changed; then
// Pull has it. A revoked node is EUNAUTHORIZED, at once or at the next
// check.
func (s *Store) WaitForChange(ctx context.Context, node cloud.Node, after syncproto.Cursor, wait time.Duration) (bool, error) {
	if err := checkNode(node); err != nil {
		return false, err
	}
	wait = min(wait, syncproto.MaxPullWait)
	// Subscribe before the first check: a change committed between the
	// check and the subscription would otherwise wake nobody.
	s.feed.start()
	woken, unsubscribe := s.feed.subscribe(node.OrgID + "/" + node.SiteID)
	defer unsubscribe()
	deadline := time.NewTimer(max(wait, 0))
	defer deadline.Stop()
	recheck := time.NewTimer(0)
	defer recheck.Stop()
	for {
		moved, err := s.feedMoved(ctx, node, after)
		if err != nil || moved || wait <= 0 {
			return moved, err
		}
		recheck.Reset(s.feed.recheckAfter())
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("wait for a change of site %s: %w", node.SiteID, ctx.Err())
		case <-deadline.C:
			return false, nil
		case <-woken:
		case <-recheck.C:
		}
	}
}

// recheckAfter is how long a waiting pull may go without reading its
// site's counters: longer while the listener listens.
func (f *listener) recheckAfter() time.Duration {
	if f.listening.Load() {
		return f.recheckListening
	}
	return f.recheck
}

// feedMoved reads whether node's site feed moved past after.
func (s *Store) feedMoved(ctx context.Context, node cloud.Node, after syncproto.Cursor) (bool, error) {
	var st feedState
	err := s.InTenant(ctx, node.OrgID, func(tx pgx.Tx) error {
		var err error
		st, err = readFeedState(ctx, tx, node)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("check site %s's feed: %w", node.SiteID, err)
	}
	return st.moved(after), nil
}

// listener is a Store's listener, the pulls waiting on it by site, and
// the subscribers of the order feed.
type listener struct {
	connect          func(context.Context) (*pgx.Conn, error)
	log              *slog.Logger
	recheck          time.Duration // feedRecheck; tests shorten or lengthen it
	recheckListening time.Duration // feedRecheckListening; the same
	listening        atomic.Bool   // the LISTEN is in place on a live connection

	once   sync.Once
	cancel context.CancelFunc // set by start, with done
	done   chan struct{}      // closed when the listener has stopped

	upOnce sync.Once
	up     chan struct{} // closed once the listener first listens

	mu      sync.Mutex
	waiters map[string]map[chan struct{}]struct{} // by "<org>/<site>"

	orders *orderSubscribers
}

func newListener(connect func(context.Context) (*pgx.Conn, error), log *slog.Logger) *listener {
	return &listener{connect: connect, log: log, recheck: feedRecheck, recheckListening: feedRecheckListening, up: make(chan struct{}),
		waiters: map[string]map[chan struct{}]struct{}{}, orders: newOrderSubscribers(log)}
}

// Listen starts the store's listener if it is not running, and waits
// until it first listens, or ctx ends. A server calls it as it starts:
// the listener then listens before anyone subscribes, and a subscriber
// hears every order change committed after SubscribeOrders returns
// rather than a resync first. Without Listen, the listener connects at
// the first WaitForChange or SubscribeOrders; never after Close.
func (s *Store) Listen(ctx context.Context) error {
	errClosed := errors.New("start the listener: the store is closed")
	f := s.feed
	f.start()
	if f.done == nil { // stopped before it started
		return errClosed
	}
	select {
	case <-f.up:
	case <-f.done:
	case <-ctx.Done():
		return fmt.Errorf("start the listener: %w", ctx.Err())
	}
	select {
	case <-f.done: // whether or not it listened first
		return errClosed
	default:
		return nil
	}
}

// start starts the listener, once: the first long poll or order
// subscription starts it, so a Store that never serves one (the CLI's)
// never holds the connection.
func (f *listener) start() {
	f.once.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		f.cancel, f.done = cancel, make(chan struct{})
		go f.run(ctx)
	})
}

// stop stops the listener and waits for it to let go of its connection,
// then closes the order subscribers' channels. A listener stopped before
// it started never starts.
func (f *listener) stop() {
	f.once.Do(func() {})
	if f.cancel != nil {
		f.cancel()
		<-f.done
	}
	f.orders.close()
}

// subscribe registers a waiter for site key. The channel receives a
// value (it has room for one, and is never blocked on) when the site's
// feed may have moved; cancel unregisters it.
func (f *listener) subscribe(key string) (woken <-chan struct{}, cancel func()) {
	ch := make(chan struct{}, 1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.waiters[key] == nil {
		f.waiters[key] = map[chan struct{}]struct{}{}
	}
	f.waiters[key][ch] = struct{}{}
	return ch, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.waiters[key], ch)
		if len(f.waiters[key]) == 0 {
			delete(f.waiters, key)
		}
	}
}

// wake wakes the waiters of site key, or of every site if key is "".
func (f *listener) wake(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, chans := range f.waiters {
		if key != "" && k != key {
			continue
		}
		for ch := range chans {
			select {
			case ch <- struct{}{}:
			default: // already woken, not yet awake
			}
		}
	}
}

// run listens until ctx ends, reconnecting after every failure.
func (f *listener) run(ctx context.Context) {
	defer close(f.done)
	backoff := listenBackoffMin
	for {
		err := f.listen(ctx, func() { backoff = listenBackoffMin })
		if ctx.Err() != nil {
			return
		}
		delay := backoff/2 + rand.N(backoff/2+1) // jitter: instances that lost the database together don't return together
		f.log.Warn("listener lost its connection; waiting pulls fall back to polling, order feeds resync when it is back", "err", err, "retry_in", delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		backoff = min(2*backoff, listenBackoffMax)
	}
}

// listen connects, LISTENs, and wakes waiters and tells order
// subscribers as notifications arrive, until the connection fails or ctx
// ends. listening is called once the LISTEN is in place.
func (f *listener) listen(ctx context.Context, listening func()) error {
	conn, err := f.connect(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer closeConn(conn)
	if _, err := conn.Exec(ctx, listenSQL); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	listening()
	f.listening.Store(true)
	defer f.listening.Store(false)
	// Changes committed while there was no listener were never heard:
	// every waiter checks again, every order subscriber reads again.
	f.wake("")
	f.orders.resyncAll()
	f.upOnce.Do(func() { close(f.up) })
	for {
		waitCtx, cancel := context.WithTimeout(ctx, listenPing)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil:
			f.notified(n)
		case pgconn.Timeout(err):
			// A timeout leaves the connection usable: check it answers.
			pingCtx, cancel := context.WithTimeout(ctx, listenPingTimeout)
			err := conn.Ping(pingCtx)
			cancel()
			if err != nil {
				return fmt.Errorf("ping: %w", err)
			}
		default:
			return fmt.Errorf("wait for notification: %w", err)
		}
	}
}

// notified hands a notification to those it concerns.
func (f *listener) notified(n *pgconn.Notification) {
	switch n.Channel {
	case siteChannel:
		f.wake(n.Payload)
	case orderChannel:
		f.orders.publish(n.Payload)
	}
}
