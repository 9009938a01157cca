package api

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/httpx"
	"github.com/pantry/pantry/internal/pantry"
)

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

// handleLogin exchanges an email and password for an access token and a
// refresh token. Failures are counted per account and per client address
// in the database (every instance sees them) and refused with 429 past the
// limit, before the password is even checked.
func (a *app) handleLogin(c *fiber.Ctx) error {
	var req struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := httpx.DecodeJSON(c.Body(), &req); err != nil {
		return err
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	now := a.Now()
	user, outcome, throttle, err := a.login.Check(ctx, req.Email, req.Password, c.IP(), now)
	if outcome != "" {
		a.metrics.logins.WithLabelValues(string(outcome)).Inc()
	}
	if err != nil {
		if !throttle.Allowed {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(throttle.RetryAfter.Seconds())))
		}
		return err
	}
	refresh, hash := auth.NewRefreshToken()
	if err := a.Logins.IssueRefreshToken(ctx, user.OrgID, user.UserID, pantry.NewID(), hash, now.Add(auth.RefreshTokenTTL)); err != nil {
		return err
	}
	return a.respondTokens(c, user.OrgID, user.UserID, refresh)
}

func (a *app) respondTokens(c *fiber.Ctx, orgID, userID, refresh string) error {
	ctx, cancel := a.ctx(c)
	defer cancel()
	access, err := a.Logins.UserAccess(ctx, orgID, userID)
	if err != nil {
		return err
	}
	claims := auth.Claims{ID: pantry.NewID(), Subject: userID, OrgID: orgID, Kind: auth.KindUser, Role: access.Role, SiteIDs: access.SiteIDs}
	token, err := a.Keys.Load().Sign(claims, a.Now())
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(tokenResponse{AccessToken: token, RefreshToken: refresh, TokenType: "Bearer", ExpiresIn: int(auth.AccessTokenTTL.Seconds())})
}

// handleRefresh rotates a refresh token: the old one is spent, a new one
// and a fresh access token come back. Presenting a spent token revokes the
// whole login (someone copied it).
func (a *app) handleRefresh(c *fiber.Ctx) error {
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := httpx.DecodeJSON(c.Body(), &req); err != nil {
		return err
	}
	if req.RefreshToken == "" || len(req.RefreshToken) > 256 {
		return cloud.ErrRefreshInvalid
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	refresh, hash := auth.NewRefreshToken()
	now := a.Now()
	orgID, userID, err := a.Logins.RotateRefreshToken(ctx, auth.HashSecret(req.RefreshToken), hash, now, now.Add(auth.RefreshTokenTTL),
		func(st cloud.RefreshState) cloud.RefreshDecision { return auth.DecideRefresh(st, now) })
	if err != nil {
		return err
	}
	return a.respondTokens(c, orgID, userID, refresh)
}

// handleLogout revokes the login a refresh token belongs to. It answers
// 204 for unknown tokens too: logging out twice is not an error.
func (a *app) handleLogout(c *fiber.Ctx) error {
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := httpx.DecodeJSON(c.Body(), &req); err != nil {
		return err
	}
	if req.RefreshToken == "" || len(req.RefreshToken) > 256 {
		return pantry.Errorf(pantry.EINVALID, "refresh_token is required")
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	if err := a.Logins.RevokeRefreshFamily(ctx, auth.HashSecret(req.RefreshToken), a.Now()); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// handleMe says who the credential is.
func (a *app) handleMe(c *fiber.Ctx) error {
	p := principal(c)
	sites := p.SiteIDs
	if sites == nil {
		sites = []string{}
	}
	return c.JSON(fiber.Map{"id": p.ID, "kind": p.Kind, "organization_id": p.OrgID, "role": p.Role, "site_ids": sites})
}
