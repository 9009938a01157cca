package pgtest_test

import (
	"net"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pantry/pantry/internal/pgtest"
)

// TestAddCitusWorker: a worker added to one test's database is a node of
// that database only; the database's owner, a role that is no superuser
// (NewOwner), can log in on it, as Citus needs to run the owner's
// queries there;
// a rebalance moves a shard group onto it without losing a row; and the
// worker is stopped when its test ends.
func TestAddCitusWorker(t *testing.T) {
	t.Parallel()
	var w pgtest.CitusWorker
	t.Run("Inner", func(t *testing.T) {
		dbURL := pgtest.NewCitusDatabase(t)
		other := connect(t, pgtest.NewCitusDatabase(t))
		conn := connect(t, dbURL)
		owner := connect(t, pgtest.NewOwner(t, dbURL))
		ctx := t.Context()
		_, err := owner.Exec(ctx, `CREATE TABLE t (k int PRIMARY KEY, v text NOT NULL); SELECT create_distributed_table('t', 'k');
			INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 1000) g`)
		if err != nil {
			t.Fatal(err)
		}
		w = pgtest.AddCitusWorker(t, dbURL)

		workers := func(conn *pgx.Conn) map[int]bool {
			t.Helper()
			rows, _ := conn.Query(ctx, `SELECT nodeport FROM pg_dist_node WHERE groupid <> 0 AND isactive`)
			ports, err := pgx.CollectRows(rows, pgx.RowTo[int])
			if err != nil {
				t.Fatal(err)
			}
			m := map[int]bool{}
			for _, p := range ports {
				m[p] = true
			}
			return m
		}
		if got := workers(conn); len(got) != 3 || !got[w.Port] {
			t.Fatalf("workers of the test's database: %v, want 3 with %d", got, w.Port)
		}
		if got := workers(other); len(got) != 2 || got[w.Port] {
			t.Fatalf("workers of another test's database: %v, want the 2 shared ones", got)
		}

		r, err := pgtest.RebalanceCitus(ctx, dbURL, "block_writes")
		if err != nil {
			t.Fatal(err)
		}
		if r.Moves == 0 || r.Finished.Before(r.Started) {
			t.Fatalf("rebalance %+v: want at least one move, finished", r)
		}
		var placed, rows int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM citus_shards WHERE table_name = 't'::regclass AND nodeport = $1`, w.Port).Scan(&placed); err != nil {
			t.Fatal(err)
		}
		if placed == 0 {
			t.Fatal("no shard of t on the new worker after the rebalance")
		}
		// Every shard of the table, the moved ones on the new worker
		// included, answers to the owner: Citus connects to the new
		// worker as it.
		if err := owner.QueryRow(ctx, `SELECT count(DISTINCT k) FROM t`).Scan(&rows); err != nil {
			t.Fatalf("read t as its owner after the move: %v", err)
		}
		if got, want := rows, 1000; got != want {
			t.Fatalf("t has %d rows after the rebalance, want %d", got, want)
		}
	})
	if w.Port == 0 {
		return // Inner failed
	}
	d := net.Dialer{Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := d.Dial("tcp", net.JoinHostPort(w.Host, strconv.Itoa(w.Port)))
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			u, _ := url.Parse(w.URL)
			t.Fatalf("the worker %s still accepts connections after its test ended", u.Redacted())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
