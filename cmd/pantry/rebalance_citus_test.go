package main

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/cloud/postgres"
	"github.com/pantry/pantry/edge/fleetsim"
	"github.com/pantry/pantry/internal/pgtest"
)

// Rebalancing (issue 14): a Citus cluster grows by adding a worker and
// moving shards onto it (citus_rebalance_start) while the cloud serves,
// and edges do not stop pushing for it. Nothing an edge was told is
// stored may be lost or stored twice, the clients must ride over whatever
// the moves refuse, and row-level security must hold on the moved shards
// as it did before.

// rebalanceFleet sizes the fleet: small, as the machine is shared, but
// with organizations on every shard (fleetOnEveryShard), so that whichever
// shard group the rebalancer moves, some nodes push into it.
var rebalanceFleet = fleetsim.SetupConfig{Orgs: 4, SitesPerOrg: 2, RoomsPerSite: 2, Items: 3, Workers: 4}

// rebalanceTransferMode is how shards move: 'block_writes', as the
// cloud's schema must be moved on Citus 13.2.2; the default, logical
// replication, never finishes moving a table with FORCE ROW LEVEL
// SECURITY (see internal/pgtest/citus_worker.go).
const rebalanceTransferMode = "block_writes"

// rebalancePushRate and rebalancePhase are how hard the fleet pushes, and
// for how long: the phase must outlast a baseline (rebalanceBaseline),
// starting the worker (an initdb: 2 to 20 s here, on a loaded machine),
// registering it and the rebalance (2 to 13 s of a shard group's move,
// and the background job's start), with room to spare; the test fails,
// rather than tests less, if the pushes end before the rebalance does.
const (
	rebalancePushRate = 12.0
	rebalancePhase    = 55 * time.Second
	rebalanceBaseline = 6 * time.Second
)

// TestRebalanceCitus adds a third worker to a Citus database that a
// running cloud serves while a fleet of enrolled nodes (edge/fleetsim:
// real syncer clients with their own credentials) pushes orders, lines,
// payments, status changes and stock movements and an admin changes
// prices; rebalances onto it; and then checks that shards moved to the
// new worker, that every event each node had acknowledged is in the
// cloud exactly once (rows counted against what the nodes were told,
// each node's watermark at the outbox head it last reported, no dead
// letters), and that the moved organizations' rows are on the new
// worker. It logs how long the rebalance took, what it moved, and how
// the pushes fared meanwhile. It lives here, where the edge's client and
// the cloud may meet (internal/archtest); cloud/api's
// TestTenantIsolationOnMovedShards runs the isolation suite on a tenant
// whose shards were moved to an added worker.
func TestRebalanceCitus(t *testing.T) {
	dbURL := pgtest.NewCitusDatabase(t)
	if _, err := postgres.Migrate(t.Context(), dbURL, postgres.MigrateOptions{Citus: true}); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	s := cloudtest.StartOn(t, dbURL)
	cfg, err := pgxpool.ParseConfig(dbURL) // the superuser: sees every tenant's rows
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 16 // a connection for each organization's watermark (sampleWatermarks), and the checks'
	db, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	fleet := fleetOnEveryShard(t, s, db)

	run := rebalanceUnderFleet(t, dbURL, s, db, fleet)
	checkExactlyOnce(t, db, fleet, run.fleet)
	moved := checkMoved(t, db, run.worker, fleet, run.rebalance)
	run.logStalls(t, fleet, moved)
}

// rebalanceRun is what rebalanceUnderFleet did and saw.
type rebalanceRun struct {
	fleet     fleetsim.Result
	worker    pgtest.CitusWorker
	rebalance pgtest.Rebalance
	marks     map[string][]watermark
	// When sampling began, the worker was added, the rebalance was
	// started and it ended, by this process's clock.
	sampled, added, rebalancing, rebalanced time.Time
}

// rebalanceUnderFleet runs the fleet, and once every node has pushed
// (and a baseline later) adds a worker and rebalances onto it; it
// checks that the pushes were still going when the rebalance ended, and
// returns once the fleet's run has ended.
func rebalanceUnderFleet(t *testing.T, dbURL string, s *cloudtest.Server, db *pgxpool.Pool, fleet *fleetsim.Fleet) rebalanceRun {
	t.Helper()
	ctx := t.Context()
	var run rebalanceRun
	var res fleetsim.Result // the fleet's run's, read once ran is closed
	var runErr error
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		res, runErr = fleetsim.Run(ctx, fleetsim.Config{Clouds: []string{s.URL}, Fleet: fleet, PushRate: rebalancePushRate,
			Duration: rebalancePhase, PullWait: 5 * time.Second, ChangeEvery: 2 * time.Second, CatchUp: 0.05, CatchUpEvents: 200,
			CountRows: fleetCounter(db), Seed: uint64(time.Now().UnixNano())})
	}()
	// finish waits for the fleet's run, which ends on its own after the
	// phase and its settling; a test that fails earlier waits too, so
	// that no push outlives the cloud.
	finish := func() {
		select {
		case <-ran:
		case <-time.After(rebalancePhase + 3*time.Minute):
			t.Fatal("the fleet's run did not end within 3 minutes of its phase")
		}
	}
	if !waitPushing(t, db, fleet, ran) {
		finish()
		t.Fatalf("the fleet did not start pushing: %v\n%s", runErr, res)
	}
	run.sampled = time.Now()
	samples := sampleWatermarks(ctx, db, fleet)
	time.Sleep(rebalanceBaseline) // how still the watermarks are without a move
	run.added = time.Now()
	run.worker = pgtest.AddCitusWorker(t, dbURL)
	t.Logf("third worker %s:%d started and registered in %s", run.worker.Host, run.worker.Port, time.Since(run.added).Round(time.Millisecond))
	rctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	run.rebalancing = time.Now()
	waits := sampleLockWaits(rctx, db)
	var err error
	run.rebalance, err = pgtest.RebalanceCitus(rctx, dbURL, rebalanceTransferMode)
	cancel()
	run.rebalanced = time.Now()
	run.marks = samples()
	blocked := waits()
	if err != nil {
		finish()
		t.Fatalf("rebalance while the fleet pushes: %v", err)
	}
	stillPushing := advancing(t, db, fleet)
	finish()
	if runErr != nil {
		t.Fatalf("fleet run: %v\n%s", runErr, res)
	}
	run.fleet = res
	r := run.rebalance
	t.Logf("fleet, rebalanced under it:\n%s", run.fleet)
	t.Logf("rebalance: job %d, %d shard-group moves in %s (coordinator's clock; %s from the call to its end), failed attempts %d %v",
		r.JobID, r.Moves, r.Finished.Sub(r.Started).Round(time.Millisecond), run.rebalanced.Sub(run.rebalancing).Round(time.Millisecond), len(r.Failed), r.Failed)
	for kind, w := range blocked {
		t.Logf("statements waiting for a lock (%s) during the rebalance: seen for %s in all, the longest wait %s, at most %d at once",
			kind, w.seen.Round(time.Millisecond), w.longest.Round(time.Millisecond), w.most)
	}
	if !stillPushing {
		t.Fatalf("the fleet had stopped pushing when the rebalance finished (the phase of %s is too short for this machine): the moves were not tested under pushes", rebalancePhase)
	}
	return run
}

// logStalls logs the longest time an organization's watermark stood
// still: before the worker was added (a baseline, for the fleet's rate),
// while it was started, and during the rebalance for the organizations
// moved and for the others.
func (run rebalanceRun) logStalls(t *testing.T, fleet *fleetsim.Fleet, moved []string) {
	var stayed []string
	for _, o := range fleet.OrgIDs() {
		if !slices.Contains(moved, o) {
			stayed = append(stayed, o)
		}
	}
	ms := func(orgs []string, from, to time.Time) string {
		return stillest(run.marks, orgs, from, to).Round(time.Millisecond).String()
	}
	t.Logf("organizations of the fleet moved to the new worker: %d of %d; longest an organization's watermark stood still: "+
		"%s before the new worker (baseline), %s while it started, during the rebalance %s for the moved ones and %s for the others",
		len(moved), len(fleet.Orgs), ms(fleet.OrgIDs(), run.sampled, run.added), ms(fleet.OrgIDs(), run.added, run.rebalancing),
		ms(moved, run.rebalancing, run.rebalanced), ms(stayed, run.rebalancing, run.rebalanced))
}

// fleetOnEveryShard sets up a fleet through the API (fleetsim.Setup), and
// organizations of one more site each until every shard of organizations
// holds one: organization ids are random, and the rebalancer picks the
// shard groups it moves.
func fleetOnEveryShard(t *testing.T, s *cloudtest.Server, db *pgxpool.Pool) *fleetsim.Fleet {
	t.Helper()
	cfg := rebalanceFleet
	cfg.Cloud, cfg.SoftwareVersion = s.URL, "rebalance-test"
	cfg.CreateOrg = func(ctx context.Context, name, email, password string) (string, error) {
		hash, err := cloudtest.Cheap.Hash(password)
		if err != nil {
			return "", err
		}
		org, err := s.Store().CreateOrganization(ctx, cloud.NewOrganization{Name: name, OwnerEmail: email, OwnerPasswordHash: hash})
		return org.OrgID, err
	}
	fleet, err := fleetsim.Setup(t.Context(), cfg)
	if err != nil {
		t.Fatalf("set up the fleet: %v", err)
	}
	for range 24 {
		var uncovered int
		err := db.QueryRow(t.Context(), `SELECT count(*) FROM pg_dist_shard
			WHERE logicalrelid = 'organizations'::regclass AND shardid NOT IN
				(SELECT get_shard_id_for_distribution_column('organizations', o) FROM unnest($1::uuid[]) o)`, fleet.OrgIDs()).Scan(&uncovered)
		if err != nil {
			t.Fatal(err)
		}
		if uncovered == 0 {
			return fleet
		}
		cfg.Orgs, cfg.SitesPerOrg = 1, 1
		more, err := fleetsim.Setup(t.Context(), cfg)
		if err != nil {
			t.Fatalf("set up the fleet: %v", err)
		}
		fleet.Orgs = append(fleet.Orgs, more.Orgs...)
	}
	t.Fatalf("%d organizations and still a shard without one", len(fleet.Orgs))
	return nil
}

// fleetCounter counts the rows the fleet's events write in the
// organizations named, as cmd/pantry's load test does.
func fleetCounter(db *pgxpool.Pool) func(ctx context.Context, orgs []string) (fleetsim.Counts, error) {
	return func(ctx context.Context, orgs []string) (fleetsim.Counts, error) {
		return fleetsim.ScanCounts(db.QueryRow(ctx, fleetsim.CountsSQL, orgs))
	}
}

// appliedSeqs sums the watermarks of the fleet's nodes, and counts the
// nodes that have had a push applied.
func appliedSeqs(ctx context.Context, db *pgxpool.Pool, fleet *fleetsim.Fleet) (sum int64, pushed int, err error) {
	err = db.QueryRow(ctx, `SELECT coalesce(sum(applied_seq), 0), count(*) FILTER (WHERE applied_seq > 0)
		FROM edge_nodes WHERE organization_id = ANY($1::uuid[])`, fleet.OrgIDs()).Scan(&sum, &pushed)
	return sum, pushed, err
}

// watermark is the summed watermark of an organization's nodes at one
// moment.
type watermark struct {
	at  time.Time
	sum int64
}

// sampleWatermarks reads each organization's watermark every 100 ms,
// each over a connection and from a goroutine of its own, so that a read
// that waits on a moving shard delays no other organization's, until ctx
// ends or the returned function is called, which returns the samples.
func sampleWatermarks(ctx context.Context, db *pgxpool.Pool, fleet *fleetsim.Fleet) func() map[string][]watermark {
	ctx, cancel := context.WithCancel(ctx)
	out := map[string][]watermark{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, org := range fleet.OrgIDs() {
		wg.Go(func() {
			for ctx.Err() == nil {
				var sum int64
				err := db.QueryRow(ctx, `SELECT coalesce(sum(applied_seq), 0)::bigint FROM edge_nodes WHERE organization_id = $1`, org).Scan(&sum)
				if err == nil {
					mu.Lock()
					out[org] = append(out[org], watermark{time.Now(), sum})
					mu.Unlock()
				}
				select {
				case <-ctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
			}
		})
	}
	return func() map[string][]watermark {
		cancel()
		wg.Wait()
		return out
	}
}

// stillest is the longest time between from and to that the watermark
// of one of orgs did not move: how long pushes to it stalled, or at the
// fleet's rate a gap between two of its pushes.
func stillest(samples map[string][]watermark, orgs []string, from, to time.Time) time.Duration {
	var longest time.Duration
	for _, o := range orgs {
		var since time.Time
		last := int64(-1)
		for _, s := range samples[o] {
			if s.at.Before(from) || s.at.After(to) {
				continue
			}
			if s.sum != last {
				since, last = s.at, s.sum
			}
			longest = max(longest, s.at.Sub(since))
		}
	}
	return longest
}

// lockWaits is what sampleLockWaits saw of one kind of lock.
type lockWaits struct {
	seen    time.Duration // how long, in all, some statement was waiting
	longest time.Duration // the longest a statement was seen waiting
	most    int           // the most statements waiting at once
}

// sampleLockWaits watches, every 100 ms until ctx ends or the returned
// function is called, the statements of the database that wait for a
// lock, by kind of lock: the lock type, and for an advisory lock its
// class (objsubid). A move with 'block_writes' holds Citus's lock on the
// moving shard group's metadata (class 8,
// ADV_LOCKTAG_CLASS_CITUS_COLOCATED_SHARDS_METADATA in Citus's
// resource_lock.h) while it copies: the writes to the organizations
// being moved wait for it.
func sampleLockWaits(ctx context.Context, db *pgxpool.Pool) func() map[string]lockWaits {
	ctx, cancel := context.WithCancel(ctx)
	out := map[string]lockWaits{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		last := time.Now()
		for ctx.Err() == nil {
			rows, _ := db.Query(ctx, `SELECT l.locktype || CASE WHEN l.locktype = 'advisory' THEN ' class ' || l.objsubid ELSE '' END,
					count(*), max(clock_timestamp() - a.query_start)
				FROM pg_locks l JOIN pg_stat_activity a USING (pid)
				WHERE NOT l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
				GROUP BY 1`)
			now := time.Now()
			var kind string
			var n int
			var longest time.Duration
			_, _ = pgx.ForEachRow(rows, []any{&kind, &n, &longest}, func() error { // a failed sample is skipped
				w := out[kind]
				w.seen += now.Sub(last)
				w.longest, w.most = max(w.longest, longest), max(w.most, n)
				out[kind] = w
				return nil
			})
			last = now
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return func() map[string]lockWaits {
		cancel()
		<-done
		return out
	}
}

// waitPushing waits, bounded, until every node of the fleet has had a
// push applied; it reports false if the fleet's run ended first.
func waitPushing(t *testing.T, db *pgxpool.Pool, fleet *fleetsim.Fleet, ran <-chan struct{}) bool {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
		_, pushed, err := appliedSeqs(t.Context(), db, fleet)
		if err != nil {
			t.Fatal(err)
		}
		if pushed == fleet.Size() {
			return true
		}
		select {
		case <-ran:
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
	return false
}

// advancing reports whether the fleet's watermarks still move: pushes
// were being applied when it was called. Bounded: a stalled cloud
// answers false.
func advancing(t *testing.T, db *pgxpool.Pool, fleet *fleetsim.Fleet) bool {
	t.Helper()
	first, _, err := appliedSeqs(t.Context(), db, fleet)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		now, _, err := appliedSeqs(t.Context(), db, fleet)
		if err != nil {
			t.Fatal(err)
		}
		if now > first {
			return true
		}
	}
	return false
}

// checkExactlyOnce checks what the fleet's run found (every
// acknowledged event's rows in the cloud once, summed over the fleet;
// no dead letters; nothing left unacknowledged; every price change at
// every node) and each node's watermark: at the outbox head it last
// reported, and together the events the nodes were told were applied.
func checkExactlyOnce(t *testing.T, db *pgxpool.Pool, fleet *fleetsim.Fleet, res fleetsim.Result) {
	t.Helper()
	if res.Cloud == nil || len(res.Problems) > 0 {
		t.Fatalf("after the rebalance: %s", strings.Join(res.Problems, "; "))
	}
	if res.Acknowledged == 0 || res.Cloud.Orders == 0 {
		t.Fatalf("the fleet had %d events acknowledged, %d orders stored: nothing was tested", res.Acknowledged, res.Cloud.Orders)
	}
	rows, _ := db.Query(t.Context(), `SELECT id::text, applied_seq, edge_last_seq FROM edge_nodes
		WHERE organization_id = ANY($1::uuid[]) ORDER BY id`, fleet.OrgIDs())
	type mark struct {
		ID              string
		Applied, Outbox int64
	}
	marks, err := pgx.CollectRows(rows, pgx.RowToStructByPos[mark])
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, m := range marks {
		if m.Applied != m.Outbox {
			t.Errorf("node %s: watermark %d, outbox head %d", m.ID, m.Applied, m.Outbox)
		}
		sum += m.Applied
	}
	if got, want := len(marks), fleet.Size(); got != want {
		t.Errorf("%d nodes in the cloud, want %d", got, want)
	}
	if got, want := sum, int64(res.Acknowledged); got != want {
		t.Errorf("the nodes' watermarks add up to %d events, the nodes were told %d were applied", got, want)
	}
	var dead int
	if err := db.QueryRow(t.Context(), `SELECT count(*) FROM dead_letters WHERE organization_id = ANY($1::uuid[])`, fleet.OrgIDs()).Scan(&dead); err != nil {
		t.Fatal(err)
	}
	if dead != 0 {
		t.Errorf("%d dead letters in the fleet's organizations, want none", dead)
	}
}

// checkMoved checks that the rebalance moved shards onto w, each shard
// having one placement, and that the rows of the fleet's organizations
// on the moved shards are on w, as many as the coordinator counts; it
// returns the organizations that moved.
func checkMoved(t *testing.T, db *pgxpool.Pool, w pgtest.CitusWorker, fleet *fleetsim.Fleet, r pgtest.Rebalance) []string {
	t.Helper()
	ctx := t.Context()
	var distributed, reference, doubled int
	err := db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE citus_table_type = 'distributed' AND nodeport = $1),
			count(*) FILTER (WHERE citus_table_type = 'reference' AND nodeport = $1),
			(SELECT count(*) FROM (SELECT shardid FROM pg_dist_placement p JOIN pg_dist_shard s USING (shardid)
				JOIN pg_dist_partition d USING (logicalrelid) WHERE d.partmethod = 'h' GROUP BY shardid HAVING count(*) > 1) x)
		FROM citus_shards`, w.Port).Scan(&distributed, &reference, &doubled)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("on the new worker: %d shards of distributed tables (%d shard-group moves), %d of reference tables", distributed, r.Moves, reference)
	if r.Moves == 0 || distributed == 0 || doubled != 0 {
		t.Fatalf("rebalance: %d moves, %d distributed shards on the new worker, %d shards with two placements; want moves, shards, none", r.Moves, distributed, doubled)
	}
	rows, _ := db.Query(ctx, `SELECT o::text FROM unnest($1::uuid[]) o WHERE EXISTS (SELECT 1 FROM citus_shards c
		WHERE c.shardid = get_shard_id_for_distribution_column('organizations', o) AND c.nodeport = $2)`, fleet.OrgIDs(), w.Port)
	moved, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(moved) == 0 {
		t.Fatal("no organization of the fleet is on the new worker, though the fleet covers every shard")
	}
	worker, err := pgx.Connect(ctx, w.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer worker.Close(context.Background())
	for _, table := range []string{"orders", "order_lines", "payments", "stock_movements", "edge_nodes"} {
		var want int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE organization_id = ANY($1::uuid[])`, moved).Scan(&want); err != nil {
			t.Fatal(err)
		}
		rows, _ := db.Query(ctx, `SELECT DISTINCT c.shard_name::text FROM unnest($1::uuid[]) o JOIN citus_shards c
			ON c.shardid = get_shard_id_for_distribution_column($2::regclass, o)`, moved, table)
		shards, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for _, shard := range shards {
			var n int
			if err := worker.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{shard}.Sanitize()+` WHERE organization_id = ANY($1::uuid[])`, moved).Scan(&n); err != nil {
				t.Fatalf("count %s on the new worker: %v", shard, err)
			}
			got += n
		}
		if got != want || want == 0 {
			t.Errorf("%s of the moved organizations: %d rows on the new worker, %d through the coordinator; want the same, and some", table, got, want)
		}
	}
	return moved
}
