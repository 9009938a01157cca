package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/edge/edgetest"
	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/pantry"
)

// deliverByState is what a refused order must leave as it was: the
// outbox, the stock and the orders.
func deliverByState(tb testing.TB, n *edgetest.Node) string {
	tb.Helper()
	ctx := context.Background()
	st, err := n.Store().OutboxStats(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	levels, err := n.Store().StockLevels(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	orders, err := n.Store().Orders(ctx, sqlite.OrderFilter{})
	if err != nil {
		tb.Fatal(err)
	}
	return fmt.Sprintf("outbox %d, %d orders, stock %v", st.LastSeq, len(orders), levels)
}

// deliverByOf is the raw deliver_by of a JSON order ("" when absent), as
// a tablet reads it.
func deliverByOf(tb testing.TB, body []byte) string {
	tb.Helper()
	var o map[string]json.RawMessage
	if err := json.Unmarshal(body, &o); err != nil {
		tb.Fatalf("decode %s: %v", body, err)
	}
	raw, ok := o["deliver_by"]
	if !ok {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		tb.Fatalf("deliver_by is %s, want a string", raw)
	}
	return s
}

// TestDeliverByAPI: an order's deliver_by comes back as the node keeps it
// (RFC 3339, UTC, whole seconds) from every route that returns orders;
// an order without one has no deliver_by at all.
func TestDeliverByAPI(t *testing.T) {
	n := edgetest.Start(t)
	token := n.Session(t, 0)
	staff := n.StaffToken(t)
	espresso := itemID(t, n, token, "Espresso")

	sent := time.Now().Add(2 * time.Hour).Truncate(time.Second).Add(250 * time.Millisecond).In(time.FixedZone("", 5*3600+30*60))
	want := sent.UTC().Truncate(time.Second).Format(time.RFC3339)
	body := map[string]any{"lines": []map[string]any{{"item_id": espresso, "quantity": 2}}, "deliver_by": sent.Format(time.RFC3339Nano)}
	r := n.Do(t, "POST", "/api/v1/orders", token, body, "Idempotency-Key", "deliver-1")
	if r.Status != http.StatusCreated {
		t.Fatalf("place: %d %s", r.Status, r.Body)
	}
	var o pantry.Order
	r.Decode(t, &o)
	asap := n.Do(t, "POST", "/api/v1/orders", token, orderBody(espresso, 1))
	if asap.Status != http.StatusCreated {
		t.Fatalf("place without deliver_by: %d %s", asap.Status, asap.Body)
	}
	var other pantry.Order
	asap.Decode(t, &other)

	for _, c := range []struct{ name, path, token string }{
		{"Placed", "", ""},
		{"Replayed", "", ""},
		{"AttendeeOrder", "/api/v1/orders/" + o.ID, token},
		{"StaffOrder", "/api/v1/staff/orders/" + o.ID, staff},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := r
			switch {
			case c.name == "Replayed":
				got = n.Do(t, "POST", "/api/v1/orders", token, body, "Idempotency-Key", "deliver-1")
				if got.Status != http.StatusOK {
					t.Fatalf("replay: %d %s", got.Status, got.Body)
				}
			case c.path != "":
				got = n.Do(t, "GET", c.path, c.token, nil)
			}
			if s := deliverByOf(t, got.Body); s != want {
				t.Fatalf("deliver_by=%q, want %q", s, want)
			}
		})
	}
	t.Run("StaffQueue", func(t *testing.T) {
		var queue struct{ Orders []json.RawMessage }
		n.Do(t, "GET", "/api/v1/staff/orders?status=open", staff, nil).Decode(t, &queue)
		seen := map[string]string{}
		for _, raw := range queue.Orders {
			var id struct{ ID string }
			json.Unmarshal(raw, &id)
			seen[id.ID] = deliverByOf(t, raw)
		}
		if seen[o.ID] != want || seen[other.ID] != "" {
			t.Fatalf("queue deliver_by: %q and %q, want %q and none", seen[o.ID], seen[other.ID], want)
		}
	})
	t.Run("OmittedWithoutOne", func(t *testing.T) {
		got := n.Do(t, "GET", "/api/v1/orders/"+other.ID, token, nil)
		if strings.Contains(string(got.Body), "deliver_by") {
			t.Fatalf("an order for as soon as possible mentions deliver_by: %s", got.Body)
		}
	})
	t.Run("NullIsAsSoonAsPossible", func(t *testing.T) {
		got := n.Do(t, "POST", "/api/v1/orders", token, `{"lines":[{"item_id":"`+espresso+`","quantity":1}],"deliver_by":null}`)
		if got.Status != http.StatusCreated || deliverByOf(t, got.Body) != "" {
			t.Fatalf("deliver_by null: %d %s, want 201 without deliver_by", got.Status, got.Body)
		}
	})
}

// TestDeliverByBadInputChangesNothing: a deliver_by that is not an RFC
// 3339 time, or is out of bounds, gets 400 and the documented error body
// saying what is wrong, and nothing is written.
func TestDeliverByBadInputChangesNothing(t *testing.T) {
	n := edgetest.Start(t)
	token := n.Session(t, 0)
	espresso := itemID(t, n, token, "Espresso")
	lines := `"lines":[{"item_id":"` + espresso + `","quantity":1}]`
	at := func(d time.Duration) string { return `"` + time.Now().Add(d).UTC().Format(time.RFC3339) + `"` }
	tests := []struct {
		name, deliverBy string
		message         string // a part of the error message
	}{
		{"NotATime", `"tomorrow"`, "RFC 3339"},
		{"ClockOnly", `"14:30"`, "RFC 3339"},
		{"NoOffset", `"2026-12-06T14:30:00"`, "RFC 3339"},
		{"SpaceForT", `"2026-12-06 14:30:00Z"`, "RFC 3339"},
		{"HourOutOfRange", `"2026-12-06T25:30:00Z"`, "RFC 3339"},
		{"EmptyString", `""`, "RFC 3339"},
		{"UnixSeconds", `1764077400`, "RFC 3339"},
		{"Bool", `true`, "RFC 3339"},
		{"Object", `{"at":"14:30"}`, "RFC 3339"},
		{"Array", `["2026-12-06T14:30:00Z"]`, "RFC 3339"},
		{"AnHourAgo", at(-time.Hour), "has passed"},
		{"PastTheSkew", at(-pantry.DeliverBySkew - 30*time.Second), "has passed"},
		{"YearOne", `"0001-01-01T00:00:00Z"`, "has passed"},
		{"PastTheLimit", at(pantry.MaxDeliverAhead + time.Minute), "24 hours ahead"},
		{"NextYear", at(365 * 24 * time.Hour), "24 hours ahead"},
		{"YearNineThousand", `"9000-01-01T00:00:00Z"`, "24 hours ahead"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := deliverByState(t, n)
			r := n.Do(t, "POST", "/api/v1/orders", token, `{`+lines+`,"deliver_by":`+tt.deliverBy+`}`, "Idempotency-Key", "bad-"+tt.name)
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			r.Decode(t, &e)
			if r.Status != http.StatusBadRequest || e.Error.Code != pantry.EINVALID {
				t.Fatalf("status=%d code=%q, want 400 %q: %s", r.Status, e.Error.Code, pantry.EINVALID, r.Body)
			}
			if !strings.Contains(e.Error.Message, tt.message) {
				t.Fatalf("message=%q, want it to say %q", e.Error.Message, tt.message)
			}
			if after := deliverByState(t, n); after != before {
				t.Fatalf("state changed:\n before %s\n after  %s", before, after)
			}
		})
	}
}

// formClient is a phone without JavaScript: it keeps the room's cookie and
// does not follow redirects, so a test sees each answer.
type formClient struct {
	n    *edgetest.Node
	http *http.Client
	code string
}

func newFormClient(tb testing.TB, n *edgetest.Node, room int) *formClient {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	c := &formClient{n: n, code: n.Demo.Rooms[room].Code, http: &http.Client{
		Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	if status, _, body := c.get(tb, "/q/"+c.code); status != http.StatusOK {
		tb.Fatalf("room page: %d %s", status, body)
	}
	return c
}

func (c *formClient) get(tb testing.TB, path string) (int, http.Header, string) {
	tb.Helper()
	resp, err := c.http.Get(c.n.URL + path)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

// order posts the room's order form with one espresso and the given
// fields.
func (c *formClient) order(tb testing.TB, espresso string, fields url.Values) (int, http.Header, string) {
	tb.Helper()
	fields.Set("qty_"+espresso, "1")
	fields.Set("key", pantry.NewSecret(16))
	resp, err := c.http.PostForm(c.n.URL+"/q/"+c.code+"/orders", fields)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

// TestDeliverByForm: the order form without JavaScript. "Deliver at" is a
// time of day on the building's clock (the demo site's zone, Europe/
// Amsterdam); the order's page says it back; a time that passed or is not
// a time re-shows the form with the error, the field still filled in, and
// nothing written.
func TestDeliverByForm(t *testing.T) {
	n := edgetest.Start(t)
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	c := newFormClient(t, n, 0)
	token := n.Session(t, 0)
	espresso := itemID(t, n, token, "Espresso")

	t.Run("Placed", func(t *testing.T) {
		at := time.Now().In(ams).Add(2 * time.Hour)
		hhmm := at.Format("15:04")
		status, header, body := c.order(t, espresso, url.Values{"deliver_at": {hhmm}})
		if status != http.StatusSeeOther {
			t.Fatalf("post: %d, want 303: %s", status, body)
		}
		path := header.Get("Location")
		id, ok := strings.CutPrefix(path, "/orders/")
		if !ok {
			t.Fatalf("redirect to %q, want the order's page", path)
		}
		o, err := n.Store().Order(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		want := time.Date(at.Year(), at.Month(), at.Day(), at.Hour(), at.Minute(), 0, 0, ams)
		if o.DeliverBy == nil || !o.DeliverBy.Equal(want) {
			t.Fatalf("stored deliver_by=%v, want %v", o.DeliverBy, want)
		}
		status, _, page := c.get(t, path)
		if status != http.StatusOK {
			t.Fatalf("order page: %d", status)
		}
		text := "Deliver by " + hhmm
		if want.Day() != time.Now().In(ams).Day() {
			text += " on " + want.Format("Mon 2 Jan")
		}
		if !strings.Contains(page, ">"+text+"<") || !strings.Contains(page, `datetime="`+want.UTC().Format(time.RFC3339)+`"`) {
			t.Fatalf("order page does not say %q at %s:\n%s", text, want.UTC().Format(time.RFC3339), page)
		}
	})
	t.Run("WithoutATime", func(t *testing.T) {
		status, header, body := c.order(t, espresso, url.Values{"deliver_at": {""}})
		if status != http.StatusSeeOther {
			t.Fatalf("post: %d, want 303: %s", status, body)
		}
		_, _, page := c.get(t, header.Get("Location"))
		if strings.Contains(page, "Deliver by") || strings.Contains(page, "data-deliver-by") {
			t.Fatal("an order for as soon as possible shows a deliver-by time")
		}
	})
	for _, tt := range []struct{ name, value, message string }{
		{"AnHourAgo", time.Now().In(ams).Add(-time.Hour).Format("15:04"), "ago"},
		{"NotATime", "half past two", "is not a time of day"},
		{"HourOutOfRange", "25:00", "is not a time of day"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := deliverByState(t, n)
			status, _, page := c.order(t, espresso, url.Values{"deliver_at": {tt.value}})
			if status != http.StatusBadRequest {
				t.Fatalf("post: %d, want 400", status)
			}
			if !strings.Contains(page, `role="alert"`) || !strings.Contains(page, tt.message) {
				t.Fatalf("the form does not say %q in an alert:\n%s", tt.message, page)
			}
			if !strings.Contains(page, `name="deliver_at" value="`+tt.value+`"`) {
				t.Fatalf("the form lost the time %q", tt.value)
			}
			if after := deliverByState(t, n); after != before {
				t.Fatalf("state changed:\n before %s\n after  %s", before, after)
			}
		})
	}
}
