package postgres

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/internal/pgtest"
)

func TestMigrateTwiceIsANoop(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	first, err := Migrate(t.Context(), url, MigrateOptions{Citus: pgtest.Citus()})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(first.Applied), SchemaVersion(); first.From != 0 || first.To != want || got != want {
		t.Fatalf("first run: %+v, want all %d migrations applied from 0", first, want)
	}
	second, err := Migrate(t.Context(), url, MigrateOptions{Citus: pgtest.Citus()})
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Applied) != 0 || len(second.Placed) != 0 || second.From != first.To || second.To != first.To || second.CreatedRole {
		t.Fatalf("second run: %+v, want nothing applied", second)
	}
}

// TestMigrateConcurrently: instances that all migrate at start wait for
// each other, and each migration is applied exactly once.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	var wg sync.WaitGroup
	results := make([]MigrateResult, 3)
	errs := make([]error, 3)
	for i := range results {
		wg.Go(func() {
			results[i], errs[i] = Migrate(context.Background(), url, MigrateOptions{Citus: pgtest.Citus()})
		})
	}
	wg.Wait()
	applied := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrate %d: %v", i, err)
		}
		applied += len(results[i].Applied)
	}
	if got, want := applied, SchemaVersion(); got != want {
		t.Errorf("%d migrations applied in all, want %d", got, want)
	}
	conn := mustConnect(t, url)
	if err := CheckSchema(t.Context(), conn); err != nil {
		t.Fatal(err)
	}
}

func TestCheckSchema(t *testing.T) {
	t.Parallel()
	t.Run("Unmigrated", func(t *testing.T) {
		t.Parallel()
		err := CheckSchema(t.Context(), mustConnect(t, pgtest.NewDatabase(t)))
		var se *SchemaError
		if !errors.As(err, &se) || se.Have != 0 || se.Want != SchemaVersion() {
			t.Fatalf("error %v, want a SchemaError at version 0", err)
		}
		if want := "the database schema is at version 0 but this binary needs"; !strings.Contains(err.Error(), want) ||
			!strings.Contains(err.Error(), "run `pantry cloud migrate`") {
			t.Fatalf("error %q, want it to say %q and what to run", err, want)
		}
	})
	t.Run("Current", func(t *testing.T) {
		t.Parallel()
		if err := CheckSchema(t.Context(), mustConnect(t, migratedDB(t, MigrateOptions{}))); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Ahead", func(t *testing.T) {
		t.Parallel()
		url := migratedDB(t, MigrateOptions{})
		conn := mustConnect(t, url)
		if _, err := conn.Exec(t.Context(), `INSERT INTO schema_migrations (version, name) VALUES ($1, 'from_the_future.sql')`, SchemaVersion()+1); err != nil {
			t.Fatal(err)
		}
		err := CheckSchema(t.Context(), conn)
		var se *SchemaError
		if !errors.As(err, &se) || se.Have != SchemaVersion()+1 || !strings.Contains(err.Error(), "newer than this binary's") {
			t.Fatalf("error %v, want a SchemaError saying the database is newer", err)
		}
		if _, err := Migrate(t.Context(), url, MigrateOptions{}); !errors.As(err, &se) {
			t.Fatalf("migrate a newer database: %v, want a SchemaError", err)
		}
		if _, err := Open(t.Context(), url, Options{}); !errors.As(err, &se) {
			t.Fatalf("open a newer database: %v, want a SchemaError", err)
		}
	})
}

// TestMigrateRefusesAnEditedHistory: a migration renamed after it was
// applied means two binaries disagree about what version N is.
func TestMigrateRefusesAnEditedHistory(t *testing.T) {
	t.Parallel()
	url := migratedDB(t, MigrateOptions{})
	if _, err := mustConnect(t, url).Exec(t.Context(), `UPDATE schema_migrations SET name = 'renamed.sql' WHERE version = 1`); err != nil {
		t.Fatal(err)
	}
	_, err := Migrate(t.Context(), url, MigrateOptions{})
	if err == nil || !strings.Contains(err.Error(), "must never be renamed or edited") {
		t.Fatalf("error %v, want a refusal", err)
	}
}

func TestParseMigrations(t *testing.T) {
	file := &fstest.MapFile{Data: []byte("SELECT 1;")}
	tests := []struct {
		name  string
		files []string
		want  string // error substring; "" for success
	}{
		{"Ordered", []string{"migrations/0002_b.sql", "migrations/0001_a.sql"}, ""},
		{"Gap", []string{"migrations/0001_a.sql", "migrations/0003_c.sql"}, "expected version 2"},
		{"Duplicate", []string{"migrations/0001_a.sql", "migrations/0001_b.sql"}, "expected version 2"},
		{"NoNumber", []string{"migrations/init.sql"}, "must start with a positive number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for _, f := range tt.files {
				fsys[f] = file
			}
			ms, err := parseMigrations(fsys)
			if tt.want == "" {
				if err != nil || len(ms) != len(tt.files) || ms[0].version != 1 {
					t.Fatalf("got %v, %v", ms, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := loadMigrations(); err != nil {
		t.Fatalf("embedded migrations: %v", err)
	}
}

// TestMigrateAsNonSuperuserOwner is the managed-PostgreSQL shape: the
// migrator owns the database but is no superuser, so nothing may rely on a
// superuser's bypass of row-level security (the lookups above all).
func TestMigrateAsNonSuperuserOwner(t *testing.T) {
	t.Parallel()
	owner := pgtest.NewOwner(t, pgtest.NewDatabase(t))
	role := "pantry_svc_" + strings.ToLower(pgtestSuffix())
	dropRoleAtCleanup(t, role, owner)
	res, err := Migrate(t.Context(), owner, MigrateOptions{ServiceRole: role, Citus: pgtest.Citus()})
	if err != nil {
		t.Fatal(err)
	}
	if !res.CreatedRole || res.ServiceRole != role {
		t.Fatalf("result %+v, want role %s created", res, role)
	}
	s := mustOpen(t, owner, Options{ServiceRole: role})
	a := seedTenant(t, s, "A")
	assertActsAs(t, s, a.org, role)
	got, err := s.LookupLogin(t.Context(), a.email)
	if err != nil || got.OrgID != a.org || got.UserID != a.owner {
		t.Fatalf("login lookup as a non-superuser migrator: %+v, %v", got, err)
	}
	var n int
	if err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM users`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("service role without tenant sees %d users (%v), want 0", n, err)
	}
}

// TestServicePassword: with a password the service role can log in
// itself, and Open with its own URL needs no SET ROLE.
func TestServicePassword(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	role := "pantry_svc_" + strings.ToLower(pgtestSuffix())
	dropRoleAtCleanup(t, role, url)
	const password = "correct horse battery staple"
	if _, err := Migrate(t.Context(), url, MigrateOptions{ServiceRole: role, ServicePassword: password, Citus: pgtest.Citus()}); err != nil {
		t.Fatal(err)
	}
	serviceURL := withUser(t, url, role, password)
	s := mustOpen(t, serviceURL, Options{ServiceRole: role})
	a := seedTenant(t, s, "A")
	assertActsAs(t, s, a.org, role)
	if _, err := pgx.Connect(t.Context(), withUser(t, url, role, "wrong")); err == nil {
		t.Fatal("connected with a wrong password")
	}
	var verifier string
	if err := mustConnect(t, url).QueryRow(t.Context(), `SELECT rolpassword FROM pg_authid WHERE rolname = $1`, role).Scan(&verifier); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(verifier, "SCRAM-SHA-256$4096:") {
		t.Fatalf("stored password %q, want a SCRAM verifier", verifier)
	}
	if _, err := Migrate(t.Context(), url, MigrateOptions{ServiceRole: role, ServicePassword: "naïve"}); err == nil {
		t.Fatal("migrate accepted a non-ASCII service password")
	}
}

func TestMigrateRefusesAPrivilegedServiceRole(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	_, err := Migrate(t.Context(), url, MigrateOptions{ServiceRole: "postgres"})
	if err == nil || !strings.Contains(err.Error(), "row-level security would not apply") {
		t.Fatalf("error %v, want a refusal", err)
	}
	if _, err := Migrate(t.Context(), url, MigrateOptions{ServiceRole: `bad"name`}); err == nil {
		t.Fatal("migrate accepted an invalid role name")
	}
}

// TestMigrateDatabasesSharingARole: roles belong to the cluster, so
// migrating two databases at once races on creating and granting the same
// role, which the advisory lock (per database) does not cover.
func TestMigrateDatabasesSharingARole(t *testing.T) {
	t.Parallel()
	role := "pantry_svc_" + strings.ToLower(pgtestSuffix())
	urls := []string{pgtest.NewDatabase(t), pgtest.NewDatabase(t), pgtest.NewDatabase(t), pgtest.NewDatabase(t)}
	dropRoleAtCleanup(t, role, urls...)
	var wg sync.WaitGroup
	errs := make([]error, len(urls))
	for i, u := range urls {
		wg.Go(func() {
			_, errs[i] = Migrate(context.Background(), u, MigrateOptions{ServiceRole: role, Citus: pgtest.Citus()})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrate database %d: %v", i, err)
		}
	}
}

// TestEnsureServiceRoleRaces: sessions that find the role missing at the
// same moment all CREATE it; the losers' "already exists" (42710) or
// duplicate key on pg_authid (23505) is retried, and all succeed. As a
// non-superuser, each also GRANTs itself the role.
func TestEnsureServiceRoleRaces(t *testing.T) {
	t.Parallel()
	owner := pgtest.NewOwner(t, pgtest.NewDatabase(t))
	conns := make([]*pgx.Conn, 6)
	for i := range conns {
		conns[i] = mustConnect(t, owner)
	}
	for range 3 {
		role := "pantry_svc_" + strings.ToLower(pgtestSuffix())
		dropRoleAtCleanup(t, role, owner)
		var wg sync.WaitGroup
		for _, c := range conns {
			wg.Go(func() {
				if _, err := ensureServiceRole(context.Background(), c, role, "", pgtest.Citus()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
}
