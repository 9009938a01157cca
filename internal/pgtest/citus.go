package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// A Citus cluster for the same tests (issue 14: one conformance suite
// over two databases). With PANTRY_TEST_DB=citus the test binary's
// server is a Citus coordinator with two workers, and every database
// NewDatabase makes is a Citus database on all three: the cloud's code
// then runs against distributed tables, where PostgreSQL features that
// a single server gives for free (a NOTIFY from any statement, SQL
// functions over any table, unique keys without the tenant) behave
// differently or not at all.
//
// Where the cluster comes from:
//
//   - With PANTRY_TEST_DATABASE_URL set, that server must be a Citus
//     coordinator whose maintenance database (the URL's) has the citus
//     extension and its workers registered (citus_add_node): the workers
//     are read from there, and reached with the URL's user and password.
//   - Otherwise the first test that asks starts three private servers from
//     the PostgreSQL binaries (as for the plain cluster), each with
//     shared_preload_libraries = 'citus', and registers the two workers
//     with the coordinator. The coordinator asks for passwords over TCP as
//     the plain server does; the workers trust TCP connections from
//     127.0.0.1, because Citus connects to them as whichever role runs
//     the query on the coordinator (the service role, a test's owner) and
//     a private test cluster has no pg_dist_authinfo or certificates to
//     give it. A role that may not LOG IN is still refused there, as in
//     production.
//
// The private coordinator is registered by its socket directory, which
// trusts, rather than 127.0.0.1, which asks for a password: Citus
// connects to the coordinator too (to carry a CREATE DATABASE to the
// nodes, for one).
//
// One database per test still holds: NewDatabase creates the database on
// every node (Citus propagates CREATE DATABASE with
// citus.enable_create_database_propagation), creates the extension in
// it on every node and registers the coordinator and the workers in it,
// all before the test sees it (about a second; databases are made and
// dropped one at a time, see citusCluster.ddl); DROP DATABASE propagates
// the same way. Distributed tables get citusShardCount shards. Roles made
// through the coordinator propagate to the workers; NewOwner makes its
// role from inside the test's database, where Citus records it.
//
// NewCitusDatabase gives a Citus database whatever PANTRY_TEST_DB says,
// for the tests of what only Citus has; they run, and need Citus, in the
// plain suite too.

// EnvDB names the environment variable that chooses the kind of database
// the tests run on: "postgres" (or unset) for a single PostgreSQL server,
// "citus" for a Citus cluster.
const EnvDB = "PANTRY_TEST_DB"

// citusHint is what a machine without Citus needs.
const citusHint = "Citus is not installed into these PostgreSQL binaries: run ../shared/citus/build.sh as root " +
	"(it builds Citus 13.2.2 into PostgreSQL 15), or unset " + EnvDB + " to test on plain PostgreSQL"

// citusShardCount is the number of shards of each distributed table in a
// test database (Citus's default is 32). Four, two per worker, keep
// tenants spread over both workers while every create_distributed_table
// of a test's migration creates 4 tables instead of 32.
const citusShardCount = 4

// Citus reports whether the tests run on a Citus cluster (PANTRY_TEST_DB=citus).
// Tests use it to migrate with distribution (postgres.MigrateOptions.Citus)
// and to check what only exists there. Any value but "", "postgres" and
// "citus" fails the first test that asks for a database.
func Citus() bool { return os.Getenv(EnvDB) == "citus" }

// checkEnvDB refuses a PANTRY_TEST_DB that names neither kind of database:
// a typo would otherwise run the plain suite and look like a Citus pass.
func checkEnvDB() error {
	switch v := os.Getenv(EnvDB); v {
	case "", "postgres", "citus":
		return nil
	default:
		return fmt.Errorf("%s=%q: want postgres or citus", EnvDB, v)
	}
}

// node is a Citus node as the coordinator's metadata names it.
type node struct {
	host string
	port int
}

func (n node) String() string { return net.JoinHostPort(n.host, strconv.Itoa(n.port)) }

// citusCluster is what NewDatabase needs to make a Citus database: where
// the coordinator and the workers are, and how to reach the workers as
// the superuser.
type citusCluster struct {
	// ddl serialises making and dropping databases. Done at once in
	// several databases, they were seen to wait on each other on the
	// workers until the test binary timed out (Citus 13.2 detects
	// distributed deadlocks within one database only).
	ddl         sync.Mutex
	coordinator node
	workers     []node
	user        *url.Userinfo
	private     []*cluster // the three servers when private: stopped with the server
}

// startCitus starts a private coordinator and two workers, in parallel,
// and registers the workers in the coordinator's maintenance database.
func startCitus(ctx context.Context) (*server, error) { return startCitusWith(ctx, "citus") }

// startCitusWith is startCitus with the extension's library named: a test
// names one that is not installed.
func startCitusWith(ctx context.Context, library string) (*server, error) {
	cc, err := startCitusNodes(ctx, library)
	if err != nil {
		return nil, err
	}
	srv, err := connect(ctx, cc.private[0].url, nil, citusServer)
	if err != nil {
		return nil, errors.Join(err, cc.stop())
	}
	srv.citus = cc
	return srv, nil
}

// startCitusNodes starts the three private servers of a Citus cluster,
// the coordinator first in private, and makes their maintenance
// databases a Citus cluster: the shared server's, and a test's own
// (StartCitusCluster, citus_cluster.go).
func startCitusNodes(ctx context.Context, library string) (*citusCluster, error) {
	settings := citusNodeSettings(library)
	cfgs := []nodeConfig{{settings: settings}, {trustHost: true, settings: settings}, {trustHost: true, settings: settings}}
	nodes := make([]*cluster, len(cfgs))
	errs := make([]error, len(cfgs))
	var wg sync.WaitGroup
	for i, cfg := range cfgs {
		wg.Go(func() { nodes[i], errs[i] = startCluster(ctx, cfg) })
	}
	wg.Wait()
	stopAll := func() error {
		var err error
		for _, c := range nodes {
			if c != nil {
				err = errors.Join(err, c.stop())
			}
		}
		return err
	}
	if err := errors.Join(errs...); err != nil {
		return nil, errors.Join(fmt.Errorf("start a Citus cluster: %w (%s)", err, citusHint), stopAll())
	}
	// The coordinator is registered, and knows itself (local_hostname), by
	// its socket directory: Citus connects to it too (to propagate CREATE
	// DATABASE, for one), as the current role and without a password, and
	// the socket trusts where TCP asks for one. Every node runs on this
	// machine.
	cc := &citusCluster{coordinator: node{nodes[0].dir, nodes[0].port}, private: nodes}
	for _, w := range nodes[1:] {
		cc.workers = append(cc.workers, node{"127.0.0.1", w.port})
	}
	u, _ := url.Parse(nodes[0].url)
	cc.user = u.User
	err := cc.exec(ctx, cc.coordinator, "postgres", "ALTER SYSTEM SET citus.local_hostname = "+quote(nodes[0].dir), "SELECT pg_reload_conf()")
	if err == nil {
		err = cc.setup(ctx, "postgres")
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("set up the Citus cluster: %w", err), stopAll())
	}
	return cc, nil
}

// citusNodeSettings are the server settings of every node of a private
// Citus cluster, library being the extension's (a test names one that
// is not installed). A worker added later (citus_worker.go) has them too.
func citusNodeSettings(library string) []string {
	return []string{"shared_preload_libraries=" + library,
		// Each database with the extension runs a Citus maintenance
		// daemon, a background worker, on every node; tests run with a
		// few databases alive at once.
		"max_worker_processes=64",
		// Citus opens connections to the workers beside the tests' own.
		"max_connections=300"}
}

// readCitus reads the Citus cluster behind an external coordinator from
// its maintenance database's metadata.
func readCitus(ctx context.Context, srv *server) (*citusCluster, error) {
	rows, _ := srv.admin.Query(ctx, `SELECT groupid = 0, nodename, nodeport FROM pg_dist_node
		WHERE noderole = 'primary' AND isactive ORDER BY groupid, nodeid`) // an error surfaces from CollectRows
	type row struct {
		Coordinator bool
		Host        string
		Port        int
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		return nil, fmt.Errorf("%s=citus, but %s is not a Citus coordinator with its workers registered in its maintenance database: %w",
			EnvDB, srv.url.Redacted(), err)
	}
	cc := &citusCluster{user: srv.url.User}
	for _, r := range got {
		if r.Coordinator {
			cc.coordinator = node{r.Host, r.Port}
		} else {
			cc.workers = append(cc.workers, node{r.Host, r.Port})
		}
	}
	if cc.coordinator.host == "" || len(cc.workers) == 0 {
		return nil, fmt.Errorf("%s=citus: the Citus metadata of %s names %d nodes; want the coordinator (citus_set_coordinator_host) and at least one worker (citus_add_node)",
			EnvDB, srv.url.Redacted(), len(got))
	}
	return cc, nil
}

// setup makes database a Citus database on every node: the extension on
// the workers first (citus_add_node refuses a worker without it), then on
// the coordinator, which then learns its own address and its workers'.
// The database must exist on every node already.
func (cc *citusCluster) setup(ctx context.Context, database string) error {
	errs := make([]error, len(cc.workers))
	var wg sync.WaitGroup
	for i, w := range cc.workers {
		wg.Go(func() { errs[i] = cc.exec(ctx, w, database, "CREATE EXTENSION IF NOT EXISTS citus") })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	stmts := []string{"CREATE EXTENSION IF NOT EXISTS citus",
		fmt.Sprintf("SELECT citus_set_coordinator_host(%s, %d)", quote(cc.coordinator.host), cc.coordinator.port)}
	for _, w := range cc.workers {
		stmts = append(stmts, fmt.Sprintf("SELECT citus_add_node(%s, %d)", quote(w.host), w.port))
	}
	return cc.exec(ctx, cc.coordinator, database, stmts...)
}

// exec runs stmts on one node's database as the superuser.
func (cc *citusCluster) exec(ctx context.Context, n node, database string, stmts ...string) error {
	u := url.URL{Scheme: "postgres", User: cc.user, Host: n.String(), Path: "/" + database, RawQuery: "sslmode=disable"}
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return fmt.Errorf("connect to Citus node %s: %w", n, err)
	}
	defer conn.Close(context.Background())
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("Citus node %s, database %s: %s: %w", n, database, s, err)
		}
	}
	return nil
}

// stop stops the private servers, if any.
func (cc *citusCluster) stop() error {
	var err error
	for _, c := range cc.private {
		err = errors.Join(err, c.stop())
	}
	return err
}

// citusAdmin makes the admin pool's CREATE and DROP DATABASE reach every
// node of a Citus cluster.
func citusAdmin(cfg *pgxpool.Config) {
	cfg.ConnConfig.RuntimeParams["citus.enable_create_database_propagation"] = "on"
}

// quote is s as an SQL string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
