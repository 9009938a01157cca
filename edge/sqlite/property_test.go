package sqlite_test

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver, for the read-only view
	"pgregory.net/rapid"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/pantry"
)

// TestStoreProperties drives a real store through random sequences of
// attendee and staff actions and, after every step, checks the store against
// a model kept by the test and against the invariants DESIGN.md promises:
// the stock level is the ledger's sum and never negative, every change has
// its outbox events and no event lacks its change, the outbox has no gaps,
// and a refused request changes nothing.
//
// Run longer with -rapid.checks=1000; replay a failure with the -rapid.seed
// or -rapid.failfile it prints.
func TestStoreProperties(t *testing.T) {
	if raceEnabled {
		// 100 checks take about a minute under -race; 20 still cover
		// hundreds of steps, and -rapid.checks or RAPID_CHECKS wins.
		defaultChecks(t, 20)
	}
	template := seedTemplate(t)
	rapid.Check(t, func(rt *rapid.T) {
		h := newHarness(rt, template)
		h.check(rt)
		for range rapid.IntRange(1, 40).Draw(rt, "steps") {
			h.step(rt)
			h.check(rt)
		}
	})
}

// defaultChecks lowers rapid's number of checks to n for this test, unless
// it was chosen with -rapid.checks or RAPID_CHECKS.
func defaultChecks(t *testing.T, n int) {
	f := flag.Lookup("rapid.checks")
	if f == nil || f.Value.String() != f.DefValue {
		return
	}
	if err := f.Value.Set(strconv.Itoa(n)); err != nil {
		t.Fatalf("set rapid.checks: %v", err)
	}
	t.Cleanup(func() { f.Value.Set(f.DefValue) })
}

// seedTemplate seeds one demo store and closes it. Each rapid check opens a
// copy of its file: SeedDemo hashes a tablet password with bcrypt, about
// 70 ms (730 ms under -race) that would otherwise dominate the run time.
func seedTemplate(tb testing.TB) string {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	s, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		tb.Fatalf("open template: %v", err)
	}
	if _, err := s.SeedDemo(ctx); err != nil {
		tb.Fatalf("seed template: %v", err)
	}
	if err := s.Close(); err != nil {
		tb.Fatalf("close template: %v", err)
	}
	return dir
}

// copyStore copies the database files (the main file and any WAL left
// behind) of a closed store from src into a fresh directory.
func copyStore(t *rapid.T, src string) string {
	dir, err := os.MkdirTemp("", "pantry-property-*")
	if err != nil {
		t.Fatalf("temp dir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	names, err := filepath.Glob(filepath.Join(src, sqlite.FileName+"*"))
	if err != nil || len(names) == 0 {
		t.Fatalf("template files: %v (%d found)", err, len(names))
	}
	for _, name := range names {
		if err := copyFile(name, filepath.Join(dir, filepath.Base(name))); err != nil {
			t.Fatalf("copy template: %v", err)
		}
	}
	return dir
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// unknownID names an item or order the store has never seen.
const unknownID = "00000000-0000-7000-8000-000000000000"

// harness is one store under test, a read-only view of its file for the
// checks the store's API does not offer, and the model the store must match.
type harness struct {
	ctx   context.Context
	s     *sqlite.Store
	db    *sql.DB
	rooms []pantry.Space
	m     *model
}

func newHarness(t *rapid.T, template string) *harness {
	ctx := context.Background()
	dir := copyStore(t, template)
	s, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	d, err := s.SeedDemo(ctx)
	if err != nil {
		t.Fatalf("seed demo: %v", err)
	}
	db, err := sql.Open("sqlite", readOnlyDSN(s.Path()))
	if err != nil {
		t.Fatalf("open read-only view: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	h := &harness{ctx: ctx, s: s, db: db, rooms: d.Rooms}
	h.m = h.seededModel(t)
	sess, _, err := s.OpenSession(ctx, d.Rooms[0].Code, time.Hour)
	if err != nil {
		t.Fatalf("open first session: %v", err)
	}
	h.m.sessions = append(h.m.sessions, sess)
	return h
}

// readOnlyDSN opens the store's file a second time, read-only, so a check
// can never write around the store's writer.
func readOnlyDSN(path string) string {
	q := url.Values{}
	q.Add("mode", "ro")
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "query_only(1)")
	return "file:" + path + "?" + q.Encode()
}

// seededModel reads what SeedDemo left behind: the menu with its levels,
// and the stock movements (and their events) that put the stock there.
func (h *harness) seededModel(t *rapid.T) *model {
	menu, err := h.s.Menu(h.ctx)
	if err != nil {
		t.Fatalf("menu: %v", err)
	}
	m := newModel(menu)
	if err := h.db.QueryRowContext(h.ctx, `SELECT COUNT(*) FROM stock_movements`).Scan(&m.movements); err != nil {
		t.Fatalf("count seeded movements: %v", err)
	}
	return m
}

// Actions, weighted by repetition: ordering is what attendees mostly do.
// rapid favours (and shrinks towards) the front of a list.
var actions = []string{
	"place order", "place order", "set status", "place order", "record stock",
	"cancel order", "set status", "set availability", "record stock", "open session",
}

// step draws and runs one action. A refused action must leave the outbox
// exactly where it was; the model checks everything else afterwards.
func (h *harness) step(t *rapid.T) {
	before := h.lastSeq(t)
	var changed bool
	switch action := rapid.SampledFrom(actions).Draw(t, "action"); action {
	case "open session":
		changed = h.openSession(t)
	case "place order":
		changed = h.placeOrder(t)
	case "cancel order":
		changed = h.cancelOrder(t)
	case "set status":
		changed = h.setStatus(t)
	case "record stock":
		changed = h.recordStock(t)
	case "set availability":
		changed = h.setAvailability(t)
	default:
		t.Fatalf("unknown action %q", action)
	}
	if after := h.lastSeq(t); !changed && after != before {
		t.Fatalf("a refused or replayed request moved the outbox from seq %d to %d", before, after)
	}
}

func (h *harness) lastSeq(t *rapid.T) int64 {
	st, err := h.s.OutboxStats(h.ctx)
	if err != nil {
		t.Fatalf("outbox stats: %v", err)
	}
	return st.LastSeq
}

// rarely is true about one time in ten: for the unknown room, item or
// order that must be refused without taking over the run. rapid biases
// integers towards the low end and shrinks towards it, so the rare case is
// the high one.
func rarely(t *rapid.T, label string) bool {
	return rapid.IntRange(0, 9).Draw(t, label) == 9
}

// wantCode fails unless err carries the code want ("" for success).
func wantCode(t *rapid.T, what string, err error, want string) {
	t.Logf("%s: err=%v", what, err)
	if got := pantry.ErrorCode(err); got != want {
		t.Fatalf("%s: code=%q, want %q (err: %v)", what, got, want, err)
	}
}

func (h *harness) openSession(t *rapid.T) bool {
	room := rapid.SampledFrom(h.rooms).Draw(t, "room")
	code, want := room.Code, ""
	if rarely(t, "unknown room") {
		code, want = "no-such-room", pantry.ENOTFOUND
	}
	sess, _, err := h.s.OpenSession(h.ctx, code, time.Hour)
	wantCode(t, "open session", err, want)
	if err != nil {
		return false
	}
	if sess.SpaceID != room.ID || sess.SiteID != room.SiteID {
		t.Fatalf("session opened in space %s of site %s, want %s of %s", sess.SpaceID, sess.SiteID, room.ID, room.SiteID)
	}
	h.m.sessions = append(h.m.sessions, sess)
	return true
}

func (h *harness) cancelOrder(t *rapid.T) bool {
	id := h.drawOrderID(t)
	reason := rapid.SampledFrom([]string{"guest left", "wrong room", "meeting moved"}).Draw(t, "reason")
	if rarely(t, "no reason") {
		reason = rapid.SampledFrom([]string{"", "   "}).Draw(t, "blank reason")
	}
	want := h.m.cancelOutcome(id, reason)
	res, err := h.s.SetOrderStatus(h.ctx, id, pantry.StatusCancelled, reason, "tablet")
	wantCode(t, "cancel order", err, want)
	if err != nil {
		return false
	}
	if res.Order.Status != pantry.StatusCancelled || res.Order.CancelReason != reason {
		t.Fatalf("cancelled order has status %s, reason %q; want cancelled, %q", res.Order.Status, res.Order.CancelReason, reason)
	}
	h.m.cancel(id)
	h.checkChanges(t, res.Stock)
	return true
}

func (h *harness) setStatus(t *rapid.T) bool {
	id := h.drawOrderID(t)
	to := rapid.SampledFrom([]pantry.OrderStatus{
		pantry.StatusPlaced, pantry.StatusAccepted, pantry.StatusPreparing,
		pantry.StatusReady, pantry.StatusDelivered, "lost",
	}).Draw(t, "any status")
	if o, ok := h.m.orders[id]; ok && rapid.Bool().Draw(t, "next status") {
		if next, ok := nextStatus[o.status]; ok {
			to = next
		}
	}
	want := h.m.transitionOutcome(id, to)
	res, err := h.s.SetOrderStatus(h.ctx, id, to, "", "tablet")
	wantCode(t, fmt.Sprintf("set status to %s", to), err, want)
	if err != nil {
		return false
	}
	if res.Order.Status != to || len(res.Stock) != 0 {
		t.Fatalf("order is %s with %d stock changes, want %s and none", res.Order.Status, len(res.Stock), to)
	}
	h.m.orders[id].status = to
	h.m.statusChanges++
	return true
}

// nextStatus is each open order's way forward (cancelling has its action).
var nextStatus = map[pantry.OrderStatus]pantry.OrderStatus{
	pantry.StatusPlaced:    pantry.StatusAccepted,
	pantry.StatusAccepted:  pantry.StatusPreparing,
	pantry.StatusPreparing: pantry.StatusReady,
	pantry.StatusReady:     pantry.StatusDelivered,
}

func (h *harness) drawOrderID(t *rapid.T) string {
	if len(h.m.orderIDs) == 0 || rarely(t, "unknown order") {
		return unknownID
	}
	return rapid.SampledFrom(h.m.orderIDs).Draw(t, "order")
}

func (h *harness) drawItemID(t *rapid.T) string {
	if rarely(t, "unknown item") {
		return unknownID
	}
	return rapid.SampledFrom(h.m.items).Draw(t, "item").ID
}

func (h *harness) recordStock(t *rapid.T) bool {
	id := h.drawItemID(t)
	reason := rapid.SampledFrom([]pantry.StockReason{
		pantry.StockRestock, pantry.StockWaste, pantry.StockCount, pantry.StockCount, pantry.StockAdjustment,
	}).Draw(t, "stock reason")
	delta := h.drawDelta(t, h.m.level[id])
	want := h.m.stockOutcome(id, delta, reason)
	ch, err := h.s.RecordStock(h.ctx, id, delta, reason, "tablet")
	wantCode(t, fmt.Sprintf("record %s of %d", reason, delta), err, want)
	if err != nil {
		return false
	}
	h.m.level[id] += delta
	h.m.movements++
	h.checkChanges(t, []sqlite.StockChange{ch})
	return true
}

// drawDelta draws a small movement, one that empties the shelf exactly, or
// one that would take it below zero.
func (h *harness) drawDelta(t *rapid.T, level int64) int64 {
	switch rapid.SampledFrom([]string{"small", "small", "to zero", "below zero"}).Draw(t, "delta kind") {
	case "to zero":
		return -level
	case "below zero":
		return -level - rapid.Int64Range(1, 5).Draw(t, "overdraw")
	}
	return rapid.Int64Range(-10, 10).Draw(t, "delta")
}

func (h *harness) setAvailability(t *rapid.T) bool {
	id := h.drawItemID(t)
	on := rapid.Bool().Draw(t, "available")
	want := ""
	if _, ok := h.m.level[id]; !ok {
		want = pantry.ENOTFOUND
	}
	it, err := h.s.SetAvailability(h.ctx, id, on, "tablet")
	wantCode(t, "set availability", err, want)
	if err != nil {
		return false
	}
	h.m.switchedOn[id] = on
	h.m.toggles++
	if got, want := it.Available, h.m.orderable(id); got != want {
		t.Fatalf("item %s available=%v after switching it %v at level %d, want %v", id, got, on, h.m.level[id], want)
	}
	return true
}

// checkChanges checks the levels a write reports against the model, which
// has already applied the write.
func (h *harness) checkChanges(t *rapid.T, changes []sqlite.StockChange) {
	for _, ch := range changes {
		if got, want := ch.Level.Level, h.m.level[ch.Level.ItemID]; got != want {
			t.Fatalf("write reported level %d for %s, want %d", got, ch.Level.ItemID, want)
		}
	}
}

func (h *harness) placeOrder(t *rapid.T) bool {
	sess, key, req := h.drawPlacement(t)
	limit := rapid.SampledFrom([]sqlite.OrderLimit{{}, {}, {Max: 3, Window: time.Hour}}).Draw(t, "limit")
	h.m.sent = append(h.m.sent, sentOrder{sess: sess, key: key, req: req})
	want, replayOf := h.m.placeOutcome(sess.ID, key, req, limit)
	res, err := h.s.PlaceOrder(h.ctx, sess, key, req, limit)
	wantCode(t, "place order", err, want)
	switch {
	case err != nil:
		return false
	case replayOf != "":
		h.checkReplay(t, res, replayOf)
		return false
	}
	h.checkPlaced(t, res, req)
	h.m.place(sess.ID, key, req, res.Order.ID)
	h.checkChanges(t, res.Stock)
	return true
}

// drawPlacement draws who orders what: mostly a new request, sometimes one
// that reuses an Idempotency-Key sent before, with the same body (a replay)
// or another (a conflict), from the same session or another one (new keys).
func (h *harness) drawPlacement(t *rapid.T) (pantry.Session, string, pantry.PlaceOrder) {
	sess := rapid.SampledFrom(h.m.sessions).Draw(t, "session")
	switch rapid.SampledFrom([]string{"no key", "new key", "reused key"}).Draw(t, "key kind") {
	case "new key":
		return sess, fmt.Sprintf("key-%d", len(h.m.sent)), h.drawRequest(t)
	case "reused key":
		if len(h.m.sent) == 0 {
			break
		}
		prev := rapid.SampledFrom(h.m.sent).Draw(t, "earlier request")
		if prev.key == "" {
			break
		}
		if rapid.Bool().Draw(t, "same session") {
			sess = prev.sess
		}
		if rapid.Bool().Draw(t, "same body") {
			return sess, prev.key, prev.req
		}
		return sess, prev.key, h.drawRequest(t)
	}
	return sess, "", h.drawRequest(t)
}

// drawRequest draws one to three distinct lines of quantity 1..5, sometimes
// a coupon or a cost center, and now and then an item, coupon or cost center
// the store does not know.
func (h *harness) drawRequest(t *rapid.T) pantry.PlaceOrder {
	var req pantry.PlaceOrder
	for _, it := range rapid.SliceOfNDistinct(rapid.SampledFrom(h.m.items), 1, 3, itemID).Draw(t, "items") {
		qty := rapid.IntRange(1, 5).Draw(t, "quantity")
		req.Lines = append(req.Lines, pantry.LineRequest{ItemID: it.ID, Quantity: qty})
	}
	if rarely(t, "unknown item") {
		req.Lines = append(req.Lines, pantry.LineRequest{ItemID: unknownID, Quantity: 1})
	}
	req.DeliverTo = rapid.SampledFrom([]pantry.Delivery{"", pantry.DeliverRoom, pantry.DeliverPickup}).Draw(t, "deliver to")
	req.Coupon = rapid.SampledFrom([]string{"", "", "WELCOME10", "welcome10"}).Draw(t, "coupon")
	if rarely(t, "unknown coupon") {
		req.Coupon = "NOPE"
	}
	req.CostCenter = rapid.SampledFrom([]string{"", "", "CC-1001"}).Draw(t, "cost center")
	if rarely(t, "unknown cost center") {
		req.CostCenter = "CC-404"
	}
	return req
}

func itemID(it pantry.Item) string { return it.ID }

func (h *harness) checkReplay(t *rapid.T, res sqlite.OrderResult, orderID string) {
	if res.Created || res.Order.ID != orderID || len(res.Stock) != 0 {
		t.Fatalf("replay returned order %s (created=%v, %d stock changes), want %s, not created, none",
			res.Order.ID, res.Created, len(res.Stock), orderID)
	}
	if got, want := res.Order.Status, h.m.orders[orderID].status; got != want {
		t.Fatalf("replay returned status %s, want %s", got, want)
	}
}

// checkPlaced checks a new order's pricing against the model's prices.
func (h *harness) checkPlaced(t *rapid.T, res sqlite.OrderResult, req pantry.PlaceOrder) {
	o := res.Order
	if !res.Created || o.Status != pantry.StatusPlaced || len(o.Lines) != len(req.Lines) {
		t.Fatalf("placed order: created=%v status=%s lines=%d, want true, placed, %d", res.Created, o.Status, len(o.Lines), len(req.Lines))
	}
	if _, ok := h.m.orders[o.ID]; ok {
		t.Fatalf("placed order %s has the id of an earlier order", o.ID)
	}
	var subtotal int64
	for _, l := range req.Lines {
		subtotal += h.m.price[l.ItemID] * int64(l.Quantity)
	}
	var discount int64
	if req.Coupon != "" {
		discount = pantry.PercentOf(subtotal, 10)
	}
	if o.Subtotal.Amount != subtotal || o.Discount.Amount != discount || o.Total.Amount != subtotal-discount {
		t.Fatalf("priced %d - %d = %d, want %d - %d = %d",
			o.Subtotal.Amount, o.Discount.Amount, o.Total.Amount, subtotal, discount, subtotal-discount)
	}
	want := pantry.PayComplimentary
	if req.CostCenter != "" {
		want = pantry.PayCostCenter
	}
	if o.Payment != want {
		t.Fatalf("payment=%s, want %s", o.Payment, want)
	}
}
