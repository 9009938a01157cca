package pgtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// One more worker for one test's Citus database (issue 14,
// rebalancing): a test that adds a node and moves shards onto it while
// the cloud runs must not change the cluster every other test shares.
// Citus keeps its node metadata (pg_dist_node, pg_dist_placement) per
// database, so a node registered from inside the test's database is a
// node of that database only: the maintenance database, which carries
// CREATE and DROP DATABASE to the shared workers, and every other test's
// database never learn of it (TestAddCitusWorker checks).
//
// The worker is a private server started from the same binaries and
// with the same settings as the shared nodes (citusNodeSettings): it
// trusts TCP connections from 127.0.0.1, because Citus connects to it as
// whichever role runs a query on the coordinator. It holds the test's
// database only, with the extension. The roles need no help:
// citus_add_node creates on the new node, able to log in as on the
// coordinator, every role the database's objects depend on (its owner,
// the roles granted privileges, such as the cloud's service role, even
// one made in another database; seen on Citus 13.2.2), then copies the
// schema. The worker is stopped and its directory removed when the test
// ends; the test's database goes with its own cleanup, which drops it
// on the shared nodes only, as it never was anywhere else.
//
// How shards move (checked on Citus 13.2.2, PostgreSQL 15): the default
// transfer mode, 'auto', copies a shard group by logical replication
// whenever its tables have a replica identity, as the cloud's all do, so
// that writes go on during the copy. That needs wal_level=logical on the
// node the shards leave (at the default, replica, each move fails with
// "logical decoding requires wal_level >= logical", and the background
// rebalancer retries it for ever); and even then it cannot move a table
// with FORCE ROW LEVEL SECURITY, as the cloud's tenant tables are: the
// new node's subscription applies the changes as a role Citus makes for
// it (citus_shard_move_subscription_role_…), no superuser, and
// PostgreSQL refuses it ("cannot replicate into relation with row-level
// security enabled").
// The apply worker fails, restarts every 5 s and fails again; the move
// waits in its "Catching Up" phase for ever, and the job reports no
// error. So the shared nodes keep wal_level=replica, and tests move
// shards with shard_transfer_mode 'block_writes' (a COPY while writes
// to the moving shard group wait), which is what the cloud's schema can
// be rebalanced with, as a superuser: run as the tables' owner (a
// managed PostgreSQL's admin, NewOwner), whom FORCE ROW LEVEL SECURITY
// binds, the COPY is refused too ("COPY FROM not supported with
// row-level security"), and again retried for ever.

// CitusWorker is a worker AddCitusWorker started.
type CitusWorker struct {
	// Host and Port name the worker as the coordinator's metadata does
	// (pg_dist_node.nodename, nodeport; citus_shards.nodename, nodeport).
	Host string
	Port int
	// URL connects to the test's database on the worker as the
	// superuser, for a test to look at the shards placed there.
	URL string
}

// AddCitusWorker starts a Citus worker for the database of dbURL (a URL
// from NewCitusDatabase, or NewDatabase on Citus), creates the database
// with the extension on it, and registers it with citus_add_node in that
// database only. No shard moves onto it until the test rebalances
// (RebalanceCitus) or moves one. It needs the PostgreSQL server binaries
// with Citus even when EnvURL names the cluster, whose nodes must then
// run on this machine.
func AddCitusWorker(tb testing.TB, dbURL string) CitusWorker {
	tb.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		tb.Fatalf("pgtest: parse database URL: %v", err)
	}
	if srv := serverOf(tb, u); srv.citus == nil {
		tb.Fatalf("pgtest: %s is not a Citus database (use NewCitusDatabase)", u.Redacted())
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	c, err := startCluster(ctx, nodeConfig{trustHost: true, settings: citusNodeSettings("citus")})
	if err != nil {
		tb.Fatalf("pgtest: start a Citus worker: %v (%s)", err, citusHint)
	}
	tb.Cleanup(func() {
		if err := c.stop(); err != nil {
			tb.Errorf("pgtest: stop Citus worker: %v", err)
		}
	})
	database := u.Path[1:]
	wu, _ := url.Parse(c.url)
	wu.Path = "/" + database
	w := CitusWorker{Host: "127.0.0.1", Port: c.port, URL: wu.String()}
	// The extension first: citus_add_node refuses a node without it. As
	// the superuser, from the test's own database: the node is that
	// database's.
	err = execURL(ctx, c.url, "CREATE DATABASE "+pgx.Identifier{database}.Sanitize())
	if err == nil {
		err = execURL(ctx, w.URL, "CREATE EXTENSION citus")
	}
	if err == nil {
		err = execURL(ctx, dbURL, fmt.Sprintf("SELECT citus_add_node(%s, %d)", quote(w.Host), w.Port))
	}
	if err != nil {
		tb.Fatalf("pgtest: add a Citus worker to %s: %v", database, err)
	}
	return w
}

// Rebalance is what one run of Citus's background rebalancer did.
type Rebalance struct {
	JobID int64
	// Moves are the shard moves it ran: one per shard group (the shards
	// of every co-located table with the same hash range, moved together).
	Moves    int
	Started  time.Time // as the coordinator's clock says
	Finished time.Time
	// Failed are the errors of the attempts of a move that failed and
	// were retried (each once, however often it was retried).
	Failed []string
	last   string // the job's last state and details, for an error
}

// maxMoveRetries is how often a move may fail before RebalanceCitus
// gives up on the job: a move under live writes may fail once for a
// passing reason and succeed when Citus retries it, a move that fails
// for good (the wal_level above) is seen to reach three retries within
// a minute.
const maxMoveRetries = 3

// RebalanceCitus starts Citus's background rebalancer in the database of
// dbURL (citus_rebalance_start) with the shard transfer mode given
// ('block_writes' for the cloud's schema, see above) and waits, until
// ctx ends, for it to finish. Not citus_rebalance_wait: the rebalancer
// retries a move that fails for ever, and the wait with it; here a move
// that has failed maxMoveRetries times ends the job (citus_job_cancel)
// and is the error. With nothing to move it returns a Rebalance of no
// moves.
func RebalanceCitus(ctx context.Context, dbURL, transferMode string) (Rebalance, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return Rebalance{}, fmt.Errorf("rebalance: connect: %w", err)
	}
	defer conn.Close(context.Background())
	var job *int64
	// The mode as a literal, not a parameter: a parameter's type,
	// citus.shard_transfer_mode, is in a schema only a superuser may use.
	if err := conn.QueryRow(ctx, `SELECT citus_rebalance_start(shard_transfer_mode => `+quote(transferMode)+`)`).Scan(&job); err != nil {
		return Rebalance{}, fmt.Errorf("rebalance: start: %w", err)
	}
	if job == nil {
		return Rebalance{}, nil
	}
	r := Rebalance{JobID: *job}
	for {
		done, err := r.poll(ctx, conn)
		if done || err != nil {
			return r, err
		}
		select {
		case <-ctx.Done():
			_, _ = conn.Exec(context.Background(), `SELECT citus_job_cancel($1)`, r.JobID)
			return r, fmt.Errorf("rebalance: job %d did not finish (%s): %w", r.JobID, r.last, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// poll reads the job's state once; it reports whether the job finished.
func (r *Rebalance) poll(ctx context.Context, conn *pgx.Conn) (bool, error) {
	var state string
	var started, finished *time.Time
	var details []byte
	err := conn.QueryRow(ctx, `SELECT state::text, started_at, finished_at, details FROM citus_rebalance_status() WHERE job_id = $1`, r.JobID).
		Scan(&state, &started, &finished, &details)
	if err != nil {
		return false, fmt.Errorf("rebalance: job %d: read its status: %w", r.JobID, err)
	}
	if started != nil {
		r.Started = *started
	}
	r.last = state + " " + string(details)
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_dist_background_task WHERE job_id = $1 AND command LIKE '%citus_move_shard_placement%'`, r.JobID).
		Scan(&r.Moves); err != nil {
		return false, fmt.Errorf("rebalance: job %d: count its moves: %w", r.JobID, err)
	}
	switch state {
	case "finished":
		if finished != nil {
			r.Finished = *finished
		}
		return true, nil
	case "failed", "failing", "cancelled", "cancelling":
		return true, fmt.Errorf("rebalance: job %d %s: %s", r.JobID, state, details)
	}
	var d struct {
		Tasks []struct {
			Command string `json:"command"`
			Message string `json:"message"`
			Retried int    `json:"retried"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal(details, &d); err != nil {
		return false, fmt.Errorf("rebalance: job %d: read its details %s: %w", r.JobID, details, err)
	}
	for _, t := range d.Tasks {
		if t.Retried == 0 || !strings.Contains(t.Message, "ERROR") {
			continue
		}
		msg := t.Command + ": " + strings.TrimSpace(t.Message)
		if !slices.Contains(r.Failed, msg) {
			r.Failed = append(r.Failed, msg)
		}
		if t.Retried >= maxMoveRetries {
			_, _ = conn.Exec(ctx, `SELECT citus_job_cancel($1)`, r.JobID)
			return true, fmt.Errorf("rebalance: job %d: a move failed %d times, and Citus retries it for ever: %s", r.JobID, t.Retried, msg)
		}
	}
	return false, nil
}

// execURL runs stmts over one connection to rawURL.
func execURL(ctx context.Context, rawURL string, stmts ...string) error {
	conn, err := pgx.Connect(ctx, rawURL)
	if err != nil {
		u, _ := url.Parse(rawURL)
		return fmt.Errorf("connect to %s: %w", u.Redacted(), err)
	}
	defer conn.Close(context.Background())
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}
