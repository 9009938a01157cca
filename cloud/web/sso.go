package web

import "github.com/gofiber/fiber/v2"

// ssoRoutes lists this area's pages (being built).
func (a *app) ssoRoutes(f *fiber.App) {}
