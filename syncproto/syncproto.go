// Package syncproto is the wire protocol between an edge node and the
// cloud (DESIGN.md, "Sync protocol"): enrollment, the push of outbox
// events (edge -> cloud) and the pull of a site's configuration and cloud
// stock movements (cloud -> edge). It holds the messages, their
// validation and their encoding, and imports only the standard library:
// edge and cloud both speak it and neither imports the other.
//
// Every message is JSON over HTTPS, optionally gzip-compressed
// (Content-Encoding: gzip), and carries the protocol version it was
// written in. Errors use the same shape as every other Pantry API,
// {"error":{"code","message"}}, with extra fields where a code needs them
// (resume_from for ErrGap).
//
// # Changelog
//
//   - Version 1 (2026-11-25): enrollment, push with a per-node watermark,
//     pull of a configuration snapshot by revision plus cloud stock
//     movements by a per-site sequence. Event schema 1. The same day:
//     previous_node_id (optional) in enrollment.
//   - Version 1 (2026-12-06): items carry an optional station
//     (Item.Station). Capability 1: the cloud sends it only to an edge
//     that says, in the Pantry-Sync-Capability header, that it decodes it
//     (capability.go); an edge without the header gets the configuration
//     as before, and an edge reading a cloud without stations gets "".
//   - Version 1 (2026-12-06): order.placed carries an optional
//     deliver_by (OrderPlaced.DeliverBy, RFC 3339 UTC, omitted when the
//     order is for as soon as possible). Event schema stays 1: the
//     field is in an event the edge sends, and DecodePayload ignores
//     fields it does not know, so a cloud from before it applies such
//     an order without its deliver_by (TestOlderCloudReadsDeliverBy).
//     Upgrade the cloud first, as for any field an edge sends, or the
//     deliver-by times of the orders pushed meanwhile are not kept.
//   - Version 1 (2026-12-07): the cloud names its own capability in the
//     Pantry-Sync-Capability header of every sync answer. Capability 2:
//     a pull may carry the edge's status (PullRequest.Status: the oldest
//     waiting event's time and the tablets online), which an edge sends
//     only to a cloud that answered with capability 2 or more, so an
//     older cloud never sees the field it would refuse.
//   - Version 1 (2026-12-08): GET PathNode answers NodeInfo, what the
//     cloud knows of the calling node (its watermark, its open dead
//     letters, the cloud's build). Nothing else changes: an edge asks
//     for it only when a person does (doctor) or after its data was
//     restored from a backup; a cloud without the endpoint answers 404,
//     and such an edge then waits to push until the cloud is upgraded.
package syncproto

import "time"

// Version is the protocol version this code writes. The cloud accepts
// MinVersion..Version, so a fleet can upgrade one building at a time
// (sync invariant 6).
const (
	Version    = 1
	MinVersion = 1
)

// EventSchema is the schema version of the event payloads this code
// writes. An event with a newer schema than the cloud knows is not
// guessed at: it is dead-lettered, to be re-applied after the cloud is
// upgraded.
const EventSchema = 1

// Paths of the cloud's sync endpoints.
const (
	PathEnroll = "/sync/v1/enroll"
	PathPush   = "/sync/v1/push"
	PathPull   = "/sync/v1/pull"
	// PathNode is GET with the node's credential: what the cloud knows of
	// the calling node (NodeInfo), for `pantry edge doctor` and for an
	// edge restored from a backup, which must learn its watermark before
	// it pushes again.
	PathNode = "/sync/v1/node"
)

// Limits that both sides enforce. An edge splits its backlog into batches
// within them; the cloud refuses anything larger with ErrTooLarge.
const (
	// MaxBatchEvents is the most events one push may carry.
	MaxBatchEvents = 10000
	// MaxBodyBytes bounds a request body as sent (compressed or not), and
	// MaxDecodedBytes what it may inflate to: a gzip bomb stops there.
	MaxBodyBytes    = 8 << 20
	MaxDecodedBytes = 64 << 20
	// MaxEventBytes bounds one event's payload.
	MaxEventBytes = 64 << 10
	// MaxPullWait is the longest a pull may wait for a change.
	MaxPullWait = 30 * time.Second
	// MaxStockPage is the most stock movements one pull page carries.
	MaxStockPage = 5000
)

// Error codes of the sync endpoints, in the "code" of the error body.
// Codes shared with the rest of the API keep their names there.
const (
	ErrInvalid       = "invalid_input"     // 400: a malformed or invalid message
	ErrUnauthorized  = "unauthorized"      // 401: no, unknown or revoked credential or token
	ErrForbidden     = "forbidden"         // 403: a node acting for another site or organization
	ErrTooLarge      = "payload_too_large" // 413
	ErrGap           = "sync_gap"          // 409: the batch does not start right after the watermark; see ResumeFrom
	ErrVersion       = "unsupported_version"
	ErrUnavailable   = "unavailable" // 503: try again later
	HeaderAuthScheme = "Bearer"
)

// ErrorBody is what every sync endpoint answers with a 4xx or 5xx.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the error itself.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// ResumeFrom, with ErrGap, is the first seq the cloud expects: the
	// edge resends from there.
	ResumeFrom int64 `json:"resume_from,omitempty"`
}
