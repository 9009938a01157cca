package postgres

import (
	"strings"
	"testing"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

func TestSpaces(t *testing.T) {
	t.Parallel()
	f := newCatalogFixture(t)
	a, b := f.a, f.b
	site, other := f.site(t, a, "EUR"), f.site(t, a, "EUR")
	sp, err := f.s.CreateSpace(t.Context(), a.id, a.who, site, cloud.SpaceInput{Name: " Room 1 ", Floor: " 3 "})
	if err != nil {
		t.Fatal(err)
	}
	if sp.Name != "Room 1" || sp.Floor != "3" || sp.SiteID != site || !pantry.ValidID(sp.ID) || len(sp.Code) < 16 || len(sp.Code) > 64 {
		t.Fatalf("created %+v", sp)
	}

	t.Run("Get", func(t *testing.T) {
		got, err := f.s.GetSpace(t.Context(), a.id, site, sp.ID)
		if err != nil || got != sp {
			t.Fatalf("got %+v (%v), want %+v", got, err, sp)
		}
	})
	t.Run("CodesDiffer", func(t *testing.T) {
		sp2, err := f.s.CreateSpace(t.Context(), a.id, a.who, other, cloud.SpaceInput{Name: "Room 2"})
		if err != nil || sp2.Code == sp.Code || sp2.Floor != "" {
			t.Fatalf("second room %+v (%v): its code must be its own", sp2, err)
		}
	})
	t.Run("Update", func(t *testing.T) {
		name, floor := "Boardroom", ""
		got, err := f.s.UpdateSpace(t.Context(), a.id, a.who, site, sp.ID, cloud.SpaceUpdate{Name: &name, Floor: &floor})
		if err != nil || got.Name != name || got.Floor != "" || got.Code != sp.Code {
			t.Fatalf("updated %+v (%v)", got, err)
		}
		entries := f.audit(t, a.id, sp.ID)
		if len(entries) != 2 || entries[1].Action != "space.update" || entries[1].Before["name"] != "Room 1" || entries[1].After["name"] != name {
			t.Fatalf("audit %+v", entries)
		}
	})
	t.Run("RotateCode", func(t *testing.T) {
		before, _ := f.s.GetSpace(t.Context(), a.id, site, sp.ID)
		got, err := f.s.RotateSpaceCode(t.Context(), a.id, a.who, site, sp.ID)
		if err != nil || got.Code == before.Code || len(got.Code) < 16 || got.Name != before.Name {
			t.Fatalf("rotated %+v (%v), code was %q", got, err, before.Code)
		}
		entries := f.audit(t, a.id, sp.ID)
		last := entries[len(entries)-1]
		if last.Action != "space.rotate_code" || last.Before["code"] != before.Code || last.After["code"] != got.Code {
			t.Fatalf("audit %+v", last)
		}
	})
	t.Run("BadInput", func(t *testing.T) {
		empty, huge := "", strings.Repeat("n", 10<<10)
		tests := []struct {
			name string
			call func() error
			code string
		}{
			{"EmptyName", f.createSpace(a, site, cloud.SpaceInput{Name: "  "}), pantry.EINVALID},
			{"HugeName", f.createSpace(a, site, cloud.SpaceInput{Name: huge}), pantry.EINVALID},
			{"HugeFloor", f.createSpace(a, site, cloud.SpaceInput{Name: "R", Floor: huge}), pantry.EINVALID},
			{"UnknownSite", f.createSpace(a, pantry.NewID(), cloud.SpaceInput{Name: "R"}), pantry.ENOTFOUND},
			{"MalformedSite", f.createSpace(a, "../x", cloud.SpaceInput{Name: "R"}), pantry.ENOTFOUND},
			{"UpdateEmptyName", f.updateSpace(a, site, sp.ID, cloud.SpaceUpdate{Name: &empty}), pantry.EINVALID},
			{"UpdateHugeFloor", f.updateSpace(a, site, sp.ID, cloud.SpaceUpdate{Floor: &huge}), pantry.EINVALID},
			{"UpdateUnknown", f.updateSpace(a, site, pantry.NewID(), cloud.SpaceUpdate{}), pantry.ENOTFOUND},
			// A room is reached through its own site only: a facility
			// manager of the other site must not reach it.
			{"UpdateThroughOtherSite", f.updateSpace(a, other, sp.ID, cloud.SpaceUpdate{}), pantry.ENOTFOUND},
			{"RotateThroughOtherSite", func() error { _, err := f.s.RotateSpaceCode(t.Context(), a.id, a.who, other, sp.ID); return err }, pantry.ENOTFOUND},
			{"GetThroughOtherSite", func() error { _, err := f.s.GetSpace(t.Context(), a.id, other, sp.ID); return err }, pantry.ENOTFOUND},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { f.refused(t, tt.code, tt.call) })
		}
	})
	t.Run("TenantIsolation", func(t *testing.T) {
		bSite := f.site(t, b, "EUR")
		name := "stolen"
		for name, call := range map[string]func() error{
			"Get":             func() error { _, err := f.s.GetSpace(t.Context(), b.id, site, sp.ID); return err },
			"GetInOwnSite":    func() error { _, err := f.s.GetSpace(t.Context(), b.id, bSite, sp.ID); return err },
			"Update":          f.updateSpace(b, site, sp.ID, cloud.SpaceUpdate{Name: &name}),
			"UpdateInOwnSite": f.updateSpace(b, bSite, sp.ID, cloud.SpaceUpdate{Name: &name}),
			"Rotate":          func() error { _, err := f.s.RotateSpaceCode(t.Context(), b.id, b.who, site, sp.ID); return err },
			"CreateInASite":   f.createSpace(b, site, cloud.SpaceInput{Name: "Sneaky"}),
			"ListASite":       func() error { _, _, err := f.s.ListSpaces(t.Context(), b.id, site, cloud.Page{}); return err },
		} {
			t.Run(name, func(t *testing.T) { f.refused(t, pantry.ENOTFOUND, call) })
		}
		if got, _, err := f.s.ListSpaces(t.Context(), b.id, bSite, cloud.Page{}); err != nil || len(got) != 0 {
			t.Fatalf("B lists %+v (%v), want none", got, err)
		}
	})
	t.Run("Pagination", func(t *testing.T) {
		s := f.site(t, a, "EUR")
		var want []string
		for i := range 7 {
			sp, err := f.s.CreateSpace(t.Context(), a.id, a.who, s, cloud.SpaceInput{Name: "Room " + string(rune('A'+i))})
			if err != nil {
				t.Fatal(err)
			}
			want = append([]string{sp.ID}, want...)
		}
		checkSevenInPages(t, want, func(p cloud.Page) ([]cloud.Space, string, error) { return f.s.ListSpaces(t.Context(), a.id, s, p) },
			func(sp cloud.Space) string { return sp.ID })
	})
}

func (f *catalogFixture) createSpace(o catalogOrg, site string, in cloud.SpaceInput) func() error {
	return func() error { _, err := f.s.CreateSpace(f.ctx, o.id, o.who, site, in); return err }
}

func (f *catalogFixture) updateSpace(o catalogOrg, site, id string, up cloud.SpaceUpdate) func() error {
	return func() error { _, err := f.s.UpdateSpace(f.ctx, o.id, o.who, site, id, up); return err }
}
