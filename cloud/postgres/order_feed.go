package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// The live order feed (cloud.OrderFeed): every transaction that stores an
// order or changes its status (a re-applied dead letter, InsertOrders)
// also runs notifyOrdersSQL, one notification per order, which
// PostgreSQL delivers when, and only if, it commits (a savepoint rolled
// back takes its notifications with it); a push runs it right after it
// commits, in a transaction of its own (notifyAfterCommit says why). The
// Store's listener (sync_wait.go) LISTENs on orderChannel beside the site feed's channel,
// on the same connection, and hands each notification to the
// subscribers of its organization in this instance; every instance has
// its own listener, so an order pushed through any instance reaches a
// dashboard served by any other.
//
// As with the site feed, notifications are a shortcut: the listener
// reconnecting, or a subscriber falling behind, costs the subscriber a
// resync marker (cloud.OrdersResync), and the page reads the database
// again rather than go on with a hole in what it shows.

// orderChannel is the channel of the order feed's notifications; the
// payload is orderNote's JSON.
const orderChannel = "pantry_orders"

// orderFeedBuffer is how many changes a subscriber may have unread
// before the feed gives up on it and sends a resync instead: a few
// seconds of a busy organization, and fewer than a catch-up push of a
// building that was offline (up to 10,000 events), after which reading
// the list again is cheaper than replaying the orders one by one.
const orderFeedBuffer = 256

// notifyOrdersSQL announces orders $2 of organization $1, the ones whose
// $3 is true as new, in the order given: one orderNote each, read from
// the order's row as the transaction left it, so it says what was
// stored, and about 230 bytes whatever the edge sent (PostgreSQL's limit
// is 8000). Identical payloads (the same order, status and time) are sent
// once per transaction; different orders never are identical.
//
// The work is pantry_notify_orders' (0015_citus.sql), not a pg_notify in
// the select list of a query over orders: on Citus such a query runs on
// the worker holding the organization's shard, and a notification sent
// there never reaches the listener, which listens on the coordinator.
// The function runs where it is called, and this statement names no
// distributed table, so that is the coordinator on Citus too.
const notifyOrdersSQL = `SELECT pantry_notify_orders($1, $2::uuid[], $3::boolean[])`

// orderNote is the payload of a notification on orderChannel.
type orderNote struct {
	Org       string    `json:"org"`
	Site      string    `json:"site"`
	Order     string    `json:"order"`
	Status    string    `json:"status"`
	UpdatedAt time.Time `json:"updated_at"`
	Created   bool      `json:"created"`
}

// parseOrderNote reads a notification's payload, refusing one that is
// not what notifyOrdersSQL sends.
func parseOrderNote(payload string) (cloud.OrderChange, bool) {
	var n orderNote
	if err := json.Unmarshal([]byte(payload), &n); err != nil {
		return cloud.OrderChange{}, false
	}
	if !pantry.ValidID(n.Org) || !pantry.ValidID(n.Site) || !pantry.ValidID(n.Order) ||
		!pantry.OrderStatus(n.Status).Valid() || n.UpdatedAt.IsZero() {
		return cloud.OrderChange{}, false
	}
	c := cloud.OrderChange{Event: cloud.OrderUpdated, OrgID: strings.ToLower(n.Org), SiteID: n.Site, OrderID: n.Order,
		Status: pantry.OrderStatus(n.Status), UpdatedAt: n.UpdatedAt.UTC()}
	if n.Created {
		c.Event = cloud.OrderCreated
	}
	return c, true
}

// The store serves the order feed.
var _ cloud.OrderFeed = (*Store)(nil)

// SubscribeOrders subscribes to the changes of organization orgID's
// orders (orgID is the caller's credential's, as everywhere). The
// channel receives every change committed after SubscribeOrders returns
// (each order's in commit order; but one whose cloud died between a
// push's commit and its notification, see notifyAfterCommit), or else a
// cloud.OrdersResync after the changes it lacks: any change may be a
// resync, the first one too if the listener was not listening yet (a
// server calls Listen first, so that it is).
// It is closed by cancel, which must be called when done, and when the
// store closes. The call does no I/O: it starts the store's listener if
// it is not running.
func (s *Store) SubscribeOrders(orgID string) (changes <-chan cloud.OrderChange, cancel func()) {
	s.feed.start()
	return s.feed.orders.subscribe(orgID)
}

// orderSubscribers are the order feed's subscribers, by organization.
// The listener's goroutine is the only sender, and never waits on a
// subscriber: each has a buffered channel, and one whose buffer is full
// has its unread changes replaced by a resync.
type orderSubscribers struct {
	log    *slog.Logger
	buffer int // orderFeedBuffer; tests shorten it

	mu     sync.Mutex
	closed bool                                           // the store closed: no new subscriptions
	byOrg  map[string]map[chan cloud.OrderChange]struct{} // by lower-case organization id
}

func newOrderSubscribers(log *slog.Logger) *orderSubscribers {
	return &orderSubscribers{log: log, buffer: orderFeedBuffer, byOrg: map[string]map[chan cloud.OrderChange]struct{}{}}
}

// subscribe registers a subscriber of orgID's changes; after close, its
// channel is closed at once.
func (o *orderSubscribers) subscribe(orgID string) (<-chan cloud.OrderChange, func()) {
	org := strings.ToLower(orgID)
	o.mu.Lock()
	defer o.mu.Unlock()
	ch := make(chan cloud.OrderChange, max(o.buffer, 1))
	if o.closed {
		close(ch)
		return ch, func() {}
	}
	if o.byOrg[org] == nil {
		o.byOrg[org] = map[chan cloud.OrderChange]struct{}{}
	}
	o.byOrg[org][ch] = struct{}{}
	return ch, func() { o.unsubscribe(org, ch) }
}

// unsubscribe removes a subscriber and closes its channel, if close has
// not already.
func (o *orderSubscribers) unsubscribe(org string, ch chan cloud.OrderChange) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.byOrg[org][ch]; !ok {
		return
	}
	delete(o.byOrg[org], ch)
	if len(o.byOrg[org]) == 0 {
		delete(o.byOrg, org)
	}
	close(ch)
}

// publish hands a notification's change to its organization's
// subscribers.
func (o *orderSubscribers) publish(payload string) {
	c, ok := parseOrderNote(payload)
	if !ok {
		o.log.Warn("order feed: ignoring a notification it cannot read", "payload", payload[:min(len(payload), 300)])
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for ch := range o.byOrg[c.OrgID] {
		select {
		case ch <- c:
		default:
			resync(ch)
		}
	}
}

// resyncAll tells every subscriber that changes may have been missed.
func (o *orderSubscribers) resyncAll() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, chans := range o.byOrg {
		for ch := range chans {
			select {
			case ch <- cloud.OrderChange{Event: cloud.OrdersResync}:
			default:
				resync(ch)
			}
		}
	}
}

// resync empties a subscriber's full channel and leaves a resync in it:
// what it has not read is stale once it reads the database again. The
// caller holds o.mu, so nothing is sent between the emptying and the
// resync; the subscriber may take some of the changes meanwhile, which
// only comes before the resync.
func resync(ch chan cloud.OrderChange) {
drain:
	for {
		select {
		case <-ch:
		default:
			break drain
		}
	}
	select {
	case ch <- cloud.OrderChange{Event: cloud.OrdersResync}:
	default: // unreachable: only the caller sends, and the channel is empty
	}
}

// close closes every subscriber's channel, so that their loops end with
// the store, and refuses new subscriptions.
func (o *orderSubscribers) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	for org, chans := range o.byOrg {
		for ch := range chans {
			close(ch)
		}
		delete(o.byOrg, org)
	}
}

// orderNoteList is the orders a transaction stored or moved, as
// notifyOrdersSQL's $2 and $3.
type orderNoteList struct {
	ids     []string
	created []bool
}

func (l *orderNoteList) add(more orderNoteList) {
	l.ids, l.created = append(l.ids, more.ids...), append(l.created, more.created...)
}

// send announces the list's orders from tx, when and if tx commits.
func (l orderNoteList) send(ctx context.Context, tx pgx.Tx, orgID string) error {
	if len(l.ids) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, notifyOrdersSQL, orgID, l.ids, l.created); err != nil {
		return fmt.Errorf("notify orders: %w", err)
	}
	return nil
}

// notifyAfterCommit announces the orders a push stored or moved, after
// the push committed, in a transaction of its own.
//
// Why not inside the push, where the notification would be atomic with
// it: PostgreSQL serializes the commits of all transactions that NOTIFY,
// by a database-wide lock a notifying transaction takes before its commit
// and holds until the commit record is flushed. With the notification
// inside, every push of every node waited in one queue for the push
// before it to reach the disk, instead of sharing a flush (group
// commit): with 1,000 nodes pushing 200 times a second on 2 cores the
// fleet simulation (`pantry cloud loadtest`) saw backends waiting on that
// lock, and push p99 fell from 751 to 583 ms once the notification left
// the push. This transaction writes nothing but the notification, with
// synchronous_commit off, so it holds the lock for no flush at all.
//
// The price is the order feed's, which is a shortcut anyway: a cloud that
// dies between the push's commit and this leaves the orders unannounced,
// and a live page shows them on its next read (reload, or a resync); the
// orders themselves are committed and acknowledged. A failure here is
// logged, not returned: the push has committed, and the edge must not
// send it again.
func (s *Store) notifyAfterCommit(ctx context.Context, orgID string, notes orderNoteList) {
	if len(notes.ids) == 0 {
		return
	}
	// The push is committed: its caller going away must not keep its
	// orders from the live pages, and a database that does not answer
	// must not keep the push's answer from the edge for long.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), notifyTimeout)
	defer cancel()
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
			return fmt.Errorf("notify orders: %w", err)
		}
		return notes.send(ctx, tx, orgID)
	})
	if err != nil {
		s.feed.log.Warn("order feed: orders pushed but not announced; live pages show them on their next read",
			"org", orgID, "orders", len(notes.ids), "err", err)
	}
}

// notifyTimeout bounds notifyAfterCommit.
const notifyTimeout = 5 * time.Second

// orderNotes lays out notifyOrdersSQL's $2 and $3: the orders a
// transaction stored (new), then those whose status it changed.
func orderNotes(ids, changed []string) (all []string, created []bool) {
	all = make([]string, 0, len(ids)+len(changed))
	all = append(append(all, ids...), changed...)
	created = make([]bool, len(all))
	for i := range ids {
		created[i] = true
	}
	return all, created
}
