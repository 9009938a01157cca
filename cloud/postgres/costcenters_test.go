package postgres

import (
	"strings"
	"testing"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

func TestCostCenters(t *testing.T) {
	t.Parallel()
	f := newCatalogFixture(t)
	a, b := f.a, f.b
	site := f.site(t, a, "EUR")
	rev := f.revision(t, a.id, site)
	cc, err := f.s.CreateCostCenter(t.Context(), a.id, a.who, cloud.CostCenterInput{Code: " CC-1001 ", Name: " Finance "})
	if err != nil {
		t.Fatal(err)
	}
	if cc.Code != "CC-1001" || cc.Name != "Finance" || !pantry.ValidID(cc.ID) || cc.CreatedAt.IsZero() {
		t.Fatalf("created %+v", cc)
	}
	if got := f.revision(t, a.id, site); got != rev+1 {
		t.Errorf("revision %d, want %d", got, rev+1)
	}

	t.Run("Get", func(t *testing.T) {
		got, err := f.s.GetCostCenter(t.Context(), a.id, cc.ID)
		if err != nil || got != cc {
			t.Fatalf("got %+v (%v), want %+v", got, err, cc)
		}
	})
	t.Run("Update", func(t *testing.T) {
		name, yes := "Finance EMEA", true
		got, err := f.s.UpdateCostCenter(t.Context(), a.id, a.who, cc.ID, cloud.CostCenterUpdate{Name: &name, Archived: &yes})
		if err != nil || got.Name != name || got.Code != cc.Code || got.ArchivedAt == nil {
			t.Fatalf("updated %+v (%v)", got, err)
		}
		entries := f.audit(t, a.id, cc.ID)
		if auditActions(entries) != "cost_center.create cost_center.update" || entries[0].After["code"] != "CC-1001" ||
			entries[1].Before["name"] != "Finance" || entries[1].After["name"] != name || entries[1].After["archived_at"] == nil {
			t.Fatalf("audit %+v", entries)
		}
	})
	t.Run("BadInput", func(t *testing.T) {
		empty, huge, taken := "", strings.Repeat("x", 10<<10), "cc-1001"
		other, err := f.s.CreateCostCenter(t.Context(), a.id, a.who, cloud.CostCenterInput{Code: "CC-2"})
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			call func() error
			code string
		}{
			{"EmptyCode", f.createCostCenter(a, cloud.CostCenterInput{Code: " ", Name: "X"}), pantry.EINVALID},
			{"HugeCode", f.createCostCenter(a, cloud.CostCenterInput{Code: huge}), pantry.EINVALID},
			{"HugeName", f.createCostCenter(a, cloud.CostCenterInput{Code: "CC-3", Name: huge}), pantry.EINVALID},
			{"DuplicateCodeInAnyCase", f.createCostCenter(a, cloud.CostCenterInput{Code: taken}), pantry.ECONFLICT},
			{"UpdateEmptyCode", f.updateCostCenter(a, cc.ID, cloud.CostCenterUpdate{Code: &empty}), pantry.EINVALID},
			{"UpdateHugeName", f.updateCostCenter(a, cc.ID, cloud.CostCenterUpdate{Name: &huge}), pantry.EINVALID},
			{"UpdateToATakenCode", f.updateCostCenter(a, other.ID, cloud.CostCenterUpdate{Code: &taken}), pantry.ECONFLICT},
			{"UpdateUnknown", f.updateCostCenter(a, pantry.NewID(), cloud.CostCenterUpdate{}), pantry.ENOTFOUND},
			{"UpdateMalformedID", f.updateCostCenter(a, "1", cloud.CostCenterUpdate{}), pantry.ENOTFOUND},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { f.refused(t, tt.code, tt.call) })
		}
	})
	t.Run("TenantIsolation", func(t *testing.T) {
		name := "stolen"
		f.refused(t, pantry.ENOTFOUND, func() error { _, err := f.s.GetCostCenter(t.Context(), b.id, cc.ID); return err })
		f.refused(t, pantry.ENOTFOUND, f.updateCostCenter(b, cc.ID, cloud.CostCenterUpdate{Name: &name}))
		if got, _, err := f.s.ListCostCenters(t.Context(), b.id, cloud.Page{}); err != nil || len(got) != 0 {
			t.Fatalf("B lists %+v (%v), want none", got, err)
		}
	})
	t.Run("Pagination", func(t *testing.T) {
		o := f.newOrg(t, "Pages")
		var want []string
		for i := range 7 {
			c, err := f.s.CreateCostCenter(t.Context(), o.id, o.who, cloud.CostCenterInput{Code: "CC-" + string(rune('A'+i))})
			if err != nil {
				t.Fatal(err)
			}
			want = append([]string{c.ID}, want...)
		}
		checkSevenInPages(t, want, func(p cloud.Page) ([]cloud.CostCenter, string, error) {
			return f.s.ListCostCenters(t.Context(), o.id, p)
		},
			func(c cloud.CostCenter) string { return c.ID })
	})
}

func (f *catalogFixture) createCostCenter(o catalogOrg, in cloud.CostCenterInput) func() error {
	return func() error { _, err := f.s.CreateCostCenter(f.ctx, o.id, o.who, in); return err }
}

func (f *catalogFixture) updateCostCenter(o catalogOrg, id string, up cloud.CostCenterUpdate) func() error {
	return func() error { _, err := f.s.UpdateCostCenter(f.ctx, o.id, o.who, id, up); return err }
}
