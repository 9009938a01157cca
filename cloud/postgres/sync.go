package postgres

import "fmt"

// Replication (syncproto): what the cloud's sync endpoints do with what an
// edge sends and asks for. sync_push.go applies pushed events, sync_enroll.go
// enrolls and authenticates nodes, sync_pull.go serves a site's feed,
// deadletters.go keeps what could not be applied, nodes.go shows admins
// every node's health.

// Node is an authenticated edge node: the organization and site its
// credential is scoped to (sync invariant 10). It comes from the
// credential, never from a request's body.
type Node struct {
	OrgID  string
	SiteID string
	ID     string
}

// GapError answers a push that does not start right after the node's
// watermark: the edge resends from ResumeFrom (syncproto.ErrGap).
type GapError struct {
	ResumeFrom int64
	Got        int64
}

func (e *GapError) Error() string {
	return fmt.Sprintf("push starts at seq %d but the cloud has applied up to %d: resend from %d", e.Got, e.ResumeFrom-1, e.ResumeFrom)
}
