package api

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/httpx"
	"github.com/pantry/pantry/internal/pantry"
)

func (a *app) handleListUsers(c *fiber.Ctx) error {
	return listPage(a, c, "users", auth.ActionManageUsers, "", func(ctx context.Context, p auth.Principal, pg cloud.Page) ([]cloud.User, string, error) {
		return a.Users.ListUsers(ctx, p.OrgID, pg)
	})
}

func (a *app) handleGetUser(c *fiber.Ctx) error {
	p := principal(c)
	id := c.Params("user_id")
	if id != p.ID { // everyone may read themselves
		if err := p.Can(auth.ActionManageUsers, ""); err != nil {
			return err
		}
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	u, err := a.Users.GetUser(ctx, p.OrgID, id)
	if err != nil {
		return err
	}
	return c.JSON(u)
}

func (a *app) handleCreateUser(c *fiber.Ctx) error {
	var req struct {
		Email    string   `json:"email"`
		Name     string   `json:"name"`
		Role     string   `json:"role"`
		SiteIDs  []string `json:"site_ids"`
		Password string   `json:"password"`
	}
	if err := httpx.DecodeJSON(c.Body(), &req); err != nil {
		return err
	}
	role, err := cloud.ParseUserRole(req.Role)
	if err != nil {
		return err
	}
	p := principal(c)
	if err := p.CanManageUser(role); err != nil {
		return err
	}
	if err := auth.ValidatePassword(req.Password); err != nil {
		return err
	}
	hashCtx, cancel := a.ctx(c)
	defer cancel()
	hash, err := a.login.Hash(hashCtx, req.Password)
	if err != nil {
		return err
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	u, err := a.Users.CreateUser(ctx, p.OrgID, actor(p), cloud.UserInput{
		Email: req.Email, Name: req.Name, Role: role, SiteIDs: req.SiteIDs, PasswordHash: hash,
	})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(u)
}

func (a *app) handleUpdateUser(c *fiber.Ctx) error {
	var req struct {
		Name     *string   `json:"name"`
		Role     *string   `json:"role"`
		SiteIDs  *[]string `json:"site_ids"`
		Disabled *bool     `json:"disabled"`
	}
	if err := httpx.DecodeJSON(c.Body(), &req); err != nil {
		return err
	}
	p := principal(c)
	ctx, cancel := a.ctx(c)
	defer cancel()
	target, err := a.Users.GetUser(ctx, p.OrgID, c.Params("user_id"))
	if err != nil {
		return err
	}
	up := cloud.UserUpdate{Name: req.Name, SiteIDs: req.SiteIDs, Disabled: req.Disabled}
	roles := []cloud.Role{target.Role}
	if req.Role != nil {
		r, err := cloud.ParseUserRole(*req.Role)
		if err != nil {
			return err
		}
		up.Role, roles = &r, append(roles, r)
	}
	if err := p.CanManageUser(roles...); err != nil {
		return err
	}
	if target.ID == p.ID && (req.Disabled != nil && *req.Disabled || req.Role != nil) {
		return pantry.Errorf(pantry.EFORBIDDEN, "you cannot change your own role or disable yourself")
	}
	u, err := a.Users.UpdateUser(ctx, p.OrgID, actor(p), target.ID, up)
	if err != nil {
		return err
	}
	return c.JSON(u)
}

func (a *app) handleListAPIKeys(c *fiber.Ctx) error {
	return listPage(a, c, "api_keys", auth.ActionManageAPIKeys, "", func(ctx context.Context, p auth.Principal, pg cloud.Page) ([]cloud.APIKey, string, error) {
		return a.Users.ListAPIKeys(ctx, p.OrgID, pg)
	})
}

// handleCreateAPIKey makes a technician's key and shows it this once.
func (a *app) handleCreateAPIKey(c *fiber.Ctx) error {
	var req struct {
		Name string `json:"name"`
	}
	if err := httpx.DecodeJSON(c.Body(), &req); err != nil {
		return err
	}
	p, err := can(c, auth.ActionManageAPIKeys, "")
	if err != nil {
		return err
	}
	key, prefix, hash := auth.NewAPIKey()
	ctx, cancel := a.ctx(c)
	defer cancel()
	k, err := a.Users.CreateAPIKey(ctx, p.OrgID, actor(p), req.Name, prefix, hash)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(struct {
		cloud.APIKey
		Key string `json:"key"`
	}{k, key})
}

func (a *app) handleRevokeAPIKey(c *fiber.Ctx) error {
	p, err := can(c, auth.ActionManageAPIKeys, "")
	if err != nil {
		return err
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	k, err := a.Users.RevokeAPIKey(ctx, p.OrgID, actor(p), c.Params("key_id"))
	if err != nil {
		return err
	}
	return c.JSON(k)
}
