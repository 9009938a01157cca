package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"pgregory.net/rapid"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/syncserver"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// edgeSim plays the edge node of one of a shop's sites: it makes the events an
// edge's outbox would hold, with consecutive seqs, in the order an edge
// writes them (an order's sale movements, the order, its payment, its
// coupon's redemption; status changes later).
type edgeSim struct {
	sh     shop
	site   int    // the site of the shop it serves (0 unless set)
	coupon string // a coupon of the shop, for redemptions
	seq    int64
	at     time.Time
	rng    *rand.Rand

	session     string // the room session orders are placed in
	sessionUses int
	open        []*simOrder // orders still being worked on
	buffered    []syncproto.Event
}

type simOrder struct {
	id     string
	status string
	lines  []syncproto.OrderLine
}

func newEdgeSim(tb testing.TB, s *Store, sh shop) *edgeSim {
	tb.Helper()
	return &edgeSim{sh: sh, coupon: addCoupon(tb, s, sh.org), at: t0, rng: rand.New(rand.NewPCG(1, 2))}
}

// addCoupon adds coupon WELCOME to org and returns its id.
func addCoupon(tb testing.TB, s *Store, org string) string {
	tb.Helper()
	id := pantry.NewID()
	mustExec(tb, s, org, `INSERT INTO coupons (organization_id, id, code, kind, value, valid_from, valid_to)
		VALUES ($1, $2, 'WELCOME', 'fixed', 50, '2020-01-01', '2100-01-01')`, org, id)
	return id
}

// mustExec runs one statement as org's tenant.
func mustExec(tb testing.TB, s *Store, org, sql string, args ...any) {
	tb.Helper()
	err := s.InTenant(context.Background(), org, func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), sql, args...)
		return err
	})
	if err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

// countRows runs a count(*) query as org's tenant.
func countRows(tb testing.TB, s *Store, org, sql string, args ...any) int64 {
	tb.Helper()
	var n int64
	err := s.InTenant(context.Background(), org, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), sql, args...).Scan(&n)
	})
	if err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
	return n
}

// event makes the next outbox event.
func (g *edgeSim) event(typ, entity string, payload any) syncproto.Event {
	g.seq++
	g.at = g.at.Add(time.Second)
	b, err := json.Marshal(payload)
	if err != nil {
		panic(err) // the test's own payloads always marshal
	}
	return syncproto.Event{Seq: g.seq, ID: pantry.NewID(), Type: typ, Schema: syncproto.EventSchema, EntityID: entity, Payload: b, CreatedAt: g.at}
}

// raw makes the next event with payload as given, however broken.
func (g *edgeSim) raw(typ string, schema int, payload string) syncproto.Event {
	e := g.event(typ, "x", nil)
	e.Schema, e.Payload = schema, json.RawMessage(payload)
	return e
}

func (g *edgeSim) openSession(site, space int) syncproto.Event {
	g.session, g.sessionUses = pantry.NewID(), 0
	return g.event(syncproto.EventSessionOpened, g.session, syncproto.Session{ID: g.session, SiteID: g.sh.sites[site],
		SpaceID: g.sh.spaces[site][space], SpaceName: "Room", CreatedAt: g.at, ExpiresAt: g.at.Add(2 * time.Hour)})
}

// simLine is a line of a test order: one of the shop's items (or any
// item id) and a quantity.
type simLine struct {
	item string
	qty  int64
}

// place makes the events of one order at g's site of lines (the shop's
// items when empty), with a coupon if asked: sale movements, the order,
// its payment, the redemption.
func (g *edgeSim) place(coupon bool, lines ...simLine) (*simOrder, []syncproto.Event) {
	if len(lines) == 0 {
		lines = []simLine{{g.sh.items[0], 1 + g.rng.Int64N(3)}}
		if g.rng.IntN(2) == 0 {
			lines = append(lines, simLine{g.sh.items[1], 1})
		}
	}
	o := &simOrder{id: pantry.NewID(), status: "placed"}
	var events []syncproto.Event
	var subtotal int64
	for _, l := range lines {
		price := g.sh.prices[0]
		if l.item == g.sh.items[1] {
			price = g.sh.prices[1]
		}
		o.lines = append(o.lines, syncproto.OrderLine{ItemID: l.item, Name: "Item", Quantity: l.qty,
			UnitPrice: eur(price), LineTotal: eur(price * l.qty)})
		subtotal += price * l.qty
		events = append(events, g.event(syncproto.EventStockMoved, pantry.NewID(), syncproto.StockMovement{ID: pantry.NewID(),
			SiteID: g.sh.sites[g.site], ItemID: l.item, Delta: -l.qty, Reason: "sale", OrderID: o.id, CreatedAt: g.at}))
	}
	var discount int64
	code := ""
	if coupon {
		discount, code = min(50, subtotal), "WELCOME"
	}
	if g.session == "" || g.sessionUses == 3 {
		events = append(events, g.openSession(g.site, g.rng.IntN(2)))
	}
	g.sessionUses++
	placed := syncproto.OrderPlaced{ID: o.id, SiteID: g.sh.sites[g.site], SpaceID: g.sh.spaces[g.site][0], SessionID: g.session,
		Status: "placed", Lines: o.lines, DeliverTo: "room", Subtotal: eur(subtotal), Discount: eur(discount),
		Total: eur(subtotal - discount), Coupon: code, Payment: "complimentary", CatalogRev: 7, CreatedAt: g.at, UpdatedAt: g.at}
	events = append(events, g.event(syncproto.EventOrderPlaced, o.id, placed))
	events = append(events, g.event(syncproto.EventPaymentRecorded, o.id, syncproto.PaymentRecorded{ID: pantry.NewID(), OrderID: o.id,
		Method: "complimentary", Amount: placed.Total, Discount: placed.Discount, Coupon: code, CreatedAt: g.at}))
	if coupon {
		events = append(events, g.event(syncproto.EventCouponRedeemed, o.id, syncproto.CouponRedeemed{ID: pantry.NewID(),
			CouponID: g.coupon, Code: code, OrderID: o.id, Discount: placed.Discount, At: g.at}))
	}
	g.open = append(g.open, o)
	return o, events
}

func eur(amount int64) syncproto.Money { return syncproto.Money{Amount: amount, Currency: "EUR"} }

// change moves o to status to; cancelling returns its stock.
func (g *edgeSim) change(o *simOrder, to string) []syncproto.Event {
	c := syncproto.StatusChanged{ID: pantry.NewID(), OrderID: o.id, From: o.status, To: to, Actor: "tablet-1", At: g.at.Add(time.Second)}
	if to == "cancelled" {
		c.Reason = "meeting moved"
	}
	o.status = to
	events := []syncproto.Event{g.event(syncproto.EventOrderStatusChanged, o.id, c)}
	if to == "cancelled" {
		for _, l := range o.lines {
			events = append(events, g.event(syncproto.EventStockMoved, pantry.NewID(), syncproto.StockMovement{ID: pantry.NewID(),
				ItemID: l.ItemID, Delta: l.Quantity, Reason: "cancel_return", OrderID: o.id, Actor: "tablet-1", CreatedAt: g.at}))
		}
	}
	return events
}

var nextStatus = map[string]string{"placed": "accepted", "accepted": "preparing", "preparing": "ready", "ready": "delivered"}

// take returns the next n events of the mixed stream.
func (g *edgeSim) take(n int) []syncproto.Event {
	for len(g.buffered) < n {
		g.buffered = append(g.buffered, g.mixed(n-len(g.buffered))...)
	}
	out := g.buffered[:n:n]
	g.buffered = g.buffered[n:]
	return out
}

// forget stops the mix from changing o.
func (g *edgeSim) forget(o *simOrder) {
	g.open = slices.DeleteFunc(g.open, func(x *simOrder) bool { return x == o })
}

// mixed makes the events of whole orders, at least n, as a building
// makes them: a room session per three orders, one or two sale
// movements, the order and its payment, a coupon one time in five; and
// staff working the queue, about one status change per order placed for
// each of the four steps of an order's life (accepted, preparing, ready,
// delivered), one order in twenty cancelled instead, with its stock
// returned. About eight events per order.
func (g *edgeSim) mixed(n int) []syncproto.Event {
	var events []syncproto.Event
	for len(events) < n {
		_, evs := g.place(g.rng.IntN(5) == 0)
		events = append(events, evs...)
		for range 4 {
			if len(g.open) == 0 {
				break
			}
			i := g.rng.IntN(min(len(g.open), 3)) // one of the oldest
			o := g.open[i]
			to := nextStatus[o.status]
			if (o.status == "placed" || o.status == "accepted") && g.rng.IntN(40) == 0 {
				to = "cancelled"
			}
			events = append(events, g.change(o, to)...)
			if to == "delivered" || to == "cancelled" {
				g.open = slices.Delete(g.open, i, i+1)
			}
		}
	}
	return events
}

// push applies events as sh's node, at site 0.
func push(tb testing.TB, s *Store, sh shop, events ...syncproto.Event) syncproto.PushResponse {
	tb.Helper()
	resp, err := tryPush(s, sh, events...)
	if err != nil {
		tb.Fatalf("push: %v", err)
	}
	return resp
}

func tryPush(s *Store, sh shop, events ...syncproto.Event) (syncproto.PushResponse, error) {
	req := syncproto.PushRequest{Version: syncproto.Version, NodeID: sh.node, SoftwareVersion: "edge-test", SentAt: t0, Events: events}
	if len(events) > 0 {
		req.OutboxHead = events[len(events)-1].Seq
	}
	return syncAt(s, t0).Push(context.Background(), cloud.Node{OrgID: sh.org, SiteID: sh.sites[0], ID: sh.node}, req)
}

// pushTables are the tables pushed events write, counted by rowCounts.
var pushTables = []string{"attendee_sessions", "orders", "order_lines", "order_status_history", "payments",
	"coupon_redemptions", "stock_movements", "dead_letters"}

func rowCounts(tb testing.TB, s *Store, org string) map[string]int64 {
	tb.Helper()
	out := map[string]int64{}
	for _, table := range pushTables {
		out[table] = countRows(tb, s, org, `SELECT count(*) FROM `+table+` WHERE organization_id = $1`, org)
	}
	return out
}

// wantCounts is what rowCounts should say after events were applied once
// each, on a shop that had nothing.
func wantCounts(tb testing.TB, events []syncproto.Event) map[string]int64 {
	tb.Helper()
	want := map[string]int64{}
	for _, table := range pushTables {
		want[table] = 0
	}
	for _, e := range events {
		switch e.Type {
		case syncproto.EventSessionOpened:
			want["attendee_sessions"]++
		case syncproto.EventOrderPlaced:
			var o syncproto.OrderPlaced
			if err := json.Unmarshal(e.Payload, &o); err != nil {
				tb.Fatal(err)
			}
			want["orders"]++
			want["order_lines"] += int64(len(o.Lines))
			want["order_status_history"]++
		case syncproto.EventOrderStatusChanged:
			want["order_status_history"]++
		case syncproto.EventPaymentRecorded:
			want["payments"]++
		case syncproto.EventCouponRedeemed:
			want["coupon_redemptions"]++
		case syncproto.EventStockMoved:
			want["stock_movements"]++
		}
	}
	return want
}

// wantNoOrphans fails if a line, status step, payment or coupon
// redemption of org names no order of the same organization (or, for a
// redemption, of its site). The statements that write them prove their
// order is there: no foreign key does since 0007.
func wantNoOrphans(tb testing.TB, s *Store, org string) {
	tb.Helper()
	for _, table := range []string{"order_lines", "order_status_history", "payments", "coupon_redemptions"} {
		site := ""
		if table == "coupon_redemptions" {
			site = " AND o.site_id = c.site_id"
		}
		n := countRows(tb, s, org, `SELECT count(*) FROM `+table+` c WHERE c.organization_id = $1
			AND NOT EXISTS (SELECT FROM orders o WHERE o.organization_id = c.organization_id AND o.id = c.order_id`+site+`)`, org)
		if n > 0 {
			tb.Errorf("%d rows of %s name no order", n, table)
		}
	}
}

func wantSameCounts(tb testing.TB, got, want map[string]int64) {
	tb.Helper()
	for _, table := range pushTables {
		if got[table] != want[table] {
			tb.Errorf("%s has %d rows, want %d", table, got[table], want[table])
		}
	}
}

// nodeRow is what the edge_nodes row says about a node's pushes.
type nodeRow struct {
	applied, edgeLast int64
	lastPush          *time.Time
	skew              *int64
	version           string
}

func readNode(tb testing.TB, s *Store, org, node string) nodeRow {
	tb.Helper()
	var n nodeRow
	err := s.InTenant(context.Background(), org, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `SELECT applied_seq, edge_last_seq, last_push_at, clock_skew_ms, software_version
			FROM edge_nodes WHERE organization_id = $1 AND id = $2`, org, node).Scan(&n.applied, &n.edgeLast, &n.lastPush, &n.skew, &n.version)
	})
	if err != nil {
		tb.Fatalf("read node: %v", err)
	}
	return n
}

func TestApplyPushWatermark(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh := newShop(t, s, "A")
	g := newEdgeSim(t, s, sh)
	events := g.take(40)

	t.Run("FirstBatch", func(t *testing.T) {
		resp := push(t, s, sh, events[:20]...)
		if resp.AppliedSeq != 20 || len(resp.DeadLettered) != 0 || resp.Version != syncproto.Version || !resp.ServerTime.Equal(t0) {
			t.Fatalf("response %+v, want applied_seq 20, no dead letters", resp)
		}
		wantSameCounts(t, rowCounts(t, s, sh.org), wantCounts(t, events[:20]))
	})
	t.Run("Replay", func(t *testing.T) {
		resp := push(t, s, sh, events[:20]...)
		if resp.AppliedSeq != 20 || len(resp.DeadLettered) != 0 {
			t.Fatalf("response %+v, want applied_seq 20 acknowledged again", resp)
		}
		wantSameCounts(t, rowCounts(t, s, sh.org), wantCounts(t, events[:20]))
	})
	t.Run("Overlap", func(t *testing.T) {
		resp := push(t, s, sh, events[10:30]...)
		if resp.AppliedSeq != 30 {
			t.Fatalf("applied_seq %d, want 30", resp.AppliedSeq)
		}
		wantSameCounts(t, rowCounts(t, s, sh.org), wantCounts(t, events[:30]))
	})
	t.Run("Gap", func(t *testing.T) {
		before, counts := readNode(t, s, sh.org, sh.node), rowCounts(t, s, sh.org)
		_, err := tryPush(s, sh, events[31:]...)
		var gap *cloud.GapError
		if !errors.As(err, &gap) || gap.ResumeFrom != 31 || gap.Got != 32 {
			t.Fatalf("error %v, want a gap resuming from 31", err)
		}
		if after := readNode(t, s, sh.org, sh.node); after.applied != 30 || !after.lastPush.Equal(*before.lastPush) || after.edgeLast != before.edgeLast {
			t.Errorf("node after a gap %+v, want it unchanged from %+v", after, before)
		}
		wantSameCounts(t, rowCounts(t, s, sh.org), counts)
	})
	t.Run("Rest", func(t *testing.T) {
		if resp := push(t, s, sh, events[30:]...); resp.AppliedSeq != 40 {
			t.Fatalf("applied_seq %d, want 40", resp.AppliedSeq)
		}
		wantSameCounts(t, rowCounts(t, s, sh.org), wantCounts(t, events))
	})
}

func TestApplyPushRefusesNodes(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh, other := newShop(t, s, "A"), newShop(t, s, "B")
	g := newEdgeSim(t, s, sh)
	_, events := g.place(false)
	req := syncproto.PushRequest{Version: syncproto.Version, NodeID: sh.node, Events: events}
	mine := cloud.Node{OrgID: sh.org, SiteID: sh.sites[0], ID: sh.node}
	unknown := pantry.NewID()
	for name, tc := range map[string]struct {
		node cloud.Node
		req  func(r *syncproto.PushRequest)
		code string
	}{
		"UnknownNode":    {node: cloud.Node{OrgID: sh.org, ID: unknown}, req: func(r *syncproto.PushRequest) { r.NodeID = unknown }, code: pantry.EUNAUTHORIZED},
		"AnotherNodesID": {node: mine, req: func(r *syncproto.PushRequest) { r.NodeID = unknown }, code: pantry.EFORBIDDEN},
		"OtherTenant":    {node: cloud.Node{OrgID: other.org, ID: sh.node}, code: pantry.EUNAUTHORIZED},
		"OtherSite":      {node: cloud.Node{OrgID: sh.org, SiteID: sh.sites[1], ID: sh.node}, code: pantry.EFORBIDDEN},
		"NotConsecutive": {node: mine, req: func(r *syncproto.PushRequest) { r.Events = []syncproto.Event{events[0], events[2]} }, code: pantry.EINVALID},
		"ZeroSeq":        {node: mine, req: func(r *syncproto.PushRequest) { r.Events = []syncproto.Event{{Seq: 0}} }, code: pantry.EINVALID},
	} {
		t.Run(name, func(t *testing.T) {
			r := req
			r.Events = slices.Clone(events)
			if tc.req != nil {
				tc.req(&r)
			}
			_, err := syncAt(s, t0).Push(t.Context(), tc.node, r)
			wantCode(t, err, tc.code)
		})
	}
	t.Run("Revoked", func(t *testing.T) {
		mustExec(t, s, sh.org, `UPDATE edge_nodes SET revoked_at = now() WHERE organization_id = $1 AND id = $2`, sh.org, sh.node)
		_, err := syncAt(s, t0).Push(t.Context(), mine, req)
		wantCode(t, err, pantry.EUNAUTHORIZED)
	})
	wantSameCounts(t, rowCounts(t, s, sh.org), map[string]int64{})
	if n := readNode(t, s, sh.org, sh.node); n.applied != 0 || n.lastPush != nil {
		t.Fatalf("a refused push moved the node: %+v", n)
	}
}

// A catch-up push's statements must be planned for the arrays they
// carry, each time (runUnnamed): a named prepared statement would switch
// to a generic plan after five runs, and those were seen taking seconds
// per push. An online edge's small pushes are the opposite: one
// pipelined batch of prepared statements (pipelinedSet), planned once.
// On a store of one connection, after more big pushes than five, the
// connection holds no prepared statement of the push's writes; after
// small ones, it does.
func TestApplyPushStatementsAreUnnamed(t *testing.T) {
	t.Parallel()
	prepared := func(t *testing.T, s *Store, org string) []string {
		t.Helper()
		var named []string
		err := s.InTenant(t.Context(), org, func(tx pgx.Tx) error {
			rows, _ := tx.Query(t.Context(), `SELECT statement FROM pg_prepared_statements WHERE statement LIKE 'INSERT INTO order\_status\_history%'`)
			var err error
			named, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return named
	}
	t.Run("Big", func(t *testing.T) {
		t.Parallel()
		s := mustOpen(t, migratedDB(t, MigrateOptions{}), Options{MaxConns: 1})
		sh := newShop(t, s, "A")
		g := newEdgeSim(t, s, sh)
		for range 7 {
			push(t, s, sh, g.mixed(pipelinedSet+1)...)
		}
		if named := prepared(t, s, sh.org); len(named) > 0 {
			t.Fatalf("prepared statements of the push: %q", named)
		}
	})
	t.Run("Small", func(t *testing.T) {
		t.Parallel()
		s := mustOpen(t, migratedDB(t, MigrateOptions{}), Options{MaxConns: 1})
		sh := newShop(t, s, "A")
		g := newEdgeSim(t, s, sh)
		for range 7 {
			push(t, s, sh, g.mixed(10)...)
		}
		if named := prepared(t, s, sh.org); len(named) == 0 {
			t.Fatal("small pushes left no prepared statement of their writes: they were not pipelined")
		}
	})
}

func TestApplyPushRecordsContact(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh := newShop(t, s, "A")
	g := newEdgeSim(t, s, sh)
	events := g.mixed(5)
	now := t0.Add(time.Hour)
	req := syncproto.PushRequest{Version: syncproto.Version, NodeID: sh.node, SoftwareVersion: "1.2.3\x00", SentAt: now.Add(1500 * time.Millisecond),
		OutboxHead: 900, Events: events}
	node := cloud.Node{OrgID: sh.org, SiteID: sh.sites[0], ID: sh.node}
	if _, err := syncAt(s, now).Push(t.Context(), node, req); err != nil {
		t.Fatal(err)
	}
	n := readNode(t, s, sh.org, sh.node)
	if n.applied != int64(len(events)) || n.edgeLast != 900 || n.lastPush == nil || !n.lastPush.Equal(now) ||
		n.skew == nil || *n.skew != 1500 || n.version != "1.2.3" {
		t.Fatalf("node %+v (skew %v), want watermark %d, edge at 900, pushed at %s, skew 1500 ms, version 1.2.3", n, n.skew, len(events), now)
	}
	// A replay still counts as contact; an outbox head below what the
	// cloud has seen does not lower it.
	req.OutboxHead, req.SentAt, req.SoftwareVersion = 3, time.Time{}, ""
	if _, err := syncAt(s, now.Add(time.Minute)).Push(t.Context(), node, req); err != nil {
		t.Fatal(err)
	}
	n = readNode(t, s, sh.org, sh.node)
	if !n.lastPush.Equal(now.Add(time.Minute)) || n.edgeLast != 900 || *n.skew != 1500 || n.version != "1.2.3" {
		t.Fatalf("after a replay: %+v", n)
	}
}

func TestApplyPushMapsEvents(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh := newShop(t, s, "A")
	ctx := t.Context()
	mustExec(t, s, sh.org, `INSERT INTO site_menu_items (organization_id, site_id, item_id) VALUES ($1, $2, $3)`, sh.org, sh.sites[0], sh.items[0])
	g := newEdgeSim(t, s, sh)
	o, events := g.place(true, simLine{sh.items[0], 2}, simLine{sh.items[1], 1})
	session := g.session
	events = append(events, g.change(o, "accepted")...)
	events = append(events, g.change(o, "preparing")...)
	events = append(events, g.event(syncproto.EventItemAvailability, sh.items[0], syncproto.ItemAvailability{ItemID: sh.items[0], Available: false, Actor: "tablet-1", At: t0}))
	events = append(events, g.event(syncproto.EventItemAvailability, sh.items[1], syncproto.ItemAvailability{ItemID: sh.items[1], Available: false, At: t0}))
	expired := g.event(syncproto.EventSessionExpired, session, syncproto.Session{ID: session, SiteID: sh.sites[0], SpaceID: sh.spaces[0][0], CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
	events = append(events, expired)
	if resp := push(t, s, sh, events...); len(resp.DeadLettered) != 0 {
		t.Fatalf("dead letters %v", resp.DeadLettered)
	}

	got, err := s.GetOrder(ctx, sh.org, o.id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != pantry.StatusPreparing || got.SessionID != session || got.CatalogRev != 7 || got.Total.Amount != 850 || got.Discount.Amount != 50 ||
		len(got.Lines) != 2 || got.Lines[0].Quantity != 2 || got.Lines[1].UnitPrice.Amount != 400 || got.Coupon != "WELCOME" {
		t.Fatalf("order %+v", got.Order)
	}
	var steps []string
	for _, h := range got.History {
		steps = append(steps, string(h.From)+">"+string(h.To)+":"+h.Actor)
	}
	if want := []string{">placed:", "placed>accepted:tablet-1", "accepted>preparing:tablet-1"}; !slices.Equal(steps, want) {
		t.Errorf("history %v, want %v", steps, want)
	}
	for _, c := range []struct {
		name, sql, arg string
		want           int64
	}{
		{"OrderOfNode", `SELECT count(*) FROM orders WHERE organization_id = $1 AND node_id = $2`, sh.node, 1},
		{"OnlyItsPayment", `SELECT count(*) FROM payments WHERE organization_id = $1 AND order_id = $2 AND amount = 850 AND discount = 50 AND coupon_code = 'WELCOME'`, o.id, 1},
		{"Redemption", `SELECT count(*) FROM coupon_redemptions WHERE organization_id = $1 AND site_id = $2 AND discount = 50`, sh.sites[0], 1},
		{"EdgeMovements", `SELECT count(*) FROM stock_movements WHERE organization_id = $1 AND site_id = $2 AND origin = 'edge' AND feed_seq IS NULL AND reason = 'sale'`, sh.sites[0], 2},
		{"SessionExpired", `SELECT count(*) FROM attendee_sessions WHERE organization_id = $1 AND site_id = $2 AND expired_at IS NOT NULL`, sh.sites[0], 1},
		{"EdgeAvailability", `SELECT count(*) FROM site_menu_items WHERE organization_id = $1 AND site_id = $2 AND edge_available = false AND available`, sh.sites[0], 1},
		{"RolledUp", `SELECT count(*) FROM order_days WHERE organization_id = $1 AND site_id = $2 AND orders = 1 AND units = 3 AND spend = 850`, sh.sites[0], 1},
	} {
		if got := countRows(t, s, sh.org, c.sql, sh.org, c.arg); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	var expiredAt time.Time
	if err := s.InTenant(ctx, sh.org, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT expired_at FROM attendee_sessions WHERE organization_id = $1 AND id = $2`, sh.org, session).Scan(&expiredAt)
	}); err != nil || !expiredAt.Equal(expired.CreatedAt) {
		t.Errorf("session expired at %s (%v), want the event's time %s", expiredAt, err, expired.CreatedAt)
	}
}

// deadLetters returns the dead letters of org by seq.
func deadLetters(tb testing.TB, s *Store, org string) map[int64]cloud.DeadLetter {
	tb.Helper()
	out := map[int64]cloud.DeadLetter{}
	p := cloud.Page{Limit: cloud.MaxPageSize}
	for {
		ds, next, err := s.ListDeadLetters(context.Background(), org, cloud.DeadLetterFilter{}, p)
		if err != nil {
			tb.Fatal(err)
		}
		for _, d := range ds {
			out[d.Seq] = d
		}
		if next == "" {
			return out
		}
		p.Cursor = next
	}
}

func seqsOf(events ...syncproto.Event) []int64 {
	out := make([]int64, len(events))
	for i, e := range events {
		out[i] = e.Seq
	}
	return out
}

func TestApplyPushOtherSite(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh := newShop(t, s, "A")
	g := newEdgeSim(t, s, sh)
	theirs := sh.order(orderSpec{site: 1, at: t0, status: pantry.StatusPlaced, qty: [2]int{1, 0}})
	mustInsert(t, s, sh.org, theirs)
	before := rowCounts(t, s, sh.org)

	session := g.openSession(1, 0)
	order := g.event(syncproto.EventOrderPlaced, "o", syncproto.OrderPlaced{ID: pantry.NewID(), SiteID: sh.sites[1], SpaceID: sh.spaces[1][0],
		Status: "placed", Lines: []syncproto.OrderLine{{ItemID: sh.items[0], Name: "Coffee", Quantity: 1, UnitPrice: eur(250), LineTotal: eur(250)}},
		DeliverTo: "room", Subtotal: eur(250), Discount: eur(0), Total: eur(250), Payment: "complimentary", CreatedAt: t0})
	move := g.event(syncproto.EventStockMoved, "m", syncproto.StockMovement{ID: pantry.NewID(), SiteID: sh.sites[1], ItemID: sh.items[0], Delta: -1, Reason: "sale", CreatedAt: t0})
	payment := g.event(syncproto.EventPaymentRecorded, theirs.ID, syncproto.PaymentRecorded{ID: pantry.NewID(), OrderID: theirs.ID, Method: "complimentary",
		Amount: eur(250), Discount: eur(0), CreatedAt: t0})
	change := g.event(syncproto.EventOrderStatusChanged, theirs.ID, syncproto.StatusChanged{ID: pantry.NewID(), OrderID: theirs.ID, From: "delivered", To: "cancelled", At: t0})
	// A space of site 1 under site 0's id: the foreign key refuses it.
	disguised := g.event(syncproto.EventSessionOpened, "s", syncproto.Session{ID: pantry.NewID(), SiteID: sh.sites[0], SpaceID: sh.spaces[1][0], CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
	all := []syncproto.Event{session, order, move, payment, change, disguised}

	resp := push(t, s, sh, all...)
	if !slices.Equal(resp.DeadLettered, seqsOf(all...)) || resp.AppliedSeq != disguised.Seq {
		t.Fatalf("response %+v, want every event dead-lettered and the watermark past them", resp)
	}
	after := rowCounts(t, s, sh.org)
	after["dead_letters"] -= int64(len(all))
	wantSameCounts(t, after, before)
	wantNoOrphans(t, s, sh.org)
	dead := deadLetters(t, s, sh.org)
	for _, e := range all[:3] {
		if !strings.Contains(dead[e.Seq].Reason, "is not this node's site") {
			t.Errorf("%s: reason %q", e.Type, dead[e.Seq].Reason)
		}
	}
	for _, e := range all[3:5] {
		if !strings.Contains(dead[e.Seq].Reason, "does not exist at this node's site") {
			t.Errorf("%s: reason %q", e.Type, dead[e.Seq].Reason)
		}
	}
	if got, _ := s.GetOrder(t.Context(), sh.org, theirs.ID); got.Status != pantry.StatusPlaced {
		t.Errorf("the other site's order is %s", got.Status)
	}
}

func TestApplyPushPoisonEvent(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh := newShop(t, s, "A")
	g := newEdgeSim(t, s, sh)
	events := g.mixed(30)
	unknown := pantry.NewID()
	bad, poison := g.place(true, simLine{unknown, 1}, simLine{sh.items[1], 2})
	poison = append(poison, g.change(bad, "accepted")...)
	g.forget(bad)
	events = append(events, poison...)
	rest := g.mixed(30)
	events = append(events, rest...)

	resp := push(t, s, sh, events...)
	// The order, its sale movement of the unknown item, its payment, its
	// coupon's redemption and its status change; its other movement (an
	// item the cloud knows) has no foreign key to the order and applies.
	var want []int64
	for _, e := range poison {
		if !(e.Type == syncproto.EventStockMoved && !strings.Contains(string(e.Payload), unknown)) && e.Type != syncproto.EventSessionOpened {
			want = append(want, e.Seq)
		}
	}
	if !slices.Equal(resp.DeadLettered, want) || resp.AppliedSeq != g.seq {
		t.Fatalf("dead letters %v (watermark %d), want %v (watermark %d)", resp.DeadLettered, resp.AppliedSeq, want, g.seq)
	}
	var applied []syncproto.Event
	for _, e := range events {
		if !slices.Contains(want, e.Seq) {
			applied = append(applied, e)
		}
	}
	wantCount := wantCounts(t, applied)
	wantCount["dead_letters"] = int64(len(want))
	wantSameCounts(t, rowCounts(t, s, sh.org), wantCount)
	wantNoOrphans(t, s, sh.org)
	dead := deadLetters(t, s, sh.org)
	for _, seq := range want[:2] { // the movement of the unknown item, and the order
		if r := dead[seq].Reason; !strings.Contains(r, "foreign key") || !strings.Contains(r, unknown) {
			t.Errorf("reason %q does not say which item is missing", r)
		}
	}
	for _, seq := range want {
		if dead[seq].Reason == "" {
			t.Errorf("dead letter %d has no reason", seq)
		}
	}
}

func TestApplyPushBadPayloads(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh := newShop(t, s, "A")
	g := newEdgeSim(t, s, sh)
	_, first := g.place(false)
	move := func(note string) string {
		return `{"id":"` + pantry.NewID() + `","item_id":"` + sh.items[0] + `","delta":1,"reason":"restock","actor":"` + note + `","created_at":"2025-03-10T09:00:00Z"}`
	}
	cases := []struct {
		name   string
		event  syncproto.Event
		reason string
	}{
		{"NotJSON", g.raw(syncproto.EventStockMoved, 1, `{"id":`), "stock.moved payload"},
		{"NotJSONAtAll", g.raw(syncproto.EventStockMoved, 1, "\xff\x00garbage"), "stock.moved payload"},
		{"UnknownType", g.raw("order.teleported", 1, `{}`), "unknown event type"},
		{"NewerSchema", g.raw(syncproto.EventStockMoved, syncproto.EventSchema+1, move("")), "newer than this cloud knows"},
		{"Invalid", g.raw(syncproto.EventStockMoved, 1, `{"id":"x","item_id":"y","delta":0}`), "is not a UUID"},
		{"NULInText", g.raw(syncproto.EventStockMoved, 1, move(`a\u0000b`)), "the database refused it"},
		{"NoPayload", g.raw(syncproto.EventStockMoved, 1, ""), "stock.moved payload"},
	}
	_, last := g.place(false)
	events := slices.Concat(first, []syncproto.Event{cases[0].event, cases[1].event, cases[2].event, cases[3].event, cases[4].event, cases[5].event, cases[6].event}, last)
	events[len(first)+6].Payload = nil
	resp := push(t, s, sh, events...)
	if resp.AppliedSeq != g.seq || len(resp.DeadLettered) != len(cases) {
		t.Fatalf("response %+v, want %d dead letters and the watermark at %d", resp, len(cases), g.seq)
	}
	wantSameCounts(t, rowCounts(t, s, sh.org), func() map[string]int64 {
		w := wantCounts(t, slices.Concat(first, last))
		w["dead_letters"] = int64(len(cases))
		return w
	}())
	dead := deadLetters(t, s, sh.org)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := dead[c.event.Seq]
			if !strings.Contains(d.Reason, c.reason) {
				t.Errorf("reason %q, want it to say %q", d.Reason, c.reason)
			}
			if string(d.Raw) != string(c.event.Payload) && c.name != "NoPayload" {
				t.Errorf("payload kept as %q, want the bytes sent, %q", d.Raw, c.event.Payload)
			}
			if !json.Valid(d.Payload) || d.EventID != c.event.ID || d.Schema != c.event.Schema || d.EventType != c.event.Type ||
				d.NodeID != sh.node || d.SiteID != sh.sites[0] || d.EventCreatedAt == nil || !d.EventCreatedAt.Equal(c.event.CreatedAt) || d.ReappliedAt != nil {
				t.Errorf("dead letter %+v does not keep the event %+v", d, c.event)
			}
		})
	}
}

func TestApplyPushDuplicateIsDeadLetter(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh := newShop(t, s, "A")
	g := newEdgeSim(t, s, sh)
	opened := g.openSession(0, 0)
	again := g.event(opened.Type, opened.EntityID, json.RawMessage(opened.Payload))
	_, order := g.place(false)
	resp := push(t, s, sh, slices.Concat([]syncproto.Event{opened, again}, order)...)
	if !slices.Equal(resp.DeadLettered, []int64{again.Seq}) {
		t.Fatalf("dead letters %v, want the second session.opened (%d)", resp.DeadLettered, again.Seq)
	}
	if r := deadLetters(t, s, sh.org)[again.Seq].Reason; !strings.Contains(r, "duplicate key") {
		t.Errorf("reason %q", r)
	}
}

// orderDays reads the daily rollup rows of org, without their bounds.
func orderDays(tb testing.TB, s *Store, org string) []string {
	tb.Helper()
	var out []string
	err := s.InTenant(context.Background(), org, func(tx pgx.Tx) error {
		rows, _ := tx.Query(context.Background(), `SELECT concat_ws(' ', day, site_id, currency, orders, units, spend, discount)
			FROM order_days WHERE organization_id = $1 ORDER BY 1`, org)
		var err error
		out, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// wantRollupExact checks that the rollup is what rebuilding it from the
// orders makes.
func wantRollupExact(tb testing.TB, s *Store, sh shop) {
	tb.Helper()
	kept := orderDays(tb, s, sh.org)
	for _, site := range sh.sites {
		if err := s.InTenant(context.Background(), sh.org, func(tx pgx.Tx) error { return rebuildOrderDays(context.Background(), tx, sh.org, site) }); err != nil {
			tb.Fatal(err)
		}
	}
	if rebuilt := orderDays(tb, s, sh.org); !slices.Equal(kept, rebuilt) {
		tb.Fatalf("rollup kept by pushes:\n%s\nrebuilt from the orders:\n%s", strings.Join(kept, "\n"), strings.Join(rebuilt, "\n"))
	}
}

func TestApplyPushStatusChanges(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh := newShop(t, s, "A")
	ctx := t.Context()
	g := newEdgeSim(t, s, sh)
	day := func() []cloud.ReportRow {
		rows, err := s.Consumption(ctx, sh.org, cloud.ReportFilter{From: t0.Add(-24 * time.Hour), To: t0.Add(72 * time.Hour), GroupBy: cloud.GroupByDay})
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}

	a, events := g.place(false, simLine{sh.items[0], 1})
	b, evB := g.place(false, simLine{sh.items[0], 2})
	c, evC := g.place(false, simLine{sh.items[1], 1})
	events = slices.Concat(events, evB, evC, g.change(a, "accepted"), g.change(b, "cancelled"), g.change(a, "preparing"), g.change(a, "ready"))
	push(t, s, sh, events...)
	if got, err := s.GetOrder(ctx, sh.org, a.id); err != nil || got.Status != pantry.StatusReady || len(got.History) != 4 {
		t.Fatalf("order a: %s with %d steps (%v), want ready after 4", got.Status, len(got.History), err)
	}
	if got, _ := s.GetOrder(ctx, sh.org, b.id); got.Status != pantry.StatusCancelled || got.CancelReason != "meeting moved" {
		t.Fatalf("order b: %s (%q), want cancelled with its reason", got.Status, got.CancelReason)
	}
	if rows := day(); len(rows) != 1 || rows[0].Orders != 2 || rows[0].Items != 2 || rows[0].Spend.Amount != 650 {
		t.Fatalf("by day %+v, want a and c: 2 orders, 2 items, 6.50", rows)
	}
	wantRollupExact(t, s, sh)

	t.Run("CancelLater", func(t *testing.T) {
		push(t, s, sh, g.change(c, "cancelled")...)
		if rows := day(); len(rows) != 1 || rows[0].Orders != 1 || rows[0].Spend.Amount != 250 {
			t.Fatalf("by day %+v, want a alone", rows)
		}
		wantRollupExact(t, s, sh)
	})
	t.Run("LastOfItsDay", func(t *testing.T) {
		g.at = t0.Add(30 * time.Hour)
		d, events := g.place(false)
		push(t, s, sh, events...)
		if rows := day(); len(rows) != 2 {
			t.Fatalf("by day %+v, want two days", rows)
		}
		push(t, s, sh, g.change(d, "cancelled")...)
		if rows := day(); len(rows) != 1 {
			t.Fatalf("by day %+v, want the day with only a cancelled order gone", rows)
		}
		wantRollupExact(t, s, sh)
	})
	t.Run("Stale", func(t *testing.T) {
		stale := &simOrder{id: a.id, status: "placed"}
		events := g.change(stale, "accepted")
		resp := push(t, s, sh, events...)
		if !slices.Equal(resp.DeadLettered, seqsOf(events...)) {
			t.Fatalf("dead letters %v", resp.DeadLettered)
		}
		if r := deadLetters(t, s, sh.org)[events[0].Seq].Reason; !strings.Contains(r, "is ready") {
			t.Errorf("reason %q", r)
		}
		if got, _ := s.GetOrder(ctx, sh.org, a.id); got.Status != pantry.StatusReady || len(got.History) != 4 {
			t.Fatalf("order a: %s with %d steps, want it untouched", got.Status, len(got.History))
		}
	})
	t.Run("BrokenChain", func(t *testing.T) {
		// Two changes of one order that do not follow each other: the
		// first applies, the second is refused alone.
		e, events := g.place(false)
		first := g.change(e, "accepted")
		second := g.change(&simOrder{id: e.id, status: "preparing"}, "ready")
		resp := push(t, s, sh, slices.Concat(events, first, second)...)
		if !slices.Equal(resp.DeadLettered, seqsOf(second...)) {
			t.Fatalf("dead letters %v, want %v", resp.DeadLettered, seqsOf(second...))
		}
	})
	wantNoOrphans(t, s, sh.org)
}

// TestApplyPushErrorIsNoDeadLetter: an error that is no fault of the
// events (here the request's deadline passing while a row is locked)
// rolls the whole push back and keeps nothing as a dead letter.
func TestApplyPushErrorIsNoDeadLetter(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh := newShop(t, s, "A")
	g := newEdgeSim(t, s, sh)
	o, events := g.place(false)
	push(t, s, sh, events...)
	g.forget(o)
	before := rowCounts(t, s, sh.org)

	locked, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		done <- s.InTenant(context.Background(), sh.org, func(tx pgx.Tx) error {
			if _, err := tx.Exec(context.Background(), `SELECT 1 FROM orders WHERE organization_id = $1 AND id = $2 FOR UPDATE`, sh.org, o.id); err != nil {
				return err
			}
			close(locked)
			<-release
			return nil
		})
	}()
	<-locked
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	batch := slices.Concat(g.mixed(10), g.change(o, "accepted"))
	req := syncproto.PushRequest{Version: syncproto.Version, NodeID: sh.node, Events: batch}
	_, err := syncAt(s, t0).Push(ctx, cloud.Node{OrgID: sh.org, SiteID: sh.sites[0], ID: sh.node}, req)
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err == nil || pantry.ErrorCode(err) != pantry.EINTERNAL {
		t.Fatalf("error %v, want the deadline's", err)
	}
	wantSameCounts(t, rowCounts(t, s, sh.org), before)
	if n := readNode(t, s, sh.org, sh.node); n.applied != int64(len(events)) {
		t.Fatalf("watermark %d, want %d", n.applied, len(events))
	}
	// The edge retries, and all of it applies.
	if resp := push(t, s, sh, batch...); len(resp.DeadLettered) != 0 || resp.AppliedSeq != g.seq {
		t.Fatalf("retry: %+v", resp)
	}
}

// TestApplyPushWatermarkProperty pushes random ranges of a node's outbox
// (new events, replays, overlaps, gaps) with poison events among them,
// and checks every answer and then the database against a model, the
// watermark W: a push starting after W+1 is a gap and changes nothing;
// any other moves W to its last seq (if higher), dead-lettering the
// poison events above the old W; and in the end exactly the events up to
// W are applied or dead letters, each once.
func TestApplyPushWatermarkProperty(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	sh := newShop(t, s, "P")
	rapid.Check(t, func(rt *rapid.T) {
		o := newPropertyOutbox(t, s, sh, rapid.SliceOfN(rapid.SampledFrom([]string{"move", "move", "move", "notJSON", "unknownItem"}), 40, 40).Draw(rt, "kinds"))
		var w int64
		for range rapid.IntRange(1, 12).Draw(rt, "pushes") {
			from := rapid.Int64Range(1, min(w+3, o.size())).Draw(rt, "from")
			n := rapid.Int64Range(1, o.size()-from+1).Draw(rt, "n")
			w = o.push(rt, s, from, n, w)
		}
		o.check(rt, s, w)
	})
}

// propertyOutbox is a node's outbox of stock movements, some of them
// poison: "notJSON" cannot be decoded, "unknownItem" names an item the
// cloud does not have.
type propertyOutbox struct {
	sh     shop
	node   string
	kinds  []string
	events []syncproto.Event
	ids    []string // the movements' ids
}

func newPropertyOutbox(tb testing.TB, s *Store, sh shop, kinds []string) *propertyOutbox {
	o := &propertyOutbox{sh: sh, node: pantry.NewID(), kinds: kinds}
	mustExec(tb, s, sh.org, `INSERT INTO edge_nodes (organization_id, id, site_id, credential_hash) VALUES ($1, $2, $3, $4)`,
		sh.org, o.node, sh.sites[0], randomBytes(32))
	for i, kind := range kinds {
		id, item := pantry.NewID(), sh.items[i%2]
		if kind == "unknownItem" {
			item = pantry.NewID()
		}
		payload, _ := json.Marshal(syncproto.StockMovement{ID: id, ItemID: item, Delta: 1, Reason: "restock", CreatedAt: t0})
		if kind == "notJSON" {
			payload = []byte("{")
		}
		o.ids = append(o.ids, id)
		o.events = append(o.events, syncproto.Event{Seq: int64(i + 1), ID: pantry.NewID(), Type: syncproto.EventStockMoved,
			Schema: 1, EntityID: id, Payload: payload, CreatedAt: t0})
	}
	return o
}

func (o *propertyOutbox) size() int64 { return int64(len(o.events)) }

// push pushes seqs from..from+n-1 over watermark w, checks the answer
// against the model and returns the new watermark.
func (o *propertyOutbox) push(rt *rapid.T, s *Store, from, n, w int64) int64 {
	req := syncproto.PushRequest{Version: syncproto.Version, NodeID: o.node, Events: o.events[from-1 : from-1+n]}
	resp, err := syncAt(s, t0).Push(context.Background(), cloud.Node{OrgID: o.sh.org, SiteID: o.sh.sites[0], ID: o.node}, req)
	last := from + n - 1
	if gap, ok := errors.AsType[*cloud.GapError](err); from > w+1 {
		if !ok || gap.ResumeFrom != w+1 || gap.Got != from {
			rt.Fatalf("push %d..%d over W=%d: %v, want a gap resuming from %d", from, last, w, err, w+1)
		}
		return w
	}
	if err != nil {
		rt.Fatalf("push %d..%d over W=%d: %v", from, last, w, err)
	}
	var dead []int64
	for seq := w + 1; seq <= last; seq++ {
		if o.kinds[seq-1] != "move" {
			dead = append(dead, seq)
		}
	}
	if resp.AppliedSeq != max(w, last) || !slices.Equal(resp.DeadLettered, dead) {
		rt.Fatalf("push %d..%d over W=%d: %+v, want applied_seq %d, dead letters %v", from, last, w, resp, max(w, last), dead)
	}
	return max(w, last)
}

// check compares the database with the model at watermark w.
func (o *propertyOutbox) check(rt *rapid.T, s *Store, w int64) {
	var moves, dead int64
	for _, k := range o.kinds[:w] {
		if k == "move" {
			moves++
		} else {
			dead++
		}
	}
	var gotMoves, gotDead, applied int64
	err := s.InTenant(context.Background(), o.sh.org, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `SELECT
			(SELECT count(*) FROM stock_movements WHERE organization_id = $1 AND id = ANY($2::uuid[])),
			(SELECT count(*) FROM dead_letters WHERE organization_id = $1 AND node_id = $3),
			(SELECT applied_seq FROM edge_nodes WHERE organization_id = $1 AND id = $3)`,
			o.sh.org, o.ids, o.node).Scan(&gotMoves, &gotDead, &applied)
	})
	if err != nil || gotMoves != moves || gotDead != dead || applied != w {
		rt.Fatalf("W=%d: %d movements, %d dead letters, applied_seq %d (%v); want %d, %d, %d", w, gotMoves, gotDead, applied, err, moves, dead, w)
	}
}

// BenchmarkApplyPush applies 100,000 events of the realistic mix (see
// edgeSim.mixed) in pushes of 5,000, and reports events/s:
//
//   - ApplyPush: one node pushing through the sync server (syncserver.Push,
//     over this store), each push waiting for the one before.
//   - SetBased: the same rows written with the same statements, one per
//     table, from payloads decoded beforehand, without the watermark,
//     the dead-letter machinery or the savepoint: the floor ApplyPush's
//     own cost is measured against.
//   - TwoNodes: ApplyPush with two sites' nodes pushing at once (50,000
//     events each), the database using both cores.
func BenchmarkApplyPush(b *testing.B) {
	const total, batch = 100_000, 5_000
	s := newTestStore(b)
	b.Run("ApplyPush", func(b *testing.B) {
		g := newEdgeSim(b, s, newShop(b, s, "bench"))
		for range b.N {
			b.StopTimer()
			events := g.take(total)
			b.StartTimer()
			benchPushes(b, s, g, events, batch)
		}
		b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("SetBased", func(b *testing.B) {
		g := newEdgeSim(b, s, newShop(b, s, "raw"))
		node := cloud.Node{OrgID: g.sh.org, SiteID: g.sh.sites[0], ID: g.sh.node}
		for range b.N {
			b.StopTimer()
			sets := decodedSets(b, g.take(total), batch, node.SiteID)
			b.StartTimer()
			for _, set := range sets {
				err := s.InTenant(b.Context(), node.OrgID, func(tx pgx.Tx) error {
					var q pgx.Batch
					set.queue(&q, node)
					return runUnnamed(b.Context(), tx, &q)
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("TwoNodes", func(b *testing.B) {
		sh := newShop(b, s, "two")
		first := newEdgeSim(b, s, sh)
		second := &edgeSim{sh: sh, site: 1, coupon: first.coupon, at: t0, rng: rand.New(rand.NewPCG(3, 4))}
		second.sh.node = pantry.NewID()
		sims := [2]*edgeSim{first, second}
		mustExec(b, s, sh.org, `INSERT INTO edge_nodes (organization_id, id, site_id, credential_hash) VALUES ($1, $2, $3, $4)`,
			sh.org, sims[1].sh.node, sh.sites[1], randomBytes(32))
		for range b.N {
			b.StopTimer()
			events := [2][]syncproto.Event{sims[0].take(total / 2), sims[1].take(total / 2)}
			b.StartTimer()
			var wg sync.WaitGroup
			for i, g := range sims {
				wg.Go(func() { benchPushes(b, s, g, events[i], batch) })
			}
			wg.Wait()
		}
		b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

// benchPushes pushes events as g's node, batch at a time.
func benchPushes(b *testing.B, s *Store, g *edgeSim, events []syncproto.Event, batch int) {
	node := cloud.Node{OrgID: g.sh.org, SiteID: g.sh.sites[g.site], ID: g.sh.node}
	for i := 0; i < len(events); i += batch {
		req := syncproto.PushRequest{Version: syncproto.Version, NodeID: node.ID, SentAt: g.at, Events: events[i:min(i+batch, len(events))]}
		resp, err := syncAt(s, g.at).Push(b.Context(), node, req)
		if err != nil || len(resp.DeadLettered) > 0 {
			b.Errorf("push: %v, dead letters %v", err, resp.DeadLettered)
			return
		}
	}
}

// decodedSets decodes events and lays them out as ApplyPush does, batch
// at a time.
func decodedSets(b *testing.B, events []syncproto.Event, batch int, site string) []*eventSet {
	var sets []*eventSet
	for i := 0; i < len(events); i += batch {
		decoded := syncserver.Decode(events[i:min(i+batch, len(events))])
		for _, d := range decoded {
			if r := cmp.Or(d.Reason, syncserver.OtherSite(d.Decoded, site)); r != "" {
				b.Fatal(r)
			}
		}
		set, err := newEventSet(decoded)
		if err != nil {
			b.Fatal(err)
		}
		sets = append(sets, set)
	}
	return sets
}
