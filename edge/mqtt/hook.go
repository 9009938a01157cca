package mqtt

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/pantry/pantry/internal/pantry"
)

// hook is the broker's only authentication and ACL hook. mochi OR-s hooks
// (any hook allowing is enough), so nothing else that answers
// OnConnectAuthenticate or OnACLCheck, auth.AllowHook above all, may ever be
// registered next to it.
//
// Authentication happens in OnConnect rather than OnConnectAuthenticate
// because only OnConnect can choose the CONNACK reason code: a tablet must
// be able to tell "wrong password" (ask the user) from "edge busy" (retry).
// OnConnectAuthenticate then only confirms that OnConnect bound the client.
type hook struct {
	mochi.HookBase
	ctx    context.Context // cancelled by Broker.Close
	server *mochi.Server
	auth   Authenticator
	log    *slog.Logger

	mu      sync.RWMutex
	clients map[string]binding // by client id: OnACLCheck reads it on every delivery
}

// binding ties an authenticated connection to its site. The client pointer
// tells a live connection from an older one with the same client id, whose
// deliveries must no longer pass the ACL.
type binding struct {
	cl       *mochi.Client
	site     string
	username string
}

// newHook returns the hook; ctx bounds every authentication it runs.
func newHook(ctx context.Context, server *mochi.Server, auth Authenticator, log *slog.Logger) *hook {
	return &hook{ctx: ctx, server: server, auth: auth, log: log, clients: make(map[string]binding)}
}

// ID names the hook in mochi's logs.
func (h *hook) ID() string { return "pantry-auth" }

// Provides lists the events the hook handles.
func (h *hook) Provides(b byte) bool {
	switch b {
	case mochi.OnConnect, mochi.OnConnectAuthenticate, mochi.OnACLCheck, mochi.OnSubscribed,
		mochi.OnDisconnect, mochi.OnClientExpired, mochi.OnPublishDropped:
		return true
	}
	return false
}

// OnConnect authenticates the client and binds it to its site, or answers
// CONNACK with a failure code and refuses the connection. It runs on the
// connecting client's own goroutine, before any packet path, so it may wait
// for the Authenticator (bounded by authTimeout).
func (h *hook) OnConnect(cl *mochi.Client, pk packets.Packet) error {
	log := h.log.With("client", cl.ID, "remote", cl.Net.Remote, "listener", cl.Net.Listener)
	code, site := h.authenticate(log, pk)
	if code == packets.CodeSuccess {
		code = h.bind(log, cl, site, string(pk.Connect.Username))
	}
	if code != packets.CodeSuccess {
		return h.refuse(cl, code)
	}
	log.Info("mqtt client connected", "username", string(pk.Connect.Username), "site", site)
	return nil
}

// authenticate checks the CONNECT packet and returns the client's site.
func (h *hook) authenticate(log *slog.Logger, pk packets.Packet) (packets.Code, string) {
	if pk.Connect.WillFlag {
		// mochi publishes a will without any ACL check (Server.sendLWT), and
		// may retain it: a will on pantry/S/queue/x would forge a queue entry.
		log.Warn("mqtt login refused: will messages are not allowed")
		return packets.ErrNotAuthorized, ""
	}
	username := string(pk.Connect.Username)
	if !pk.Connect.UsernameFlag || username == "" {
		log.Warn("mqtt login refused: anonymous")
		return packets.ErrBadUsernameOrPassword, ""
	}
	ctx, cancel := context.WithTimeout(h.ctx, authTimeout)
	defer cancel()
	site, err := h.auth.AuthenticateTablet(ctx, username, string(pk.Connect.Password))
	switch {
	case pantry.ErrorCode(err) == pantry.EUNAUTHORIZED:
		log.Warn("mqtt login refused: wrong credentials", "username", username)
		return packets.ErrBadUsernameOrPassword, ""
	case err != nil:
		log.Error("mqtt login failed: authenticator", "username", username, "err", err)
		return packets.ErrServerUnavailable, ""
	case !validSegment(site):
		log.Error("mqtt login failed: authenticator returned an unusable site id", "username", username, "site", site)
		return packets.ErrServerUnavailable, ""
	}
	return packets.CodeSuccess, site
}

// bind records that cl belongs to site. It refuses a client id that an
// existing session of another site (or the edge's own inline client) still
// holds: mochi would hand the newcomer that session's subscriptions and
// queued messages, and it resends queued messages without an ACL check.
func (h *hook) bind(log *slog.Logger, cl *mochi.Client, site, username string) packets.Code {
	h.mu.Lock()
	defer h.mu.Unlock()
	if existing, ok := h.server.Clients.Get(cl.ID); ok {
		if b, ok := h.clients[cl.ID]; !ok || b.cl != existing || b.site != site {
			log.Warn("mqtt login refused: client id is held by another site's session", "username", username, "site", site)
			return packets.ErrClientIdentifierNotValid
		}
	}
	h.clients[cl.ID] = binding{cl: cl, site: site, username: username}
	return packets.CodeSuccess
}

// refuse sends a failure CONNACK and returns the error that makes mochi
// close the connection.
func (h *hook) refuse(cl *mochi.Client, code packets.Code) error {
	if code == packets.ErrNotAuthorized && cl.Properties.ProtocolVersion < 5 {
		code = packets.Err3NotAuthorized // mochi maps the other codes itself
	}
	if err := h.server.SendConnack(cl, code, false, nil); err != nil {
		return errors.Join(code, err)
	}
	return code
}

// OnConnectAuthenticate lets in only a client that OnConnect bound.
func (h *hook) OnConnectAuthenticate(cl *mochi.Client, _ packets.Packet) bool {
	_, ok := h.site(cl)
	return ok
}

// site returns the site cl is bound to, if cl is the live connection for
// its client id.
func (h *hook) site(cl *mochi.Client) (string, bool) {
	h.mu.RLock()
	b, ok := h.clients[cl.ID]
	h.mu.RUnlock()
	if !ok || b.cl != cl {
		return "", false
	}
	return b.site, true
}

// OnACLCheck allows a tablet to read within its own site's tree and never to
// write. mochi calls it for each filter of a SUBSCRIBE (shared ones with
// their "$share/{group}/" prefix), for each PUBLISH a client sends, and for
// each message it delivers (with the topic name), so it must be cheap: one
// read-locked map lookup and string checks, no I/O.
func (h *hook) OnACLCheck(cl *mochi.Client, topic string, write bool) bool {
	if write {
		// Tablets never publish. Besides, mochi checks the topic name before
		// resolving a topic alias, so a write ACL could be bypassed anyway.
		h.log.Warn("mqtt publish refused", "client", cl.ID, "topic", topic)
		return false
	}
	site, ok := h.site(cl)
	return ok && readAllowed(site, topic)
}

// OnSubscribed logs refused subscription filters.
func (h *hook) OnSubscribed(cl *mochi.Client, pk packets.Packet, codes []byte) {
	if cl.Net.Inline {
		return
	}
	for i, sub := range pk.Filters {
		if i < len(codes) && codes[i] >= packets.ErrUnspecifiedError.Code {
			h.log.Warn("mqtt subscription refused", "client", cl.ID, "filter", sub.Filter, "reason", codes[i])
		}
	}
}

// OnDisconnect logs the disconnection and forgets a client whose session
// ends with its connection. A client with a persistent session stays bound,
// so messages queued for it while offline still pass the ACL.
func (h *hook) OnDisconnect(cl *mochi.Client, err error, expire bool) {
	if cause := cl.StopCause(); cause != nil {
		err = cause // mochi's reason ("disconnected", "session taken over") rather than the socket's
	}
	h.mu.RLock()
	b := h.clients[cl.ID]
	h.mu.RUnlock()
	h.log.Info("mqtt client disconnected", "client", cl.ID, "username", b.username, "site", b.site,
		"reason", err, "session_kept", !expire)
	if expire {
		h.unbind(cl)
	}
}

// OnClientExpired forgets a client whose persistent session expired.
func (h *hook) OnClientExpired(cl *mochi.Client) { h.unbind(cl) }

// unbind removes cl's binding unless a newer connection replaced it.
func (h *hook) unbind(cl *mochi.Client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if b, ok := h.clients[cl.ID]; ok && b.cl == cl {
		delete(h.clients, cl.ID)
	}
}

// OnPublishDropped runs when a client's outbound queue is full and mochi has
// dropped a message to it. The tablet's view is now silently stale, so the
// hook closes its connection: on reconnect it resubscribes and rebuilds its
// screen from the retained queue and stock. Stop only closes the socket, so
// this does not block the publisher.
func (h *hook) OnPublishDropped(cl *mochi.Client, pk packets.Packet) {
	h.log.Warn("mqtt outbound queue full; disconnecting client so it resyncs", "client", cl.ID, "topic", pk.TopicName)
	cl.Stop(packets.ErrPendingClientWritesExceeded)
}
