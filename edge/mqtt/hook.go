package mqtt

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

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
//
// The hook also replays the edge's retained state to each new subscription
// (retained.go) and keeps the presence of tablets (tablets.go).
type hook struct {
	mochi.HookBase
	ctx      context.Context // cancelled by Broker.Close
	server   *mochi.Server
	auth     Authenticator
	log      *slog.Logger
	retained *retainedStore
	now      func() time.Time
	// onPresence is called, outside any lock, after a tablet connects or
	// leaves; it must not block (it runs on that tablet's goroutine).
	onPresence func()

	mu       sync.RWMutex
	clients  map[string]binding       // by client id: OnACLCheck reads it on every delivery
	present  map[*mochi.Client]Tablet // established connections, for Presence
	lastLeft map[string]time.Time     // by declared station: when its last connection ended
}

// binding ties an authenticated connection to its site. The client pointer
// tells a live connection from an older one with the same client id, whose
// deliveries must no longer pass the ACL.
type binding struct {
	cl       *mochi.Client
	site     string
	username string
	station  string // declared in the client id (tabletStation)
	// credential names what the client logged in with (Login.Credential);
	// Revoke matches it.
	credential string
	// revoked is set by Revoke: the ACL refuses the client from then on,
	// but the binding stays so that a valid login of the same site may
	// take the session over (bind).
	revoked bool
	// gate holds live updates of the topics a SUBSCRIBE is replaying back
	// until the replay is done (replayGate); nil when none is running.
	gate *replayGate
}

// newHook returns the hook; ctx bounds every authentication it runs.
func newHook(ctx context.Context, server *mochi.Server, auth Authenticator, log *slog.Logger, retained *retainedStore, now func() time.Time, onPresence func()) *hook {
	if onPresence == nil {
		onPresence = func() {}
	}
	return &hook{
		ctx: ctx, server: server, auth: auth, log: log, retained: retained, now: now, onPresence: onPresence,
		clients: make(map[string]binding), present: make(map[*mochi.Client]Tablet), lastLeft: make(map[string]time.Time),
	}
}

// ID names the hook in mochi's logs.
func (h *hook) ID() string { return "pantry-auth" }

// Provides lists the events the hook handles.
func (h *hook) Provides(b byte) bool {
	switch b {
	case mochi.OnConnect, mochi.OnConnectAuthenticate, mochi.OnACLCheck, mochi.OnSubscribe, mochi.OnSubscribed,
		mochi.OnSessionEstablished, mochi.OnDisconnect, mochi.OnClientExpired, mochi.OnPublishDropped:
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
	code, login := h.authenticate(log, pk)
	username := string(pk.Connect.Username)
	var station string
	if code == packets.CodeSuccess {
		var err error
		if station, err = tabletStation(cl.ID, username); err != nil {
			log.Warn("mqtt login refused: bad station in client id", "username", username, "err", err)
			code = packets.ErrClientIdentifierNotValid
			if cl.Properties.ProtocolVersion >= 5 {
				code.Reason = err.Error() // the CONNACK's reason string says what is wrong
			}
		}
	}
	if code == packets.CodeSuccess {
		code = h.bind(log, binding{cl: cl, site: login.SiteID, username: username, station: station, credential: login.Credential})
	}
	if code != packets.CodeSuccess {
		return h.refuse(cl, code)
	}
	clampKeepalive(cl)
	log.Info("mqtt client connected", "username", username, "site", login.SiteID, "station", station, "keepalive", cl.State.Keepalive)
	return nil
}

// authenticate checks the CONNECT packet and returns the client's login.
func (h *hook) authenticate(log *slog.Logger, pk packets.Packet) (packets.Code, Login) {
	if pk.Connect.WillFlag {
		// mochi publishes a will without any ACL check (Server.sendLWT), and
		// may retain it: a will on pantry/S/queue/x would forge a queue entry.
		// Presence needs no will either: the broker is the one that notices
		// a tablet going away (tablets.go).
		log.Warn("mqtt login refused: will messages are not allowed")
		return packets.ErrNotAuthorized, Login{}
	}
	username := string(pk.Connect.Username)
	if !pk.Connect.UsernameFlag || username == "" {
		log.Warn("mqtt login refused: anonymous")
		return packets.ErrBadUsernameOrPassword, Login{}
	}
	ctx, cancel := context.WithTimeout(h.ctx, authTimeout)
	defer cancel()
	login, err := h.auth.AuthenticateTablet(ctx, username, string(pk.Connect.Password))
	switch {
	case pantry.ErrorCode(err) == pantry.EUNAUTHORIZED:
		log.Warn("mqtt login refused: wrong credentials", "username", username)
		return packets.ErrBadUsernameOrPassword, Login{}
	case err != nil:
		log.Error("mqtt login failed: authenticator", "username", username, "err", err)
		return packets.ErrServerUnavailable, Login{}
	case !validSegment(login.SiteID):
		log.Error("mqtt login failed: authenticator returned an unusable site id", "username", username, "site", login.SiteID)
		return packets.ErrServerUnavailable, Login{}
	}
	return packets.CodeSuccess, login
}

// bind records nb, the binding of nb.cl to its site. It refuses a client
// id that an existing session of another site (or the edge's own inline
// client) still holds: mochi would hand the newcomer that session's
// subscriptions and queued messages, and it resends queued messages
// without an ACL check. A session of the same site may be taken over, even
// one whose credential was revoked: the newcomer's own login is valid.
func (h *hook) bind(log *slog.Logger, nb binding) packets.Code {
	h.mu.Lock()
	defer h.mu.Unlock()
	if existing, ok := h.server.Clients.Get(nb.cl.ID); ok {
		if b, ok := h.clients[nb.cl.ID]; !ok || b.cl != existing || b.site != nb.site {
			log.Warn("mqtt login refused: client id is held by another site's session", "username", nb.username, "site", nb.site)
			return packets.ErrClientIdentifierNotValid
		}
	}
	h.clients[nb.cl.ID] = nb
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
// its client id and its credential has not been revoked.
func (h *hook) site(cl *mochi.Client) (string, bool) {
	b, ok := h.binding(cl)
	return b.site, ok
}

// binding returns cl's binding, if cl is the live connection for its
// client id and its credential has not been revoked.
func (h *hook) binding(cl *mochi.Client) (binding, bool) {
	h.mu.RLock()
	b, ok := h.clients[cl.ID]
	h.mu.RUnlock()
	if !ok || b.cl != cl || b.revoked {
		return binding{}, false
	}
	return b, true
}

// OnACLCheck allows a tablet to read within its own site's tree and never to
// write. mochi calls it for each filter of a SUBSCRIBE (shared ones with
// their "$share/{group}/" prefix), for each PUBLISH a client sends, and for
// each message it delivers (with the topic name), so it must be cheap: one
// read-locked map lookup and string checks, no I/O. While the client's
// SUBSCRIBE is replaying retained state, a live update of a topic being
// replayed is held back here and sent after the replay instead (replayGate).
func (h *hook) OnACLCheck(cl *mochi.Client, topic string, write bool) bool {
	if write {
		// Tablets never publish. Besides, mochi checks the topic name before
		// resolving a topic alias, so a write ACL could be bypassed anyway.
		h.log.Warn("mqtt publish refused", "client", cl.ID, "topic", topic)
		return false
	}
	b, ok := h.binding(cl)
	if !ok || !readAllowed(b.site, topic) {
		return false
	}
	return b.gate == nil || !b.gate.hold(topic)
}

// OnSubscribed logs refused subscription filters, then replays the
// retained state under the granted ones (replay).
func (h *hook) OnSubscribed(cl *mochi.Client, pk packets.Packet, codes []byte) {
	if cl.Net.Inline {
		return
	}
	for i, sub := range pk.Filters {
		if i < len(codes) && codes[i] >= packets.ErrUnspecifiedError.Code {
			h.log.Warn("mqtt subscription refused", "client", cl.ID, "filter", sub.Filter, "reason", codes[i])
		}
	}
	h.replay(cl, pk, codes)
}

// OnDisconnect logs the disconnection, records that the tablet left
// (tablets.go) and forgets a client whose session ends with its
// connection. A client with a persistent session stays bound, so messages
// queued for it while offline still pass the ACL.
func (h *hook) OnDisconnect(cl *mochi.Client, err error, expire bool) {
	if cause := cl.StopCause(); cause != nil {
		err = cause // mochi's reason ("disconnected", "session taken over") rather than the socket's
	}
	h.mu.RLock()
	b := h.clients[cl.ID]
	h.mu.RUnlock()
	h.log.Info("mqtt client disconnected", "client", cl.ID, "username", b.username, "site", b.site,
		"reason", err, "session_kept", !expire)
	h.left(cl)
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
