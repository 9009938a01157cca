package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/cloud/postgres"
	"github.com/pantry/pantry/cloud/server"
	"github.com/pantry/pantry/internal/pgtest"
)

// BenchmarkDashboardPages measures the dashboard as its people meet it:
// every page over HTTP, signed in through the sign-in form, rendered by
// the real server from a database seeded as cloud/postgres's
// BenchmarkDashboardReads seeds it (postgres.SeedLoad: a million orders
// across 100 organizations with PANTRY_BENCH_ORDERS=1000000). Not a
// store benchmark: each request pays for the session lookup, the
// permission checks, every read the page makes, the template and HTTP.
//
// The pages are the server's own list (Server.Routes): every dashboard
// GET route without a path parameter, and those whose parameters the seed
// can fill (a site, an order, an item… of the signed-in person's
// organization), plus the live orders page filtered by status and site.
// Event streams are left to LiveOrders. Each organization has a
// dashboard owner, signed in once; a request picks a kind of page and an
// organization at random. Any answer but 200 is an error.
//
//	Max         as fast as PANTRY_BENCH_CLIENTS clients go (default 4 per CPU)
//	AtNpps      open loop at PANTRY_BENCH_PAGE_RATE pages/s (default 100): a
//	            request's latency runs from when it was due
//	LiveOrders  two instances on the database; orders pushed through A by
//	            the sync API, at PANTRY_BENCH_LIVE_RATE a second (default 20),
//	            timed until B's live stream tells a signed-in page of them
//	LiveOrdersAtNpps  the same while A serves pages at the open loop's rate
//
// Each phase runs PANTRY_BENCH_DURATION per b.N (default 8s, so that
// `make bench` takes under a minute): use -benchtime 1x, or Nx for more
// samples. The seed's size is set as for BenchmarkDashboardReads
// (PANTRY_BENCH_ORDERS, _ORGS, _SITES, _DAYS), seeded once per run.
func BenchmarkDashboardPages(b *testing.B) {
	e := newPageBench(b)
	dur := envDuration(b, "PANTRY_BENCH_DURATION", 8*time.Second)
	b.Run("Max", func(b *testing.B) {
		clients := envInt(b, "PANTRY_BENCH_CLIENTS", 4*runtime.GOMAXPROCS(0))
		var all samples
		start := time.Now()
		for range b.N {
			all.merge(e.closedLoop(clients, dur))
		}
		b.ReportMetric(float64(len(all.list))/time.Since(start).Seconds(), "pages/s")
		e.report(b, fmt.Sprintf("as fast as %d clients go", clients), &all)
	})
	rate := envInt(b, "PANTRY_BENCH_PAGE_RATE", 100)
	b.Run(fmt.Sprintf("At%dpps", rate), func(b *testing.B) {
		var all samples
		start := time.Now()
		for range b.N {
			all.merge(e.openLoop(rate, dur))
		}
		b.ReportMetric(float64(len(all.list))/time.Since(start).Seconds(), "pages/s")
		e.report(b, fmt.Sprintf("open loop at %d pages/s", rate), &all)
	})
	live := envInt(b, "PANTRY_BENCH_LIVE_RATE", 20)
	b.Run("LiveOrders", func(b *testing.B) { e.liveOrders(b, live, dur, 0) })
	b.Run(fmt.Sprintf("LiveOrdersAt%dpps", rate), func(b *testing.B) { e.liveOrders(b, live, dur, rate) })
	e.logServerErrors(b)
}

// pageBench is the seeded database, two cloud instances on it, the
// signed-in organizations and the pages to ask for.
type pageBench struct {
	cloudA, cloudB *cloudtest.Server
	orgs           []benchOrg
	kinds          []pageKind
	client         *http.Client
	serverLog      *lockedLog
}

// benchOrg is a seeded organization with its signed-in dashboard owner.
type benchOrg struct {
	postgres.SeededOrg
	email   string
	session string // the pantry_session cookie's value
}

// pageKind is one page of the dashboard, as many URLs as the seed gives
// it: paths[i] are organization i's (none: it has nothing to show there).
type pageKind struct {
	name  string
	paths [][]string
}

func newPageBench(b *testing.B) *pageBench {
	b.Helper()
	dbURL, seeded := seedPages(b)
	e := &pageBench{serverLog: &lockedLog{}, client: &http.Client{
		Timeout:       30 * time.Second,
		Transport:     &http.Transport{MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	logTo := func(c *server.Config) {
		c.Log = slog.New(slog.NewTextHandler(e.serverLog, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	e.cloudA, e.cloudB = cloudtest.StartOn(b, dbURL, logTo), cloudtest.StartOn(b, dbURL, logTo)
	start := time.Now()
	for i, org := range seeded.Orgs {
		bo := benchOrg{SeededOrg: org, email: benchEmail(i, org.ID)}
		c := newClient(b, e.cloudA)
		if p := c.signIn(b, bo.email, cloudtest.Password); p.Status != http.StatusSeeOther {
			b.Fatalf("%s signs in: %d\n%s", bo.email, p.Status, p.Body)
		}
		bo.session = c.cookie("pantry_session")
		e.orgs = append(e.orgs, bo)
	}
	b.Logf("%d dashboard owners signed in through /login in %s", len(e.orgs), time.Since(start).Round(time.Millisecond))
	e.discover(b, dbURL)
	e.warm(b)
	return e
}

// seedPages seeds a new database as BenchmarkDashboardReads does, adds a
// dashboard owner to each organization, and returns the database's URL.
func seedPages(b *testing.B) (string, postgres.Seeded) {
	b.Helper()
	ctx := context.Background()
	orders := envInt(b, "PANTRY_BENCH_ORDERS", 50_000)
	sites := 4
	if orders >= 1_000_000 {
		sites = 10
	}
	spec := postgres.SeedSpec{
		Orgs: envInt(b, "PANTRY_BENCH_ORGS", min(max(orders/10_000, 5), 100)), SitesPerOrg: envInt(b, "PANTRY_BENCH_SITES", sites),
		SpacesPerSite: 10, Items: 40, Orders: orders, Days: envInt(b, "PANTRY_BENCH_DAYS", 90), Now: time.Now(), Seed: 1,
	}
	dbURL := pgtest.NewDatabase(b)
	if _, err := postgres.Migrate(ctx, dbURL, postgres.MigrateOptions{}); err != nil {
		b.Fatalf("migrate: %v", err)
	}
	store, err := postgres.Open(ctx, dbURL, postgres.Options{MaxConns: int32(4 * runtime.GOMAXPROCS(0))})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	start := time.Now()
	seeded, err := postgres.SeedLoad(ctx, store, spec)
	if err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	// The seeded owners cannot sign in (their hash is a dummy): each
	// organization gets a second owner who can, and may open every page.
	hash, err := cloudtest.Cheap.Hash(cloudtest.Password)
	if err != nil {
		b.Fatal(err)
	}
	for i, org := range seeded.Orgs {
		_, err := store.CreateUser(ctx, org.ID, cloud.Actor{Type: "system"},
			cloud.UserInput{Email: benchEmail(i, org.ID), Name: "Bench owner", Role: cloud.RoleOwner, PasswordHash: hash})
		if err != nil {
			b.Fatalf("create the dashboard owner of organization %d: %v", i+1, err)
		}
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		b.Fatal(err)
	}
	var size string
	if err := conn.QueryRow(ctx, "SELECT pg_size_pretty(pg_database_size(current_database()))").Scan(&size); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d orders, %d organizations x %d sites x %d rooms, %d items each, over %d days in %s (%.0f orders/s); database %s",
		spec.Orders, spec.Orgs, spec.SitesPerOrg, spec.SpacesPerSite, spec.Items, spec.Days, took.Round(time.Millisecond),
		float64(spec.Orders)/took.Seconds(), size)
	return dbURL, seeded
}

func benchEmail(i int, orgID string) string {
	return fmt.Sprintf("bench-owner-%d@%s.example", i+1, orgID[len(orgID)-12:])
}

// paramTables says where the seed's ids for a route parameter are: the
// table with the organization's rows of that kind.
var paramTables = map[string]string{
	"site_id": "sites", "order_id": "orders", "item_id": "items", "space_id": "spaces", "room_id": "spaces",
	"user_id": "users", "node_id": "edge_nodes", "coupon_id": "coupons", "cost_center_id": "cost_centers",
	"tablet_id": "tablets", "api_key_id": "api_keys", "key_id": "api_keys", "dead_letter_id": "dead_letters",
}

// fillsPerOrg is how many different URLs a parameterised page has per
// organization (random rows: an order from any of the 90 days).
const fillsPerOrg = 50

// discover lists the pages to ask for: the server's GET routes that are
// dashboard pages and not event streams, each with the URLs the seed can
// fill its parameters with, and the filters of the live orders page.
func (e *pageBench) discover(b *testing.B, dbURL string) {
	b.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	var skipped []string
	for _, route := range e.cloudA.Routes() {
		method, path, _ := strings.Cut(route, " ")
		if method != http.MethodGet || !dashboardRoute(route) || signedOut[route] || strings.HasPrefix(path, "/login") {
			continue
		}
		k := pageKind{name: path, paths: make([][]string, len(e.orgs))}
		why := ""
		for i, org := range e.orgs {
			if k.paths[i], why = fillRoute(b, conn, org.ID, path); why != "" {
				break
			}
		}
		switch {
		case why != "":
		case k.count() == 0:
			why = "the seed has no rows to fill it with"
		case e.isStream(b, k):
			why = "an event stream: see LiveOrders"
		}
		if why != "" {
			skipped = append(skipped, path+": "+why)
			continue
		}
		e.kinds = append(e.kinds, k)
	}
	e.kinds = append(e.kinds, e.orderFilters()...)
	var names []string
	for _, k := range e.kinds {
		names = append(names, fmt.Sprintf("%s (%d URLs)", k.name, k.count()))
	}
	b.Logf("pages measured (%d):\n  %s", len(e.kinds), strings.Join(names, "\n  "))
	if len(skipped) > 0 {
		b.Logf("routes not measured:\n  %s", strings.Join(skipped, "\n  "))
	}
}

// orderFilters are the live orders page's filters: open orders, a site's
// orders, a site's open orders.
func (e *pageBench) orderFilters() []pageKind {
	filters := []struct {
		name string
		path func(site string) string
	}{
		{"/orders?status=open", func(string) string { return "/orders?status=open" }},
		{"/orders?site=:site_id", func(s string) string { return "/orders?site=" + s }},
		{"/orders?site=:site_id&status=open", func(s string) string { return "/orders?site=" + s + "&status=open" }},
	}
	var out []pageKind
	for _, f := range filters {
		k := pageKind{name: f.name, paths: make([][]string, len(e.orgs))}
		for i, org := range e.orgs {
			for _, s := range org.Sites {
				k.paths[i] = append(k.paths[i], f.path(s.ID))
			}
		}
		out = append(out, k)
	}
	return out
}

// fillRoute returns up to fillsPerOrg paths of route for organization
// org, its parameters filled with ids of its rows; a parameter that names
// a site's child (a room of the site) takes one of that site's. why says
// why the route cannot be filled at all.
func fillRoute(b *testing.B, conn *pgx.Conn, org, route string) (paths []string, why string) {
	b.Helper()
	segs := strings.Split(route, "/")
	var params []int // indexes in segs
	var cols, from []string
	siteAlias := ""
	for i, s := range segs {
		if strings.ContainsAny(s, "*+") {
			return nil, "a wildcard route"
		}
		if !strings.HasPrefix(s, ":") {
			continue
		}
		name := strings.TrimSuffix(s[1:], "?")
		table, ok := paramTables[name]
		if !ok {
			return nil, "no seeded ids for :" + name
		}
		alias := "t" + strconv.Itoa(len(params))
		join := fmt.Sprintf("%s %s", table, alias)
		if len(params) > 0 {
			join = "JOIN " + join + " ON " + alias + ".organization_id = t0.organization_id"
			if siteAlias != "" && hasColumn(b, conn, table, "site_id") {
				join += " AND " + alias + ".site_id = " + siteAlias + ".id"
			}
		}
		if name == "site_id" {
			siteAlias = alias
		}
		params, cols, from = append(params, i), append(cols, alias+".id::text"), append(from, join)
	}
	if len(params) == 0 {
		return []string{route}, ""
	}
	sql := fmt.Sprintf("SELECT %s FROM %s WHERE t0.organization_id = $1 ORDER BY random() LIMIT %d",
		strings.Join(cols, ", "), strings.Join(from, " "), fillsPerOrg)
	rows, err := conn.Query(context.Background(), sql, org)
	if err != nil {
		b.Fatalf("fill %s: %v\n%s", route, err, sql)
	}
	ids, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]string, error) {
		out := make([]string, len(params))
		ptrs := make([]any, len(params))
		for i := range out {
			ptrs[i] = &out[i]
		}
		return out, r.Scan(ptrs...)
	})
	if err != nil {
		b.Fatalf("fill %s: %v", route, err)
	}
	for _, row := range ids {
		filled := slices.Clone(segs)
		for j, i := range params {
			filled[i] = row[j]
		}
		paths = append(paths, strings.Join(filled, "/"))
	}
	return paths, ""
}

func hasColumn(b *testing.B, conn *pgx.Conn, table, column string) bool {
	b.Helper()
	var ok bool
	err := conn.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM information_schema.columns
		WHERE table_schema = 'public' AND table_name = $1 AND column_name = $2)`, table, column).Scan(&ok)
	if err != nil {
		b.Fatal(err)
	}
	return ok
}

func (k pageKind) count() int {
	n := 0
	for _, p := range k.paths {
		n += len(p)
	}
	return n
}

// isStream asks for one of k's URLs and reports whether it answers with
// an event stream (which never ends: not a page to time).
func (e *pageBench) isStream(b *testing.B, k pageKind) bool {
	b.Helper()
	for i, paths := range k.paths {
		if len(paths) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.cloudA.URL+paths[0], nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Cookie", "pantry_session="+e.orgs[i].session)
		resp, err := e.client.Do(req)
		if err != nil {
			b.Fatalf("GET %s: %v", paths[0], err)
		}
		resp.Body.Close()
		return strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")
	}
	return false
}

// warm asks for every page of every organization once, untimed: the
// first request of a kind pays for connections, caches and plans.
func (e *pageBench) warm(b *testing.B) {
	b.Helper()
	start := time.Now()
	n := 0
	for _, k := range e.kinds {
		for i, paths := range k.paths {
			if len(paths) > 0 {
				e.get(e.cloudA.URL, e.orgs[i].session, paths[0])
				n++
			}
		}
	}
	b.Logf("warmed up with %d requests in %s", n, time.Since(start).Round(time.Millisecond))
}

// pick chooses a request's URL: a kind of page, an organization that
// has that page and one of its URLs, each at random. (Kinds taken in
// turn would always put the same pages right after the heaviest, the QR
// sheets, and charge them for their CPU.)
func (e *pageBench) pick(rng *rand.Rand) (kind int, session, path string) {
	kind = rng.IntN(len(e.kinds))
	k := e.kinds[kind]
	for {
		i := rng.IntN(len(e.orgs))
		if paths := k.paths[i]; len(paths) > 0 {
			return kind, e.orgs[i].session, paths[rng.IntN(len(paths))]
		}
	}
}

// get asks for one page as a signed-in browser does, reads it whole, and
// returns its status ("" body unless it is an error).
func (e *pageBench) get(base, session, path string) (int, string) {
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set("Cookie", "pantry_session="+session)
	req.Header.Set("Accept", "text/html")
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err.Error()
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, string(body)
	}
	return resp.StatusCode, ""
}

func envDuration(tb testing.TB, name string, def time.Duration) time.Duration {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		tb.Fatalf("%s=%q: want a positive duration such as 30s", name, v)
	}
	return d
}

func envInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}
