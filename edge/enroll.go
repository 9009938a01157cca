package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/edge/syncer"
	"github.com/pantry/pantry/internal/buildinfo"
	"github.com/pantry/pantry/syncproto"
)

// EnrollConfig says which data directory to enroll with which cloud.
// CloudURL and Token are required.
type EnrollConfig struct {
	// DataDir is the node's data directory. It is created if missing and
	// made private to the user the node runs as: it will hold the node's
	// credential.
	DataDir string
	// CloudURL is the cloud's base URL, e.g. https://pantry.example.com.
	CloudURL string
	// Token is the one-time enrollment token an admin made for the site.
	Token string
	// Name names this box for admins, e.g. its host name.
	Name string
	// HTTP talks to the cloud (default: a client with a one-minute timeout,
	// so a cloud that never answers cannot hang a technician's terminal).
	HTTP *http.Client
	// Notices receives what the technician should know but that does not
	// stop the enrollment, one line each (default: discarded).
	Notices io.Writer
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Enrollment is what Enroll made of the data directory: the node's
// identity and the site configuration it now holds.
type Enrollment struct {
	NodeID, OrgID, SiteID string
	SiteName              string
	ConfigRevision        int64
	Rooms, Items          int
}

// Enroll enrolls the data directory as a node of a site: it exchanges the
// one-time token for the node's credential and pulls the site's whole
// configuration and stock, so that New can run the site without Demo.
//
// What the store would refuse (a directory running a demo site) is refused
// before the token is spent. Once it is, an error says so, since the
// technician then needs a new token; an error after the configuration is
// stored says the node is enrolled and serving will finish the pull.
// Enrolling an enrolled directory again replaces its credential and tells
// the cloud which node it was, so the outbox carries on where it was.
func Enroll(ctx context.Context, cfg EnrollConfig) (Enrollment, error) {
	if cfg.CloudURL == "" || cfg.Token == "" {
		return Enrollment{}, errors.New("enroll: a cloud URL and a token are required")
	}
	cfg = cfg.withDefaults()
	// Not under a running node: enrolling replaces the credential and the
	// configuration it serves, and the cloud revokes the one it holds.
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return Enrollment{}, fmt.Errorf("enroll: %w", err)
	}
	defer lock.Release()
	store, err := openPrivate(ctx, cfg.DataDir, cfg.Now)
	if err != nil {
		return Enrollment{}, err
	}
	defer store.Close()
	previous, err := checkEnrollable(ctx, store, cfg)
	if err != nil {
		return Enrollment{}, err
	}
	e := &enroller{cfg: cfg, store: store, client: &syncer.Client{BaseURL: cfg.CloudURL, HTTP: cfg.HTTP}}
	return e.enroll(ctx, previous)
}

func (cfg EnrollConfig) withDefaults() EnrollConfig {
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: time.Minute}
	}
	if cfg.Notices == nil {
		cfg.Notices = io.Discard
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

// openPrivate opens (creating) the store in dir after making dir private,
// whatever its mode was before: it will hold the node's credential.
func openPrivate(ctx context.Context, dir string, now func() time.Time) (*sqlite.Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory %s cannot be used: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory %s cannot be made private: %w", dir, err)
	}
	store, err := sqlite.Open(ctx, dir, sqlite.Options{Now: now})
	if err != nil {
		return nil, fmt.Errorf("data directory %s cannot be used: %w", dir, err)
	}
	return store, nil
}

// checkEnrollable refuses, before the token is spent, a directory the
// store would refuse to enroll (one running a demo site), and returns the
// node id the directory is enrolled as already ("" if none), noting that
// enrolling again replaces its credential.
func checkEnrollable(ctx context.Context, store *sqlite.Store, cfg EnrollConfig) (previous string, err error) {
	id, ok, err := store.Identity(ctx)
	if err != nil {
		return "", err
	}
	if ok {
		fmt.Fprintf(cfg.Notices, "note: this data directory is enrolled as node %s of site %s; enrolling again replaces its credential\n", id.NodeID, id.SiteID)
		return id.NodeID, nil
	}
	if site, err := store.Site(ctx); err == nil {
		return "", fmt.Errorf("data directory %s already runs site %q without enrollment (a demo): use a fresh --data directory", cfg.DataDir, site.Name)
	}
	return "", nil
}

// enroller is one enrollment under way: the store it fills and the client
// that talks to the cloud, which holds the node's credential once the
// token is spent.
type enroller struct {
	cfg    EnrollConfig
	store  *sqlite.Store
	client *syncer.Client
	nodeID string
}

// enroll spends the token, stores the identity with the configuration in
// one transaction, then pulls the rest of the site's stock.
func (e *enroller) enroll(ctx context.Context, previous string) (Enrollment, error) {
	enrolled, err := e.spendToken(ctx, previous)
	if err != nil {
		return Enrollment{}, err
	}
	page, err := e.storeFirstPage(ctx, enrolled)
	if err != nil {
		return Enrollment{}, fmt.Errorf("%w (the enrollment token has been used: ask an admin for a new one and run init again)", err)
	}
	cfg := page.Config
	if err := e.pullRest(ctx, page); err != nil {
		return Enrollment{}, fmt.Errorf("%w (the node is enrolled; serve will finish the pull)", err)
	}
	return Enrollment{
		NodeID: enrolled.NodeID, OrgID: enrolled.OrgID, SiteID: enrolled.SiteID, SiteName: cfg.Site.Name,
		ConfigRevision: cfg.Revision, Rooms: len(cfg.Spaces), Items: len(cfg.Items),
	}, nil
}

// spendToken exchanges the token for the node's credential, telling a
// refusal by the cloud (whose message says why) from a cloud not reached.
func (e *enroller) spendToken(ctx context.Context, previous string) (syncproto.EnrollResponse, error) {
	enrolled, err := e.client.Enroll(ctx, syncproto.EnrollRequest{
		Version: syncproto.Version, Token: e.cfg.Token, Name: e.cfg.Name, SoftwareVersion: buildinfo.Version(), PreviousNodeID: previous,
	})
	if err != nil {
		var ce *syncer.Error
		if errors.As(err, &ce) {
			return enrolled, fmt.Errorf("the cloud refused the enrollment: %s", ce.Message)
		}
		return enrolled, fmt.Errorf("cannot reach the cloud at %s: %w", e.cfg.CloudURL, err)
	}
	e.client.Credential, e.nodeID = enrolled.Credential, enrolled.NodeID
	return enrolled, nil
}

// storeFirstPage pulls the site's configuration and stores it with the
// node's identity: a node is enrolled with a configuration or not at all.
func (e *enroller) storeFirstPage(ctx context.Context, enrolled syncproto.EnrollResponse) (syncproto.PullResponse, error) {
	page, err := e.pull(ctx, syncproto.Cursor{})
	if err != nil {
		return page, fmt.Errorf("pull the site's configuration: %w", err)
	}
	if page.Config == nil {
		return page, errors.New("the cloud sent no configuration for the site")
	}
	id := sqlite.Identity{NodeID: enrolled.NodeID, OrgID: enrolled.OrgID, SiteID: enrolled.SiteID,
		CloudURL: e.cfg.CloudURL, Credential: enrolled.Credential, EnrolledAt: e.cfg.Now().UTC()}
	return page, e.store.Enroll(ctx, id, page)
}

// pullRest pulls and applies the pages of stock movements after page, so
// the node starts with the site's levels rather than catching up live.
func (e *enroller) pullRest(ctx context.Context, page syncproto.PullResponse) error {
	for page.More {
		var err error
		if page, err = e.pull(ctx, page.Cursor); err != nil {
			return fmt.Errorf("pull stock movements: %w", err)
		}
		if err := e.store.ApplyPull(ctx, page); err != nil {
			return fmt.Errorf("apply stock movements: %w", err)
		}
	}
	return nil
}

// pull asks for the site's feed after cursor.
func (e *enroller) pull(ctx context.Context, cursor syncproto.Cursor) (syncproto.PullResponse, error) {
	return e.client.Pull(ctx, syncproto.PullRequest{
		Version: syncproto.Version, NodeID: e.nodeID, SoftwareVersion: buildinfo.Version(),
		Cursor: cursor, SentAt: e.cfg.Now().UTC(),
	})
}
