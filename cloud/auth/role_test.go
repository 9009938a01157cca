package auth

import (
	"fmt"
	"slices"
	"testing"

	"github.com/pantry/pantry/internal/pantry"
)

// Outcomes of Can in the matrix below.
const (
	ok  = ""
	no  = pantry.EFORBIDDEN // may see it, may not do it
	hid = pantry.ENOTFOUND  // may not even see it
)

// matrix is the whole authorization policy, written out: for each role and
// action, the outcome at one of the principal's own sites, at another site
// of the organization, and on organization-wide data (site "").
var matrix = []struct {
	role              Role
	action            Action
	own, other, orgwd string
}{
	{RoleOwner, ActionRead, ok, ok, ok},
	{RoleOwner, ActionWriteCatalog, ok, ok, ok},
	{RoleOwner, ActionWriteSite, ok, ok, ok},
	{RoleOwner, ActionManageUsers, ok, ok, ok},
	{RoleOwner, ActionManageOwners, ok, ok, ok},
	{RoleOwner, ActionManageAPIKeys, ok, ok, ok},
	{RoleOwner, ActionReadAudit, ok, ok, ok},
	{RoleOwner, ActionEnrollNode, ok, ok, ok},

	{RoleAdmin, ActionRead, ok, ok, ok},
	{RoleAdmin, ActionWriteCatalog, ok, ok, ok},
	{RoleAdmin, ActionWriteSite, ok, ok, ok},
	{RoleAdmin, ActionManageUsers, ok, ok, ok},
	{RoleAdmin, ActionManageOwners, no, no, no},
	{RoleAdmin, ActionManageAPIKeys, ok, ok, ok},
	{RoleAdmin, ActionReadAudit, ok, ok, ok},
	{RoleAdmin, ActionEnrollNode, ok, ok, ok},

	{RoleFacilityManager, ActionRead, ok, hid, ok},
	{RoleFacilityManager, ActionWriteCatalog, no, hid, no},
	{RoleFacilityManager, ActionWriteSite, ok, hid, no},
	{RoleFacilityManager, ActionManageUsers, no, hid, no},
	{RoleFacilityManager, ActionManageOwners, no, hid, no},
	{RoleFacilityManager, ActionManageAPIKeys, no, hid, no},
	{RoleFacilityManager, ActionReadAudit, no, hid, no},
	{RoleFacilityManager, ActionEnrollNode, no, hid, no},

	{RoleViewer, ActionRead, ok, ok, ok},
	{RoleViewer, ActionWriteCatalog, no, no, no},
	{RoleViewer, ActionWriteSite, no, no, no},
	{RoleViewer, ActionManageUsers, no, no, no},
	{RoleViewer, ActionManageOwners, no, no, no},
	{RoleViewer, ActionManageAPIKeys, no, no, no},
	{RoleViewer, ActionReadAudit, no, no, no},
	{RoleViewer, ActionEnrollNode, no, no, no},

	{RoleTechnician, ActionRead, ok, ok, ok},
	{RoleTechnician, ActionWriteCatalog, no, no, no},
	{RoleTechnician, ActionWriteSite, no, no, no},
	{RoleTechnician, ActionManageUsers, no, no, no},
	{RoleTechnician, ActionManageOwners, no, no, no},
	{RoleTechnician, ActionManageAPIKeys, no, no, no},
	{RoleTechnician, ActionReadAudit, no, no, no},
	{RoleTechnician, ActionEnrollNode, ok, ok, ok},
}

var allRoles = []Role{RoleOwner, RoleAdmin, RoleFacilityManager, RoleViewer, RoleTechnician}

// principal returns a valid principal of role r whose own site is "site-a".
func principal(r Role) Principal {
	kind := KindUser
	if r == RoleTechnician {
		kind = KindAPIKey
	}
	return Principal{Kind: kind, ID: "id-1", OrgID: "org-1", Role: r, SiteIDs: []string{"site-a", "site-c"}}
}

func TestCan(t *testing.T) {
	t.Parallel()
	for _, m := range matrix {
		for _, at := range []struct{ name, site, want string }{
			{"OwnSite", "site-a", m.own},
			{"OtherSite", "site-b", m.other},
			{"OrgWide", "", m.orgwd},
		} {
			t.Run(fmt.Sprintf("%s/%s/%s", m.role, m.action, at.name), func(t *testing.T) {
				err := principal(m.role).Can(m.action, at.site)
				if got := pantry.ErrorCode(err); got != at.want {
					t.Fatalf("Can=%v, want code %q", err, at.want)
				}
			})
		}
	}
}

// TestMatrixComplete fails when a role or an action is added without
// deciding, in the matrix above, what it may do.
func TestMatrixComplete(t *testing.T) {
	t.Parallel()
	for _, r := range allRoles {
		for a := range orgWide {
			n := 0
			for _, m := range matrix {
				if m.role == r && m.action == a {
					n++
				}
			}
			if n != 1 {
				t.Errorf("matrix has %d rows for %s × %s, want 1", n, r, a)
			}
		}
	}
	if got, want := len(matrix), len(allRoles)*len(orgWide); got != want {
		t.Errorf("matrix has %d rows, want %d", got, want)
	}
	if got, want := len(actionText), len(orgWide); got != want {
		t.Errorf("actionText describes %d actions, want %d", got, want)
	}
}

func TestCanRefusesInvalidPrincipals(t *testing.T) {
	t.Parallel()
	for name, p := range map[string]Principal{
		"Zero":            {},
		"NoOrg":           {Kind: KindUser, ID: "u", Role: RoleOwner},
		"NoID":            {Kind: KindUser, OrgID: "o", Role: RoleOwner},
		"NoKind":          {ID: "u", OrgID: "o", Role: RoleOwner},
		"UnknownRole":     {Kind: KindUser, ID: "u", OrgID: "o", Role: "root"},
		"APIKeyAsOwner":   {Kind: KindAPIKey, ID: "k", OrgID: "o", Role: RoleOwner},
		"UserTechnician":  {Kind: KindUser, ID: "u", OrgID: "o", Role: RoleTechnician},
		"UnknownKindRole": {Kind: "service", ID: "s", OrgID: "o", Role: RoleAdmin},
	} {
		t.Run(name, func(t *testing.T) {
			for a := range orgWide {
				for _, site := range []string{"", "site-a"} {
					if err := p.Can(a, site); pantry.ErrorCode(err) != pantry.EFORBIDDEN {
						t.Fatalf("Can(%s, %q)=%v, want forbidden", a, site, err)
					}
				}
			}
		})
	}
	if err := principal(RoleOwner).Can("drop_database", ""); pantry.ErrorCode(err) != pantry.EFORBIDDEN {
		t.Fatalf("owner Can(unknown action)=%v, want forbidden", err)
	}
}

func TestFacilityManagerWithoutSites(t *testing.T) {
	t.Parallel()
	p := principal(RoleFacilityManager)
	p.SiteIDs = nil
	if err := p.Can(ActionRead, "site-a"); pantry.ErrorCode(err) != pantry.ENOTFOUND {
		t.Fatalf("Can(read a site)=%v, want not found", err)
	}
	if err := p.Can(ActionRead, ""); err != nil {
		t.Fatalf("Can(read the catalog)=%v, want nil", err)
	}
	if ids, all := p.Sites(); all || len(ids) != 0 {
		t.Fatalf("Sites()=%v, %v, want none", ids, all)
	}
}

func TestSites(t *testing.T) {
	t.Parallel()
	for _, r := range allRoles {
		ids, all := principal(r).Sites()
		if r == RoleFacilityManager {
			if all || !slices.Equal(ids, []string{"site-a", "site-c"}) {
				t.Errorf("%s: Sites()=%v, %v, want their own sites", r, ids, all)
			}
		} else if !all {
			t.Errorf("%s: Sites() all=false, want true", r)
		}
	}
}

func TestCanManageUser(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		actor Role
		roles []Role
		want  string
	}{
		{"OwnerCreatesOwner", RoleOwner, []Role{RoleOwner}, ok},
		{"OwnerDemotesOwner", RoleOwner, []Role{RoleOwner, RoleAdmin}, ok},
		{"AdminCreatesAdmin", RoleAdmin, []Role{RoleAdmin}, ok},
		{"AdminCreatesManager", RoleAdmin, []Role{RoleFacilityManager}, ok},
		{"AdminDemotesAdmin", RoleAdmin, []Role{RoleAdmin, RoleViewer}, ok},
		{"AdminCreatesOwner", RoleAdmin, []Role{RoleOwner}, no},
		{"AdminPromotesToOwner", RoleAdmin, []Role{RoleAdmin, RoleOwner}, no},
		{"AdminDemotesOwner", RoleAdmin, []Role{RoleOwner, RoleViewer}, no},
		{"AdminDeletesOwner", RoleAdmin, []Role{RoleOwner}, no},
		{"ManagerCreatesViewer", RoleFacilityManager, []Role{RoleViewer}, no},
		{"ViewerCreatesViewer", RoleViewer, []Role{RoleViewer}, no},
		{"TechnicianCreatesViewer", RoleTechnician, []Role{RoleViewer}, no},
		{"OwnerCreatesTechnicianUser", RoleOwner, []Role{RoleTechnician}, pantry.EINVALID},
		{"OwnerCreatesUnknownRole", RoleOwner, []Role{"root"}, pantry.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := principal(tc.actor).CanManageUser(tc.roles...)
			if got := pantry.ErrorCode(err); got != tc.want {
				t.Fatalf("CanManageUser(%v)=%v, want code %q", tc.roles, err, tc.want)
			}
		})
	}
}

func TestParseUserRole(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"owner", "admin", "facility_manager", "viewer"} {
		if r, err := ParseUserRole(s); err != nil || string(r) != s {
			t.Errorf("ParseUserRole(%q)=%q, %v", s, r, err)
		}
	}
	for _, s := range []string{"technician", "", "Owner", "root", " admin"} {
		if _, err := ParseUserRole(s); pantry.ErrorCode(err) != pantry.EINVALID {
			t.Errorf("ParseUserRole(%q)=%v, want invalid", s, err)
		}
	}
}
