package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/internal/pantry"
)

// An edge enrolls once (sync invariant 10): an admin makes a one-time
// token for a site, a technician gives it to the box, and the box trades
// it for a node credential scoped to the site's organization and site.
// Tokens and credentials are opaque secrets that cloud/syncserver makes:
// the store keeps only their SHA-256 and finds them by it, through the
// pre-tenant lookups (lookup.go), before it knows their organization.

// CreateEnrollmentToken stores a one-time token, by its hash, that
// enrolls an edge node at site siteID for ttl. The result carries no
// token: the audit log records that one was made, never the token.
func (s *Store) CreateEnrollmentToken(ctx context.Context, orgID string, who cloud.Actor, siteID string, hash []byte, ttl time.Duration) (cloud.EnrollmentToken, error) {
	if err := checkPathID("site", siteID); err != nil {
		return cloud.EnrollmentToken{}, err
	}
	et := cloud.EnrollmentToken{ID: pantry.NewID(), SiteID: siteID}
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		site, err := getSite(ctx, tx, orgID, siteID, false)
		if err != nil {
			return err
		}
		if site.ArchivedAt != nil {
			return pantry.Errorf(pantry.EINVALID, "site %s is archived: restore it before enrolling a node", siteID)
		}
		if err := claimCredential(ctx, tx, credEnrollmentToken, orgID, hash); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO enrollment_tokens (organization_id, id, site_id, token_hash, expires_at, created_by)
			VALUES ($1, $2, $3, $4, now() + $5::interval, $6) RETURNING expires_at`,
			orgID, et.ID, siteID, hash, ttl, who.Type+":"+who.ID).Scan(&et.ExpiresAt); err != nil {
			return fmt.Errorf("insert enrollment token: %w", err)
		}
		return audit(ctx, tx, orgID, who, "enrollment_token.create", "enrollment_token", et.ID, nil, et)
	})
	if err != nil {
		return cloud.EnrollmentToken{}, fmt.Errorf("create enrollment token: %w", err)
	}
	return et, nil
}

// Enroll spends the one-time enrollment token whose hash is in.TokenHash
// and records a new node of its site with in.CredentialHash. now is the
// cloud's clock,
// which decides whether the token expired. The new node replaces the
// site's others, which are revoked in the same transaction: a site runs
// one edge, and re-enrolling a replaced (or stolen) box must shut out
// the old one. A used, expired or unknown token is EUNAUTHORIZED; of
// concurrent enrollments with one token exactly one succeeds (the token's
// row is locked, and the others find it used).
func (s *Store) Enroll(ctx context.Context, in cloud.Enrollment, now time.Time) (cloud.Node, error) {
	name, version, hash := in.Name, in.Version, in.TokenHash
	found, err := s.LookupEnrollmentToken(ctx, hash)
	if pantry.ErrorCode(err) == pantry.ENOTFOUND {
		return cloud.Node{}, cloud.ErrEnrollmentToken
	}
	if err != nil {
		return cloud.Node{}, fmt.Errorf("enroll: %w", err)
	}
	node := cloud.Node{OrgID: found.OrgID, SiteID: found.SiteID, ID: pantry.NewID()}
	err = s.InTenant(ctx, node.OrgID, func(tx pgx.Tx) error {
		tokenID, err := spendEnrollmentToken(ctx, tx, node, hash, now)
		if err != nil {
			return err
		}
		if err := claimCredential(ctx, tx, credEdgeNode, node.OrgID, in.CredentialHash); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO edge_nodes (organization_id, id, site_id, name, credential_hash, enrolled_at, last_seen_at, software_version)
			VALUES ($1, $2, $3, $4, $5, $6, $6, $7)`, node.OrgID, node.ID, node.SiteID, name, in.CredentialHash, now, version); err != nil {
			return fmt.Errorf("insert edge node: %w", err)
		}
		if err := takeOverWatermark(ctx, tx, node, in.PreviousNodeID); err != nil {
			return err
		}
		replaced, err := revokeSiteNodes(ctx, tx, node, now)
		if err != nil {
			return err
		}
		who := cloud.Actor{Type: "edge_node", ID: node.ID}
		return audit(ctx, tx, node.OrgID, who, "edge_node.enroll", "edge_node", node.ID, nil, map[string]any{
			"site_id": node.SiteID, "name": name, "software_version": version, "enrollment_token_id": tokenID, "replaced": replaced,
		})
	})
	if err != nil {
		return cloud.Node{}, fmt.Errorf("enroll: %w", err)
	}
	return node, nil
}

// takeOverWatermark gives the new node the watermark of the node its data
// directory was enrolled as before (syncproto.EnrollRequest.PreviousNodeID),
// if that node is of the same site: its outbox carries on, and starting
// the new node at 0 would make it push every event again. Any other
// previous node is ignored.
func takeOverWatermark(ctx context.Context, tx pgx.Tx, node cloud.Node, previous string) error {
	if previous == "" || !pantry.ValidID(previous) {
		return nil
	}
	_, err := tx.Exec(ctx, `UPDATE edge_nodes n SET applied_seq = p.applied_seq, edge_last_seq = p.edge_last_seq
		FROM edge_nodes p
		WHERE n.organization_id = $1 AND n.id = $2 AND p.organization_id = $1 AND p.id = $3 AND p.site_id = n.site_id`,
		node.OrgID, node.ID, previous)
	if err != nil {
		return fmt.Errorf("take over the previous node's watermark: %w", err)
	}
	return nil
}

// spendEnrollmentToken locks the token with hash, checks that it is
// neither used nor expired at now and that its site is not archived, and
// marks it used by node. It returns the token's id.
func spendEnrollmentToken(ctx context.Context, tx pgx.Tx, node cloud.Node, hash []byte, now time.Time) (string, error) {
	var id string
	var expires time.Time
	var used *time.Time
	// FOR UPDATE: a concurrent enrollment with the same token waits here,
	// then reads the token as this one leaves it (used).
	err := tx.QueryRow(ctx, `SELECT id, expires_at, used_at FROM enrollment_tokens
		WHERE organization_id = $1 AND site_id = $2 AND token_hash = $3 FOR UPDATE`, node.OrgID, node.SiteID, hash).
		Scan(&id, &expires, &used)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "", cloud.ErrEnrollmentToken
	case err != nil:
		return "", fmt.Errorf("lock enrollment token: %w", err)
	case used != nil:
		return "", pantry.Errorf(pantry.EUNAUTHORIZED, "this enrollment token has already been used")
	case !now.Before(expires):
		return "", pantry.Errorf(pantry.EUNAUTHORIZED, "this enrollment token expired at %s", expires.UTC().Format(time.RFC3339))
	}
	// Lock the site too: two enrollments at one site with two tokens
	// queue here, and the second revokes the first.
	site, err := getSite(ctx, tx, node.OrgID, node.SiteID, true)
	if err != nil {
		return "", err
	}
	if site.ArchivedAt != nil {
		return "", pantry.Errorf(pantry.EINVALID, "site %s is archived: restore it before enrolling a node", node.SiteID)
	}
	if _, err := tx.Exec(ctx, `UPDATE enrollment_tokens SET used_at = $3, node_id = $4 WHERE organization_id = $1 AND id = $2`,
		node.OrgID, id, now, node.ID); err != nil {
		return "", fmt.Errorf("spend enrollment token: %w", err)
	}
	return id, nil
}

// revokeSiteNodes revokes every node of node's site but node itself, and
// audits each. It returns their ids.
func revokeSiteNodes(ctx context.Context, tx pgx.Tx, node cloud.Node, now time.Time) ([]string, error) {
	reason := "replaced by node " + node.ID
	rows, _ := tx.Query(ctx, `UPDATE edge_nodes SET revoked_at = $4, revoked_reason = $5
		WHERE organization_id = $1 AND site_id = $2 AND id <> $3 AND revoked_at IS NULL RETURNING id::text`,
		node.OrgID, node.SiteID, node.ID, now, reason)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("revoke replaced nodes: %w", err)
	}
	who := cloud.Actor{Type: "edge_node", ID: node.ID}
	for _, id := range ids {
		if err := audit(ctx, tx, node.OrgID, who, "edge_node.revoke", "edge_node", id, nil,
			map[string]any{"revoked_at": now, "revoked_reason": reason}); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// RevokeNode revokes node nodeID: its credential stops working at once
// (the next push or pull, and a waiting pull at its next check). Revoking
// a revoked node changes nothing and succeeds.
func (s *Store) RevokeNode(ctx context.Context, orgID string, who cloud.Actor, nodeID string) (cloud.NodeStatus, error) {
	if err := checkPathID("edge node", nodeID); err != nil {
		return cloud.NodeStatus{}, err
	}
	var after cloud.NodeStatus
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		var revoked bool
		err := tx.QueryRow(ctx, `SELECT revoked_at IS NOT NULL FROM edge_nodes WHERE organization_id = $1 AND id = $2 FOR NO KEY UPDATE`,
			orgID, nodeID).Scan(&revoked)
		if err != nil {
			return notFound(err, "edge node", nodeID)
		}
		if !revoked {
			if _, err := tx.Exec(ctx, `UPDATE edge_nodes SET revoked_at = now(), revoked_reason = $3 WHERE organization_id = $1 AND id = $2`,
				orgID, nodeID, "revoked by "+who.Type+" "+who.ID); err != nil {
				return fmt.Errorf("revoke edge node: %w", err)
			}
		}
		if after, err = getNode(ctx, tx, orgID, nodeID); err != nil || revoked {
			return err
		}
		return audit(ctx, tx, orgID, who, "edge_node.revoke", "edge_node", nodeID, nil,
			map[string]any{"revoked_at": after.RevokedAt, "revoked_reason": after.RevokedReason})
	})
	if err != nil {
		return cloud.NodeStatus{}, fmt.Errorf("revoke edge node %s: %w", nodeID, err)
	}
	return after, nil
}
