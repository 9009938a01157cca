package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/internal/httpx"
)

// routes lists every route the cloud serves. The /sync/v1 routes are edge
// nodes' (syncproto), authenticated by a node credential but enrollment.
// Every /api/v1 route but login and refresh needs a principal (a user's access token or a technician's
// API key); the organization always comes from that credential, never
// from a body or query field.
func (a *app) routes(f *fiber.App) {
	f.Use(a.metrics.Observe)
	f.Get("/healthz", a.handleHealthz)
	f.Get("/readyz", a.handleReadyz)
	f.Get("/metrics", httpx.MetricsHandler(a.Registry))

	sync := f.Group("/sync/v1", announceCapability)
	sync.Post("/enroll", a.handleEnroll)
	sync.Post("/push", a.authenticateNode, a.handlePush)
	sync.Post("/pull", a.authenticateNode, a.handlePull)
	sync.Get("/node", a.authenticateNode, a.handleNode)

	v1 := f.Group("/api/v1", limitBody(BodyLimit))
	v1.Get("/openapi.json", a.handleOpenAPI)
	v1.Post("/auth/login", a.handleLogin)
	v1.Post("/auth/refresh", a.handleRefresh)
	v1.Post("/auth/logout", a.handleLogout)

	p := v1.Group("", a.authenticate)
	p.Get("/me", a.handleMe)

	p.Get("/sites", a.handleListSites)
	p.Post("/sites", a.handleCreateSite)
	p.Get("/sites/:site_id", a.handleGetSite)
	p.Patch("/sites/:site_id", a.handleUpdateSite)

	p.Get("/sites/:site_id/spaces", a.handleListSpaces)
	p.Post("/sites/:site_id/spaces", a.handleCreateSpace)
	p.Get("/sites/:site_id/spaces/:space_id", a.handleGetSpace)
	p.Patch("/sites/:site_id/spaces/:space_id", a.handleUpdateSpace)
	p.Post("/sites/:site_id/spaces/:space_id/rotate-code", a.handleRotateSpaceCode)

	p.Get("/items", a.handleListItems)
	p.Post("/items", a.handleCreateItem)
	p.Get("/items/:item_id", a.handleGetItem)
	p.Patch("/items/:item_id", a.handleUpdateItem)

	p.Get("/sites/:site_id/menu", a.handleGetMenu)
	p.Put("/sites/:site_id/menu", a.handlePutMenu)

	p.Get("/sites/:site_id/stock", a.handleStockLevels)
	p.Get("/sites/:site_id/stock/movements", a.handleListStockMovements)
	p.Post("/sites/:site_id/stock/movements", a.handleCreateStockMovement)

	p.Get("/sites/:site_id/tablets", a.handleListTablets)
	p.Post("/sites/:site_id/tablets", a.handleCreateTablet)
	p.Delete("/sites/:site_id/tablets/:tablet_id", a.handleRevokeTablet)

	p.Get("/coupons", a.handleListCoupons)
	p.Post("/coupons", a.handleCreateCoupon)
	p.Get("/coupons/:coupon_id", a.handleGetCoupon)
	p.Patch("/coupons/:coupon_id", a.handleUpdateCoupon)

	p.Get("/cost-centers", a.handleListCostCenters)
	p.Post("/cost-centers", a.handleCreateCostCenter)
	p.Patch("/cost-centers/:cost_center_id", a.handleUpdateCostCenter)

	p.Get("/orders", a.handleListOrders)
	p.Get("/orders/:order_id", a.handleGetOrder)
	p.Get("/payments", a.handleListPayments)
	p.Get("/audit-log", a.handleListAudit)
	p.Get("/reports/consumption", a.handleConsumptionReport)

	p.Get("/users", a.handleListUsers)
	p.Post("/users", a.handleCreateUser)
	p.Get("/users/:user_id", a.handleGetUser)
	p.Patch("/users/:user_id", a.handleUpdateUser)

	p.Post("/sites/:site_id/enrollment-tokens", a.handleCreateEnrollmentToken)
	p.Get("/nodes", a.handleListNodes)
	p.Get("/nodes/:node_id", a.handleGetNode)
	p.Delete("/nodes/:node_id", a.handleRevokeNode)
	p.Get("/dead-letters", a.handleListDeadLetters)
	p.Post("/dead-letters/:dead_letter_id/reapply", a.handleReapplyDeadLetter)

	p.Get("/api-keys", a.handleListAPIKeys)
	p.Post("/api-keys", a.handleCreateAPIKey)
	p.Delete("/api-keys/:key_id", a.handleRevokeAPIKey)
}
