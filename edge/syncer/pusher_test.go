package syncer

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/pantry/pantry/syncproto"
)

// These tests drive the pusher alone: no store, no goroutine, no clock.
// An outbox of head events is played by read, and answers are made up.

// read plays the outbox: up to limit events after seq after, of head.
func read(after int64, limit int, head int64) *batch {
	if after >= head {
		return nil
	}
	last := min(after+int64(limit), head)
	return &batch{first: after + 1, last: last, body: fmt.Appendf(nil, "%d-%d", after+1, last)}
}

// fill puts on the wire what p asks for, as pushLoop does, from an outbox
// of head events; it returns what went out.
func fill(p *pusher, head int64) []*batch {
	var out []*batch
	for {
		s, ok := p.next()
		if !ok {
			return out
		}
		b := s.resend
		if b == nil {
			if b = read(s.after, s.limit, head); b == nil {
				return out
			}
		}
		p.sending(b)
		out = append(out, b)
	}
}

// ranges names batches by their seqs: "1-5 6-10".
func ranges(bs []*batch) string {
	s := ""
	for i, b := range bs {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%d-%d", b.first, b.last)
	}
	return s
}

func ok(applied int64) pushResult {
	return pushResult{resp: syncproto.PushResponse{AppliedSeq: applied}}
}

func fail(err error) pushResult { return pushResult{err: err} }

var (
	errLink     = errors.New("dial tcp: connection refused")
	errTooLarge = &Error{Status: http.StatusRequestEntityTooLarge, ErrorDetail: syncproto.ErrorDetail{Code: syncproto.ErrTooLarge}}
	errRevoked  = &Error{Status: http.StatusUnauthorized, ErrorDetail: syncproto.ErrorDetail{Code: syncproto.ErrUnauthorized}}
)

func errGap(resumeFrom int64) error {
	return &Error{Status: http.StatusConflict, ErrorDetail: syncproto.ErrorDetail{Code: syncproto.ErrGap, ResumeFrom: resumeFrom}}
}

// exact makes every backoff wait the top of its jitter range: the step.
func exact(n time.Duration) time.Duration { return n - 1 }

func testPusher(acked int64, size int) *pusher {
	return newPusher(acked, size, backoff{min: 100 * time.Millisecond, max: 400 * time.Millisecond, jitter: exact})
}

// land answers every push on the wire, the oldest with first and the
// others with rest, and returns the last action.
func land(t testing.TB, p *pusher, first, rest pushResult) action {
	t.Helper()
	a := p.landed(first)
	for !p.idle() {
		if a.kind != actWait && a.kind != actAcked {
			t.Fatalf("action %d with pushes still on the wire", a.kind)
		}
		a = p.landed(rest)
	}
	return a
}

func TestPusherWindow(t *testing.T) {
	for _, tc := range []struct {
		name    string
		acked   int64
		head    int64
		probing bool
		want    string
	}{
		{"CatchingUpSendsTwo", 0, 14, false, "1-5 6-10"},
		{"StartsAfterAcked", 7, 14, false, "8-12 13-14"},
		{"ShortOutboxSendsOne", 0, 3, false, "1-3"},
		{"EmptyOutboxSendsNone", 0, 0, false, ""},
		{"ProbingSendsOne", 0, 14, true, "1-5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPusher(tc.acked, 5)
			if tc.probing {
				p.backoff.next()
			}
			if got := ranges(fill(p, tc.head)); got != tc.want {
				t.Fatalf("on the wire: %q, want %q", got, tc.want)
			}
		})
	}
}

// TestPusherPipelines: two pushes go out before either is answered; each
// answer frees a slot for the next batch, and answers count in send order.
func TestPusherPipelines(t *testing.T) {
	p := testPusher(0, 5)
	if got, want := ranges(fill(p, 14)), "1-5 6-10"; got != want {
		t.Fatalf("first window %q, want %q", got, want)
	}
	if a := p.landed(ok(5)); a.kind != actAcked || p.acked != 5 {
		t.Fatalf("first answer: action %d, acked %d; want actAcked, 5", a.kind, p.acked)
	}
	if got, want := ranges(fill(p, 14)), "11-14"; got != want {
		t.Fatalf("after the first answer %q, want %q", got, want)
	}
	// The store learns of the first acknowledgement while two are out.
	if seq, due := p.toMark(); !due || seq != 5 {
		t.Fatalf("toMark=%d,%v, want 5,true", seq, due)
	}
	p.markedUpTo(5)
	// An answer that acknowledges less than one before it moves nothing.
	for _, r := range []pushResult{ok(14), ok(10)} {
		p.landed(r)
	}
	if got, want := p.acked, int64(14); got != want {
		t.Fatalf("acked=%d, want %d (never backwards)", got, want)
	}
	if got := fill(p, 14); len(got) != 0 || !p.idle() {
		t.Fatalf("caught up, yet sent %q", ranges(got))
	}
}

// TestPusherFailureIsTheOldestPush: an answer belongs to the oldest push
// on the wire, so a failure followed by an acknowledgement resends the
// right batch, or none when the later push covered it. Nothing is sent or
// marked until the window has drained.
func TestPusherFailureIsTheOldestPush(t *testing.T) {
	for _, tc := range []struct {
		name   string
		second pushResult
		acked  int64
		want   string
		resent bool
	}{
		{"SecondFailedToo", fail(errLink), 5, "6-10", true},
		{"SecondAppliedBoth", ok(15), 15, "16-20", false},
		{"SecondAppliedPartly", ok(8), 8, "9-13", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPusher(0, 5)
			fill(p, 30)
			p.landed(ok(5))
			fill(p, 30) // 11-15 joins 6-10 on the wire
			first := p.wire[0]
			if a := p.landed(fail(errLink)); a.kind != actWait {
				t.Fatalf("first failure: action %d, want actWait while the second is out", a.kind)
			}
			if got := fill(p, 30); len(got) != 0 {
				t.Fatalf("sent %q while draining", ranges(got))
			}
			if seq, due := p.toMark(); due {
				t.Fatalf("store asked to mark %d while draining", seq)
			}
			if a := p.landed(tc.second); a.kind != actBackOff {
				t.Fatalf("window drained: action %d, want actBackOff", a.kind)
			}
			got := fill(p, 30)
			if p.acked != tc.acked || ranges(got) != tc.want || (got[0] == first) != tc.resent {
				t.Fatalf("acked %d, probe %q (resent %v); want %d, %q (resent %v)",
					p.acked, ranges(got), got[0] == first, tc.acked, tc.want, tc.resent)
			}
		})
	}
}

// TestPusherGap: a sync_gap moves the pusher to the cloud's watermark,
// behind or ahead, whatever the rest of the window said; the store's
// record only ever moves forward.
func TestPusherGap(t *testing.T) {
	for _, tc := range []struct {
		name       string
		resume     int64
		second     pushResult
		wantSent   string
		wantResent bool
		wantMark   int64 // what toMark asks the store to record (0: nothing)
	}{
		{"Behind", 4, fail(errGap(4)), "4-8 9-13", false, 0},
		{"BehindDespiteAnAck", 4, ok(20), "4-8 9-13", false, 0},
		{"Ahead", 26, fail(errLink), "26-30 31-35", false, 25},
		{"AtTheFailedBatch", 11, fail(errGap(11)), "11-15 16-20", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPusher(10, 5)
			failed := fill(p, 40)[0]
			a := land(t, p, fail(errGap(tc.resume)), tc.second)
			if a.kind != actResume || a.acked != max(10, tc.second.resp.AppliedSeq) || a.resume != tc.resume {
				t.Fatalf("action %+v, want actResume from %d", a, tc.resume)
			}
			got := fill(p, 40)
			if ranges(got) != tc.wantSent || (got[0] == failed) != tc.wantResent {
				t.Fatalf("sent %q (resent %v), want %q (resent %v)", ranges(got), got[0] == failed, tc.wantSent, tc.wantResent)
			}
			seq, due := p.toMark()
			if !due {
				seq = 0
			}
			if seq != tc.wantMark {
				t.Fatalf("toMark=%d, want %d", seq, tc.wantMark)
			}
			if p.backoff.cur != 0 {
				t.Fatal("a gap backed off")
			}
		})
	}
}

// TestPusherTooLarge: a 413 halves the batch, without backing off, down
// to one event; one event too large is a failure like any other (backed
// off, then resent as encoded); a success restores the full size.
func TestPusherTooLarge(t *testing.T) {
	p := testPusher(0, 8)
	var sizes []int
	var a action
	for a.kind != actBackOff {
		sent := fill(p, 100)
		sizes = append(sizes, int(sent[0].last-sent[0].first+1))
		a = land(t, p, fail(errTooLarge), fail(errTooLarge))
		if a.kind == actHalve && p.backoff.cur != 0 {
			t.Fatal("halving backed off")
		}
	}
	if got, want := sizes, []int{8, 4, 2, 1}; !slices.Equal(got, want) {
		t.Fatalf("batch sizes %v, want %v", got, want)
	}
	if got, want := a.wait, 100*time.Millisecond; got != want {
		t.Fatalf("one event too large: wait %s, want %s", got, want)
	}
	probe := fill(p, 100)
	if got, want := ranges(probe), "1-1"; got != want {
		t.Fatalf("probe %q, want %q", got, want)
	}
	if a := land(t, p, fail(errTooLarge), pushResult{}); a.kind != actBackOff || fill(p, 100)[0] != probe[0] {
		t.Fatalf("one event still too large: action %d, want actBackOff and the same batch again", a.kind)
	}
	p.landed(ok(1))
	if got, want := ranges(fill(p, 100)), "2-9 10-17"; got != want {
		t.Fatalf("after a success %q, want %q (full size, full window)", got, want)
	}
}

// TestPusherBackoff: the waits between failures double from the minimum
// up to the maximum; a success starts them again; a refusal waits the
// longest; gaps and halving leave them as they are. Jitter is drawn in
// [d/2, d].
func TestPusherBackoff(t *testing.T) {
	const ms = time.Millisecond
	for _, tc := range []struct {
		name    string
		jitter  func(time.Duration) time.Duration
		answers []error // nil: acknowledged
		want    []time.Duration
	}{
		{"GrowsToMax", exact, []error{errLink, errLink, errLink, errLink, errLink}, []time.Duration{100 * ms, 200 * ms, 400 * ms, 400 * ms, 400 * ms}},
		{"ResetsAfterSuccess", exact, []error{errLink, errLink, nil, errLink}, []time.Duration{100 * ms, 200 * ms, 0, 100 * ms}},
		{"RefusedWaitsLongest", exact, []error{errRevoked, errLink, errRevoked}, []time.Duration{400 * ms, 200 * ms, 400 * ms}},
		{"GapAndHalvingKeepIt", exact, []error{errLink, errGap(1), errTooLarge, errLink}, []time.Duration{100 * ms, 0, 0, 200 * ms}},
		{"JitterDownToHalf", func(time.Duration) time.Duration { return 0 }, []error{errLink, errLink, errLink}, []time.Duration{50 * ms, 100 * ms, 200 * ms}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPusher(0, 5)
			p.backoff.jitter = tc.jitter
			var got []time.Duration
			for _, err := range tc.answers {
				sent := fill(p, 1000)
				r := fail(err)
				if err == nil {
					r = ok(sent[0].last)
				}
				got = append(got, land(t, p, r, fail(errLink)).wait)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("waits %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPusherProbeThenResend: after a failure one push probes the link,
// and it is the failed batch as it was encoded; the window opens again
// with the first success.
func TestPusherProbeThenResend(t *testing.T) {
	p := testPusher(0, 5)
	failed := fill(p, 14)[0]
	if a := land(t, p, fail(errLink), fail(errLink)); a.kind != actBackOff || a.err != errLink {
		t.Fatalf("action %+v, want actBackOff for %v", a, errLink)
	}
	for i := range 3 {
		probe := fill(p, 14)
		if len(probe) != 1 || probe[0] != failed {
			t.Fatalf("probe %d: %q, want the failed batch alone", i, ranges(probe))
		}
		if i < 2 {
			p.landed(fail(errLink))
		}
	}
	p.landed(ok(5))
	if got, want := ranges(fill(p, 14)), "6-10 11-14"; got != want {
		t.Fatalf("after the probe %q, want %q", got, want)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want outcome
	}{
		{"Acked", nil, outAcked},
		{"Gap", errGap(7), outGap},
		{"GapWithoutResume", errGap(0), outFailed},
		{"TooLarge", errTooLarge, outTooLarge},
		{"Revoked", errRevoked, outRefused},
		{"Forbidden", &Error{Status: http.StatusForbidden}, outRefused},
		{"OldVersion", &Error{Status: http.StatusBadRequest, ErrorDetail: syncproto.ErrorDetail{Code: syncproto.ErrVersion}}, outRefused},
		{"Unavailable", &Error{Status: http.StatusServiceUnavailable}, outFailed},
		{"LinkDown", fmt.Errorf("/v1/sync/push: %w", errLink), outFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(tc.err); got != tc.want {
				t.Fatalf("classify(%v)=%d, want %d", tc.err, got, tc.want)
			}
		})
	}
}
