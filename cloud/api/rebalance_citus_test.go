package api_test

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pantry/pantry/cloud/cloudtest"
	"github.com/pantry/pantry/cloud/postgres"
	"github.com/pantry/pantry/internal/pgtest"
)

// rebalanceTransferMode is how shards move: 'block_writes', as the
// cloud's schema must be moved on Citus 13.2.2; the default, logical
// replication, never finishes moving a table with FORCE ROW LEVEL
// SECURITY (see internal/pgtest/citus_worker.go).
const rebalanceTransferMode = "block_writes"

// TestTenantIsolationOnMovedShards (issue 14, rebalancing): the
// tenant-isolation suite still passes once the attacked tenant's shards
// have moved to a worker added to the cluster, as a rebalance moves
// them. cmd/pantry's TestRebalanceCitus rebalances onto an added worker
// while edge nodes push, and checks that nothing is lost or doubled; the
// suite's attack table lives here, with the API's tests.
func TestTenantIsolationOnMovedShards(t *testing.T) {
	dbURL := pgtest.NewCitusDatabase(t)
	if _, err := postgres.Migrate(t.Context(), dbURL, postgres.MigrateOptions{Citus: true}); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	s := cloudtest.StartOn(t, dbURL)
	db, err := pgxpool.New(t.Context(), dbURL) // the superuser: moves shards
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	a, b := seedTenant(t, s, "alpha"), seedTenant(t, s, "beta")
	w := pgtest.AddCitusWorker(t, dbURL)
	ensureOnWorker(t, db, w, a.org.ID)
	checkTenantIsolation(t, s, a, b)
}

// ensureOnWorker moves the shard group of organization org to w unless the
// cluster placed it there already (a rebalance chooses its own), so
// that the isolation suite attacks a tenant whose shards moved.
func ensureOnWorker(t *testing.T, db *pgxpool.Pool, w pgtest.CitusWorker, org string) {
	t.Helper()
	var shard int64
	var host string
	var port int
	err := db.QueryRow(t.Context(), `SELECT shardid, nodename, nodeport FROM citus_shards
		WHERE shardid = get_shard_id_for_distribution_column('organizations', $1::uuid)`, org).Scan(&shard, &host, &port)
	if err != nil {
		t.Fatal(err)
	}
	if port == w.Port {
		return
	}
	t.Logf("the attacked tenant is on %s:%d; moving its shard group to the new worker", host, port)
	// A rebalance copies the reference tables to a new worker first; a
	// move alone refuses to run until they are there.
	if _, err := db.Exec(t.Context(), `SELECT replicate_reference_tables($1::citus.shard_transfer_mode)`, rebalanceTransferMode); err != nil {
		t.Fatalf("copy the reference tables to the new worker: %v", err)
	}
	if _, err := db.Exec(t.Context(), `SELECT citus_move_shard_placement($1, $2, $3, $4, $5, $6::citus.shard_transfer_mode)`,
		shard, host, port, w.Host, w.Port, rebalanceTransferMode); err != nil {
		t.Fatalf("move the attacked tenant's shards to the new worker: %v", err)
	}
}
