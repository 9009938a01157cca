package pgtest

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// CitusCluster is a private Citus cluster, a coordinator and two
// workers, that a test owns alone: Cluster's twin on Citus, for the tests
// that restart a node under a running system (the sync fault-injection
// test with PANTRY_TEST_DB=citus). Other tests share one Citus cluster
// through NewDatabase.
//
// The cloud's database is the coordinator's maintenance database,
// postgres, as on a private Cluster: it is a Citus database, with the
// extension on every node and the workers registered, and its
// distributed tables get citusShardCount shards. The nodes are set up as
// the shared cluster's are (citus.go): the coordinator asks for a
// password over TCP, the workers trust TCP connections from 127.0.0.1.
type CitusCluster struct {
	coordinator *Cluster
	workers     []*Cluster
	cc          *citusCluster // the nodes' addresses, as the metadata names them
}

// StartCitusCluster starts a private Citus cluster for tb and stops it
// when tb ends. It needs the PostgreSQL server binaries with Citus (see
// ../shared/citus/build.sh) whatever EnvURL and EnvDB say: an external
// cluster cannot be restarted by a test.
func StartCitusCluster(tb testing.TB) *CitusCluster {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cc, err := startCitusNodes(ctx, "citus") // the error says what to install
	if err != nil {
		tb.Fatalf("pgtest: start a private Citus cluster: %v", err)
	}
	cl := &CitusCluster{coordinator: &Cluster{c: cc.private[0]}, cc: cc}
	for _, c := range cc.private[1:] {
		cl.workers = append(cl.workers, &Cluster{c: c})
	}
	tb.Cleanup(func() {
		var err error
		for _, n := range append([]*Cluster{cl.coordinator}, cl.workers...) {
			err = errors.Join(err, n.c.stop())
		}
		if err != nil {
			tb.Errorf("pgtest: stop Citus cluster: %v", err)
		}
	})
	// Set as NewDatabase sets it for a database on the shared cluster:
	// Citus's default, 32 shards per table, would make each tenant
	// table's migration create 32 and each query without the tenant
	// visit 32.
	stmt := fmt.Sprintf("ALTER DATABASE postgres SET citus.shard_count = %d", citusShardCount)
	if err := cc.exec(ctx, cc.coordinator, "postgres", stmt); err != nil {
		tb.Fatalf("pgtest: set up the private Citus cluster: %v", err)
	}
	return cl
}

// URL is the superuser's URL to the coordinator's postgres database.
func (cl *CitusCluster) URL() string { return cl.coordinator.URL() }

// Restart restarts the coordinator (fast shutdown: every session is cut,
// and with it every connection the coordinator held to the workers) on
// the same port and data.
func (cl *CitusCluster) Restart(ctx context.Context) error {
	if err := cl.coordinator.Restart(ctx); err != nil {
		return fmt.Errorf("Citus coordinator: %w", err)
	}
	return nil
}

// RestartWorker restarts the worker that the coordinator's metadata
// names host and port (pg_dist_node.nodename and nodeport, as
// citus_shards reports them for a shard's placement), as Restart does
// the coordinator: a test picks the worker holding a tenant's shards.
func (cl *CitusCluster) RestartWorker(ctx context.Context, host string, port int) error {
	for i, w := range cl.cc.workers {
		if w.host == host && w.port == port {
			if err := cl.workers[i].Restart(ctx); err != nil {
				return fmt.Errorf("Citus worker %s: %w", w, err)
			}
			return nil
		}
	}
	return fmt.Errorf("pgtest: no Citus worker %s:%d in this cluster (workers: %v)", host, port, cl.cc.workers)
}
