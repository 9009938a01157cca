package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// TestCitusRouting (issue 14, "routing"): every query the cloud runs for
// a tenant through the API and the sync protocol is a single-shard
// router query on Citus. The cloud runs on a distributed database with
// citus.multi_task_query_log_level at "error" on its connections
// (cloudtest.StartRouted), so a query that fans out to more than one
// shard fails, and the request with it. The same scenario runs on a
// second cloud without that setting (on plain PostgreSQL unless
// PANTRY_TEST_DB=citus), and every step must answer as it does there:
// a tenant with data, every API route as its owner (writes included),
// and an edge node enrolling, pushing every kind of event, pulling and
// being woken from a long poll. Nothing the routed cloud logs may be a
// multi-task query.
//
// No query of the cloud legitimately spans tenants: the pre-tenant
// lookups (login, refresh token, API key, node credential, enrollment
// token) read a reference table and then one shard; signing keys are a
// reference table; login_attempts and schema_migrations are local to the
// coordinator. The queries that do span tenants are not the service's:
// Migrate, as the migrator, and the operator's `pantry cloud site
// enroll-token`, whose pantry_site_lookup finds a site by id alone
// (cmd/pantry, not reachable through HTTP).
func TestCitusRouting(t *testing.T) {
	routed, logged := cloudtest.StartRouted(t)
	t.Run("MultiShardQueryFails", func(t *testing.T) { multiShardFails(t, routed) })
	var want, got []string
	t.Run("Scenario", func(t *testing.T) {
		t.Run("Reference", func(t *testing.T) {
			t.Parallel()
			want = routingScenario(t, cloudtest.Start(t))
		})
		t.Run("Routed", func(t *testing.T) {
			t.Parallel()
			got = routingScenario(t, routed)
		})
	})
	if t.Failed() {
		t.Fatalf("the routed cloud logged:\n%s", logged)
	}
	if diff := stepsDiff(want, got); diff != "" {
		t.Errorf("the routed cloud answered otherwise than the reference:\n%s", diff)
	}
	if log := logged.String(); strings.Contains(log, cloudtest.MultiTaskError) || strings.Contains(log, "level=ERROR") {
		t.Errorf("the routed cloud logged errors:\n%s", log)
	}
}

// multiShardFails proves the check can fail, on the routed cloud's own
// pool, as the service role in a tenant's transaction: a query without
// the organization_id filter (row-level security still keeps it to the
// tenant's rows, but Citus cannot prune shards on a policy) fans out to
// every shard and is refused, and so is a correlated subquery that names
// the organization only through the outer row, which Citus 13.2 does not
// prune by (the shape five reads had; see userColumns in
// cloud/postgres). The same queries naming the organization as a
// parameter are routed, and run.
func multiShardFails(t *testing.T, s *cloudtest.Server) {
	org := s.NewOrg(t, "fanout")
	const subquery = `SELECT u.id, (SELECT count(*) FROM user_sites us WHERE us.organization_id = %s AND us.user_id = u.id)
		FROM users u WHERE u.organization_id = $1`
	tests := []struct {
		name, sql string
		refused   bool
	}{
		{"NoFilter", `SELECT count(*) FROM sites WHERE $1::uuid IS NOT NULL`, true},
		{"Filter", `SELECT count(*) FROM sites WHERE organization_id = $1`, false},
		{"SubqueryByOuterColumn", fmt.Sprintf(subquery, "u.organization_id"), true},
		{"SubqueryByParameter", fmt.Sprintf(subquery, "$1"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			err := s.Store().InTenant(ctx, org.ID, func(tx pgx.Tx) error {
				rows, _ := tx.Query(ctx, tc.sql, org.ID)
				rows.Close()
				return rows.Err()
			})
			switch refused := err != nil && strings.Contains(err.Error(), cloudtest.MultiTaskError); {
			case refused != tc.refused:
				t.Fatalf("refused %t, want %t (err %v)", refused, tc.refused, err)
			case !refused && err != nil:
				t.Fatal(err)
			}
			// EXPLAIN agrees: one task, on the organization's shard.
			var plan []string
			err = s.Store().InTenant(ctx, org.ID, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, "SET LOCAL citus.multi_task_query_log_level = 'off'"); err != nil {
					return err
				}
				rows, _ := tx.Query(ctx, "EXPLAIN (COSTS OFF) "+tc.sql, org.ID)
				plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
				return err
			})
			if err != nil {
				t.Fatalf("explain: %v", err)
			}
			oneTask := slices.ContainsFunc(plan, func(line string) bool { return strings.TrimSpace(line) == "Task Count: 1" })
			if oneTask == tc.refused {
				t.Fatalf("EXPLAIN shows one task: %t, want %t:\n%s", oneTask, !tc.refused, strings.Join(plan, "\n"))
			}
		})
	}
}

// steps records what each step of a scenario answered, to compare two
// clouds by; a step that answers 5xx fails the test at once.
type steps struct {
	s   *cloudtest.Server
	out []string
}

func (st *steps) do(t *testing.T, what, method, path, token string, body any, headers ...string) cloudtest.Response {
	t.Helper()
	r := st.s.Do(t, method, path, token, body, headers...)
	if r.Status >= 500 {
		// Not fatal: the rest of the scenario still says what else is
		// not routed.
		t.Errorf("%s: %d %s", what, r.Status, r.Body)
	}
	st.note("%s: %d", what, r.Status)
	return r
}

func (st *steps) note(format string, args ...any) {
	st.out = append(st.out, fmt.Sprintf(format, args...))
}

// stepsDiff lists the steps where got differs from want.
func stepsDiff(want, got []string) string {
	var b strings.Builder
	for i := range max(len(want), len(got)) {
		w, g := "(none)", "(none)"
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			fmt.Fprintf(&b, "  step %d: got %s, want %s\n", i, g, w)
		}
	}
	return b.String()
}

// routingScenario runs, on s, everything a tenant does with the API and
// the sync protocol, and returns what each step answered.
func routingScenario(t *testing.T, s *cloudtest.Server) []string {
	a := seedTenant(t, s, "alpha") // an owner making one of everything, a poison push
	seedTenant(t, s, "beta")       // a neighbour, on whichever shard its id hashes to
	st := &steps{s: s}
	// Enrolling a node for a site revokes the one before it (one edge
	// per building): the API's node routes then use the new one.
	a.node, a.nodeCredential = syncScenario(t, st, a)
	readsScenario(t, st, a)
	apiScenario(t, st, a)
	return st.out
}

// apiScenario calls every route of the API as A's owner (the sync routes
// with A's node), aimed at A's own data: the isolation suite's table
// (attacks), so that a route added there is routed here too. Reads and
// writes go first, deletions and revocations last, so that the rest still
// finds what it works on; then the routes that need no principal.
func apiScenario(t *testing.T, st *steps, a tenantA) {
	table := attacks(a)
	routes := make([]string, 0, len(table))
	for route := range table {
		routes = append(routes, route)
	}
	last := func(route string) bool { return strings.HasPrefix(route, "DELETE ") }
	slices.SortFunc(routes, func(x, y string) int {
		if last(x) != last(y) {
			if last(x) {
				return 1
			}
			return -1
		}
		return strings.Compare(x, y)
	})
	for _, route := range routes {
		at := table[route]
		token := a.org.Token
		if at.asNode {
			token = a.nodeCredential
		}
		st.do(t, route, strings.Fields(route)[0], at.path, token, at.body)
	}
	login := st.do(t, "POST /api/v1/auth/login", "POST", "/api/v1/auth/login", "",
		map[string]string{"email": a.org.OwnerEmail, "password": cloudtest.Password})
	var tok cloudtest.Tokens
	login.Decode(t, &tok)
	refreshed := st.do(t, "POST /api/v1/auth/refresh", "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": tok.RefreshToken})
	refreshed.Decode(t, &tok)
	st.do(t, "POST /api/v1/auth/logout", "POST", "/api/v1/auth/logout", tok.AccessToken, map[string]string{"refresh_token": tok.RefreshToken})
	st.do(t, "POST /api/v1/auth/login (wrong password)", "POST", "/api/v1/auth/login", "",
		map[string]string{"email": a.org.OwnerEmail, "password": "wrong"})
	for _, path := range []string{"/healthz", "/readyz", "/api/v1/openapi.json"} {
		st.do(t, "GET "+path, "GET", path, "", nil)
	}
}

// readsScenario reads the lists with what changes their SQL: filters,
// a second page, every grouping of the consumption report (the rollup's
// and the raw orders'), an API key's principal, and the scope of a
// facility manager, whose sites every read filters on.
func readsScenario(t *testing.T, st *steps, a tenantA) {
	span := "from=" + time.Now().Add(-48*time.Hour).UTC().Format(time.RFC3339) + "&to=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	reads := []string{
		"/api/v1/orders?limit=1", "/api/v1/orders?status=delivered&site_id=" + a.site + "&space_id=" + a.space + "&" + span,
		"/api/v1/payments?method=cost_center&" + span, "/api/v1/payments?limit=1",
		"/api/v1/audit-log?resource=site&" + span, "/api/v1/audit-log?actor_id=" + a.org.OwnerID + "&limit=1",
		"/api/v1/dead-letters?limit=1", "/api/v1/nodes?site_id=" + a.site, "/api/v1/sites/" + a.site + "/stock/movements?limit=1",
	}
	for _, by := range []string{"site", "space", "cost_center", "day", "item"} {
		reads = append(reads, "/api/v1/reports/consumption?group_by="+by+"&"+span)
	}
	// Steps are named without the ids and times, which differ between
	// the two clouds.
	name := strings.NewReplacer(a.site, ":site_id", a.space, ":space_id", a.org.OwnerID, ":owner_id", span, ":span").Replace
	for _, path := range reads {
		r := st.do(t, "GET "+name(path), "GET", path, a.org.Token, nil)
		var next struct {
			NextCursor string `json:"next_cursor"`
		}
		if r.Status == http.StatusOK && strings.Contains(path, "limit=1") {
			r.Decode(t, &next)
		}
		if next.NextCursor != "" {
			st.do(t, "GET "+name(path)+" (next page)", "GET", path+"&cursor="+url.QueryEscape(next.NextCursor), a.org.Token, nil)
		}
	}
	// A technician's API key is looked up (a directory, then one shard)
	// and touched on every request.
	r := st.do(t, "create an API key", "POST", "/api/v1/api-keys", a.org.Token, map[string]string{"name": "routing"})
	var key struct{ Key string }
	r.Decode(t, &key)
	for _, path := range []string{"/api/v1/me", "/api/v1/sites", "/api/v1/nodes"} {
		st.do(t, "API key: GET "+path, "GET", path, key.Key, nil)
	}
	r = st.do(t, "create a facility manager", "POST", "/api/v1/users", a.org.Token, map[string]any{"email": "fm@alpha.test", "name": "FM",
		"role": "facility_manager", "password": cloudtest.Password, "site_ids": []string{a.site}})
	must(t, r, http.StatusCreated, "create a facility manager")
	fm := st.s.Login(t, "fm@alpha.test", cloudtest.Password).AccessToken
	for _, path := range append(reads, "/api/v1/sites", "/api/v1/sites/"+a.site+"/stock", "/api/v1/me", "/api/v1/dead-letters") {
		st.do(t, "facility manager: GET "+name(path), "GET", path, fm, nil)
	}
}

// syncScenario enrolls a node for A's site and runs an edge's life
// through it: a first pull, pushes of every kind of event (and one
// again), a long poll woken by an admin's change, and the node asking
// about itself. It returns the node's id and credential.
func syncScenario(t *testing.T, st *steps, a tenantA) (node, credential string) {
	tokResp := st.do(t, "create enrollment token", "POST", "/api/v1/sites/"+a.site+"/enrollment-tokens", a.org.Token, map[string]any{})
	var et struct{ Token string }
	tokResp.Decode(t, &et)
	r := st.do(t, "enroll", "POST", syncproto.PathEnroll, "", syncproto.EnrollRequest{Version: syncproto.Version, Token: et.Token, Name: "routing", SoftwareVersion: "test"})
	var e syncproto.EnrollResponse
	r.Decode(t, &e)
	ev := &eventMaker{t: t, a: a}

	pull := func(what string, c syncproto.Cursor, wait int) syncproto.PullResponse {
		r := st.do(t, what, "POST", syncproto.PathPull, e.Credential, syncproto.PullRequest{Version: syncproto.Version, NodeID: e.NodeID,
			SoftwareVersion: "test", Cursor: c, WaitSeconds: wait, SentAt: time.Now().UTC()})
		var p syncproto.PullResponse
		r.Decode(t, &p)
		st.note("%s: config %t, %d stock movements", what, p.Config != nil, len(p.Stock))
		return p
	}
	push := func(what string, events []syncproto.Event, dead ...int64) {
		r := st.do(t, what, "POST", syncproto.PathPush, e.Credential, syncproto.PushRequest{Version: syncproto.Version, NodeID: e.NodeID,
			SoftwareVersion: "test", SentAt: time.Now().UTC(), Events: events})
		var ack syncproto.PushResponse
		r.Decode(t, &ack)
		if !slices.Equal(ack.DeadLettered, dead) {
			t.Errorf("%s: dead-lettered %v, want %v (the reasons are in GET /api/v1/dead-letters)", what, ack.DeadLettered, dead)
		}
		st.note("%s: applied to %d", what, ack.AppliedSeq)
	}

	first := pull("first pull", syncproto.Cursor{}, 0)
	batch := ev.everyKind()
	push("push every kind", batch)
	push("push it again", batch)
	push("push an order's later steps", ev.laterSteps())
	push("push one event", ev.restock())
	// A payment that comes before its order is kept aside as a dead
	// letter, and applies once the order is there: an admin re-applies it.
	late := pantry.NewID()
	early := ev.paid(late)
	push("push a payment before its order", []syncproto.Event{early}, early.Seq)
	push("push its order", []syncproto.Event{ev.placedAs(late, "complimentary", "", "", 0)})
	r = st.do(t, "list the node's dead letters", "GET", "/api/v1/dead-letters?node_id="+e.NodeID, a.org.Token, nil)
	var dl struct {
		DeadLetters []struct{ ID string } `json:"dead_letters"`
	}
	r.Decode(t, &dl)
	if len(dl.DeadLetters) != 1 {
		t.Fatalf("the node's dead letters: %s", r.Body)
	}
	if r := st.do(t, "reapply the dead letter", "POST", "/api/v1/dead-letters/"+dl.DeadLetters[0].ID+"/reapply", a.org.Token, nil); r.Status != http.StatusOK {
		t.Errorf("reapply a dead letter whose order has come: %d %s", r.Status, r.Body)
	}

	// The long poll answers on its own goroutine; what it answered is
	// noted here, after the menu change, so that both clouds' steps come
	// in one order.
	got := make(chan cloudtest.Response, 1)
	go func() {
		got <- st.s.Do(t, "POST", syncproto.PathPull, e.Credential, syncproto.PullRequest{Version: syncproto.Version, NodeID: e.NodeID,
			SoftwareVersion: "test", Cursor: first.Cursor, WaitSeconds: 25, SentAt: time.Now().UTC()})
	}()
	time.Sleep(300 * time.Millisecond) // let the pull start waiting; the steps are the same either way
	st.do(t, "change the menu", "PUT", "/api/v1/sites/"+a.site+"/menu", a.org.Token, map[string]any{"items": []map[string]any{
		{"item_id": a.item, "available": true, "price": map[string]any{"amount": 275, "currency": "EUR"}}}})
	select {
	case r := <-got:
		if r.Status >= 500 {
			t.Errorf("long poll: %d %s", r.Status, r.Body)
		}
		var p syncproto.PullResponse
		r.Decode(t, &p)
		st.note("long poll: %d", r.Status)
		st.note("long poll: config %t, %d stock movements", p.Config != nil, len(p.Stock))
		if p.Config == nil {
			t.Fatalf("the long poll answered without the new menu: %+v", p)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the long poll did not answer within 20 s of a menu change (it waits 25 s)")
	}
	// Stock the cloud moves reaches the node through the same feed.
	st.do(t, "cloud restock", "POST", "/api/v1/sites/"+a.site+"/stock/movements", a.org.Token, map[string]any{"item_id": a.item, "delta": 3, "reason": "restock"})
	pull("pull after the restock", first.Cursor, 0)
	r = st.do(t, "node info", "GET", syncproto.PathNode, e.Credential, nil)
	var info syncproto.NodeInfo
	r.Decode(t, &info)
	st.note("node info: applied %d, %d dead letters", info.AppliedSeq, info.DeadLetters)
	return e.NodeID, e.Credential
}

// eventMaker makes an edge's events for A's site, numbered from 1.
type eventMaker struct {
	t   *testing.T
	a   tenantA
	seq int64
	// what earlier events made, for later ones to refer to
	order, session string
}

func (m *eventMaker) event(typ, entity string, payload any) syncproto.Event {
	m.t.Helper()
	raw, err := json.Marshal(payload)
	if err != nil {
		m.t.Fatal(err)
	}
	m.seq++
	return syncproto.Event{Seq: m.seq, ID: pantry.NewID(), Type: typ, Schema: syncproto.EventSchema, EntityID: entity,
		Payload: raw, CreatedAt: time.Now().UTC()}
}

func eur(n int64) syncproto.Money { return syncproto.Money{Amount: n, Currency: "EUR"} }

// placed is an order of one coffee in A's room.
func (m *eventMaker) placed(payment, coupon, costCenter string, discount int64) (syncproto.Event, string) {
	id := pantry.NewID()
	return m.placedAs(id, payment, coupon, costCenter, discount), id
}

// placedAs is placed with the order's id given.
func (m *eventMaker) placedAs(id, payment, coupon, costCenter string, discount int64) syncproto.Event {
	now := time.Now().UTC().Add(-time.Minute)
	return m.event(syncproto.EventOrderPlaced, id, syncproto.OrderPlaced{ID: id, SiteID: m.a.site, SpaceID: m.a.space, SessionID: m.session,
		Status: "placed", Lines: []syncproto.OrderLine{{ItemID: m.a.item, Name: "Coffee", Quantity: 1, UnitPrice: eur(350), LineTotal: eur(350)}},
		DeliverTo: "room", Subtotal: eur(350), Discount: eur(discount), Total: eur(350 - discount), Coupon: coupon, CostCenter: costCenter,
		Payment: payment, CatalogRev: 1, CreatedAt: now, UpdatedAt: now})
}

// paid is the payment of order, in full.
func (m *eventMaker) paid(order string) syncproto.Event {
	return m.event(syncproto.EventPaymentRecorded, pantry.NewID(), syncproto.PaymentRecorded{ID: pantry.NewID(), OrderID: order,
		Method: "complimentary", Amount: eur(350), Discount: eur(0), CreatedAt: time.Now().UTC()})
}

func (m *eventMaker) step(order, from, to string) syncproto.Event {
	return m.event(syncproto.EventOrderStatusChanged, order, syncproto.StatusChanged{ID: pantry.NewID(), OrderID: order, From: from, To: to,
		Actor: "pantry staff", At: time.Now().UTC()})
}

func (m *eventMaker) stock(delta int64, reason, order string) syncproto.Event {
	id := pantry.NewID()
	return m.event(syncproto.EventStockMoved, id, syncproto.StockMovement{ID: id, ItemID: m.a.item, Delta: delta, Reason: reason, OrderID: order,
		Actor: "pantry staff", CreatedAt: time.Now().UTC()})
}

// everyKind is a batch with each kind of event: a session opens, an
// order placed with a coupon is redeemed, paid, sold from stock and
// accepted, a cost-center order is placed and cancelled back to stock,
// an item is marked sold out, and the session expires.
func (m *eventMaker) everyKind() []syncproto.Event {
	now := time.Now().UTC().Add(-2 * time.Minute)
	m.session = pantry.NewID()
	session := syncproto.Session{ID: m.session, SiteID: m.a.site, SpaceID: m.a.space, SpaceName: "room", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	out := []syncproto.Event{m.event(syncproto.EventSessionOpened, m.session, session)}
	withCoupon, order := m.placed("complimentary", "ALPHA10", "", 35)
	m.order = order
	out = append(out, withCoupon,
		m.event(syncproto.EventCouponRedeemed, pantry.NewID(), syncproto.CouponRedeemed{ID: pantry.NewID(), CouponID: m.a.coupon, Code: "ALPHA10",
			OrderID: order, Discount: eur(35), At: now}),
		m.event(syncproto.EventPaymentRecorded, pantry.NewID(), syncproto.PaymentRecorded{ID: pantry.NewID(), OrderID: order, Method: "complimentary",
			Amount: eur(315), Discount: eur(35), Coupon: "ALPHA10", CreatedAt: now}),
		m.stock(-1, "sale", order),
		m.step(order, "placed", "accepted"))
	charged, other := m.placed("cost_center", "", "CC-alpha", 0)
	out = append(out, charged,
		m.event(syncproto.EventPaymentRecorded, pantry.NewID(), syncproto.PaymentRecorded{ID: pantry.NewID(), OrderID: other, Method: "cost_center",
			Amount: eur(350), Discount: eur(0), CostCenter: "CC-alpha", CreatedAt: now}),
		m.stock(-1, "sale", other),
		m.step(other, "placed", "cancelled"),
		m.stock(1, "cancel_return", other),
		m.event(syncproto.EventItemAvailability, m.a.item, syncproto.ItemAvailability{ItemID: m.a.item, Available: false, Actor: "pantry staff", At: now}))
	session.ExpiresAt = time.Now().UTC()
	return append(out, m.event(syncproto.EventSessionExpired, m.session, session))
}

// laterSteps takes the first order of everyKind to delivered: status
// changes of an order placed in an earlier push.
func (m *eventMaker) laterSteps() []syncproto.Event {
	return []syncproto.Event{m.step(m.order, "accepted", "preparing"), m.step(m.order, "preparing", "ready"), m.step(m.order, "ready", "delivered")}
}

// restock is a push of one event: the edge's own count of a delivery.
func (m *eventMaker) restock() []syncproto.Event {
	return []syncproto.Event{m.stock(12, "restock", "")}
}
