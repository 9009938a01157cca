package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
)

// nodeStatusQuery reads NodeStatus rows; it ends with WHERE, for the
// caller's conditions (the first naming the organization, as $1). The
// inner query names enrolled_at created_at so that newestFirst pages it.
// Its dead-letter count names the organization as $1, not as
// n.organization_id: Citus 13.2 prunes the shards of a correlated
// subquery by its own filters only, and with the outer column alone it
// plans the statement for every shard (TestCitusRouting). On PostgreSQL
// the two are the same rows.
const nodeStatusQuery = `SELECT id::text, site_id::text, name, software_version, created_at, last_seen_at, last_push_at, last_pull_at,
	revoked_at, revoked_reason, applied_seq, edge_last_seq, lag, config_revision, site_revision, clock_skew_ms, dead_letters,
	outbox_oldest_at, tablets_online
	FROM (SELECT n.organization_id, n.id, n.site_id, n.name, n.software_version, n.enrolled_at AS created_at,
		n.last_seen_at, n.last_push_at, n.last_pull_at, n.revoked_at, n.revoked_reason, n.applied_seq, n.edge_last_seq,
		greatest(n.edge_last_seq - n.applied_seq, 0) AS lag, n.config_revision, s.catalog_revision AS site_revision, n.clock_skew_ms,
		n.outbox_oldest_at, n.tablets_online,
		(SELECT count(*) FROM dead_letters d
			WHERE d.organization_id = $1 AND d.node_id = n.id AND d.reapplied_at IS NULL) AS dead_letters
		FROM edge_nodes n JOIN sites s ON s.organization_id = n.organization_id AND s.id = n.site_id) AS n
	WHERE `

func scanNodeStatus(row pgx.Row) (cloud.NodeStatus, error) {
	var n cloud.NodeStatus
	err := row.Scan(&n.ID, &n.SiteID, &n.Name, &n.SoftwareVersion, &n.EnrolledAt, &n.LastSeenAt, &n.LastPushAt, &n.LastPullAt,
		&n.RevokedAt, &n.RevokedReason, &n.AppliedSeq, &n.EdgeLastSeq, &n.Lag, &n.ConfigRevision, &n.SiteRevision,
		&n.ClockSkewMS, &n.DeadLetters, &n.OutboxOldestAt, &n.TabletsOnline)
	return n, err
}

// ListNodes returns a page of the organization's edge nodes, newest
// enrollment first.
func (s *Store) ListNodes(ctx context.Context, orgID string, f cloud.NodeFilter, p cloud.Page) ([]cloud.NodeStatus, string, error) {
	var q query
	q.where("organization_id = " + q.arg(orgID) + "::uuid")
	none, err := q.sites("site_id", f.SiteIDs, f.SiteID)
	if err != nil {
		return nil, "", err
	}
	if none {
		return []cloud.NodeStatus{}, "", nil
	}
	if !f.IncludeRevoked {
		q.where("revoked_at IS NULL")
	}
	var nodes []cloud.NodeStatus
	var next string
	err = s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		nodes, next, err = newestFirst(ctx, tx, p, nodeStatusQuery+q.clause(), q.args, scanNodeStatus,
			func(n cloud.NodeStatus) (time.Time, string) { return n.EnrolledAt, n.ID })
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list edge nodes: %w", err)
	}
	return nodes, next, nil
}

// GetNode returns one edge node's status.
func (s *Store) GetNode(ctx context.Context, orgID, id string) (cloud.NodeStatus, error) {
	if err := checkPathID("edge node", id); err != nil {
		return cloud.NodeStatus{}, err
	}
	var n cloud.NodeStatus
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var err error
		n, err = getNode(ctx, tx, orgID, id)
		return err
	})
	return n, err
}

func getNode(ctx context.Context, tx pgx.Tx, orgID, id string) (cloud.NodeStatus, error) {
	n, err := scanNodeStatus(tx.QueryRow(ctx, nodeStatusQuery+`organization_id = $1 AND id = $2`, orgID, id))
	return n, notFound(err, "edge node", id)
}
