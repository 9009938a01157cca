package postgres

import "github.com/pantry/pantry/cloud"

// The store is every service of the cloud but the sync server's policy.
var (
	_ cloud.SiteService    = (*Store)(nil)
	_ cloud.CatalogService = (*Store)(nil)
	_ cloud.StockService   = (*Store)(nil)
	_ cloud.OrderService   = (*Store)(nil)
	_ cloud.UserService    = (*Store)(nil)
	_ cloud.LoginService   = (*Store)(nil)
	_ cloud.AuditService   = (*Store)(nil)
	_ cloud.NodeService    = (*Store)(nil)
)
