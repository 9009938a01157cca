package web

import (
	"context"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/httpx"
)

// Administration: people and their roles, technicians' API keys, the
// audit log, dead letters and single sign-on, each on its own page
// (admin_*.go) and each asking auth.Principal the same question the API
// handler of the same action asks. The index shows only what the
// person's role may use.

func (a *app) adminRoutes(page pageFunc) {
	page(fiber.MethodGet, "/admin", a.handleAdmin)

	page(fiber.MethodGet, "/admin/users", a.handleAdminUsers)
	page(fiber.MethodGet, "/admin/users/new", a.handleAdminNewUser)
	page(fiber.MethodPost, "/admin/users", a.handleAdminCreateUser)
	page(fiber.MethodGet, "/admin/users/:user_id", a.handleAdminUser)
	page(fiber.MethodPost, "/admin/users/:user_id", a.handleAdminUpdateUser)
	page(fiber.MethodPost, "/admin/users/:user_id/disable", a.handleAdminSetDisabled(true))
	page(fiber.MethodPost, "/admin/users/:user_id/enable", a.handleAdminSetDisabled(false))

	page(fiber.MethodGet, "/admin/api-keys", a.handleAdminKeys)
	page(fiber.MethodPost, "/admin/api-keys", a.handleAdminCreateKey)
	page(fiber.MethodGet, "/admin/api-keys/:key_id/revoke", a.handleAdminRevokeKeyPage)
	page(fiber.MethodPost, "/admin/api-keys/:key_id/revoke", a.handleAdminRevokeKey)

	page(fiber.MethodGet, "/admin/audit", a.handleAdminAudit)

	page(fiber.MethodGet, "/admin/dead-letters", a.handleAdminDeadLetters)
	page(fiber.MethodGet, "/admin/dead-letters/:dead_letter_id", a.handleAdminDeadLetter)
	page(fiber.MethodPost, "/admin/dead-letters/:dead_letter_id/reapply", a.handleAdminReapply)

	page(fiber.MethodGet, "/admin/sso", a.handleAdminSSO)
	page(fiber.MethodPost, "/admin/sso", a.handleAdminSaveSSO)
}

// adminSection is one entry of the administration index.
type adminSection struct {
	Path, Title, Text string
}

type adminPage struct {
	*view
	Sections []adminSection
}

// adminSections are the index's entries, each with the action the API
// asks for it: a person sees only the ones their role may use.
var adminSections = []struct {
	action auth.Action
	adminSection
}{
	{auth.ActionManageUsers, adminSection{"/admin/users", "Users and roles", "Invite people, choose their role and sites, disable an account."}},
	{auth.ActionManageAPIKeys, adminSection{"/admin/api-keys", "API keys", "Keys for technicians' scripts and the edge installer: create, see when used, revoke."}},
	{auth.ActionReadAudit, adminSection{"/admin/audit", "Audit log", "Every change, who made it and when, with what it was before and after."}},
	{auth.ActionRead, adminSection{"/admin/dead-letters", "Dead letters", "Events from the buildings that the cloud could not apply, and why; apply them again once fixed."}},
	{auth.ActionManageOwners, adminSection{"/admin/sso", "Single sign-on", "Let people sign in with your company account (OpenID Connect)."}},
}

func (a *app) handleAdmin(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Title, v.Nav = "Administration", "admin"
	p := v.principal()
	page := adminPage{view: v}
	for _, s := range adminSections {
		if p.Can(s.action, "") == nil {
			page.Sections = append(page.Sections, s.adminSection)
		}
	}
	return render(c, fiber.StatusOK, "admin.html", page)
}

// adminActor is the signed-in person as the audit log records them.
func adminActor(p auth.Principal) cloud.Actor {
	return cloud.Actor{Type: "user", ID: p.ID}
}

// adminRefused answers a refused form: the form again, with the status
// err's code calls for, or the error page for an error that is ours.
func (a *app) adminRefused(c *fiber.Ctx, v *view, err error, name string, data any) error {
	status, _ := httpx.Resolve(err)
	if status >= 500 {
		return a.errorPage(c, v, err)
	}
	return render(c, status, name, data)
}

// adminSentence starts msg with a capital, as a sentence on a page does: the
// services' messages start in lower case, to read well after context.
func adminSentence(msg string) string {
	r, n := utf8.DecodeRuneInString(msg)
	if n == 0 {
		return msg
	}
	return string(unicode.ToUpper(r)) + msg[n:]
}

// adminRefuseAt files err's message under field, whatever it names.
func adminRefuseAt(f form, field string, err error) form {
	f = f.refuse(err)
	if msg, ok := f.Errors[""]; ok && field != "" {
		delete(f.Errors, "")
		f.Errors[field] = msg
	}
	return f
}

// adminMaxSitePages bounds how many pages of sites a form reads: 50,000
// sites, far beyond any organization, and a loop that always ends.
const adminMaxSitePages = 100

// adminSites reads every site of the organization, for the forms that
// choose among them and the pages that name them.
func (a *app) adminSites(ctx context.Context, orgID string) ([]cloud.Site, error) {
	var all []cloud.Site
	pg := cloud.Page{Limit: cloud.MaxPageSize}
	for range adminMaxSitePages {
		sites, next, err := a.Sites.ListSites(ctx, orgID, nil, pg)
		if err != nil {
			return nil, err
		}
		all = append(all, sites...)
		if next == "" {
			break
		}
		pg.Cursor = next
	}
	return all, nil
}

// adminSiteNames maps sites' ids to their names.
func adminSiteNames(sites []cloud.Site) map[string]string {
	names := make(map[string]string, len(sites))
	for _, s := range sites {
		names[s.ID] = s.Name
	}
	return names
}
