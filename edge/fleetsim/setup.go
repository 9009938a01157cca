package fleetsim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pantry/pantry/edge/syncer"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/syncproto"
)

// Fleet is what setting up made: organizations, their admins' sign-in,
// the item whose price the admin changes, and the nodes, each with its
// own credential. It is saved as JSON (it holds secrets: the file is
// private) so that measurement runs can reuse it.
type Fleet struct {
	Orgs []Org `json:"orgs"`
}

// Org is one organization of the fleet.
type Org struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	AdminEmail    string `json:"admin_email"`
	AdminPassword string `json:"admin_password"`
	// PriceItem is the catalog item the admin reprices during a run: on
	// every site's menu, at the catalog's price.
	PriceItem string `json:"price_item"`
	Nodes     []Node `json:"nodes"`
}

// Node is one enrolled edge node.
type Node struct {
	ID         string `json:"id"`
	SiteID     string `json:"site_id"`
	Credential string `json:"credential"`
}

// Size counts the fleet's nodes.
func (f *Fleet) Size() int {
	n := 0
	for _, o := range f.Orgs {
		n += len(o.Nodes)
	}
	return n
}

// OrgIDs lists the fleet's organizations.
func (f *Fleet) OrgIDs() []string {
	ids := make([]string, len(f.Orgs))
	for i, o := range f.Orgs {
		ids[i] = o.ID
	}
	return ids
}

// Save writes the fleet to path, readable by its owner only.
func (f *Fleet) Save(path string) error {
	raw, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("save fleet: %w", err)
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		return fmt.Errorf("save fleet: %w", err)
	}
	return nil
}

// LoadFleet reads a fleet saved by Save.
func LoadFleet(path string) (*Fleet, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load fleet: %w", err)
	}
	var f Fleet
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("load fleet %s: %w", path, err)
	}
	if f.Size() == 0 {
		return nil, fmt.Errorf("load fleet %s: it has no nodes", path)
	}
	return &f, nil
}

// SetupConfig sizes the fleet to build.
type SetupConfig struct {
	// Cloud is the base URL of a cloud instance: the admin API and the
	// enrollments go there.
	Cloud               string
	Orgs, SitesPerOrg   int
	RoomsPerSite, Items int
	Workers             int // requests in flight at once (default 16)
	SoftwareVersion     string
	Progress            io.Writer // a line per organization and every 100 nodes; nil: none
	// CreateOrg creates an organization and its owner, whose password is
	// given: the cloud's API cannot (organizations are made with `pantry
	// cloud org create`, against the database). It returns the
	// organization's id.
	CreateOrg func(ctx context.Context, name, email, password string) (string, error)
}

// Setup builds a fleet through the real API: per organization, its owner
// (CreateOrg), a catalog (items, a coupon, cost centers); per site, its
// rooms, a menu of every item, stock of each, and an enrollment token,
// which the site's node exchanges for its credential as `pantry edge
// init` does. Sites are built Workers at a time.
func Setup(ctx context.Context, cfg SetupConfig) (*Fleet, error) {
	if cfg.Orgs < 1 || cfg.SitesPerOrg < 1 || cfg.RoomsPerSite < 1 || cfg.Items < 2 {
		return nil, fmt.Errorf("setup: want at least 1 organization, 1 site, 1 room and 2 items")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 16
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	client := adminClient(cfg.Workers)
	defer client.CloseIdleConnections()
	f := &Fleet{Orgs: make([]Org, cfg.Orgs)}
	admins := make([]*admin, cfg.Orgs)
	catalogs := make([][]string, cfg.Orgs)
	run := strconv.FormatInt(time.Now().Unix(), 36) + pantry.NewSecret(3)
	err := parallel(ctx, cfg.Orgs, min(cfg.Workers, 4), func(ctx context.Context, i int) error {
		o, a, items, err := setupOrg(ctx, cfg, client, run, i)
		if err != nil {
			return fmt.Errorf("organization %d: %w", i+1, err)
		}
		f.Orgs[i], admins[i], catalogs[i] = o, a, items
		fmt.Fprintf(cfg.Progress, "setup: organization %d of %d (%s) created\n", i+1, cfg.Orgs, o.ID)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	nodes := make([][]Node, cfg.Orgs)
	for i := range nodes {
		nodes[i] = make([]Node, cfg.SitesPerOrg)
	}
	var done atomic.Int64
	total := cfg.Orgs * cfg.SitesPerOrg
	err = parallel(ctx, total, cfg.Workers, func(ctx context.Context, k int) error {
		org, site := k%cfg.Orgs, k/cfg.Orgs
		n, err := setupSite(ctx, cfg, admins[org], catalogs[org], f.Orgs[org].Name, site)
		if err != nil {
			return fmt.Errorf("organization %d, site %d: %w", org+1, site+1, err)
		}
		nodes[org][site] = n
		if d := done.Add(1); d%100 == 0 || int(d) == total {
			fmt.Fprintf(cfg.Progress, "setup: %d of %d nodes enrolled\n", d, total)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	for i := range f.Orgs {
		f.Orgs[i].Nodes = nodes[i]
	}
	return f, nil
}

// setupOrg creates organization i, signs its admin in, and fills its
// catalog: items (the first is the one the admin reprices), a coupon and
// cost centers. It returns the items' ids.
func setupOrg(ctx context.Context, cfg SetupConfig, client *http.Client, run string, i int) (Org, *admin, []string, error) {
	o := Org{Name: fmt.Sprintf("Fleet %d", i+1), AdminEmail: fmt.Sprintf("fleet-%s-%d@loadtest.example", run, i+1),
		AdminPassword: pantry.NewSecret(18)}
	var err error
	if o.ID, err = cfg.CreateOrg(ctx, o.Name, o.AdminEmail, o.AdminPassword); err != nil {
		return o, nil, nil, err
	}
	a := newAdmin(cfg.Cloud, o.AdminEmail, o.AdminPassword, client)
	if err := a.login(ctx); err != nil {
		return o, nil, nil, err
	}
	names := []string{"Coffee", "Tea", "Sparkling water", "Sandwich", "Fruit bowl", "Cookies", "Juice", "Salad"}
	var items []string
	for k := range cfg.Items {
		name := names[k%len(names)]
		if k >= len(names) {
			name += " " + strconv.Itoa(k/len(names)+1)
		}
		var it struct {
			ID string `json:"id"`
		}
		body := map[string]any{"name": name, "price": money{Amount: int64(150 + 50*(k%10)), Currency: "EUR"}}
		if err := a.call(ctx, http.MethodPost, "/api/v1/items", body, &it, http.StatusCreated); err != nil {
			return o, nil, nil, err
		}
		items = append(items, it.ID)
	}
	o.PriceItem = items[0]
	now := time.Now().UTC()
	coupon := map[string]any{"code": "WELCOME", "kind": "fixed", "value": 50, "valid_from": now.Add(-24 * time.Hour), "valid_to": now.Add(365 * 24 * time.Hour)}
	if err := a.call(ctx, http.MethodPost, "/api/v1/coupons", coupon, nil, http.StatusCreated); err != nil {
		return o, nil, nil, err
	}
	for _, cc := range []string{"CC-100", "CC-200"} {
		if err := a.call(ctx, http.MethodPost, "/api/v1/cost-centers", map[string]string{"code": cc, "name": "Department " + cc}, nil, http.StatusCreated); err != nil {
			return o, nil, nil, err
		}
	}
	return o, a, items, nil
}

// setupSite builds site number site of an organization (its rooms, a
// menu of every item, stock) and enrolls its node.
func setupSite(ctx context.Context, cfg SetupConfig, a *admin, items []string, org string, site int) (Node, error) {
	var s struct {
		ID string `json:"id"`
	}
	if err := a.call(ctx, http.MethodPost, "/api/v1/sites", map[string]string{"name": fmt.Sprintf("%s building %d", org, site+1),
		"timezone": "Europe/Amsterdam", "currency": "EUR"}, &s, http.StatusCreated); err != nil {
		return Node{}, err
	}
	base := "/api/v1/sites/" + s.ID
	for r := range cfg.RoomsPerSite {
		room := map[string]string{"name": fmt.Sprintf("Room %d.%02d", r/10+1, r%10+1), "floor": strconv.Itoa(r/10 + 1)}
		if err := a.call(ctx, http.MethodPost, base+"/spaces", room, nil, http.StatusCreated); err != nil {
			return Node{}, err
		}
	}
	menu := make([]map[string]any, len(items))
	for k, it := range items {
		menu[k] = map[string]any{"item_id": it, "available": true}
	}
	if err := a.call(ctx, http.MethodPut, base+"/menu", map[string]any{"items": menu}, nil, http.StatusOK); err != nil {
		return Node{}, err
	}
	for _, it := range items {
		mv := map[string]any{"item_id": it, "delta": 5000, "reason": "restock"}
		if err := a.call(ctx, http.MethodPost, base+"/stock/movements", mv, nil, http.StatusCreated); err != nil {
			return Node{}, err
		}
	}
	var tok struct {
		Token string `json:"token"`
	}
	if err := a.call(ctx, http.MethodPost, base+"/enrollment-tokens", map[string]any{}, &tok, http.StatusCreated); err != nil {
		return Node{}, err
	}
	c := &syncer.Client{BaseURL: cfg.Cloud, HTTP: a.client}
	e, err := c.Enroll(ctx, syncproto.EnrollRequest{Version: syncproto.Version, Token: tok.Token,
		Name: fmt.Sprintf("fleet-%s-%d", s.ID[:8], site+1), SoftwareVersion: cfg.SoftwareVersion})
	if err != nil {
		return Node{}, fmt.Errorf("enroll: %w", err)
	}
	return Node{ID: e.NodeID, SiteID: e.SiteID, Credential: e.Credential}, nil
}

// parallel calls fn(ctx, i) for every i in [0, n) from up to workers
// goroutines and returns the first error, after which no new call starts.
func parallel(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(workers, 1))
	for i := 0; i < n && ctx.Err() == nil; i++ {
		g.Go(func() error { return fn(ctx, i) })
	}
	return g.Wait()
}
