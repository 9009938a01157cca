package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

func TestSites(t *testing.T) {
	t.Parallel()
	f := newCatalogFixture(t)
	a, b := f.a, f.b
	site, err := f.s.CreateSite(t.Context(), a.id, a.who, cloud.SiteInput{Name: "  HQ ", Timezone: "Europe/Berlin", Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	if site.Name != "HQ" || site.Timezone != "Europe/Berlin" || site.Currency != "EUR" || !pantry.ValidID(site.ID) || site.CreatedAt.IsZero() {
		t.Fatalf("created %+v", site)
	}

	t.Run("Get", func(t *testing.T) {
		got, err := f.s.GetSite(t.Context(), a.id, site.ID)
		if err != nil || got != site {
			t.Fatalf("got %+v (%v), want %+v", got, err, site)
		}
	})
	t.Run("Update", func(t *testing.T) {
		name, tz, archived := "Head office", "America/New_York", true
		got, err := f.s.UpdateSite(t.Context(), a.id, a.who, site.ID, cloud.SiteUpdate{Name: &name, Timezone: &tz, Archived: &archived})
		if err != nil || got.Name != name || got.Timezone != tz || got.Currency != "EUR" || got.ArchivedAt == nil {
			t.Fatalf("updated %+v (%v)", got, err)
		}
		restore := false
		got, err = f.s.UpdateSite(t.Context(), a.id, a.who, site.ID, cloud.SiteUpdate{Archived: &restore})
		if err != nil || got.Name != name || got.ArchivedAt != nil {
			t.Fatalf("restored %+v (%v)", got, err)
		}
		entries := f.audit(t, a.id, site.ID)
		if got, want := auditActions(entries), "site.create site.update site.update"; got != want {
			t.Fatalf("audit %q, want %q", got, want)
		}
		if entries[0].Before != nil || entries[0].After["name"] != "HQ" ||
			entries[1].Before["name"] != "HQ" || entries[1].After["name"] != name || entries[1].After["timezone"] != tz {
			t.Fatalf("audit before/after: %+v", entries[:2])
		}
	})
	t.Run("BadInput", func(t *testing.T) {
		ok := cloud.SiteInput{Name: "X", Timezone: "UTC", Currency: "EUR"}
		with := func(change func(*cloud.SiteInput)) cloud.SiteInput { in := ok; change(&in); return in }
		empty, bigName, badTZ := " ", strings.Repeat("n", 10<<10), "Mars/Olympus"
		tests := []struct {
			name string
			call func() error
			code string
		}{
			{"EmptyName", f.createSite(a, with(func(in *cloud.SiteInput) { in.Name = "" })), pantry.EINVALID},
			{"HugeName", f.createSite(a, with(func(in *cloud.SiteInput) { in.Name = bigName })), pantry.EINVALID},
			{"ControlCharacter", f.createSite(a, with(func(in *cloud.SiteInput) { in.Name = "a\x00b" })), pantry.EINVALID},
			{"BadTimezone", f.createSite(a, with(func(in *cloud.SiteInput) { in.Timezone = badTZ })), pantry.EINVALID},
			{"EmptyTimezone", f.createSite(a, with(func(in *cloud.SiteInput) { in.Timezone = "" })), pantry.EINVALID},
			{"LocalTimezone", f.createSite(a, with(func(in *cloud.SiteInput) { in.Timezone = "Local" })), pantry.EINVALID},
			{"PathTimezone", f.createSite(a, with(func(in *cloud.SiteInput) { in.Timezone = "../../etc/passwd" })), pantry.EINVALID},
			{"LowerCaseCurrency", f.createSite(a, with(func(in *cloud.SiteInput) { in.Currency = "eur" })), pantry.EINVALID},
			{"LongCurrency", f.createSite(a, with(func(in *cloud.SiteInput) { in.Currency = "EURO" })), pantry.EINVALID},
			{"UpdateEmptyName", f.updateSite(a, site.ID, cloud.SiteUpdate{Name: &empty}), pantry.EINVALID},
			{"UpdateHugeName", f.updateSite(a, site.ID, cloud.SiteUpdate{Name: &bigName}), pantry.EINVALID},
			{"UpdateBadTimezone", f.updateSite(a, site.ID, cloud.SiteUpdate{Timezone: &badTZ}), pantry.EINVALID},
			{"UpdateUnknown", f.updateSite(a, pantry.NewID(), cloud.SiteUpdate{}), pantry.ENOTFOUND},
			{"UpdateMalformedID", f.updateSite(a, "1 OR 1=1", cloud.SiteUpdate{}), pantry.ENOTFOUND},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { f.refused(t, tt.code, tt.call) })
		}
	})
	t.Run("TenantIsolation", func(t *testing.T) {
		name := "stolen"
		f.refused(t, pantry.ENOTFOUND, func() error { _, err := f.s.GetSite(t.Context(), b.id, site.ID); return err })
		f.refused(t, pantry.ENOTFOUND, f.updateSite(b, site.ID, cloud.SiteUpdate{Name: &name}))
		for _, filter := range [][]string{nil, {site.ID}} {
			got, _, err := f.s.ListSites(t.Context(), b.id, filter, cloud.Page{})
			if err != nil || len(got) != 0 {
				t.Fatalf("B lists %+v (%v) with filter %v, want none", got, err, filter)
			}
		}
	})
	t.Run("Filter", func(t *testing.T) {
		c := f.newOrg(t, "Filter")
		s1, s2 := f.site(t, c, "EUR"), f.site(t, c, "EUR")
		tests := []struct {
			name   string
			filter []string
			want   []string
		}{
			{"All", nil, []string{s2, s1}},
			{"One", []string{s1}, []string{s1}},
			{"None", []string{}, nil},
			{"Malformed", []string{"x", s2}, []string{s2}},
			{"OtherTenants", []string{site.ID}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, next, err := f.s.ListSites(t.Context(), c.id, tt.filter, cloud.Page{})
				if err != nil || strings.Join(idList(got, func(s cloud.Site) string { return s.ID }), " ") != strings.Join(tt.want, " ") || next != "" {
					t.Fatalf("got %v next %q (%v), want %v", idList(got, func(s cloud.Site) string { return s.ID }), next, err, tt.want)
				}
			})
		}
	})
	t.Run("Pagination", func(t *testing.T) {
		c := f.newOrg(t, "Pages")
		var want []string
		for range 7 {
			want = append([]string{f.site(t, c, "EUR")}, want...)
		}
		checkSevenInPages(t, want, func(p cloud.Page) ([]cloud.Site, string, error) { return f.s.ListSites(t.Context(), c.id, nil, p) },
			func(s cloud.Site) string { return s.ID })
	})
	t.Run("BadPage", func(t *testing.T) {
		for _, p := range []cloud.Page{{Limit: -1}, {Limit: cloud.MaxPageSize + 1}, {Cursor: "garbage"}} {
			if _, _, err := f.s.ListSites(t.Context(), a.id, nil, p); pantry.ErrorCode(err) != pantry.EINVALID {
				t.Errorf("page %+v: %v, want %s", p, err, pantry.EINVALID)
			}
		}
	})
}

func (f *catalogFixture) createSite(o catalogOrg, in cloud.SiteInput) func() error {
	return func() error { _, err := f.s.CreateSite(f.ctx, o.id, o.who, in); return err }
}

func (f *catalogFixture) updateSite(o catalogOrg, id string, up cloud.SiteUpdate) func() error {
	return func() error { _, err := f.s.UpdateSite(f.ctx, o.id, o.who, id, up); return err }
}

// The helpers below are shared by the catalog's tests (sites, spaces,
// items, menus, coupons, cost centers, tablets, stock).

// catalogFixture is a store with two organizations, A and B, and a
// superuser connection that reads every tenant's rows (to count them, and
// to read what the store does not return).
type catalogFixture struct {
	s     *Store
	super *pgx.Conn
	ctx   context.Context
	a, b  catalogOrg
}

// catalogOrg is an organization of a fixture and the owner acting in it.
type catalogOrg struct {
	id  string
	who cloud.Actor
}

func newCatalogFixture(t *testing.T) *catalogFixture {
	t.Helper()
	url := migratedDB(t, MigrateOptions{})
	f := &catalogFixture{s: mustOpen(t, url, Options{}), super: mustConnect(t, url), ctx: t.Context()}
	f.a, f.b = f.newOrg(t, "A"), f.newOrg(t, "B")
	return f
}

// newOrg creates an organization with no catalog.
func (f *catalogFixture) newOrg(t *testing.T, label string) catalogOrg {
	t.Helper()
	created, err := f.s.CreateOrganization(t.Context(), cloud.NewOrganization{
		Name: "Org " + label, OwnerEmail: "owner-" + strings.ToLower(label) + "-" + pantry.NewSecret(4) + "@example.com", OwnerPasswordHash: "$argon2id$fake",
	})
	if err != nil {
		t.Fatalf("create organization %s: %v", label, err)
	}
	return catalogOrg{id: created.OrgID, who: cloud.Actor{Type: "user", ID: created.OwnerUserID}}
}

// site creates a site in o and returns its id.
func (f *catalogFixture) site(t *testing.T, o catalogOrg, currency string) string {
	t.Helper()
	s, err := f.s.CreateSite(t.Context(), o.id, o.who, cloud.SiteInput{Name: "Site", Timezone: "Europe/Paris", Currency: currency})
	if err != nil {
		t.Fatal(err)
	}
	return s.ID
}

// item creates an item of o priced amount in currency and returns its id.
func (f *catalogFixture) item(t *testing.T, o catalogOrg, name string, amount int64, currency string) string {
	t.Helper()
	it, err := f.s.CreateItem(t.Context(), o.id, o.who, cloud.ItemInput{Name: name, Price: pantry.Money{Amount: amount, Currency: currency}})
	if err != nil {
		t.Fatal(err)
	}
	return it.ID
}

// catalogTables are the tables the catalog's methods write.
var catalogTables = []string{"sites", "spaces", "items", "site_menu_items", "coupons", "cost_centers",
	"tablets", "stock_movements", "audit_log"}

// snapshot returns the number of rows of every catalog table, of every
// tenant, and the sum of all catalog revisions.
func (f *catalogFixture) snapshot(t *testing.T) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, tbl := range catalogTables {
		var n int64
		if err := f.super.QueryRow(t.Context(), "SELECT count(*) FROM "+ident(tbl)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[tbl] = n
	}
	var revs int64
	if err := f.super.QueryRow(t.Context(), "SELECT COALESCE(sum(catalog_revision), 0) FROM sites").Scan(&revs); err != nil {
		t.Fatal(err)
	}
	out["catalog revisions"] = revs
	return out
}

// refused runs call and checks that it fails with code and that nothing
// was written: no row added anywhere, no revision bumped, no audit entry.
func (f *catalogFixture) refused(t *testing.T, code string, call func() error) {
	t.Helper()
	before := f.snapshot(t)
	err := call()
	if got := pantry.ErrorCode(err); got != code {
		t.Fatalf("code %q (%v), want %q", got, err, code)
	}
	if msg := pantry.ErrorMessage(err); strings.Contains(msg, "SQLSTATE") || msg == "internal error" {
		t.Errorf("message %q is not one for a client", msg)
	}
	after := f.snapshot(t)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s: %d before, %d after a refused call", k, v, after[k])
		}
	}
}

// catalogAudit is one audit-log entry as the tests read it.
type catalogAudit struct {
	Action, ActorType, ActorID string
	Before, After              map[string]any
}

// audit returns the audit entries of resourceID in organization org,
// oldest first.
func (f *catalogFixture) audit(t *testing.T, org, resourceID string) []catalogAudit {
	t.Helper()
	rows, _ := f.super.Query(t.Context(), `SELECT action, actor_type, actor_id, before, after FROM audit_log
		WHERE organization_id = $1 AND resource_id = $2 ORDER BY at, id`, org, resourceID)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[catalogAudit])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func auditActions(rows []catalogAudit) string {
	var s []string
	for _, r := range rows {
		s = append(s, r.Action)
	}
	return strings.Join(s, " ")
}

// revision returns a site's catalog revision.
func (f *catalogFixture) revision(t *testing.T, org, site string) int64 {
	t.Helper()
	var rev int64
	if err := f.super.QueryRow(t.Context(), `SELECT catalog_revision FROM sites WHERE organization_id = $1 AND id = $2`, org, site).Scan(&rev); err != nil {
		t.Fatal(err)
	}
	return rev
}

// checkSevenInPages reads a list of 7 rows in pages of 3 and checks that the
// pages hold 3, 3 and 1 rows, in the order of want (newest first), with
// no repeats, and that the last page says there is no next one.
func checkSevenInPages[T any](t *testing.T, want []string, list func(cloud.Page) ([]T, string, error), id func(T) string) {
	t.Helper()
	var got []string
	var sizes []int
	p := cloud.Page{Limit: 3}
	for range 10 {
		rows, next, err := list(p)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(rows))
		got = append(got, idList(rows, id)...)
		if next == "" {
			break
		}
		p.Cursor = next
	}
	if g, w := strings.Join(got, " "), strings.Join(want, " "); g != w {
		t.Errorf("paged ids\n%s\nwant\n%s", g, w)
	}
	if g := sizes; len(g) != 3 || g[0] != 3 || g[1] != 3 || g[2] != 1 {
		t.Errorf("page sizes %v, want [3 3 1]", g)
	}
}

func idList[T any](rows []T, id func(T) string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = id(r)
	}
	return out
}
