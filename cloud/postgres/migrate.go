package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Why a small runner and not goose or golang-migrate: what Migrate must do
// around the SQL files is specific to this schema (create the service role,
// grant it exactly what it may do after every run, refuse a database that
// a newer binary migrated), while the runner itself is short: one
// connection, a session advisory lock so that concurrent `pantry cloud
// migrate` runs (several instances starting at once) apply each file
// exactly once, each file in its own transaction together with its row in
// schema_migrations. On Citus (MigrateOptions.Citus) the tables are then
// distributed in one more transaction under the same lock (citus.go);
// Citus runs DDL on distributed tables inside a transaction block, so a
// later migration file keeps its one transaction there too, and what
// Citus refuses in one fails that file with Citus's error, its line and
// nothing applied. There are no down-migrations: the schema only moves
// forward, and every file is embedded in the binary. The lock is a session
// lock, not pg_advisory_xact_lock, because it must span several
// transactions. A consequence of one transaction per file: a file cannot
// use CREATE INDEX CONCURRENTLY, which refuses to run inside one.

// DefaultServiceRole is the role the service runs as unless told otherwise.
const DefaultServiceRole = "pantry_service"

// migrateLockKey is the session advisory lock that serialises Migrate runs
// on one database. An arbitrary constant ("pantry" in ASCII); advisory
// locks are per database, so other databases of the cluster don't contend.
const migrateLockKey int64 = 0x70616e747279

// MigrateOptions tune Migrate. The zero value is usable.
type MigrateOptions struct {
	// ServiceRole is the role the service will run as: created if missing
	// (NOLOGIN NOSUPERUSER NOBYPASSRLS), granted what the service needs and
	// no more. Default DefaultServiceRole.
	ServiceRole string
	// ServicePassword, if set, makes the service role a LOGIN role with
	// this password (set again on every run, so it also rotates it), for
	// deployments that connect as the service role directly. It is sent as
	// a SCRAM-SHA-256 verifier, never in the clear, so it stays out of the
	// server's statement log.
	ServicePassword string
	// Citus distributes the tables over a Citus cluster after migrating
	// (citus.go): tenant tables by organization_id, the global ones as
	// reference or local tables. The database must have the citus
	// extension. A database once distributed stays so: later runs place
	// new tables whether or not Citus is set. On Citus the service role
	// is created able to log in (LOGIN, without a password unless
	// ServicePassword gives one), because Citus runs a query's shards on
	// the workers over connections of the role that runs it.
	Citus bool
}

func (o MigrateOptions) role() string {
	if o.ServiceRole == "" {
		return DefaultServiceRole
	}
	return o.ServiceRole
}

// MigrateResult says what Migrate did.
type MigrateResult struct {
	From        int      `json:"from_version"` // schema version before
	To          int      `json:"to_version"`   // and after
	Applied     []string `json:"applied"`      // migration files applied, in order
	ServiceRole string   `json:"service_role"`
	CreatedRole bool     `json:"created_role"` // the service role did not exist before
	Citus       bool     `json:"citus"`        // the database is distributed over a Citus cluster
	Placed      []string `json:"placed"`       // tables distributed or made reference tables, in order
}

// validRole keeps role names to plain identifiers: they appear in messages
// and policies, where quoting surprises nobody wants.
var validRole = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Migrate brings the database at ownerURL to this binary's schema version.
// The URL's user becomes the owner of every table (the migrator); it must
// be able to create tables in the public schema and roles (a superuser, or
// the database's owner with CREATEROLE, as on managed PostgreSQL). Running
// it again is a no-op apart from re-granting the service role's
// privileges; concurrent runs wait for each other.
func Migrate(ctx context.Context, ownerURL string, opts MigrateOptions) (MigrateResult, error) {
	res := MigrateResult{ServiceRole: opts.role(), Applied: []string{}, Placed: []string{}}
	if !validRole.MatchString(res.ServiceRole) {
		return res, fmt.Errorf("service role %q: use lower-case letters, digits and underscores", res.ServiceRole)
	}
	ms, err := loadMigrations()
	if err != nil {
		return res, err
	}
	conn, err := pgx.Connect(ctx, ownerURL)
	if err != nil {
		return res, fmt.Errorf("migrate: connect: %w", err)
	}
	defer closeConn(conn)
	// The schema lives in public: pin it, so that a schema named after the
	// migrating user ("$user" comes first in the default path) can't
	// capture the tables.
	if _, err := conn.Exec(ctx, `SET search_path = public`); err != nil {
		return res, fmt.Errorf("migrate: %w", err)
	}
	// Held until the deferred close ends the session, however this ends.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLockKey); err != nil {
		return res, fmt.Errorf("migrate: wait for other migrations: %w", err)
	}
	err = migrateLocked(ctx, conn, ms, opts, &res)
	return res, err
}

func migrateLocked(ctx context.Context, conn *pgx.Conn, ms []migration, opts MigrateOptions, res *MigrateResult) error {
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	applied, err := appliedMigrations(ctx, conn, ms)
	if err != nil {
		return err
	}
	res.From, res.To = len(applied), len(applied)
	if res.Citus, err = citusMode(ctx, conn, opts.Citus); err != nil {
		return err
	}
	if res.CreatedRole, err = ensureServiceRole(ctx, conn, res.ServiceRole, opts.ServicePassword, res.Citus); err != nil {
		return err
	}
	for _, m := range ms[len(applied):] {
		if err := applyMigration(ctx, conn, m); err != nil {
			return err
		}
		res.Applied = append(res.Applied, m.name)
		res.To = m.version
	}
	if res.Citus {
		// Before the grants: Citus gives a shard the privileges its table
		// has when it is created, and passes on later GRANTs itself.
		if res.Placed, err = distribute(ctx, conn); err != nil {
			return err
		}
	}
	return grantServiceRole(ctx, conn, res.ServiceRole)
}

// appliedMigrations returns the names of the applied migrations, checking
// that they are a prefix of ms: the same files, under the same names.
func appliedMigrations(ctx context.Context, conn *pgx.Conn, ms []migration) ([]string, error) {
	rows, err := conn.Query(ctx, `SELECT version, name FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	type row struct {
		Version int
		Name    string
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	if len(got) > len(ms) {
		return nil, fmt.Errorf("migrate: %w", &SchemaError{Have: got[len(got)-1].Version, Want: len(ms)})
	}
	names := make([]string, len(got))
	for i, r := range got {
		if r.Version != ms[i].version || r.Name != ms[i].name {
			return nil, fmt.Errorf("migrate: the database recorded migration %d as %q, but this binary's is %q: migrations must never be renamed or edited",
				r.Version, r.Name, ms[i].name)
		}
		names[i] = r.Name
	}
	return names, nil
}

// applyMigration runs one file and records it, in one transaction.
func applyMigration(ctx context.Context, conn *pgx.Conn, m migration) error {
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		// No arguments: pgx sends it with the simple protocol, which runs
		// a file of many statements.
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("%s%w", sqlLine(m.sql, err), err)
		}
		_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name)
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate: apply %s: %w", m.name, err)
	}
	return nil
}

// sqlLine turns a PostgreSQL error's character position into "line N: ".
func sqlLine(sql string, err error) string {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Position <= 0 || int(pgErr.Position) > len([]rune(sql)) {
		return ""
	}
	before := string([]rune(sql)[:pgErr.Position-1])
	return fmt.Sprintf("line %d: ", strings.Count(before, "\n")+1)
}

// closeConn closes a connection with a bounded wait, whatever the state of
// the context it was used with.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}
