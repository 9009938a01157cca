package mqtt

import (
	"strings"
	"unicode/utf8"

	"github.com/pantry/pantry/internal/pantry"
)

// TopicRoot is the first level of every topic the edge publishes. Each site
// owns the subtree TopicRoot/{site}/, and a tablet reads nothing else.
const TopicRoot = "pantry"

// The second level under a site's subtree names the kind of message. See the
// "Edge real-time (MQTT)" table in DESIGN.md for payloads and retention.
const (
	KindOrders   = "orders"
	KindQueue    = "queue"
	KindStock    = "stock"
	KindAlerts   = "alerts"
	KindSessions = "sessions"
)

// maxTopicLen is the MQTT limit on a topic name or filter: a UTF-8 string
// with a two-byte length prefix.
const maxTopicLen = 65535

// sharePrefix starts an MQTT 5 shared subscription, $share/{group}/{filter}.
// mochi recognises it case-insensitively (strings.EqualFold), so we do too:
// otherwise "$SHARE/g/#" would look like a literal topic to us and like a
// shared "#" to the broker.
const sharePrefix = "$share"

// SiteTopic returns the topic TopicRoot/{siteID}/{parts...}. It refuses an id
// or part that is empty or holds '/', '+', '#' or NUL: such a value would
// widen a subscription ("+" as an order id) or move a message into another
// site's tree ("B/queue" as a site id), so it is a bug or an attack, never data.
func SiteTopic(siteID string, parts ...string) (string, error) {
	if !validSegment(siteID) {
		return "", pantry.Errorf(pantry.EINVALID, "site id %q cannot be a topic level", siteID)
	}
	var b strings.Builder
	b.WriteString(TopicRoot + "/" + siteID)
	for _, p := range parts {
		if !validSegment(p) {
			return "", pantry.Errorf(pantry.EINVALID, "%q cannot be a topic level", p)
		}
		b.WriteString("/" + p)
	}
	return b.String(), nil
}

// SiteFilter returns the filter TopicRoot/{siteID}/{parts...}/#, for example
// the whole queue of a site for a Server-Sent Events stream. Parts are checked
// as in SiteTopic, so the result never reaches outside the site's subtree.
func SiteFilter(siteID string, parts ...string) (string, error) {
	t, err := SiteTopic(siteID, parts...)
	if err != nil {
		return "", err
	}
	return t + "/#", nil
}

// validSegment reports whether s can be one level of a topic we build.
func validSegment(s string) bool {
	return s != "" && len(s) <= 256 && utf8.ValidString(s) && !strings.ContainsAny(s, "/+#\x00")
}

// MatchFilter reports whether the topic name matches the topic filter under
// MQTT rules: '+' matches exactly one level (which may be empty), '#' as the
// last level matches its parent level and any number of levels below it, and
// a filter starting with a wildcard never matches a topic starting with '$'.
// An invalid filter or topic matches nothing. Unlike mochi's auth.MatchTopic,
// "a/b" does not match "a/b/c", which is why access control uses this one.
// A shared subscription "$share/{group}/{f}" is treated as a literal filter
// here; readAllowed strips the prefix before matching.
func MatchFilter(filter, topic string) bool {
	if !validFilter(filter) || !validTopic(topic) {
		return false
	}
	if topic[0] == '$' && (filter[0] == '+' || filter[0] == '#') {
		return false // [MQTT-4.7.2-1]
	}
	for {
		fl, frest, fmore := strings.Cut(filter, "/")
		if fl == "#" {
			return true
		}
		tl, trest, tmore := strings.Cut(topic, "/")
		if fl != "+" && fl != tl {
			return false
		}
		switch {
		case !fmore:
			return !tmore
		case !tmore:
			return frest == "#" // "a/#" also matches "a"
		}
		filter, topic = frest, trest
	}
}

// validTopic reports whether t is a valid MQTT topic name: non-empty UTF-8
// without NUL or wildcards.
func validTopic(t string) bool {
	return t != "" && len(t) <= maxTopicLen && utf8.ValidString(t) &&
		!strings.ContainsAny(t, "+#\x00")
}

// validFilter reports whether f is a valid MQTT topic filter: non-empty UTF-8
// without NUL, where '+' and '#' only ever fill a whole level and '#' is the
// last level. mochi is laxer (it accepts "a/b#"), so we never rely on it.
func validFilter(f string) bool {
	if f == "" || len(f) > maxTopicLen || !utf8.ValidString(f) || strings.ContainsRune(f, 0) {
		return false
	}
	for {
		level, rest, more := strings.Cut(f, "/")
		if strings.ContainsAny(level, "+#") && level != "+" && level != "#" {
			return false
		}
		if level == "#" && more {
			return false
		}
		if !more {
			return true
		}
		f = rest
	}
}

// filterWithin reports whether every topic the filter can match lies in the
// subtree rooted at root (root itself or root/...). root must be a topic name
// without wildcards. The check is syntactic and therefore conservative: the
// filter must spell out root's levels literally, so "pantry/+/x" is never
// within "pantry/S" even though some of its topics are.
func filterWithin(filter, root string) bool {
	if !validFilter(filter) || !validTopic(root) {
		return false
	}
	rest, ok := strings.CutPrefix(filter, root)
	return ok && (rest == "" || rest[0] == '/')
}

// splitShared returns the filter inside a shared subscription
// "$share/{group}/{filter}". shared is false for an ordinary filter; ok is
// false for a malformed shared one (no group, a wildcard in the group, or no
// filter), which must be refused.
func splitShared(filter string) (inner string, shared, ok bool) {
	prefix, rest, more := strings.Cut(filter, "/")
	if !strings.EqualFold(prefix, sharePrefix) {
		return filter, false, true
	}
	group, inner, more2 := strings.Cut(rest, "/")
	if !more || !more2 || group == "" || strings.ContainsAny(group, "+#") || inner == "" {
		return "", true, false
	}
	return inner, true, true
}

// readAllowed reports whether a tablet of site may read filterOrTopic: a
// subscription filter (possibly shared) or, at delivery, a topic name. Both
// must lie within TopicRoot/{site}.
func readAllowed(site, filterOrTopic string) bool {
	if !validSegment(site) {
		return false
	}
	inner, _, ok := splitShared(filterOrTopic)
	return ok && filterWithin(inner, TopicRoot+"/"+site)
}
