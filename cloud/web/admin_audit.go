package web

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
)

// The audit log (auth.ActionReadAudit, as the API's GET /audit-log):
// newest first, a page at a time, with the API's filters (what kind of
// record, which record, who, from and to a day), each entry saying who
// did what, when, and what changed.

// auditResources are the kinds of record the audit log names, in words.
var auditResources = []struct{ Value, Title string }{
	{"api_key", "API key"}, {"cost_center", "Cost center"}, {"coupon", "Coupon"}, {"dead_letter", "Dead letter"},
	{"edge_node", "Edge node"}, {"enrollment_token", "Enrollment token"}, {"item", "Item"}, {"menu", "Menu"},
	{"par_levels", "Par levels"}, {"site", "Site"}, {"sso_config", "Single sign-on settings"}, {"space", "Room"},
	{"stock_movement", "Stock movement"}, {"tablet", "Tablet"}, {"user", "User"},
}

// auditVerbs say what an action's last word did.
var auditVerbs = map[string]string{
	"create": "created", "update": "changed", "revoke": "revoked", "reapply": "re-applied", "put": "replaced",
	"enroll": "enrolled", "set": "set", "delete": "deleted", "archive": "archived",
}

// resourceTitle is a kind of record in words.
func resourceTitle(r string) string {
	for _, res := range auditResources {
		if res.Value == r {
			return res.Title
		}
	}
	return title(r)
}

// auditRow is one entry as the page shows it.
type auditRow struct {
	cloud.AuditEntry
	Who, What string
	Diff      auditDiff
}

type adminAuditPage struct {
	*view
	Rows      []auditRow
	Form      form
	Resources []struct{ Value, Title string }
	Actors    []auditActor
	Next      string // the next page's link, "" on the last
}

// auditActor is someone the filter can choose.
type auditActor struct{ ID, Name string }

// auditFilter reads the filter form: RFC 3339 days become the half-open
// range the API takes (from the start of the first day to the end of
// the last, UTC).
func auditFilter(f form) (cloud.AuditFilter, form) {
	out := cloud.AuditFilter{Resource: f.Value("resource"), ResourceID: f.Value("resource_id"), ActorID: f.Value("actor_id")}
	day := func(name string) time.Time {
		v := f.Value(name)
		if v == "" {
			return time.Time{}
		}
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			f.Errors[name] = "Write the day as YYYY-MM-DD, e.g. 2026-11-25."
		}
		return t
	}
	out.From, out.To = day("from"), day("to")
	if !out.To.IsZero() {
		out.To = out.To.AddDate(0, 0, 1)
	}
	if !out.From.IsZero() && !out.To.IsZero() && !out.From.Before(out.To) {
		f.Errors["to"] = "The last day must not come before the first."
	}
	return out, f
}

func (a *app) handleAdminAudit(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Title, v.Nav = "Audit log", "admin"
	p := v.principal()
	if err := p.Can(auth.ActionReadAudit, ""); err != nil {
		return a.errorPage(c, v, err)
	}
	f := form{Values: map[string]string{}, Errors: map[string]string{}}
	for _, name := range []string{"resource", "resource_id", "actor_id", "from", "to"} {
		f.Values[name] = strings.TrimSpace(c.Query(name))
	}
	filter, f := auditFilter(f)
	ctx, cancel := a.ctx(c)
	defer cancel()
	names, actors, err := a.auditNames(ctx, p.OrgID)
	if err != nil {
		return a.errorPage(c, v, err)
	}
	page := adminAuditPage{view: v, Form: f, Resources: auditResources, Actors: actors}
	if f.Refused() {
		return render(c, fiber.StatusBadRequest, "admin_audit.html", page)
	}
	entries, next, err := a.Audit.ListAudit(ctx, p.OrgID, filter, cloud.Page{Limit: cloud.DefaultPageSize, Cursor: c.Query("cursor")})
	if err != nil {
		page.Form = f.refuse(err)
		return a.adminRefused(c, v, err, "admin_audit.html", page)
	}
	for _, e := range entries {
		page.Rows = append(page.Rows, auditRow{AuditEntry: e, Who: auditWho(e, names), What: auditWhat(e), Diff: diffAudit(e.Before, e.After)})
	}
	if next != "" {
		q := url.Values{"cursor": {next}}
		for name, value := range f.Values {
			if value != "" {
				q.Set(name, value)
			}
		}
		page.Next = "/admin/audit?" + q.Encode()
	}
	return render(c, fiber.StatusOK, "admin_audit.html", page)
}

// auditMaxNames bounds the people and keys the page names: beyond them
// an entry shows an id.
const auditMaxNames = cloud.MaxPageSize

// auditNames names the organization's users and API keys by id, and
// lists the users for the filter.
func (a *app) auditNames(ctx context.Context, orgID string) (map[string]string, []auditActor, error) {
	names := map[string]string{}
	var actors []auditActor
	users, _, err := a.Users.ListUsers(ctx, orgID, cloud.Page{Limit: auditMaxNames})
	if err != nil {
		return nil, nil, err
	}
	for _, u := range users {
		names[u.ID] = u.Email
		actors = append(actors, auditActor{u.ID, u.Email})
	}
	keys, _, err := a.Users.ListAPIKeys(ctx, orgID, cloud.Page{Limit: auditMaxNames})
	if err != nil {
		return nil, nil, err
	}
	for _, k := range keys {
		names[k.ID] = "API key “" + k.Name + "”"
		actors = append(actors, auditActor{k.ID, names[k.ID]})
	}
	slices.SortFunc(actors, func(x, y auditActor) int { return strings.Compare(x.Name, y.Name) })
	return names, actors, nil
}

// auditWho says who made a change.
func auditWho(e cloud.AuditEntry, names map[string]string) string {
	switch {
	case e.ActorType == cloud.SSOActor.Type && e.ActorID == cloud.SSOActor.ID:
		return "Single sign-on"
	case e.ActorType == "system":
		return "Pantry itself"
	case names[e.ActorID] != "":
		return names[e.ActorID]
	case e.ActorType == "api_key":
		return "API key " + e.ActorID
	case e.ActorID == "":
		return title(e.ActorType)
	}
	return "User " + e.ActorID
}

// auditWhat says what a change did: "User changed".
func auditWhat(e cloud.AuditEntry) string {
	_, verb, _ := strings.Cut(e.Action, ".")
	if w, ok := auditVerbs[verb]; ok {
		verb = w
	} else if verb == "" {
		verb = e.Action
	}
	return resourceTitle(e.Resource) + " " + strings.ReplaceAll(verb, "_", " ")
}

// RecordLink is the audit log of only this entry's record.
func (r auditRow) RecordLink() string {
	return "/admin/audit?" + url.Values{"resource": {r.Resource}, "resource_id": {r.ResourceID}}.Encode()
}
