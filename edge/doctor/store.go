package doctor

import (
	"context"
	"fmt"
	"time"

	"github.com/pantry/pantry/edge/sqlite"
)

// Outbox ages: an event waits seconds for its push while the cloud is
// reachable; after OutboxWarn doctor says the cloud has not taken it,
// after OutboxFail that the cloud's reports are a day behind. Waiting
// loses nothing (sync invariant 5), so neither is about the building.
const (
	OutboxWarn = 2 * time.Minute
	OutboxFail = 24 * time.Hour
)

// store checks what the database says: enrollment, then the outbox, then
// the way to the cloud.
func (d *doctor) store(ctx context.Context, db *sqlite.Reader) {
	id, enrolled, err := db.Identity(ctx)
	if err != nil {
		d.add("outbox", Fail, "cannot read the enrollment: "+err.Error(), "run doctor with --full to check the database")
		return
	}
	demo, err := db.IsDemo(ctx)
	if err != nil {
		d.add("outbox", Fail, "cannot read the site: "+err.Error(), "run doctor with --full to check the database")
		return
	}
	ob, err := db.OutboxStats(ctx)
	if err != nil {
		d.add("outbox", Fail, "cannot read the outbox: "+err.Error(), "run doctor with --full to check the database")
		return
	}
	if !enrolled {
		if demo {
			d.ok("outbox", fmt.Sprintf("%d events kept here; a demo node replicates nothing", ob.LastSeq))
			d.ok("cloud", "not enrolled (a --demo site): cloud checks skipped, as a demo has no cloud")
			return
		}
		d.add("cloud", Fail, "not enrolled and no demo: the node has no site to serve",
			"enroll it: pantry edge init --data "+d.cfg.DataDir+" --cloud URL --token TOKEN (an admin makes the token)")
		return
	}
	st, err := db.SyncState(ctx)
	if err != nil {
		d.add("outbox", Fail, "cannot read the sync state: "+err.Error(), "run doctor with --full to check the database")
		return
	}
	d.outbox(ob, st)
	d.cloud(ctx, id)
}

// outbox judges the age of the oldest event the cloud has not acknowledged.
func (d *doctor) outbox(ob sqlite.OutboxStats, st sqlite.SyncState) {
	if ob.Unpushed == 0 {
		d.ok("outbox", fmt.Sprintf("every event acknowledged by the cloud (%d in all)", ob.LastSeq))
		return
	}
	age := d.cfg.Now().Sub(ob.OldestUnpushed).Round(time.Second)
	verdict := fmt.Sprintf("%d events wait for the cloud, the oldest for %s", ob.Unpushed, age)
	if st.LastError != "" {
		verdict += fmt.Sprintf(" (last sync error: %s)", st.LastError)
	}
	fix := "the cloud has not taken them: the cloud checks below say why; nothing is lost while they wait"
	switch {
	case age >= OutboxFail:
		d.add("outbox", Fail, verdict+": the cloud's reports are a day behind", fix)
	case age >= OutboxWarn:
		d.add("outbox", Warn, verdict, fix)
	default:
		d.ok("outbox", verdict+" (pushed within seconds while the cloud is reachable)")
	}
}
