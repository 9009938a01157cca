package auth

import (
	"fmt"
	"slices"
	"testing"

	"github.com/pantry/pantry/cloud"
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
	role              cloud.Role
	action            Action
	own, other, orgwd string
}{
	{cloud.RoleOwner, ActionRead, ok, ok, ok},
	{cloud.RoleOwner, ActionWriteCatalog, ok, ok, ok},
	{cloud.RoleOwner, ActionWriteSite, ok, ok, ok},
	{cloud.RoleOwner, ActionManageUsers, ok, ok, ok},
	{cloud.RoleOwner, ActionManageOwners, ok, ok, ok},
	{cloud.RoleOwner, ActionManageAPIKeys, ok, ok, ok},
	{cloud.RoleOwner, ActionReadAudit, ok, ok, ok},
	{cloud.RoleOwner, ActionEnrollNode, ok, ok, ok},

	{cloud.RoleAdmin, ActionRead, ok, ok, ok},
	{cloud.RoleAdmin, ActionWriteCatalog, ok, ok, ok},
	{cloud.RoleAdmin, ActionWriteSite, ok, ok, ok},
	{cloud.RoleAdmin, ActionManageUsers, ok, ok, ok},
	{cloud.RoleAdmin, ActionManageOwners, no, no, no},
	{cloud.RoleAdmin, ActionManageAPIKeys, ok, ok, ok},
	{cloud.RoleAdmin, ActionReadAudit, ok, ok, ok},
	{cloud.RoleAdmin, ActionEnrollNode, ok, ok, ok},

	{cloud.RoleFacilityManager, ActionRead, ok, hid, ok},
	{cloud.RoleFacilityManager, ActionWriteCatalog, no, hid, no},
	{cloud.RoleFacilityManager, ActionWriteSite, ok, hid, no},
	{cloud.RoleFacilityManager, ActionManageUsers, no, hid, no},
	{cloud.RoleFacilityManager, ActionManageOwners, no, hid, no},
	{cloud.RoleFacilityManager, ActionManageAPIKeys, no, hid, no},
	{cloud.RoleFacilityManager, ActionReadAudit, no, hid, no},
	{cloud.RoleFacilityManager, ActionEnrollNode, no, hid, no},

	{cloud.RoleViewer, ActionRead, ok, ok, ok},
	{cloud.RoleViewer, ActionWriteCatalog, no, no, no},
	{cloud.RoleViewer, ActionWriteSite, no, no, no},
	{cloud.RoleViewer, ActionManageUsers, no, no, no},
	{cloud.RoleViewer, ActionManageOwners, no, no, no},
	{cloud.RoleViewer, ActionManageAPIKeys, no, no, no},
	{cloud.RoleViewer, ActionReadAudit, no, no, no},
	{cloud.RoleViewer, ActionEnrollNode, no, no, no},

	{cloud.RoleTechnician, ActionRead, ok, ok, ok},
	{cloud.RoleTechnician, ActionWriteCatalog, no, no, no},
	{cloud.RoleTechnician, ActionWriteSite, no, no, no},
	{cloud.RoleTechnician, ActionManageUsers, no, no, no},
	{cloud.RoleTechnician, ActionManageOwners, no, no, no},
	{cloud.RoleTechnician, ActionManageAPIKeys, no, no, no},
	{cloud.RoleTechnician, ActionReadAudit, no, no, no},
	{cloud.RoleTechnician, ActionEnrollNode, ok, ok, ok},
}

var allRoles = []cloud.Role{cloud.RoleOwner, cloud.RoleAdmin, cloud.RoleFacilityManager, cloud.RoleViewer, cloud.RoleTechnician}

// principal returns a valid principal of role r whose own site is "site-a".
func principal(r cloud.Role) Principal {
	kind := KindUser
	if r == cloud.RoleTechnician {
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
		"NoOrg":           {Kind: KindUser, ID: "u", Role: cloud.RoleOwner},
		"NoID":            {Kind: KindUser, OrgID: "o", Role: cloud.RoleOwner},
		"NoKind":          {ID: "u", OrgID: "o", Role: cloud.RoleOwner},
		"UnknownRole":     {Kind: KindUser, ID: "u", OrgID: "o", Role: "root"},
		"APIKeyAsOwner":   {Kind: KindAPIKey, ID: "k", OrgID: "o", Role: cloud.RoleOwner},
		"UserTechnician":  {Kind: KindUser, ID: "u", OrgID: "o", Role: cloud.RoleTechnician},
		"UnknownKindRole": {Kind: "service", ID: "s", OrgID: "o", Role: cloud.RoleAdmin},
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
	if err := principal(cloud.RoleOwner).Can("drop_database", ""); pantry.ErrorCode(err) != pantry.EFORBIDDEN {
		t.Fatalf("owner Can(unknown action)=%v, want forbidden", err)
	}
}

func TestFacilityManagerWithoutSites(t *testing.T) {
	t.Parallel()
	p := principal(cloud.RoleFacilityManager)
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
		if r == cloud.RoleFacilityManager {
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
		actor cloud.Role
		roles []cloud.Role
		want  string
	}{
		{"OwnerCreatesOwner", cloud.RoleOwner, []cloud.Role{cloud.RoleOwner}, ok},
		{"OwnerDemotesOwner", cloud.RoleOwner, []cloud.Role{cloud.RoleOwner, cloud.RoleAdmin}, ok},
		{"AdminCreatesAdmin", cloud.RoleAdmin, []cloud.Role{cloud.RoleAdmin}, ok},
		{"AdminCreatesManager", cloud.RoleAdmin, []cloud.Role{cloud.RoleFacilityManager}, ok},
		{"AdminDemotesAdmin", cloud.RoleAdmin, []cloud.Role{cloud.RoleAdmin, cloud.RoleViewer}, ok},
		{"AdminCreatesOwner", cloud.RoleAdmin, []cloud.Role{cloud.RoleOwner}, no},
		{"AdminPromotesToOwner", cloud.RoleAdmin, []cloud.Role{cloud.RoleAdmin, cloud.RoleOwner}, no},
		{"AdminDemotesOwner", cloud.RoleAdmin, []cloud.Role{cloud.RoleOwner, cloud.RoleViewer}, no},
		{"AdminDeletesOwner", cloud.RoleAdmin, []cloud.Role{cloud.RoleOwner}, no},
		{"ManagerCreatesViewer", cloud.RoleFacilityManager, []cloud.Role{cloud.RoleViewer}, no},
		{"ViewerCreatesViewer", cloud.RoleViewer, []cloud.Role{cloud.RoleViewer}, no},
		{"TechnicianCreatesViewer", cloud.RoleTechnician, []cloud.Role{cloud.RoleViewer}, no},
		{"OwnerCreatesTechnicianUser", cloud.RoleOwner, []cloud.Role{cloud.RoleTechnician}, pantry.EINVALID},
		{"OwnerCreatesUnknownRole", cloud.RoleOwner, []cloud.Role{"root"}, pantry.EINVALID},
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
		if r, err := cloud.ParseUserRole(s); err != nil || string(r) != s {
			t.Errorf("ParseUserRole(%q)=%q, %v", s, r, err)
		}
	}
	for _, s := range []string{"technician", "", "Owner", "root", " admin"} {
		if _, err := cloud.ParseUserRole(s); pantry.ErrorCode(err) != pantry.EINVALID {
			t.Errorf("ParseUserRole(%q)=%v, want invalid", s, err)
		}
	}
}
