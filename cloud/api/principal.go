package api

import (
	"context"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/pantry"
)

func bearer(c *fiber.Ctx) string {
	h := c.Get(fiber.HeaderAuthorization)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// authenticate admits a request with a user's access token or a
// technician's API key and stores its principal. Access tokens are
// verified without the database (they live 15 minutes); API keys are
// looked up on every request, so revoking one takes effect at once.
func (a *app) authenticate(c *fiber.Ctx) error {
	token := bearer(c)
	if token == "" {
		return pantry.Errorf(pantry.EUNAUTHORIZED, "an access token or API key is required")
	}
	var p auth.Principal
	if strings.HasPrefix(token, auth.APIKeyPrefix) {
		var err error
		if p, err = a.apiKeyPrincipal(c, token); err != nil {
			return err
		}
	} else {
		claims, err := a.Keys.Load().Verify(token, a.Now())
		if err != nil {
			return err
		}
		p = claims.Principal()
	}
	c.Locals("principal", p)
	return c.Next()
}

func (a *app) apiKeyPrincipal(c *fiber.Ctx, key string) (auth.Principal, error) {
	refused := pantry.Errorf(pantry.EUNAUTHORIZED, "invalid API key")
	_, hash, err := auth.ParseAPIKey(key)
	if err != nil {
		return auth.Principal{}, refused
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	k, err := a.Logins.LookupAPIKey(ctx, hash)
	if err != nil || k.RevokedAt != nil {
		return auth.Principal{}, refused
	}
	if err := a.Logins.TouchAPIKey(ctx, k.OrgID, k.ID, a.Now()); err != nil {
		a.Log.Warn("record API key use", "key_id", k.ID, "err", err)
	}
	return auth.Principal{Kind: auth.KindAPIKey, ID: k.ID, OrgID: k.OrgID, Role: cloud.RoleTechnician}, nil
}

func principal(c *fiber.Ctx) auth.Principal { return c.Locals("principal").(auth.Principal) }

// actor is the principal as the audit log records it.
func actor(p auth.Principal) cloud.Actor {
	if p.Kind == auth.KindAPIKey {
		return cloud.Actor{Type: "api_key", ID: p.ID}
	}
	return cloud.Actor{Type: "user", ID: p.ID}
}

// can checks that the request's principal may do action (at siteID, if
// the action is about a site).
func can(c *fiber.Ctx, action auth.Action, siteID string) (auth.Principal, error) {
	p := principal(c)
	return p, p.Can(action, siteID)
}

// page reads ?limit= and ?cursor=.
func page(c *fiber.Ctx) (cloud.Page, error) {
	p := cloud.Page{Cursor: c.Query("cursor")}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > cloud.MaxPageSize {
			return p, pantry.Errorf(pantry.EINVALID, "limit must be between 1 and %d", cloud.MaxPageSize)
		}
		p.Limit = n
	}
	return p, nil
}

// list answers every list the same way: {"<name>":[…],"next_cursor":…}.
func list[T any](c *fiber.Ctx, name string, items []T, next string) error {
	if items == nil {
		items = []T{}
	}
	var cursor any
	if next != "" {
		cursor = next
	}
	return c.JSON(fiber.Map{name: items, "next_cursor": cursor})
}

// listPage answers a paged list the same way everywhere: the principal
// must be allowed action (at site, if the list is a site's), ?limit= and
// ?cursor= pick the page, and fetch reads it in the principal's
// organization.
func listPage[T any](a *app, c *fiber.Ctx, name string, action auth.Action, site string,
	fetch func(ctx context.Context, p auth.Principal, pg cloud.Page) ([]T, string, error)) error {
	p, err := can(c, action, site)
	if err != nil {
		return err
	}
	pg, err := page(c)
	if err != nil {
		return err
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	items, next, err := fetch(ctx, p, pg)
	if err != nil {
		return err
	}
	return list(c, name, items, next)
}
