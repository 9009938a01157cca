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
	// Sessions keeps the dashboard's sign-ins.
	Sessions WebSessionService
	// SSO keeps single sign-on (cloud/sso runs the protocol).
	SSO SSOService
	// OrderFeed tells the dashboard's live pages of order changes, from
	// whichever instance stored them.
	OrderFeed OrderFeed
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
	// CountSpaces counts the rooms (not archived) of each of siteIDs, for
	// a list of sites; a site without rooms, or not the organization's,
	// is absent from the map.
	CountSpaces(ctx context.Context, orgID string, siteIDs []string) (map[string]int, error)

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
	// ParLevels returns a site's par levels (ParLevel), by item id.
	ParLevels(ctx context.Context, orgID, siteID string) ([]ParLevel, error)
	// SetParLevels sets or clears the par levels of the items changes
	// name (others keep theirs), audited, and returns the site's par levels.
	SetParLevels(ctx context.Context, orgID string, who Actor, siteID string, changes []ParLevelChange) ([]ParLevel, error)
}

// OrderService reads what the edges took: orders, payments, and the
// consumption report.
type OrderService interface {
	ListOrders(ctx context.Context, orgID string, f OrderFilter, p Page) ([]pantry.Order, string, error)
	GetOrder(ctx context.Context, orgID, id string) (OrderDetail, error)
	ListPayments(ctx context.Context, orgID string, f PaymentFilter, p Page) ([]pantry.Payment, string, error)
	Consumption(ctx context.Context, orgID string, f ReportFilter) ([]ReportRow, error)
}

// OrderFeed is the live feed of an organization's order changes (new
// orders, status changes), fed through PostgreSQL by every cloud
// instance: see OrderChange for what it promises. SubscribeOrders does
// no I/O and never blocks; the channel is buffered, and a subscriber
// that does not keep up gets an OrdersResync in place of what it did not
// read. The channel is closed by cancel, which the subscriber must call
// when done, or when the service shuts down.
type OrderFeed interface {
	SubscribeOrders(orgID string) (changes <-chan OrderChange, cancel func())
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
	GetAPIKey(ctx context.Context, orgID, id string) (APIKey, error)
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

// WebSessionService keeps the dashboard's sign-ins. A session is found by
// the hash of its secret within the organization its cookie names, and
// comes back with who is signed in and what they may do now: a role
// changed or a user disabled takes effect on their next page.
type WebSessionService interface {
	StartWebSession(ctx context.Context, in WebSessionStart) (WebSession, error)
	// WebSession returns the live session with hash in orgID as of now,
	// moving its idle deadline on to idleUntil; EUNAUTHORIZED if there is
	// none (ended, expired, idle too long, or its user disabled).
	WebSession(ctx context.Context, orgID string, hash []byte, now, idleUntil time.Time) (WebSession, error)
	// EndWebSession revokes the session with hash; ending one that is
	// already gone is not an error.
	EndWebSession(ctx context.Context, orgID string, hash []byte, now time.Time) error
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
	GetDeadLetter(ctx context.Context, orgID, id string) (DeadLetter, error)
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
	// Node tells a node what the cloud knows of it: its watermark, its
	// open dead letters, the cloud's build.
	Node(ctx context.Context, node Node) (syncproto.NodeInfo, error)
	ReapplyDeadLetter(ctx context.Context, orgID string, who Actor, id string) (DeadLetter, error)
}

// SSOService keeps single sign-on over OpenID Connect: each
// organization's identity-provider setup, the sign-ins in progress, and
// the users they find or create. cloud/sso runs the protocol; this
// stores. A sign-in names its organization before anyone is
// authenticated: the login page's org parameter, then the state the
// callback brings back ("<organization id>.<secret>"), whose hash exists
// only under the organization that made it.
type SSOService interface {
	// GetSSOConfig returns the configuration, never the client secret;
	// ENOTFOUND if the organization has none.
	GetSSOConfig(ctx context.Context, orgID string) (SSOConfig, error)
	// PutSSOConfig creates or replaces the configuration, audited.
	PutSSOConfig(ctx context.Context, orgID string, who Actor, in SSOConfigInput) (SSOConfig, error)
	// SSOProvider returns what a sign-in needs, client secret included;
	// ENOTFOUND if the organization does not exist or has no configuration.
	SSOProvider(ctx context.Context, orgID string) (SSOProvider, error)
	// BeginSSO stores a sign-in in progress.
	BeginSSO(ctx context.Context, st SSOState) error
	// TakeSSOState returns the organization's sign-in whose state hashes
	// to stateHash and spends it, once: EUNAUTHORIZED if it is unknown,
	// spent or expired.
	TakeSSOState(ctx context.Context, orgID string, stateHash []byte, now time.Time) (SSOState, error)
	// FindOrCreateSSOUser finds the organization's user with the email, or
	// creates one just in time; role changes and creations are audited.
	FindOrCreateSSOUser(ctx context.Context, orgID string, in SSOUserInput) (SSOUser, error)
	// OrganizationBySlug returns the id of the organization with this
	// slug, before anyone is signed in; ENOTFOUND if none has it.
	OrganizationBySlug(ctx context.Context, slug string) (string, error)
	// OrganizationSlug returns the organization's slug, for its sign-in
	// link.
	OrganizationSlug(ctx context.Context, orgID string) (string, error)
}
