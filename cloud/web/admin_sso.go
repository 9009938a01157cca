package web

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/pantry"
)

// Single sign-on settings: the organization's OpenID Connect provider
// (cloud.SSOConfig), validated by the store's rules
// (cloud.SSOConfigInput.Normalize). Only an owner may read or change
// them (auth.ActionManageOwners): whoever chooses the identity provider
// chooses who signs in as any user whose email it vouches for, owners
// included, so an admin who could set it could make themselves an owner.
// The client secret is write-only: the form says whether one is stored,
// and an empty field keeps it.

const ssoCallbackPath = "/login/sso/callback"

type adminSSOPage struct {
	*view
	Form   form
	Config cloud.SSOConfig
	Exists bool
	Roles  []adminRole
	// Org is what people type on the sign-in page: the slug.
	Org         string
	CallbackURL string
	SignInURL   string
}

// ssoRoleChoices are the roles single sign-on may grant, for the default
// role's choices.
func ssoRoleChoices() []adminRole {
	var out []adminRole
	for _, r := range adminRoles {
		if cloud.SSORoleRank(r.Value) >= 0 {
			out = append(out, r)
		}
	}
	return out
}

// ssoPage fills the page around f for the organization's configuration
// (if any).
func (a *app) ssoPage(c *fiber.Ctx, v *view, f *form) (adminSSOPage, error) {
	v.Title, v.Nav = "Single sign-on", "admin"
	p := v.principal()
	if err := p.Can(auth.ActionManageOwners, ""); err != nil {
		return adminSSOPage{}, err
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	cfg, err := a.SSO.GetSSOConfig(ctx, p.OrgID)
	if err != nil && pantry.ErrorCode(err) != pantry.ENOTFOUND {
		return adminSSOPage{}, err
	}
	exists := err == nil
	// The sign-in link names the organization by its slug, which people
	// can read and type (every organization has one: 0016).
	org, err := a.SSO.OrganizationSlug(ctx, p.OrgID)
	if err != nil {
		return adminSSOPage{}, err
	}
	page := adminSSOPage{view: v, Config: cfg, Exists: exists, Roles: ssoRoleChoices(), Org: org,
		CallbackURL: c.BaseURL() + ssoCallbackPath, SignInURL: c.BaseURL() + "/login/sso?org=" + url.QueryEscape(org)}
	if f == nil {
		page.Form = ssoValues(cfg)
	} else {
		page.Form = *f
	}
	return page, nil
}

// ssoValues is a configuration as the form shows it.
func ssoValues(cfg cloud.SSOConfig) form {
	var mapping []string
	for _, value := range slices.Sorted(maps.Keys(cfg.RoleMap)) {
		mapping = append(mapping, value+" = "+string(cfg.RoleMap[value]))
	}
	enabled := ""
	if cfg.Enabled {
		enabled = "on"
	}
	return form{Values: map[string]string{
		"issuer": cfg.Issuer, "client_id": cfg.ClientID, "client_secret": "",
		"allowed_domains": strings.Join(cfg.AllowedDomains, "\n"), "role_claim": cfg.RoleClaim,
		"role_mapping": strings.Join(mapping, "\n"), "default_role": string(cfg.DefaultRole), "enabled": enabled,
	}, Errors: map[string]string{}}
}

func (a *app) handleAdminSSO(c *fiber.Ctx) error {
	v := viewOf(c)
	page, err := a.ssoPage(c, v, nil)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	return render(c, fiber.StatusOK, "admin_sso.html", page)
}

func (a *app) handleAdminSaveSSO(c *fiber.Ctx) error {
	v := viewOf(c)
	f := newForm(c, "issuer", "client_id", "client_secret", "allowed_domains", "role_claim", "role_mapping", "default_role", "enabled")
	secret := c.FormValue("client_secret")
	f.Values["client_secret"] = "" // write-only: never shown, not even back
	page, err := a.ssoPage(c, v, &f)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	in, err := ssoInput(f, secret)
	if err == nil {
		p := v.principal()
		ctx, cancel := a.ctx(c)
		defer cancel()
		var cfg cloud.SSOConfig
		if cfg, err = a.SSO.PutSSOConfig(ctx, p.OrgID, adminActor(p), in); err == nil {
			msg := "Single sign-on settings saved: single sign-on is off."
			if cfg.Enabled {
				msg = "Single sign-on settings saved: people of " + strings.Join(cfg.AllowedDomains, ", ") + " can sign in with their company account."
			}
			return a.done(c, "/admin/sso", msg)
		}
	}
	page.Form = page.Form.refuse(err)
	if msg := page.Form.Errors[""]; strings.Contains(msg, "role mapping") {
		page.Form = adminRefuseAt(page.Form, "role_mapping", err)
	}
	return a.adminRefused(c, v, err, "admin_sso.html", page)
}

// ssoInput reads the form into the store's input: domains separated by
// commas, spaces or lines; the role mapping one "claim value = role" a
// line (a value may hold "=", a role never does); an empty secret keeps
// the stored one.
func ssoInput(f form, secret string) (cloud.SSOConfigInput, error) {
	in := cloud.SSOConfigInput{Issuer: f.Value("issuer"), ClientID: f.Value("client_id"), RoleClaim: f.Value("role_claim"),
		DefaultRole: cloud.Role(f.Value("default_role")), Enabled: f.Value("enabled") == "on",
		AllowedDomains: strings.FieldsFunc(f.Value("allowed_domains"), func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }),
		RoleMap:        map[string]cloud.Role{}}
	if secret != "" {
		in.ClientSecret = &secret
	}
	for i, line := range strings.Split(f.Value("role_mapping"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		cut := strings.LastIndex(line, "=")
		if cut < 0 {
			return in, pantry.Errorf(pantry.EINVALID, "role mapping: line %d (%q) needs the form “claim value = role”, e.g. pantry-admins = admin", i+1, line)
		}
		value, role := strings.TrimSpace(line[:cut]), cloud.Role(strings.TrimSpace(line[cut+1:]))
		if _, dup := in.RoleMap[value]; dup {
			return in, pantry.Errorf(pantry.EINVALID, "role mapping: %q is mapped twice", value)
		}
		in.RoleMap[value] = role
	}
	return in, nil
}

// ssoStatus says in words whether single sign-on is on.
func (p adminSSOPage) Status() string {
	switch {
	case !p.Exists:
		return "Not set up: people sign in with their email and password."
	case p.Config.Enabled:
		return fmt.Sprintf("On: people of %s can sign in with their company account.", strings.Join(p.Config.AllowedDomains, ", "))
	}
	return "Set up but off: people sign in with their email and password."
}
