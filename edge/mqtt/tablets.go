package mqtt

import (
	"fmt"
	"slices"
	"strings"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/pantry/pantry/internal/pantry"
)

// Tablet is one tablet connection the broker has established.
type Tablet struct {
	ClientID string `json:"client_id"`
	Username string `json:"username"`
	// Station is the station the tablet declared in its client id
	// (tabletStation), or pantry.StationAll.
	Station string `json:"station"`
	// Since is when the broker accepted the connection.
	Since time.Time `json:"since"`
}

// Presence is which tablets are connected, as the broker sees them.
// Presence is the broker's to know, not the tablets' to claim: it needs no
// MQTT will (which the hook refuses anyway). A tablet that says goodbye or
// whose socket closes leaves at once; one that vanishes (Wi-Fi gone,
// battery dead) leaves when its keepalive runs out (clampKeepalive).
type Presence struct {
	// Tablets are the tablets connected now, oldest connection first.
	Tablets []Tablet
	// LastLeft is, for each station a tablet has declared since the
	// broker started, when a connection declaring it last ended.
	LastLeft map[string]time.Time
}

// Presence returns which tablets are connected now.
func (b *Broker) Presence() Presence {
	h := b.hook
	h.mu.RLock()
	defer h.mu.RUnlock()
	p := Presence{Tablets: make([]Tablet, 0, len(h.present)), LastLeft: make(map[string]time.Time, len(h.lastLeft))}
	for _, t := range h.present {
		p.Tablets = append(p.Tablets, t)
	}
	for s, at := range h.lastLeft {
		p.LastLeft[s] = at
	}
	slices.SortFunc(p.Tablets, func(a, b Tablet) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return strings.Compare(a.ClientID, b.ClientID)
	})
	return p
}

// tabletPrefix starts the client id of a tablet that declares its station.
const tabletPrefix = "tablet-"

// tabletStation returns the station a tablet declares in its MQTT client
// id, which is how the staff app says which station it works for. The
// convention is
//
//	tablet-{username}-{station}-{suffix}
//
// where username is the one the tablet logs in with, station a station
// (pantry.ValidStation, not empty) or pantry.StationAll ("all": every
// station), and suffix anything without '-' (the app uses a few random
// characters, so that two pages of one tablet never take over each other's
// session). The username is known and only the last '-' starts the
// suffix, so usernames and stations containing '-' parse unambiguously.
//
// A client id that does not start with "tablet-{username}-" declares
// nothing and counts for every station: it logged in with a tablet's
// credentials and may read the whole site. One that does but names no
// valid station is an error, refused at CONNECT so that the app's author
// sees it at once rather than a pantry wondering why it is reported absent.
func tabletStation(clientID, username string) (string, error) {
	rest, ok := strings.CutPrefix(clientID, tabletPrefix+username+"-")
	if !ok {
		return pantry.StationAll, nil
	}
	i := strings.LastIndexByte(rest, '-')
	if i <= 0 || i == len(rest)-1 {
		return "", fmt.Errorf("client id %q must be %s%s-{station}-{suffix}", clientID, tabletPrefix, username)
	}
	station := rest[:i]
	if station != pantry.StationAll && (station == "" || !pantry.ValidStation(station)) {
		return "", fmt.Errorf("client id %q names station %q, which is neither %q nor a station (lowercase letters, digits and hyphens)", clientID, station, pantry.StationAll)
	}
	return station, nil
}

// maxKeepalive is the longest keepalive, in seconds, a tablet may use.
// mochi drops a connection silent for one and a half keepalives, and that
// is how the broker notices a tablet that vanished without a word, and
// stops counting it as present: a tablet asking for no keepalive (0) or an
// hour would look connected long after it was gone. MQTT 5 lets the server
// impose its own in the CONNACK (Server Keep Alive), which the client must
// then use [MQTT-3.2.2-21]; a minute bounds a half-open connection to 90 s,
// under the default --staff-absent-after of 2 minutes.
const maxKeepalive = 60

// clampKeepalive imposes maxKeepalive on an MQTT 5 client asking for none
// or a longer one. It runs in OnConnect, before mochi reads the keepalive
// to set the connection's deadline and writes the CONNACK. An MQTT 3
// client cannot be told, and forcing a deadline on it would only drop a
// well-behaved one; tablets speak MQTT 5.
func clampKeepalive(cl *mochi.Client) {
	if cl.Properties.ProtocolVersion < 5 {
		return
	}
	if k := cl.State.Keepalive; k == 0 || k > maxKeepalive {
		cl.State.Keepalive, cl.State.ServerKeepalive = maxKeepalive, true
	}
}

// OnSessionEstablished counts a tablet as present once its CONNACK is out.
// mochi pairs it with OnDisconnect, which calls left.
func (h *hook) OnSessionEstablished(cl *mochi.Client, _ packets.Packet) {
	if cl.Net.Inline {
		return
	}
	b, ok := h.binding(cl)
	if !ok {
		return
	}
	h.mu.Lock()
	h.present[cl] = Tablet{ClientID: cl.ID, Username: b.username, Station: b.station, Since: h.now()}
	h.mu.Unlock()
	h.onPresence()
}

// left stops counting cl as present. Presence is kept by connection, not
// by client id: when a tablet's new connection takes its session over,
// mochi may report the old one gone after the new one arrived.
func (h *hook) left(cl *mochi.Client) {
	h.mu.Lock()
	t, ok := h.present[cl]
	if ok {
		delete(h.present, cl)
		h.lastLeft[t.Station] = h.now()
	}
	h.mu.Unlock()
	if ok {
		h.onPresence()
	}
}

// Credentials returns, once each, the credentials (Login.Credential) the
// broker's clients logged in with, connected or holding a session, that
// Revoke has not revoked: what the edge must check are still valid.
func (b *Broker) Credentials() []string {
	h := b.hook
	h.mu.RLock()
	defer h.mu.RUnlock()
	var out []string
	for _, bnd := range h.clients {
		if !bnd.revoked && bnd.credential != "" && !slices.Contains(out, bnd.credential) {
			out = append(out, bnd.credential)
		}
	}
	slices.Sort(out)
	return out
}

// Revoke ends every login made with one of credentials, a tablet's
// credential having been revoked by the cloud, removed with the CLI, or
// having expired. From now on the ACL refuses those clients every delivery
// and subscription, and each connected one is sent DISCONNECT "not
// authorized" (0x87) and closed, so that the tablet asks its user to sign
// in again instead of retrying; its next CONNECT meets the Authenticator,
// which refuses the credential. A held session stays until it expires, so
// that a valid login of the same site may take it over. Revoke returns how
// many connections it closed.
func (b *Broker) Revoke(credentials []string) int {
	h := b.hook
	var closing []*mochi.Client
	h.mu.Lock()
	for id, bnd := range h.clients {
		if !bnd.revoked && slices.Contains(credentials, bnd.credential) {
			bnd.revoked = true
			h.clients[id] = bnd
			closing = append(closing, bnd.cl)
			h.log.Warn("mqtt login revoked", "client", id, "username", bnd.username)
		}
	}
	h.mu.Unlock()
	n := 0
	for _, cl := range closing {
		if !cl.Closed() {
			h.disconnect(cl, packets.ErrNotAuthorized)
			n++
		}
	}
	return n
}

// disconnect tells an MQTT 5 client why it is being disconnected, then
// closes its connection; an MQTT 3 client (which has no server DISCONNECT)
// is just closed. A client that has stopped reading gets a second to take
// the DISCONNECT: the caller is not on that client's goroutine and must
// not wait on it.
func (h *hook) disconnect(cl *mochi.Client, code packets.Code) {
	if cl.Properties.ProtocolVersion < 5 || cl.Net.Conn == nil {
		cl.Stop(code)
		return
	}
	_ = cl.Net.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	_ = h.server.DisconnectClient(cl, code)
	cl.Stop(code) // DisconnectClient stops the client itself unless PassiveClientDisconnect is on
}
