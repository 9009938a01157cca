package mqtt

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// The edge's retained state (the open queue and the stock levels) is kept
// here, in the Broker, and never in mochi's retained store. The hook replays
// it to each new subscription, as a broker replays retained messages.
//
// Why not let mochi retain it: mochi v2.7.9's event loop calls
// clearExpiredRetainedMessages every second, and that starts with
// Topics.Retained.GetAll(), a copy of the whole retained map (an 800-byte
// packets.Packet per message) made under the map's read lock, which a
// retained publish's write lock then waits for. With 20,000 open orders
// that was 17 to 20 MB of garbage a second while nothing happened, a p99
// publish latency of 35 to 250 ms and a peak RSS of 140 to 150 MB; now it
// is 0.02 MB/s, 1.3 ms and 65 MB (BenchmarkPublishWithOpenOrders). The sweep
// cannot be switched off or slowed (its ticker is unexported), so the only
// bound is to give it nothing to copy: mochi now retains only its own few
// $SYS topics.
//
// It also keeps us clear of a data race in mochi v2.7.9: RetainMessage
// writes a topic particle's retainPath under the particle's lock
// (topics.go:461) while the retained lookup for a wildcard filter reads it
// without that lock (topics.go:554), so a tablet subscribing to
// pantry/{site}/# while an order changed raced (TestRetainedReplayRaceFree).
// Nothing under pantry/ reaches RetainMessage now, and a tablet's filters
// never reach $SYS (readAllowed).
//
// And it lets a tablet receive a queue of any length: mochi replays
// retained messages through the client's outbound queue, so with more
// open orders than MaximumClientWritesPending (4096) a subscribing tablet
// overflowed it, was disconnected (OnPublishDropped), reconnected and
// overflowed again (BenchmarkReplayOpenOrders, before this change).
//
// What a tablet sees is what a broker's retained messages give: on each
// SUBSCRIBE (unless its Retain Handling option says not to), every retained
// topic the filter matches, with the RETAIN flag set, sorted by topic (so
// the queue arrives oldest order first: order ids are UUIDv7); live changes
// afterwards; an empty payload when a topic is cleared. Two differences: the
// replay is sent at QoS 0, straight to the connection on the subscriber's
// own goroutine, so it never fills mochi's outbound queue (a tablet that
// loses its connection mid-replay resubscribes and gets a fresh one, which
// beats a resent stale one); and it may arrive before the SUBACK, which
// MQTT allows (3.8.4: the server may start sending matching PUBLISH packets
// before the SUBACK).

// retainedKinds are the kinds of message the Broker retains (the second
// level under a site, see topic.go): the open queue and the stock levels.
var retainedKinds = []string{KindQueue, KindStock}

// retainedTopic reports whether topic is of a retained kind:
// TopicRoot/{site}/{kind}/….
func retainedTopic(topic string) bool {
	rest, ok := strings.CutPrefix(topic, TopicRoot+"/")
	if !ok {
		return false
	}
	_, rest, _ = strings.Cut(rest, "/")
	kind, _, _ := strings.Cut(rest, "/")
	return slices.Contains(retainedKinds, kind)
}

// retainedStore is the edge's retained state: one payload per topic.
type retainedStore struct {
	mu   sync.RWMutex
	msgs map[string][]byte
}

// retainedMsg is one retained topic and its payload.
type retainedMsg struct {
	topic   string
	payload []byte
}

func newRetainedStore() *retainedStore {
	return &retainedStore{msgs: make(map[string][]byte)}
}

// set retains payload on topic; an empty payload clears the topic, as an
// empty retained PUBLISH does. The store keeps payload: the caller must
// not modify it afterwards.
func (r *retainedStore) set(topic string, payload []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(payload) == 0 {
		delete(r.msgs, topic)
		return
	}
	r.msgs[topic] = payload
}

// get returns the payload retained on topic, or nil.
func (r *retainedStore) get(topic string) []byte {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.msgs[topic]
}

// len is how many topics are retained.
func (r *retainedStore) len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.msgs)
}

// matching returns the retained messages whose topic filter matches,
// sorted by topic. A filter without wildcards is one map lookup; a
// wildcard filter scans every retained topic, which costs about a
// millisecond per 10,000 and happens once per SUBSCRIBE, never per message.
func (r *retainedStore) matching(filter string) []retainedMsg {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if !strings.ContainsAny(filter, "+#") {
		if p, ok := r.msgs[filter]; ok && validTopic(filter) {
			return []retainedMsg{{filter, p}}
		}
		return nil
	}
	var out []retainedMsg
	for t, p := range r.msgs {
		if MatchFilter(filter, t) {
			out = append(out, retainedMsg{t, p})
		}
	}
	slices.SortFunc(out, func(a, b retainedMsg) int { return strings.Compare(a.topic, b.topic) })
	return out
}

// replayTo sends every message retained under filters, then, until none
// is left, the newest state of each topic whose live update gate held back
// meanwhile (an empty payload if it was cleared) if the subscriber is
// still subscribed to it, and then opens the gate. send reports errSkip to
// pass over one message; any other error ends the replay. The gate must
// already be holding.
func (r *retainedStore) replayTo(g *replayGate, filters []string, subscribed func(topic string) bool, send func(topic string, payload []byte) error) error {
	defer g.open()
	for _, f := range filters {
		for _, m := range r.matching(f) {
			if err := send(m.topic, m.payload); err != nil && !errors.Is(err, errSkip) {
				return err
			}
		}
	}
	for topics := g.changed(); len(topics) > 0; topics = g.changed() {
		for _, t := range topics {
			if !subscribed(t) {
				continue // held on a filter of the SUBSCRIBE that was refused
			}
			if err := send(t, r.get(t)); err != nil && !errors.Is(err, errSkip) {
				return err
			}
		}
	}
	return nil
}

// errSkip tells replayTo to pass over one message and go on.
var errSkip = errors.New("skip this message")

// replayGate keeps a replay and live updates of the same topics from
// reordering. Live messages go through mochi's outbound queue and the
// replay straight to the connection, so without the gate a change
// published during a replay could reach the tablet before the older state
// the replay was still sending, which would then stand until the next
// change. While the gate holds, the ACL refuses live deliveries on the
// replayed filters to that client (mochi then simply skips it) and notes
// their topics; replayTo sends their newest state at the end.
type replayGate struct {
	replay  []string    // the filters being replayed
	filters []string    // those of them whose live updates are held back
	exact   []string    // topics never held: the SUBSCRIBE's filters without wildcards
	opened  atomic.Bool // lets hold skip the lock once the replay is over

	mu      sync.Mutex
	holding bool
	held    map[string]struct{}
}

// newReplayGate returns a gate for a replay of the replay filters that
// holds live updates matching the held ones.
func newReplayGate(replay, held, exact []string) *replayGate {
	return &replayGate{replay: replay, filters: held, exact: exact, holding: true, held: make(map[string]struct{})}
}

// hold reports whether a live message on topic must be held back, and if
// so notes the topic. Only retained topics are held, since only their
// newest state can be sent in place of what was held; an order event on
// pantry/{site}/orders/ goes through at once. hold runs in OnACLCheck, on
// a publisher's goroutine.
func (g *replayGate) hold(topic string) bool {
	if g.opened.Load() || !retainedTopic(topic) || slices.Contains(g.exact, topic) ||
		!slices.ContainsFunc(g.filters, func(f string) bool { return MatchFilter(f, topic) }) {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.holding {
		g.held[topic] = struct{}{}
	}
	return g.holding
}

// changed returns the topics held back since the last call, sorted; nil
// when there are none, in which case the gate has opened: checking and
// opening under one lock means no live update can slip between the last
// resend and the gate opening without being either held or delivered.
func (g *replayGate) changed() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.held) == 0 {
		g.holding = false
		g.opened.Store(true)
		return nil
	}
	out := slices.Sorted(maps.Keys(g.held))
	clear(g.held)
	return out
}

// open stops holding (after a failed replay too).
func (g *replayGate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.holding = false
	g.opened.Store(true)
}

// OnSubscribe chooses the filters of a tablet's SUBSCRIBE that will get
// the retained state, and starts holding live updates on them before mochi
// adds the subscriptions, so that nothing on them is queued for the tablet
// ahead of the replay. Shared subscriptions get no retained messages
// [MQTT-4.8.2], nor do subscriptions with Retain Handling 2, nor with 1
// when the client already had that exact subscription [MQTT-3.3.1-10].
//
// Only wildcard filters are held, and never a topic spelled like one of
// the SUBSCRIBE's filters: mochi asks OnACLCheck about a SUBSCRIBE's filters
// with the same call as about deliveries, and a filter without wildcards is
// spelled exactly like the one topic it matches, so holding it would refuse
// the subscription itself. Such a replay is a single message, so the race
// the gate closes is a few microseconds wide there.
func (h *hook) OnSubscribe(cl *mochi.Client, pk packets.Packet) packets.Packet {
	if cl.Net.Inline {
		return pk // Broker.Subscribe replays inline subscriptions itself
	}
	var replay, held, exact []string
	for _, sub := range pk.Filters {
		if !strings.ContainsAny(sub.Filter, "+#") {
			exact = append(exact, sub.Filter)
		}
	}
	for _, sub := range pk.Filters {
		_, existed := cl.State.Subscriptions.Get(sub.Filter)
		_, shared, _ := splitShared(sub.Filter)
		if shared || !validFilter(sub.Filter) || sub.RetainHandling == 2 || sub.RetainHandling == 1 && existed {
			continue
		}
		replay = append(replay, sub.Filter)
		if strings.ContainsAny(sub.Filter, "+#") {
			held = append(held, sub.Filter)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if b, ok := h.clients[cl.ID]; ok && b.cl == cl && len(replay) > 0 {
		b.gate = newReplayGate(replay, held, exact)
		h.clients[cl.ID] = b
	}
	return pk
}

// replay sends the retained state under the filters OnSubscribe chose that
// codes granted, as OnSubscribed's last step, then removes the gate
// OnSubscribe set.
func (h *hook) replay(cl *mochi.Client, pk packets.Packet, codes []byte) {
	h.mu.RLock()
	b, ok := h.clients[cl.ID]
	h.mu.RUnlock()
	if !ok || b.cl != cl || b.gate == nil {
		return
	}
	defer h.dropGate(cl, b.gate)
	var filters []string
	for i, sub := range pk.Filters {
		if i < len(codes) && codes[i] < packets.ErrUnspecifiedError.Code && slices.Contains(b.gate.replay, sub.Filter) {
			filters = append(filters, sub.Filter)
		}
	}
	subs := cl.State.Subscriptions.GetAll() // the SUBSCRIBE's granted filters are in already
	subscribed := func(topic string) bool {
		for f := range subs {
			if inner, shared, ok := splitShared(f); ok && !shared && MatchFilter(inner, topic) {
				return true
			}
		}
		return false
	}
	err := h.retained.replayTo(b.gate, filters, subscribed, func(topic string, payload []byte) error {
		return h.sendRetained(cl, topic, payload)
	})
	if err != nil {
		h.log.Debug("mqtt retained replay ended early", "client", cl.ID, "err", err)
	}
}

// sendRetained writes one retained message to cl at QoS 0, if cl is still
// bound (not revoked, not replaced) and may read topic.
func (h *hook) sendRetained(cl *mochi.Client, topic string, payload []byte) error {
	b, ok := h.binding(cl)
	if !ok {
		return errors.New("client no longer bound")
	}
	if !readAllowed(b.site, topic) {
		return errSkip
	}
	err := cl.WritePacket(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Retain: true},
		TopicName:   topic,
		Payload:     payload,
	})
	if errors.Is(err, packets.ErrPacketTooLarge) {
		return errSkip // over the client's Maximum Packet Size: mochi drops those too
	}
	return err
}

// dropGate removes g from cl's binding, unless a newer one replaced it.
func (h *hook) dropGate(cl *mochi.Client, g *replayGate) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if b, ok := h.clients[cl.ID]; ok && b.cl == cl && b.gate == g {
		b.gate = nil
		h.clients[cl.ID] = b
	}
}
