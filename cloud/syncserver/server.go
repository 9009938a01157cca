// Package syncserver is the cloud's side of replication (syncproto), its
// policy in one place: enrolling and authenticating edge nodes, applying
// pushes exactly once (the watermark, the gap rule and its retry, poison
// events kept as dead letters and applied again on request), and serving
// a site's feed with long polling. The SQL is the store's (cloud/postgres),
// behind Store; the HTTP is cloud/api's, which calls a *Server as its
// cloud.SyncService.
package syncserver

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/buildinfo"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// Store is what the sync server needs from the database.
type Store interface {
	// LookupEdgeNode finds a node by its credential's hash (ENOTFOUND).
	LookupEdgeNode(ctx context.Context, hash []byte) (cloud.EdgeNodeLookup, error)
	// CreateEnrollmentToken stores a one-time token by its hash.
	CreateEnrollmentToken(ctx context.Context, orgID string, who cloud.Actor, siteID string, hash []byte, ttl time.Duration) (cloud.EnrollmentToken, error)
	// Enroll spends a token and records a new node, revoking the site's others.
	Enroll(ctx context.Context, in cloud.Enrollment, now time.Time) (cloud.Node, error)
	// InPush runs fn in a transaction holding the node's lock.
	InPush(ctx context.Context, node cloud.Node, now time.Time, fn func(cloud.PushTx) error) error
	// ReapplyDeadLetter applies a dead letter again with apply.
	ReapplyDeadLetter(ctx context.Context, orgID string, who cloud.Actor, id string, apply cloud.ReapplyFunc) (cloud.DeadLetter, error)
	// Pull reads one page of the node's site feed and records the contact.
	Pull(ctx context.Context, node cloud.Node, req syncproto.PullRequest, now time.Time) (syncproto.PullResponse, error)
	// WaitForChange waits until the site's feed moves past after.
	WaitForChange(ctx context.Context, node cloud.Node, after syncproto.Cursor, wait time.Duration) (bool, error)
	// NodeInfo reads the node's watermark and open dead letters.
	NodeInfo(ctx context.Context, node cloud.Node) (syncproto.NodeInfo, error)
}

// Server is the sync server; it keeps no state of its own, so every cloud
// instance runs one against the shared database.
type Server struct {
	store     Store
	now       func() time.Time
	aheadWait time.Duration
	stop      <-chan struct{}
}

var _ cloud.SyncService = (*Server)(nil)

// Options configure a Server; the zero value is the production one.
type Options struct {
	// Now is the cloud's clock (default time.Now), which decides whether
	// a token expired and is recorded as each node's last contact.
	Now func() time.Time
	// AheadWait bounds how long a push that starts past the node's
	// watermark is tried again, waiting for the pushes before it to land,
	// before it is answered with a gap (default 2 s).
	AheadWait time.Duration
	// Stop, when closed, ends every long poll at once with what it has
	// (nothing new): an instance shutting down does not hold its edge
	// nodes' pulls for their whole wait (up to 30 s), and they poll again
	// through another instance. Nil: never.
	Stop <-chan struct{}
}

// New returns a sync server over store.
func New(store Store, opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.AheadWait <= 0 {
		opts.AheadWait = defaultAheadWait
	}
	return &Server{store: store, now: opts.Now, aheadWait: opts.AheadWait, stop: opts.Stop}
}

// maxSecretLen bounds a presented token or credential before it is
// hashed: ours are 43 characters.
const maxSecretLen = 256

// CreateEnrollmentToken makes a one-time token that enrolls an edge node
// at site siteID, valid for ttl (0: cloud.DefaultEnrollmentTTL). The token
// is in the result only: the store keeps its hash.
func (s *Server) CreateEnrollmentToken(ctx context.Context, orgID string, who cloud.Actor, siteID string, ttl time.Duration) (cloud.EnrollmentToken, error) {
	if ttl == 0 {
		ttl = cloud.DefaultEnrollmentTTL
	}
	if ttl < cloud.MinEnrollmentTTL || ttl > cloud.MaxEnrollmentTTL {
		return cloud.EnrollmentToken{}, pantry.Errorf(pantry.EINVALID, "an enrollment token lives between %s and %s, not %s",
			cloud.MinEnrollmentTTL, cloud.MaxEnrollmentTTL, ttl)
	}
	token, hash := auth.NewOpaqueSecret()
	et, err := s.store.CreateEnrollmentToken(ctx, orgID, who, siteID, hash, ttl)
	if err != nil {
		return cloud.EnrollmentToken{}, err
	}
	et.Token = token
	return et, nil
}

// Enroll trades a one-time enrollment token for a new node's credential,
// returned this once: the store keeps its hash. The new node replaces the
// site's others. A used, expired or unknown token is EUNAUTHORIZED.
func (s *Server) Enroll(ctx context.Context, req syncproto.EnrollRequest) (syncproto.EnrollResponse, error) {
	now := s.now()
	name, version := strings.TrimSpace(req.Name), strings.TrimSpace(req.SoftwareVersion)
	if err := checkNodeText(name, version); err != nil {
		return syncproto.EnrollResponse{}, err
	}
	if req.Token == "" || len(req.Token) > maxSecretLen {
		return syncproto.EnrollResponse{}, cloud.ErrEnrollmentToken
	}
	credential, credentialHash := auth.NewOpaqueSecret()
	node, err := s.store.Enroll(ctx, cloud.Enrollment{
		TokenHash: auth.HashSecret(req.Token), CredentialHash: credentialHash,
		Name: name, Version: version, PreviousNodeID: req.PreviousNodeID,
	}, now)
	if err != nil {
		return syncproto.EnrollResponse{}, err
	}
	return syncproto.EnrollResponse{
		Version: syncproto.Version, NodeID: node.ID, OrgID: node.OrgID, SiteID: node.SiteID,
		Credential: credential, ServerTime: now,
	}, nil
}

// checkNodeText checks the name and software version an edge reports.
func checkNodeText(name, version string) error {
	if err := pantry.CheckText("name", name, cloud.MaxNodeTextLen); err != nil {
		return err
	}
	return pantry.CheckText("software_version", version, cloud.MaxNodeTextLen)
}

// AuthenticateNode finds the node a credential belongs to. An unknown or
// revoked credential is EUNAUTHORIZED, with the same message for both.
// It runs on every push and pull, so it is one indexed lookup by the
// credential's hash and no transaction.
func (s *Server) AuthenticateNode(ctx context.Context, credential string) (cloud.Node, error) {
	if credential == "" || len(credential) > maxSecretLen {
		return cloud.Node{}, cloud.ErrNodeCredential
	}
	n, err := s.store.LookupEdgeNode(ctx, auth.HashSecret(credential))
	switch {
	case pantry.ErrorCode(err) == pantry.ENOTFOUND:
		return cloud.Node{}, cloud.ErrNodeCredential
	case err != nil:
		return cloud.Node{}, fmt.Errorf("authenticate node: %w", err)
	case n.RevokedAt != nil:
		return cloud.Node{}, cloud.ErrNodeCredential
	}
	return cloud.Node{OrgID: n.OrgID, SiteID: n.SiteID, ID: n.ID}, nil
}

// Pull answers with what changed for the node's site after req.Cursor,
// holding the request up to req.WaitSeconds while nothing has (long
// poll): an admin's edit reaches an online building within a second or
// two.
func (s *Server) Pull(ctx context.Context, node cloud.Node, req syncproto.PullRequest) (syncproto.PullResponse, error) {
	resp, err := s.store.Pull(ctx, node, req, s.now())
	if err != nil || resp.Config != nil || len(resp.Stock) > 0 || req.WaitSeconds <= 0 {
		return resp, err
	}
	waitCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if s.stop != nil {
		go func() {
			select {
			case <-s.stop:
				cancel()
			case <-waitCtx.Done():
			}
		}()
	}
	changed, err := s.store.WaitForChange(waitCtx, node, resp.Cursor, time.Duration(req.WaitSeconds)*time.Second)
	if err != nil && ctx.Err() == nil && waitCtx.Err() != nil {
		return resp, nil // stopping: nothing new, as at the end of the wait
	}
	if err != nil || !changed {
		return resp, err
	}
	return s.store.Pull(ctx, node, req, s.now())
}

// Node answers what the cloud knows of node, for the node itself: its
// watermark (an edge restored from a backup renumbers what it wrote since
// by it), its open dead letters and this cloud's build. A revoked node is
// EUNAUTHORIZED.
func (s *Server) Node(ctx context.Context, node cloud.Node) (syncproto.NodeInfo, error) {
	info, err := s.store.NodeInfo(ctx, node)
	if err != nil {
		return syncproto.NodeInfo{}, err
	}
	info.Version, info.CloudVersion, info.ServerTime = syncproto.Version, buildinfo.Version(), s.now().UTC()
	return info, nil
}

// ReapplyDeadLetter applies a dead letter's event again, decoded anew (a
// newer cloud may understand it now), as a push would apply it. If it
// still cannot be applied, nothing of it is written and the answer is
// ECONFLICT; a dead letter already re-applied is ECONFLICT, an unknown
// one ENOTFOUND.
func (s *Server) ReapplyDeadLetter(ctx context.Context, orgID string, who cloud.Actor, id string) (cloud.DeadLetter, error) {
	return s.store.ReapplyDeadLetter(ctx, orgID, who, id, reapply)
}

// reapply applies one event as a push would, and returns why it still
// cannot be applied ("" if it was).
func reapply(ctx context.Context, w cloud.EventWriter, e syncproto.Event) (string, error) {
	dead, err := applyEvents(ctx, w, []cloud.PushEvent{decodeEvent(e)})
	if err != nil || len(dead) == 0 {
		return "", err
	}
	return dead[0].Reason, nil
}
