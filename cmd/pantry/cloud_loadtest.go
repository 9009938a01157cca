package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/pantry/pantry/edge/fleetsim"
)

// fleetOptions are the flags of `pantry cloud loadtest`.
type fleetOptions struct {
	databaseURL, state string
	clouds             []string
	instances          int
	dbMaxConns         int
	orgs, sites        int
	rooms, items       int
	setupWorkers       int
	setupOnly, reuse   bool
	citus              bool
	pushRate           float64
	duration, pullWait time.Duration
	changeEvery        time.Duration
	catchUp            float64
	catchUpEvents      int
	asJSON             bool
}

func newCloudLoadtestCmd(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	var o fleetOptions
	cmd := &cobra.Command{
		Use:   "loadtest",
		Short: "Play a fleet of enrolled edge nodes against the cloud and measure pushes, long polls and wake-ups",
		Long: `Plays --orgs × --sites-per-org edge nodes (default 10 × 100 = 1,000), each a
real sync client with its own credential: it long-polls its site's feed as
an edge does (--pull-wait) and pushes a building's day of events at its share
of --push-rate pushes/s, now and then an outage's backlog (--catch-up). Every
--change-every an admin changes a price of one organization through the API,
and the time until each of its nodes pulls the new configuration is measured.

Without --cloud it migrates the database and starts --instances cloud
processes (` + "`pantry cloud serve`" + `, children of this one) on --database-url;
with --cloud it drives running instances on that database. Setting up the
fleet (organizations with ` + "`pantry cloud org create`" + `, then sites, rooms, menus,
stock and enrollments through the API) is slow: --setup-only builds it and
saves it to --state, and --reuse runs on a fleet saved before.

It fails (exit 1, after the report) if the cloud dead-letters an event, if the
rows the cloud gained differ from what the nodes had acknowledged, or if a
change never reaches a node. Only point it at a database you can throw away.`,
		Args: cobra.NoArgs,
	}
	e := &env{getenv: getenv, flags: cmd.Flags()}
	databaseURL(e, &o.databaseURL)
	f := cmd.Flags()
	f.StringSliceVar(&o.clouds, "cloud", nil, "base URLs of running cloud instances, comma-separated (default: start --instances)")
	f.IntVar(&o.instances, "instances", 1, "cloud processes to start when no --cloud is given")
	f.IntVar(&o.dbMaxConns, "db-max-conns", 0, "--db-max-conns of the clouds this starts (0: the cloud's default)")
	f.IntVar(&o.orgs, "orgs", 10, "organizations")
	f.IntVar(&o.sites, "sites-per-org", 100, "sites per organization, one edge node each")
	f.IntVar(&o.rooms, "rooms", 3, "rooms per site")
	f.IntVar(&o.items, "items", 8, "catalog items per organization, all on every site's menu")
	f.IntVar(&o.setupWorkers, "setup-workers", 16, "API requests in flight while setting up")
	f.StringVar(&o.state, "state", "", "file the fleet is saved to (with --setup-only) or read from (with --reuse); it holds credentials")
	f.BoolVar(&o.setupOnly, "setup-only", false, "set the fleet up, save it to --state and stop")
	f.BoolVar(&o.reuse, "reuse", false, "run on the fleet saved in --state instead of setting one up")
	f.BoolVar(&o.citus, "citus", false, "migrate with --citus: the database is on a Citus coordinator, its tables are distributed")
	f.Float64Var(&o.pushRate, "push-rate", 200, "pushes per second, the whole fleet together")
	f.DurationVar(&o.duration, "duration", time.Minute, "length of the measured phase")
	f.DurationVar(&o.pullWait, "pull-wait", 25*time.Second, "how long each long poll may be held (the edge's is 25s)")
	f.DurationVar(&o.changeEvery, "change-every", 5*time.Second, "how often an admin changes a price (0: never)")
	f.Float64Var(&o.catchUp, "catch-up", 0.002, "chance that a push carries an outage's backlog")
	f.IntVar(&o.catchUpEvents, "catch-up-events", 500, "mean size of such a backlog, in events")
	f.BoolVar(&o.asJSON, "json", false, "print the result as JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if e.err != nil {
			return e.err
		}
		if err := o.check(); err != nil {
			return err
		}
		return runFleet(cmd.Context(), o, stdout, stderr)
	}
	return cmd
}

func (o fleetOptions) check() error {
	switch {
	case o.databaseURL == "":
		return errors.New("--database-url (or PANTRY_DATABASE_URL) is required: the database the clouds use, as its owner")
	case o.setupOnly && o.reuse:
		return errors.New("--setup-only and --reuse exclude each other")
	case (o.setupOnly || o.reuse) && o.state == "":
		return errors.New("--setup-only and --reuse need --state FILE")
	case len(o.clouds) == 0 && (o.instances < 1 || o.instances > 16):
		return errors.New("--instances must be between 1 and 16")
	case o.pushRate <= 0 || o.duration <= 0:
		return errors.New("--push-rate and --duration must be positive")
	case o.pullWait < time.Second || o.pullWait > 30*time.Second:
		return errors.New("--pull-wait must be between 1s and 30s")
	}
	return nil
}

// runFleet migrates, starts the clouds, sets the fleet up (or loads it),
// runs it and reports.
func runFleet(ctx context.Context, o fleetOptions, stdout, stderr io.Writer) (err error) {
	progress := func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	limit, err := raiseFileLimit()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	migrate := []string{"cloud", "migrate", "--database-url", o.databaseURL}
	if o.citus {
		migrate = append(migrate, "--citus")
	}
	if _, err := runSelf(ctx, self, migrate...); err != nil {
		return err
	}
	clouds, pids := o.clouds, []int(nil)
	if len(clouds) == 0 {
		var children []*childCloud
		children, err = startClouds(ctx, o, self, progress)
		// Their logs are kept when the run fails (err is the result):
		// the clouds' side of it.
		defer func() { stopClouds(children, err != nil, progress) }()
		if err != nil {
			return err
		}
		for _, c := range children {
			clouds, pids = append(clouds, c.url), append(pids, c.cmd.Process.Pid)
		}
	}
	fleet, err := loadOrSetUp(ctx, o, self, clouds[0], stderr)
	if err != nil {
		return err
	}
	if o.setupOnly {
		fmt.Fprintf(stdout, "fleet of %d nodes in %d organizations saved to %s\n", fleet.Size(), len(fleet.Orgs), o.state)
		return nil
	}
	db, err := openProbe(ctx, o.databaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := fleetsim.Run(ctx, fleetsim.Config{
		Clouds: clouds, Fleet: fleet, PushRate: o.pushRate, Duration: o.duration, PullWait: o.pullWait,
		ChangeEvery: o.changeEvery, CatchUp: o.catchUp, CatchUpEvents: o.catchUpEvents, CloudPIDs: pids,
		Database: db.stats, CountRows: db.count, Progress: progress, Seed: uint64(time.Now().UnixNano()),
	})
	if err != nil {
		return fmt.Errorf("fleet load test: %w", err)
	}
	res.FileLimit = limit
	if o.asJSON {
		if err := json.NewEncoder(stdout).Encode(res); err != nil {
			return err
		}
	} else {
		fmt.Fprint(stdout, res)
	}
	if len(res.Problems) > 0 {
		return fmt.Errorf("fleet load test failed: %s", strings.Join(res.Problems, "; "))
	}
	return nil
}

// loadOrSetUp reads the fleet saved in --state (--reuse) or builds one,
// saving it when --state is given.
func loadOrSetUp(ctx context.Context, o fleetOptions, self, cloud string, stderr io.Writer) (*fleetsim.Fleet, error) {
	if o.reuse {
		return fleetsim.LoadFleet(o.state)
	}
	dir, err := os.MkdirTemp("", "pantry-fleet-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	started := time.Now()
	fleet, err := fleetsim.Setup(ctx, fleetsim.SetupConfig{
		Cloud: cloud, Orgs: o.orgs, SitesPerOrg: o.sites, RoomsPerSite: o.rooms, Items: o.items,
		Workers: o.setupWorkers, SoftwareVersion: "fleetsim", Progress: stderr,
		CreateOrg: func(ctx context.Context, name, email, password string) (string, error) {
			return createOrg(ctx, self, o.databaseURL, dir, name, email, password)
		},
	})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "setup: %d nodes enrolled in %s\n", fleet.Size(), time.Since(started).Round(time.Second))
	if o.state != "" {
		if err := fleet.Save(o.state); err != nil {
			return nil, err
		}
	}
	return fleet, nil
}

// createOrg runs `pantry cloud org create` with the owner's password in a
// private file of dir.
func createOrg(ctx context.Context, self, dbURL, dir, name, email, password string) (string, error) {
	pwFile, err := os.CreateTemp(dir, "password-")
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	defer os.Remove(pwFile.Name())
	_, err = pwFile.WriteString(password + "\n")
	if cerr := pwFile.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	out, err := runSelf(ctx, self, "cloud", "org", "create", "--database-url", dbURL, "--name", name,
		"--admin-email", email, "--admin-password-file", pwFile.Name(), "--json")
	if err != nil {
		return "", err
	}
	var org struct {
		OrgID string `json:"org_id"`
	}
	if err := json.Unmarshal(out, &org); err != nil || org.OrgID == "" {
		return "", fmt.Errorf("pantry cloud org create answered %q", out)
	}
	return org.OrgID, nil
}

// runSelf runs this binary with args to completion and returns its
// stdout.
func runSelf(ctx context.Context, self string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, self, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("pantry %s: %w: %s", args[0]+" "+args[1], err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// raiseFileLimit raises this process's RLIMIT_NOFILE to its hard limit:
// each node holds a long poll and a push connection. Raised with
// setrlimit, the limit is also what the clouds started from here inherit
// (Go restores the original soft limit in children only when the program
// never set it itself).
func raiseFileLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, fmt.Errorf("read the open files limit: %w", err)
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, fmt.Errorf("raise the open files limit to %d: %w", l.Max, err)
	}
	return l.Cur, nil
}

// childCloud is a `pantry cloud serve` this command started.
type childCloud struct {
	cmd *exec.Cmd
	url string
	log *os.File // its output: a thousand enrollments are too many lines for a terminal
}

// startClouds starts --instances clouds on --database-url, with
// --db-max-conns; on an error it returns those it started.
func startClouds(ctx context.Context, o fleetOptions, self string, progress func(string, ...any)) ([]*childCloud, error) {
	var out []*childCloud
	for range o.instances {
		c, err := spawnCloud(ctx, self, o.databaseURL, o.dbMaxConns)
		if err != nil {
			return out, err
		}
		out = append(out, c)
		progress("cloud: %s started (pid %d)", c.url, c.cmd.Process.Pid)
	}
	return out, nil
}

// stopClouds stops the clouds, keeping their logs if keep is set.
func stopClouds(clouds []*childCloud, keep bool, progress func(string, ...any)) {
	for _, c := range clouds {
		c.stop()
		if keep {
			progress("cloud: %s logged to %s", c.url, c.log.Name())
		} else {
			os.Remove(c.log.Name())
		}
	}
}

// spawnCloud starts `pantry cloud serve` on a free loopback port, as a
// separate process as in production, and waits until it is ready.
func spawnCloud(ctx context.Context, self, dbURL string, maxConns int) (*childCloud, error) {
	addr, err := freeLoopback()
	if err != nil {
		return nil, err
	}
	c := &childCloud{url: "http://" + addr}
	if c.log, err = os.CreateTemp("", "pantry-fleet-cloud-*.log"); err != nil {
		return nil, fmt.Errorf("cloud log: %w", err)
	}
	args := []string{"cloud", "serve", "--database-url", dbURL, "--http", addr}
	if maxConns > 0 {
		args = append(args, "--db-max-conns", strconv.Itoa(maxConns))
	}
	c.cmd = exec.Command(self, args...)
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	if err := c.cmd.Start(); err != nil {
		c.log.Close()
		return nil, fmt.Errorf("start cloud: %w", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if resp, err := http.Get(c.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.stop()
	return nil, fmt.Errorf("the cloud at %s did not become ready within 60 s (its log: %s)", c.url, c.log.Name())
}

// stop ends the cloud gracefully, or kills it after 15 s.
func (c *childCloud) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
	c.log.Close()
}

// probeApplication names the load test's own connections, which its
// figures leave out.
const probeApplication = "pantry-loadtest"

// probe reads PostgreSQL for the load test: the connections the clouds
// hold, and the rows the fleet's events wrote. It connects with the
// owner's URL, beside the clouds' service role: the owner reads every
// tenant's rows.
type probe struct{ pool *pgxpool.Pool }

func openProbe(ctx context.Context, dbURL string) (*probe, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	cfg.MaxConns = 2
	cfg.ConnConfig.RuntimeParams["application_name"] = probeApplication
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the database: %w", err)
	}
	return &probe{pool: pool}, nil
}

func (p *probe) Close() { p.pool.Close() }

// stats counts the database's client connections but the load test's,
// and lists the server's processes (the database's backends and the
// server's own workers) for their CPU time.
func (p *probe) stats(ctx context.Context) (fleetsim.DBStats, error) {
	var s fleetsim.DBStats
	err := p.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE client), count(*) FILTER (WHERE client AND state = 'active'),
		count(*) FILTER (WHERE client AND state LIKE 'idle in transaction%'), count(*) FILTER (WHERE client AND application_name = 'pantry-listener'),
		count(*) FILTER (WHERE client AND wait_event_type = 'Lock'),
		current_setting('max_connections')::int, array_agg(pid) FILTER (WHERE application_name <> $1)
		FROM (SELECT *, datname = current_database() AND backend_type = 'client backend' AND application_name <> $1 AS client
			FROM pg_stat_activity WHERE datname = current_database() OR datname IS NULL) a`, probeApplication).
		Scan(&s.Connections, &s.Active, &s.IdleInTx, &s.Listeners, &s.LockWaits, &s.MaxConnections, &s.PIDs)
	if err != nil {
		return s, fmt.Errorf("read pg_stat_activity: %w", err)
	}
	return s, nil
}

// count counts the rows the fleet's events write, in orgs.
func (p *probe) count(ctx context.Context, orgs []string) (fleetsim.Counts, error) {
	return fleetsim.ScanCounts(p.pool.QueryRow(ctx, fleetsim.CountsSQL, orgs))
}
