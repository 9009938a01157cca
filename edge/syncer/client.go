// Package syncer is the edge's side of replication (DESIGN.md, "Sync
// protocol"): a Client that speaks syncproto to the cloud, and a Worker
// that pushes the outbox and pulls the site's feed in the background,
// never on the attendee's or staff's path.
package syncer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pantry/pantry/syncproto"
)

// Client calls the cloud's sync endpoints.
type Client struct {
	// BaseURL is the cloud's base URL, e.g. https://pantry.example.com.
	BaseURL string
	// Credential is the node's credential ("" before enrollment).
	Credential string
	HTTP       *http.Client

	// cloudCapability is the capability the cloud named in its last
	// answer (syncproto/capability.go): 0 until one has, and for a cloud
	// that predates the header.
	cloudCapability atomic.Int64
}

// CloudCapability is the sync capability the cloud named in its last
// answer: which request fields it decodes.
func (c *Client) CloudCapability() int { return int(c.cloudCapability.Load()) }

// Error is an error answer from the cloud: its HTTP status and body.
type Error struct {
	Status int
	syncproto.ErrorDetail
}

func (e *Error) Error() string {
	return fmt.Sprintf("cloud answered %d %s: %s", e.Status, e.Code, e.Message)
}

// Permanent reports whether retrying the same request cannot help until
// someone acts (re-enrolls the node, upgrades the cloud or the edge).
func (e *Error) Permanent() bool {
	return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden || e.Code == syncproto.ErrVersion
}

// Enroll exchanges a one-time token for the node's credential.
func (c *Client) Enroll(ctx context.Context, req syncproto.EnrollRequest) (syncproto.EnrollResponse, error) {
	var resp syncproto.EnrollResponse
	err := c.call(ctx, syncproto.PathEnroll, req, false, &resp)
	return resp, err
}

// Push sends a batch of events, gzip-compressed.
func (c *Client) Push(ctx context.Context, req syncproto.PushRequest) (syncproto.PushResponse, error) {
	body, err := syncproto.Encode(req, true)
	if err != nil {
		return syncproto.PushResponse{}, err
	}
	return c.PushEncoded(ctx, body)
}

// PushEncoded sends a push already encoded with syncproto.Encode(req,
// true), so that a caller can prepare the next batch while one is in
// flight.
func (c *Client) PushEncoded(ctx context.Context, gzipped []byte) (syncproto.PushResponse, error) {
	var resp syncproto.PushResponse
	err := c.post(ctx, syncproto.PathPush, gzipped, true, &resp)
	return resp, err
}

// Pull asks for the site's feed after req.Cursor, waiting up to
// req.WaitSeconds for a change.
func (c *Client) Pull(ctx context.Context, req syncproto.PullRequest) (syncproto.PullResponse, error) {
	var resp syncproto.PullResponse
	err := c.call(ctx, syncproto.PathPull, req, false, &resp)
	return resp, err
}

// maxResponseBytes bounds what the client reads of an answer.
const maxResponseBytes = 64 << 20

func (c *Client) call(ctx context.Context, path string, in any, compress bool, out any) error {
	body, err := syncproto.Encode(in, compress)
	if err != nil {
		return err
	}
	return c.post(ctx, path, body, compress, out)
}

func (c *Client) post(ctx context.Context, path string, body []byte, compress bool, out any) error {
	return c.do(ctx, http.MethodPost, path, body, compress, out)
}

// Node asks the cloud what it knows of this node: its watermark above
// all, which an edge restored from a backup must learn before it pushes
// again. An answer that does not validate is an error.
func (c *Client) Node(ctx context.Context) (syncproto.NodeInfo, error) {
	var info syncproto.NodeInfo
	if err := c.do(ctx, http.MethodGet, syncproto.PathNode, nil, false, &info); err != nil {
		return info, err
	}
	if err := info.Validate(); err != nil {
		return syncproto.NodeInfo{}, fmt.Errorf("%s: the cloud's answer is invalid: %w", syncproto.PathNode, err)
	}
	return info, nil
}

// do sends one request (a body for POST, none for GET) and decodes the
// answer into out.
func (c *Client) do(ctx context.Context, method, path string, body []byte, compress bool, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, rd)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	// What this edge decodes of the cloud's answers: a cloud sends an
	// edge without it nothing added to version 1 since its first release.
	req.Header.Set(syncproto.HeaderCapability, strconv.Itoa(syncproto.Capability))
	if compress {
		req.Header.Set("Content-Encoding", "gzip")
	}
	if c.Credential != "" {
		req.Header.Set("Authorization", syncproto.HeaderAuthScheme+" "+c.Credential)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer res.Body.Close()
	c.cloudCapability.Store(int64(syncproto.ParseCapability(res.Header.Get(syncproto.HeaderCapability))))
	data, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("%s: read answer: %w", path, err)
	}
	if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusCreated {
		var eb syncproto.ErrorBody
		if json := res.Header.Get("Content-Type"); strings.HasPrefix(json, "application/json") && syncproto.Decode(data, false, &eb) == nil && eb.Error.Code != "" {
			return &Error{Status: res.StatusCode, ErrorDetail: eb.Error}
		}
		return &Error{Status: res.StatusCode, ErrorDetail: syncproto.ErrorDetail{Code: "http_" + res.Status, Message: clip(string(data))}}
	}
	if err := syncproto.Decode(data, false, out); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// skew estimates the edge's clock minus the cloud's from one exchange:
// the server's time is taken to be the midpoint of the round trip.
func skew(sent, received, server time.Time) *time.Duration {
	if server.IsZero() {
		return nil
	}
	mid := sent.Add(received.Sub(sent) / 2)
	d := mid.Sub(server)
	return &d
}

// isGap reports a push refused because it does not start right after the
// cloud's watermark, and where to resume.
func isGap(err error) (resumeFrom int64, ok bool) {
	var e *Error
	if errors.As(err, &e) && e.Code == syncproto.ErrGap && e.ResumeFrom > 0 {
		return e.ResumeFrom, true
	}
	return 0, false
}
