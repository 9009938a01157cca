package api

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/httpx"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// The sync endpoints (syncproto) and the admin routes that look after
// edge nodes: enrollment tokens, node health, dead letters.

// syncError answers an error of a sync endpoint in syncproto's shape: the
// API's own codes, plus sync_gap (with resume_from) and
// unsupported_version, which the API has no code for.
func syncError(c *fiber.Ctx, err error) error {
	var gap *cloud.GapError
	var ve *syncproto.VersionError
	var body syncproto.ErrorBody
	status := fiber.StatusBadRequest
	switch {
	case errors.As(err, &gap):
		status, body.Error = fiber.StatusConflict, syncproto.ErrorDetail{Code: syncproto.ErrGap, Message: gap.Error(), ResumeFrom: gap.ResumeFrom}
	case errors.As(err, &ve):
		body.Error = syncproto.ErrorDetail{Code: syncproto.ErrVersion, Message: ve.Error()}
	case errors.Is(err, syncproto.ErrBodyTooLarge):
		status, body.Error = fiber.StatusRequestEntityTooLarge, syncproto.ErrorDetail{Code: syncproto.ErrTooLarge,
			Message: "the message is over " + strconv.Itoa(syncproto.MaxBodyBytes>>20) + " MiB (or inflates past " + strconv.Itoa(syncproto.MaxDecodedBytes>>20) + " MiB): send smaller batches"}
	default:
		return err // a domain error: the error handler answers it
	}
	return c.Status(status).JSON(body)
}

// announceCapability names this cloud's sync capability in every sync
// answer, errors included, so that an edge sends a request field only
// to a cloud that decodes it (syncproto/capability.go).
func announceCapability(c *fiber.Ctx) error {
	c.Set(syncproto.HeaderCapability, strconv.Itoa(syncproto.Capability))
	return c.Next()
}

// decodeSync reads a sync request body, gzip-compressed or not, and
// validates it: a malformed message is a 400 naming what is wrong.
func decodeSync[T interface{ Validate() error }](c *fiber.Ctx, v T) error {
	gz := strings.EqualFold(strings.TrimSpace(c.Get(fiber.HeaderContentEncoding)), "gzip")
	if enc := c.Get(fiber.HeaderContentEncoding); enc != "" && !gz && !strings.EqualFold(enc, "identity") {
		return pantry.Errorf(pantry.EINVALID, "Content-Encoding %q is not supported: send gzip or nothing", enc)
	}
	// The raw body: fiber's c.Body() would inflate it already, without
	// syncproto's bound on what a body may inflate to.
	if err := syncproto.Decode(c.Request().Body(), gz, v); err != nil {
		var ve *syncproto.VersionError
		if errors.As(err, &ve) || errors.Is(err, syncproto.ErrBodyTooLarge) {
			return err
		}
		return pantry.Errorf(pantry.EINVALID, "malformed sync message: %s", strings.TrimPrefix(err.Error(), "decode sync message: "))
	}
	if err := v.Validate(); err != nil {
		var ve *syncproto.VersionError
		if errors.As(err, &ve) {
			return err
		}
		return pantry.Errorf(pantry.EINVALID, "invalid sync message: %s", err.Error())
	}
	return nil
}

// authenticateNode admits a request with an edge node's credential and
// stores the node. A refused credential is logged: it is either a box
// that was replaced and still runs, or someone trying.
func (a *app) authenticateNode(c *fiber.Ctx) error {
	cred := bearer(c)
	if cred == "" {
		return syncError(c, pantry.Errorf(pantry.EUNAUTHORIZED, "an edge node credential is required"))
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	node, err := a.Sync.AuthenticateNode(ctx, cred)
	if err != nil {
		if pantry.ErrorCode(err) == pantry.EUNAUTHORIZED {
			a.Log.Warn("sync: refused node credential", "path", c.Path(), "addr", c.IP())
		}
		return err
	}
	c.Locals("node", node)
	return c.Next()
}

func nodeOf(c *fiber.Ctx) cloud.Node { return c.Locals("node").(cloud.Node) }

// checkNodeID refuses a message naming another node than the credential
// does: a node acts only as itself, for its own site (sync invariant 10).
func (a *app) checkNodeID(c *fiber.Ctx, node cloud.Node, claimed string) error {
	if claimed == node.ID {
		return nil
	}
	a.Log.Warn("sync: node acting as another node refused", "node_id", node.ID, "org_id", node.OrgID,
		"site_id", node.SiteID, "claimed_node_id", claimed, "path", c.Path(), "addr", c.IP())
	return pantry.Errorf(pantry.EFORBIDDEN, "this credential belongs to node %s, not %s", node.ID, claimed)
}

func (a *app) handleEnroll(c *fiber.Ctx) error {
	var req syncproto.EnrollRequest
	if err := decodeSync(c, &req); err != nil {
		return syncError(c, err)
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	resp, err := a.Sync.Enroll(ctx, req)
	if err != nil {
		if pantry.ErrorCode(err) == pantry.EUNAUTHORIZED {
			a.Log.Warn("sync: enrollment refused", "addr", c.IP(), "err", err)
		}
		return err
	}
	a.Log.Info("sync: node enrolled", "node_id", resp.NodeID, "org_id", resp.OrgID, "site_id", resp.SiteID, "name", req.Name)
	return c.Status(fiber.StatusCreated).JSON(resp)
}

func (a *app) handlePush(c *fiber.Ctx) error {
	var req syncproto.PushRequest
	if err := decodeSync(c, &req); err != nil {
		return syncError(c, err)
	}
	node := nodeOf(c)
	if err := a.checkNodeID(c, node, req.NodeID); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resp, err := a.Sync.Push(ctx, node, req)
	if err != nil {
		return syncError(c, err)
	}
	a.metrics.syncEvents.Add(float64(len(req.Events)))
	return c.JSON(resp)
}

// handlePull answers with what changed for the node's site, holding the
// request up to wait_seconds while nothing has (long poll): an admin's
// edit reaches an online building within a second or two.
func (a *app) handlePull(c *fiber.Ctx) error {
	var req syncproto.PullRequest
	if err := decodeSync(c, &req); err != nil {
		return syncError(c, err)
	}
	node := nodeOf(c)
	if err := a.checkNodeID(c, node, req.NodeID); err != nil {
		return err
	}
	wait := time.Duration(req.WaitSeconds) * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), wait+30*time.Second)
	defer cancel()
	resp, err := a.Sync.Pull(ctx, node, req)
	if err != nil {
		return err
	}
	// Only the fields the edge says it decodes: an older edge refuses
	// the others, and with them the whole page.
	resp.Config = resp.Config.ForCapability(syncproto.ParseCapability(c.Get(syncproto.HeaderCapability)))
	gz := strings.Contains(c.Get(fiber.HeaderAcceptEncoding), "gzip") && (resp.Config != nil || len(resp.Stock) > 100)
	body, err := syncproto.Encode(resp, gz)
	if err != nil {
		return err
	}
	if gz {
		c.Set(fiber.HeaderContentEncoding, "gzip")
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(body)
}

// handleNode tells the calling node what the cloud knows of it. The node
// is the credential's: the request names none, so it cannot ask about
// another.
func (a *app) handleNode(c *fiber.Ctx) error {
	ctx, cancel := a.ctx(c)
	defer cancel()
	info, err := a.Sync.Node(ctx, nodeOf(c))
	if err != nil {
		return syncError(c, err)
	}
	return c.JSON(info)
}

// handleCreateEnrollmentToken makes a one-time token a technician gives
// `pantry edge init` to enroll the site's edge node.
func (a *app) handleCreateEnrollmentToken(c *fiber.Ctx) error {
	var req struct {
		TTLSeconds int64 `json:"ttl_seconds"` // default 24 h
	}
	if len(c.Body()) > 0 {
		if err := httpx.DecodeJSON(c.Body(), &req); err != nil {
			return err
		}
	}
	site := c.Params("site_id")
	p, err := can(c, auth.ActionEnrollNode, site)
	if err != nil {
		return err
	}
	if req.TTLSeconds < 0 || req.TTLSeconds > int64(7*24*time.Hour/time.Second) {
		return pantry.Errorf(pantry.EINVALID, "ttl_seconds must be between 60 and %d", int64(7*24*time.Hour/time.Second))
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	t, err := a.Sync.CreateEnrollmentToken(ctx, p.OrgID, actor(p), site, time.Duration(req.TTLSeconds)*time.Second)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(t)
}

func (a *app) handleListNodes(c *fiber.Ctx) error {
	return listPage(a, c, "nodes", auth.ActionRead, "", func(ctx context.Context, p auth.Principal, pg cloud.Page) ([]cloud.NodeStatus, string, error) {
		scope, site, err := siteScope(c, p)
		if err != nil {
			return nil, "", err
		}
		revoked, err := boolQuery(c, "include_revoked")
		if err != nil {
			return nil, "", err
		}
		return a.Nodes.ListNodes(ctx, p.OrgID, cloud.NodeFilter{SiteIDs: scope, SiteID: site, IncludeRevoked: revoked}, pg)
	})
}

func (a *app) handleGetNode(c *fiber.Ctx) error {
	p, err := can(c, auth.ActionRead, "")
	if err != nil {
		return err
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	n, err := a.Nodes.GetNode(ctx, p.OrgID, c.Params("node_id"))
	if err != nil {
		return err
	}
	if !p.CanSeeSite(n.SiteID) {
		return pantry.Errorf(pantry.ENOTFOUND, "node %s not found", c.Params("node_id"))
	}
	return c.JSON(n)
}

// handleRevokeNode refuses a node's credential from now on (a stolen or
// retired box). Re-enrolling a site revokes its previous node by itself.
func (a *app) handleRevokeNode(c *fiber.Ctx) error {
	p, err := can(c, auth.ActionEnrollNode, "")
	if err != nil {
		return err
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	n, err := a.Nodes.RevokeNode(ctx, p.OrgID, actor(p), c.Params("node_id"))
	if err != nil {
		return err
	}
	return c.JSON(n)
}

func (a *app) handleListDeadLetters(c *fiber.Ctx) error {
	return listPage(a, c, "dead_letters", auth.ActionRead, "", func(ctx context.Context, p auth.Principal, pg cloud.Page) ([]cloud.DeadLetter, string, error) {
		scope, _, err := siteScope(c, p)
		if err != nil {
			return nil, "", err
		}
		open, err := boolQuery(c, "open")
		if err != nil {
			return nil, "", err
		}
		node := c.Query("node_id")
		if node != "" && !pantry.ValidID(node) {
			return nil, "", pantry.Errorf(pantry.EINVALID, "node_id %q is not a UUID", node)
		}
		return a.Nodes.ListDeadLetters(ctx, p.OrgID, cloud.DeadLetterFilter{NodeID: node, Open: open, SiteIDs: scope}, pg)
	})
}

// handleReapplyDeadLetter applies a dead letter again, after whatever
// kept it from applying has been fixed (a missing item created, the cloud
// upgraded).
func (a *app) handleReapplyDeadLetter(c *fiber.Ctx) error {
	p, err := can(c, auth.ActionWriteSite, "")
	if err != nil {
		return err
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	d, err := a.Sync.ReapplyDeadLetter(ctx, p.OrgID, actor(p), c.Params("dead_letter_id"))
	if err != nil {
		return err
	}
	return c.JSON(d)
}

// boolQuery reads an optional true/false query parameter.
func boolQuery(c *fiber.Ctx, name string) (bool, error) {
	switch c.Query(name) {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, pantry.Errorf(pantry.EINVALID, "%s must be true or false", name)
}
