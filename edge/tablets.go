package edge

import (
	"context"
	"slices"
	"time"

	"github.com/pantry/pantry/edge/mqtt"
	"github.com/pantry/pantry/internal/pantry"
)

// authenticateTablet checks a tablet's broker login, with its password or
// a live staff token of that tablet (the staff app's), and names the
// credential it proved, so that checkCredentials can end the connection
// once that credential stops being valid.
func (n *Node) authenticateTablet(ctx context.Context, username, secret string) (mqtt.Login, error) {
	c, err := n.store.AuthenticateCredential(ctx, username, secret)
	if err != nil {
		return mqtt.Login{}, err
	}
	return mqtt.Login{SiteID: c.Tablet.SiteID, Credential: c.ID}, nil
}

// checkCredentials disconnects broker clients whose credential is no
// longer valid, until ctx ends: at once when a pull changed the
// configuration (the cloud may have revoked a tablet or changed its
// password), and every CredentialCheckEvery otherwise, which is how the
// node notices what changes without a pull: a tablet removed with the CLI
// (another process writing the same file), a staff sign-out, a token that
// expired. Connections are never many, and each check is one indexed
// lookup per credential in use.
func (n *Node) checkCredentials(ctx context.Context) {
	t := time.NewTicker(n.cfg.CredentialCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-n.credWake:
		}
		n.revokeInvalidLogins(ctx)
	}
}

// revokeInvalidLogins is one pass of checkCredentials.
func (n *Node) revokeInvalidLogins(ctx context.Context) {
	creds := n.bus.Credentials()
	if len(creds) == 0 {
		return
	}
	bad, err := n.store.RevokedCredentials(ctx, creds)
	if err != nil {
		if ctx.Err() == nil {
			n.log.Warn("check tablet credentials", "err", err)
		}
		return
	}
	if len(bad) > 0 {
		closed := n.bus.Revoke(bad)
		n.log.Info("tablet logins revoked", "credentials", len(bad), "disconnected", closed)
	}
}

// StaffSeen reports whether the pantry can have seen order o: whether, for
// each station of its lines, a tablet showing that station's lines has
// been connected to the broker at some moment since o was placed (it then
// received the order live, or in the retained queue when it connected).
// The attendee's order page calls it to say honestly that the pantry has
// not seen the order yet. It is cheap (no I/O) and changes as tablets come
// and go, so a page should ask again rather than keep the answer.
func (n *Node) StaffSeen(o pantry.Order) bool {
	var stations []string
	for _, l := range o.Lines {
		if !slices.Contains(stations, l.Station) {
			stations = append(stations, l.Station)
		}
	}
	if len(stations) == 0 {
		stations = []string{""}
	}
	return n.presence.seenSince(o.CreatedAt, stations)
}
