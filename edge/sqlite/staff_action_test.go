package sqlite_test

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/pantry"
	"github.com/pantry/pantry/internal/testclock"
	"github.com/pantry/pantry/syncproto"
)

var (
	tabletA = sqlite.Tablet{ID: pantry.NewID(), Username: "pantry-1"}
	tabletB = sqlite.Tablet{ID: pantry.NewID(), Username: "pantry-2"}
)

// openAt opens a demo store on a test clock and places one order.
func openAt(tb testing.TB) (*sqlite.Store, *testclock.Clock, pantry.Order) {
	tb.Helper()
	ctx := context.Background()
	clock := testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	s, err := sqlite.Open(ctx, tb.TempDir(), sqlite.Options{Now: clock.Now})
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	d, err := s.SeedDemo(ctx)
	if err != nil {
		tb.Fatalf("seed demo: %v", err)
	}
	res, err := s.PlaceOrder(ctx, mustSession(tb, s, d), "", order(itemNamed(tb, s, "Espresso").ID, 2), sqlite.OrderLimit{})
	if err != nil {
		tb.Fatalf("place order: %v", err)
	}
	return s, clock, res.Order
}

func action(kind pantry.ActionKind, from pantry.OrderStatus, reason string) pantry.OrderAction {
	return pantry.OrderAction{ActionID: pantry.NewID(), Action: kind, From: from, Reason: reason}
}

// statusEvents returns the order.status_changed events of an order.
func statusEvents(tb testing.TB, s *sqlite.Store, orderID string) []pantry.OutboxEvent {
	tb.Helper()
	events, err := s.Outbox(context.Background(), 0, 100000)
	if err != nil {
		tb.Fatal(err)
	}
	var out []pantry.OutboxEvent
	for _, e := range events {
		if e.Type == syncproto.EventOrderStatusChanged && e.EntityID == orderID {
			out = append(out, e)
		}
	}
	return out
}

func mustAct(tb testing.TB, s *sqlite.Store, orderID string, act pantry.OrderAction, by sqlite.Tablet) sqlite.OrderActionResult {
	tb.Helper()
	res, err := s.ApplyOrderAction(context.Background(), orderID, act, by)
	if err != nil {
		tb.Fatalf("%s from %s: %v", act.Action, act.From, err)
	}
	return res
}

func TestOrderActionReplay(t *testing.T) {
	t.Parallel()
	s, clock, o := openAt(t)
	ctx := context.Background()
	adv := action(pantry.ActionAdvance, pantry.StatusPlaced, "")
	first := mustAct(t, s, o.ID, adv, tabletA)
	if first.Replayed || first.Order.Status != pantry.StatusAccepted {
		t.Fatalf("first=%+v, want accepted, not replayed", first)
	}
	clock.Advance(time.Minute)
	again := mustAct(t, s, o.ID, adv, tabletA)
	if !again.Replayed || again.Order.Status != pantry.StatusAccepted || !again.Order.UpdatedAt.Equal(first.Order.UpdatedAt) ||
		again.Order.SessionID != o.SessionID || len(again.Stock) != 0 {
		t.Fatalf("replay=%+v, want the first answer, replayed, with nothing to announce", again)
	}
	if got, want := len(statusEvents(t, s, o.ID)), 1; got != want {
		t.Fatalf("status events=%d, want %d", got, want)
	}

	t.Run("SameIDOtherRequest", func(t *testing.T) {
		for name, tc := range map[string]struct {
			act pantry.OrderAction
			by  sqlite.Tablet
		}{
			"OtherTablet": {adv, tabletB},
			"OtherAction": {pantry.OrderAction{ActionID: adv.ActionID, Action: pantry.ActionCancel, From: pantry.StatusPlaced, Reason: "x"}, tabletA},
			"OtherFrom":   {pantry.OrderAction{ActionID: adv.ActionID, Action: pantry.ActionAdvance, From: pantry.StatusAccepted}, tabletA},
		} {
			_, err := s.ApplyOrderAction(ctx, o.ID, tc.act, tc.by)
			if pantry.ErrorCode(err) != pantry.ECONFLICT || !strings.Contains(pantry.ErrorMessage(err), "already used") {
				t.Errorf("%s: err=%v, want conflict: already used", name, err)
			}
		}
		if got, _ := s.Order(ctx, o.ID); got.Status != pantry.StatusAccepted {
			t.Fatalf("status=%s, want accepted", got.Status)
		}
	})
	t.Run("UpperCaseIDIsTheSameTap", func(t *testing.T) {
		up := adv
		up.ActionID = strings.ToUpper(adv.ActionID)
		if res := mustAct(t, s, o.ID, up, tabletA); !res.Replayed {
			t.Fatal("the upper-case spelling of an action id was taken for a new tap")
		}
	})
	t.Run("ForgottenAfterTTL", func(t *testing.T) {
		clock.Advance(sqlite.ActionTTL)
		_, err := s.ApplyOrderAction(ctx, o.ID, adv, tabletA)
		if pantry.ErrorCode(err) != pantry.ECONFLICT || !strings.Contains(pantry.ErrorMessage(err), "already accepted by tablet pantry-1") {
			t.Fatalf("err=%v, want a fresh judgement: conflict, already accepted", err)
		}
		if got, want := len(statusEvents(t, s, o.ID)), 1; got != want {
			t.Fatalf("status events=%d, want %d", got, want)
		}
	})
}

// TestOrderActionRefusalIsTheAnswer: a tablet that lost a race is told
// who won, and its retry is told the same even after the order has come
// back to the status it saw: the tap was judged once.
func TestOrderActionRefusalIsTheAnswer(t *testing.T) {
	t.Parallel()
	s, _, o := openAt(t)
	ctx := context.Background()
	mustAct(t, s, o.ID, action(pantry.ActionAdvance, pantry.StatusPlaced, ""), tabletA)
	late := action(pantry.ActionAdvance, pantry.StatusPlaced, "")
	res, err := s.ApplyOrderAction(ctx, o.ID, late, tabletB)
	if got, want := pantry.ErrorMessage(err), "already accepted by tablet pantry-1"; pantry.ErrorCode(err) != pantry.ECONFLICT || got != want || res.Replayed {
		t.Fatalf("loser: err=%v replayed=%v, want conflict %q", err, res.Replayed, want)
	}
	mustAct(t, s, o.ID, action(pantry.ActionRecall, pantry.StatusAccepted, ""), tabletA)
	res, err = s.ApplyOrderAction(ctx, o.ID, late, tabletB)
	if pantry.ErrorMessage(err) != "already accepted by tablet pantry-1" || !res.Replayed {
		t.Fatalf("retry: err=%v replayed=%v, want the first refusal, replayed", err, res.Replayed)
	}
	if got, _ := s.Order(ctx, o.ID); got.Status != pantry.StatusPlaced {
		t.Fatalf("status=%s, want placed (the recall stands)", got.Status)
	}
	_, err = s.ApplyOrderAction(ctx, o.ID, action(pantry.ActionCancel, pantry.StatusAccepted, "room empty"), tabletB)
	if pantry.ErrorMessage(err) != "moved back to placed by tablet pantry-1" {
		t.Fatalf("after a recall: err=%v, want conflict: moved back", err)
	}
}

func TestOrderActionRecall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("WithinTheWindow", func(t *testing.T) {
		t.Parallel()
		s, clock, o := openAt(t)
		for _, from := range []pantry.OrderStatus{pantry.StatusPlaced, pantry.StatusAccepted, pantry.StatusPreparing, pantry.StatusReady} {
			mustAct(t, s, o.ID, action(pantry.ActionAdvance, from, ""), tabletA)
		}
		clock.Advance(pantry.RecallWindow)
		res := mustAct(t, s, o.ID, action(pantry.ActionRecall, pantry.StatusDelivered, "wrong room"), tabletB)
		if res.Order.Status != pantry.StatusReady {
			t.Fatalf("status=%s, want ready", res.Order.Status)
		}
		events := statusEvents(t, s, o.ID)
		if last := string(events[len(events)-1].Payload); !strings.Contains(last, `"from":"delivered","to":"ready"`) || !strings.Contains(last, `"actor":"pantry-2"`) {
			t.Fatalf("last status event=%s, want delivered -> ready by pantry-2", last)
		}
		_, err := s.ApplyOrderAction(ctx, o.ID, action(pantry.ActionRecall, pantry.StatusReady, ""), tabletA)
		if pantry.ErrorCode(err) != pantry.ECONFLICT || !strings.Contains(pantry.ErrorMessage(err), "nothing to recall") {
			t.Fatalf("a recall of a recall: err=%v, want conflict: nothing to recall", err)
		}
	})
	t.Run("AfterTheWindow", func(t *testing.T) {
		t.Parallel()
		s, clock, o := openAt(t)
		mustAct(t, s, o.ID, action(pantry.ActionAdvance, pantry.StatusPlaced, ""), tabletA)
		clock.Advance(pantry.RecallWindow + time.Second)
		_, err := s.ApplyOrderAction(ctx, o.ID, action(pantry.ActionRecall, pantry.StatusAccepted, ""), tabletA)
		if want := "too late to recall: accepted by tablet pantry-1 61 s ago"; pantry.ErrorCode(err) != pantry.ECONFLICT || !strings.HasPrefix(pantry.ErrorMessage(err), want) {
			t.Fatalf("err=%v, want conflict %q…", err, want)
		}
		if got, want := len(statusEvents(t, s, o.ID)), 1; got != want {
			t.Fatalf("status events=%d, want %d", got, want)
		}
	})
	t.Run("OrderMovedSince", func(t *testing.T) {
		t.Parallel()
		s, _, o := openAt(t)
		mustAct(t, s, o.ID, action(pantry.ActionAdvance, pantry.StatusPlaced, ""), tabletA)
		mustAct(t, s, o.ID, action(pantry.ActionAdvance, pantry.StatusAccepted, ""), tabletB)
		_, err := s.ApplyOrderAction(ctx, o.ID, action(pantry.ActionRecall, pantry.StatusAccepted, ""), tabletA)
		if pantry.ErrorMessage(err) != "already moved to preparing by tablet pantry-2" {
			t.Fatalf("err=%v, want conflict: already moved to preparing", err)
		}
	})
	t.Run("ClockSteppedBack", func(t *testing.T) {
		t.Parallel()
		s, clock, o := openAt(t)
		mustAct(t, s, o.ID, action(pantry.ActionAdvance, pantry.StatusPlaced, ""), tabletA)
		clock.Advance(-time.Hour)
		mustAct(t, s, o.ID, action(pantry.ActionRecall, pantry.StatusAccepted, ""), tabletA)
	})
}

func TestOrderActionCancel(t *testing.T) {
	t.Parallel()
	s, _, o := openAt(t)
	espresso := o.Lines[0].ItemID
	before := level(t, s, espresso)
	res := mustAct(t, s, o.ID, action(pantry.ActionCancel, pantry.StatusPlaced, "Out of stock: milk"), tabletA)
	if res.Order.Status != pantry.StatusCancelled || res.Order.CancelReason != "Out of stock: milk" || len(res.Stock) != 1 {
		t.Fatalf("result=%+v, want cancelled with its reason and one stock return", res)
	}
	if got, want := level(t, s, espresso), before+2; got != want {
		t.Fatalf("level=%d, want %d", got, want)
	}
	_, err := s.ApplyOrderAction(context.Background(), o.ID, action(pantry.ActionAdvance, pantry.StatusPlaced, ""), tabletB)
	if pantry.ErrorMessage(err) != "already cancelled by tablet pantry-1" {
		t.Fatalf("err=%v, want conflict: already cancelled", err)
	}
}

func TestOrderActionUnknownOrderIsNotKept(t *testing.T) {
	t.Parallel()
	s, _, o := openAt(t)
	act := action(pantry.ActionAdvance, pantry.StatusPlaced, "")
	if _, err := s.ApplyOrderAction(context.Background(), pantry.NewID(), act, tabletA); pantry.ErrorCode(err) != pantry.ENOTFOUND {
		t.Fatalf("err=%v, want not_found", err)
	}
	// The id answered nothing, so nothing holds it: it still works for
	// the order the tablet meant.
	if res := mustAct(t, s, o.ID, act, tabletA); res.Replayed || res.Order.Status != pantry.StatusAccepted {
		t.Fatalf("result=%+v, want a fresh advance", res)
	}
}

// TestOrderActionRace: many taps on one ticket at once, each its own tap
// from one of two tablets, and copies of one tap: exactly one advance.
func TestOrderActionRace(t *testing.T) {
	t.Parallel()
	s, _, o := openAt(t)
	const n = 64
	dup := action(pantry.ActionAdvance, pantry.StatusPlaced, "")
	type answer struct {
		res sqlite.OrderActionResult
		err error
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			act, by := action(pantry.ActionAdvance, pantry.StatusPlaced, ""), []sqlite.Tablet{tabletA, tabletB}[i%2]
			if i%4 == 0 {
				act, by = dup, tabletA
			}
			answers[i].res, answers[i].err = s.ApplyOrderAction(context.Background(), o.ID, act, by)
		})
	}
	close(start)
	wg.Wait()
	fresh := 0
	for i, a := range answers {
		if a.err == nil && !a.res.Replayed {
			fresh++
		}
		if a.err != nil && (pantry.ErrorCode(a.err) != pantry.ECONFLICT || !strings.HasPrefix(pantry.ErrorMessage(a.err), "already accepted by tablet pantry-")) {
			t.Errorf("tap %d: %v, want conflict: already accepted", i, a.err)
		}
	}
	if fresh != 1 {
		t.Fatalf("%d taps advanced the order, want 1", fresh)
	}
	if got, want := len(statusEvents(t, s, o.ID)), 1; got != want {
		t.Fatalf("status events=%d, want %d", got, want)
	}
}

func TestSetAvailabilityOnce(t *testing.T) {
	t.Parallel()
	s, _, _ := openAt(t)
	ctx := context.Background()
	croissant := itemNamed(t, s, "Croissant")
	head := func() int64 {
		h, err := s.OutboxHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	off := pantry.NewID()
	first, err := s.SetAvailabilityOnce(ctx, off, croissant.ID, false, tabletA)
	if err != nil || first.Replayed || first.Item.Available {
		t.Fatalf("sold out: %+v %v", first, err)
	}
	seq := head()
	if _, err := s.SetAvailabilityOnce(ctx, pantry.NewID(), croissant.ID, true, tabletB); err != nil {
		t.Fatal(err)
	}
	late, err := s.SetAvailabilityOnce(ctx, off, croissant.ID, false, tabletA)
	if err != nil || !late.Replayed || !reflect.DeepEqual(late.Item, first.Item) {
		t.Fatalf("late retry: %+v %v, want the first answer replayed", late, err)
	}
	if !itemNamed(t, s, "Croissant").Available {
		t.Fatal("a late retry of sold out undid the newer back on")
	}
	if got, want := head(), seq+1; got != want {
		t.Fatalf("outbox head=%d, want %d (one event for the newer tap, none for the retry)", got, want)
	}
	if _, err := s.SetAvailabilityOnce(ctx, off, croissant.ID, true, tabletA); pantry.ErrorCode(err) != pantry.ECONFLICT {
		t.Fatalf("same id, other switch: %v, want conflict", err)
	}
}
