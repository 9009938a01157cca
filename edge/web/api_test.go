package web_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/edge"
	"github.com/pantry/pantry/edge/edgetest"
	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/internal/testclock"
)

type menu struct {
	Items []struct {
		ID        string
		Name      string
		Price     pantry.Money
		Available bool
	}
}

func itemID(tb testing.TB, n *edgetest.Node, token, name string) string {
	tb.Helper()
	var m menu
	resp := n.Do(tb, "GET", "/api/v1/menu", token, nil)
	if resp.Status != http.StatusOK {
		tb.Fatalf("menu: %d %s", resp.Status, resp.Body)
	}
	resp.Decode(tb, &m)
	for _, it := range m.Items {
		if it.Name == name {
			return it.ID
		}
	}
	tb.Fatalf("no item %q on the menu", name)
	return ""
}

func orderBody(itemID string, qty int) map[string]any {
	return map[string]any{"lines": []map[string]any{{"item_id": itemID, "quantity": qty}}, "deliver_to": "room"}
}

func TestOrderFlow(t *testing.T) {
	n := edgetest.Start(t)
	token := n.Session(t, 0)
	coffee := itemID(t, n, token, "Flat white")

	resp := n.Do(t, "POST", "/api/v1/orders", token, orderBody(coffee, 2), "Idempotency-Key", "abc")
	if got, want := resp.Status, http.StatusCreated; got != want {
		t.Fatalf("place: status=%d, want %d: %s", got, want, resp.Body)
	}
	var o pantry.Order
	resp.Decode(t, &o)
	if o.Status != pantry.StatusPlaced || o.Total.Amount != 700 || o.Total.Currency != "EUR" || len(o.Lines) != 1 {
		t.Fatalf("order=%+v", o)
	}

	t.Run("ReplayReturnsSameOrder", func(t *testing.T) {
		again := n.Do(t, "POST", "/api/v1/orders", token, orderBody(coffee, 2), "Idempotency-Key", "abc")
		var o2 pantry.Order
		again.Decode(t, &o2)
		if again.Status != http.StatusOK || o2.ID != o.ID {
			t.Fatalf("replay: status=%d id=%s, want 200 and %s", again.Status, o2.ID, o.ID)
		}
	})
	t.Run("SameKeyOtherBody", func(t *testing.T) {
		r := n.Do(t, "POST", "/api/v1/orders", token, orderBody(coffee, 3), "Idempotency-Key", "abc")
		if r.Status != http.StatusConflict || r.ErrorCode() != pantry.ECONFLICT {
			t.Fatalf("status=%d code=%s, want 409 conflict", r.Status, r.ErrorCode())
		}
	})
	t.Run("OwnerSeesOrder", func(t *testing.T) {
		r := n.Do(t, "GET", "/api/v1/orders/"+o.ID, token, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("status=%d", r.Status)
		}
	})
	t.Run("OtherRoomGets404", func(t *testing.T) {
		other := n.Session(t, 1)
		r := n.Do(t, "GET", "/api/v1/orders/"+o.ID, other, nil)
		if r.Status != http.StatusNotFound || r.ErrorCode() != pantry.ENOTFOUND {
			t.Fatalf("status=%d code=%s, want 404 not_found", r.Status, r.ErrorCode())
		}
	})

	staff := n.StaffToken(t)
	var queue struct{ Orders []pantry.Order }
	n.Do(t, "GET", "/api/v1/staff/orders?status=open", staff, nil).Decode(t, &queue)
	if len(queue.Orders) != 1 || queue.Orders[0].ID != o.ID {
		t.Fatalf("queue=%+v", queue.Orders)
	}
	for _, st := range []string{"accepted", "preparing", "ready", "delivered"} {
		r := n.Do(t, "POST", "/api/v1/staff/orders/"+o.ID+"/status", staff, map[string]string{"status": st})
		if r.Status != http.StatusOK {
			t.Fatalf("-> %s: %d %s", st, r.Status, r.Body)
		}
	}
	r := n.Do(t, "POST", "/api/v1/staff/orders/"+o.ID+"/status", staff, map[string]string{"status": "cancelled", "reason": "late"})
	if r.Status != http.StatusConflict || r.ErrorCode() != pantry.EINVALIDTRANSITION {
		t.Fatalf("cancel delivered: status=%d code=%s, want 409 invalid_transition", r.Status, r.ErrorCode())
	}
	n.Do(t, "GET", "/api/v1/staff/orders?status=open", staff, nil).Decode(t, &queue)
	if len(queue.Orders) != 0 {
		t.Fatalf("queue after delivery=%d orders, want 0", len(queue.Orders))
	}
}

func TestStaffStock(t *testing.T) {
	n := edgetest.Start(t)
	staff := n.StaffToken(t)
	token := n.Session(t, 0)
	platter := itemID(t, n, token, "Sandwich platter")
	levelOf := func() (int64, bool) {
		var st struct {
			Items []pantry.StockLevel
		}
		n.Do(t, "GET", "/api/v1/staff/stock", staff, nil).Decode(t, &st)
		for _, l := range st.Items {
			if l.ItemID == platter {
				return l.Level, l.Low
			}
		}
		t.Fatalf("no stock row for %s", platter)
		return 0, false
	}
	before, _ := levelOf()
	r := n.Do(t, "POST", "/api/v1/staff/stock/movements", staff, map[string]any{"item_id": platter, "delta": 6, "reason": "restock"})
	if r.Status != http.StatusCreated {
		t.Fatalf("restock: %d %s", r.Status, r.Body)
	}
	if got, low := levelOf(); got != before+6 || low {
		t.Fatalf("level=%d low=%v, want %d and not low", got, low, before+6)
	}
	r = n.Do(t, "POST", "/api/v1/staff/items/"+platter+"/availability", staff, map[string]any{"available": false})
	if r.Status != http.StatusOK {
		t.Fatalf("availability: %d %s", r.Status, r.Body)
	}
	r = n.Do(t, "POST", "/api/v1/orders", token, orderBody(platter, 1))
	if r.Status != http.StatusConflict || r.ErrorCode() != pantry.EOUTOFSTOCK {
		t.Fatalf("order unavailable item: %d %s, want 409 out_of_stock", r.Status, r.Body)
	}
}

// state is what bad input must leave untouched.
func state(tb testing.TB, n *edgetest.Node) string {
	tb.Helper()
	st, err := n.Store().OutboxStats(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	levels, err := n.Store().StockLevels(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return fmt.Sprintf("%d %v", st.LastSeq, levels)
}

func TestBadInputChangesNothing(t *testing.T) {
	clock := testclock.New(time.Now())
	n := edgetest.Start(t, func(c *edge.Config) { c.Now = clock.Now; c.SessionTTL = time.Hour })
	expired := n.Session(t, 2)
	clock.Advance(61 * time.Minute)
	token := n.Session(t, 0)
	other := n.Session(t, 1)
	staff := n.StaffToken(t)
	coffee := itemID(t, n, token, "Espresso")
	placed := n.Do(t, "POST", "/api/v1/orders", other, orderBody(coffee, 1))
	if placed.Status != http.StatusCreated {
		t.Fatalf("place: %d %s", placed.Status, placed.Body)
	}
	var otherOrder pantry.Order
	placed.Decode(t, &otherOrder)

	manyLines := make([]map[string]any, 300)
	for i := range manyLines {
		manyLines[i] = map[string]any{"item_id": pantry.NewID(), "quantity": 1}
	}
	// A body the server refuses unread: it answers 413 as soon as it has
	// the headers and closes the connection, so a client still writing the
	// body may see the close (EPIPE, ECONNRESET) before the answer. The
	// test declares the size and sends no body (declaredBody), which is
	// what the server's refusal depends on, and reads the answer whole.
	huge := declaredBody(2 << 20)
	tests := []struct {
		name, method, path, token string
		body                      any
		status                    int
		code                      string
	}{
		{"MalformedJSON", "POST", "/api/v1/orders", token, `{"lines":[`, 400, pantry.EINVALID},
		{"NotAnObject", "POST", "/api/v1/orders", token, `[1,2]`, 400, pantry.EINVALID},
		{"EmptyBody", "POST", "/api/v1/orders", token, ``, 400, pantry.EINVALID},
		{"WrongType", "POST", "/api/v1/orders", token, `{"lines":[{"item_id":"` + coffee + `","quantity":"2"}]}`, 400, pantry.EINVALID},
		{"UnknownField", "POST", "/api/v1/orders", token, `{"lines":[{"item_id":"` + coffee + `","quantitiy":2}]}`, 400, pantry.EINVALID},
		{"TrailingData", "POST", "/api/v1/orders", token, `{"lines":[{"item_id":"` + coffee + `","quantity":1}]} {}`, 400, pantry.EINVALID},
		{"UnknownItem", "POST", "/api/v1/orders", token, orderBody(pantry.NewID(), 1), 400, pantry.EINVALID},
		{"QuantityZero", "POST", "/api/v1/orders", token, orderBody(coffee, 0), 400, pantry.EINVALID},
		{"QuantityNegative", "POST", "/api/v1/orders", token, orderBody(coffee, -2), 400, pantry.EINVALID},
		{"QuantityAbsurd", "POST", "/api/v1/orders", token, orderBody(coffee, 10000), 400, pantry.EINVALID},
		{"QuantityOverflow", "POST", "/api/v1/orders", token, `{"lines":[{"item_id":"` + coffee + `","quantity":99999999999999999999}]}`, 400, pantry.EINVALID},
		{"ThreeHundredLines", "POST", "/api/v1/orders", token, map[string]any{"lines": manyLines}, 400, pantry.EINVALID},
		{"NoLines", "POST", "/api/v1/orders", token, map[string]any{"lines": []any{}}, 400, pantry.EINVALID},
		{"BadDelivery", "POST", "/api/v1/orders", token, map[string]any{"lines": orderBody(coffee, 1)["lines"], "deliver_to": "moon"}, 400, pantry.EINVALID},
		{"UnknownCoupon", "POST", "/api/v1/orders", token, map[string]any{"lines": orderBody(coffee, 1)["lines"], "coupon": "FREEBIE"}, 400, pantry.EINVALID},
		{"UnknownCostCenter", "POST", "/api/v1/orders", token, map[string]any{"lines": orderBody(coffee, 1)["lines"], "cost_center": "CC-9"}, 400, pantry.EINVALID},
		{"TwoMegabyteBody", "POST", "/api/v1/orders", token, huge, 413, pantry.ETOOLARGE},
		{"InvalidUTF8", "POST", "/api/v1/orders", token, []byte("{\"lines\":[{\"item_id\":\"" + coffee + "\",\"quantity\":1,\"note\":\"\xff\xfe\"}]}"), 400, pantry.EINVALID},
		{"ControlCharInNote", "POST", "/api/v1/orders", token, map[string]any{"lines": orderBody(coffee, 1)["lines"], "note": "a\x00b"}, 400, pantry.EINVALID},
		{"NoToken", "POST", "/api/v1/orders", "", orderBody(coffee, 1), 401, pantry.EUNAUTHORIZED},
		{"ForgedToken", "POST", "/api/v1/orders", pantry.NewSecret(32), orderBody(coffee, 1), 401, pantry.EUNAUTHORIZED},
		{"ExpiredSession", "POST", "/api/v1/orders", expired, orderBody(coffee, 1), 401, pantry.ESESSIONEXPIRED},
		{"ExpiredSessionMenu", "GET", "/api/v1/menu", expired, nil, 401, pantry.ESESSIONEXPIRED},
		{"AnotherRoomsOrder", "GET", "/api/v1/orders/" + otherOrder.ID, token, nil, 404, pantry.ENOTFOUND},
		{"AnotherRoomsOrderEvents", "GET", "/api/v1/orders/" + otherOrder.ID + "/events", token, nil, 404, pantry.ENOTFOUND},
		{"NotAnOrderID", "GET", "/api/v1/orders/../../etc", token, nil, 404, pantry.ENOTFOUND},
		{"UnknownRoomCode", "POST", "/api/v1/sessions", "", map[string]string{"space_code": "nope"}, 404, pantry.ENOTFOUND},
		{"StaffWithoutToken", "GET", "/api/v1/staff/orders", "", nil, 401, pantry.EUNAUTHORIZED},
		{"StaffWithAttendeeToken", "GET", "/api/v1/staff/orders", token, nil, 401, pantry.EUNAUTHORIZED},
		{"StaffWrongPassword", "POST", "/api/v1/staff/login", "", map[string]string{"username": "pantry-demo", "password": "guess"}, 401, pantry.EUNAUTHORIZED},
		{"StaffStatusUnknownOrder", "POST", "/api/v1/staff/orders/" + pantry.NewID() + "/status", staff, map[string]string{"status": "accepted"}, 404, pantry.ENOTFOUND},
		{"StaffStatusUnknownStatus", "POST", "/api/v1/staff/orders/" + otherOrder.ID + "/status", staff, map[string]string{"status": "eaten"}, 400, pantry.EINVALID},
		{"StaffSkipStatus", "POST", "/api/v1/staff/orders/" + otherOrder.ID + "/status", staff, map[string]string{"status": "delivered"}, 409, pantry.EINVALIDTRANSITION},
		{"StaffCancelWithoutReason", "POST", "/api/v1/staff/orders/" + otherOrder.ID + "/status", staff, map[string]string{"status": "cancelled"}, 400, pantry.EINVALID},
		{"StockUnknownItem", "POST", "/api/v1/staff/stock/movements", staff, map[string]any{"item_id": pantry.NewID(), "delta": 1, "reason": "restock"}, 400, pantry.EINVALID},
		{"StockBadReason", "POST", "/api/v1/staff/stock/movements", staff, map[string]any{"item_id": coffee, "delta": 1, "reason": "sale"}, 400, pantry.EINVALID},
		{"StockZeroDelta", "POST", "/api/v1/staff/stock/movements", staff, map[string]any{"item_id": coffee, "delta": 0, "reason": "count"}, 400, pantry.EINVALID},
		{"StockAbsurdDelta", "POST", "/api/v1/staff/stock/movements", staff, map[string]any{"item_id": coffee, "delta": 1 << 40, "reason": "restock"}, 400, pantry.EINVALID},
		{"StockBelowZero", "POST", "/api/v1/staff/stock/movements", staff, map[string]any{"item_id": coffee, "delta": -100000, "reason": "waste"}, 400, pantry.EINVALID},
		{"AvailabilityMissing", "POST", "/api/v1/staff/items/" + coffee + "/availability", staff, `{}`, 400, pantry.EINVALID},
		{"AvailabilityUnknownItem", "POST", "/api/v1/staff/items/" + pantry.NewID() + "/availability", staff, map[string]any{"available": true}, 404, pantry.ENOTFOUND},
		{"UnknownRoute", "GET", "/api/v1/nothing", token, nil, 404, pantry.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := state(t, n)
			var r edgetest.Response
			if size, ok := tt.body.(declaredBody); ok {
				r = doDeclared(t, n.URL, tt.method, tt.path, tt.token, int(size))
			} else {
				r = n.Do(t, tt.method, tt.path, tt.token, tt.body)
			}
			if r.Status != tt.status || r.ErrorCode() != tt.code {
				t.Fatalf("status=%d code=%q, want %d %q: %.300s", r.Status, r.ErrorCode(), tt.status, tt.code, r.Body)
			}
			if after := state(t, n); after != before {
				t.Fatalf("state changed:\n before %s\n after  %s", before, after)
			}
		})
	}
}

func TestRateLimits(t *testing.T) {
	t.Run("OrdersPerSession", func(t *testing.T) {
		n := edgetest.Start(t, func(c *edge.Config) { c.SessionOrders = 3 })
		token := n.Session(t, 0)
		coffee := itemID(t, n, token, "Espresso")
		for i := range 3 {
			if r := n.Do(t, "POST", "/api/v1/orders", token, orderBody(coffee, 1)); r.Status != http.StatusCreated {
				t.Fatalf("order %d: %d %s", i, r.Status, r.Body)
			}
		}
		before := state(t, n)
		r := n.Do(t, "POST", "/api/v1/orders", token, orderBody(coffee, 1))
		if r.Status != http.StatusTooManyRequests || r.ErrorCode() != pantry.ERATELIMITED {
			t.Fatalf("4th order: %d %s, want 429 rate_limited", r.Status, r.Body)
		}
		if state(t, n) != before {
			t.Fatal("a rate-limited order changed state")
		}
		if r := n.Do(t, "POST", "/api/v1/orders", n.Session(t, 0), orderBody(coffee, 1)); r.Status != http.StatusCreated {
			t.Fatalf("another session was limited too: %d %s", r.Status, r.Body)
		}
	})
	t.Run("RequestsPerAddress", func(t *testing.T) {
		n := edgetest.Start(t, func(c *edge.Config) { c.AddressRPM = 5 })
		token := n.Session(t, 0) // 1
		var last edgetest.Response
		for range 6 {
			last = n.Do(t, "GET", "/api/v1/menu", token, nil)
		}
		if last.Status != http.StatusTooManyRequests || last.ErrorCode() != pantry.ERATELIMITED {
			t.Fatalf("7th request: %d %s, want 429 rate_limited", last.Status, last.Body)
		}
		if r := n.Do(t, "GET", "/healthz", "", nil); r.Status != http.StatusOK {
			t.Fatalf("healthz limited: %d", r.Status)
		}
	})
}

func TestOrderEventsStream(t *testing.T) {
	n := edgetest.Start(t)
	token := n.Session(t, 0)
	coffee := itemID(t, n, token, "Green tea")
	var o pantry.Order
	n.Do(t, "POST", "/api/v1/orders", token, orderBody(coffee, 1)).Decode(t, &o)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", n.URL+"/api/v1/orders/"+o.ID+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content-type=%q", ct)
	}
	lines := bufio.NewScanner(resp.Body)
	next := func() string {
		for lines.Scan() {
			if data, ok := strings.CutPrefix(lines.Text(), "data: "); ok {
				return data
			}
		}
		t.Fatalf("stream ended: %v", lines.Err())
		return ""
	}
	if first := next(); !strings.Contains(first, `"status":"placed"`) {
		t.Fatalf("first event=%s", first)
	}
	staff := n.StaffToken(t)
	for _, st := range []string{"accepted", "cancelled"} {
		n.Do(t, "POST", "/api/v1/staff/orders/"+o.ID+"/status", staff, map[string]string{"status": st, "reason": "out of tea"})
		if got := next(); !strings.Contains(got, `"status":"`+st+`"`) {
			t.Fatalf("event after %s: %s", st, got)
		}
	}
	for lines.Scan() { // the stream ends once the order is closed
	}
}

func TestHealthAndMetrics(t *testing.T) {
	n := edgetest.Start(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		if r := n.Do(t, "GET", p, "", nil); r.Status != http.StatusOK {
			t.Fatalf("%s: %d", p, r.Status)
		}
	}
	token := n.Session(t, 0)
	n.Do(t, "POST", "/api/v1/orders", token, orderBody(itemID(t, n, token, "Espresso"), 1))
	r := n.Do(t, "GET", "/metrics", "", nil)
	for _, want := range []string{"pantry_orders_placed_total 1", "pantry_outbox_depth", `route="/api/v1/orders"`} {
		if !strings.Contains(string(r.Body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestStaffSyncReport: staff see whether the building's events have
// reached the cloud; a demo node is not enrolled and keeps its outbox.
func TestStaffSyncReport(t *testing.T) {
	n := edgetest.Start(t)
	if r := n.Do(t, "GET", "/api/v1/staff/sync", "", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("without a staff token: %d", r.Status)
	}
	staff := n.StaffToken(t)
	token := n.Session(t, 0)
	item := itemID(t, n, token, "Sandwich platter")
	r := n.Do(t, "POST", "/api/v1/orders", token, map[string]any{"lines": []map[string]any{{"item_id": item, "quantity": 1}}}, "Idempotency-Key", "sync-1")
	if r.Status != http.StatusCreated {
		t.Fatalf("order: %d %s", r.Status, r.Body)
	}
	var rep sqlite.SyncReport
	n.Do(t, "GET", "/api/v1/staff/sync", staff, nil).Decode(t, &rep)
	if rep.Enrolled || rep.Outbox.LastSeq < 3 || rep.Outbox.Unpushed != rep.Outbox.LastSeq || rep.Outbox.AckedSeq != 0 || rep.LastPushAt != nil {
		t.Fatalf("report %+v: want not enrolled, every event of the order unpushed", rep)
	}
	if strings.Contains(string(n.Do(t, "GET", "/api/v1/staff/sync", staff, nil).Body), "credential") {
		t.Fatal("the report mentions a credential")
	}
}

// declaredBody is a request body of this many bytes that is declared in
// Content-Length but never sent (see doDeclared).
type declaredBody int

// doDeclared sends the request line and headers of a request whose body
// would be size bytes, without the body, over a raw connection, and reads
// the answer: a server that refuses the size must answer without reading
// anything more.
func doDeclared(t *testing.T, base, method, path, token string, size int) edgetest.Response {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n",
		method, path, u.Host, token, size)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s with a %d-byte body declared: %v", method, path, size, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return edgetest.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}
