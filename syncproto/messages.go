package syncproto

import (
	"encoding/json"
	"time"
)

// EnrollRequest exchanges a one-time enrollment token for a node
// credential: POST PathEnroll, no Authorization header.
type EnrollRequest struct {
	Version         int    `json:"version"`
	Token           string `json:"token"`
	Name            string `json:"name"`             // the box, for admins: a host name
	SoftwareVersion string `json:"software_version"` // the edge's build
	// PreviousNodeID is the node this data directory was enrolled as
	// before, if any: the new node takes over its watermark, since the
	// outbox carries on where it was (a fresh box sends none and starts
	// from seq 1).
	PreviousNodeID string `json:"previous_node_id,omitempty"`
}

// EnrollResponse names the new node and carries its credential, shown
// this once: the cloud keeps only its hash. The edge sends it as
// "Authorization: Bearer CREDENTIAL" from then on.
type EnrollResponse struct {
	Version    int       `json:"version"`
	NodeID     string    `json:"node_id"`
	OrgID      string    `json:"org_id"`
	SiteID     string    `json:"site_id"`
	Credential string    `json:"credential"`
	ServerTime time.Time `json:"server_time"`
}

// PushRequest carries consecutive outbox events of one node, oldest
// first: POST PathPush. Events[i].Seq == Events[0].Seq + i.
type PushRequest struct {
	Version         int       `json:"version"`
	NodeID          string    `json:"node_id"`
	SoftwareVersion string    `json:"software_version"`
	SentAt          time.Time `json:"sent_at"` // the edge's clock when sent, for skew; zero when unknown
	// OutboxHead is the newest seq in the edge's outbox: with the
	// watermark it tells admins how far behind the node is.
	OutboxHead int64   `json:"outbox_head"`
	Events     []Event `json:"events"`
}

// PushResponse acknowledges a push: every event up to AppliedSeq has been
// applied (or dead-lettered) exactly once, in the transaction that moved
// the node's watermark. Events of the batch at or below the watermark
// before the push were acknowledged without being applied again.
type PushResponse struct {
	Version    int   `json:"version"`
	AppliedSeq int64 `json:"applied_seq"`
	// DeadLettered lists the seqs of this batch kept aside as dead letters.
	DeadLettered []int64   `json:"dead_lettered"`
	ServerTime   time.Time `json:"server_time"`
}

// NodeInfo is what the cloud knows of the calling node: GET PathNode with
// the node's credential, no body. The node is the credential's: no
// request names another. An edge decodes it strictly, as every answer: a
// field added to it later goes by a capability (capability.go).
type NodeInfo struct {
	Version int    `json:"version"`
	NodeID  string `json:"node_id"`
	SiteID  string `json:"site_id"`
	// AppliedSeq is the node's watermark in the cloud: every event up to
	// it is applied (or kept as a dead letter).
	AppliedSeq int64 `json:"applied_seq"`
	// DeadLetters counts the node's dead letters not yet re-applied.
	DeadLetters int `json:"dead_letters"`
	// CloudVersion is the cloud's build (buildinfo.Version).
	CloudVersion string    `json:"cloud_version"`
	ServerTime   time.Time `json:"server_time"`
}

// Event is one outbox row: an immutable fact with a per-node sequence
// number that has no gaps. Payload's shape depends on Type (see
// DecodePayload) and Schema.
type Event struct {
	Seq       int64           `json:"seq"`
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Schema    int             `json:"schema"`
	EntityID  string          `json:"entity_id"`
	Payload   json.RawMessage `json:"payload"`
	CreatedAt time.Time       `json:"created_at"`
}

// PullRequest asks for what changed for the node's site since Cursor:
// POST PathPull. With WaitSeconds > 0 the cloud holds the request until
// something changes or the wait ends (long poll).
type PullRequest struct {
	Version         int       `json:"version"`
	NodeID          string    `json:"node_id"`
	SoftwareVersion string    `json:"software_version"`
	Cursor          Cursor    `json:"cursor"`
	WaitSeconds     int       `json:"wait_seconds"`
	SentAt          time.Time `json:"sent_at"`
	OutboxHead      int64     `json:"outbox_head"` // as in PushRequest
	// Status is what the edge reports of itself, sent only to a cloud at
	// CapabilityEdgeStatus or later (capability.go).
	Status *EdgeStatus `json:"status,omitempty"`
}

// EdgeStatus is an edge node's own view of its health, reported at the
// start of each pull (at least every MaxPullWait while it is on line).
type EdgeStatus struct {
	// OutboxOldestAt is when the oldest event not yet acknowledged by the
	// cloud was written, on the edge's clock; absent when none waits.
	OutboxOldestAt *time.Time `json:"outbox_oldest_at,omitempty"`
	// TabletsOnline is how many staff tablets are connected to the
	// node's broker now.
	TabletsOnline int `json:"tablets_online"`
}

// Cursor is how far an edge has applied its site's feed. Both counters
// are per site and assigned under the site's row lock in the cloud, so
// they grow in commit order: a change with a lower number is never
// committed after one with a higher number has been read.
type Cursor struct {
	// ConfigRevision is the revision of the configuration snapshot the
	// edge holds (the site's catalog_revision; 0: none yet).
	ConfigRevision int64 `json:"config_revision"`
	// StockSeq is the last cloud stock movement of the site applied.
	StockSeq int64 `json:"stock_seq"`
}

// PullResponse is one page of the site's feed. The edge applies it and
// its Cursor in one transaction; applying a page twice changes nothing
// (the snapshot replaces the configuration whole, and movements have
// their own ids).
type PullResponse struct {
	Version int    `json:"version"`
	Cursor  Cursor `json:"cursor"`
	// Config is the site's whole configuration at Cursor.ConfigRevision,
	// present only when that is newer than the request's cursor.
	Config *Config `json:"config,omitempty"`
	// Stock lists cloud stock movements after the request's StockSeq, in
	// order, at most MaxStockPage; More says another page is waiting.
	Stock      []StockMovement `json:"stock"`
	More       bool            `json:"more"`
	ServerTime time.Time       `json:"server_time"`
}

// Config is everything the cloud owns that a site's edge runs on
// (DESIGN.md, "Data ownership"): a snapshot, replacing what the edge
// held. Archived rooms, items, coupons and cost centers and revoked
// tablets are absent.
type Config struct {
	Revision    int64        `json:"revision"`
	Site        Site         `json:"site"`
	Spaces      []Space      `json:"spaces"`
	Items       []Item       `json:"items"`
	Coupons     []Coupon     `json:"coupons"`
	CostCenters []CostCenter `json:"cost_centers"`
	Tablets     []Tablet     `json:"tablets"`
}

// Site is the building.
type Site struct {
	ID       string `json:"id"`
	OrgID    string `json:"org_id"`
	Name     string `json:"name"`
	Timezone string `json:"timezone"`
	Currency string `json:"currency"`
}

// Space is a room and the code in its QR.
type Space struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Floor string `json:"floor"`
	Code  string `json:"code"`
}

// Item is a catalog item as the site sells it: the site's price (an
// override, or the catalog's) and whether the site's menu offers it.
type Item struct {
	ID                string   `json:"id"`
	Name              string   `json:"name"`
	Description       string   `json:"description"`
	Price             Money    `json:"price"`
	Tags              []string `json:"tags"`
	Allergens         []string `json:"allergens"`
	ImageURL          string   `json:"image_url"`
	LowStockThreshold int64    `json:"low_stock_threshold"`
	Available         bool     `json:"available"`
	// Station is where the pantry prepares the item, "" for none
	// (ValidStation). Omitted when empty, and sent only to an edge at
	// CapabilityStation or later (Config.ForCapability): an older edge's
	// decoder refuses fields it does not know.
	Station string `json:"station,omitempty"`
}

// Coupon is a discount code. MaxUses bounds redemptions at this site (0:
// unlimited).
type Coupon struct {
	ID        string    `json:"id"`
	Code      string    `json:"code"`
	Kind      string    `json:"kind"` // "percent" or "fixed"
	Value     int64     `json:"value"`
	ValidFrom time.Time `json:"valid_from"`
	ValidTo   time.Time `json:"valid_to"`
	MaxUses   int64     `json:"max_uses"`
}

// CostCenter is a code orders may be charged to.
type CostCenter struct {
	ID   string `json:"id"`
	Code string `json:"code"`
	Name string `json:"name"`
}

// Tablet is a staff tablet's login. PasswordHash is a bcrypt hash: the
// password itself never leaves the admin who created it.
type Tablet struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Username     string `json:"username"`
	PasswordHash string `json:"password_hash"`
}

// StockMovement is a movement of the stock ledger. Pulled, it is one made
// in the cloud (a delivery, a count, a correction), with Seq its place in
// the site's feed; pushed (in a stock.moved event), one made at the edge.
type StockMovement struct {
	Seq       int64     `json:"seq,omitempty"`
	ID        string    `json:"id"`
	SiteID    string    `json:"site_id,omitempty"`
	ItemID    string    `json:"item_id"`
	Delta     int64     `json:"delta"`
	Reason    string    `json:"reason"`
	OrderID   string    `json:"order_id,omitempty"`
	Actor     string    `json:"actor,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Money is an amount in minor units of an ISO 4217 currency.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}
