package fleetsim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/pantry/pantry/edge/syncer"
	"github.com/pantry/pantry/syncproto"
)

// Counts are rows the fleet's events write in the cloud, by kind: what
// the nodes had acknowledged, or what the cloud's tables gained. They
// must be equal (every event applied exactly once).
type Counts struct {
	Sessions          int64 `json:"sessions"`
	SessionsExpired   int64 `json:"sessions_expired"`
	Orders            int64 `json:"orders"`
	OrderLines        int64 `json:"order_lines"`
	StatusHistory     int64 `json:"status_history"` // an order's first step, then each status change
	Payments          int64 `json:"payments"`
	CouponRedemptions int64 `json:"coupon_redemptions"`
	StockMovements    int64 `json:"stock_movements"` // the edges' own
	DeadLetters       int64 `json:"dead_letters"`
}

// CountsSQL counts, as a role that reads every tenant (the database's
// owner), the rows the fleet's events write in organizations $1
// (uuid[]); ScanCounts reads its row. Shared by the load test and the
// tests that check its figures against the database.
const CountsSQL = `SELECT
	(SELECT count(*) FROM attendee_sessions WHERE organization_id = ANY($1::uuid[])),
	(SELECT count(*) FROM attendee_sessions WHERE organization_id = ANY($1::uuid[]) AND expired_at IS NOT NULL),
	(SELECT count(*) FROM orders WHERE organization_id = ANY($1::uuid[])),
	(SELECT count(*) FROM order_lines WHERE organization_id = ANY($1::uuid[])),
	(SELECT count(*) FROM order_status_history WHERE organization_id = ANY($1::uuid[])),
	(SELECT count(*) FROM payments WHERE organization_id = ANY($1::uuid[])),
	(SELECT count(*) FROM coupon_redemptions WHERE organization_id = ANY($1::uuid[])),
	(SELECT count(*) FROM stock_movements WHERE organization_id = ANY($1::uuid[]) AND origin = 'edge'),
	(SELECT count(*) FROM dead_letters WHERE organization_id = ANY($1::uuid[]))`

// ScanCounts reads CountsSQL's row.
func ScanCounts(row interface{ Scan(...any) error }) (Counts, error) {
	var c Counts
	err := row.Scan(&c.Sessions, &c.SessionsExpired, &c.Orders, &c.OrderLines, &c.StatusHistory, &c.Payments,
		&c.CouponRedemptions, &c.StockMovements, &c.DeadLetters)
	if err != nil {
		return Counts{}, fmt.Errorf("count the fleet's rows: %w", err)
	}
	return c, nil
}

// Sub returns c minus o, field by field.
func (c Counts) Sub(o Counts) Counts {
	return Counts{Sessions: c.Sessions - o.Sessions, SessionsExpired: c.SessionsExpired - o.SessionsExpired,
		Orders: c.Orders - o.Orders, OrderLines: c.OrderLines - o.OrderLines, StatusHistory: c.StatusHistory - o.StatusHistory,
		Payments: c.Payments - o.Payments, CouponRedemptions: c.CouponRedemptions - o.CouponRedemptions,
		StockMovements: c.StockMovements - o.StockMovements, DeadLetters: c.DeadLetters - o.DeadLetters}
}

// fields lists c's counts by name, in a fixed order, for comparing and
// printing.
func (c Counts) fields() []struct {
	name string
	n    int64
} {
	return []struct {
		name string
		n    int64
	}{{"sessions", c.Sessions}, {"sessions expired", c.SessionsExpired}, {"orders", c.Orders}, {"order lines", c.OrderLines},
		{"status history", c.StatusHistory}, {"payments", c.Payments}, {"coupon redemptions", c.CouponRedemptions},
		{"stock movements", c.StockMovements}, {"dead letters", c.DeadLetters}}
}

// measure collects what the nodes see. Its methods are safe for
// concurrent use.
type measure struct {
	mu           sync.Mutex
	push         []time.Duration // timed pushes of a few events
	catchUp      []time.Duration // timed pushes of an outage's backlog
	pushes       int             // timed pushes acknowledged
	events       int             // events in them
	deadLettered int
	sent         Counts // events acknowledged, phase and flush, as the rows they write
	availability int    // item.availability_changed acknowledged: they write no row of their own
	ackedEvents  int    // every event acknowledged, phase and flush
	errors       map[string]int
	samples      map[string]string // the first message of each kind of error
}

func newMeasure() *measure {
	return &measure{errors: map[string]int{}, samples: map[string]string{}}
}

// pushed records an acknowledged push of n events.
func (m *measure) pushed(took time.Duration, n int, catchUp, timed bool, dead int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.deadLettered += dead
	if !timed {
		return
	}
	m.pushes++
	m.events += n
	if catchUp {
		m.catchUp = append(m.catchUp, took)
	} else {
		m.push = append(m.push, took)
	}
}

// acked counts one acknowledged event as the rows it writes.
func (m *measure) acked(e simEvent) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ackedEvents++
	s := &m.sent
	switch e.Type {
	case syncproto.EventSessionOpened:
		s.Sessions++
	case syncproto.EventSessionExpired:
		s.SessionsExpired++
	case syncproto.EventOrderPlaced:
		s.Orders++
		s.OrderLines += int64(e.lines)
		s.StatusHistory++
	case syncproto.EventOrderStatusChanged:
		s.StatusHistory++
	case syncproto.EventPaymentRecorded:
		s.Payments++
	case syncproto.EventCouponRedeemed:
		s.CouponRedemptions++
	case syncproto.EventStockMoved:
		s.StockMovements++
	case syncproto.EventItemAvailability:
		m.availability++
	}
}

// fail counts an error of op (push, pull, admin, …) by its kind.
func (m *measure) fail(op string, err error) {
	kind := op + ": " + errorKind(err)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.errors[kind]++
	if _, ok := m.samples[kind]; !ok {
		m.samples[kind] = err.Error()
	}
}

// errorKind names an error for the report: the cloud's status and code,
// a timeout, or the transport.
func errorKind(err error) string {
	var e *syncer.Error
	var ae *apiError
	var ne net.Error
	switch {
	case errors.As(err, &e):
		return strconv.Itoa(e.Status) + " " + e.Code
	case errors.As(err, &ae):
		return strconv.Itoa(ae.status)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "transport"
}

// percentiles returns p50, p99 and max in milliseconds (zeros for none).
func percentiles(d []time.Duration) (p50, p99, maxMS float64) {
	if len(d) == 0 {
		return 0, 0, 0
	}
	d = slices.Clone(d)
	slices.Sort(d)
	at := func(q float64) time.Duration { return d[min(int(q*float64(len(d))), len(d)-1)] }
	return ms(at(0.50)), ms(at(0.99)), ms(d[len(d)-1])
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// orgChanges are the admin's price changes to one organization's watched
// item, in the order made (prices only go up), and when each of the
// organization's nodes first pulled a configuration carrying it.
type orgChanges struct {
	mu    sync.Mutex
	nodes int
	list  []*change
}

// change is one price change.
type change struct {
	price    int64
	sent     time.Time // when the admin sent it
	answered time.Time // when the API answered; zero while it has not
	failed   bool      // the API did not say yes: counted in no figure
	seen     []time.Time
}

// add records a change about to be sent at at.
func (o *orgChanges) add(price int64, at time.Time) *change {
	c := &change{price: price, sent: at, seen: make([]time.Time, o.nodes)}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.list = append(o.list, c)
	return c
}

// done records the API's answer to c.
func (o *orgChanges) done(c *change, at time.Time, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	c.answered, c.failed = at, err != nil
}

// saw records that node pos, having seen the first from changes, pulled
// price at at: it has every change up to that price. It returns how many
// changes the node has seen now.
func (o *orgChanges) saw(pos, from int, price int64, at time.Time) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	for ; from < len(o.list) && o.list[from].price <= price; from++ {
		if o.list[from].seen[pos].IsZero() {
			o.list[from].seen[pos] = at
		}
	}
	return from
}

// missing counts the deliveries still owed: nodes that have not seen a
// change the API made.
func (o *orgChanges) missing() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, c := range o.list {
		if c.failed || c.answered.IsZero() {
			continue
		}
		for _, t := range c.seen {
			if t.IsZero() {
				n++
			}
		}
	}
	return n
}

// latencies returns, for every successful change and node that saw it,
// the time from the API's answer to the pull that carried it (0 when the
// pull came back before the answer: the notification is sent at commit,
// before the API writes its answer), and for every successful change how
// long the API took to answer it.
func (o *orgChanges) latencies() (lat, answers []time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, c := range o.list {
		if c.failed || c.answered.IsZero() {
			continue
		}
		answers = append(answers, c.answered.Sub(c.sent))
		for _, t := range c.seen {
			if !t.IsZero() {
				lat = append(lat, max(t.Sub(c.answered), 0))
			}
		}
	}
	return lat, answers
}
