package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// globalTables are the tables without organization_id and without
// row-level security. Any other table must be a tenant table.
var globalTables = []string{"schema_migrations", "signing_keys", "login_attempts"}

// querier is what the catalog checks read with: a pool, a connection or a
// transaction.
type querier interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}

// tenantTable is a table whose rows belong to one organization, and the
// column that says which.
type tenantTable struct{ Name, Key string }

// tenantTables lists, from the catalog, every table of the schema that
// has an organization_id column or row-level security enabled, plus
// organizations (keyed on id). Listing them from the catalog rather than
// from a list in this file is the point: a table added by a later
// migration is checked without anyone remembering to add it here.
func tenantTables(tb testing.TB, db querier) []tenantTable {
	tb.Helper()
	rows, err := db.Query(context.Background(), `
		SELECT c.relname::text, CASE WHEN c.relname = 'organizations' THEN 'id' ELSE 'organization_id' END
		FROM pg_class c
		WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
		  AND (c.relname = 'organizations' OR c.relrowsecurity OR EXISTS (
			SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'organization_id' AND NOT a.attisdropped))
		ORDER BY 1`)
	if err != nil {
		tb.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowToStructByPos[tenantTable])
	if err != nil {
		tb.Fatal(err)
	}
	return tables
}

// rlsProblems returns what is wrong with the schema's row-level security,
// one line per problem, read from the catalog: a tenant table without
// ENABLE, FORCE or the one tenant policy, or with a policy that lets
// anyone but the migrator around it; a table that is neither a tenant
// table nor a known global one; a SECURITY DEFINER function without a
// pinned search_path or executable by PUBLIC.
func rlsProblems(tb testing.TB, db querier) []string {
	tb.Helper()
	var problems []string
	for _, t := range tenantTables(tb, db) {
		problems = append(problems, tableRLSProblems(tb, db, t)...)
	}
	rows, err := db.Query(context.Background(), `
		SELECT c.relname::text FROM pg_class c
		WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relrowsecurity
		  AND c.relname <> 'organizations' AND NOT EXISTS (
			SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'organization_id' AND NOT a.attisdropped)`)
	if err != nil {
		tb.Fatal(err)
	}
	others, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		tb.Fatal(err)
	}
	for _, name := range others {
		if !slices.Contains(globalTables, name) {
			problems = append(problems, fmt.Sprintf("%s: no organization_id and not a known global table "+
				"(a tenant table needs organization_id and pantry_tenant_rls; a global one belongs in globalTables)", name))
		}
	}
	return append(problems, functionProblems(tb, db)...)
}

func tableRLSProblems(tb testing.TB, db querier, t tenantTable) []string {
	tb.Helper()
	var problems []string
	rows, err := db.Query(context.Background(), `
		SELECT c.relrowsecurity, c.relforcerowsecurity, EXISTS (
			SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = $2 AND NOT a.attisdropped)
		FROM pg_class c WHERE c.oid = $1::regclass`, t.Name, t.Key)
	if err != nil {
		tb.Fatal(err)
	}
	flags, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[struct{ Enabled, Forced, HasKey bool }])
	if err != nil {
		tb.Fatal(err)
	}
	if !flags.Enabled || !flags.Forced || !flags.HasKey {
		problems = append(problems, fmt.Sprintf("%s: row level security enabled=%v forced=%v, %s column=%v; want all true (SELECT pantry_tenant_rls('%s'))",
			t.Name, flags.Enabled, flags.Forced, t.Key, flags.HasKey, t.Name))
	}
	want := fmt.Sprintf("(%s = (NULLIF(current_setting('app.org_id'::text, true), ''::text))::uuid)", t.Key)
	rows, err = db.Query(context.Background(), `
		SELECT policyname::text, permissive, roles::text[], cmd, coalesce(qual, ''), coalesce(with_check, '')
		FROM pg_policies WHERE schemaname = 'public' AND tablename = $1 ORDER BY 1`, t.Name)
	if err != nil {
		tb.Fatal(err)
	}
	type policy struct {
		Name, Permissive string
		Roles            []string
		Cmd, Qual, Check string
	}
	policies, err := pgx.CollectRows(rows, pgx.RowToStructByPos[policy])
	if err != nil {
		tb.Fatal(err)
	}
	tenantPolicies := 0
	for _, p := range policies {
		switch {
		case p.Name == "tenant_isolation" && p.Permissive == "PERMISSIVE" && p.Cmd == "ALL" &&
			slices.Equal(p.Roles, []string{"public"}) && p.Qual == want && p.Check == want:
			tenantPolicies++
		case p.Name == "pantry_lookup" && p.Cmd == "SELECT" && p.Permissive == "PERMISSIVE" &&
			!slices.Contains(p.Roles, "public") && !slices.Contains(p.Roles, DefaultServiceRole):
			// The migrator's read access for the SECURITY DEFINER lookups.
		default:
			problems = append(problems, fmt.Sprintf("%s: unexpected policy %+v (tenant policy must be %s)", t.Name, p, want))
		}
	}
	if tenantPolicies != 1 {
		problems = append(problems, fmt.Sprintf("%s: %d tenant_isolation policies, want 1", t.Name, tenantPolicies))
	}
	return problems
}

// functionProblems checks every SECURITY DEFINER function of the schema:
// they run with the migrator's rights, so they must pin search_path and
// be executable by the service role only.
func functionProblems(tb testing.TB, db querier) []string {
	tb.Helper()
	rows, err := db.Query(context.Background(), `
		SELECT p.oid::regprocedure::text,
			coalesce('search_path=public, pg_temp' = ANY (p.proconfig), false),
			p.proacl IS NOT NULL AND NOT EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0),
			has_function_privilege($1, p.oid, 'EXECUTE')
		FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace AND p.prosecdef ORDER BY 1`, DefaultServiceRole)
	if err != nil {
		tb.Fatal(err)
	}
	type fn struct {
		Name                           string
		PinnedPath, NotPublic, Service bool
	}
	fns, err := pgx.CollectRows(rows, pgx.RowToStructByPos[fn])
	if err != nil {
		tb.Fatal(err)
	}
	var problems []string
	for _, f := range fns {
		if !f.PinnedPath || !f.NotPublic || !f.Service {
			problems = append(problems, fmt.Sprintf("SECURITY DEFINER %s: search_path pinned=%v, not executable by PUBLIC=%v, executable by the service role=%v; want all true",
				f.Name, f.PinnedPath, f.NotPublic, f.Service))
		}
	}
	if len(fns) < 5 {
		problems = append(problems, fmt.Sprintf("%d SECURITY DEFINER functions, want the 5 lookups", len(fns)))
	}
	return problems
}

// TestRowLevelSecurityCatalog: the migrated schema has no RLS problem.
func TestRowLevelSecurityCatalog(t *testing.T) {
	t.Parallel()
	conn := mustConnect(t, migratedDB(t, MigrateOptions{}))
	tables := tenantTables(t, conn)
	if got, want := len(tables), 24; got < want {
		t.Errorf("%d tenant tables, want at least %d: %v", got, want, tables)
	}
	for _, p := range rlsProblems(t, conn) {
		t.Error(p)
	}
}

// TestRowLevelSecurityCatalogCatchesMistakes: the catalog check is only
// worth something if it fails for the mistakes a later migration could
// make.
func TestRowLevelSecurityCatalogCatchesMistakes(t *testing.T) {
	t.Parallel()
	url := migratedDB(t, MigrateOptions{})
	tests := []struct{ name, sql, want string }{
		{"NoRLS", `CREATE TABLE leaky (organization_id uuid NOT NULL, x int)`, "leaky: row level security enabled=false forced=false"},
		{"NotForced", `CREATE TABLE unforced (organization_id uuid NOT NULL);
			ALTER TABLE unforced ENABLE ROW LEVEL SECURITY;
			CREATE POLICY tenant_isolation ON unforced USING (organization_id = NULLIF(current_setting('app.org_id', true), '')::uuid)
				WITH CHECK (organization_id = NULLIF(current_setting('app.org_id', true), '')::uuid)`,
			"unforced: row level security enabled=true forced=false"},
		{"NoPolicy", `CREATE TABLE nopolicy (organization_id uuid NOT NULL);
			ALTER TABLE nopolicy ENABLE ROW LEVEL SECURITY; ALTER TABLE nopolicy FORCE ROW LEVEL SECURITY`,
			"nopolicy: 0 tenant_isolation policies"},
		{"ExtraPolicy", `CREATE POLICY everyone ON items FOR SELECT USING (true)`, "items: unexpected policy"},
		{"WrongSetting", `CREATE TABLE wrong (organization_id uuid NOT NULL);
			SELECT pantry_tenant_rls('wrong'); DROP POLICY tenant_isolation ON wrong;
			CREATE POLICY tenant_isolation ON wrong USING (organization_id = current_setting('app.org', true)::uuid)`,
			"wrong: unexpected policy"},
		{"UnknownGlobalTable", `CREATE TABLE notes (body text)`, "notes: no organization_id"},
		{"PublicLookup", `GRANT EXECUTE ON FUNCTION pantry_login_lookup(text) TO PUBLIC`, "SECURITY DEFINER pantry_login_lookup(text): search_path pinned=true, not executable by PUBLIC=false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := mustConnect(t, url)
			tx, err := conn.Begin(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback(context.Background()) }() // undo the mistake
			if _, err := tx.Exec(t.Context(), tt.sql); err != nil {
				t.Fatal(err)
			}
			problems := rlsProblems(t, tx)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.HasPrefix(p, tt.want) }) {
				t.Fatalf("problems %q, want one starting %q", problems, tt.want)
			}
		})
	}
}
