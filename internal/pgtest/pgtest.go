// Package pgtest gives tests a real, throwaway PostgreSQL: one server per
// test binary, one brand-new database per test.
//
// STYLE.md wants real databases in tests, and the cloud's isolation rests
// on PostgreSQL itself (row-level security, roles, SECURITY DEFINER
// functions): a fake or an embedded imitation would test nothing that
// matters.
//
// Where the server comes from:
//
//   - PANTRY_TEST_DATABASE_URL, when set, names a server to use (a
//     postgres:// URL whose user may CREATE DATABASE and CREATE ROLE).
//   - Otherwise the first test that asks starts a private cluster from the
//     PostgreSQL server binaries on the machine (initdb and postgres, found
//     in PATH or the highest /usr/lib/postgresql/*/bin) in a temporary
//     directory, listening on 127.0.0.1 and a free port, with durability
//     switched off. Missing binaries fail the test and say what to install.
//   - PANTRY_TEST_DB=citus makes that server a Citus cluster, a coordinator
//     and two workers, and every database a Citus database on all three
//     (citus.go). The same tests then run on distributed tables.
//
// A test that wants the schema in its database asks for a copy of one
// made once per test binary (NewDatabaseFrom, template.go): on Citus that
// is a file copy on each node instead of seconds of migrating and
// distributing.
//
// A package whose tests use it stops the cluster when they end with
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// Without that TestMain the cluster still dies with the test binary (it is
// started with a parent-death signal), but its temporary directory is left
// behind.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// EnvURL names the environment variable that points the tests at an
// existing server instead of a private cluster.
const EnvURL = "PANTRY_TEST_DATABASE_URL"

// startTimeout bounds how long starting a private cluster may take, initdb
// included: a machine that needs longer is broken, and a test that hangs
// says less than one that fails with the server's log.
const startTimeout = 60 * time.Second

// server is the test binary's one PostgreSQL, private or external.
type server struct {
	url     *url.URL      // superuser URL to the maintenance database
	admin   *pgxpool.Pool // creates and drops the tests' databases and roles
	cluster *cluster      // nil when the server is external
	citus   *citusCluster // nil unless the tests run on Citus (citus.go)

	templatesMu sync.Mutex
	templates   map[string]*dbTemplate // by key (template.go)
}

// kind is a kind of test server: a single PostgreSQL, or a Citus cluster.
type kind int

const (
	plainServer kind = iota
	citusServer
)

// defaultKind is the kind NewDatabase uses: what EnvDB says.
func defaultKind() kind {
	if Citus() {
		return citusServer
	}
	return plainServer
}

// shared are the test binary's servers, one of each kind at most, each
// started by the first test that asks for a database on it. Package state
// on purpose: the point is that every test of the binary shares them, and
// that Main can stop them.
var shared struct {
	mu      sync.Mutex
	srv     [2]*server
	err     [2]error // a failed start is reported to every test that asks
	stopped bool
}

// Main runs the tests of m and then stops the private cluster, if one was
// started. It returns the exit code for os.Exit.
func Main(m *testing.M) int {
	code := m.Run()
	if err := stop(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// NewDatabase creates an empty database and returns a URL that connects to
// it as the server's superuser (the owner of everything in it). The
// database is dropped, WITH (FORCE), when the test ends. It is on a Citus
// cluster when EnvDB says so (see Citus).
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	return newDatabase(tb, get(tb, defaultKind()))
}

// NewCitusDatabase is NewDatabase on a Citus cluster whatever EnvDB says:
// for the tests of what only Citus has (distribution, shards), which run
// in the plain suite too. The cluster is EnvDB's when that is Citus, and
// otherwise a private one, started on first use; a machine without Citus
// fails the test and says how to install it.
func NewCitusDatabase(tb testing.TB) string {
	tb.Helper()
	return newDatabase(tb, get(tb, citusServer))
}

func newDatabase(tb testing.TB, srv *server) string {
	tb.Helper()
	name := "pgtest_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := srv.createDatabase(ctx, name, ""); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	srv.dropAtCleanup(tb, name)
	return srv.urlFor(name, srv.url.User)
}

// dropAtCleanup drops database name when tb ends.
func (s *server) dropAtCleanup(tb testing.TB, name string) {
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := s.dropDatabase(ctx, name); err != nil {
			tb.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
}

// createDatabase creates database name, empty or (with template) a copy
// of template, and on Citus makes it a Citus database on every node.
func (s *server) createDatabase(ctx context.Context, name, template string) error {
	if s.citus != nil {
		s.citus.ddl.Lock()
		defer s.citus.ddl.Unlock()
	}
	if template != "" {
		return s.copyDatabase(ctx, name, template)
	}
	if _, err := s.admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	if s.citus != nil {
		if err := s.citusDatabase(ctx, name); err != nil {
			return errors.Join(fmt.Errorf("make %s a Citus database: %w", name, err), s.dropDatabaseLocked(ctx, name))
		}
	}
	return nil
}

// dropDatabase drops database name, WITH (FORCE): ending its sessions.
//
// On Citus the DROP is carried to every worker, where it may find the
// database still in use for a moment by a process that FORCE does not end
// (seen on Citus 13.2 while other databases are being set up: the
// database's Citus maintenance daemon), and fail there after the
// coordinator's copy is gone. So it is tried again, as the error says to,
// and then each worker drops what may be left of it.
func (s *server) dropDatabase(ctx context.Context, name string) error {
	if s.citus != nil {
		s.citus.ddl.Lock()
		defer s.citus.ddl.Unlock()
	}
	return s.dropDatabaseLocked(ctx, name)
}

// dropDatabaseLocked is dropDatabase with the Citus DDL lock held.
func (s *server) dropDatabaseLocked(ctx context.Context, name string) error {
	drop := "DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize() + " WITH (FORCE)"
	if s.citus == nil {
		_, err := s.admin.Exec(ctx, drop)
		return err
	}
	err := retryInUse(ctx, func() error {
		_, err := s.admin.Exec(ctx, drop)
		if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "3D000" {
			return nil // the coordinator's copy went in an earlier attempt
		}
		return err
	})
	for _, w := range s.citus.workers {
		err = errors.Join(err, retryInUse(ctx, func() error { return s.citus.exec(ctx, w, "postgres", drop) }))
	}
	return err
}

// retryInUse runs f until it does not fail with "database is being
// accessed by other users" (55006), three times at most.
func retryInUse(ctx context.Context, f func() error) error {
	for attempt := 1; ; attempt++ {
		err := f()
		pgErr, ok := errors.AsType[*pgconn.PgError](err)
		if err == nil || attempt == 3 || !ok || pgErr.Code != "55006" {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		}
	}
}

// citusDatabase makes the new database name a Citus database on every
// node, with few shards per distributed table (citusShardCount).
func (s *server) citusDatabase(ctx context.Context, name string) error {
	id := pgx.Identifier{name}.Sanitize()
	if _, err := s.admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s SET citus.shard_count = %d", id, citusShardCount)); err != nil {
		return err
	}
	return s.citus.setup(ctx, name)
}

// NewOwner makes a new login role that is not a superuser but may create
// roles, gives it the database of dbURL (a URL from NewDatabase) and
// returns a URL that connects as it. This is the shape of a managed
// PostgreSQL's admin account, where superuser privileges (and their silent
// bypass of row-level security) are not available: code that only works as
// a superuser fails here. The role is dropped when the test ends, after
// what it owns is handed back to the superuser.
func NewOwner(tb testing.TB, dbURL string) string {
	tb.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		tb.Fatalf("pgtest: parse database URL: %v", err)
	}
	srv := serverOf(tb, u)
	role, password, database := "pgtest_owner_"+randomHex(6), randomHex(16), u.Path[1:]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id := pgx.Identifier{role}.Sanitize()
	// On Citus the role is made from inside its database: Citus propagates
	// a GRANT of one role to another (the service role to this owner, by
	// Migrate) only between roles it made in the same database.
	var admin interface {
		Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	} = srv.admin
	if srv.citus != nil {
		conn, err := pgx.Connect(ctx, srv.urlFor(database, srv.url.User))
		if err != nil {
			tb.Fatalf("pgtest: create role %s: %v", role, err)
		}
		defer conn.Close(context.Background())
		admin = conn
	}
	// The password is hex: nothing to escape.
	if _, err := admin.Exec(ctx, "CREATE ROLE "+id+" LOGIN CREATEROLE NOSUPERUSER NOBYPASSRLS PASSWORD '"+password+"'"); err != nil {
		tb.Fatalf("pgtest: create role %s: %v", role, err)
	}
	tb.Cleanup(func() { dropRole(tb, srv, dbURL, role) })
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{database}.Sanitize()+" OWNER TO "+id); err != nil {
		tb.Fatalf("pgtest: give database %s to %s: %v", database, role, err)
	}
	return srv.urlFor(database, url.UserPassword(role, password))
}

// dropRole hands what role owns in the database of dbURL back to the
// superuser and drops the role. DROP ROLE refuses while the role owns
// anything or holds privileges, and roles outlive databases.
func dropRole(tb testing.TB, srv *server, dbURL, role string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if srv.citus != nil {
		dropCitusRole(ctx, tb, srv, dbURL, role)
		return
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		tb.Errorf("pgtest: drop role %s: %v", role, err)
		return
	}
	defer conn.Close(ctx)
	id := pgx.Identifier{role}.Sanitize()
	for _, q := range []string{"REASSIGN OWNED BY " + id + " TO CURRENT_USER", "DROP OWNED BY " + id} {
		if _, err := conn.Exec(ctx, q); err != nil {
			tb.Errorf("pgtest: %s: %v", q, err)
			return
		}
	}
	if _, err := srv.admin.Exec(ctx, "DROP ROLE IF EXISTS "+id); err != nil {
		tb.Errorf("pgtest: drop role %s: %v", role, err)
	}
}

// dropCitusRole drops the owner role of a Citus database, and the
// database with it, which its test is done with: Citus 13.2.2 crashes
// the coordinator (a segmentation fault) on REASSIGN OWNED BY a role that
// owns distributed tables, so what the role owns goes with the database
// rather than back to the superuser. The role was made in the database
// (NewOwner), so Citus does not carry its DROP ROLE from the maintenance
// database to the workers: each node drops it.
func dropCitusRole(ctx context.Context, tb testing.TB, srv *server, dbURL, role string) {
	u, _ := url.Parse(dbURL)
	if err := srv.dropDatabase(ctx, u.Path[1:]); err != nil {
		tb.Errorf("pgtest: drop role %s: drop its database: %v", role, err)
		return
	}
	drop := "DROP ROLE IF EXISTS " + pgx.Identifier{role}.Sanitize()
	if _, err := srv.admin.Exec(ctx, drop); err != nil {
		tb.Errorf("pgtest: drop role %s: %v", role, err)
	}
	for _, w := range srv.citus.workers {
		if err := srv.citus.exec(ctx, w, "postgres", drop); err != nil {
			tb.Errorf("pgtest: drop role %s: %v", role, err)
		}
	}
}

// urlFor is the server's URL with another database and user.
func (s *server) urlFor(database string, user *url.Userinfo) string {
	u := *s.url
	u.Path = "/" + database
	u.User = user
	return u.String()
}

// get returns the shared server of kind k, starting it on first use; a
// failure to start fails the calling test (and every later one) with the
// reason.
func get(tb testing.TB, k kind) *server {
	tb.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.stopped {
		tb.Fatal("pgtest: the server was already stopped (a database was asked for after Main)")
	}
	if shared.srv[k] == nil && shared.err[k] == nil {
		shared.srv[k], shared.err[k] = start(k)
	}
	if shared.err[k] != nil {
		tb.Fatalf("pgtest: %v", shared.err[k])
	}
	return shared.srv[k]
}

// serverOf returns the started server that u (a URL NewDatabase made)
// points at.
func serverOf(tb testing.TB, u *url.URL) *server {
	tb.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	for _, srv := range shared.srv {
		if srv != nil && srv.url.Host == u.Host {
			return srv
		}
	}
	tb.Fatalf("pgtest: %s is not on a test server (a URL from NewDatabase was expected)", u.Redacted())
	return nil
}

// start connects to the server named by EnvURL, when that is of kind k,
// or starts a private one of kind k.
func start(k kind) (*server, error) {
	if err := checkEnvDB(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if raw := os.Getenv(EnvURL); raw != "" && k == defaultKind() {
		srv, err := connect(ctx, raw, nil, k)
		if err != nil || k != citusServer {
			return srv, err
		}
		if srv.citus, err = readCitus(ctx, srv); err != nil {
			srv.admin.Close()
			return nil, err
		}
		return srv, nil
	}
	if k == citusServer {
		return startCitus(ctx)
	}
	c, err := startCluster(ctx, nodeConfig{})
	if err != nil {
		return nil, err
	}
	srv, err := connect(ctx, c.url, c, k)
	if err != nil {
		return nil, errors.Join(err, c.stop())
	}
	return srv, nil
}

func connect(ctx context.Context, raw string, c *cluster, k kind) (*server, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.User == nil {
		return nil, fmt.Errorf("test server: want a postgres://user@host/database URL (%s)", EnvURL)
	}
	cfg, err := pgxpool.ParseConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("test server: parse URL: %w", err)
	}
	cfg.MaxConns = 4
	if k == citusServer {
		citusAdmin(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err == nil {
		err = pool.Ping(ctx)
	}
	if err != nil {
		if pool != nil {
			pool.Close()
		}
		return nil, fmt.Errorf("connect to test server %s: %w", u.Redacted(), err)
	}
	return &server{url: u, admin: pool, cluster: c}, nil
}

// stop closes the admin pools and stops the private clusters, if any.
func stop() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	shared.stopped = true
	var err error
	for _, srv := range shared.srv {
		if srv == nil {
			continue
		}
		err = errors.Join(err, srv.dropTemplates())
		srv.admin.Close()
		if srv.cluster != nil {
			err = errors.Join(err, srv.cluster.stop())
		}
		if srv.citus != nil {
			err = errors.Join(err, srv.citus.stop())
		}
	}
	return err
}

// randomHex returns n random bytes in hex: names of databases and roles
// that never collide across parallel tests and test binaries.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms.
	return hex.EncodeToString(b)
}
