package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/pgtest"
)

// TestSyncFaultInjection is the promise of the product, end to end, with
// real processes: one cloud on a private PostgreSQL, three enrolled edge
// nodes, each behind a TCP proxy that plays its WAN link. While attendees
// order at every edge, staff work the queues and an admin changes prices
// and restocks in the cloud, the test cuts and restores links at random,
// kill -9s an edge in the middle of a push and restarts it, kill -9s the
// cloud in the middle of a push and restarts it, and restarts PostgreSQL.
// Then it heals everything, waits, and checks that the cloud holds
// exactly what the edges hold (orders, lines, status changes, payments,
// stock movements: counts and checksums per site, none twice), that stock
// levels agree, and that every edge runs the latest catalog.
//
// The chaos follows a seed, printed; PANTRY_E2E_SEED=N replays one.
//
// With PANTRY_TEST_DB=citus the cloud runs on a private Citus cluster
// instead (a coordinator and two workers, distributed with `pantry cloud
// migrate --citus`), and the database faults are a restart of the
// coordinator and then of the worker that holds the organization's
// shards. One seed per run, as on PostgreSQL: the Citus run is the same
// scenario, not a second one.
func TestSyncFaultInjection(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("PANTRY_E2E_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("PANTRY_E2E_SEED=%q: %v", s, err)
		}
		seed = n
	}
	t.Logf("seed %d (replay with PANTRY_E2E_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))

	w := newWorld(t)
	w.start(3)

	ctx, stopLoad := context.WithCancel(context.Background())
	var load sync.WaitGroup
	// Each actor gets its own generator, seeded here, in order: the run
	// replays from the one seed.
	for _, e := range w.edges {
		load.Add(2)
		attendees, staff := rand.New(rand.NewPCG(rng.Uint64(), 1)), rand.New(rand.NewPCG(rng.Uint64(), 2))
		go func() { defer load.Done(); w.attendees(ctx, e, attendees) }()
		go func() { defer load.Done(); w.staff(ctx, e, staff) }()
	}
	load.Add(1)
	admin := rand.New(rand.NewPCG(rng.Uint64(), 3))
	go func() { defer load.Done(); w.admin(ctx, admin) }()

	w.chaos(rng)
	stopLoad()
	load.Wait()
	for _, e := range w.edges {
		e.link.setUp(true)
	}
	t.Logf("load done: %d orders acknowledged; healing", w.acked.Load())
	w.waitConverged(3 * time.Minute)
	w.stopEdges()
	w.compare()
}

// world is the system under test and what the test knows of it.
type world struct {
	t       testing.TB
	bin     string
	pg      database
	citus   *pgtest.CitusCluster // pg, when the cloud runs on Citus
	db      *pgx.Conn            // superuser: sees every tenant's rows
	cloud   *proc
	addr    string // the cloud's HTTP address
	token   string // the admin's access token
	orgID   string
	items   []string
	edges   []*edgeNode
	acked   atomic.Int64
	logs    *lockedBuffer
	started time.Time
}

type edgeNode struct {
	i       int
	siteID  string
	dir     string
	http    string
	mqtt    string
	link    *linkProxy
	rooms   []string // QR codes
	tablet  [2]string
	mu      sync.Mutex
	proc    *proc
	ordered map[string]bool // order ids answered 201
}

// database is the world's private database server, which the test may
// restart: a PostgreSQL server (pgtest.Cluster) or, with
// PANTRY_TEST_DB=citus, the coordinator of a Citus cluster
// (pgtest.CitusCluster). URL is the superuser's.
type database interface {
	URL() string
	Restart(ctx context.Context) error
}

func newWorld(t testing.TB) *world {
	w := &world{t: t, bin: buildPantry(t), logs: &lockedBuffer{}, started: time.Now()}
	if pgtest.Citus() {
		w.citus = pgtest.StartCitusCluster(t)
		w.pg = w.citus
	} else {
		w.pg = pgtest.StartCluster(t)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("process output:\n%s", w.logs.String())
		}
	})
	return w
}

// start migrates, starts the cloud, builds an organization with sites,
// rooms, items, menus and tablets through the API, and enrolls and starts
// one edge per site through its link.
func (w *world) start(sites int) {
	t := w.t
	w.migrate()
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte("e2e-admin-password-1\n"), 0o600)
	var org struct {
		OrgID string `json:"org_id"`
	}
	w.cliJSON(&org, "cloud", "org", "create", "--database-url", w.pg.URL(), "--name", "E2E",
		"--admin-email", "admin@e2e.example", "--admin-password-file", pwFile, "--json")
	w.orgID = org.OrgID
	w.addr = freeAddr(t)
	w.startCloud()
	conn, err := pgx.Connect(context.Background(), w.pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	w.db = conn
	t.Cleanup(func() { conn.Close(context.Background()) })

	_, login := w.api("POST", "/api/v1/auth/login", map[string]string{"email": "admin@e2e.example", "password": "e2e-admin-password-1"}, 200)
	w.token = login["access_token"].(string)
	for i, name := range []string{"Coffee", "Tea", "Sandwich", "Fruit"} {
		_, it := w.api("POST", "/api/v1/items", map[string]any{"name": name, "price": map[string]any{"amount": 200 + 50*i, "currency": "EUR"}}, 201)
		w.items = append(w.items, it["id"].(string))
	}
	for i := range sites {
		_, site := w.api("POST", "/api/v1/sites", map[string]string{"name": fmt.Sprint("Building ", i), "timezone": "Europe/Amsterdam", "currency": "EUR"}, 201)
		e := &edgeNode{i: i, siteID: site["id"].(string), dir: t.TempDir(), http: freeAddr(t), mqtt: freeAddr(t), ordered: map[string]bool{}}
		for r := range 3 {
			_, sp := w.api("POST", "/api/v1/sites/"+e.siteID+"/spaces", map[string]string{"name": fmt.Sprint("Room ", r), "floor": "1"}, 201)
			e.rooms = append(e.rooms, sp["code"].(string))
		}
		w.putMenu(e.siteID, nil)
		for _, item := range w.items {
			w.api("POST", "/api/v1/sites/"+e.siteID+"/stock/movements", map[string]any{"item_id": item, "delta": 5000, "reason": "restock"}, 201)
		}
		_, tab := w.api("POST", "/api/v1/sites/"+e.siteID+"/tablets", map[string]string{"name": "Pantry"}, 201)
		e.tablet = [2]string{tab["username"].(string), tab["password"].(string)}
		e.link = newLinkProxy(t, w.addr)
		_, tok := w.api("POST", "/api/v1/sites/"+e.siteID+"/enrollment-tokens", map[string]any{}, 201)
		w.cli("edge", "init", "--data", e.dir, "--cloud", e.link.URL(), "--token", tok["token"].(string), "--name", fmt.Sprint("edge-", i))
		w.startEdge(e)
		w.edges = append(w.edges, e)
	}
}

// migrate runs `pantry cloud migrate` on the world's database, with
// --citus on a Citus cluster: the tables are then distributed, as an
// operator's would be, and the cloud runs on distributed tables.
func (w *world) migrate() {
	args := []string{"cloud", "migrate", "--database-url", w.pg.URL()}
	if w.citus != nil {
		args = append(args, "--citus")
	}
	w.cli(args...)
}

// putMenu puts every item on a site's menu, with price overrides.
func (w *world) putMenu(siteID string, prices map[string]int) (int, map[string]any) {
	var entries []map[string]any
	for _, item := range w.items {
		e := map[string]any{"item_id": item, "available": true}
		if p, ok := prices[item]; ok {
			e["price"] = map[string]any{"amount": p, "currency": "EUR"}
		}
		entries = append(entries, e)
	}
	return w.tryAPI("PUT", "/api/v1/sites/"+siteID+"/menu", map[string]any{"items": entries})
}

func (w *world) startCloud() {
	w.cloud = w.spawn("cloud", "http://"+w.addr, "cloud", "serve", "--database-url", w.pg.URL(), "--http", w.addr)
}

func (w *world) startEdge(e *edgeNode) {
	p := w.spawn(fmt.Sprint("edge-", e.i), "http://"+e.http, "edge", "serve", "--data", e.dir, "--http", e.http,
		"--mqtt", e.mqtt, "--mqtt-ws", "", "--limit-session-orders", "0", "--limit-address-rpm", "0",
		"--sync-max-backoff", "1s")
	e.mu.Lock()
	e.proc = p
	e.mu.Unlock()
}

func (e *edgeNode) url() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.proc.url
}

// spawn starts a pantry process and waits until /readyz answers 200.
func (w *world) spawn(name, url string, args ...string) *proc {
	t := w.t
	cmd := exec.Command(w.bin, args...)
	cmd.Stdout, cmd.Stderr = w.logs.prefixed(name), w.logs.prefixed(name)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	p := &proc{cmd: cmd, url: url}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s not ready within 60 s", name)
	return nil
}

// kill9 ends a process with SIGKILL: no shutdown, no flush.
func kill9(p *proc) {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
}

// cli runs a pantry command to completion and returns its stdout.
func (w *world) cli(args ...string) []byte {
	w.t.Helper()
	cmd := exec.Command(w.bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		w.t.Fatalf("pantry %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return out
}

func (w *world) cliJSON(v any, args ...string) {
	w.t.Helper()
	out := w.cli(args...)
	if err := json.Unmarshal(out, v); err != nil {
		w.t.Fatalf("pantry %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// api calls the cloud's admin API and insists on a status.
func (w *world) api(method, path string, body any, want int) (int, map[string]any) {
	w.t.Helper()
	status, out := w.tryAPI(method, path, body)
	if status != want {
		w.t.Fatalf("%s %s: %d %v, want %d", method, path, status, out, want)
	}
	return status, out
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// tryAPI calls the cloud's admin API; status 0 means it could not be reached.
func (w *world) tryAPI(method, path string, body any) (int, map[string]any) {
	return doJSON(method, "http://"+w.addr+path, w.token, body, nil)
}

func doJSON(method, url, token string, body any, headers map[string]string) (int, map[string]any) {
	var rd *bytes.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// attendees order at e until ctx ends: one session per room, one or two
// lines per order, each order with its own Idempotency-Key, retried with
// the same key when the edge did not answer (it may have been killed
// after committing: the retry must find the same order, not a second).
func (w *world) attendees(ctx context.Context, e *edgeNode, rng *rand.Rand) {
	sessions := map[string]string{}
	for ctx.Err() == nil {
		room := e.rooms[rng.IntN(len(e.rooms))]
		tok, ok := sessions[room]
		if !ok {
			status, s := doJSON("POST", e.url()+"/api/v1/sessions", "", map[string]string{"space_code": room}, nil)
			if status != http.StatusCreated {
				sleepCtx(ctx, 50*time.Millisecond)
				continue
			}
			tok = s["token"].(string)
			sessions[room] = tok
		}
		lines := []map[string]any{{"item_id": w.items[rng.IntN(len(w.items))], "quantity": 1 + rng.IntN(2)}}
		if rng.IntN(3) == 0 {
			lines = append(lines, map[string]any{"item_id": w.items[rng.IntN(len(w.items))], "quantity": 1})
		}
		body := map[string]any{"lines": lines, "deliver_to": "room"}
		if rng.IntN(3) == 0 { // "for 14:30": compare checks the cloud keeps the time
			body["deliver_by"] = time.Now().Add(time.Duration(10+rng.IntN(120)) * time.Minute).Format(time.RFC3339)
		}
		key := fmt.Sprintf("e2e-%d-%d", e.i, rng.Uint64())
		for attempt := 0; attempt < 50 && ctx.Err() == nil; attempt++ {
			status, o := doJSON("POST", e.url()+"/api/v1/orders", tok, body, map[string]string{"Idempotency-Key": key})
			if status == http.StatusCreated || status == http.StatusOK {
				e.mu.Lock()
				e.ordered[o["id"].(string)] = true
				e.mu.Unlock()
				if status == http.StatusCreated {
					w.acked.Add(1)
				}
				break
			}
			if status != 0 && status != http.StatusServiceUnavailable {
				break // refused (out of stock, ...): a real answer, nothing to retry
			}
			sleepCtx(ctx, 100*time.Millisecond)
		}
		sleepCtx(ctx, time.Duration(20+rng.IntN(40))*time.Millisecond)
	}
}

// staff work e's queue: accept, prepare, deliver, and cancel some.
func (w *world) staff(ctx context.Context, e *edgeNode, rng *rand.Rand) {
	var token string
	for ctx.Err() == nil {
		sleepCtx(ctx, 200*time.Millisecond)
		if token == "" {
			status, l := doJSON("POST", e.url()+"/api/v1/staff/login", "", map[string]string{"username": e.tablet[0], "password": e.tablet[1]}, nil)
			if status != http.StatusOK {
				continue
			}
			token = l["token"].(string)
		}
		status, q := doJSON("GET", e.url()+"/api/v1/staff/orders?status=open", token, nil, nil)
		if status == http.StatusUnauthorized {
			token = ""
			continue
		}
		orders, _ := q["orders"].([]any)
		for _, o := range orders {
			if ctx.Err() != nil || rng.IntN(2) == 0 {
				continue
			}
			m := o.(map[string]any)
			next := map[string]string{"placed": "accepted", "accepted": "preparing", "preparing": "ready", "ready": "delivered"}[m["status"].(string)]
			body := map[string]string{"status": next}
			if (m["status"] == "placed" || m["status"] == "accepted") && rng.IntN(8) == 0 {
				body = map[string]string{"status": "cancelled", "reason": "meeting moved"}
			}
			doJSON("POST", e.url()+"/api/v1/staff/orders/"+m["id"].(string)+"/status", token, body, nil)
		}
	}
}

// admin changes prices and restocks in the cloud now and then; the cloud
// may be down at the time, which is fine.
func (w *world) admin(ctx context.Context, rng *rand.Rand) {
	for ctx.Err() == nil {
		sleepCtx(ctx, time.Duration(500+rng.IntN(1000))*time.Millisecond)
		e := w.edges[rng.IntN(len(w.edges))]
		if rng.IntN(2) == 0 {
			w.putMenu(e.siteID, map[string]int{w.items[rng.IntN(len(w.items))]: 100 + 10*rng.IntN(40)})
		} else {
			w.tryAPI("POST", "/api/v1/sites/"+e.siteID+"/stock/movements", map[string]any{"item_id": w.items[rng.IntN(len(w.items))], "delta": 1 + rng.IntN(50), "reason": "restock"})
		}
	}
}

// chaos runs the faults, in a fixed order at seeded moments: link cuts
// throughout; an edge killed mid-push; the cloud killed mid-push;
// PostgreSQL restarted (on Citus the coordinator, then a worker);
// another edge killed.
func (w *world) chaos(rng *rand.Rand) {
	t := w.t
	const span = 40 * time.Second
	start := time.Now()
	type step struct {
		at   time.Duration
		name string
		do   func()
	}
	restartDB := step{24 * time.Second, "restart PostgreSQL", func() { w.restartDB(w.pg.Restart) }}
	if w.citus != nil {
		restartDB.name = "restart the Citus coordinator"
	}
	steps := []step{
		{8 * time.Second, "kill -9 an edge mid-push", func() { w.killEdgeMidPush(w.edges[rng.IntN(len(w.edges))]) }},
		{16 * time.Second, "kill -9 the cloud mid-push", w.killCloudMidPush},
		restartDB,
		{32 * time.Second, "kill -9 an edge mid-push", func() { w.killEdgeMidPush(w.edges[rng.IntN(len(w.edges))]) }},
	}
	if w.citus != nil {
		// Between the coordinator's restart and the last edge kill: the
		// worker's restart cuts every connection the coordinator's
		// backends hold to it, in the middle of pushes and long polls.
		steps = slices.Insert(steps, 3, step{28 * time.Second, "restart the Citus worker holding the organization's shards", w.restartTenantWorker})
	}
	cuts := make([]time.Time, len(w.edges)) // when each cut link comes back
	for time.Since(start) < span {
		now := time.Now()
		for i, until := range cuts {
			if !until.IsZero() && now.After(until) {
				w.edges[i].link.setUp(true)
				cuts[i] = time.Time{}
			}
		}
		if len(steps) > 0 && time.Since(start) >= steps[0].at {
			t.Logf("%5.1fs chaos: %s", time.Since(start).Seconds(), steps[0].name)
			steps[0].do()
			steps = steps[1:]
			continue
		}
		if rng.IntN(20) == 0 {
			i := rng.IntN(len(w.edges))
			if cuts[i].IsZero() {
				cuts[i] = now.Add(time.Duration(300+rng.IntN(3000)) * time.Millisecond)
				w.edges[i].link.setUp(false)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// midPush waits (bounded) until bytes flow from an edge towards the
// cloud: a push is on the wire.
func midPush(links ...*linkProxy) {
	before := make([]int64, len(links))
	for i, l := range links {
		before[i] = l.upBytes.Load()
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for i, l := range links {
			if l.up.Load() && l.upBytes.Load() > before[i] {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
}

// restartDB restarts the database (on Citus, the coordinator) with
// restart and gives the test a new superuser connection: the restart cut
// the old one.
func (w *world) restartDB(restart func(context.Context) error) {
	t := w.t
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := restart(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := pgx.Connect(ctx, w.pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	w.db.Close(ctx)
	w.db = c
}

// restartTenantWorker restarts the Citus worker that holds the
// organization's shards (every tenant table is co-located with orders,
// so one worker holds all of its rows): the other holds none of them,
// and its restart would cut only the queries that visit every shard.
func (w *world) restartTenantWorker() {
	t := w.t
	var host string
	var port int
	err := w.db.QueryRow(context.Background(), `SELECT nodename, nodeport FROM citus_shards
		WHERE table_name = 'orders'::regclass AND shardid = get_shard_id_for_distribution_column('orders', $1::uuid)`, w.orgID).Scan(&host, &port)
	if err != nil {
		t.Fatalf("find the worker holding organization %s: %v", w.orgID, err)
	}
	t.Logf("the organization's shards are on %s:%d", host, port)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// w.db needs no new connection: between transactions, the
	// coordinator replaces its cut connection to the worker by itself.
	// The cloud's transactions under way when it went fail, and are
	// retried by the edges that sent them.
	if err := w.citus.RestartWorker(ctx, host, port); err != nil {
		t.Fatal(err)
	}
}

func (w *world) killEdgeMidPush(e *edgeNode) {
	e.link.setUp(true)
	midPush(e.link)
	e.mu.Lock()
	p := e.proc
	e.mu.Unlock()
	kill9(p)
	time.Sleep(500 * time.Millisecond)
	w.startEdge(e)
}

func (w *world) killCloudMidPush() {
	var links []*linkProxy
	for _, e := range w.edges {
		links = append(links, e.link)
	}
	midPush(links...)
	kill9(w.cloud)
	time.Sleep(500 * time.Millisecond)
	w.startCloud()
}

// waitConverged waits until every edge's outbox is acknowledged to its
// end and every edge holds its site's latest configuration and cloud
// stock movements.
func (w *world) waitConverged(limit time.Duration) {
	t := w.t
	deadline := time.Now().Add(limit)
	for {
		var behind []string
		for _, e := range w.edges {
			var st sqlite.SyncReport
			w.cliJSON(&st, "edge", "status", "--data", e.dir, "--json")
			var rev, stockSeq int64
			if err := w.db.QueryRow(context.Background(), `SELECT catalog_revision, stock_seq FROM sites WHERE id = $1`, e.siteID).Scan(&rev, &stockSeq); err != nil {
				t.Fatal(err)
			}
			if st.Outbox.AckedSeq < st.Outbox.LastSeq || st.Cursor.ConfigRevision < rev || st.Cursor.StockSeq < stockSeq {
				behind = append(behind, fmt.Sprintf("edge %d: acked %d of %d, config %d of %d, stock %d of %d (failures %d: %s)",
					e.i, st.Outbox.AckedSeq, st.Outbox.LastSeq, st.Cursor.ConfigRevision, rev, st.Cursor.StockSeq, stockSeq, st.ConsecutiveFailures, st.LastError))
			}
		}
		if len(behind) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not converged within %s:\n%s", limit, strings.Join(behind, "\n"))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// stopEdges stops every edge gracefully so their files can be read.
func (w *world) stopEdges() {
	for _, e := range w.edges {
		e.mu.Lock()
		p := e.proc
		e.mu.Unlock()
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		if err := p.cmd.Wait(); err != nil {
			w.t.Errorf("edge %d did not stop cleanly: %v", e.i, err)
		}
	}
}

// compare checks, site by site, that the cloud holds exactly what the
// edge does.
func (w *world) compare() {
	t := w.t
	for _, e := range w.edges {
		edb, err := sql.Open("sqlite", "file:"+filepath.Join(e.dir, sqlite.FileName)+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		defer edb.Close()
		sets := []struct{ name, edge, cloud string }{
			{"orders", `SELECT id || '|' || status || '|' || total FROM orders`,
				`SELECT id || '|' || status || '|' || total FROM orders WHERE site_id = $1`},
			// Whole seconds both sides: the edge keeps unix nanoseconds.
			{"deliver-by times", `SELECT id || '|' || (deliver_by / 1000000000) FROM orders WHERE deliver_by IS NOT NULL`,
				`SELECT id || '|' || extract(epoch FROM deliver_by)::bigint FROM orders WHERE site_id = $1 AND deliver_by IS NOT NULL`},
			{"order lines", `SELECT order_id || '|' || line_no || '|' || item_id || '|' || quantity || '|' || line_total FROM order_lines`,
				`SELECT l.order_id || '|' || l.line_no || '|' || l.item_id || '|' || l.quantity || '|' || l.line_total
					FROM order_lines l JOIN orders o ON o.organization_id = l.organization_id AND o.id = l.order_id WHERE o.site_id = $1`},
			{"status changes", `SELECT order_id || '|' || from_status || '|' || to_status FROM order_status_history`,
				`SELECT h.order_id || '|' || coalesce(h.from_status, '') || '|' || h.to_status
					FROM order_status_history h JOIN orders o ON o.organization_id = h.organization_id AND o.id = h.order_id
					WHERE o.site_id = $1 AND coalesce(h.from_status, '') <> ''`}, // the edge records transitions; the cloud also the first step
			{"payments", `SELECT id || '|' || order_id || '|' || amount FROM payments`,
				`SELECT p.id || '|' || p.order_id || '|' || p.amount FROM payments p
					JOIN orders o ON o.organization_id = p.organization_id AND o.id = p.order_id WHERE o.site_id = $1`},
			{"stock movements", `SELECT id || '|' || item_id || '|' || delta FROM stock_movements`,
				`SELECT id || '|' || item_id || '|' || delta FROM stock_movements WHERE site_id = $1`},
			{"stock levels", `SELECT item_id || '|' || level FROM stock_levels`,
				`SELECT item_id || '|' || sum(delta) FROM stock_movements WHERE site_id = $1 GROUP BY item_id`},
			// The latest catalog: what the edge sells, at the price the
			// admin set last.
			{"menu and prices", `SELECT id || '|' || price_amount || '|' || menu_available FROM items WHERE archived_at IS NULL`,
				`SELECT i.id || '|' || coalesce(m.price_amount, i.price_amount) || '|' || CASE WHEN m.available THEN 1 ELSE 0 END
					FROM site_menu_items m JOIN items i ON i.organization_id = m.organization_id AND i.id = m.item_id
					WHERE m.site_id = $1 AND i.archived_at IS NULL`},
		}
		for _, s := range sets {
			edge := sqliteStrings(t, edb, s.edge)
			cloud := pgStrings(t, w.db, s.cloud, e.siteID)
			if sum(edge) != sum(cloud) {
				t.Errorf("edge %d %s: edge has %d (checksum %s), cloud %d (checksum %s)\n%s",
					e.i, s.name, len(edge), sum(edge), len(cloud), sum(cloud), diff(edge, cloud))
			} else {
				t.Logf("edge %d %s: %d, checksum %s: equal", e.i, s.name, len(edge), sum(edge)[:12])
			}
		}
		held := map[string]bool{}
		for _, o := range sqliteStrings(t, edb, `SELECT id FROM orders`) {
			held[o] = true
		}
		for id := range e.ordered {
			if !held[id] {
				t.Errorf("edge %d lost order %s after answering 201", e.i, id)
			}
		}
		if len(e.ordered) == 0 {
			t.Errorf("edge %d took no orders: the test tested nothing there", e.i)
		}
	}
}

func sqliteStrings(t testing.TB, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("edge: %s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func pgStrings(t testing.TB, db *pgx.Conn, q string, args ...any) []string {
	t.Helper()
	rows, _ := db.Query(context.Background(), q, args...)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("cloud: %s: %v", q, err)
	}
	slices.Sort(out)
	return out
}

func sum(rows []string) string {
	h := sha256.New()
	for _, r := range rows {
		h.Write([]byte(r))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// diff shows a few rows only one side has.
func diff(edge, cloud []string) string {
	in := func(rows []string) map[string]int {
		m := map[string]int{}
		for _, r := range rows {
			m[r]++
		}
		return m
	}
	e, c := in(edge), in(cloud)
	var b strings.Builder
	n := 0
	for r, k := range e {
		if c[r] != k && n < 10 {
			fmt.Fprintf(&b, "  edge %d× cloud %d×: %s\n", k, c[r], r)
			n++
		}
	}
	for r, k := range c {
		if e[r] != k && e[r] == 0 && n < 20 {
			fmt.Fprintf(&b, "  edge 0× cloud %d×: %s\n", k, r)
			n++
		}
	}
	return b.String()
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// lockedBuffer collects the processes' output, each line prefixed with
// who wrote it, for a failing test to show.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) prefixed(name string) *prefixWriter { return &prefixWriter{b: b, name: name} }

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > 200_000 {
		s = "…" + s[len(s)-200_000:]
	}
	return s
}

type prefixWriter struct {
	b    *lockedBuffer
	name string
}

func (p *prefixWriter) Write(data []byte) (int, error) {
	p.b.mu.Lock()
	defer p.b.mu.Unlock()
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if line != "" {
			p.b.buf.WriteString(p.name + ": " + line)
		}
	}
	return len(data), nil
}

// TestEdgeInitRefusesClearly: the mistakes a technician can make while
// enrolling a box each end with a sentence saying what happened, and
// leave the box unenrolled.
func TestEdgeInitRefusesClearly(t *testing.T) {
	w := newWorld(t)
	w.start(1)
	site := w.edges[0].siteID
	_, used := w.api("POST", "/api/v1/sites/"+site+"/enrollment-tokens", map[string]any{}, 201)
	w.cli("edge", "init", "--data", t.TempDir(), "--cloud", "http://"+w.addr, "--token", used["token"].(string))
	demo, demoAddr := t.TempDir(), freeAddr(t)
	p := w.spawn("demo", "http://"+demoAddr, "edge", "serve", "--demo", "--data", demo, "--http", demoAddr, "--mqtt", freeAddr(t), "--mqtt-ws", "")
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
	_, fresh := w.api("POST", "/api/v1/sites/"+site+"/enrollment-tokens", map[string]any{}, 201)
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"UsedToken":    {[]string{"--data", t.TempDir(), "--cloud", "http://" + w.addr, "--token", used["token"].(string)}, "already been used"},
		"UnknownToken": {[]string{"--data", t.TempDir(), "--cloud", "http://" + w.addr, "--token", "et_not-a-token"}, "refused the enrollment"},
		"NoCloud":      {[]string{"--data", t.TempDir(), "--cloud", "http://" + freeAddr(t), "--token", fresh["token"].(string)}, "cannot reach the cloud"},
		"NoToken":      {[]string{"--data", t.TempDir(), "--cloud", "http://" + w.addr}, "--token"},
		"DemoDir":      {[]string{"--data", demo, "--cloud", "http://" + w.addr, "--token", fresh["token"].(string)}, "demo"},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := exec.Command(w.bin, append([]string{"edge", "init"}, tc.args...)...).CombinedOutput()
			if err == nil {
				t.Fatalf("init succeeded:\n%s", out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("output does not say %q:\n%s", tc.want, out)
			}
		})
	}
	// None of the refusals above spent the fresh token.
	w.cli("edge", "init", "--data", t.TempDir(), "--cloud", "http://"+w.addr, "--token", fresh["token"].(string))
}

// TestEdgeInitMakesDataPrivate: the data directory holds the credential.
func TestEdgeInitMakesDataPrivate(t *testing.T) {
	w := newWorld(t)
	w.start(1)
	_, tok := w.api("POST", "/api/v1/sites/"+w.edges[0].siteID+"/enrollment-tokens", map[string]any{}, 201)
	dir := filepath.Join(t.TempDir(), "node")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	w.cli("edge", "init", "--data", dir, "--cloud", "http://"+w.addr, "--token", tok["token"].(string))
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Fatalf("data directory mode %o, want 700", perm)
	}
	var st sqlite.SyncReport
	w.cliJSON(&st, "edge", "status", "--data", dir, "--json")
	if !st.Enrolled || st.Cursor.ConfigRevision == 0 {
		t.Fatalf("status after init: %+v", st)
	}
	edb, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer edb.Close()
	cred := sqliteStrings(t, edb, `SELECT credential FROM enrollment`)
	if len(cred) != 1 || len(cred[0]) < 32 {
		t.Fatalf("stored credential: %q", cred)
	}
	for _, args := range [][]string{{"edge", "status", "--data", dir}, {"edge", "status", "--data", dir, "--json"}} {
		if out := w.cli(args...); bytes.Contains(out, []byte(cred[0])) {
			t.Fatalf("pantry %s shows the credential:\n%s", strings.Join(args, " "), out)
		}
	}
}
