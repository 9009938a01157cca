package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// An edge enrolls once (sync invariant 10): an admin makes a one-time
// token for a site, a technician gives it to the box, and the box trades
// it for a node credential scoped to the site's organization and site.
// Tokens and credentials are opaque secrets (auth.NewOpaqueSecret): the
// store keeps only their SHA-256 and finds them by it, through the
// pre-tenant lookups (lookup.go), before it knows their organization.

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

// errNodeCredential is the one answer to an unknown, revoked or
// mismatched node credential: telling them apart would tell whoever holds
// a credential whether it ever worked.
var errNodeCredential = pantry.Errorf(pantry.EUNAUTHORIZED, "invalid node credential")

// errEnrollmentToken answers a token the cloud does not know.
var errEnrollmentToken = pantry.Errorf(pantry.EUNAUTHORIZED, "unknown enrollment token")

// maxSecretLen bounds a presented token or credential before it is
// hashed: ours are 43 characters.
const maxSecretLen = 256

// CreateEnrollmentToken makes a one-time token that enrolls an edge node
// at site siteID, valid for ttl (0: DefaultEnrollmentTTL). The token is
// in the result only; the audit log records that it was made, never the
// token.
func (s *Store) CreateEnrollmentToken(ctx context.Context, orgID string, who Actor, siteID string, ttl time.Duration) (EnrollmentToken, error) {
	if err := checkPathID("site", siteID); err != nil {
		return EnrollmentToken{}, err
	}
	if ttl == 0 {
		ttl = DefaultEnrollmentTTL
	}
	if ttl < MinEnrollmentTTL || ttl > MaxEnrollmentTTL {
		return EnrollmentToken{}, pantry.Errorf(pantry.EINVALID, "an enrollment token lives between %s and %s, not %s",
			MinEnrollmentTTL, MaxEnrollmentTTL, ttl)
	}
	token, hash := auth.NewOpaqueSecret()
	et := EnrollmentToken{ID: pantry.NewID(), SiteID: siteID, Token: token}
	err := s.InTenant(ctx, orgID, func(tx pgx.Tx) error {
		site, err := getSite(ctx, tx, orgID, siteID, false)
		if err != nil {
			return err
		}
		if site.ArchivedAt != nil {
			return pantry.Errorf(pantry.EINVALID, "site %s is archived: restore it before enrolling a node", siteID)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO enrollment_tokens (organization_id, id, site_id, token_hash, expires_at, created_by)
			VALUES ($1, $2, $3, $4, now() + $5::interval, $6) RETURNING expires_at`,
			orgID, et.ID, siteID, hash, ttl, who.Type+":"+who.ID).Scan(&et.ExpiresAt); err != nil {
			return fmt.Errorf("insert enrollment token: %w", err)
		}
		shown := et
		shown.Token = "" // never in the audit log
		return audit(ctx, tx, orgID, who, "enrollment_token.create", "enrollment_token", et.ID, nil, shown)
	})
	if err != nil {
		return EnrollmentToken{}, fmt.Errorf("create enrollment token: %w", err)
	}
	return et, nil
}

// Enroll trades a one-time enrollment token for a new node's credential,
// returned this once: the store keeps its hash. now is the cloud's clock,
// which decides whether the token expired. The new node replaces the
// site's others, which are revoked in the same transaction: a site runs
// one edge, and re-enrolling a replaced (or stolen) box must shut out
// the old one. A used, expired or unknown token is EUNAUTHORIZED; of
// concurrent enrollments with one token exactly one succeeds (the token's
// row is locked, and the others find it used).
func (s *Store) Enroll(ctx context.Context, req syncproto.EnrollRequest, now time.Time) (syncproto.EnrollResponse, error) {
	name, version := strings.TrimSpace(req.Name), strings.TrimSpace(req.SoftwareVersion)
	if err := checkNodeText(name, version); err != nil {
		return syncproto.EnrollResponse{}, err
	}
	if req.Token == "" || len(req.Token) > maxSecretLen {
		return syncproto.EnrollResponse{}, errEnrollmentToken
	}
	hash := auth.HashSecret(req.Token)
	found, err := s.LookupEnrollmentToken(ctx, hash)
	if pantry.ErrorCode(err) == pantry.ENOTFOUND {
		return syncproto.EnrollResponse{}, errEnrollmentToken
	}
	if err != nil {
		return syncproto.EnrollResponse{}, fmt.Errorf("enroll: %w", err)
	}
	credential, credentialHash := auth.NewOpaqueSecret()
	node := Node{OrgID: found.OrgID, SiteID: found.SiteID, ID: pantry.NewID()}
	err = s.InTenant(ctx, node.OrgID, func(tx pgx.Tx) error {
		tokenID, err := spendEnrollmentToken(ctx, tx, node, hash, now)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO edge_nodes (organization_id, id, site_id, name, credential_hash, enrolled_at, last_seen_at, software_version)
			VALUES ($1, $2, $3, $4, $5, $6, $6, $7)`, node.OrgID, node.ID, node.SiteID, name, credentialHash, now, version); err != nil {
			return fmt.Errorf("insert edge node: %w", err)
		}
		if err := takeOverWatermark(ctx, tx, node, req.PreviousNodeID); err != nil {
			return err
		}
		replaced, err := revokeSiteNodes(ctx, tx, node, now)
		if err != nil {
			return err
		}
		who := Actor{Type: "edge_node", ID: node.ID}
		return audit(ctx, tx, node.OrgID, who, "edge_node.enroll", "edge_node", node.ID, nil, map[string]any{
			"site_id": node.SiteID, "name": name, "software_version": version, "enrollment_token_id": tokenID, "replaced": replaced,
		})
	})
	if err != nil {
		return syncproto.EnrollResponse{}, fmt.Errorf("enroll: %w", err)
	}
	return syncproto.EnrollResponse{
		Version: syncproto.Version, NodeID: node.ID, OrgID: node.OrgID, SiteID: node.SiteID,
		Credential: credential, ServerTime: now,
	}, nil
}

// takeOverWatermark gives the new node the watermark of the node its data
// directory was enrolled as before (syncproto.EnrollRequest.PreviousNodeID),
// if that node is of the same site: its outbox carries on, and starting
// the new node at 0 would make it push every event again. Any other
// previous node is ignored.
func takeOverWatermark(ctx context.Context, tx pgx.Tx, node Node, previous string) error {
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

// maxNodeTextLen bounds, in bytes, the name and software version an edge
// reports: syncproto's bound of 200 characters, at up to 4 bytes each.
const maxNodeTextLen = 4 * pantry.MaxNameLen

// checkNodeText checks the name and software version an edge reports.
func checkNodeText(name, version string) error {
	if err := pantry.CheckText("name", name, maxNodeTextLen); err != nil {
		return err
	}
	return pantry.CheckText("software_version", version, maxNodeTextLen)
}

// spendEnrollmentToken locks the token with hash, checks that it is
// neither used nor expired at now and that its site is not archived, and
// marks it used by node. It returns the token's id.
func spendEnrollmentToken(ctx context.Context, tx pgx.Tx, node Node, hash []byte, now time.Time) (string, error) {
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
		return "", errEnrollmentToken
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
func revokeSiteNodes(ctx context.Context, tx pgx.Tx, node Node, now time.Time) ([]string, error) {
	reason := "replaced by node " + node.ID
	rows, _ := tx.Query(ctx, `UPDATE edge_nodes SET revoked_at = $4, revoked_reason = $5
		WHERE organization_id = $1 AND site_id = $2 AND id <> $3 AND revoked_at IS NULL RETURNING id::text`,
		node.OrgID, node.SiteID, node.ID, now, reason)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("revoke replaced nodes: %w", err)
	}
	who := Actor{Type: "edge_node", ID: node.ID}
	for _, id := range ids {
		if err := audit(ctx, tx, node.OrgID, who, "edge_node.revoke", "edge_node", id, nil,
			map[string]any{"revoked_at": now, "revoked_reason": reason}); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// AuthenticateNode finds the node a credential belongs to. An unknown or
// revoked credential is EUNAUTHORIZED, with the same message for both.
// It runs on every push and pull, so it is one indexed lookup by the
// credential's hash and no transaction.
func (s *Store) AuthenticateNode(ctx context.Context, credential string) (Node, error) {
	if credential == "" || len(credential) > maxSecretLen {
		return Node{}, errNodeCredential
	}
	n, err := s.LookupEdgeNode(ctx, auth.HashSecret(credential))
	switch {
	case pantry.ErrorCode(err) == pantry.ENOTFOUND:
		return Node{}, errNodeCredential
	case err != nil:
		return Node{}, fmt.Errorf("authenticate node: %w", err)
	case n.RevokedAt != nil:
		return Node{}, errNodeCredential
	}
	return Node{OrgID: n.OrgID, SiteID: n.SiteID, ID: n.ID}, nil
}

// RevokeNode revokes node nodeID: its credential stops working at once
// (the next push or pull, and a waiting pull at its next check). Revoking
// a revoked node changes nothing and succeeds.
func (s *Store) RevokeNode(ctx context.Context, orgID string, who Actor, nodeID string) (NodeStatus, error) {
	if err := checkPathID("edge node", nodeID); err != nil {
		return NodeStatus{}, err
	}
	var after NodeStatus
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
		return NodeStatus{}, fmt.Errorf("revoke edge node %s: %w", nodeID, err)
	}
	return after, nil
}
