package postgres

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/internal/pgtest"
)

// TestOrganizationSlugs: an organization gets the slug it asks for or
// the one its name gives, made unique; the sign-in finds it by slug in
// any case, before any tenant is known; a bad or taken slug is refused
// and creates nothing.
func TestOrganizationSlugs(t *testing.T) {
	t.Parallel()
	url := migratedDB(t, MigrateOptions{})
	s := mustOpen(t, url, Options{})
	ctx := t.Context()
	n := 0
	create := func(name, slug string) (cloud.CreatedOrganization, error) {
		n++
		return s.CreateOrganization(ctx, cloud.NewOrganization{Name: name, Slug: slug,
			OwnerEmail: fmt.Sprintf("owner%d@slugs.test", n), OwnerPasswordHash: "h"})
	}
	made := map[string]string{} // slug → organization id
	for _, tt := range []struct{ name, slug, want string }{
		{"Acme Corp", "", "acme-corp"},
		{"ACME  corp!", "", "acme-corp-2"},
		{"Acme Corp", "", "acme-corp-3"},
		{"Café Zürich", "", "caf-z-rich"},
		{"☕", "", "org"},
		{"☕☕", "", "org-2"},
		{strings.Repeat("Long name ", 10), "", "long-name-long-name-long-name-long-name"},
		{"Headquarters", "hq", "hq"},
		{"Initech", "initech-2026", "initech-2026"},
	} {
		org, err := create(tt.name, tt.slug)
		if err != nil || org.Slug != tt.want {
			t.Fatalf("create %q (slug %q): %+v %v, want the slug %q", tt.name, tt.slug, org, err, tt.want)
		}
		made[org.Slug] = org.OrgID
	}

	for slug, id := range made {
		for _, asTyped := range []string{slug, strings.ToUpper(slug), "  " + slug + " "} {
			if got, err := s.OrganizationBySlug(ctx, asTyped); err != nil || got != id {
				t.Errorf("OrganizationBySlug(%q) = %q %v, want %s", asTyped, got, err, id)
			}
		}
		if got, err := s.OrganizationSlug(ctx, id); err != nil || got != slug {
			t.Errorf("OrganizationSlug(%s) = %q %v, want %q", id, got, err, slug)
		}
	}
	for _, unknown := range []string{"nobody", "", "-", "has space", made["hq"], strings.Repeat("a", 200)} {
		if _, err := s.OrganizationBySlug(ctx, unknown); pantry.ErrorCode(err) != pantry.ENOTFOUND {
			t.Errorf("OrganizationBySlug(%q): %v, want ENOTFOUND", unknown, err)
		}
	}

	// Refusals change nothing: no organization, user, email or slug.
	counts := func() [4]int64 {
		var c [4]int64
		conn := mustConnect(t, url)
		for i, table := range []string{"organizations", "users", "user_emails", "organization_slugs"} {
			if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&c[i]); err != nil {
				t.Fatal(err)
			}
		}
		return c
	}
	before := counts()
	for _, tt := range []struct {
		name, slug, code, says string
	}{
		{"Taken", "hq", pantry.ECONFLICT, "an organization with this slug already exists"},
		{"TakenInAnotherCase", " HQ ", pantry.ECONFLICT, "an organization with this slug already exists"},
		{"OneLetter", "a", pantry.EINVALID, "2 to 40"},
		{"TooLong", strings.Repeat("a", 41), pantry.EINVALID, "2 to 40"},
		{"LeadingHyphen", "-acme", pantry.EINVALID, "starting and ending"},
		{"TrailingHyphen", "acme-", pantry.EINVALID, "starting and ending"},
		{"Space", "ac me", pantry.EINVALID, "lower-case letters"},
		{"Underscore", "ac_me", pantry.EINVALID, "lower-case letters"},
		{"NonASCII", "café", pantry.EINVALID, "lower-case letters"},
		{"ShapedLikeAnID", pantry.NewID(), pantry.EINVALID, "lower-case letters"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := create("Refused", tt.slug)
			if pantry.ErrorCode(err) != tt.code || !strings.Contains(pantry.ErrorMessage(err), tt.says) {
				t.Fatalf("slug %q: %v (%s), want %s saying %q", tt.slug, err, pantry.ErrorMessage(err), tt.code, tt.says)
			}
		})
	}
	if after := counts(); after != before {
		t.Fatalf("refused creates changed the rows of organizations, users, user_emails, organization_slugs: %v → %v", before, after)
	}

	// The service role sees only its own organization's slug.
	var seen []string
	err := s.InTenant(ctx, made["hq"], func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT slug FROM organization_slugs ORDER BY slug`)
		var err error
		seen, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil || len(seen) != 1 || seen[0] != "hq" {
		t.Fatalf("the service role in hq's tenant sees the slugs %v (%v), want only hq", seen, err)
	}
}

// TestOrganizationSlugsBackfill: organizations made before migration 0016
// get the slugs their names give, unique, oldest first; on Citus this is
// also the upgrade of a cluster already distributed.
func TestOrganizationSlugsBackfill(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := pgtest.NewDatabase(t)
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	at := -1
	for i, m := range ms {
		if strings.HasSuffix(m.name, "_organization_slugs.sql") {
			at = i
		}
	}
	if at < 0 {
		t.Fatal("no organization_slugs migration")
	}
	conn := mustConnect(t, url)
	if _, err := conn.Exec(ctx, `SET search_path = public`); err != nil {
		t.Fatal(err)
	}
	res := MigrateResult{ServiceRole: DefaultServiceRole}
	if err := migrateLocked(ctx, conn, ms[:at], MigrateOptions{ServiceRole: DefaultServiceRole, Citus: pgtest.Citus()}, &res); err != nil {
		t.Fatalf("migrate to %s: %v", ms[at-1].name, err)
	}
	names := []string{"Acme", "ACME", "Acme", "!!", "Globex Corporation"}
	ids := make([]string, len(names))
	for i, name := range names {
		ids[i] = pantry.NewID()
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SET LOCAL app.org_id = '`+ids[i]+`'`); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, now() + make_interval(secs => $3))`, ids[i], name, i)
			return err
		})
		if err != nil {
			t.Fatalf("insert %s: %v", name, err)
		}
	}
	if _, err := Migrate(ctx, url, MigrateOptions{Citus: pgtest.Citus()}); err != nil {
		t.Fatalf("migrate the rest: %v", err)
	}
	s := mustOpen(t, url, Options{})
	want := []string{"acme", "acme-" + tail(ids[1]), "acme-" + tail(ids[2]), "org", "globex-corporation"}
	for i, slug := range want {
		if got, err := s.OrganizationSlug(ctx, ids[i]); err != nil || got != slug {
			t.Errorf("%s: slug %q %v, want %q", names[i], got, err, slug)
		}
		if got, err := s.OrganizationBySlug(ctx, slug); err != nil || got != ids[i] {
			t.Errorf("OrganizationBySlug(%q) = %q %v, want %s", slug, got, err, ids[i])
		}
	}
	// New organizations go on from there.
	org, err := s.CreateOrganization(ctx, cloud.NewOrganization{Name: "Acme", OwnerEmail: "new@acme.test", OwnerPasswordHash: "h"})
	if err != nil || org.Slug != "acme-2" {
		t.Fatalf("a new Acme: %+v %v, want the slug acme-2", org, err)
	}
}

// tail is the end of an id as the backfill puts it after a taken slug.
func tail(id string) string {
	hex := strings.ReplaceAll(id, "-", "")
	return hex[len(hex)-8:]
}
