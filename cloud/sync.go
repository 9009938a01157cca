package cloud

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// Node is an authenticated edge node: the organization and site its
// credential is scoped to (sync invariant 10). It comes from the
// credential, never from a request's body.
type Node struct {
	OrgID  string
	SiteID string
	ID     string
}

// GapError answers a push that does not start right after the node's
// watermark: the edge resends from ResumeFrom (syncproto.ErrGap).
type GapError struct {
	ResumeFrom int64
	Got        int64
}

func (e *GapError) Error() string {
	return fmt.Sprintf("push starts at seq %d but the cloud has applied up to %d: resend from %d", e.Got, e.ResumeFrom-1, e.ResumeFrom)
}

// NodeStatus is an edge node's health as admins see it (sync invariant
// 8): when it was last heard from, how far its pushed events are behind
// its outbox, which configuration it runs against the site's current
// one, its clock's skew, and its open dead letters.
type NodeStatus struct {
	ID              string     `json:"id"`
	SiteID          string     `json:"site_id"`
	Name            string     `json:"name"`
	SoftwareVersion string     `json:"software_version"`
	EnrolledAt      time.Time  `json:"enrolled_at"`
	LastSeenAt      *time.Time `json:"last_seen_at"`
	LastPushAt      *time.Time `json:"last_push_at"`
	LastPullAt      *time.Time `json:"last_pull_at"`
	RevokedAt       *time.Time `json:"revoked_at"`
	RevokedReason   string     `json:"revoked_reason"`
	// AppliedSeq is the node's watermark: its events up to it are applied.
	AppliedSeq int64 `json:"applied_seq"`
	// EdgeLastSeq is the newest outbox seq the edge reported.
	EdgeLastSeq int64 `json:"edge_last_seq"`
	// Lag is EdgeLastSeq - AppliedSeq, never negative: the events the
	// edge holds that the cloud has not applied yet.
	Lag int64 `json:"lag"`
	// ConfigRevision is the configuration the node last pulled;
	// SiteRevision the site's current one. They differ while an edge is
	// offline or has not pulled since a change.
	ConfigRevision int64 `json:"config_revision"`
	SiteRevision   int64 `json:"site_revision"`
	// ClockSkewMS is the edge's clock minus the cloud's at the last
	// contact; nil before the first.
	ClockSkewMS *int64 `json:"clock_skew_ms"`
	// DeadLetters counts the node's dead letters not yet re-applied.
	DeadLetters int64 `json:"dead_letters"`
	// OutboxOldestAt is when the oldest event waiting at the edge was
	// written (on the cloud's clock), as the edge last reported; nil when
	// none waits or the edge does not report it (older edges).
	OutboxOldestAt *time.Time `json:"outbox_oldest_at"`
	// TabletsOnline is how many staff tablets the edge last reported
	// connected to its broker; nil for an edge that does not report it.
	TabletsOnline *int `json:"tablets_online"`
}

// NodeFilter selects nodes for ListNodes.
type NodeFilter struct {
	// SiteIDs restricts the list to these sites: nil means every site of
	// the organization, a non-nil empty slice none (as in OrderFilter).
	SiteIDs []string
	// SiteID is one site, or "" for any.
	SiteID string
	// IncludeRevoked lists revoked nodes too.
	IncludeRevoked bool
}

// DeadLetter is an event the cloud could not apply.
type DeadLetter struct {
	ID     string `json:"id"`
	NodeID string `json:"node_id"`
	// SiteID is the node's site.
	SiteID    string `json:"site_id"`
	Seq       int64  `json:"seq"`
	EventType string `json:"event_type"`
	EventID   string `json:"event_id,omitempty"`
	EntityID  string `json:"entity_id"`
	// Reason is why the event could not be applied when it came;
	// LastError why the latest attempt to apply it again failed, while it
	// still fails.
	Reason    string `json:"reason"`
	LastError string `json:"last_error"`
	Schema    int    `json:"schema"`
	// Payload is the event's payload as the edge sent it, or, if that is
	// not JSON, a JSON string of its bytes.
	Payload        json.RawMessage `json:"payload"`
	CreatedAt      time.Time       `json:"created_at"`
	EventCreatedAt *time.Time      `json:"event_created_at"`
	ReappliedAt    *time.Time      `json:"reapplied_at"`

	// Raw is the payload's bytes as the edge sent them, which re-applying
	// the event decodes anew.
	Raw []byte `json:"-"`
}

// DeadLetterFilter selects dead letters. Zero fields select everything.
type DeadLetterFilter struct {
	NodeID string
	// Open selects only the dead letters not yet re-applied.
	Open bool
	// SiteIDs restricts the list to the nodes of these sites: nil means
	// every site, a non-nil empty slice none.
	SiteIDs []string
}

// EnrollmentToken is a one-time token to enroll an edge node at a site.
// Token is the secret itself, returned by CreateEnrollmentToken only.
type EnrollmentToken struct {
	ID        string    `json:"id"`
	SiteID    string    `json:"site_id"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Lifetimes of enrollment tokens: a day by default, enough to carry a token
// to a building; at most a week, so that a forgotten token stops being a
// way in.
const (
	DefaultEnrollmentTTL = 24 * time.Hour
	MinEnrollmentTTL     = time.Minute
	MaxEnrollmentTTL     = 7 * 24 * time.Hour
)

// Enrollment is what the store records when an edge node enrolls: the
// spent token's hash, the new credential's hash (the credential itself is
// never stored), and what the node says about itself.
type Enrollment struct {
	TokenHash      []byte
	CredentialHash []byte
	Name           string
	Version        string
	// PreviousNodeID is the node this one replaces in the same data
	// directory, whose watermark it carries over (syncproto).
	PreviousNodeID string
}

// PushEvent is a pushed event on its way in: its payload decoded
// (syncproto.DecodePayload), or the reason it cannot be applied.
type PushEvent struct {
	syncproto.Event
	Decoded any
	Reason  string
}

// EventWriter writes decoded events of one node inside a transaction that
// holds the node's lock.
type EventWriter interface {
	// Site is the node's site, as its row says under the lock: the only
	// site its events may name.
	Site() string
	// Write applies events set-based, all or none, in a savepoint. A
	// *RefusedError means the events were refused for what they say and
	// rolled back, and the transaction goes on; any other error must end
	// the transaction.
	Write(ctx context.Context, events []PushEvent) error
}

// PushTx is one push's transaction: it holds the node's lock from the
// moment it reads the watermark until it commits the new one, so a push
// is applied exactly once even when the edge sends it twice at once.
type PushTx interface {
	EventWriter
	// Applied is the node's watermark: the last seq applied (or kept as
	// a dead letter).
	Applied() int64
	// DeadLetter keeps events, each with its Reason, as dead letters.
	DeadLetter(ctx context.Context, events []PushEvent) error
	// Record moves the watermark to applied and records the contact:
	// when, the edge's build, how far its outbox reaches, its clock.
	Record(ctx context.Context, req syncproto.PushRequest, applied int64) error
}

// RefusedError is the store refusing events for what they say: a value
// or constraint the database rejects, an order of another site, a status
// change from a status the order is not in. Refused alone, an event is a
// dead letter (sync invariant 3); anything else (a lost connection, a
// serialization failure) is no fault of the events and fails the push.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return e.Reason }

// ReapplyFunc applies a dead letter's event again through w, inside the
// transaction that holds its node's lock, and returns why it still cannot
// be applied ("" if it was applied).
type ReapplyFunc func(ctx context.Context, w EventWriter, e syncproto.Event) (reason string, err error)

// ErrNodeCredential is the one answer to an unknown, revoked or
// mismatched node credential: telling them apart would tell whoever holds
// a credential whether it ever worked.
var ErrNodeCredential = pantry.Errorf(pantry.EUNAUTHORIZED, "invalid node credential")

// MaxNodeTextLen bounds, in bytes, the name and software version an edge
// reports: syncproto's bound of 200 characters, at up to 4 bytes each.
const MaxNodeTextLen = 4 * pantry.MaxNameLen

// ErrEnrollmentToken answers an enrollment token the cloud does not know.
var ErrEnrollmentToken = pantry.Errorf(pantry.EUNAUTHORIZED, "unknown enrollment token")
