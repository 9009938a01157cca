package postgres

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/internal/pgtest"
)

// The tests of what only Citus has run on a Citus cluster in every suite
// (pgtest.NewCitusDatabase), the plain one included. The rest of the
// package runs on Citus with PANTRY_TEST_DB=citus.

// tablePlacement is where a table is on a Citus cluster: "distributed" (by
// Column, in colocation group Group), "reference", or "" (local).
type tablePlacement struct {
	Table, Kind, Column string
	Group               int
}

// placements reads where every table of the public schema is.
func placements(tb testing.TB, db querier) map[string]tablePlacement {
	tb.Helper()
	rows, err := db.Query(context.Background(), `
		SELECT c.relname::text,
			CASE WHEN p.partkey IS NOT NULL THEN 'distributed' WHEN p.repmodel = 't' THEN 'reference' ELSE '' END,
			coalesce(column_to_column_name(p.logicalrelid, p.partkey), ''), coalesce(p.colocationid, 0)
		FROM pg_class c LEFT JOIN pg_dist_partition p ON p.logicalrelid = c.oid
		WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')`)
	if err != nil {
		tb.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[tablePlacement])
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]tablePlacement{}
	for _, p := range got {
		out[p.Table] = p
	}
	return out
}

// placementProblems says what is not where citus.go puts it: every
// tenant table distributed by organization_id in organizations' group,
// organizations by id, the reference and local tables as listed.
func placementProblems(tb testing.TB, db querier) []string {
	tb.Helper()
	all := placements(tb, db)
	orgs := all["organizations"]
	var problems []string
	if orgs.Kind != "distributed" || orgs.Column != "id" {
		problems = append(problems, "organizations is not distributed by id")
	}
	for name, p := range all {
		var want tablePlacement
		switch {
		case name == "organizations":
			continue
		case slices.Contains(citusReferenceTables, name):
			want = tablePlacement{Table: name, Kind: "reference"}
		case slices.Contains(citusLocalTables, name):
			want = tablePlacement{Table: name}
		default:
			want = tablePlacement{Table: name, Kind: "distributed", Column: "organization_id", Group: orgs.Group}
		}
		if p.Kind == "reference" {
			p.Group = 0 // all reference tables share a group of their own
		}
		if p != want {
			problems = append(problems, name+": placed as "+describe(p)+", want "+describe(want))
		}
	}
	slices.Sort(problems)
	return problems
}

func describe(p tablePlacement) string {
	switch p.Kind {
	case "distributed":
		return "distributed by " + p.Column + " in colocation group " + strconv.Itoa(p.Group)
	case "":
		return "local"
	}
	return p.Kind
}

// TestMigrateCitus: --citus places every table (tenant tables distributed
// by organization_id, co-located with organizations; the directories and
// signing keys as reference tables; the runner's record and the login
// counters local), and a second run, with or without --citus, places
// nothing and still knows the database is distributed.
func TestMigrateCitus(t *testing.T) {
	t.Parallel()
	url := pgtest.NewCitusDatabase(t)
	first, err := Migrate(t.Context(), url, MigrateOptions{Citus: true})
	if err != nil {
		t.Fatal(err)
	}
	conn := mustConnect(t, url)
	if !first.Citus || len(first.Placed) < 30 || first.Placed[0] == "" {
		t.Fatalf("first run: %+v, want every table placed", first)
	}
	for _, p := range placementProblems(t, conn) {
		t.Error(p)
	}
	if got := len(tenantTables(t, conn)); got < 27 {
		t.Errorf("%d tenant tables, want at least 27", got)
	}
	for _, opts := range []MigrateOptions{{Citus: true}, {}} {
		again, err := Migrate(t.Context(), url, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !again.Citus || len(again.Placed) != 0 || len(again.Applied) != 0 {
			t.Fatalf("run with %+v: %+v, want a distributed database with nothing to do", opts, again)
		}
	}
}

// TestMigrateCitusMovesRows: a database migrated, and filled, before it
// was distributed keeps every row when --citus distributes it, as a
// migrator that is no superuser (FORCE ROW LEVEL SECURITY would hide the
// rows from it); the coordinator's copies are emptied, and the tables are
// FORCEd again.
func TestMigrateCitusMovesRows(t *testing.T) {
	t.Parallel()
	owner := pgtest.NewOwner(t, pgtest.NewCitusDatabase(t))
	role := "pantry_svc_" + strings.ToLower(pgtestSuffix())
	dropRoleAtCleanup(t, role, owner)
	if res, err := Migrate(t.Context(), owner, MigrateOptions{ServiceRole: role}); err != nil || res.Citus {
		t.Fatalf("plain migration on a Citus database: %+v, %v; want no distribution", res, err)
	}
	s := mustOpen(t, owner, Options{ServiceRole: role})
	a, b := seedTenant(t, s, "A"), seedTenant(t, s, "B")
	tables := tenantTables(t, mustConnect(t, owner))
	count := func(org string) map[string]int {
		t.Helper()
		n := map[string]int{}
		for _, tbl := range tables {
			var c int
			err := s.InTenant(t.Context(), org, func(tx pgx.Tx) error {
				return tx.QueryRow(t.Context(), "SELECT count(*) FROM "+ident(tbl.Name)+" WHERE "+ident(tbl.Key)+" = $1", org).Scan(&c)
			})
			if err != nil {
				t.Fatalf("%s: %v", tbl.Name, err)
			}
			n[tbl.Name] = c
		}
		return n
	}
	before := map[string]map[string]int{a.org: count(a.org), b.org: count(b.org)}
	s.Close()

	res, err := Migrate(t.Context(), owner, MigrateOptions{ServiceRole: role, Citus: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Citus || len(res.Placed) < 30 {
		t.Fatalf("result %+v, want every table placed", res)
	}
	conn := mustConnect(t, owner)
	for _, p := range placementProblems(t, conn) {
		t.Error(p)
	}
	s = mustOpen(t, owner, Options{ServiceRole: role})
	for org, want := range before {
		got := count(org)
		for table, n := range want {
			if n == 0 || got[table] != n {
				t.Errorf("%s of organization %s: %d rows after distributing, %d before; want the same, and some", table, org, got[table], n)
			}
		}
	}
	if got, err := s.LookupLogin(t.Context(), a.email); err != nil || got.OrgID != a.org {
		t.Errorf("login lookup after distributing: %+v, %v", got, err)
	}
	rows, err := conn.Query(t.Context(), `SELECT c.relname::text FROM pg_class c JOIN pg_dist_partition p ON p.logicalrelid = c.oid
		WHERE c.relnamespace = 'public'::regnamespace AND ((c.relrowsecurity AND NOT c.relforcerowsecurity) OR pg_relation_size(c.oid) > 0)`)
	if err != nil {
		t.Fatal(err)
	}
	if bad, err := pgx.CollectRows(rows, pgx.RowTo[string]); err != nil || len(bad) != 0 {
		t.Errorf("tables not FORCEd again or with rows left on the coordinator: %v, %v", bad, err)
	}
}

// TestCitusShardsKeepRowLevelSecurity: row-level security is checked on
// the workers, against each shard: every shard of every tenant table has
// it enabled and forced, with the tenant policy.
func TestCitusShardsKeepRowLevelSecurity(t *testing.T) {
	t.Parallel()
	url := pgtest.NewCitusDatabase(t)
	if _, err := Migrate(t.Context(), url, MigrateOptions{Citus: true}); err != nil {
		t.Fatal(err)
	}
	conn := mustConnect(t, url)
	shards := 0
	for _, tbl := range tenantTables(t, conn) {
		rows, err := conn.Query(t.Context(), `SELECT shardid, success, result FROM run_command_on_placements($1::regclass,
			$$SELECT c.relrowsecurity AND c.relforcerowsecurity AND EXISTS (
				SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation')
			FROM pg_class c WHERE c.oid = '%s'::regclass$$)`, tbl.Name)
		if err != nil {
			t.Fatal(err)
		}
		type shard struct {
			ID      int64
			Success bool
			Result  string
		}
		got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[shard])
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			t.Errorf("%s: no shards", tbl.Name)
		}
		for _, sh := range got {
			if !sh.Success || sh.Result != "t" {
				t.Errorf("%s: shard %d: %q (success %v), want row-level security enabled, forced, with its tenant policy", tbl.Name, sh.ID, sh.Result, sh.Success)
			}
		}
		shards += len(got)
	}
	if shards == 0 {
		t.Fatal("no shards checked")
	}
}

// TestInTenantReachesTheWorkers: the tenant a transaction names is the
// one row-level security sees on the worker that runs a statement, which
// set_config(..., true) was not (Citus forwards SET LOCAL only).
func TestInTenantReachesTheWorkers(t *testing.T) {
	t.Parallel()
	url := pgtest.NewCitusDatabase(t)
	if _, err := Migrate(t.Context(), url, MigrateOptions{Citus: true}); err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, url, Options{})
	for _, label := range []string{"A", "B", "C", "D"} {
		ten := seedTenant(t, s, label)
		var seen string
		var sites int
		err := s.InTenant(t.Context(), ten.org, func(tx pgx.Tx) error {
			// Evaluated on the worker: the whole statement goes to the
			// shard of the organization's sites.
			return tx.QueryRow(t.Context(), `SELECT current_setting('app.org_id'), count(*) OVER ()
				FROM sites WHERE organization_id = $1 LIMIT 1`, ten.org).Scan(&seen, &sites)
		})
		if err != nil || seen != ten.org || sites != 1 {
			t.Fatalf("tenant %s: the worker saw app.org_id %q and %d sites (%v), want %q and 1", label, seen, sites, err, ten.org)
		}
	}
}

// TestMigrateCitusNeedsTheExtension: --citus on a database without the
// extension fails, and says what to do, before it changes anything.
func TestMigrateCitusNeedsTheExtension(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	if _, err := mustConnect(t, url).Exec(t.Context(), `DROP EXTENSION IF EXISTS citus`); err != nil {
		t.Fatal(err)
	}
	_, err := Migrate(t.Context(), url, MigrateOptions{Citus: true})
	if err == nil || !strings.Contains(err.Error(), "the citus extension is not installed") || !strings.Contains(err.Error(), "CREATE EXTENSION citus") {
		t.Fatalf("error %v, want one that says the extension is missing and how to add it", err)
	}
	var tables int
	if err := mustConnect(t, url).QueryRow(t.Context(), `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'`).
		Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("%d tables (%v) after a refused migration, want none", tables, err)
	}
}
