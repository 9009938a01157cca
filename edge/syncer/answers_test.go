package syncer

import (
	"context"
	"testing"

	"github.com/pantry/pantry/syncproto"
)

// TestWorkerCountsDeadLetters: the events a push answer names as dead
// letters are counted (pantry_sync_dead_lettered_total), also when the
// answer lands behind a failed push of its window, and a replay the
// cloud answers without naming them again adds nothing.
func TestWorkerCountsDeadLetters(t *testing.T) {
	t.Parallel()
	r := newRig(t, 30, 0, 5)
	r.start()
	answer := func(c *call, applied int64, dead ...int64) {
		c.answer <- pushResult{resp: syncproto.PushResponse{Version: syncproto.Version, AppliedSeq: applied, DeadLettered: dead}}
	}
	deadLettered := func() int64 { return r.w.Status().DeadLettered }
	if got := deadLettered(); got != 0 {
		t.Fatalf("dead letters %d before any push, want 0", got)
	}

	cs := r.window(2) // 1-5 6-10
	answer(cs[0], 5, 2, 4)
	answer(cs[1], 10)
	r.eventually("seq 10 acknowledged", func() bool { return r.w.Status().AckedSeq == 10 })
	if got, want := deadLettered(), int64(2); got != want {
		t.Fatalf("dead letters %d, want %d", got, want)
	}

	// The answer to 11-15 is lost, though the cloud applied it; 16-20's
	// answer, behind it, still names its dead letter.
	cs = r.window(2)
	cs[0].reply(errLink)
	answer(cs[1], 20, 17)
	if got, want := r.pause(), minBackoff; got != want {
		t.Fatalf("backoff %s, want %s", got, want)
	}
	if got, want := deadLettered(), int64(3); got != want {
		t.Fatalf("dead letters %d after the window with a lost answer, want %d", got, want)
	}

	// After the backoff one push probes the link. Then the answer to
	// 26-30 is lost; its resend is a replay, which the cloud acknowledges
	// without naming any dead letter again.
	for _, want := range []string{"21-25", "26-30"} {
		c := r.window(1)[0]
		if got := c.String(); got != want {
			t.Fatalf("on the wire %s, want %s", got, want)
		}
		if want == "21-25" {
			answer(c, 25)
		} else {
			c.reply(errLink)
		}
	}
	r.pause()
	probe := r.window(1)[0]
	if got, want := probe.String(), "26-30"; got != want {
		t.Fatalf("probe %s, want %s", got, want)
	}
	answer(probe, 30)
	r.eventually("seq 30 recorded", func() bool { return r.storeAcked() == 30 })
	if got, want := deadLettered(), int64(3); got != want {
		t.Fatalf("dead letters %d after the replay, want %d", got, want)
	}
}

// TestWorkerRecordsAckBehindALostAnswer: when the answer to a window's
// first push is lost but a later one acknowledges everything, the store
// records it without waiting for a new event, so the outbox's depth and
// age (pantry_outbox_*, which alerts watch) do not stay up overnight.
func TestWorkerRecordsAckBehindALostAnswer(t *testing.T) {
	t.Parallel()
	r := newRig(t, 10, 0, 5)
	r.start()
	cs := r.window(2)
	cs[0].reply(errLink)
	cs[1].reply(nil) // applied up to 10: the cloud had 1-5
	if got, want := r.pause(), minBackoff; got != want {
		t.Fatalf("backoff %s, want %s", got, want)
	}
	r.eventually("the store records seq 10 as pushed", func() bool { return r.storeAcked() == 10 })
	st, err := r.store.OutboxStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Unpushed != 0 || !st.OldestUnpushed.IsZero() {
		t.Fatalf("outbox %+v, want nothing waiting", st)
	}
}
