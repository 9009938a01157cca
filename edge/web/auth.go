package web

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/pantry"
)

// sessionCookie carries the attendee's session token for the pages; native
// apps send the same token as a bearer token.
const sessionCookie = "pantry_session"

func bearer(c *fiber.Ctx) string {
	h := c.Get(fiber.HeaderAuthorization)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// requireSession admits attendee calls with a live session, from the
// Authorization header or the page's cookie.
func (a *app) requireSession(c *fiber.Ctx) error {
	token := bearer(c)
	if token == "" {
		token = c.Cookies(sessionCookie)
	}
	sess, err := a.Store.SessionByToken(a.ctx(c), token)
	if err != nil {
		return err
	}
	c.Locals("session", sess)
	return c.Next()
}

func session(c *fiber.Ctx) pantry.Session { return c.Locals("session").(pantry.Session) }

// requireStaff admits tablet calls with a live staff token.
func (a *app) requireStaff(c *fiber.Ctx) error {
	t, err := a.Store.StaffByToken(a.ctx(c), bearer(c))
	if err != nil {
		return err
	}
	c.Locals("tablet", t)
	return c.Next()
}

func tablet(c *fiber.Ctx) sqlite.Tablet { return c.Locals("tablet").(sqlite.Tablet) }
