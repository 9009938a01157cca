package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/internal/pgtest"
)

// TestTenantIsolation is the attack suite in SQL: two organizations with a
// row in every tenant table, and the service role trying to see or touch
// the other's rows every way it can.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	url := migratedDB(t, MigrateOptions{})
	// One connection: what one transaction sets must not leak into the
	// next one on the same pooled connection.
	s := mustOpen(t, url, Options{MaxConns: 1})
	a, b := seedTenant(t, s, "A"), seedTenant(t, s, "B")
	super := mustConnect(t, url)
	tables := tenantTables(t, super)

	t.Run("EveryTableSeeded", func(t *testing.T) {
		for _, tbl := range tables {
			for _, org := range []string{a.org, b.org} {
				if n := count(t, super, tbl, org); n < 1 {
					t.Errorf("%s has no row of organization %s: add one to seedTenant", tbl.Name, org)
				}
			}
		}
	})
	t.Run("NoTenantSeesNothing", func(t *testing.T) {
		for _, tbl := range tables {
			var n int
			if err := s.pool.QueryRow(t.Context(), "SELECT count(*) FROM "+ident(tbl.Name)).Scan(&n); err != nil {
				t.Fatalf("%s: %v", tbl.Name, err)
			}
			if n != 0 {
				t.Errorf("%s: %d rows visible with no tenant set, want 0", tbl.Name, n)
			}
		}
	})
	t.Run("EmptyTenantSeesNothing", func(t *testing.T) {
		err := pgx.BeginFunc(t.Context(), s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(t.Context(), `SELECT set_config('app.org_id', '', true)`); err != nil {
				return err
			}
			for _, tbl := range tables {
				var n int
				if err := tx.QueryRow(t.Context(), "SELECT count(*) FROM "+ident(tbl.Name)).Scan(&n); err != nil {
					return fmt.Errorf("%s: %w", tbl.Name, err)
				}
				if n != 0 {
					t.Errorf("%s: %d rows visible with an empty tenant, want 0", tbl.Name, n)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("TenantSeesOnlyItsOwn", func(t *testing.T) {
		for _, org := range []string{a.org, b.org} {
			err := s.InTenant(t.Context(), org, func(tx pgx.Tx) error {
				for _, tbl := range tables {
					var all, own int
					err := tx.QueryRow(t.Context(), fmt.Sprintf("SELECT count(*), count(*) FILTER (WHERE %s = $1) FROM %s",
						ident(tbl.Key), ident(tbl.Name)), org).Scan(&all, &own)
					if err != nil {
						return fmt.Errorf("%s: %w", tbl.Name, err)
					}
					if all != count(t, super, tbl, org) || all != own {
						t.Errorf("%s as %s: %d rows visible, %d of them its own; want exactly its %d",
							tbl.Name, org, all, own, count(t, super, tbl, org))
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("NothingLeaksAfterATransaction", func(t *testing.T) {
		// The same single connection just ran tenant transactions.
		for _, tbl := range tables {
			var n int
			if err := s.pool.QueryRow(t.Context(), "SELECT count(*) FROM "+ident(tbl.Name)).Scan(&n); err != nil {
				t.Fatalf("%s: %v", tbl.Name, err)
			}
			if n != 0 {
				t.Errorf("%s: %d rows visible after a tenant transaction ended, want 0", tbl.Name, n)
			}
		}
	})
	t.Run("CannotWriteAnotherTenantsRows", func(t *testing.T) {
		for _, tbl := range tables {
			attacks := map[string]string{
				// A's own row, copied with B's id: WITH CHECK refuses it.
				"InsertAsB": fmt.Sprintf(`INSERT INTO %[1]s OVERRIDING SYSTEM VALUE
					SELECT (jsonb_populate_record(NULL::%[1]s, to_jsonb(r) || jsonb_build_object('%[2]s', $1::uuid))).* FROM %[1]s r`,
					ident(tbl.Name), tbl.Key),
				// A's rows moved to B: WITH CHECK refuses that too, and
				// Citus, which never moves a row to another shard by an
				// UPDATE of its distribution column, before it.
				"MoveToB": fmt.Sprintf(`UPDATE %s SET %s = $1`, ident(tbl.Name), ident(tbl.Key)),
			}
			for name, sql := range attacks {
				err := s.InTenant(t.Context(), a.org, func(tx pgx.Tx) error {
					_, err := tx.Exec(t.Context(), sql, b.org)
					return err
				})
				if name == "MoveToB" && pgtest.Citus() && pgCode(err) == "0A000" &&
					strings.Contains(err.Error(), "modifying the partition value of rows is not allowed") {
					continue
				}
				if got := pgCode(err); got != "42501" {
					t.Errorf("%s %s: error %v (SQLSTATE %q), want a row-level security violation (42501)", tbl.Name, name, err, got)
				}
			}
		}
	})
	t.Run("CannotTouchAnotherTenantsRows", func(t *testing.T) {
		for _, tbl := range tables {
			for _, verb := range []string{"UPDATE %[1]s SET %[2]s = %[2]s WHERE %[2]s = $1", "DELETE FROM %[1]s WHERE %[2]s = $1"} {
				sql := fmt.Sprintf(verb, ident(tbl.Name), ident(tbl.Key))
				var affected int64
				err := s.InTenant(t.Context(), a.org, func(tx pgx.Tx) error {
					tag, err := tx.Exec(t.Context(), sql, b.org)
					affected = tag.RowsAffected()
					return err
				})
				appendOnly := slices.Contains(appendOnlyTables, tbl.Name)
				switch {
				case appendOnly && pgCode(err) == "42501": // no UPDATE or DELETE at all
				case err != nil:
					t.Errorf("%s: %s: %v", tbl.Name, sql, err)
				case affected != 0:
					t.Errorf("%s: %s touched %d of B's rows, want 0", tbl.Name, sql, affected)
				}
			}
		}
		for _, tbl := range tables {
			if n := count(t, super, tbl, b.org); n < 1 {
				t.Errorf("%s: B's rows are gone", tbl.Name)
			}
		}
	})
	t.Run("ForeignKeysStayInTheTenant", func(t *testing.T) {
		// Foreign-key checks ignore row-level security; the composite keys
		// are what keep A from pointing at B's site.
		err := s.InTenant(t.Context(), a.org, func(tx pgx.Tx) error {
			_, err := tx.Exec(t.Context(), `INSERT INTO spaces (organization_id, id, site_id, name, code)
				VALUES ($1, gen_random_uuid(), $2, 'Sneaky', 'sneaky-code-0123456789')`, a.org, b.site)
			return err
		})
		if got := pgCode(err); got != "23503" {
			t.Fatalf("space in B's site: %v, want a foreign-key violation (23503)", err)
		}
	})
}

// count returns the rows of tbl that belong to org, read as the superuser
// (who bypasses row-level security).
func count(tb testing.TB, super *pgx.Conn, tbl tenantTable, org string) int {
	tb.Helper()
	var n int
	sql := fmt.Sprintf("SELECT count(*) FROM %s WHERE %s = $1", ident(tbl.Name), ident(tbl.Key))
	if err := super.QueryRow(context.Background(), sql, org).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
	return n
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// TestServiceRolePrivileges: the role the service runs as owns nothing,
// cannot bypass row-level security, and lacks the privileges that would
// get around it (TRUNCATE ignores row-level security) or rewrite history.
func TestServiceRolePrivileges(t *testing.T) {
	t.Parallel()
	conn := mustConnect(t, migratedDB(t, MigrateOptions{}))
	var super, bypass bool
	var owned int
	err := conn.QueryRow(t.Context(), `SELECT r.rolsuper, r.rolbypassrls,
		(SELECT count(*) FROM pg_class WHERE relowner = r.oid) + (SELECT count(*) FROM pg_proc WHERE proowner = r.oid)
		FROM pg_roles r WHERE r.rolname = $1`, DefaultServiceRole).Scan(&super, &bypass, &owned)
	if err != nil {
		t.Fatal(err)
	}
	if super || bypass || owned != 0 {
		t.Errorf("service role: superuser=%v bypassrls=%v owns %d objects; want false false 0", super, bypass, owned)
	}
	rows, err := conn.Query(t.Context(), `SELECT c.relname || ' ' || p FROM pg_class c,
		unnest(ARRAY['TRUNCATE', 'REFERENCES', 'TRIGGER']) AS p
		WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND has_table_privilege($1, c.oid, p)
		UNION ALL
		SELECT t || ' ' || p FROM unnest($2::text[]) AS t, unnest(ARRAY['UPDATE', 'DELETE']) AS p
		WHERE has_table_privilege($1, t, p)
		UNION ALL
		SELECT 'schema_migrations ' || p FROM unnest(ARRAY['INSERT', 'UPDATE', 'DELETE']) AS p
		WHERE has_table_privilege($1, 'schema_migrations', p)
		UNION ALL
		SELECT 'pantry_tenant_rls EXECUTE' WHERE has_function_privilege($1, 'pantry_tenant_rls(regclass, name)', 'EXECUTE')`,
		DefaultServiceRole, appendOnlyTables)
	if err != nil {
		t.Fatal(err)
	}
	extra, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(extra) > 0 {
		t.Errorf("service role has privileges it must not: %q", extra)
	}
}
