// Package postgres is the cloud's store: every organization's data in one
// PostgreSQL database, reached through pgx, with tenant isolation enforced
// by PostgreSQL's row-level security rather than by WHERE clauses alone.
// *Store implements the services of the cloud's domain (package cloud),
// whose types it stores, and the SQL half of replication that
// cloud/syncserver's policy runs on (InPush, Pull, WaitForChange, ...). It
// stores what cloud/auth decides (hashes, refresh-token state, failure
// counts) and does not import it.
//
// Three roles are involved. The migrator (the user of the URL given to
// Migrate) owns every table and function. The service role (pantry_service
// by default) is what the running service acts as: it owns nothing, cannot
// bypass row-level security, and sees a tenant's rows only inside
// InTenant, which names the tenant for one transaction. Open may be given
// the service role's own URL or the migrator's (or a superuser's): in the
// latter case every pooled connection switches to the service role before
// it is used, so row-level security applies whatever URL was configured.
//
// Adding to the store: the type and its validation go in the domain
// (package cloud), its SQL in one file per resource (sites.go, items.go, ...);
// each method runs its statements in s.InTenant with the organization from
// the caller's credential, and still names organization_id in its WHERE
// clauses: row-level security is the guard, the explicit filter is what
// lets PostgreSQL use the (organization_id, ...) indexes and, under Citus,
// route the query to one shard. New tenant tables go in a new migration
// with organization_id first in their keys and `SELECT
// pantry_tenant_rls('table')`; the tests fail for a table without it.
//
// What Citus asks of the SQL (the suites run on a Citus cluster too,
// PANTRY_TEST_DB=citus; see citus.go and 0015_citus.sql):
//
//   - A statement that writes many rows from arrays takes the
//     organization from its row, `INSERT INTO t SELECT g.id, u.* FROM
//     organizations g, unnest($2, ...) AS u WHERE g.id = $1`, never as a
//     bare $1. Citus then sends the whole statement to the organization's
//     shard. From arrays alone (or with a volatile function such as
//     gen_random_uuid() in the SELECT) it runs the SELECT on the
//     coordinator and COPYs the rows into the shard, and PostgreSQL
//     refuses COPY into a table under row-level security.
//   - A NOTIFY is sent by a statement that reads no tenant table
//     (notifySitesSQL, pantry_notify_orders): one over a distributed table
//     runs on a worker, where no listener hears it.
//   - An UPDATE keeps now() out of CASE and COALESCE, which Citus refuses
//     (pantry_flag_time takes it as an argument instead).
//   - A read that joins two tenant tables joins them on organization_id
//     too: that is what lets Citus run the join inside one shard group.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pantry/pantry/internal/pantry"
)

// Options tune Open. The zero value is usable.
type Options struct {
	// ServiceRole is the role every connection acts as. Default
	// DefaultServiceRole; it must match what Migrate was given.
	ServiceRole string
	// MaxConns caps the pool (default: pgxpool's, the larger of 4 and the
	// number of CPUs, unless the URL sets pool_max_conns).
	MaxConns int32
	// Logger receives what the store does in the background (the
	// listener losing its connection). Default: discarded.
	Logger *slog.Logger
}

// Store is the cloud's PostgreSQL store. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	role string
	// feed wakes long-polling pulls (WaitForChange) and feeds order
	// subscribers (SubscribeOrders); its listener starts with the first
	// wait or subscription and stops in Close.
	feed *listener
}

// Open connects to the database at url, makes every connection act as the
// service role, and checks that the schema is at this binary's version
// (a *SchemaError otherwise). Close it when done.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	role := opts.ServiceRole
	if role == "" {
		role = DefaultServiceRole
	}
	if !validRole.MatchString(role) {
		return nil, fmt.Errorf("open store: service role %q is not a valid role name", role)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open store: parse database URL: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["search_path"]; !ok {
		cfg.ConnConfig.RuntimeParams["search_path"] = "public" // where Migrate puts the schema
	}
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error { return becomeServiceRole(ctx, conn, role) }
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	// Connect now: a wrong URL or a missing role is an error at start, not
	// at the first request.
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := CheckSchema(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The listener's connection says what it is in pg_stat_activity.
	listenCfg := cfg.ConnConfig.Copy()
	listenCfg.RuntimeParams["application_name"] = listenerApplication
	connect := func(ctx context.Context) (*pgx.Conn, error) { return connectAsService(ctx, listenCfg, role) }
	return &Store{pool: pool, role: role, feed: newListener(connect, log)}, nil
}

// connectAsService opens one connection outside the pool, acting as the
// service role as pooled ones do: the listener holds it for as long as
// it listens, where a pooled connection would be lost to the pool (and
// LISTEN on a pooled connection outlives its user).
func connectAsService(ctx context.Context, cfg *pgx.ConnConfig, role string) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg.Copy())
	if err != nil {
		return nil, err
	}
	if err := becomeServiceRole(ctx, conn, role); err != nil {
		closeConn(conn)
		return nil, err
	}
	return conn, nil
}

// becomeServiceRole runs on every new connection before the pool hands it
// out. A connection as anyone but the service role switches to it with a
// session-level SET ROLE, and the result is checked: a role that is a
// superuser or has BYPASSRLS would see every tenant's rows, so the
// connection is refused rather than used.
func becomeServiceRole(ctx context.Context, conn *pgx.Conn, role string) error {
	var user string
	if err := conn.QueryRow(ctx, `SELECT current_user`).Scan(&user); err != nil {
		return fmt.Errorf("read current user: %w", err)
	}
	if user != role {
		if _, err := conn.Exec(ctx, "SET ROLE "+pgx.Identifier{role}.Sanitize()); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && (pgErr.Code == "22023" || pgErr.Code == "42704") {
				return fmt.Errorf("the service role %s does not exist: run `pantry cloud migrate`: %w", role, err)
			}
			return fmt.Errorf("connected as %s, could not SET ROLE %s (is %s a member of it? `pantry cloud migrate` grants that): %w", user, role, user, err)
		}
	}
	var super, bypass bool
	err := conn.QueryRow(ctx, `SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`).
		Scan(&user, &super, &bypass)
	switch {
	case err != nil:
		return fmt.Errorf("check service role: %w", err)
	case user != role:
		return fmt.Errorf("connection acts as %s, not the service role %s", user, role)
	case super || bypass:
		return fmt.Errorf("the service role %s is a superuser or has BYPASSRLS: row-level security would not apply to it", role)
	}
	return nil
}

// Close stops the listener, if it runs (closing the order feed's
// subscriptions), and closes every connection of the pool.
func (s *Store) Close() {
	s.feed.stop()
	s.pool.Close()
}

// Ping checks that the database answers (for readiness probes).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// InTenant runs fn in one transaction in which organization orgID's rows,
// and only those, are visible and writable. The tenant is set with SET
// LOCAL, which lasts until the transaction ends: never on the pooled
// connection itself, where it would outlive the request and leak into the
// next one. fn's error (or the commit's) rolls back and is returned, with
// the database errors a client can cause (a duplicate, a reference to
// nothing, a failed check) turned into domain errors.
func (s *Store) InTenant(ctx context.Context, orgID string, fn func(pgx.Tx) error) error {
	return s.inTenantTx(ctx, orgID, pgx.TxOptions{}, fn)
}

// inTenantTx is InTenant with a transaction of the given isolation level
// and access mode: a REPEATABLE READ transaction reads every statement
// from one snapshot (a pull's configuration and the revision it is at).
func (s *Store) inTenantTx(ctx context.Context, orgID string, opts pgx.TxOptions, fn func(pgx.Tx) error) error {
	if !pantry.ValidID(orgID) {
		return pantry.Errorf(pantry.EINVALID, "organization id %q is not a UUID", orgID)
	}
	err := pgx.BeginTxFunc(ctx, s.pool, opts, func(tx pgx.Tx) error {
		user, err := setTenant(ctx, tx, orgID)
		if err != nil {
			return fmt.Errorf("set tenant: %w", err)
		}
		if user != s.role {
			return fmt.Errorf("connection acts as %s, not the service role %s: refusing to run a tenant's transaction", user, s.role)
		}
		return fn(tx)
	})
	return domainError(err)
}

// setTenant names organization orgID (a valid UUID) as tx's tenant and
// returns the role the connection acts as: current_user costs nothing
// here, and proves that the connection still acts as the service role.
//
// Why SET LOCAL, and not set_config('app.org_id', $1, true), which takes
// the id as a parameter: on Citus a statement runs on the workers that
// hold its shards, over the coordinator's own connections to them, and
// row-level security there reads app.org_id on the worker. Citus forwards
// a SET LOCAL to the workers a transaction uses, when
// citus.propagate_set_commands is 'local'; a set_config call it never
// forwards, and every shard then sees no tenant (checked on Citus 13.2,
// see ../shared/citus/README.md). The propagation is set here, for this
// transaction, rather than left to the cluster's configuration: isolation
// would otherwise hang on a setting the code cannot see. On a PostgreSQL
// without Citus, citus.propagate_set_commands is an unknown setting with a
// dot in its name, which PostgreSQL keeps without complaint.
//
// SET takes no parameters, so the id is in the statement as a literal:
// ValidID let through only hexadecimal digits and dashes, nothing that
// could end the literal. The three statements go as one simple-protocol
// query, one round trip, and no prepared statement per tenant.
func setTenant(ctx context.Context, tx pgx.Tx, orgID string) (string, error) {
	if !pantry.ValidID(orgID) {
		return "", pantry.Errorf(pantry.EINVALID, "organization id %q is not a UUID", orgID)
	}
	sql := "SET LOCAL citus.propagate_set_commands = 'local'; SET LOCAL app.org_id = '" + orgID + "'; SELECT current_user"
	results, err := tx.Conn().PgConn().Exec(ctx, sql).ReadAll()
	if err != nil {
		return "", err
	}
	if len(results) != 3 || len(results[2].Rows) != 1 || len(results[2].Rows[0]) != 1 {
		return "", errors.New("unexpected answer to SET LOCAL app.org_id")
	}
	return string(results[2].Rows[0][0]), nil
}
