package web

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/pantry"
)

// Dead letters (sync invariant 3): events a building's edge node pushed
// that the cloud could not apply, kept whole with the reason. Anyone who
// reads may look at those of the sites they see (the API's GET
// /dead-letters); applying one again changes a site's data
// (auth.ActionWriteSite, as the API's POST …/reapply asks).

type adminDeadLettersPage struct {
	*view
	Letters   []cloud.DeadLetter
	SiteNames map[string]string
	NodeNames map[string]string
	All       bool   // every dead letter, not only the open ones
	Node      string // one node's, or "" for all
	Next      string
	Now       timeNow
}

func (a *app) handleAdminDeadLetters(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Title, v.Nav = "Dead letters", "admin"
	p := v.principal()
	if err := p.Can(auth.ActionRead, ""); err != nil {
		return a.errorPage(c, v, err)
	}
	scope, err := p.Scope("")
	if err != nil {
		return a.errorPage(c, v, err)
	}
	page := adminDeadLettersPage{view: v, All: c.Query("show") == "all", Node: c.Query("node_id"), Now: timeNow{a.Now()}}
	if page.Node != "" && !pantry.ValidID(page.Node) {
		return a.errorPage(c, v, pantry.Errorf(pantry.EINVALID, "node %q is not a node id", page.Node))
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	page.Letters, page.Next, err = a.Nodes.ListDeadLetters(ctx, p.OrgID,
		cloud.DeadLetterFilter{NodeID: page.Node, Open: !page.All, SiteIDs: scope},
		cloud.Page{Limit: cloud.DefaultPageSize, Cursor: c.Query("cursor")})
	if err != nil {
		return a.errorPage(c, v, err)
	}
	if page.SiteNames, page.NodeNames, err = a.fleetNames(ctx, p.OrgID, scope); err != nil {
		return a.errorPage(c, v, err)
	}
	return render(c, fiber.StatusOK, "admin_dead_letters.html", page)
}

// fleetNames names the sites and edge nodes (revoked ones too) in scope.
func (a *app) fleetNames(ctx context.Context, orgID string, scope []string) (sites, nodes map[string]string, err error) {
	ss, _, err := a.Sites.ListSites(ctx, orgID, scope, cloud.Page{Limit: cloud.MaxPageSize})
	if err != nil {
		return nil, nil, err
	}
	ns, _, err := a.Nodes.ListNodes(ctx, orgID, cloud.NodeFilter{SiteIDs: scope, IncludeRevoked: true}, cloud.Page{Limit: cloud.MaxPageSize})
	if err != nil {
		return nil, nil, err
	}
	nodes = make(map[string]string, len(ns))
	for _, n := range ns {
		nodes[n.ID] = n.Name
	}
	return adminSiteNames(ss), nodes, nil
}

type adminDeadLetterPage struct {
	*view
	Letter  cloud.DeadLetter
	Site    string
	Node    string
	Payload string
	NotJSON bool   // the payload was not JSON: shown as the edge sent it
	Error   string // why re-applying it was refused just now
	Reapply bool   // the person may apply it again
	Now     timeNow
}

// deadLetterPage loads the dead letter of the path for p: one of a site
// p cannot see is not found, as another organization's is.
func (a *app) deadLetterPage(ctx context.Context, c *fiber.Ctx, v *view) (adminDeadLetterPage, error) {
	v.Title, v.Nav = "Dead letter", "admin"
	p := v.principal()
	if err := p.Can(auth.ActionRead, ""); err != nil {
		return adminDeadLetterPage{}, err
	}
	id := c.Params("dead_letter_id")
	d, err := a.Nodes.GetDeadLetter(ctx, p.OrgID, id)
	if err == nil && !p.CanSeeSite(d.SiteID) {
		err = pantry.Errorf(pantry.ENOTFOUND, "dead letter %s not found", id)
	}
	if err != nil {
		return adminDeadLetterPage{}, err
	}
	page := adminDeadLetterPage{view: v, Letter: d, Reapply: p.Can(auth.ActionWriteSite, "") == nil, Now: timeNow{a.Now()}}
	page.Payload, page.NotJSON = prettyPayload(d)
	if s, err := a.Sites.GetSite(ctx, p.OrgID, d.SiteID); err == nil {
		page.Site = s.Name
	}
	if n, err := a.Nodes.GetNode(ctx, p.OrgID, d.NodeID); err == nil {
		page.Node = n.Name
	}
	v.Title = "Dead letter: " + d.EventType + " #" + strconv.FormatInt(d.Seq, 10)
	return page, nil
}

// prettyPayload is a dead letter's payload as text: indented JSON, or
// the bytes the edge sent if they are not JSON.
func prettyPayload(d cloud.DeadLetter) (text string, notJSON bool) {
	if !json.Valid(d.Raw) {
		return string(bytes.ToValidUTF8(d.Raw, []byte("\uFFFD"))), true
	}
	var b bytes.Buffer
	if err := json.Indent(&b, d.Raw, "", "  "); err != nil {
		return string(d.Raw), false
	}
	return b.String(), false
}

func (a *app) handleAdminDeadLetter(c *fiber.Ctx) error {
	v := viewOf(c)
	ctx, cancel := a.ctx(c)
	defer cancel()
	page, err := a.deadLetterPage(ctx, c, v)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	return render(c, fiber.StatusOK, "admin_dead_letter.html", page)
}

// handleAdminReapply applies a dead letter again (the API's POST
// /dead-letters/:id/reapply). If it applies, the page says so; if it
// still cannot, the page shows why, with 409, and the dead letter stays
// open with that reason as its last error.
func (a *app) handleAdminReapply(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Title, v.Nav = "Dead letter", "admin"
	p := v.principal()
	if err := p.Can(auth.ActionWriteSite, ""); err != nil {
		return a.errorPage(c, v, err)
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	id := c.Params("dead_letter_id")
	d, err := a.Sync.ReapplyDeadLetter(ctx, p.OrgID, adminActor(p), id)
	if err == nil {
		return a.done(c, "/admin/dead-letters/"+d.ID, "Applied: the "+d.EventType+" event is now part of the site's data.")
	}
	if pantry.ErrorCode(err) != pantry.ECONFLICT {
		return a.errorPage(c, v, err)
	}
	page, perr := a.deadLetterPage(ctx, c, v)
	if perr != nil {
		return a.errorPage(c, v, perr)
	}
	page.Error = adminSentence(pantry.ErrorMessage(err))
	return render(c, fiber.StatusConflict, "admin_dead_letter.html", page)
}
