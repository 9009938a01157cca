package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/syncserver"
	"github.com/pantry/pantry/internal/pgtest"
	"github.com/pantry/pantry/syncproto"
)

// BenchmarkCitusVsPostgres puts the Citus cluster (a coordinator and two
// workers, pgtest.NewCitusDatabase, all on this machine) beside a single
// PostgreSQL (the plain test server), in one run and on the same data
// (issue 14): each database is migrated (with MigrateOptions.Citus for
// the cluster) and seeded as BenchmarkDashboardReads seeds (PANTRY_BENCH_*,
// but 20,000 orders unless PANTRY_BENCH_ORDERS says), then measured the
// same way:
//
//   - CatchUp: a new organization's edge node that was offline pushes its
//     backlog (PANTRY_BENCH_EVENTS, default 30,000 events of the realistic
//     mix, edgeSim.mixed) as the edge's pusher does: batches of
//     edgeBatchEvents, edgePushWindow of them on the wire, through the
//     sync server with its production options. Reports events/s and
//     the CPU each server used per event.
//   - TenantPointRead: one tenant transaction reading one row by key,
//     sequentially: what a statement costs on each, with no data work.
//   - Reads: the dashboard's four reads (benchQueries) as fast as
//     PANTRY_BENCH_PARALLELISM goroutines per CPU go; with
//     PANTRY_BENCH_EXPLAIN=1, on PostgreSQL again planned for their
//     values every time (PostgresCustomPlans), which is what a worker
//     does with every query it gets.
//   - Mixed: the four reads in turn, open loop at PANTRY_BENCH_CITUS_RATE
//     requests/s (default 100: a rate both sustain on two shared cores),
//     p50/p99 of each.
//   - Ratio: Citus's figures over PostgreSQL's.
//
// Before Ratio it logs where one push's time goes on each (its
// statements, timed one by one from the client) and, with
// PANTRY_BENCH_EXPLAIN=1, EXPLAIN (ANALYZE, BUFFERS) of the push's
// statements and of every read on both.
//
// The cluster's database has PANTRY_BENCH_CITUS_SHARDS shards per
// distributed table (default 32, Citus's default and what production
// gets; the test databases have 4): set per database, before Migrate
// distributes the tables, with ALTER DATABASE … SET citus.shard_count.
//
// It needs the plain server and the cluster side by side, so it skips
// under PANTRY_TEST_DB=citus, where pgtest hands out Citus databases only.
func BenchmarkCitusVsPostgres(b *testing.B) {
	if pgtest.Citus() {
		b.Skipf("%s=citus: this benchmark compares the cluster with the plain server, which pgtest only gives without it", pgtest.EnvDB)
	}
	shards := envInt(b, "PANTRY_BENCH_CITUS_SHARDS", 32)
	sides := []*benchSide{
		newBenchSide(b, "Postgres", migratedDB(b, MigrateOptions{}), false),
		newBenchSide(b, "Citus", citusBenchDB(b, shards), true),
	}
	events := envInt(b, "PANTRY_BENCH_EVENTS", 30_000)
	for _, s := range sides {
		b.Run("CatchUp/"+s.name, func(b *testing.B) { s.benchCatchUp(b, events) })
	}
	for _, s := range sides {
		b.Run("TenantPointRead/"+s.name, func(b *testing.B) { s.benchPointRead(b) })
	}
	queries := benchQueries()
	for _, s := range sides {
		for _, q := range queries {
			b.Run("Reads/"+s.name+"/"+q.name, func(b *testing.B) {
				s.reads[q.name] = s.benchRead(b, func(ctx context.Context, rng *rand.Rand) error { return q.run(ctx, s.env.store, s.env.target(rng)) })
			})
		}
	}
	explain := os.Getenv("PANTRY_BENCH_EXPLAIN") == "1"
	if pg := sides[0]; explain {
		for _, q := range queries {
			b.Run("Reads/PostgresCustomPlans/"+q.name, func(b *testing.B) { pg.customPlans[q.name] = pg.benchRead(b, customPlan(pg.env, q)) })
		}
	}
	rate := envInt(b, "PANTRY_BENCH_CITUS_RATE", 100)
	for _, s := range sides {
		b.Run(fmt.Sprintf("Mixed%drps/%s", rate, s.name), func(b *testing.B) { s.benchMixed(b, queries, rate) })
	}
	for _, s := range sides {
		b.Logf("%s: where one push of %d events goes, statement by statement, timed from the client:\n%s",
			s.name, edgeBatchEvents, s.pushAnatomy(b))
		if explain {
			b.Logf("%s: EXPLAIN (ANALYZE, BUFFERS) of a push's statements (rolled back):\n%s", s.name, s.explainPush(b))
			for _, q := range queries {
				b.Logf("%s: EXPLAIN (ANALYZE, BUFFERS) of %s:\n%s", s.name, q.name, explainAnalyze(b, s.env, q))
			}
		}
	}
	b.Run("Ratio", func(b *testing.B) { reportRatios(b, sides[0], sides[1], queries) })
	b.Log("\n" + comparisonTable(sides[0], sides[1], queries, rate))
}

// citusBenchOrders is the default number of orders seeded on each side:
// two databases seeded, one of them distributed into 32 shards per table,
// must stay well under a minute in `make bench`.
const citusBenchOrders = 20_000

// The edge's pusher while catching up (edge/syncer, which cloud/ may not
// import): Config.BatchEvents defaults to 10,000 events, the most a push
// may carry (syncproto.MaxBatchEvents); the mix's payloads stay far below
// Config.BatchBytes (8 MiB) at that count; pushWindow is 2.
const (
	edgeBatchEvents = syncproto.MaxBatchEvents
	edgePushWindow  = 2
)

// benchSide is one of the two databases and what was measured on it.
type benchSide struct {
	name  string
	url   string // the superuser's, for EXPLAIN and the cluster's settings
	citus bool
	env   *benchEnv
	nodes []pgNode // its servers' processes, for their CPU time
	sim   *edgeSim // the catching-up node of its own organization

	catchUp      float64            // events/s
	catchUpCPU   map[string]float64 // CPU µs per event, by server and "go"
	pointRead    time.Duration
	pointReadCPU map[string]float64 // CPU µs per transaction
	reads        map[string]readFigures
	customPlans  map[string]readFigures // PostgreSQL's reads with literal values, as a worker gets them
	mixed        map[string]readFigures
}

// readFigures is one read's figures: requests per second, p50, p99 and
// CPU µs per request by process (closed loop only).
type readFigures struct {
	perSec   float64
	p50, p99 time.Duration
	cpu      map[string]float64
}

// newBenchSide seeds the migrated database at url, finds its servers and
// makes the organization whose edge node catches up.
func newBenchSide(b *testing.B, name, url string, citus bool) *benchSide {
	b.Helper()
	s := &benchSide{name: name, url: url, citus: citus, reads: map[string]readFigures{},
		customPlans: map[string]readFigures{}, mixed: map[string]readFigures{}}
	b.Logf("%s: seeding", name)
	s.env = seedBenchOn(b, url, citusBenchOrders)
	s.nodes = findPgNodes(b, url, citus)
	s.sim = newEdgeSim(b, s.env.store, newShop(b, s.env.store, "catch-up"))
	if citus {
		var cached, pool, shards string
		err := mustConnect(b, url).QueryRow(b.Context(), `SELECT current_setting('citus.max_cached_conns_per_worker'),
			current_setting('citus.max_adaptive_executor_pool_size'),
			(SELECT count(*)::text FROM pg_dist_shard WHERE logicalrelid = 'orders'::regclass)`).Scan(&cached, &pool, &shards)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("Citus: %d servers (coordinator first); orders has %s shards; citus.max_cached_conns_per_worker = %s, citus.max_adaptive_executor_pool_size = %s",
			len(s.nodes), shards, cached, pool)
	}
	return s
}

// citusBenchDB is a new, migrated Citus database whose distributed tables
// have shards shards each. pgtest sets citus.shard_count on the database
// it makes; a later ALTER DATABASE … SET wins for every session opened
// after it, Migrate's included, and create_distributed_table reads it
// on the coordinator.
func citusBenchDB(b *testing.B, shards int) string {
	b.Helper()
	dbURL := pgtest.NewCitusDatabase(b)
	u, err := url.Parse(dbURL)
	if err != nil {
		b.Fatal(err)
	}
	name := pgx.Identifier{strings.TrimPrefix(u.Path, "/")}.Sanitize()
	if _, err := mustConnect(b, dbURL).Exec(b.Context(), fmt.Sprintf("ALTER DATABASE %s SET citus.shard_count = %d", name, shards)); err != nil {
		b.Fatalf("set the shard count: %v", err)
	}
	start := time.Now()
	if _, err := Migrate(b.Context(), dbURL, MigrateOptions{Citus: true}); err != nil {
		b.Fatalf("migrate --citus: %v", err)
	}
	b.Logf("Citus: migrated and distributed with %d shards per table in %s", shards, time.Since(start).Round(time.Millisecond))
	return dbURL
}

// benchCatchUp pushes events of the realistic mix b.N times, as an edge
// node does after an outage, and reports events/s and CPU per event.
func (s *benchSide) benchCatchUp(b *testing.B, events int) {
	srv := syncserver.New(s.env.store, syncserver.Options{})
	node := cloud.Node{OrgID: s.sim.sh.org, SiteID: s.sim.sh.sites[0], ID: s.sim.sh.node}
	cpu := newCPUMeter(s.nodes)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		backlog := s.sim.take(events)
		cpu.start()
		b.StartTimer()
		if err := catchUp(b.Context(), srv, node, backlog, s.sim.at); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu.stop()
	}
	s.catchUp = float64(events*b.N) / b.Elapsed().Seconds()
	s.catchUpCPU = cpu.perOp(events * b.N)
	b.ReportMetric(s.catchUp, "events/s")
	reportCPU(b, "us/event", s.catchUpCPU)
}

// catchUp pushes events as node, edgeBatchEvents at a time with
// edgePushWindow pushes on the wire, as the edge's pusher does when its
// outbox is long; a push waits for a free place on the wire, not for the
// one before it. The sync server makes a push that reaches the node's
// lock before the one before it wait (Options.AheadWait).
func catchUp(ctx context.Context, srv *syncserver.Server, node cloud.Node, events []syncproto.Event, sentAt time.Time) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	wire := make(chan struct{}, edgePushWindow)
	var wg sync.WaitGroup
	head := events[len(events)-1].Seq
	for i := 0; i < len(events); i += edgeBatchEvents {
		select {
		case wire <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		batch := events[i:min(i+edgeBatchEvents, len(events))]
		wg.Go(func() {
			defer func() { <-wire }()
			req := syncproto.PushRequest{Version: syncproto.Version, NodeID: node.ID, SoftwareVersion: "bench",
				SentAt: sentAt, OutboxHead: head, Events: batch}
			resp, err := srv.Push(ctx, node, req)
			if err == nil && len(resp.DeadLettered) > 0 {
				err = fmt.Errorf("%d dead letters, the first seq %d", len(resp.DeadLettered), resp.DeadLettered[0])
			}
			if err != nil {
				cancel(fmt.Errorf("push %d..%d: %w", batch[0].Seq, batch[len(batch)-1].Seq, err))
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// benchPointRead runs b.N tenant transactions of one read by primary
// key, one after the other: on Citus the coordinator's planning and its
// round trip to the worker, with next to no work on the shard.
func (s *benchSide) benchPointRead(b *testing.B) {
	org, node := s.sim.sh.org, s.sim.sh.node
	cpu := newCPUMeter(s.nodes)
	cpu.start()
	b.ResetTimer()
	for range b.N {
		err := s.env.store.InTenant(b.Context(), org, func(tx pgx.Tx) error {
			var applied int64
			return tx.QueryRow(b.Context(), `SELECT applied_seq FROM edge_nodes WHERE organization_id = $1 AND id = $2`, org, node).Scan(&applied)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	cpu.stop()
	s.pointRead = b.Elapsed() / time.Duration(b.N)
	s.pointReadCPU = cpu.perOp(b.N)
	reportCPU(b, "us/op", s.pointReadCPU)
}

// benchRead runs do as fast as it goes (runParallel), reports its
// figures and the CPU each process used per request, and returns them.
func (s *benchSide) benchRead(b *testing.B, do func(context.Context, *rand.Rand) error) readFigures {
	cpu := newCPUMeter(s.nodes)
	cpu.start()
	lat := runParallel(b, s.env, do)
	cpu.stop()
	lat.report(b, "")
	f := readFigures{perSec: float64(b.N) / b.Elapsed().Seconds(), p50: lat.at(0.50), p99: lat.at(0.99), cpu: cpu.perOp(b.N)}
	reportCPU(b, "us/req", f.cpu)
	return f
}

// customPlan is read q planned for its values every time (an unnamed
// statement): what a Citus worker does with every query, since the
// coordinator sends it the shard's statement with the values written
// in. The store's prepared statements get PostgreSQL's generic plan
// after five runs instead. The rows are not decoded.
func customPlan(env *benchEnv, q benchQuery) func(context.Context, *rand.Rand) error {
	return func(ctx context.Context, rng *rand.Rand) error {
		t := env.target(rng)
		sql, args, err := q.sql(t)
		if err != nil {
			return err
		}
		return env.store.InTenant(ctx, t.org, func(tx pgx.Tx) error {
			rows, _ := tx.Query(ctx, sql, append([]any{pgx.QueryExecModeCacheDescribe}, args...)...)
			rows.Close()
			return rows.Err()
		})
	}
}

// benchMixed runs the reads in turn at rate per second, open loop, and
// keeps each read's p50 and p99; on Citus it reports how many sessions
// the workers opened meanwhile.
func (s *benchSide) benchMixed(b *testing.B, queries []benchQuery, rate int) {
	// No CPU per request here: at a low rate the servers' background
	// work (autovacuum, Citus's maintenance daemon) is most of it.
	opened := s.workerSessions(b)
	lats := runAtRate(b, s.env, queries, rate)
	for i, q := range queries {
		s.mixed[q.name] = readFigures{perSec: float64(rate) / float64(len(queries)), p50: lats[i].at(0.50), p99: lats[i].at(0.99)}
	}
	if s.citus {
		// Each coordinator backend keeps citus.max_cached_conns_per_worker
		// connections to each worker after its transaction: sessions
		// opened on the workers during the run are connections the
		// reads paid to set up (the count itself opens one per worker).
		b.ReportMetric(float64(s.workerSessions(b)-opened), "worker-sessions")
	}
}

// workerSessions is the number of sessions the workers have opened in
// the database so far (pg_stat_database.sessions), 0 on plain PostgreSQL.
func (s *benchSide) workerSessions(b *testing.B) int64 {
	if !s.citus {
		return 0
	}
	rows, _ := mustConnect(b, s.url).Query(b.Context(), `SELECT result FROM run_command_on_workers(
		$$SELECT sessions FROM pg_stat_database WHERE datname = current_database()$$)`)
	counts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for _, c := range counts {
		v, err := strconv.ParseInt(c, 10, 64)
		if err != nil {
			b.Fatalf("worker sessions: %q", c)
		}
		n += v
	}
	return n
}

// pushAnatomy pushes the catching-up node's next batch with the push's
// own steps (InTenant, lockPushingNode, a savepoint, the set's
// statements, recordPush, commit), timing each from the client, and
// returns the table. It is a real push: the watermark moves.
func (s *benchSide) pushAnatomy(b *testing.B) string {
	g := s.sim
	events := g.take(edgeBatchEvents)
	node := cloud.Node{OrgID: g.sh.org, SiteID: g.sh.sites[0], ID: g.sh.node}
	var steps []anatomyStep
	t0 := time.Now()
	lap := func(name string) {
		now := time.Now()
		steps = append(steps, anatomyStep{name, now.Sub(t0)})
		t0 = now
	}
	decoded := syncserver.Decode(events)
	lap("decode payloads (Go)")
	err := s.env.store.InTenant(b.Context(), node.OrgID, func(tx pgx.Tx) error {
		lap("BEGIN, SET LOCAL tenant")
		applied, err := lockPushingNode(b.Context(), tx, &node)
		if err != nil {
			return err
		}
		if applied+1 != events[0].Seq {
			return fmt.Errorf("watermark %d, batch from %d", applied, events[0].Seq)
		}
		lap("lock the node's row")
		err = inSavepoint(b.Context(), tx, func(sp pgx.Tx) error {
			lap("SAVEPOINT")
			set, err := newEventSet(decoded)
			if err != nil {
				return err
			}
			var q pgx.Batch
			set.queue(&q, node)
			lap("lay out the set (Go)")
			for _, qq := range q.QueuedQueries {
				r := &unnamedResult{ctx: b.Context(), tx: sp, qq: qq}
				if qq.Fn != nil {
					err = qq.Fn(r)
				} else {
					_, err = r.Exec()
				}
				if err != nil {
					return err
				}
				lap(statementName(qq.SQL))
			}
			return nil
		})
		if err != nil {
			return err
		}
		lap("RELEASE SAVEPOINT")
		err = recordPush(b.Context(), tx, node, syncproto.PushRequest{Events: events}, events[len(events)-1].Seq, time.Now())
		lap("record the push (UPDATE edge_nodes)")
		return err
	})
	lap("COMMIT")
	if err != nil {
		b.Fatalf("%s: push anatomy: %v", s.name, err)
	}
	var out strings.Builder
	var total time.Duration
	for _, st := range steps {
		total += st.took
		fmt.Fprintf(&out, "  %-45s %8.2f ms\n", st.name, float64(st.took)/float64(time.Millisecond))
	}
	fmt.Fprintf(&out, "  %-45s %8.2f ms (%.0f events/s)", "total", float64(total)/float64(time.Millisecond), float64(len(events))/total.Seconds())
	return out.String()
}

type anatomyStep struct {
	name string
	took time.Duration
}

var statementTarget = regexp.MustCompile(`(?i)\b(INSERT INTO|UPDATE)\s+(\w+)`)

// statementName names a push statement by what it writes.
func statementName(sql string) string {
	if strings.HasPrefix(strings.TrimSpace(sql), "WITH") {
		if m := statementTarget.FindAllStringSubmatch(sql, -1); len(m) > 0 {
			return "WITH … " + m[len(m)-1][1] + " " + m[len(m)-1][2]
		}
	}
	if m := statementTarget.FindStringSubmatch(sql); m != nil {
		return m[1] + " " + m[2]
	}
	return strings.Fields(sql)[0]
}

// explainPush runs EXPLAIN (ANALYZE, BUFFERS) of each statement of the
// catching-up node's next batch, in a transaction that is rolled back,
// and returns the plans. The node's simulator is left ahead of the
// database: nothing may push after it.
func (s *benchSide) explainPush(b *testing.B) string {
	g := s.sim
	node := cloud.Node{OrgID: g.sh.org, SiteID: g.sh.sites[0], ID: g.sh.node}
	set, err := newEventSet(syncserver.Decode(g.take(edgeBatchEvents)))
	if err != nil {
		b.Fatal(err)
	}
	var q pgx.Batch
	set.queue(&q, node)
	var out strings.Builder
	errRollBack := fmt.Errorf("roll back")
	err = s.env.store.InTenant(b.Context(), node.OrgID, func(tx pgx.Tx) error {
		for _, qq := range q.QueuedQueries {
			rows, _ := tx.Query(b.Context(), "EXPLAIN (ANALYZE, BUFFERS) "+qq.SQL, append([]any{pgx.QueryExecModeCacheDescribe}, qq.Arguments...)...)
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return fmt.Errorf("explain %s: %w", statementName(qq.SQL), err)
			}
			fmt.Fprintf(&out, "-- %s\n%s\n", statementName(qq.SQL), strings.Join(lines, "\n"))
		}
		return errRollBack
	})
	if err != errRollBack {
		b.Fatalf("%s: explain the push: %v", s.name, err)
	}
	return out.String()
}

// reportRatios reports Citus's figures over PostgreSQL's as metrics.
func reportRatios(b *testing.B, pg, citus *benchSide, queries []benchQuery) {
	for range b.N {
		// Nothing to time: the figures were taken by the runs before.
	}
	b.ReportMetric(ratioOf(citus.catchUp, pg.catchUp), "catchup-ratio")
	b.ReportMetric(ratioOf(millis(citus.pointRead), millis(pg.pointRead)), "pointread-time-ratio")
	for _, q := range queries {
		b.ReportMetric(ratioOf(citus.reads[q.name].perSec, pg.reads[q.name].perSec), "maxreq-ratio-"+q.name)
		b.ReportMetric(ratioOf(millis(citus.mixed[q.name].p99), millis(pg.mixed[q.name].p99)), "p99-ratio-"+q.name)
	}
}

// comparisonTable shows both sides' figures and their ratio, as a
// Markdown table.
func comparisonTable(pg, citus *benchSide, queries []benchQuery, rate int) string {
	var t strings.Builder
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(&t, "load average at the end: %s\n", strings.TrimSpace(string(load)))
	fmt.Fprintf(&t, "| | PostgreSQL | Citus (coordinator + 2 workers) | Citus / PostgreSQL |\n|---|---|---|---|\n")
	fmt.Fprintf(&t, "| catch-up, events/s | %.0f | %.0f | %.2f |\n", pg.catchUp, citus.catchUp, ratioOf(citus.catchUp, pg.catchUp))
	fmt.Fprintf(&t, "| catch-up, CPU µs per event | %s | %s | |\n", cpuCell(pg.catchUpCPU), cpuCell(citus.catchUpCPU))
	fmt.Fprintf(&t, "| tenant transaction with one read by key, ms | %.3f | %.3f | %.2f |\n",
		millis(pg.pointRead), millis(citus.pointRead), ratioOf(millis(citus.pointRead), millis(pg.pointRead)))
	fmt.Fprintf(&t, "| the same, CPU µs per transaction | %s | %s | |\n", cpuCell(pg.pointReadCPU), cpuCell(citus.pointReadCPU))
	for _, q := range queries {
		p, c := pg.reads[q.name], citus.reads[q.name]
		fmt.Fprintf(&t, "| %s, as fast as it goes: req/s; p50 / p99 ms | %.0f; %.2f / %.2f | %.0f; %.2f / %.2f | %.2f; p99 × %.2f |\n",
			q.name, p.perSec, millis(p.p50), millis(p.p99), c.perSec, millis(c.p50), millis(c.p99), ratioOf(c.perSec, p.perSec), ratioOf(millis(c.p99), millis(p.p99)))
		fmt.Fprintf(&t, "| %s, CPU µs per request | %s | %s | |\n", q.name, cpuCell(p.cpu), cpuCell(c.cpu))
		if cp, ok := pg.customPlans[q.name]; ok {
			fmt.Fprintf(&t, "| %s on PostgreSQL planned for its values (as a worker plans it): req/s; p50 / p99 ms; CPU µs per request | %.0f; %.2f / %.2f; %s | | |\n",
				q.name, cp.perSec, millis(cp.p50), millis(cp.p99), cpuCell(cp.cpu))
		}
	}
	for _, q := range queries {
		p, c := pg.mixed[q.name], citus.mixed[q.name]
		fmt.Fprintf(&t, "| %s, mixed at %d/s: p50 / p99 ms | %.2f / %.2f | %.2f / %.2f | p99 × %.2f |\n",
			q.name, rate, millis(p.p50), millis(p.p99), millis(c.p50), millis(c.p99), ratioOf(millis(c.p99), millis(p.p99)))
	}
	return strings.TrimSuffix(t.String(), "\n")
}

func ratioOf(c, p float64) float64 {
	if p == 0 {
		return 0
	}
	return c / p
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// cpuCell shows CPU per operation by process, in the order pgNode names.
func cpuCell(cpu map[string]float64) string {
	var parts []string
	for _, k := range []string{"postgres", "coordinator", "worker1", "worker2", "go"} {
		if v, ok := cpu[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %.0f", k, v))
		}
	}
	return strings.Join(parts, ", ")
}
