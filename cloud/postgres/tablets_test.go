package postgres

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

func TestTablets(t *testing.T) {
	t.Parallel()
	f := newCatalogFixture(t)
	a, b := f.a, f.b
	site, other := f.site(t, a, "EUR"), f.site(t, a, "EUR")
	tab, password, err := f.s.CreateTablet(t.Context(), a.id, a.who, site, " Pantry 1 ")
	if err != nil {
		t.Fatal(err)
	}
	if tab.Name != "Pantry 1" || tab.SiteID != site || !regexp.MustCompile(`^tablet-[a-z]{6}$`).MatchString(tab.Username) ||
		len(password) != 16 || tab.RevokedAt != nil {
		t.Fatalf("created %+v with password %q", tab, password)
	}

	t.Run("HashIsBcryptForTheEdge", func(t *testing.T) {
		var hash string
		if err := f.super.QueryRow(t.Context(), `SELECT password_hash FROM tablets WHERE organization_id = $1 AND id = $2`, a.id, tab.ID).Scan(&hash); err != nil {
			t.Fatal(err)
		}
		if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)); err != nil {
			t.Fatalf("the stored hash does not verify the password: %v", err)
		}
		if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost != tabletBcryptCost {
			t.Fatalf("bcrypt cost %d (%v), want %d", cost, err, tabletBcryptCost)
		}
	})
	t.Run("NoSecretsInListsOrAudit", func(t *testing.T) {
		list, _, err := f.s.ListTablets(t.Context(), a.id, site, cloud.Page{})
		if err != nil || len(list) != 1 || list[0].Username != tab.Username {
			t.Fatalf("list %+v (%v)", list, err)
		}
		out, _ := json.Marshal(list)
		var audit string
		if err := f.super.QueryRow(t.Context(), `SELECT after::text FROM audit_log WHERE organization_id = $1 AND resource_id = $2`, a.id, tab.ID).Scan(&audit); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{string(out), audit} {
			if strings.Contains(s, password) || strings.Contains(s, "$2a$") || strings.Contains(s, "hash") {
				t.Errorf("%s shows a secret", s)
			}
		}
	})
	t.Run("Revoke", func(t *testing.T) {
		got, err := f.s.RevokeTablet(t.Context(), a.id, a.who, site, tab.ID)
		if err != nil || got.RevokedAt == nil {
			t.Fatalf("revoked %+v (%v)", got, err)
		}
		again, err := f.s.RevokeTablet(t.Context(), a.id, a.who, site, tab.ID)
		if err != nil || again.RevokedAt == nil || !again.RevokedAt.Equal(*got.RevokedAt) {
			t.Fatalf("revoked again %+v (%v), want it unchanged", again, err)
		}
		entries := f.audit(t, a.id, tab.ID)
		if auditActions(entries) != "tablet.create tablet.revoke" || entries[1].Before["revoked_at"] != nil || entries[1].After["revoked_at"] == nil {
			t.Fatalf("audit %+v", entries)
		}
	})
	t.Run("BadInput", func(t *testing.T) {
		tests := []struct {
			name string
			call func() error
			code string
		}{
			{"EmptyName", f.createTablet(a, site, "  "), pantry.EINVALID},
			{"HugeName", f.createTablet(a, site, strings.Repeat("n", 10<<10)), pantry.EINVALID},
			{"UnknownSite", f.createTablet(a, pantry.NewID(), "T"), pantry.ENOTFOUND},
			{"MalformedSite", f.createTablet(a, "site", "T"), pantry.ENOTFOUND},
			{"RevokeUnknown", f.revokeTablet(a, site, pantry.NewID()), pantry.ENOTFOUND},
			{"RevokeThroughOtherSite", f.revokeTablet(a, other, tab.ID), pantry.ENOTFOUND},
			{"ListUnknownSite", func() error {
				_, _, err := f.s.ListTablets(t.Context(), a.id, pantry.NewID(), cloud.Page{})
				return err
			}, pantry.ENOTFOUND},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { f.refused(t, tt.code, tt.call) })
		}
	})
	t.Run("TenantIsolation", func(t *testing.T) {
		live, _, err := f.s.CreateTablet(t.Context(), a.id, a.who, site, "Pantry 2")
		if err != nil {
			t.Fatal(err)
		}
		bSite := f.site(t, b, "EUR")
		f.refused(t, pantry.ENOTFOUND, f.createTablet(b, site, "Sneaky"))
		f.refused(t, pantry.ENOTFOUND, f.revokeTablet(b, site, live.ID))
		f.refused(t, pantry.ENOTFOUND, f.revokeTablet(b, bSite, live.ID))
		f.refused(t, pantry.ENOTFOUND, func() error { _, _, err := f.s.ListTablets(t.Context(), b.id, site, cloud.Page{}); return err })
		if got, _, err := f.s.ListTablets(t.Context(), b.id, bSite, cloud.Page{}); err != nil || len(got) != 0 {
			t.Fatalf("B lists %+v (%v), want none", got, err)
		}
	})
	t.Run("Pagination", func(t *testing.T) {
		s := f.site(t, a, "EUR")
		var want []string
		for range 7 {
			tab, _, err := f.s.CreateTablet(t.Context(), a.id, a.who, s, "T")
			if err != nil {
				t.Fatal(err)
			}
			want = append([]string{tab.ID}, want...)
		}
		checkSevenInPages(t, want, func(p cloud.Page) ([]cloud.Tablet, string, error) { return f.s.ListTablets(t.Context(), a.id, s, p) },
			func(t cloud.Tablet) string { return t.ID })
	})
}

func (f *catalogFixture) createTablet(o catalogOrg, site, name string) func() error {
	return func() error { _, _, err := f.s.CreateTablet(f.ctx, o.id, o.who, site, name); return err }
}

func (f *catalogFixture) revokeTablet(o catalogOrg, site, id string) func() error {
	return func() error { _, err := f.s.RevokeTablet(f.ctx, o.id, o.who, site, id); return err }
}
