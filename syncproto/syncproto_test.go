package syncproto

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata from the values in the test")

var t0 = time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)

const (
	org   = "01a2123e-0000-7000-8000-000000000001"
	site  = "01a2123e-0000-7000-8000-000000000002"
	room  = "01a2123e-0000-7000-8000-000000000003"
	item  = "01a2123e-0000-7000-8000-000000000004"
	node  = "01a2123e-0000-7000-8000-000000000005"
	order = "01a2123e-0000-7000-8000-000000000006"
	sess  = "01a2123e-0000-7000-8000-000000000007"
)

func raw(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func eur(n int64) Money { return Money{Amount: n, Currency: "EUR"} }

func ptr[T any](v T) *T { return &v }

// events is one of every event, as an edge writes them.
func events() []Event {
	placed := OrderPlaced{ID: order, SiteID: site, SpaceID: room, SessionID: sess, Status: "placed",
		Lines: []OrderLine{{ItemID: item, Name: "Coffee", Quantity: 2, UnitPrice: eur(250), LineTotal: eur(500)}},
		Note:  "oat milk", DeliverTo: "room", Subtotal: eur(500), Discount: eur(50), Total: eur(450), Coupon: "WELCOME10",
		CostCenter: "CC-1001", Payment: "cost_center", CatalogRev: 7, CreatedAt: t0, UpdatedAt: t0, DeliverBy: ptr(t0.Add(time.Hour))}
	payloads := []struct {
		typ string
		v   any
	}{
		{EventSessionOpened, Session{ID: sess, SiteID: site, SpaceID: room, SpaceName: "Rembrandt", CreatedAt: t0, ExpiresAt: t0.Add(3 * time.Hour)}},
		{EventOrderPlaced, placed},
		{EventPaymentRecorded, PaymentRecorded{ID: "01a2123e-0000-7000-8000-000000000008", OrderID: order, Method: "cost_center",
			Amount: eur(450), Discount: eur(50), Coupon: "WELCOME10", CostCenter: "CC-1001", CreatedAt: t0}},
		{EventCouponRedeemed, CouponRedeemed{ID: "01a2123e-0000-7000-8000-000000000009", CouponID: "01a2123e-0000-7000-8000-00000000000a",
			Code: "WELCOME10", OrderID: order, Discount: eur(50), At: t0}},
		{EventStockMoved, StockMovement{ID: "01a2123e-0000-7000-8000-00000000000b", SiteID: site, ItemID: item, Delta: -2,
			Reason: "sale", OrderID: order, CreatedAt: t0}},
		{EventOrderStatusChanged, StatusChanged{ID: "01a2123e-0000-7000-8000-00000000000c", OrderID: order, From: "placed",
			To: "accepted", Actor: "tablet-1", At: t0.Add(time.Minute)}},
		{EventItemAvailability, ItemAvailability{ItemID: item, Available: false, Actor: "tablet-1", At: t0.Add(2 * time.Minute)}},
		{EventSessionExpired, Session{ID: sess, SiteID: site, SpaceID: room, SpaceName: "Rembrandt", CreatedAt: t0, ExpiresAt: t0.Add(3 * time.Hour)}},
	}
	var out []Event
	for i, p := range payloads {
		out = append(out, Event{Seq: int64(41 + i), ID: fmt.Sprintf("01a2123e-0000-7000-8000-1000000000%02x", i),
			Type: p.typ, Schema: EventSchema, EntityID: order, Payload: raw(p.v), CreatedAt: t0})
	}
	return out
}

// pullResponse is the golden pull page: the whole configuration, one
// item of it at a station, and one cloud stock movement.
func pullResponse() *PullResponse {
	return &PullResponse{Version: 1, Cursor: Cursor{ConfigRevision: 7, StockSeq: 121},
		Config: &Config{Revision: 7, Site: Site{ID: site, OrgID: org, Name: "HQ", Timezone: "Europe/Amsterdam", Currency: "EUR"},
			Spaces:      []Space{{ID: room, Name: "Rembrandt", Floor: "2", Code: "q7Xk2mP9vR4tW8yZ"}},
			Items:       []Item{{ID: item, Name: "Coffee", Description: "Filter", Price: eur(250), Tags: []string{"hot"}, Allergens: []string{}, LowStockThreshold: 10, Available: true, Station: "drinks"}},
			Coupons:     []Coupon{{ID: "01a2123e-0000-7000-8000-00000000000a", Code: "WELCOME10", Kind: "percent", Value: 10, ValidFrom: t0, ValidTo: t0.Add(720 * time.Hour), MaxUses: 100}},
			CostCenters: []CostCenter{{ID: "01a2123e-0000-7000-8000-00000000000d", Code: "CC-1001", Name: "Facilities"}},
			Tablets:     []Tablet{{ID: "01a2123e-0000-7000-8000-00000000000e", Name: "Pantry 1", Username: "tablet-1", PasswordHash: "$2a$10$EXAMPLEhashEXAMPLEhashEXAMPLEhashEXAMPLEhash12"}}},
		Stock: []StockMovement{{Seq: 121, ID: "01a2123e-0000-7000-8000-00000000000f", SiteID: site, ItemID: item, Delta: 24, Reason: "restock", Actor: "user:ada", CreatedAt: t0}},
		More:  false, ServerTime: t0}
}

// pullResponseCapability0 is the golden pull page as the cloud sends it to
// an edge that sends no Pantry-Sync-Capability: byte for byte the
// pull_response.json of the first release of version 1, which such an
// edge decodes.
func pullResponseCapability0() *PullResponse {
	p := pullResponse()
	p.Config = p.Config.ForCapability(0)
	return p
}

// goldens are the wire format, pinned: every message of version 1.
func goldens() map[string]any {
	return map[string]any{
		"enroll_request.json":  &EnrollRequest{Version: 1, Token: "et_3q2-7wEXAMPLEa1b2c3", Name: "pantry-hq-3", SoftwareVersion: "1.4.0"},
		"enroll_response.json": &EnrollResponse{Version: 1, NodeID: node, OrgID: org, SiteID: site, Credential: "nc_EXAMPLEcredential", ServerTime: t0},
		"push_request.json": &PushRequest{Version: 1, NodeID: node, SoftwareVersion: "1.4.0", SentAt: t0, OutboxHead: 48,
			Events: events()},
		"push_response.json": &PushResponse{Version: 1, AppliedSeq: 48, DeadLettered: []int64{44}, ServerTime: t0},
		"pull_request.json": &PullRequest{Version: 1, NodeID: node, SoftwareVersion: "1.4.0", Cursor: Cursor{ConfigRevision: 6, StockSeq: 120},
			WaitSeconds: 25, SentAt: t0, OutboxHead: 48},
		"pull_response.json":             pullResponse(),
		"pull_response_capability0.json": pullResponseCapability0(),
		"node_info.json":                 &NodeInfo{Version: 1, NodeID: node, SiteID: site, AppliedSeq: 48, DeadLetters: 1, CloudVersion: "1.4.0", ServerTime: t0},
		"error_gap.json":                 &ErrorBody{Error: ErrorDetail{Code: ErrGap, Message: "push starts at seq 45 but the cloud has applied up to 40: resend from 41", ResumeFrom: 41}},
	}
}

// TestGolden pins the wire format: each message encodes to its file in
// testdata byte for byte, and the file decodes back to the same value.
// A change here is a protocol change: bump Version and keep accepting the
// old one (sync invariant 6), or, for an optional field the cloud sends,
// bump Capability and keep the old shape's golden (capability.go).
func TestGolden(t *testing.T) {
	for name, v := range goldens() {
		t.Run(name, func(t *testing.T) {
			got, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", name)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./syncproto -update to write it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s changed: the wire format is a contract.\ngot:\n%s\nwant:\n%s", name, got, want)
			}
			back := reflect.New(reflect.TypeOf(v).Elem()).Interface()
			if err := Decode(want, false, back); err != nil {
				t.Fatal(err)
			}
			// Compact both: the file's payloads are indented.
			b1, _ := json.Marshal(back)
			b2, _ := json.Marshal(v)
			var c1, c2 bytes.Buffer
			json.Compact(&c1, b1)
			json.Compact(&c2, b2)
			if !bytes.Equal(c1.Bytes(), c2.Bytes()) {
				t.Fatalf("decoded %s differs:\n%s\nwant\n%s", name, c1.Bytes(), c2.Bytes())
			}
			if val, ok := back.(interface{ Validate() error }); ok {
				if err := val.Validate(); err != nil {
					t.Fatalf("the golden %s is invalid: %v", name, err)
				}
			}
		})
	}
}

// TestEveryEventDecodes checks each golden event's payload against its
// type's validation.
func TestEveryEventDecodes(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range events() {
		v, err := DecodePayload(e)
		if err != nil {
			t.Fatalf("%s: %v", e.Type, err)
		}
		if v == nil {
			t.Fatalf("%s: nil payload", e.Type)
		}
		seen[e.Type] = true
	}
	for _, typ := range []string{EventOrderPlaced, EventOrderStatusChanged, EventPaymentRecorded, EventStockMoved,
		EventSessionOpened, EventSessionExpired, EventCouponRedeemed, EventItemAvailability} {
		if !seen[typ] {
			t.Errorf("no golden event of type %s", typ)
		}
	}
}

func TestDecodePayloadRefuses(t *testing.T) {
	base := events()[1] // order.placed
	var o OrderPlaced
	json.Unmarshal(base.Payload, &o)
	mut := func(f func(*OrderPlaced)) json.RawMessage {
		c := o
		c.Lines = append([]OrderLine(nil), o.Lines...)
		f(&c)
		return raw(c)
	}
	for name, tc := range map[string]struct {
		typ     string
		schema  int
		payload json.RawMessage
		want    string
	}{
		"UnknownType":      {"order.teleported", 1, base.Payload, "unknown event type"},
		"NewerSchema":      {EventOrderPlaced, EventSchema + 1, base.Payload, "newer"},
		"NotJSON":          {EventOrderPlaced, 1, json.RawMessage(`{"id":`), "payload"},
		"TrailingData":     {EventOrderPlaced, 1, json.RawMessage(string(base.Payload) + `{}`), "after the object"},
		"WrongType":        {EventOrderPlaced, 1, json.RawMessage(`{"id": 5}`), "payload"},
		"BadID":            {EventOrderPlaced, 1, mut(func(o *OrderPlaced) { o.ID = "nope" }), "id"},
		"BadStatus":        {EventOrderPlaced, 1, mut(func(o *OrderPlaced) { o.Status = "teleported" }), "status"},
		"NoLines":          {EventOrderPlaced, 1, mut(func(o *OrderPlaced) { o.Lines = nil }), "lines"},
		"ZeroQuantity":     {EventOrderPlaced, 1, mut(func(o *OrderPlaced) { o.Lines[0].Quantity = 0 }), "quantity"},
		"HugeQuantity":     {EventOrderPlaced, 1, mut(func(o *OrderPlaced) { o.Lines[0].Quantity = 1 << 40 }), "quantity"},
		"NegativeTotal":    {EventOrderPlaced, 1, mut(func(o *OrderPlaced) { o.Total.Amount = -1 }), "amount"},
		"MixedCurrency":    {EventOrderPlaced, 1, mut(func(o *OrderPlaced) { o.Discount.Currency = "USD" }), "USD"},
		"DoesNotAddUp":     {EventOrderPlaced, 1, mut(func(o *OrderPlaced) { o.Total.Amount++ }), "add up"},
		"NoCreatedAt":      {EventOrderPlaced, 1, mut(func(o *OrderPlaced) { o.CreatedAt = time.Time{} }), "created_at"},
		"LongNote":         {EventOrderPlaced, 1, mut(func(o *OrderPlaced) { o.Note = strings.Repeat("x", 501) }), "note"},
		"ZeroDeliverBy":    {EventOrderPlaced, 1, mut(func(o *OrderPlaced) { o.DeliverBy = &time.Time{} }), "deliver_by"},
		"DeliverByNotTime": {EventOrderPlaced, 1, json.RawMessage(strings.Replace(string(base.Payload), `"deliver_by":"`, `"deliver_by":"soon`, 1)), "payload"},
		"ZeroStockDelta":   {EventStockMoved, 1, raw(StockMovement{ID: order, ItemID: item, Reason: "sale", CreatedAt: t0}), "delta"},
		"BadStockReason":   {EventStockMoved, 1, raw(StockMovement{ID: order, ItemID: item, Delta: 1, Reason: "theft", CreatedAt: t0}), "reason"},
		"SessionBackwards": {EventSessionOpened, 1, raw(Session{ID: sess, SiteID: site, SpaceID: room, CreatedAt: t0, ExpiresAt: t0.Add(-time.Second)}), "expires_at"},
		"Oversized":        {EventOrderPlaced, 1, json.RawMessage(`"` + strings.Repeat("x", MaxEventBytes) + `"`), "limit"},
	} {
		t.Run(name, func(t *testing.T) {
			e := base
			e.Type, e.Schema, e.Payload = tc.typ, tc.schema, tc.payload
			_, err := DecodePayload(e)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestValidateRefuses(t *testing.T) {
	good := func() *PushRequest {
		p := *goldens()["push_request.json"].(*PushRequest)
		p.Events = events()
		return &p
	}
	for name, tc := range map[string]struct {
		msg  interface{ Validate() error }
		want string
	}{
		"PushOldVersion":   {func() *PushRequest { p := good(); p.Version = 0; return p }(), "version 0"},
		"PushNewVersion":   {func() *PushRequest { p := good(); p.Version = Version + 1; return p }(), "not supported"},
		"PushBadNode":      {func() *PushRequest { p := good(); p.NodeID = "x"; return p }(), "node_id"},
		"PushEmpty":        {func() *PushRequest { p := good(); p.Events = nil; return p }(), "1 to"},
		"PushGap":          {func() *PushRequest { p := good(); p.Events[3].Seq += 1; return p }(), "consecutive"},
		"PushZeroSeq":      {func() *PushRequest { p := good(); p.Events = p.Events[:1]; p.Events[0].Seq = 0; return p }(), "seq"},
		"PushSchemaZero":   {func() *PushRequest { p := good(); p.Events[0].Schema = 0; return p }(), "schema"},
		"PushTooMany":      {func() *PushRequest { p := good(); p.Events = make([]Event, MaxBatchEvents+1); return p }(), "1 to"},
		"PullNegative":     {&PullRequest{Version: 1, NodeID: node, Cursor: Cursor{StockSeq: -1}}, "negative"},
		"PullLongWait":     {&PullRequest{Version: 1, NodeID: node, WaitSeconds: 31}, "wait_seconds"},
		"PullTablets":      {&PullRequest{Version: 1, NodeID: node, Status: &EdgeStatus{TabletsOnline: -1}}, "tablets_online"},
		"PullManyTablets":  {&PullRequest{Version: 1, NodeID: node, Status: &EdgeStatus{TabletsOnline: MaxTabletsOnline + 1}}, "tablets_online"},
		"PullOldestYear1":  {&PullRequest{Version: 1, NodeID: node, Status: &EdgeStatus{OutboxOldestAt: &time.Time{}}}, "outbox_oldest_at"},
		"EnrollNoToken":    {&EnrollRequest{Version: 1}, "token"},
		"EnrollLongToken":  {&EnrollRequest{Version: 1, Token: strings.Repeat("t", 257)}, "token"},
		"EnrollBadVersion": {&EnrollRequest{Version: 9, Token: "t"}, "not supported"},
		"EnrollBadUTF8":    {&EnrollRequest{Version: 1, Token: "t", Name: "\xff"}, "UTF-8"},
		"NodeNegativeSeq":  {&NodeInfo{Version: 1, NodeID: node, SiteID: site, AppliedSeq: -1}, "applied_seq"},
		"NodeNoSite":       {&NodeInfo{Version: 1, NodeID: node}, "site_id"},
		"NodeBadVersion":   {&NodeInfo{Version: 2, NodeID: node, SiteID: site}, "not supported"},
		"NodeNegativeDead": {&NodeInfo{Version: 1, NodeID: node, SiteID: site, DeadLetters: -3}, "dead_letters"},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.msg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	body, err := Encode(goldens()["push_request.json"], true)
	if err != nil {
		t.Fatal(err)
	}
	var p PushRequest
	if err := Decode(body, true, &p); err != nil || len(p.Events) != 8 {
		t.Fatalf("gzip round trip: %v, %d events", err, len(p.Events))
	}
	if err := Decode(body, false, &p); err == nil {
		t.Fatal("a gzipped body read as plain JSON was accepted")
	}
	t.Run("VersionFirst", func(t *testing.T) {
		var p PullRequest
		err := Decode([]byte(`{"version": 2, "a_field_of_version_2": true}`), false, &p)
		var ve *VersionError
		if !errors.As(err, &ve) || ve.Got != 2 {
			t.Fatalf("error %v, want a VersionError for version 2", err)
		}
	})
	t.Run("UnknownField", func(t *testing.T) {
		var p PullRequest
		if err := Decode([]byte(`{"version": 1, "surprise": 1}`), false, &p); err == nil || !strings.Contains(err.Error(), "surprise") {
			t.Fatalf("error %v, want one naming the unknown field", err)
		}
	})
	t.Run("TrailingData", func(t *testing.T) {
		var p PullRequest
		if err := Decode([]byte(`{"version": 1} {}`), false, &p); err == nil {
			t.Fatal("trailing data accepted")
		}
	})
	t.Run("TooLarge", func(t *testing.T) {
		var p PullRequest
		if err := Decode(make([]byte, MaxBodyBytes+1), false, &p); !errors.Is(err, ErrBodyTooLarge) {
			t.Fatalf("error %v, want ErrBodyTooLarge", err)
		}
	})
	t.Run("GzipBomb", func(t *testing.T) {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zeros := make([]byte, 1<<20)
		for range MaxDecodedBytes>>20 + 1 {
			zw.Write(zeros)
		}
		zw.Close()
		if buf.Len() > MaxBodyBytes {
			t.Fatalf("the bomb is %d bytes: it must pass the body limit to test the inflate limit", buf.Len())
		}
		var p PushRequest
		if err := Decode(buf.Bytes(), true, &p); !errors.Is(err, ErrBodyTooLarge) {
			t.Fatalf("error %v, want ErrBodyTooLarge", err)
		}
	})
}

// The fuzz tests feed the decoders what the network may send. They must
// never panic, and what they accept must survive a round trip unchanged.

func FuzzDecodePush(f *testing.F) {
	golden, _ := os.ReadFile(filepath.Join("testdata", "push_request.json"))
	f.Add(golden, false)
	if z, err := Encode(goldens()["push_request.json"], true); err == nil {
		f.Add(z, true)
	}
	f.Add([]byte(`{"version":1,"events":[{"seq":1}]}`), false)
	f.Fuzz(func(t *testing.T, body []byte, gz bool) {
		var p PushRequest
		if Decode(body, gz, &p) != nil || p.Validate() != nil {
			return
		}
		for _, e := range p.Events {
			_, _ = DecodePayload(e)
		}
		again, err := Encode(&p, false)
		if err != nil {
			t.Fatal(err)
		}
		var q PushRequest
		if err := Decode(again, false, &q); err != nil {
			t.Fatalf("re-encoded push does not decode: %v", err)
		}
		if q.Validate() != nil || len(q.Events) != len(p.Events) {
			t.Fatal("a valid push changed in a round trip")
		}
	})
}

func FuzzDecodePull(f *testing.F) {
	golden, _ := os.ReadFile(filepath.Join("testdata", "pull_request.json"))
	f.Add(golden)
	f.Add([]byte(`{"version":1,"cursor":{"config_revision":-1}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var p PullRequest
		if Decode(body, false, &p) != nil || p.Validate() != nil {
			return
		}
		again, _ := Encode(&p, false)
		var q PullRequest
		if err := Decode(again, false, &q); err != nil || !reflect.DeepEqual(normalize(p), normalize(q)) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzDecodeEnroll(f *testing.F) {
	golden, _ := os.ReadFile(filepath.Join("testdata", "enroll_request.json"))
	f.Add(golden)
	f.Fuzz(func(t *testing.T, body []byte) {
		var e EnrollRequest
		if Decode(body, false, &e) != nil || e.Validate() != nil {
			return
		}
		if e.Token == "" {
			t.Fatal("an enrollment without a token validated")
		}
	})
}

// FuzzDecodeNodeInfo feeds the edge's decoder of GET /sync/v1/node what
// a cloud (or whatever answers in its place) may send: an edge restored
// from a backup renumbers its outbox by what it accepts.
func FuzzDecodeNodeInfo(f *testing.F) {
	golden, _ := os.ReadFile(filepath.Join("testdata", "node_info.json"))
	f.Add(golden)
	f.Add([]byte(`{"version":1,"applied_seq":-5}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var n NodeInfo
		if Decode(body, false, &n) != nil || n.Validate() != nil {
			return
		}
		if n.AppliedSeq < 0 || !ValidID(n.NodeID) {
			t.Fatalf("an invalid answer validated: %+v", n)
		}
		again, err := Encode(&n, false)
		if err != nil {
			t.Fatal(err)
		}
		var m NodeInfo
		if err := Decode(again, false, &m); err != nil || m.AppliedSeq != n.AppliedSeq || m.NodeID != n.NodeID {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzDecodePayload(f *testing.F) {
	for _, e := range events() {
		f.Add(e.Type, 1, []byte(e.Payload))
	}
	f.Fuzz(func(t *testing.T, typ string, schema int, payload []byte) {
		v, err := DecodePayload(Event{Type: typ, Schema: schema, Payload: payload})
		if err == nil && v == nil {
			t.Fatal("no error and no payload")
		}
	})
}

// normalize drops what JSON cannot carry (monotonic clock readings).
func normalize(p PullRequest) PullRequest {
	p.SentAt = p.SentAt.Round(0)
	return p
}

// BenchmarkDecodePush is the cloud's CPU per pushed event before any SQL:
// inflate, decode, validate, decode each payload.
func BenchmarkDecodePush(b *testing.B) {
	evs := events()
	req := PushRequest{Version: 1, NodeID: node, Events: make([]Event, 0, 5000)}
	for i := range 5000 {
		e := evs[i%len(evs)]
		e.Seq = int64(i + 1)
		req.Events = append(req.Events, e)
	}
	body, err := Encode(&req, true)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		var p PushRequest
		if err := Decode(body, true, &p); err != nil {
			b.Fatal(err)
		}
		if err := p.Validate(); err != nil {
			b.Fatal(err)
		}
		for _, e := range p.Events {
			if _, err := DecodePayload(e); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*5000)/1000, "µs/event")
}

// BenchmarkEncodePush is the edge's CPU per pushed event to send it.
func BenchmarkEncodePush(b *testing.B) {
	evs := events()
	req := PushRequest{Version: 1, NodeID: node}
	for i := range 5000 {
		e := evs[i%len(evs)]
		e.Seq = int64(i + 1)
		req.Events = append(req.Events, e)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := Encode(&req, true); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*5000)/1000, "µs/event")
}
