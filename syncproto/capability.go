package syncproto

import (
	"slices"
	"strconv"
	"strings"
)

// Fields added to a message within a protocol version cannot simply be
// sent: Decode refuses unknown fields, so an edge of the previous release
// would refuse every pull carrying one, and stop taking catalog changes
// for good. Nor can the edge announce in the body what it reads: the
// cloud's decoder refuses unknown request fields in the same way. So an
// edge names, in the HeaderCapability request header, the newest field
// of the changelog it decodes (a cloud that predates the header ignores
// it), and the cloud strips from its answer every field newer than that
// (Config.ForCapability). An edge that sends no header is taken to be at
// capability 0: version 1 as it was first released.
//
// Each field added this way bumps Capability and gets a constant below.
//
// Fields of requests the edge sends are the mirror image: an older cloud
// refuses them. So the cloud answers every sync request with its own
// capability in the same header, and an edge sends a request field only
// once a cloud has said it decodes it (CapabilityEdgeStatus). A cloud
// that predates the header answers without it: capability 0, and the
// edge keeps to version 1 as first released.

// HeaderCapability is the request header that carries the edge's
// capability, a decimal integer.
const HeaderCapability = "Pantry-Sync-Capability"

// Capability is what this code decodes: the newest of the constants below.
const Capability = CapabilityEdgeStatus

// Capabilities: each names the field it added.
const (
	// CapabilityStation: Item.Station in a pull's configuration.
	CapabilityStation = 1
	// CapabilityEdgeStatus: PullRequest.Status, what the edge reports of
	// itself for the fleet page (its outbox's oldest waiting event and
	// the tablets connected), sent only to a cloud at this capability.
	CapabilityEdgeStatus = 2
)

// ParseCapability reads a HeaderCapability value. Missing or malformed is
// 0, the first release; a value above Capability (a newer edge) is
// Capability, all this side can send.
func ParseCapability(header string) int {
	n, err := strconv.Atoi(strings.TrimSpace(header))
	if err != nil || n < 0 {
		return 0
	}
	return min(n, Capability)
}

// ForCapability returns c as an edge at capability capability decodes it:
// without the fields it does not know. Those are all omitempty, so their
// zero value leaves them out. c itself is not changed; when nothing needs
// stripping, c is returned as is.
func (c *Config) ForCapability(capability int) *Config {
	if c == nil || capability >= CapabilityStation {
		return c
	}
	out := *c
	out.Items = slices.Clone(c.Items)
	for i := range out.Items {
		out.Items[i].Station = ""
	}
	return &out
}
