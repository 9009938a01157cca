package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

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

// nodeStatusQuery reads NodeStatus rows; it ends with WHERE, for the
// caller's conditions (the first naming the organization). The inner
// query names enrolled_at created_at so that newestFirst pages it.
const nodeStatusQuery = `SELECT id::text, site_id::text, name, software_version, created_at, last_seen_at, last_push_at, last_pull_at,
	revoked_at, revoked_reason, applied_seq, edge_last_seq, lag, config_revision, site_revision, clock_skew_ms, dead_letters
	FROM (SELECT n.organization_id, n.id, n.site_id, n.name, n.software_version, n.enrolled_at AS created_at,
		n.last_seen_at, n.last_push_at, n.last_pull_at, n.revoked_at, n.revoked_reason, n.applied_seq, n.edge_last_seq,
		greatest(n.edge_last_seq - n.applied_seq, 0) AS lag, n.config_revision, s.catalog_revision AS site_revision, n.clock_skew_ms,
		(SELECT count(*) FROM dead_letters d
			WHERE d.organization_id = n.organization_id AND d.node_id = n.id AND d.reapplied_at IS NULL) AS dead_letters
		FROM edge_nodes n JOIN sites s ON s.organization_id = n.organization_id AND s.id = n.site_id) AS n
	WHERE `

func scanNodeStatus(row pgx.Row) (NodeStatus, error) {
	var n NodeStatus
	err := row.Scan(&n.ID, &n.SiteID, &n.Name, &n.SoftwareVersion, &n.EnrolledAt, &n.LastSeenAt, &n.LastPushAt, &n.LastPullAt,
		&n.RevokedAt, &n.RevokedReason, &n.AppliedSeq, &n.EdgeLastSeq, &n.Lag, &n.ConfigRevision, &n.SiteRevision,
		&n.ClockSkewMS, &n.DeadLetters)
	return n, err
}

// ListNodes returns a page of the organization's edge nodes, newest
// enrollment first.
func (s *Store) ListNodes(ctx context.Context, orgID string, f NodeFilter, p Page) ([]NodeStatus, string, error) {
	var q query
	q.where("organization_id = " + q.arg(orgID) + "::uuid")
	none, err := q.sites("site_id", f.SiteIDs, f.SiteID)
	if err != nil {
		return nil, "", err
	}
	if none {
		return []NodeStatus{}, "", nil
	}
	if !f.IncludeRevoked {
		q.where("revoked_at IS NULL")
	}
	var nodes []NodeStatus
	var next string
	err = s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		nodes, next, err = newestFirst(ctx, tx, p, nodeStatusQuery+q.clause(), q.args, scanNodeStatus,
			func(n NodeStatus) (time.Time, string) { return n.EnrolledAt, n.ID })
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list edge nodes: %w", err)
	}
	return nodes, next, nil
}

// GetNode returns one edge node's status.
func (s *Store) GetNode(ctx context.Context, orgID, id string) (NodeStatus, error) {
	if err := checkPathID("edge node", id); err != nil {
		return NodeStatus{}, err
	}
	var n NodeStatus
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		n, err = getNode(ctx, tx, orgID, id)
		return err
	})
	return n, err
}

func getNode(ctx context.Context, tx pgx.Tx, orgID, id string) (NodeStatus, error) {
	n, err := scanNodeStatus(tx.QueryRow(ctx, nodeStatusQuery+`organization_id = $1 AND id = $2`, orgID, id))
	return n, notFound(err, "edge node", id)
}
