package postgres

import (
	"maps"
	"testing"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// TestCountSpaces counts each site's rooms as a list of sites shows them:
// archived rooms do not count, a site without rooms is absent, and
// another organization's site, asked for with its id, counts nothing.
func TestCountSpaces(t *testing.T) {
	t.Parallel()
	f := newCatalogFixture(t)
	a, b := f.a, f.b
	two, one, none := f.site(t, a, "EUR"), f.site(t, a, "EUR"), f.site(t, a, "EUR")
	theirs := f.site(t, b, "EUR")
	room := func(o catalogOrg, site, name string) cloud.Space {
		t.Helper()
		sp, err := f.s.CreateSpace(t.Context(), o.id, o.who, site, cloud.SpaceInput{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		return sp
	}
	room(a, two, "Oslo")
	room(a, two, "Lisboa")
	room(a, one, "Kraków")
	archived := room(a, one, "Old room")
	yes := true
	if _, err := f.s.UpdateSpace(t.Context(), a.id, a.who, one, archived.ID, cloud.SpaceUpdate{Archived: &yes}); err != nil {
		t.Fatal(err)
	}
	room(b, theirs, "Theirs")

	for _, tc := range []struct {
		name  string
		org   string
		sites []string
		want  map[string]int
	}{
		{"Sites", a.id, []string{two, one, none}, map[string]int{two: 2, one: 1}},
		{"OneSite", a.id, []string{one}, map[string]int{one: 1}},
		{"NoSites", a.id, nil, map[string]int{}},
		{"NotUUIDs", a.id, []string{"x", "", two}, map[string]int{two: 2}},
		{"AnotherOrganizationsSite", a.id, []string{theirs}, map[string]int{}},
		{"BAsksForAsSites", b.id, []string{two, one, pantry.NewID()}, map[string]int{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.s.CountSpaces(t.Context(), tc.org, tc.sites)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("counts=%v, want %v", got, tc.want)
			}
		})
	}
}
