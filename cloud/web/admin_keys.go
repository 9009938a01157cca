package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
)

// Technicians' API keys, as the API's /api-keys routes manage them
// (auth.ActionManageAPIKeys): a key is shown once, right after it is
// made (admin_once.go); revoking one asks first, on a page of its own.

const adminKeysPath = "/admin/api-keys"

type adminKeysPage struct {
	*view
	Keys []cloud.APIKey
	Next string
	Form form
	Once *onceSecret
	Now  timeNow
}

func (a *app) handleAdminKeys(c *fiber.Ctx) error {
	v := viewOf(c)
	if err := v.principal().Can(auth.ActionManageAPIKeys, ""); err != nil {
		return a.errorPage(c, v, err)
	}
	page, err := a.keysPage(c, v, form{Values: map[string]string{}, Errors: map[string]string{}})
	if err != nil {
		return a.errorPage(c, v, err)
	}
	page.Once = takeOnce(c, adminKeysPath)
	return render(c, fiber.StatusOK, "admin_keys.html", page)
}

// keysPage lists the organization's keys beside the form f.
func (a *app) keysPage(c *fiber.Ctx, v *view, f form) (adminKeysPage, error) {
	v.Title, v.Nav = "API keys", "admin"
	ctx, cancel := a.ctx(c)
	defer cancel()
	keys, next, err := a.Users.ListAPIKeys(ctx, v.Session.OrgID, cloud.Page{Limit: cloud.DefaultPageSize, Cursor: c.Query("cursor")})
	return adminKeysPage{view: v, Keys: keys, Next: next, Form: f, Now: timeNow{a.Now()}}, err
}

// handleAdminCreateKey makes a key as the API's POST /api-keys does and
// hands it to the list page, which shows it once.
func (a *app) handleAdminCreateKey(c *fiber.Ctx) error {
	v := viewOf(c)
	p := v.principal()
	if err := p.Can(auth.ActionManageAPIKeys, ""); err != nil {
		return a.errorPage(c, v, err)
	}
	f := newForm(c, "name")
	key, prefix, hash := auth.NewAPIKey()
	ctx, cancel := a.ctx(c)
	defer cancel()
	k, err := a.Users.CreateAPIKey(ctx, p.OrgID, adminActor(p), f.Value("name"), prefix, hash)
	if err != nil {
		page, lerr := a.keysPage(c, v, adminRefuseAt(f, "name", err))
		if lerr != nil {
			return a.errorPage(c, v, lerr)
		}
		return a.adminRefused(c, v, err, "admin_keys.html", page)
	}
	showOnce(c, adminKeysPath, k.Name, key)
	return a.done(c, adminKeysPath, "API key “"+k.Name+"” created.")
}

type adminRevokeKeyPage struct {
	*view
	Key cloud.APIKey
	Now timeNow
}

// revokeTarget loads the key of the path for someone who manages keys.
func (a *app) revokeTarget(c *fiber.Ctx, v *view) (cloud.APIKey, error) {
	p := v.principal()
	if err := p.Can(auth.ActionManageAPIKeys, ""); err != nil {
		return cloud.APIKey{}, err
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	return a.Users.GetAPIKey(ctx, p.OrgID, c.Params("key_id"))
}

// handleAdminRevokeKeyPage asks before revoking: scripts using the key
// stop working at once, and a revoked key cannot be brought back.
func (a *app) handleAdminRevokeKeyPage(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Title, v.Nav = "Revoke an API key", "admin"
	k, err := a.revokeTarget(c, v)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	return render(c, fiber.StatusOK, "admin_key_revoke.html", adminRevokeKeyPage{view: v, Key: k, Now: timeNow{a.Now()}})
}

func (a *app) handleAdminRevokeKey(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Title, v.Nav = "Revoke an API key", "admin"
	p := v.principal()
	if err := p.Can(auth.ActionManageAPIKeys, ""); err != nil {
		return a.errorPage(c, v, err)
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	k, err := a.Users.RevokeAPIKey(ctx, p.OrgID, adminActor(p), c.Params("key_id"))
	if err != nil {
		return a.errorPage(c, v, err)
	}
	return a.done(c, adminKeysPath, "API key “"+k.Name+"” revoked: it no longer works.")
}
