package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
)

// BenchmarkDashboardReads measures the dashboard's main reads against a
// seeded database, each from many goroutines at once (b.RunParallel):
// as fast as they answer, reporting throughput and latency percentiles;
// then at a fixed rate, each alone and all four in turn (open loop: a
// request's latency counts from when it was due, so a server that falls
// behind cannot hide its queue).
//
// The data is seeded once per run of this benchmark (two to three
// minutes for a million orders on two cores; use -count=1). Environment:
//
//	PANTRY_BENCH_ORDERS       orders to seed (default 50,000; the target is 1,000,000)
//	PANTRY_BENCH_ORGS         organizations (default orders/10,000, between 5 and 100)
//	PANTRY_BENCH_SITES        sites per organization (default 4; 10 from a million orders)
//	PANTRY_BENCH_DAYS         days the orders span (default 90)
//	PANTRY_BENCH_PARALLELISM  goroutines per CPU (default 4)
//	PANTRY_BENCH_RATE         requests per second of the fixed-rate run (default 500)
//	PANTRY_BENCH_EXPLAIN=1    log EXPLAIN (ANALYZE, BUFFERS) of the slowest read
func BenchmarkDashboardReads(b *testing.B) {
	env := seedBench(b)
	queries := benchQueries()
	p99 := map[string]time.Duration{}
	for _, q := range queries {
		b.Run(q.name, func(b *testing.B) {
			lat := runParallel(b, env, func(ctx context.Context, rng *rand.Rand) error { return q.run(ctx, env.store, env.target(rng)) })
			p99[q.name] = lat.report(b, "")
		})
	}
	rate := envInt(b, "PANTRY_BENCH_RATE", 500)
	b.Run(fmt.Sprintf("At%drps", rate), func(b *testing.B) {
		for _, q := range queries {
			b.Run(q.name, func(b *testing.B) { runAtRate(b, env, []benchQuery{q}, rate) })
		}
		b.Run("Mixed", func(b *testing.B) { runAtRate(b, env, queries, rate) })
	})
	if os.Getenv("PANTRY_BENCH_EXPLAIN") == "1" {
		slowest := slices.MaxFunc(queries, func(x, y benchQuery) int { return int(p99[x.name] - p99[y.name]) })
		b.Logf("EXPLAIN (ANALYZE, BUFFERS) of the slowest read by p99, %s:\n%s", slowest.name, explainAnalyze(b, env, slowest))
	}
}

// benchEnv is the seeded database and what the reads pick from.
type benchEnv struct {
	store       *Store
	seeded      Seeded
	now         time.Time
	days        int
	parallelism int
}

// benchTarget is what one read asks about.
type benchTarget struct {
	org, site string
	day       time.Time // a UTC midnight within the seeded period
	now       time.Time
}

func (e *benchEnv) target(rng *rand.Rand) benchTarget {
	org := e.seeded.Orgs[rng.IntN(len(e.seeded.Orgs))]
	midnight := e.now.Truncate(24 * time.Hour)
	return benchTarget{org: org.ID, site: org.Sites[rng.IntN(len(org.Sites))].ID,
		day: midnight.Add(-time.Duration(rng.IntN(e.days)) * 24 * time.Hour), now: e.now}
}

func seedBench(b *testing.B) *benchEnv {
	b.Helper()
	return seedBenchOn(b, migratedDB(b, MigrateOptions{}), 50_000)
}

// seedBenchOn seeds the migrated database at url (a superuser URL) as
// PANTRY_BENCH_* say (defOrders orders unless PANTRY_BENCH_ORDERS says)
// and opens the store the reads go through.
func seedBenchOn(b *testing.B, url string, defOrders int) *benchEnv {
	b.Helper()
	orders := envInt(b, "PANTRY_BENCH_ORDERS", defOrders)
	sites := 4
	if orders >= 1_000_000 {
		sites = 10
	}
	spec := SeedSpec{
		Orgs: envInt(b, "PANTRY_BENCH_ORGS", min(max(orders/10_000, 5), 100)), SitesPerOrg: envInt(b, "PANTRY_BENCH_SITES", sites),
		SpacesPerSite: 10, Items: 40, Orders: orders, Days: envInt(b, "PANTRY_BENCH_DAYS", 90), Now: time.Now(), Seed: 1,
	}
	env := &benchEnv{now: spec.Now.UTC().Truncate(time.Microsecond), days: spec.Days, parallelism: envInt(b, "PANTRY_BENCH_PARALLELISM", 4)}
	env.store = mustOpen(b, url, Options{MaxConns: int32(env.parallelism * runtime.GOMAXPROCS(0))})
	start := time.Now()
	var err error
	if env.seeded, err = SeedLoad(b.Context(), env.store, spec); err != nil {
		b.Fatal(err)
	}
	seeded := time.Since(start)
	if _, err := mustConnect(b, url).Exec(b.Context(), "VACUUM ANALYZE"); err != nil {
		b.Fatal(err)
	}
	var size string
	if err := mustConnect(b, url).QueryRow(b.Context(), "SELECT pg_size_pretty(pg_database_size(current_database()))").Scan(&size); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d orders, %d organizations x %d sites x %d rooms, %d items each, over %d days in %s (%.0f orders/s); VACUUM ANALYZE %s; database %s",
		spec.Orders, spec.Orgs, spec.SitesPerOrg, spec.SpacesPerSite, spec.Items, spec.Days, seeded.Round(time.Millisecond),
		float64(spec.Orders)/seeded.Seconds(), (time.Since(start) - seeded).Round(time.Millisecond), size)
	return env
}

// benchQuery is one dashboard read: run does it as the API would, sql
// says which statement it runs (for EXPLAIN).
type benchQuery struct {
	name string
	run  func(ctx context.Context, s *Store, t benchTarget) error
	sql  func(t benchTarget) (string, []any, error)
}

// stockLevelsSQL is the heart of a site's stock page: a level is the sum
// of the item's movements (DESIGN.md), read from the stock_movements_level
// index alone. Store.StockLevels (stock.go) wraps the same sum in a join
// with the items; the benchmark keeps its own copy so that it does not
// depend on that file's shape.
const stockLevelsSQL = `SELECT item_id, sum(delta) FROM stock_movements
	WHERE organization_id = $1 AND site_id = $2 GROUP BY item_id`

func benchQueries() []benchQuery {
	open := func(t benchTarget) cloud.OrderFilter {
		return cloud.OrderFilter{SiteID: t.site, Status: cloud.StatusOpen}
	}
	day := func(t benchTarget) cloud.OrderFilter {
		return cloud.OrderFilter{SiteID: t.site, From: t.day, To: t.day.Add(24 * time.Hour)}
	}
	month := func(t benchTarget) cloud.ReportFilter {
		return cloud.ReportFilter{From: t.now.Add(-30 * 24 * time.Hour), To: t.now, GroupBy: cloud.GroupByDay}
	}
	list := func(f func(benchTarget) cloud.OrderFilter, limit int) benchQuery {
		return benchQuery{
			run: func(ctx context.Context, s *Store, t benchTarget) error {
				_, _, err := s.ListOrders(ctx, t.org, f(t), cloud.Page{Limit: limit})
				return err
			},
			sql: func(t benchTarget) (string, []any, error) {
				sql, args, _, err := orderListQuery(t.org, f(t), cloud.Page{Limit: limit})
				return sql, args, err
			},
		}
	}
	qs := []benchQuery{list(open, 100), list(day, 100), {
		run: func(ctx context.Context, s *Store, t benchTarget) error {
			_, err := s.Consumption(ctx, t.org, month(t))
			return err
		},
		sql: func(t benchTarget) (string, []any, error) { return reportQuery(t.org, month(t)) },
	}, {
		run: func(ctx context.Context, s *Store, t benchTarget) error {
			return s.InTenant(ctx, t.org, func(tx pgx.Tx) error {
				rows, _ := tx.Query(ctx, stockLevelsSQL, t.org, t.site)
				_, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
					Item  string
					Level int64
				}])
				return err
			})
		},
		sql: func(t benchTarget) (string, []any, error) { return stockLevelsSQL, []any{t.org, t.site}, nil },
	}}
	for i, name := range []string{"OpenOrdersOfSite", "OrdersOfSiteForDay", "MonthReportByDay", "StockLevelsOfSite"} {
		qs[i].name = name
	}
	return qs
}

// latencies collects request times from many goroutines.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.all = append(l.all, d...)
	l.mu.Unlock()
}

// report adds the percentiles as metrics (suffix tells apart the reads
// of a mixed run) and returns the 99th.
func (l *latencies) report(b *testing.B, suffix string) time.Duration {
	if len(l.all) == 0 {
		return 0
	}
	slices.Sort(l.all)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(l.at(0.50)), "p50-ms"+suffix)
	b.ReportMetric(ms(l.at(0.99)), "p99-ms"+suffix)
	if suffix == "" {
		b.ReportMetric(ms(l.all[len(l.all)-1]), "max-ms")
	}
	return l.at(0.99)
}

// at is the p-th quantile (0 to 1) of the times, once report sorted them.
func (l *latencies) at(p float64) time.Duration {
	if len(l.all) == 0 {
		return 0
	}
	return l.all[min(int(p*float64(len(l.all))), len(l.all)-1)]
}

// runParallel runs do b.N times from parallelism goroutines per CPU, as
// fast as it answers, and reports requests per second.
func runParallel(b *testing.B, env *benchEnv, do func(context.Context, *rand.Rand) error) *latencies {
	var lat latencies
	var seed atomic.Uint64
	b.SetParallelism(env.parallelism)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(seed.Add(1), 0))
		var mine []time.Duration
		for pb.Next() {
			t := time.Now()
			if err := do(context.Background(), rng); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t))
		}
		lat.add(mine)
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
	return &lat
}

// runAtRate sends b.N requests, rotating through queries, at rate per
// second in total, whatever the answers' speed; a request's latency runs
// from the moment it was due. It returns each query's latencies, sorted.
func runAtRate(b *testing.B, env *benchEnv, queries []benchQuery, rate int) []latencies {
	lats := make([]latencies, len(queries))
	var next, seed atomic.Int64
	interval := time.Second / time.Duration(rate)
	// Enough goroutines that a slow answer never delays the next request.
	b.SetParallelism(max(env.parallelism, 32))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(uint64(seed.Add(1)), 1))
		mine := make([][]time.Duration, len(queries))
		for pb.Next() {
			i := next.Add(1) - 1
			due := start.Add(time.Duration(i) * interval)
			time.Sleep(time.Until(due))
			q := int(i) % len(queries)
			if err := queries[q].run(context.Background(), env.store, env.target(rng)); err != nil {
				b.Error(err)
				return
			}
			mine[q] = append(mine[q], time.Since(due))
		}
		for q := range queries {
			lats[q].add(mine[q])
		}
	})
	elapsed := time.Since(start)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	if len(queries) == 1 {
		lats[0].report(b, "")
		return lats
	}
	for q := range queries {
		lats[q].report(b, "-"+queries[q].name)
	}
	return lats
}

// explainAnalyze runs EXPLAIN (ANALYZE, BUFFERS) of q as the service role
// in a random organization's tenant transaction.
func explainAnalyze(b *testing.B, env *benchEnv, q benchQuery) string {
	t := env.target(rand.New(rand.NewPCG(42, 42)))
	sql, args, err := q.sql(t)
	if err != nil {
		b.Fatal(err)
	}
	var out []byte
	err = env.store.InTenant(context.Background(), t.org, func(tx pgx.Tx) error {
		rows, _ := tx.Query(context.Background(), "EXPLAIN (ANALYZE, BUFFERS) "+sql, args...)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		for _, l := range lines {
			out = append(append(out, l...), '\n')
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return sql + "\n" + string(out)
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
