package web

import (
	"context"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/pantry"
)

// Users and roles, with the API's rules exactly (cloud/api users.go):
// managing users needs auth.ActionManageUsers, and any change that
// involves an owner (making one, changing one) auth.ActionManageOwners,
// through auth.Principal.CanManageUser; nobody changes their own role or
// disables themselves; the store refuses to leave the organization
// without an enabled owner.

// ssoOnlyPassword is the password hash of a user who signs in only with
// single sign-on: it is not a PHC string, so no password matches it (as
// for the users single sign-on creates, cloud/postgres sso.go).
const ssoOnlyPassword = "!sso"

// adminGeneratedPasswordBytes is the randomness of a password the
// dashboard makes when the admin leaves the field empty: 16 bytes, 22
// characters.
const adminGeneratedPasswordBytes = 16

// adminRole is a role as the user form offers it.
type adminRole struct {
	Value cloud.Role
	Title string
	Text  string
}

var adminRoles = []adminRole{
	{cloud.RoleOwner, "Owner", "Everything, including other owners and single sign-on."},
	{cloud.RoleAdmin, "Admin", "Everything but owners and single sign-on."},
	{cloud.RoleFacilityManager, "Facility manager", "Reads the catalog; runs only the sites chosen below."},
	{cloud.RoleViewer, "Viewer", "Sees everything, changes nothing."},
}

// adminRoleTitle is a role's name in words.
func adminRoleTitle(r cloud.Role) string {
	for _, ar := range adminRoles {
		if ar.Value == r {
			return ar.Title
		}
	}
	return title(string(r))
}

type adminUsersPage struct {
	*view
	Users     []cloud.User
	SiteNames map[string]string
	Next      string
	Once      *onceSecret
}

// RoleTitle is a role's name in words.
func (adminUsersPage) RoleTitle(r cloud.Role) string { return adminRoleTitle(r) }

func (a *app) handleAdminUsers(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Title, v.Nav = "Users and roles", "admin"
	p := v.principal()
	if err := p.Can(auth.ActionManageUsers, ""); err != nil {
		return a.errorPage(c, v, err)
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	users, next, err := a.Users.ListUsers(ctx, p.OrgID, cloud.Page{Limit: cloud.DefaultPageSize, Cursor: c.Query("cursor")})
	if err != nil {
		return a.errorPage(c, v, err)
	}
	sites, err := a.adminSites(ctx, p.OrgID)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	return render(c, fiber.StatusOK, "admin_users.html", adminUsersPage{view: v, Users: users,
		SiteNames: adminSiteNames(sites), Next: next, Once: takeOnce(c, "/admin/users")})
}

// adminUserPage is the form that adds a user (User.ID "") or changes one.
type adminUserPage struct {
	*view
	Form  form
	User  cloud.User
	Sites []cloud.Site
	Roles []adminRole
	// SSO says single sign-on is on: a new user needs no password.
	SSO bool
	// CanEdit says the signed-in person may change this user; Self that
	// it is them.
	CanEdit, Self bool
	// StatusError is why disabling or enabling was refused.
	StatusError string
}

// Checked reports whether site id is among the form's sites.
func (p adminUserPage) Checked(id string) bool {
	return slices.Contains(strings.Split(p.Form.Value("site_ids"), ","), id)
}

// RoleTitle is a role's name in words.
func (adminUserPage) RoleTitle(r cloud.Role) string { return adminRoleTitle(r) }

// MinPassword is the shortest password the rules accept, in characters.
func (adminUserPage) MinPassword() int { return auth.MinPasswordChars }

// newUserPage fills what every user form shows: the roles p may give
// and the organization's sites.
func (a *app) newUserPage(ctx context.Context, v *view, f form, u cloud.User) (adminUserPage, error) {
	p := v.principal()
	page := adminUserPage{view: v, Form: f, User: u, Self: u.ID == p.ID}
	page.CanEdit = u.ID == "" || p.CanManageUser(u.Role) == nil
	for _, r := range adminRoles {
		if p.CanManageUser(r.Value) == nil {
			page.Roles = append(page.Roles, r)
		}
	}
	var err error
	if page.Sites, err = a.adminSites(ctx, p.OrgID); err != nil {
		return page, err
	}
	cfg, err := a.SSO.GetSSOConfig(ctx, p.OrgID)
	switch {
	case err == nil:
		page.SSO = cfg.Enabled
	case pantry.ErrorCode(err) != pantry.ENOTFOUND:
		return page, err
	}
	return page, nil
}

// userForm reads the user form: its fields, and the sites ticked as one
// comma-separated value.
func userForm(c *fiber.Ctx, fields ...string) form {
	f := newForm(c, fields...)
	var sites []string
	for _, b := range c.Request().PostArgs().PeekMulti("site_ids") {
		if id := strings.TrimSpace(string(b)); id != "" {
			sites = append(sites, id)
		}
	}
	f.Values["site_ids"] = strings.Join(sites, ",")
	return f
}

// formSites are the sites a user form gives: a facility manager's
// ticked sites, nobody else's. Each must be one of the organization's
// (the store would refuse another's too, without saying which field).
func formSites(f form, sites []cloud.Site) ([]string, error) {
	if cloud.Role(f.Value("role")) != cloud.RoleFacilityManager || f.Value("site_ids") == "" {
		return []string{}, nil
	}
	ids := strings.Split(f.Value("site_ids"), ",")
	for _, id := range ids {
		if !slices.ContainsFunc(sites, func(s cloud.Site) bool { return s.ID == id }) {
			return nil, pantry.Errorf(pantry.EINVALID, "sites: one of the sites chosen is not a site of this organization (reload the page to see its sites)")
		}
	}
	return ids, nil
}

func (a *app) handleAdminNewUser(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Title, v.Nav = "Add a user", "admin"
	if err := v.principal().Can(auth.ActionManageUsers, ""); err != nil {
		return a.errorPage(c, v, err)
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	f := form{Values: map[string]string{"role": string(cloud.RoleViewer)}, Errors: map[string]string{}}
	page, err := a.newUserPage(ctx, v, f, cloud.User{})
	if err != nil {
		return a.errorPage(c, v, err)
	}
	return render(c, fiber.StatusOK, "admin_user.html", page)
}

// handleAdminCreateUser adds a user as the API's POST /users does. The
// password may be left empty: with single sign-on on, the user signs in
// with their company account only; otherwise one is made and shown once.
func (a *app) handleAdminCreateUser(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Title, v.Nav = "Add a user", "admin"
	p := v.principal()
	if err := p.Can(auth.ActionManageUsers, ""); err != nil {
		return a.errorPage(c, v, err)
	}
	f := userForm(c, "email", "name", "role", "password")
	password := c.FormValue("password")
	f.Values["password"] = "" // never shown again, not even to who typed it
	ctx, cancel := a.ctx(c)
	defer cancel()
	page, err := a.newUserPage(ctx, v, f, cloud.User{})
	if err != nil {
		return a.errorPage(c, v, err)
	}
	refused := func(field string, err error) error {
		page.Form = adminRefuseAt(page.Form, field, err)
		return a.adminRefused(c, v, err, "admin_user.html", page)
	}
	role, err := cloud.ParseUserRole(f.Value("role"))
	if err != nil {
		return refused("role", err)
	}
	if err := p.CanManageUser(role); err != nil {
		return refused("role", err)
	}
	sites, err := formSites(f, page.Sites)
	if err != nil {
		return refused("site_ids", err)
	}
	hash, generated, err := a.initialPassword(ctx, password, page.SSO)
	if err != nil {
		return refused("password", err)
	}
	u, err := a.Users.CreateUser(ctx, p.OrgID, adminActor(p), cloud.UserInput{
		Email: f.Value("email"), Name: f.Value("name"), Role: role, SiteIDs: sites, PasswordHash: hash,
	})
	if err != nil {
		page.Form = page.Form.refuse(err)
		if msg := page.Form.Errors[""]; strings.Contains(msg, "email") {
			page.Form = adminRefuseAt(page.Form, "email", err)
		} else if strings.Contains(msg, "site") {
			page.Form = adminRefuseAt(page.Form, "site_ids", err)
		}
		return a.adminRefused(c, v, err, "admin_user.html", page)
	}
	msg := "Added " + u.Email + " as " + strings.ToLower(adminRoleTitle(u.Role)) + "."
	if generated != "" {
		showOnce(c, "/admin/users", u.Email, generated)
	} else if hash == ssoOnlyPassword {
		msg += " They sign in with your company account."
	}
	return a.done(c, "/admin/users", msg)
}

// initialPassword hashes a new user's password as the API does, or, if
// none was typed, makes one (returned, to show once), or, with single
// sign-on on, gives none.
func (a *app) initialPassword(ctx context.Context, password string, ssoOn bool) (hash, generated string, err error) {
	switch {
	case password == "" && ssoOn:
		return ssoOnlyPassword, "", nil
	case password == "":
		generated = pantry.NewSecret(adminGeneratedPasswordBytes)
		password = generated
	}
	if err := auth.ValidatePassword(password); err != nil {
		return "", "", err
	}
	hash, err = a.Login.Hash(ctx, password)
	if err != nil {
		return "", "", err
	}
	return hash, generated, nil
}

// adminTarget loads the user of the path, for someone who may see them:
// themselves, or a person who manages users (the API's GET /users/:id).
func (a *app) adminTarget(ctx context.Context, c *fiber.Ctx, v *view) (cloud.User, error) {
	p := v.principal()
	id := c.Params("user_id")
	if id != p.ID {
		if err := p.Can(auth.ActionManageUsers, ""); err != nil {
			return cloud.User{}, err
		}
	}
	return a.Users.GetUser(ctx, p.OrgID, id)
}

// userValues is u as the edit form shows it.
func userValues(u cloud.User) form {
	return form{Values: map[string]string{"name": u.Name, "role": string(u.Role), "site_ids": strings.Join(u.SiteIDs, ",")},
		Errors: map[string]string{}}
}

func (a *app) handleAdminUser(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Title, v.Nav = "User", "admin"
	ctx, cancel := a.ctx(c)
	defer cancel()
	u, err := a.adminTarget(ctx, c, v)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	v.Title = u.Email
	page, err := a.newUserPage(ctx, v, userValues(u), u)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	return render(c, fiber.StatusOK, "admin_user.html", page)
}

// handleAdminUpdateUser changes a user's name, role and sites as the
// API's PATCH /users/:id does. The role counts as changed only if it
// differs, so a person may rename themselves.
func (a *app) handleAdminUpdateUser(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Title, v.Nav = "User", "admin"
	p := v.principal()
	ctx, cancel := a.ctx(c)
	defer cancel()
	target, err := a.adminTarget(ctx, c, v)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	v.Title = target.Email
	f := userForm(c, "name", "role")
	page, err := a.newUserPage(ctx, v, f, target)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	refused := func(field string, err error) error {
		page.Form = adminRefuseAt(page.Form, field, err)
		return a.adminRefused(c, v, err, "admin_user.html", page)
	}
	name := f.Value("name")
	up := cloud.UserUpdate{Name: &name}
	roles := []cloud.Role{target.Role}
	if f.Value("role") != string(target.Role) {
		r, err := cloud.ParseUserRole(f.Value("role"))
		if err != nil {
			return refused("role", err)
		}
		up.Role, roles = &r, append(roles, r)
	}
	if err := p.CanManageUser(roles...); err != nil {
		if !page.CanEdit {
			return a.errorPage(c, v, err) // this user is not theirs to change at all
		}
		return refused("role", err)
	}
	if target.ID == p.ID && up.Role != nil {
		return refused("role", pantry.Errorf(pantry.EFORBIDDEN, "you cannot change your own role or disable yourself"))
	}
	sites, err := formSites(f, page.Sites)
	if err != nil {
		return refused("site_ids", err)
	}
	up.SiteIDs = &sites
	u, err := a.Users.UpdateUser(ctx, p.OrgID, adminActor(p), target.ID, up)
	if err != nil {
		page.Form = page.Form.refuse(err)
		if pantry.ErrorCode(err) == pantry.ECONFLICT || strings.Contains(page.Form.Errors[""], "role") {
			page.Form = adminRefuseAt(page.Form, "role", err) // the last owner
		} else if strings.Contains(page.Form.Errors[""], "site") {
			page.Form = adminRefuseAt(page.Form, "site_ids", err)
		}
		return a.adminRefused(c, v, err, "admin_user.html", page)
	}
	return a.done(c, "/admin/users/"+u.ID, "Saved "+u.Email+".")
}

// handleAdminSetDisabled disables or enables a user (the API's PATCH
// /users/:id with "disabled"): a disabled user's sessions end at their
// next page, and they cannot sign in.
func (a *app) handleAdminSetDisabled(disabled bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		v := viewOf(c)
		v.Title, v.Nav = "User", "admin"
		p := v.principal()
		ctx, cancel := a.ctx(c)
		defer cancel()
		target, err := a.adminTarget(ctx, c, v)
		if err != nil {
			return a.errorPage(c, v, err)
		}
		v.Title = target.Email
		if err := p.CanManageUser(target.Role); err != nil {
			return a.errorPage(c, v, err)
		}
		page, err := a.newUserPage(ctx, v, userValues(target), target)
		if err != nil {
			return a.errorPage(c, v, err)
		}
		if target.ID == p.ID && disabled {
			err = pantry.Errorf(pantry.EFORBIDDEN, "you cannot change your own role or disable yourself")
		} else {
			var u cloud.User
			if u, err = a.Users.UpdateUser(ctx, p.OrgID, adminActor(p), target.ID, cloud.UserUpdate{Disabled: &disabled}); err == nil {
				msg := "Enabled " + u.Email + ": they can sign in again."
				if disabled {
					msg = "Disabled " + u.Email + ": they are signed out and cannot sign in."
				}
				return a.done(c, "/admin/users/"+u.ID, msg)
			}
		}
		page.StatusError = adminSentence(pantry.ErrorMessage(err))
		return a.adminRefused(c, v, err, "admin_user.html", page)
	}
}
