package pgtest_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/internal/pgtest"
)

// TestNewDatabaseFrom: build runs once for its key, every copy starts
// with what it made and is a database of its own (on Citus, distributed
// over the same nodes), and a copy is gone from every node when its test
// ends.
func TestNewDatabaseFrom(t *testing.T) {
	t.Parallel()
	var builds atomic.Int32
	key := t.Name()
	build := func(ctx context.Context, url string) error {
		builds.Add(1)
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		stmts := []string{`CREATE TABLE t (k int PRIMARY KEY, v text)`}
		if pgtest.Citus() {
			stmts = append(stmts, `SELECT create_distributed_table('t', 'k')`)
		}
		stmts = append(stmts, `INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 10) g`)
		for _, s := range stmts {
			if _, err := conn.Exec(ctx, s); err != nil {
				return err
			}
		}
		return nil
	}
	count := func(conn *pgx.Conn) int {
		t.Helper()
		var n int
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM t`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	var first string
	t.Run("Copies", func(t *testing.T) {
		a := connect(t, pgtest.NewDatabaseFrom(t, key, build))
		b := connect(t, pgtest.NewDatabaseFrom(t, key, build))
		if n := builds.Load(); n != 1 {
			t.Fatalf("build ran %d times for two copies, want once", n)
		}
		if _, err := a.Exec(t.Context(), `INSERT INTO t VALUES (11, 'only in a')`); err != nil {
			t.Fatal(err)
		}
		if got, want := count(a), 11; got != want {
			t.Fatalf("copy a has %d rows, want %d", got, want)
		}
		if got, want := count(b), 10; got != want {
			t.Fatalf("copy b has %d rows after a row went into a, want %d", got, want)
		}
		var db string
		_ = b.QueryRow(t.Context(), `SELECT current_database()`).Scan(&db)
		if err := a.QueryRow(t.Context(), `SELECT current_database()`).Scan(&first); err != nil || first == db {
			t.Fatalf("both copies are database %s (%v)", db, err)
		}
		if !pgtest.Citus() {
			return
		}
		var nodes int
		if err := a.QueryRow(t.Context(), `SELECT count(DISTINCT nodeport) FROM citus_shards WHERE table_name = 't'::regclass`).Scan(&nodes); err != nil {
			t.Fatal(err)
		}
		if nodes != 2 {
			t.Fatalf("the copy's shards are on %d nodes, want the 2 workers", nodes)
		}
		// The rows are on the workers' copies: a query that goes to every
		// shard finds them, and a row by key goes to its one shard.
		var v string
		if err := b.QueryRow(t.Context(), `SELECT v FROM t WHERE k = 7`).Scan(&v); err != nil || v != "row 7" {
			t.Fatalf("row 7 in copy b: %q %v", v, err)
		}
	})
	if !pgtest.Citus() {
		conn := connect(t, pgtest.NewDatabase(t))
		var n int
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_database WHERE datname = $1`, first).Scan(&n); err != nil || n != 0 {
			t.Fatalf("copy %s after its test ended: %d %v, want it gone", first, n, err)
		}
		return
	}
	conn := connect(t, pgtest.NewDatabaseFrom(t, key, build))
	rows, err := conn.Query(t.Context(), `SELECT nodeid::text || ':' || result FROM run_command_on_all_nodes(
		format('SELECT count(*) FROM pg_database WHERE datname = %L', $1::text)) WHERE result <> '0' OR NOT success`, first)
	var left []string
	if err == nil {
		left, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil || len(left) != 0 {
		t.Fatalf("copy %s after its test ended: %v, %v; want it gone from every node", first, left, err)
	}
	if n := builds.Load(); n != 1 {
		t.Fatalf("build ran %d times for three copies, want once", n)
	}
}
