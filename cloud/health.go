package cloud

import (
	"fmt"
	"time"

	"golang.org/x/mod/semver"
)

// Fleet health (issue 12): what the dashboard says of each edge node, in
// a word and a reason, from what its own syncs recorded. Every node
// long-polls the cloud (a pull waits up to 30 s) and pushes as soon as it
// has events, so a node on line is seen at least every half minute.

// Health is a node's state, worst first: the order the fleet table sorts
// in.
type Health string

// Healths.
const (
	HealthOffline  Health = "offline"
	HealthLagging  Health = "lagging"
	HealthOutdated Health = "outdated"
	HealthOK       Health = "ok"
)

// Thresholds of NodeHealth.
const (
	// OfflineAfter is how long a node may go unseen before it is
	// offline: two long polls and some. It is the default: a deployment
	// may choose another (pantry cloud serve --node-offline-after), never
	// under MinOfflineAfter.
	OfflineAfter = 90 * time.Second
	// MinOfflineAfter is the shortest offline threshold that cannot flag
	// a node that is on line: a node is heard from at the start of each
	// long poll, and a poll lasts up to 30 s (syncproto.MaxPullWait).
	MinOfflineAfter = 30 * time.Second
	// LagEvents is how many events may wait at the edge before the node
	// is lagging whatever their age; LagAge how long any may wait.
	LagEvents = 1000
	LagAge    = 2 * time.Minute
	// SkewLimit is the clock skew past which a node is flagged: the
	// orders' times would be off by as much.
	SkewLimit = 2 * time.Minute
)

// Rank orders healths worst first.
func (h Health) Rank() int {
	switch h {
	case HealthOffline:
		return 0
	case HealthLagging:
		return 1
	case HealthOutdated:
		return 2
	}
	return 3
}

// NodeHealth says how node n stands at now, with the reason in words, for
// a cloud running cloudVersion. A node is offline once unseen for longer
// than offlineAfter (OfflineAfter if zero). A node is outdated when both
// versions are release versions (semver) and the node's is older;
// development builds are not compared.
func NodeHealth(n NodeStatus, now time.Time, cloudVersion string, offlineAfter time.Duration) (Health, string) {
	if offlineAfter <= 0 {
		offlineAfter = OfflineAfter
	}
	switch {
	case n.RevokedAt != nil:
		return HealthOffline, "revoked: " + n.RevokedReason
	case n.LastSeenAt == nil:
		return HealthOffline, "enrolled " + Ago(now.Sub(n.EnrolledAt)) + ", never seen since"
	case now.Sub(*n.LastSeenAt) > offlineAfter:
		return HealthOffline, "not seen for " + Ago(now.Sub(*n.LastSeenAt))
	case n.DeadLetters > 0:
		return HealthLagging, fmt.Sprintf("%d event(s) the cloud could not apply (dead letters)", n.DeadLetters)
	case n.Lag >= LagEvents:
		return HealthLagging, fmt.Sprintf("%d events waiting at the edge", n.Lag)
	case n.Lag > 0 && n.OutboxOldestAt != nil && now.Sub(*n.OutboxOldestAt) > LagAge:
		return HealthLagging, fmt.Sprintf("%d events waiting at the edge, the oldest for %s", n.Lag, Ago(now.Sub(*n.OutboxOldestAt)))
	case n.Lag > 0 && (n.LastPushAt == nil || now.Sub(*n.LastPushAt) > LagAge):
		return HealthLagging, fmt.Sprintf("%d events waiting at the edge, none pushed for %s", n.Lag, Ago(now.Sub(pushOrEnroll(n))))
	case n.ClockSkewMS != nil && absDuration(time.Duration(*n.ClockSkewMS)*time.Millisecond) > SkewLimit:
		return HealthLagging, "its clock is off by " + Ago(absDuration(time.Duration(*n.ClockSkewMS)*time.Millisecond))
	case semver.IsValid(n.SoftwareVersion) && semver.IsValid(cloudVersion) && semver.Compare(n.SoftwareVersion, cloudVersion) < 0:
		return HealthOutdated, "runs " + n.SoftwareVersion + ", the cloud " + cloudVersion
	}
	return HealthOK, ""
}

func pushOrEnroll(n NodeStatus) time.Time {
	if n.LastPushAt != nil {
		return *n.LastPushAt
	}
	return n.EnrolledAt
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// Ago says a duration the way a person reads it: "40 s", "12 min",
// "3 h 5 min", "2 days".
func Ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(max(d, 0)/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%d h", h)
		}
		return fmt.Sprintf("%d h %d min", h, m)
	}
	return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
}
