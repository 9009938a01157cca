package sqlite

import (
	"context"
	"time"
)

// checkpointEvery is how often the WAL is copied back into the database.
// A second's worth of orders is a few thousand pages at most.
const checkpointEvery = time.Second

// checkpoint copies committed WAL frames into the database file in the
// background with PASSIVE checkpoints, which never take the write lock:
// the writer keeps committing orders while the database file is written
// and fsynced. Once a checkpoint has caught up, the next write transaction
// starts the WAL over, so it stays small. Runs until Close.
func (s *Store) checkpoint() {
	defer close(s.checkpointed)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, _ = s.ck.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)") // best effort; retried next tick
		cancel()
	}
}
