package pgtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestCitusClusterRestart: a test's own Citus cluster comes back from a
// restart of its coordinator and of a worker as the same cluster, its
// distributed rows all there, and a restart names the worker as the
// metadata does. It needs Citus in the plain suite too.
func TestCitusClusterRestart(t *testing.T) {
	t.Parallel()
	cl := StartCitusCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	conn := clusterConn(ctx, t, cl.URL())
	for _, q := range []string{
		`CREATE TABLE kv (k int PRIMARY KEY, v text NOT NULL)`,
		`SELECT create_distributed_table('kv', 'k')`,
		`INSERT INTO kv SELECT g, 'v' || g FROM generate_series(1, 100) g`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var shards int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM citus_shards WHERE table_name = 'kv'::regclass`).Scan(&shards); err != nil || shards != citusShardCount {
		t.Fatalf("kv has %d shards (%v), want %d", shards, err, citusShardCount)
	}
	var host string
	var port int
	if err := conn.QueryRow(ctx, `SELECT nodename, nodeport FROM citus_shards
		WHERE table_name = 'kv'::regclass AND shardid = get_shard_id_for_distribution_column('kv', 7)`).Scan(&host, &port); err != nil {
		t.Fatalf("find the worker holding k=7: %v", err)
	}
	coordinatorStarted, workerStarted := startedAt(ctx, t, conn), workerStartedAt(ctx, t, conn, port)
	conn.Close(ctx)

	if err := cl.Restart(ctx); err != nil {
		t.Fatalf("restart the coordinator: %v", err)
	}
	conn = clusterConn(ctx, t, cl.URL())
	if startedAt(ctx, t, conn) == coordinatorStarted {
		t.Fatal("the coordinator was not restarted")
	}
	wantKVRows(ctx, t, conn, 100)
	if err := cl.RestartWorker(ctx, "203.0.113.1", port); err == nil {
		t.Fatal("RestartWorker restarted a worker the cluster does not have")
	}
	if err := cl.RestartWorker(ctx, host, port); err != nil {
		t.Fatalf("restart worker %s:%d: %v", host, port, err)
	}
	// The same session: its backend on the coordinator held a connection
	// to the worker, which the restart cut, and Citus (13.2.2) opens a
	// new one at the next statement instead of failing it. A transaction
	// that had used the old one fails.
	if workerStartedAt(ctx, t, conn, port) == workerStarted {
		t.Fatalf("worker %s:%d was not restarted", host, port)
	}
	wantKVRows(ctx, t, conn, 100)
	var v string
	if err := conn.QueryRow(ctx, `SELECT v FROM kv WHERE k = 7`).Scan(&v); err != nil || v != "v7" {
		t.Fatalf("k=7 after the worker's restart: %q, %v", v, err)
	}
}

func clusterConn(ctx context.Context, t *testing.T, rawURL string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, rawURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func wantKVRows(ctx context.Context, t *testing.T, conn *pgx.Conn, want int) {
	t.Helper()
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM kv`).Scan(&n); err != nil || n != want {
		t.Fatalf("kv holds %d rows (%v), want %d", n, err, want)
	}
}

// startedAt reads the start time of the server conn is connected to.
func startedAt(ctx context.Context, t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var started string
	if err := conn.QueryRow(ctx, `SELECT pg_postmaster_start_time()::text`).Scan(&started); err != nil {
		t.Fatalf("read the start time: %v", err)
	}
	return started
}

// workerStartedAt reads the start time of the worker on port, through
// the coordinator.
func workerStartedAt(ctx context.Context, t *testing.T, conn *pgx.Conn, port int) string {
	t.Helper()
	var started string
	err := conn.QueryRow(ctx, `SELECT result FROM run_command_on_workers('SELECT pg_postmaster_start_time()') WHERE nodeport = $1 AND success`, port).Scan(&started)
	if err != nil {
		t.Fatalf("read worker %d's start time: %v", port, err)
	}
	return started
}
