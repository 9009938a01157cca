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
}

// shared is the test binary's server, started by the first test that asks
// for a database. Package state on purpose: the point is that every test
// of the binary shares one server, and that Main can stop it.
var shared struct {
	mu      sync.Mutex
	srv     *server
	err     error // a failed start is reported to every test that asks
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
// database is dropped, WITH (FORCE), when the test ends.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	srv := get(tb)
	name := "pgtest_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := srv.admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("pgtest: create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := srv.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			tb.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return srv.urlFor(name, srv.url.User)
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
	srv := get(tb)
	u, err := url.Parse(dbURL)
	if err != nil {
		tb.Fatalf("pgtest: parse database URL: %v", err)
	}
	role, password, database := "pgtest_owner_"+randomHex(6), randomHex(16), u.Path[1:]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id := pgx.Identifier{role}.Sanitize()
	// The password is hex: nothing to escape.
	if _, err := srv.admin.Exec(ctx, "CREATE ROLE "+id+" LOGIN CREATEROLE NOSUPERUSER NOBYPASSRLS PASSWORD '"+password+"'"); err != nil {
		tb.Fatalf("pgtest: create role %s: %v", role, err)
	}
	tb.Cleanup(func() { dropRole(tb, srv, dbURL, role) })
	if _, err := srv.admin.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{database}.Sanitize()+" OWNER TO "+id); err != nil {
		tb.Fatalf("pgtest: give database %s to %s: %v", database, role, err)
	}
	return srv.urlFor(database, url.UserPassword(role, password))
}

// dropRole hands what role owns in the database of dbURL back to the
// superuser and drops the role. DROP ROLE refuses while the role owns
// anything or holds privileges, and roles outlive databases.
func dropRole(tb testing.TB, srv *server, dbURL, role string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
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

// urlFor is the server's URL with another database and user.
func (s *server) urlFor(database string, user *url.Userinfo) string {
	u := *s.url
	u.Path = "/" + database
	u.User = user
	return u.String()
}

// get returns the shared server, starting it on first use; a failure to
// start fails the calling test (and every later one) with the reason.
func get(tb testing.TB) *server {
	tb.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.stopped {
		tb.Fatal("pgtest: the server was already stopped (a database was asked for after Main)")
	}
	if shared.srv == nil && shared.err == nil {
		shared.srv, shared.err = start()
	}
	if shared.err != nil {
		tb.Fatalf("pgtest: %v", shared.err)
	}
	return shared.srv
}

// start connects to the server named by EnvURL or starts a private one.
func start() (*server, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if raw := os.Getenv(EnvURL); raw != "" {
		return connect(ctx, raw, nil)
	}
	c, err := startCluster(ctx)
	if err != nil {
		return nil, err
	}
	srv, err := connect(ctx, c.url, c)
	if err != nil {
		return nil, errors.Join(err, c.stop())
	}
	return srv, nil
}

func connect(ctx context.Context, raw string, c *cluster) (*server, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.User == nil {
		return nil, fmt.Errorf("test server: want a postgres://user@host/database URL (%s)", EnvURL)
	}
	cfg, err := pgxpool.ParseConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("test server: parse URL: %w", err)
	}
	cfg.MaxConns = 4
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

// stop closes the admin pool and stops the private cluster, if any.
func stop() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	shared.stopped = true
	if shared.srv == nil {
		return nil
	}
	shared.srv.admin.Close()
	if shared.srv.cluster != nil {
		return shared.srv.cluster.stop()
	}
	return nil
}

// randomHex returns n random bytes in hex: names of databases and roles
// that never collide across parallel tests and test binaries.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms.
	return hex.EncodeToString(b)
}
