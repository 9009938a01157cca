// Package cloud is the cloud service's domain, as wtf keeps its domain in
// its root package: the entities an organization manages (sites, rooms,
// items, menus, coupons, cost centers, users, edge nodes, dead letters),
// their validation rules, who acts (Actor) and how lists page (Page), and
// the services the cloud's interfaces need (service.go), one per area.
//
// It imports no adapter. cloud/postgres implements the services over
// PostgreSQL; cloud/syncserver holds replication's policy over that store;
// cloud/auth decides who may do what; cloud/api (the REST API) and the
// dashboard depend on the services here, not on the store; cloud/server
// wires them into one running instance.
package cloud

import (
	"time"

	"github.com/pantry/pantry/internal/pantry"
)

// Page asks for one page of a list: at most Limit rows after Cursor (the
// next_cursor of the page before; empty for the first page).
type Page struct {
	Limit  int
	Cursor string
}

// Limits on a page's size.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// size returns the page size to use, refusing absurd ones.
func (p Page) Size() (int, error) {
	switch {
	case p.Limit == 0:
		return DefaultPageSize, nil
	case p.Limit < 0 || p.Limit > MaxPageSize:
		return 0, pantry.Errorf(pantry.EINVALID, "limit must be between 1 and %d", MaxPageSize)
	}
	return p.Limit, nil
}

// Actor is who made a change, as the audit log records it: a user, a
// technician's API key, or the system itself (bootstrap, sync).
type Actor struct {
	Type string // "user", "api_key" or "system"
	ID   string // the user's or key's id; empty for the system
}

// AuditEntry is one row of the audit log.
type AuditEntry struct {
	ID         string    `json:"id"`
	ActorType  string    `json:"actor_type"`
	ActorID    string    `json:"actor_id,omitempty"`
	Action     string    `json:"action"`
	Resource   string    `json:"resource"`
	ResourceID string    `json:"resource_id"`
	Before     any       `json:"before"`
	After      any       `json:"after"`
	At         time.Time `json:"at"`
}

// AuditFilter selects audit-log entries. Zero fields select everything;
// times are half-open like OrderFilter's (From inclusive, To exclusive).
type AuditFilter struct {
	Resource   string // e.g. "site", "item"
	ResourceID string
	ActorID    string // a user's or API key's id
	From, To   time.Time
}
