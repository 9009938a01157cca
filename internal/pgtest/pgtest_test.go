package pgtest_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pantry/pantry/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestNewDatabaseIsEmptyAndSuperuser(t *testing.T) {
	t.Parallel()
	conn := connect(t, pgtest.NewDatabase(t))
	var super bool
	var tables int
	err := conn.QueryRow(t.Context(), `SELECT rolsuper, (SELECT count(*) FROM pg_tables WHERE schemaname = 'public')
		FROM pg_roles WHERE rolname = current_user`).Scan(&super, &tables)
	if err != nil {
		t.Fatal(err)
	}
	if !super || tables != 0 {
		t.Fatalf("superuser=%v tables=%d, want a superuser in an empty database", super, tables)
	}
}

// TestDatabasesAreIsolated: what one test writes, another never sees.
func TestDatabasesAreIsolated(t *testing.T) {
	t.Parallel()
	a, b := connect(t, pgtest.NewDatabase(t)), connect(t, pgtest.NewDatabase(t))
	if _, err := a.Exec(t.Context(), `CREATE TABLE t (x int); INSERT INTO t VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := b.QueryRow(t.Context(), `SELECT count(*) FROM pg_tables WHERE tablename = 't'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if got, want := n, 0; got != want {
		t.Fatalf("second database has %d tables named t, want %d", got, want)
	}
	var da, db string
	_ = a.QueryRow(t.Context(), `SELECT current_database()`).Scan(&da)
	_ = b.QueryRow(t.Context(), `SELECT current_database()`).Scan(&db)
	if da == db {
		t.Fatalf("both connections are in database %s", da)
	}
}

// TestDatabaseDroppedAtCleanup: a subtest's database is gone once it ends,
// even while a connection to it is still open (WITH (FORCE)).
func TestDatabaseDroppedAtCleanup(t *testing.T) {
	t.Parallel()
	var name string
	t.Run("Inner", func(t *testing.T) {
		url := pgtest.NewDatabase(t)
		conn, err := pgx.Connect(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn // left open on purpose
		if err := conn.QueryRow(t.Context(), `SELECT current_database()`).Scan(&name); err != nil {
			t.Fatal(err)
		}
	})
	conn := connect(t, pgtest.NewDatabase(t))
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("database %s still exists after its test ended", name)
	}
}

// TestNewOwner: the owner is a real non-superuser that owns the database
// and may create tables and roles, and it is gone after the test.
func TestNewOwner(t *testing.T) {
	t.Parallel()
	var role string
	t.Run("Inner", func(t *testing.T) {
		db := pgtest.NewDatabase(t)
		conn := connect(t, pgtest.NewOwner(t, db))
		var super, createRole, owns bool
		err := conn.QueryRow(t.Context(), `SELECT current_user, rolsuper, rolcreaterole,
			(SELECT datdba = r.oid FROM pg_database WHERE datname = current_database())
			FROM pg_roles r WHERE rolname = current_user`).Scan(&role, &super, &createRole, &owns)
		if err != nil {
			t.Fatal(err)
		}
		if super || !createRole || !owns {
			t.Fatalf("superuser=%v createrole=%v owns database=%v, want false true true", super, createRole, owns)
		}
		if _, err := conn.Exec(t.Context(), `CREATE TABLE t (x int)`); err != nil {
			t.Fatalf("owner cannot create a table: %v", err)
		}
	})
	conn := connect(t, pgtest.NewDatabase(t))
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_roles WHERE rolname = $1`, role).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("role %s still exists after its test ended", role)
	}
}

// TestClusterRestart proves a private cluster keeps its data across a
// restart and answers on the same URL afterwards.
func TestClusterRestart(t *testing.T) {
	cl := pgtest.StartCluster(t)
	conn := connect(t, cl.URL())
	if _, err := conn.Exec(t.Context(), `CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)`); err != nil {
		t.Fatal(err)
	}
	if err := cl.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := conn.Ping(t.Context()); err == nil {
		t.Fatal("a connection from before the restart still works: the server did not restart")
	}
	var v int
	if err := connect(t, cl.URL()).QueryRow(t.Context(), `SELECT v FROM kept`).Scan(&v); err != nil || v != 42 {
		t.Fatalf("after restart: %d, %v; want 42", v, err)
	}
}

// TestCitusDatabase: a Citus database is one database on three nodes,
// with the extension on each and the workers registered, in which a
// distributed table puts shards on both workers; and it is gone from
// every node once its test ends.
func TestCitusDatabase(t *testing.T) {
	t.Parallel()
	var name string
	t.Run("Inner", func(t *testing.T) {
		conn := connect(t, pgtest.NewCitusDatabase(t))
		var workers int
		err := conn.QueryRow(t.Context(), `SELECT current_database(), count(*) FILTER (WHERE groupid <> 0 AND isactive)
			FROM pg_dist_node`).Scan(&name, &workers)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := workers, 2; got != want {
			t.Fatalf("%d active workers, want %d", got, want)
		}
		if _, err := conn.Exec(t.Context(), `CREATE TABLE t (k int PRIMARY KEY); SELECT create_distributed_table('t', 'k')`); err != nil {
			t.Fatal(err)
		}
		var nodes int
		if err := conn.QueryRow(t.Context(), `SELECT count(DISTINCT nodeport) FROM citus_shards WHERE table_name = 't'::regclass`).Scan(&nodes); err != nil {
			t.Fatal(err)
		}
		if got, want := nodes, 2; got != want {
			t.Fatalf("the shards of t are on %d nodes, want %d", got, want)
		}
		var ext []bool
		rows, err := conn.Query(t.Context(), `SELECT success AND result = 'citus' FROM run_command_on_workers(
			$$SELECT extname FROM pg_extension WHERE extname = 'citus'$$)`)
		if err == nil {
			ext, err = pgx.CollectRows(rows, pgx.RowTo[bool])
		}
		if err != nil || len(ext) != 2 || !ext[0] || !ext[1] {
			t.Fatalf("the extension on the workers: %v, %v; want it on both", ext, err)
		}
	})
	// Another Citus database of the same cluster can see every node's
	// catalog of databases.
	conn := connect(t, pgtest.NewCitusDatabase(t))
	var left []string
	rows, err := conn.Query(t.Context(), `SELECT nodeid::text || ':' || result FROM run_command_on_all_nodes(
		format('SELECT count(*) FROM pg_database WHERE datname = %L', $1::text)) WHERE result <> '0' OR NOT success`, name)
	if err == nil {
		left, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil || len(left) != 0 {
		t.Fatalf("database %s after its test ended: %v, %v; want it gone from every node", name, left, err)
	}
}
