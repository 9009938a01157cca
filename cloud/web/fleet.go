package web

import (
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/cloud"
	"github.com/pantry/pantry/cloud/auth"
	"github.com/pantry/pantry/internal/pantry"
)

// The overview: every edge node of the sites the person may see, worst
// first, with the reason in words (cloud.NodeHealth), and filters for
// offline, lagging and outdated nodes.

// fleetRow is a node as the fleet table shows it.
type fleetRow struct {
	cloud.NodeStatus
	SiteName string
	Health   cloud.Health
	Reason   string
}

type fleetPage struct {
	*view
	Rows   []fleetRow
	Counts map[string]int // by health
	Filter string
	Sites  int
	Now    timeNow
	// OfflineAfter is the offline threshold, in seconds.
	OfflineAfter int
}

// maxFleet bounds the nodes one page lists: an organization with more
// buildings than this needs filters, not a longer page.
const maxFleet = cloud.MaxPageSize

func (a *app) handleFleet(c *fiber.Ctx) error {
	v := viewOf(c)
	v.Title, v.Nav = "Fleet", "fleet"
	p := v.principal()
	if err := p.Can(auth.ActionRead, ""); err != nil {
		return a.errorPage(c, v, err)
	}
	scope, err := p.Scope("")
	if err != nil {
		return a.errorPage(c, v, err)
	}
	ctx, cancel := a.ctx(c)
	defer cancel()
	nodes, _, err := a.Nodes.ListNodes(ctx, p.OrgID, cloud.NodeFilter{SiteIDs: scope}, cloud.Page{Limit: maxFleet})
	if err != nil {
		return a.errorPage(c, v, err)
	}
	sites, _, err := a.Sites.ListSites(ctx, p.OrgID, scope, cloud.Page{Limit: cloud.MaxPageSize})
	if err != nil {
		return a.errorPage(c, v, err)
	}
	names := map[string]string{}
	for _, s := range sites {
		names[s.ID] = s.Name
	}
	now := a.Now()
	filter := c.Query("health")
	if filter != "" && !slices.Contains([]string{string(cloud.HealthOffline), string(cloud.HealthLagging), string(cloud.HealthOutdated), string(cloud.HealthOK)}, filter) {
		return a.errorPage(c, v, pantry.Errorf(pantry.EINVALID, "unknown filter %q: choose offline, lagging, outdated or ok", filter))
	}
	page := fleetPage{view: v, Counts: map[string]int{}, Filter: filter, Sites: len(sites), Now: timeNow{now},
		OfflineAfter: int(a.NodeOfflineAfter.Seconds())}
	for _, n := range nodes {
		h, reason := cloud.NodeHealth(n, now, a.Version, a.NodeOfflineAfter)
		page.Counts[string(h)]++
		if filter != "" && string(h) != filter {
			continue
		}
		page.Rows = append(page.Rows, fleetRow{NodeStatus: n, SiteName: names[n.SiteID], Health: h, Reason: reason})
	}
	slices.SortStableFunc(page.Rows, func(x, y fleetRow) int {
		if d := x.Health.Rank() - y.Health.Rank(); d != 0 {
			return d
		}
		if x.SiteName != y.SiteName {
			if x.SiteName < y.SiteName {
				return -1
			}
			return 1
		}
		return 0
	})
	return render(c, fiber.StatusOK, "fleet.html", page)
}
