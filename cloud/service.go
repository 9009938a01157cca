package cloud

import (
	"context"
	"time"

	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// The services below are what the cloud's interfaces (the HTTP API, the
// dashboard) ask of the rest, one per area. cloud/postgres implements all
// but SyncService, which cloud/syncserver does over the same store.
//
// Every method that reads or changes a tenant's data takes the
// organization (orgID) from the caller's credential, never from a request
// body, and row-level security in PostgreSQL enforces it again. Changes
// take the Actor the audit log records. A list takes a Page and returns
// the page's rows and the next page's cursor ("" on the last page).
// Errors carry pantry error codes: ENOTFOUND for an id the organization
// does not have (or one that is not a UUID), EINVALID for input the rules
// refuse, ECONFLICT for a duplicate.

// Services is every service, as a server wires them.
type Services struct {
	Sites   SiteService
	Catalog CatalogService
	Stock   StockService
	Orders  OrderService
	Users   UserService
	Logins  LoginService
	Audit   AuditService
	Nodes   NodeService
	Sync    SyncService
}

// SiteService manages an organization's buildings: sites, their rooms
// (spaces, with the code behind each room's QR code) and their staff
// tablets.
type SiteService interface {
	CreateSite(ctx context.Context, orgID string, who Actor, in SiteInput) (Site, error)
	GetSite(ctx context.Context, orgID, siteID string) (Site, error)
	// ListSites lists the sites in siteFilter (nil: every site).
	ListSites(ctx context.Context, orgID string, siteFilter []string, p Page) ([]Site, string, error)
	UpdateSite(ctx context.Context, orgID string, who Actor, siteID string, up SiteUpdate) (Site, error)

	CreateSpace(ctx context.Context, orgID string, who Actor, siteID string, in SpaceInput) (Space, error)
	GetSpace(ctx context.Context, orgID, siteID, spaceID string) (Space, error)
	ListSpaces(ctx context.Context, orgID, siteID string, p Page) ([]Space, string, error)
	UpdateSpace(ctx context.Context, orgID string, who Actor, siteID, spaceID string, up SpaceUpdate) (Space, error)
	// RotateSpaceCode gives a room a new code: its old QR code stops working.
	RotateSpaceCode(ctx context.Context, orgID string, who Actor, siteID, spaceID string) (Space, error)

	// CreateTablet returns the tablet and its password, shown this once.
	CreateTablet(ctx context.Context, orgID string, who Actor, siteID, name string) (Tablet, string, error)
	ListTablets(ctx context.Context, orgID, siteID string, p Page) ([]Tablet, string, error)
	RevokeTablet(ctx context.Context, orgID string, who Actor, siteID, tabletID string) (Tablet, error)
}

// CatalogService manages what an organization sells: items, each site's
// menu (availability and price overrides), coupons and cost centers.
type CatalogService interface {
	CreateItem(ctx context.Context, orgID string, who Actor, in ItemInput) (Item, error)
	GetItem(ctx context.Context, orgID, itemID string) (Item, error)
	ListItems(ctx context.Context, orgID string, p Page) ([]Item, string, error)
	UpdateItem(ctx context.Context, orgID string, who Actor, itemID string, up ItemUpdate) (Item, error)

	GetMenu(ctx context.Context, orgID, siteID string) (Menu, error)
	// PutMenu replaces a site's menu with entries.
	PutMenu(ctx context.Context, orgID string, who Actor, siteID string, entries []MenuEntry) (Menu, error)

	CreateCoupon(ctx context.Context, orgID string, who Actor, in CouponInput) (Coupon, error)
	GetCoupon(ctx context.Context, orgID, couponID string) (Coupon, error)
	ListCoupons(ctx context.Context, orgID string, p Page) ([]Coupon, string, error)
	UpdateCoupon(ctx context.Context, orgID string, who Actor, couponID string, up CouponUpdate) (Coupon, error)

	CreateCostCenter(ctx context.Context, orgID string, who Actor, in CostCenterInput) (CostCenter, error)
	GetCostCenter(ctx context.Context, orgID, costCenterID string) (CostCenter, error)
	ListCostCenters(ctx context.Context, orgID string, p Page) ([]CostCenter, string, error)
	UpdateCostCenter(ctx context.Context, orgID string, who Actor, costCenterID string, up CostCenterUpdate) (CostCenter, error)
}

// StockService reads a site's stock ledger and adds the movements admins
// make (restock, waste, count): levels are the sum of movements.
type StockService interface {
	StockLevels(ctx context.Context, orgID, siteID string) ([]pantry.StockLevel, error)
	// ListStockMovements lists a site's movements, of one item if itemID
	// is not "".
	ListStockMovements(ctx context.Context, orgID, siteID, itemID string, p Page) ([]StockMovement, string, error)
	RecordStockMovement(ctx context.Context, orgID string, who Actor, siteID, itemID string, delta int64, reason string) (StockMovement, error)
}

// OrderService reads what the edges took: orders, payments, and the
// consumption report.
type OrderService interface {
	ListOrders(ctx context.Context, orgID string, f OrderFilter, p Page) ([]pantry.Order, string, error)
	GetOrder(ctx context.Context, orgID, id string) (OrderDetail, error)
	ListPayments(ctx context.Context, orgID string, f PaymentFilter, p Page) ([]pantry.Payment, string, error)
	Consumption(ctx context.Context, orgID string, f ReportFilter) ([]ReportRow, error)
}

// UserService manages an organization's people and technicians' API keys.
type UserService interface {
	CreateUser(ctx context.Context, orgID string, who Actor, in UserInput) (User, error)
	GetUser(ctx context.Context, orgID, id string) (User, error)
	ListUsers(ctx context.Context, orgID string, p Page) ([]User, string, error)
	UpdateUser(ctx context.Context, orgID string, who Actor, id string, up UserUpdate) (User, error)

	// CreateAPIKey stores a key by its hash (cloud/auth makes keys).
	CreateAPIKey(ctx context.Context, orgID string, who Actor, name, prefix string, hash []byte) (APIKey, error)
	ListAPIKeys(ctx context.Context, orgID string, p Page) ([]APIKey, string, error)
	RevokeAPIKey(ctx context.Context, orgID string, who Actor, id string) (APIKey, error)
}

// LoginService keeps what logging in needs: accounts found by email,
// failed attempts, refresh tokens by hash, API keys by hash. cloud/auth
// decides; this stores.
type LoginService interface {
	LookupLogin(ctx context.Context, email string) (LoginLookup, error)
	LoginFailures(ctx context.Context, key string, since time.Time) (LoginFailures, error)
	RecordLoginFailure(ctx context.Context, now time.Time, keys ...string) error
	UserAccess(ctx context.Context, orgID, userID string) (UserAccess, error)

	IssueRefreshToken(ctx context.Context, orgID, userID, familyID string, hash []byte, expires time.Time) error
	// RotateRefreshToken exchanges a refresh token for a new one as
	// decide says, under a lock, once.
	RotateRefreshToken(ctx context.Context, oldHash, newHash []byte, now, expires time.Time,
		decide func(RefreshState) RefreshDecision) (orgID, userID string, err error)
	RevokeRefreshFamily(ctx context.Context, hash []byte, now time.Time) error

	LookupAPIKey(ctx context.Context, hash []byte) (APIKeyLookup, error)
	TouchAPIKey(ctx context.Context, orgID, id string, now time.Time) error
}

// AuditService reads the audit log every change writes.
type AuditService interface {
	ListAudit(ctx context.Context, orgID string, f AuditFilter, p Page) ([]AuditEntry, string, error)
}

// NodeService shows admins their edge nodes' health and dead letters,
// and revokes a node.
type NodeService interface {
	ListNodes(ctx context.Context, orgID string, f NodeFilter, p Page) ([]NodeStatus, string, error)
	GetNode(ctx context.Context, orgID, id string) (NodeStatus, error)
	RevokeNode(ctx context.Context, orgID string, who Actor, nodeID string) (NodeStatus, error)
	ListDeadLetters(ctx context.Context, orgID string, f DeadLetterFilter, p Page) ([]DeadLetter, string, error)
}

// SyncService is the cloud's side of replication (syncproto): edge nodes
// enroll, authenticate, push their outbox and pull their site's feed;
// admins make enrollment tokens and apply dead letters again.
type SyncService interface {
	CreateEnrollmentToken(ctx context.Context, orgID string, who Actor, siteID string, ttl time.Duration) (EnrollmentToken, error)
	Enroll(ctx context.Context, req syncproto.EnrollRequest) (syncproto.EnrollResponse, error)
	AuthenticateNode(ctx context.Context, credential string) (Node, error)
	Push(ctx context.Context, node Node, req syncproto.PushRequest) (syncproto.PushResponse, error)
	Pull(ctx context.Context, node Node, req syncproto.PullRequest) (syncproto.PullResponse, error)
	ReapplyDeadLetter(ctx context.Context, orgID string, who Actor, id string) (DeadLetter, error)
}
