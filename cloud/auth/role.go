package auth

import (
	"slices"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// validKindRole reports whether a credential of kind k may hold role r:
// users hold the four user roles, API keys only the technician role. Making
// an API key that acts as an admin would be a new, deliberate decision.
func validKindRole(k TokenKind, r cloud.Role) bool {
	switch k {
	case KindUser:
		return r.Valid() && r != cloud.RoleTechnician
	case KindAPIKey:
		return r == cloud.RoleTechnician
	}
	return false
}

// Action is something a principal asks to do. Each handler of the API names
// one, and the site it touches if any.
type Action string

// Actions.
const (
	// ActionRead is any read: of one site's data (spaces, menus, stock,
	// orders) with that site's id, or of organization-wide data (the item
	// catalog, coupons, cost centers, the list of sites) with "".
	ActionRead Action = "read"
	// ActionWriteCatalog changes organization-wide data: items, coupons,
	// cost centers. The site id is ignored.
	ActionWriteCatalog Action = "write_catalog"
	// ActionWriteSite changes a site's data: the site itself, its spaces,
	// menu, prices, stock and tablets. With "" it creates a site.
	ActionWriteSite Action = "write_site"
	// ActionManageUsers creates, changes or removes users who are not
	// owners; see CanManageUser.
	ActionManageUsers Action = "manage_users"
	// ActionManageOwners creates, changes or removes owners, or makes a user
	// one. Only an owner may, so an admin cannot promote themselves.
	ActionManageOwners Action = "manage_owners"
	// ActionManageAPIKeys creates, names and revokes technicians' API keys.
	ActionManageAPIKeys Action = "manage_api_keys"
	// ActionReadAudit reads the audit log.
	ActionReadAudit Action = "read_audit"
	// ActionEnrollNode issues edge-node enrollment tokens for a site.
	ActionEnrollNode Action = "enroll_node"
)

// orgWide lists, for each action, the roles allowed to do it anywhere in
// their organization. Facility managers appear in no row: what they may do
// is decided per site by managerActions.
var orgWide = map[Action][]cloud.Role{
	ActionRead:          {cloud.RoleOwner, cloud.RoleAdmin, cloud.RoleViewer, cloud.RoleTechnician},
	ActionWriteCatalog:  {cloud.RoleOwner, cloud.RoleAdmin},
	ActionWriteSite:     {cloud.RoleOwner, cloud.RoleAdmin},
	ActionManageUsers:   {cloud.RoleOwner, cloud.RoleAdmin},
	ActionManageOwners:  {cloud.RoleOwner},
	ActionManageAPIKeys: {cloud.RoleOwner, cloud.RoleAdmin},
	ActionReadAudit:     {cloud.RoleOwner, cloud.RoleAdmin},
	ActionEnrollNode:    {cloud.RoleOwner, cloud.RoleAdmin, cloud.RoleTechnician},
}

// managerActions lists what a facility manager may do at one of their own
// sites (site) and on organization-wide data (org): read both, so they can
// see the catalog they build menus from, but write only their sites' data,
// not the catalog, and not create sites.
var managerActions = map[Action]struct{ site, org bool }{
	ActionRead:      {site: true, org: true},
	ActionWriteSite: {site: true},
}

// Principal is an authenticated caller: a user or an API key, in one
// organization, with one role. It comes from verified Claims (or from an API
// key the store looked up), never from anything the request body says.
type Principal struct {
	Kind    TokenKind
	ID      string
	OrgID   string
	Role    cloud.Role
	SiteIDs []string // the sites a facility manager manages
}

// Can returns nil if p may do action at siteID ("" for organization-wide
// data), and otherwise an error to return to the client as is:
//
//   - ENOTFOUND when siteID is a site p cannot see at all: a facility
//     manager asking about a site not theirs. The site does not exist for
//     them, exactly as another organization's site does not (the isolation
//     tests want 404 there too), so probing site ids reveals nothing.
//   - EFORBIDDEN when p can see what it names but may not do this to it: a
//     viewer writing, an admin managing owners. Saying so helps a
//     legitimate user and leaks nothing they could not already read.
//
// Can checks roles only. That siteID belongs to p.OrgID is the store's job:
// it reads and writes with p.OrgID as the tenant, so another organization's
// site id is not found there. An invalid or incomplete principal may do
// nothing.
func (p Principal) Can(action Action, siteID string) error {
	allowed, known := orgWide[action]
	switch {
	case !known:
		return pantry.Errorf(pantry.EFORBIDDEN, "unknown action")
	case !p.valid():
		return pantry.Errorf(pantry.EFORBIDDEN, "not allowed")
	case !p.CanSeeSite(siteID):
		return pantry.Errorf(pantry.ENOTFOUND, "site %s not found", siteID)
	case slices.Contains(allowed, p.Role):
		return nil
	case p.Role == cloud.RoleFacilityManager && managerMay(action, siteID):
		return nil
	}
	return pantry.Errorf(pantry.EFORBIDDEN, "role %s may not %s", p.Role, describe(action))
}

// CanSeeSite reports whether p may see that siteID exists: every role sees
// every site of its organization except a facility manager, who sees only
// their own. "" (organization-wide data) is visible to all.
func (p Principal) CanSeeSite(siteID string) bool {
	if siteID == "" || p.Role != cloud.RoleFacilityManager {
		return true
	}
	return slices.Contains(p.SiteIDs, siteID)
}

// Sites returns the sites whose data p may list: all == true means every
// site of the organization; otherwise only ids. List endpoints filter with
// it so a facility manager's order list never includes another site's rows.
func (p Principal) Sites() (ids []string, all bool) {
	if p.Role == cloud.RoleFacilityManager {
		return slices.Clone(p.SiteIDs), false
	}
	return nil, true
}

// Scope is what a list p asks for may cover: the sites filter to give the
// store (nil: every site of the organization; otherwise only these, and
// an empty one none) and site, the one site asked for ("" for all),
// which must be one p can see (else ENOTFOUND, as for another
// organization's site).
func (p Principal) Scope(site string) (scope []string, err error) {
	if site != "" && (!pantry.ValidID(site) || !p.CanSeeSite(site)) {
		return nil, pantry.Errorf(pantry.ENOTFOUND, "site %s not found", site)
	}
	ids, all := p.Sites()
	if all {
		return nil, nil
	}
	if ids == nil {
		ids = []string{}
	}
	return ids, nil
}

// CanManageUser returns nil if p may create, change or delete a user whose
// role is, or becomes, any of roles: ActionManageOwners if an owner is
// involved, ActionManageUsers otherwise. Pass the new role when creating,
// the current and new roles when changing, the current role when deleting.
// Keeping the last owner is the store's check: it needs a count.
func (p Principal) CanManageUser(roles ...cloud.Role) error {
	for _, r := range roles {
		if r == cloud.RoleTechnician || !r.Valid() {
			return pantry.Errorf(pantry.EINVALID, "unknown user role %q", r)
		}
	}
	if slices.Contains(roles, cloud.RoleOwner) {
		return p.Can(ActionManageOwners, "")
	}
	return p.Can(ActionManageUsers, "")
}

// managerMay reports whether a facility manager may do action at siteID,
// one of their own sites ("" for organization-wide data).
func managerMay(action Action, siteID string) bool {
	m := managerActions[action]
	return siteID != "" && m.site || siteID == "" && m.org
}

func (p Principal) valid() bool {
	return p.ID != "" && p.OrgID != "" && validKindRole(p.Kind, p.Role)
}

var actionText = map[Action]string{
	ActionRead:          "read this",
	ActionWriteCatalog:  "change the catalog",
	ActionWriteSite:     "change this site",
	ActionManageUsers:   "manage users",
	ActionManageOwners:  "manage owners",
	ActionManageAPIKeys: "manage API keys",
	ActionReadAudit:     "read the audit log",
	ActionEnrollNode:    "enroll edge nodes",
}

func describe(a Action) string { return actionText[a] }
