package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// Distribution over a Citus cluster (issue 14, deploy/scale-out.md).
// `pantry cloud migrate --citus` applies the migrations as on any
// PostgreSQL and then places every table of the schema, in the same run
// and under the same advisory lock:
//
//   - organizations is distributed by id, and every tenant table (every
//     table with an organization_id) by organization_id, co-located with
//     it: an organization's rows of every table live in one shard group,
//     so a transaction that names its organization runs on one worker, and
//     the foreign keys between tenant tables, which all include
//     organization_id, hold within each shard.
//   - citusReferenceTables are copied to every node: small, global, and
//     read before any tenant is known.
//   - citusLocalTables stay on the coordinator only.
//
// A table that fits none of these stops the run with an error naming it:
// a new global table must be placed by someone who has thought about it.
// Placing is idempotent, so a second run places nothing, and a database
// once distributed stays so: a later Migrate distributes the tables that
// later migrations add, with or without --citus. Migrate never moves a
// table that is placed otherwise than this says; it reports it.
//
// All placing runs in one transaction (Citus allows create_distributed_table
// there), so a failure leaves every table as it was.

// citusReferenceTables are the global tables copied to every node.
// signing_keys is read by every instance to verify tokens; the
// directories (0015_citus.sql, 0016_organization_slugs.sql) are read by
// the pre-tenant lookups, which then route to one shard.
var citusReferenceTables = []string{"signing_keys", "user_emails", "credential_hashes", "organization_slugs"}

// citusLocalTables stay plain tables on the coordinator: the migration
// runner's own record, and the failed-login counters, which nothing joins
// and which would gain nothing from being copied.
var citusLocalTables = []string{"schema_migrations", "login_attempts"}

// citusWorkerFunctions are the schema's functions that statements run on
// the workers call (in an UPDATE Citus sends to a shard), so each worker
// needs its own copy. Citus copies a function made while the extension
// is installed by itself; one made before is copied here.
var citusWorkerFunctions = []string{"pantry_flag_time(timestamptz, boolean, timestamptz)"}

// citusMode reports whether Migrate places tables on Citus: when asked
// to (want), which needs the extension, or when the database is already
// distributed.
func citusMode(ctx context.Context, conn *pgx.Conn, want bool) (bool, error) {
	var ext bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')`).Scan(&ext); err != nil {
		return false, fmt.Errorf("migrate: look for the citus extension: %w", err)
	}
	if !ext {
		if want {
			var db string
			_ = conn.QueryRow(ctx, `SELECT current_database()`).Scan(&db)
			return false, fmt.Errorf("migrate --citus: the citus extension is not installed in database %s: as a superuser, "+
				"CREATE EXTENSION citus in it on the coordinator and on every worker, register the coordinator and the workers "+
				"(SELECT citus_set_coordinator_host(...); SELECT citus_add_node(...)), then migrate again", db)
		}
		return false, nil
	}
	if want {
		return true, nil
	}
	var distributed bool
	err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = to_regclass('public.organizations'))`).
		Scan(&distributed)
	if err != nil {
		return false, fmt.Errorf("migrate: is the database distributed: %w", err)
	}
	return distributed, nil
}

// citusTable is a table of the schema, where it is, and where it goes.
type citusTable struct {
	Name   string
	HasOrg bool   // it has an organization_id column
	Now    string // "distributed", "reference", or "" (a plain table)
	Forced bool   // FORCE ROW LEVEL SECURITY
}

// want is where t belongs: "distributed", "reference" or "" (local), and
// the distribution column.
func (t citusTable) want() (kind, column string, err error) {
	switch {
	case t.Name == "organizations":
		return "distributed", "id", nil
	case slices.Contains(citusReferenceTables, t.Name):
		return "reference", "", nil
	case slices.Contains(citusLocalTables, t.Name):
		return "", "", nil
	case t.HasOrg:
		return "distributed", "organization_id", nil
	}
	return "", "", fmt.Errorf("migrate --citus: table %s has no organization_id and is neither a reference nor a local table "+
		"(citusReferenceTables, citusLocalTables in cloud/postgres/citus.go): decide where it lives", t.Name)
}

// distribute places every table of the schema that is not yet where it
// belongs, in one transaction, and returns the ones it placed.
func distribute(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	placed := []string{}
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		// Sequential: Citus refuses to create shards over parallel
		// connections in a transaction that already wrote over one, as
		// each foreign key to a table created earlier in it does.
		if _, err := tx.Exec(ctx, `SET LOCAL citus.multi_shard_modify_mode TO 'sequential'`); err != nil {
			return err
		}
		tables, err := schemaTables(ctx, tx)
		if err != nil {
			return err
		}
		var lifted []string
		for _, t := range tables {
			kind, column, err := t.want()
			if err != nil {
				return err
			}
			if kind == t.Now {
				continue
			}
			if t.Now != "" {
				return fmt.Errorf("migrate --citus: table %s is a %s table but belongs as a %s table: move it by hand (undistribute_table), then migrate again",
					t.Name, t.Now, placement(kind))
			}
			if t.Forced {
				// Citus moves the rows already in the table to the new
				// shards with COPY, which PostgreSQL refuses into a
				// table whose row-level security applies to its owner
				// (seen with a migrator that is not a superuser). FORCE
				// is put back below, in the same transaction, and Citus
				// carries it to the shards.
				lifted = append(lifted, t.Name)
				if _, err := tx.Exec(ctx, "ALTER TABLE "+quoteIdent(t.Name)+" NO FORCE ROW LEVEL SECURITY"); err != nil {
					return fmt.Errorf("place %s: %w", t.Name, err)
				}
			}
			if err := placeTable(ctx, tx, t.Name, kind, column); err != nil {
				return err
			}
			placed = append(placed, t.Name)
		}
		for _, f := range citusWorkerFunctions {
			if _, err := tx.Exec(ctx, `SELECT create_distributed_function($1::regprocedure)
				WHERE NOT EXISTS (SELECT 1 FROM pg_dist_object WHERE classid = 'pg_proc'::regclass AND objid = $1::regprocedure)`, f); err != nil {
				return fmt.Errorf("copy function %s to the workers: %w", f, err)
			}
		}
		// The rows moved to the shards stay on the coordinator's disk,
		// invisible, until the local copy is emptied; it is emptied once
		// every table is placed, as a table may not be emptied while a
		// local table still refers to it.
		for _, name := range placed {
			if _, err := tx.Exec(ctx, `SELECT truncate_local_data_after_distributing_table($1)`, "public."+quoteIdent(name)); err != nil {
				return fmt.Errorf("place %s: empty its local copy: %w", name, err)
			}
		}
		for _, name := range lifted {
			if _, err := tx.Exec(ctx, "ALTER TABLE "+quoteIdent(name)+" FORCE ROW LEVEL SECURITY"); err != nil {
				return fmt.Errorf("place %s: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("migrate --citus: %w", err)
	}
	return placed, nil
}

// placeTable makes name a distributed (by column, co-located with
// organizations) or a reference table.
func placeTable(ctx context.Context, tx pgx.Tx, name, kind, column string) error {
	var err error
	switch {
	case kind == "reference":
		_, err = tx.Exec(ctx, `SELECT create_reference_table($1)`, "public."+quoteIdent(name))
	case name == "organizations":
		_, err = tx.Exec(ctx, `SELECT create_distributed_table($1, $2)`, "public."+quoteIdent(name), column)
	default:
		_, err = tx.Exec(ctx, `SELECT create_distributed_table($1, $2, colocate_with => 'public.organizations')`, "public."+quoteIdent(name), column)
	}
	if err != nil {
		return fmt.Errorf("make %s a %s table: %w", name, kind, err)
	}
	return nil
}

// schemaTables lists the tables of the public schema, in an order in
// which each comes after every table its foreign keys refer to: Citus
// refuses a foreign key from a distributed table to a plain one.
func schemaTables(ctx context.Context, tx pgx.Tx) ([]citusTable, error) {
	rows, err := tx.Query(ctx, `
		SELECT c.relname::text,
			EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'organization_id' AND NOT a.attisdropped),
			CASE WHEN p.partkey IS NOT NULL THEN 'distributed' WHEN p.repmodel = 't' THEN 'reference' ELSE '' END,
			c.relforcerowsecurity
		FROM pg_class c LEFT JOIN pg_dist_partition p ON p.logicalrelid = c.oid
		WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
		ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowToStructByPos[citusTable])
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	// regclass::text is the bare name: public is the search path.
	rows, _ = tx.Query(ctx, `SELECT DISTINCT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c
		WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace AND c.conrelid <> c.confrelid`) // an error surfaces from ForEachRow
	refs := map[string][]string{}
	var from, to string
	if _, err := pgx.ForEachRow(rows, []any{&from, &to}, func() error {
		refs[from] = append(refs[from], to)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list foreign keys: %w", err)
	}
	return referencedFirst(tables, refs), nil
}

// referencedFirst orders tables so that each follows the tables it refers
// to (refs: table -> tables its foreign keys name), and otherwise by name.
func referencedFirst(tables []citusTable, refs map[string][]string) []citusTable {
	byName := map[string]citusTable{}
	for _, t := range tables {
		byName[t.Name] = t
	}
	out := make([]citusTable, 0, len(tables))
	seen := map[string]bool{}
	var visit func(string)
	visit = func(name string) {
		t, ok := byName[name]
		if !ok || seen[name] {
			return
		}
		seen[name] = true
		for _, r := range slices.Sorted(slices.Values(refs[name])) {
			visit(r)
		}
		out = append(out, t)
	}
	for _, t := range tables {
		visit(t.Name)
	}
	return out
}

// quoteIdent quotes a table name of the public schema.
func quoteIdent(name string) string { return pgx.Identifier{name}.Sanitize() }

// placement names a placement for a message.
func placement(kind string) string {
	if kind == "" {
		return "local"
	}
	return kind
}
