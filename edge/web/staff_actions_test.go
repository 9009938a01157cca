package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pantry/pantry/edge"
	"github.com/pantry/pantry/edge/edgetest"
	"github.com/pantry/pantry/edge/web"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/internal/testclock"
	"github.com/pantry/pantry/syncproto"
)

// updateCounter is a tablet on the broker that counts the order.updated events
// of each order.
type updateCounter struct {
	tab  *edgetest.Tablet
	n    *edgetest.Node
	seen map[string]int
}

func watchOrders(tb testing.TB, n *edgetest.Node) *updateCounter {
	tb.Helper()
	tab, err := edgetest.Connect(tb, n.MQTTAddr().String(), n.Demo.Tablet.Username, n.Demo.Tablet.Password)
	if err != nil {
		tb.Fatalf("mqtt connect: %v", err)
	}
	if code := tab.Subscribe(tb, "pantry/"+n.Demo.SiteID+"/orders/+"); code != 1 {
		tb.Fatalf("subscribe: reason 0x%02x", code)
	}
	return &updateCounter{tab: tab, n: n, seen: map[string]int{}}
}

// updates returns how many order.updated events orderID has had. It places
// an order of its own and reads up to its order.created: the broker keeps
// each subscriber's messages in the order they were published, so every
// event of an action answered before then has arrived.
func (c *updateCounter) updates(tb testing.TB, orderID string) int {
	tb.Helper()
	marker := placeEspresso(tb, c.n, 5)
	c.tab.Await(tb, "the marker order", func(m edgetest.Message) bool {
		var ev struct {
			Event string
			Order pantry.Order
		}
		if err := json.Unmarshal(m.Payload, &ev); err != nil {
			tb.Fatalf("payload %s: %v", m.Payload, err)
		}
		if ev.Event == "order.updated" {
			c.seen[ev.Order.ID]++
		}
		return ev.Event == "order.created" && ev.Order.ID == marker.ID
	})
	return c.seen[orderID]
}

func placeEspresso(tb testing.TB, n *edgetest.Node, room int) pantry.Order {
	tb.Helper()
	token := n.Session(tb, room)
	r := n.Do(tb, "POST", "/api/v1/orders", token, orderBody(itemID(tb, n, token, "Espresso"), 1))
	if r.Status != http.StatusCreated {
		tb.Fatalf("place: %d %s", r.Status, r.Body)
	}
	var o pantry.Order
	r.Decode(tb, &o)
	return o
}

// secondTablet adds a tablet pantry-2 to the node and logs it in.
func secondTablet(tb testing.TB, n *edgetest.Node) string {
	tb.Helper()
	const user, password = "pantry-2", "second tablet password"
	if err := n.Store().AddTablet(context.Background(), user, password, "Second tablet"); err != nil {
		tb.Fatal(err)
	}
	r := n.Do(tb, "POST", "/api/v1/staff/login", "", map[string]string{"username": user, "password": password})
	var s struct{ Token string }
	r.Decode(tb, &s)
	return s.Token
}

func actionBody(kind pantry.ActionKind, from pantry.OrderStatus, reason string) map[string]string {
	return map[string]string{"action_id": pantry.NewID(), "action": string(kind), "from": string(from), "reason": reason}
}

func postAction(tb testing.TB, n *edgetest.Node, staff, orderID string, body any) edgetest.Response {
	tb.Helper()
	return n.Do(tb, "POST", "/api/v1/staff/orders/"+orderID+"/actions", staff, body)
}

// statusEventCount counts the order.status_changed events of an order in the
// outbox.
func statusEventCount(tb testing.TB, n *edgetest.Node, orderID string) int {
	tb.Helper()
	events, err := n.Store().Outbox(context.Background(), 0, 100000)
	if err != nil {
		tb.Fatal(err)
	}
	count := 0
	for _, e := range events {
		if e.Type == syncproto.EventOrderStatusChanged && e.EntityID == orderID {
			count++
		}
	}
	return count
}

func errMessage(tb testing.TB, r edgetest.Response) string {
	tb.Helper()
	var e struct{ Error struct{ Message string } }
	r.Decode(tb, &e)
	return e.Error.Message
}

func TestOrderActionDoubleTap(t *testing.T) {
	n := edgetest.Start(t)
	staff := n.StaffToken(t)
	watch := watchOrders(t, n)
	o := placeEspresso(t, n, 0)

	tap := actionBody(pantry.ActionAdvance, pantry.StatusPlaced, "")
	first := postAction(t, n, staff, o.ID, tap)
	if first.Status != http.StatusOK || first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: %d %v %s", first.Status, first.Header, first.Body)
	}
	var got pantry.Order
	first.Decode(t, &got)
	if got.Status != pantry.StatusAccepted || got.ID != o.ID {
		t.Fatalf("first answer: %+v, want the order accepted", got)
	}
	again := postAction(t, n, staff, o.ID, tap)
	if again.Status != first.Status || !bytes.Equal(again.Body, first.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("again: %d %s, want the first answer replayed: %d %s", again.Status, again.Body, first.Status, first.Body)
	}
	if got, want := statusEventCount(t, n, o.ID), 1; got != want {
		t.Fatalf("outbox status events=%d, want %d", got, want)
	}
	if got, want := watch.updates(t, o.ID), 1; got != want {
		t.Fatalf("order.updated on MQTT=%d, want %d", got, want)
	}

	t.Run("AtOnce", func(t *testing.T) {
		tap := actionBody(pantry.ActionAdvance, pantry.StatusAccepted, "")
		answers := make([]edgetest.Response, 8)
		var wg sync.WaitGroup
		for i := range answers {
			wg.Go(func() { answers[i] = postAction(t, n, staff, o.ID, tap) })
		}
		wg.Wait()
		for i, r := range answers {
			if r.Status != http.StatusOK || !bytes.Equal(r.Body, answers[0].Body) {
				t.Fatalf("copy %d: %d %s, want 200 and one body", i, r.Status, r.Body)
			}
		}
		if got, want := statusEventCount(t, n, o.ID), 2; got != want {
			t.Fatalf("outbox status events=%d, want %d", got, want)
		}
		if got, want := watch.updates(t, o.ID), 2; got != want {
			t.Fatalf("order.updated on MQTT=%d, want %d", got, want)
		}
	})
	t.Run("SameIDOtherAction", func(t *testing.T) {
		other := map[string]string{"action_id": tap["action_id"], "action": "cancel", "from": "placed", "reason": "x"}
		r := postAction(t, n, staff, o.ID, other)
		if r.Status != http.StatusConflict || r.ErrorCode() != pantry.ECONFLICT {
			t.Fatalf("%d %s, want 409 conflict", r.Status, r.Body)
		}
	})
}

// TestOrderActionTwoTablets: both tablets tap advance on the same ticket at
// once, many times over: the order advances exactly once, the outbox
// holds one status event, tablets hear one order.updated, and every loser
// is told who won.
func TestOrderActionTwoTablets(t *testing.T) {
	n := edgetest.Start(t)
	tablets := map[string]string{n.Demo.Tablet.Username: n.StaffToken(t), "pantry-2": secondTablet(t, n)}
	watch := watchOrders(t, n)
	o := placeEspresso(t, n, 0)

	type answer struct {
		user string
		body map[string]string
		r    edgetest.Response
	}
	var (
		mu      sync.Mutex
		answers []answer
		wg      sync.WaitGroup
		start   = make(chan struct{})
	)
	for range 12 {
		for user, token := range tablets {
			wg.Go(func() {
				<-start
				body := actionBody(pantry.ActionAdvance, pantry.StatusPlaced, "")
				r := postAction(t, n, token, o.ID, body)
				mu.Lock()
				answers = append(answers, answer{user, body, r})
				mu.Unlock()
			})
		}
	}
	close(start)
	wg.Wait()
	winner := ""
	for _, a := range answers {
		if a.r.Status == http.StatusOK {
			if winner != "" {
				t.Fatalf("two taps advanced the order: %s and %s", winner, a.user)
			}
			winner = a.user
		}
	}
	if winner == "" {
		t.Fatal("no tap advanced the order")
	}
	for _, a := range answers {
		if a.r.Status == http.StatusOK {
			continue
		}
		if want := "already accepted by tablet " + winner; a.r.Status != http.StatusConflict || a.r.ErrorCode() != pantry.ECONFLICT || errMessage(t, a.r) != want {
			t.Fatalf("loser %s: %d %s, want 409 conflict %q", a.user, a.r.Status, a.r.Body, want)
		}
	}
	for _, a := range answers {
		if a.r.Status == http.StatusOK {
			continue
		}
		retry := postAction(t, n, tablets[a.user], o.ID, a.body)
		if retry.Status != a.r.Status || !bytes.Equal(retry.Body, a.r.Body) || retry.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("a loser's retry: %d %s, want its first answer replayed: %d %s", retry.Status, retry.Body, a.r.Status, a.r.Body)
		}
		break
	}
	if got, want := statusEventCount(t, n, o.ID), 1; got != want {
		t.Fatalf("outbox status events=%d, want %d", got, want)
	}
	if got, want := watch.updates(t, o.ID), 1; got != want {
		t.Fatalf("order.updated on MQTT=%d, want %d", got, want)
	}
}

func TestOrderActionRecallWindow(t *testing.T) {
	clock := testclock.New(time.Now())
	n := edgetest.Start(t, func(c *edge.Config) { c.Now = clock.Now })
	staff := n.StaffToken(t)
	other := secondTablet(t, n)
	watch := watchOrders(t, n)
	o := placeEspresso(t, n, 0)

	for _, from := range []pantry.OrderStatus{pantry.StatusPlaced, pantry.StatusAccepted, pantry.StatusPreparing, pantry.StatusReady} {
		if r := postAction(t, n, staff, o.ID, actionBody(pantry.ActionAdvance, from, "")); r.Status != http.StatusOK {
			t.Fatalf("advance from %s: %d %s", from, r.Status, r.Body)
		}
	}
	clock.Advance(pantry.RecallWindow - time.Second)
	r := postAction(t, n, other, o.ID, actionBody(pantry.ActionRecall, pantry.StatusDelivered, "wrong room"))
	var got pantry.Order
	r.Decode(t, &got)
	if r.Status != http.StatusOK || got.Status != pantry.StatusReady {
		t.Fatalf("recall within the window: %d %s, want 200 ready", r.Status, r.Body)
	}
	var queue struct{ Orders []pantry.Order }
	n.Do(t, "GET", "/api/v1/staff/orders?status=open", staff, nil).Decode(t, &queue)
	if len(queue.Orders) != 1 || queue.Orders[0].ID != o.ID {
		t.Fatalf("open queue=%+v, want the recalled order back in it", queue.Orders)
	}

	if r := postAction(t, n, staff, o.ID, actionBody(pantry.ActionAdvance, pantry.StatusReady, "")); r.Status != http.StatusOK {
		t.Fatalf("deliver again: %d %s", r.Status, r.Body)
	}
	clock.Advance(pantry.RecallWindow + time.Second)
	before := state(t, n)
	r = postAction(t, n, staff, o.ID, actionBody(pantry.ActionRecall, pantry.StatusDelivered, ""))
	if r.Status != http.StatusConflict || r.ErrorCode() != pantry.ECONFLICT || !strings.HasPrefix(errMessage(t, r), "too late to recall") {
		t.Fatalf("recall after the window: %d %s, want 409 too late", r.Status, r.Body)
	}
	if state(t, n) != before {
		t.Fatal("a refused recall changed state")
	}
	if got, want := statusEventCount(t, n, o.ID), 6; got != want {
		t.Fatalf("outbox status events=%d, want %d (4 advances, 1 recall, 1 advance)", got, want)
	}
	if got, want := watch.updates(t, o.ID), 6; got != want {
		t.Fatalf("order.updated on MQTT=%d, want %d", got, want)
	}
}

func TestOrderActionCancel(t *testing.T) {
	n := edgetest.Start(t)
	staff := n.StaffToken(t)
	o := placeEspresso(t, n, 0)
	r := postAction(t, n, staff, o.ID, actionBody(pantry.ActionCancel, pantry.StatusPlaced, "Room is empty: meeting moved"))
	var got pantry.Order
	r.Decode(t, &got)
	if r.Status != http.StatusOK || got.Status != pantry.StatusCancelled || got.CancelReason != "Room is empty: meeting moved" {
		t.Fatalf("cancel: %d %s", r.Status, r.Body)
	}
	r = postAction(t, n, staff, o.ID, actionBody(pantry.ActionAdvance, pantry.StatusPlaced, ""))
	if want := "already cancelled by tablet " + n.Demo.Tablet.Username; r.Status != http.StatusConflict || errMessage(t, r) != want {
		t.Fatalf("advance a cancelled order: %d %s, want 409 %q", r.Status, r.Body, want)
	}
}

func TestAvailabilityActionID(t *testing.T) {
	n := edgetest.Start(t)
	staff := n.StaffToken(t)
	croissant := itemID(t, n, n.Session(t, 0), "Croissant")
	path := "/api/v1/staff/items/" + croissant + "/availability"
	tap := map[string]any{"available": false, "action_id": pantry.NewID()}
	first := n.Do(t, "POST", path, staff, tap)
	if first.Status != http.StatusOK {
		t.Fatalf("sold out: %d %s", first.Status, first.Body)
	}
	before := state(t, n)
	again := n.Do(t, "POST", path, staff, tap)
	if again.Status != http.StatusOK || !bytes.Equal(again.Body, first.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("again: %d %s, want the first answer replayed", again.Status, again.Body)
	}
	if state(t, n) != before {
		t.Fatal("a replayed availability tap changed state")
	}
	tap["available"] = true
	if r := n.Do(t, "POST", path, staff, tap); r.Status != http.StatusConflict || r.ErrorCode() != pantry.ECONFLICT {
		t.Fatalf("same id, other switch: %d %s, want 409 conflict", r.Status, r.Body)
	}
	if r := n.Do(t, "POST", path, staff, map[string]any{"available": true}); r.Status != http.StatusOK {
		t.Fatalf("without an action id: %d %s", r.Status, r.Body)
	}
}

// TestOrderActionBadInput: every malformed action gets the documented JSON
// error and changes nothing.
func TestOrderActionBadInput(t *testing.T) {
	n := edgetest.Start(t)
	staff := n.StaffToken(t)
	o := placeEspresso(t, n, 0)
	path := "/api/v1/staff/orders/" + o.ID + "/actions"
	id := pantry.NewID()
	with := func(k, v string) map[string]string {
		m := actionBody(pantry.ActionAdvance, pantry.StatusPlaced, "")
		m[k] = v
		return m
	}
	tests := []struct {
		name, path, token string
		body              any
		status            int
		code              string
	}{
		{"MalformedJSON", path, staff, `{"action_id":`, 400, pantry.EINVALID},
		{"EmptyBody", path, staff, ``, 400, pantry.EINVALID},
		{"NotAnObject", path, staff, `["advance"]`, 400, pantry.EINVALID},
		{"UnknownField", path, staff, `{"action_id":"` + id + `","action":"advance","from":"placed","to":"ready"}`, 400, pantry.EINVALID},
		{"WrongType", path, staff, `{"action_id":"` + id + `","action":"advance","from":1}`, 400, pantry.EINVALID},
		{"TrailingData", path, staff, `{"action_id":"` + id + `","action":"advance","from":"placed"} {}`, 400, pantry.EINVALID},
		{"InvalidUTF8", path, staff, []byte("{\"action_id\":\"" + id + "\",\"action\":\"cancel\",\"from\":\"placed\",\"reason\":\"\xff\"}"), 400, pantry.EINVALID},
		{"MissingActionID", path, staff, map[string]string{"action": "advance", "from": "placed"}, 400, pantry.EINVALID},
		{"ActionIDNotAUUID", path, staff, with("action_id", "tap-1"), 400, pantry.EINVALID},
		{"ActionIDNilUUID", path, staff, with("action_id", "00000000-0000-0000-0000-000000000000"), 400, pantry.EINVALID},
		{"ActionIDVersion1", path, staff, with("action_id", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"), 400, pantry.EINVALID},
		{"ActionIDHuge", path, staff, with("action_id", strings.Repeat("a", 40000)), 400, pantry.EINVALID},
		{"UnknownAction", path, staff, with("action", "teleport"), 400, pantry.EINVALID},
		{"MissingAction", path, staff, map[string]string{"action_id": id, "from": "placed"}, 400, pantry.EINVALID},
		{"InvalidFrom", path, staff, with("from", "eaten"), 400, pantry.EINVALID},
		{"MissingFrom", path, staff, map[string]string{"action_id": id, "action": "advance"}, 400, pantry.EINVALID},
		{"AdvanceDelivered", path, staff, with("from", "delivered"), 400, pantry.EINVALID},
		{"CancelPreparing", path, staff, actionBody(pantry.ActionCancel, pantry.StatusPreparing, "late"), 400, pantry.EINVALID},
		{"CancelWithoutReason", path, staff, actionBody(pantry.ActionCancel, pantry.StatusPlaced, ""), 400, pantry.EINVALID},
		{"CancelBlankReason", path, staff, actionBody(pantry.ActionCancel, pantry.StatusPlaced, "   "), 400, pantry.EINVALID},
		{"CancelOversizedReason", path, staff, actionBody(pantry.ActionCancel, pantry.StatusPlaced, strings.Repeat("x", 201)), 400, pantry.EINVALID},
		{"CancelReasonControlChar", path, staff, actionBody(pantry.ActionCancel, pantry.StatusPlaced, "a\x1bb"), 400, pantry.EINVALID},
		{"RecallPlaced", path, staff, actionBody(pantry.ActionRecall, pantry.StatusPlaced, ""), 400, pantry.EINVALID},
		{"RecallCancelled", path, staff, actionBody(pantry.ActionRecall, pantry.StatusCancelled, ""), 400, pantry.EINVALID},
		// A body over web.BodyLimit is refused before any route (api_test's
		// TwoMegabyteBody); this one is just under it.
		{"SixtyKilobyteReason", path, staff, actionBody(pantry.ActionCancel, pantry.StatusPlaced, strings.Repeat("x", web.BodyLimit-1024)), 400, pantry.EINVALID},
		{"UnknownOrder", "/api/v1/staff/orders/" + pantry.NewID() + "/actions", staff, actionBody(pantry.ActionAdvance, pantry.StatusPlaced, ""), 404, pantry.ENOTFOUND},
		{"NotAnOrderID", "/api/v1/staff/orders/nope/actions", staff, actionBody(pantry.ActionAdvance, pantry.StatusPlaced, ""), 404, pantry.ENOTFOUND},
		{"StaleFrom", path, staff, actionBody(pantry.ActionAdvance, pantry.StatusAccepted, ""), 409, pantry.ECONFLICT},
		{"RecallWithNoAdvance", path, staff, actionBody(pantry.ActionRecall, pantry.StatusAccepted, ""), 409, pantry.ECONFLICT},
		{"NoToken", path, "", actionBody(pantry.ActionAdvance, pantry.StatusPlaced, ""), 401, pantry.EUNAUTHORIZED},
		{"AttendeeToken", path, n.Session(t, 0), actionBody(pantry.ActionAdvance, pantry.StatusPlaced, ""), 401, pantry.EUNAUTHORIZED},
		{"AvailabilityBadActionID", "/api/v1/staff/items/" + o.Lines[0].ItemID + "/availability", staff, map[string]any{"available": false, "action_id": "x"}, 400, pantry.EINVALID},
		{"AvailabilityUnknownItem", "/api/v1/staff/items/" + pantry.NewID() + "/availability", staff, map[string]any{"available": false, "action_id": pantry.NewID()}, 404, pantry.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := state(t, n)
			r := n.Do(t, "POST", tt.path, tt.token, tt.body)
			if r.Status != tt.status || r.ErrorCode() != tt.code {
				t.Fatalf("status=%d code=%q, want %d %q: %.300s", r.Status, r.ErrorCode(), tt.status, tt.code, r.Body)
			}
			if after := state(t, n); after != before {
				t.Fatalf("state changed:\n before %s\n after  %s", before, after)
			}
			if got, _ := n.Store().Order(context.Background(), o.ID); got.Status != pantry.StatusPlaced {
				t.Fatalf("order is %s, want placed", got.Status)
			}
		})
	}
}

// FuzzDecodeOrderAction feeds the tablet action decoder arbitrary bytes: it
// must never panic, and whatever it accepts must be an action the store
// can carry out as it is.
func FuzzDecodeOrderAction(f *testing.F) {
	id := pantry.NewID()
	for _, s := range []string{
		`{"action_id":"` + id + `","action":"advance","from":"placed"}`,
		`{"action_id":"` + id + `","action":"cancel","from":"accepted","reason":"out of milk"}`,
		`{"action_id":"` + strings.ToUpper(id) + `","action":"recall","from":"delivered"}`,
		`{"action_id":"00000000-0000-0000-0000-000000000000","action":"advance","from":"placed"}`,
		`{"action_id":"` + id + `","action":"cancel","from":"placed","reason":"\u0000"}`,
		"{\"action_id\":\"" + id + "\",\"action\":\"cancel\",\"from\":\"placed\",\"reason\":\"\xff\"}",
		`{"action":"advance","from":"delivered"}`, `{}`, `null`, `[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := web.DecodeOrderAction(body)
		if err != nil {
			if pantry.ErrorCode(err) != pantry.EINVALID {
				t.Fatalf("error without invalid_input code: %v", err)
			}
			return
		}
		if !utf8.Valid(body) {
			t.Fatal("accepted invalid UTF-8")
		}
		if _, err := pantry.CheckActionID(req.ActionID); err != nil || req.ActionID != strings.ToLower(req.ActionID) {
			t.Fatalf("accepted action_id %q", req.ActionID)
		}
		to := req.To()
		switch {
		case req.Action == pantry.ActionRecall && !pantry.CanRecall(req.From, to):
			t.Fatalf("accepted recall %s -> %q", req.From, to)
		case req.Action != pantry.ActionRecall && !pantry.CanTransition(req.From, to):
			t.Fatalf("accepted %s %s -> %q", req.Action, req.From, to)
		}
		if utf8.RuneCountInString(req.Reason) > pantry.MaxActionReason || req.Action == pantry.ActionCancel && strings.TrimSpace(req.Reason) == "" {
			t.Fatalf("accepted reason %q", req.Reason)
		}
	})
}
