package postgres

import (
	"time"

	"github.com/pantry/pantry/cloud/syncserver"
)

// syncAt is the sync server over s with its clock stopped at now: the
// tests of pushes, enrollment and dead letters drive the store through the
// policy the cloud runs it with. A push ahead of the watermark is a gap
// at once: no other push of these tests is on its way to fill it.
func syncAt(s *Store, now time.Time) *syncserver.Server {
	return syncserver.New(s, syncserver.Options{Now: func() time.Time { return now }, AheadWait: time.Nanosecond})
}

// syncServer is the sync server over s on the real clock.
func syncServer(s *Store) *syncserver.Server {
	return syncserver.New(s, syncserver.Options{AheadWait: time.Nanosecond})
}
