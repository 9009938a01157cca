package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/syncproto"
)

// NodeInfo reads what the cloud knows of node, for the node itself (GET
// /sync/v1/node): its watermark and its dead letters not yet re-applied.
// It reads in the node's organization's transaction, so row-level
// security keeps every other tenant's nodes out of sight, and it names
// the node's site and id as its credential does: a node learns of itself
// only. A revoked node, or one that is not what its credential names, is
// EUNAUTHORIZED. It records no contact: asking is not syncing. Version,
// CloudVersion and ServerTime are the caller's to fill in.
func (s *Store) NodeInfo(ctx context.Context, node cloud.Node) (syncproto.NodeInfo, error) {
	if err := checkNode(node); err != nil {
		return syncproto.NodeInfo{}, err
	}
	info := syncproto.NodeInfo{NodeID: node.ID, SiteID: node.SiteID}
	err := s.inTenantTx(ctx, node.OrgID, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var revoked bool
		// The subquery names the organization as $1, not as
		// n.organization_id: Citus 13.2 prunes a correlated subquery's
		// shards by its own filters only, and with the outer column it
		// plans the statement for every shard (a multi-shard query, which
		// TestCitusRouting refuses). On PostgreSQL the two are the same.
		err := tx.QueryRow(ctx, `SELECT n.applied_seq, n.revoked_at IS NOT NULL,
			(SELECT count(*) FROM dead_letters d
				WHERE d.organization_id = $1 AND d.node_id = n.id AND d.reapplied_at IS NULL)
			FROM edge_nodes n WHERE n.organization_id = $1 AND n.site_id = $2 AND n.id = $3`,
			node.OrgID, node.SiteID, node.ID).Scan(&info.AppliedSeq, &revoked, &info.DeadLetters)
		switch {
		case errors.Is(err, pgx.ErrNoRows), err == nil && revoked:
			return cloud.ErrNodeCredential
		case err != nil:
			return fmt.Errorf("read node: %w", err)
		}
		return nil
	})
	if err != nil {
		return syncproto.NodeInfo{}, fmt.Errorf("node info for %s: %w", node.ID, err)
	}
	return info, nil
}
