package syncer

import (
	"errors"
	"net/http"
	"time"
)

// pushWindow is how many pushes may be on the wire at once. Two keep the
// cloud busy while catching up: it decodes one batch while PostgreSQL
// applies the one before (the node's row lock makes the second wait its
// turn, and a second that arrives first is told to wait by the cloud).
const pushWindow = 2

// pusher makes the push side's decisions and does no I/O, so that each
// decision can be tested without a store, a network or a cloud. The push
// loop asks it what to put on the wire (next), tells it what went on
// (sending), and hands it each answer in the order the pushes were sent
// (landed), which returns what the loop does about it.
//
// Its states:
//
//   - streaming: up to pushWindow pushes on the wire, each answered in
//     seq order (the outbox may be empty: the loop then idles);
//   - draining: a push failed while others were on the wire; their
//     answers are taken for what they acknowledge, nothing new is sent,
//     and the failure is decided once the window is empty;
//   - probing: after a failure and its backoff, one push at a time tests
//     the link, the failed batch resent as encoded, until a push succeeds.
//
// A push's outcome is one of (see classify): acknowledged, sync_gap with
// resume_from, 413 too large, refused for good (credential or version),
// or failed (anything else). The actions are the actionKinds.
type pusher struct {
	full, size int   // events per batch: configured, and now (halved on 413)
	acked      int64 // the newest seq the cloud acknowledged
	marked     int64 // the newest seq the store has recorded as pushed
	sent       int64 // the newest seq on the wire or acknowledged
	wire       []*batch
	// retry is the batch that failed, kept to resend without reading and
	// encoding it again: during an outage that work, twice a retry, took
	// CPU the node needs for its attendees.
	retry   *batch
	fail    *failure // draining when set
	backoff backoff  // probing while backoff.cur > 0
}

// failure is the first failed push of a window, decided when the window
// is empty.
type failure struct {
	batch *batch
	err   error
}

func newPusher(acked int64, batchEvents int, b backoff) *pusher {
	return &pusher{full: batchEvents, size: batchEvents, acked: acked, marked: acked, sent: acked, backoff: b}
}

// send is what to put on the wire next: the failed batch, as encoded, or
// up to limit events read from the outbox after seq after.
type send struct {
	resend *batch
	after  int64
	limit  int
}

// next says what to put on the wire, if there is room: none while
// draining, one push while probing, pushWindow otherwise. The failed batch
// is offered once, and only if it is still the next one to send.
func (p *pusher) next() (send, bool) {
	if p.fail != nil || len(p.wire) >= p.window() {
		return send{}, false
	}
	r := p.retry
	p.retry = nil
	if r != nil && r.first == p.sent+1 {
		return send{resend: r}, true
	}
	return send{after: p.sent, limit: p.size}, true
}

// window is how many pushes may be on the wire now.
func (p *pusher) window() int {
	if p.backoff.cur > 0 {
		return 1
	}
	return pushWindow
}

// sending records that b went on the wire.
func (p *pusher) sending(b *batch) {
	p.wire = append(p.wire, b)
	p.sent = b.last
}

// idle reports that nothing is on the wire.
func (p *pusher) idle() bool { return len(p.wire) == 0 }

// toMark returns the seq the store should record as pushed, when it lags
// what the cloud acknowledged. Not while draining: a gap may yet move the
// acknowledged seq back.
func (p *pusher) toMark() (int64, bool) {
	return p.acked, p.fail == nil && p.acked > p.marked
}

// markedUpTo records that the store holds seq as pushed.
func (p *pusher) markedUpTo(seq int64) { p.marked = seq }

// actionKind is what the loop does after an answer landed.
type actionKind int

const (
	// actWait: a failure is draining the window; take the next answer.
	actWait actionKind = iota
	// actAcked: record the success; the window is open at full size.
	actAcked
	// actResume: the cloud's watermark is elsewhere; carry on from it.
	actResume
	// actHalve: the batch was too large; carry on with half as many events.
	actHalve
	// actBackOff: record the failure and wait; then one push probes the link.
	actBackOff
)

// action is landed's answer.
type action struct {
	kind actionKind
	err  error         // the failure behind actResume, actHalve and actBackOff
	wait time.Duration // actBackOff: how long to wait before the probe
	// acked and resume are, with actResume, where the edge was and the
	// first seq the cloud asks for.
	acked, resume int64
}

// landed takes the answer to the oldest push on the wire. Answers are
// taken in the order the pushes were sent, so the acknowledged seq only
// ever moves forward through the outbox (a gap aside).
func (p *pusher) landed(r pushResult) action {
	b := p.wire[0]
	p.wire = p.wire[1:]
	if p.fail != nil || r.err != nil {
		return p.drain(b, r)
	}
	p.acked = max(p.acked, r.resp.AppliedSeq)
	p.backoff.reset()
	p.size = p.full
	return action{kind: actAcked}
}

// drain keeps the first failure of a window and what later pushes
// acknowledged (one may have been applied although an earlier answer was
// lost), and decides once nothing is left on the wire.
func (p *pusher) drain(b *batch, r pushResult) action {
	switch {
	case p.fail == nil:
		p.fail = &failure{batch: b, err: r.err}
	case r.err == nil:
		p.acked = max(p.acked, r.resp.AppliedSeq)
	}
	if len(p.wire) > 0 {
		return action{kind: actWait}
	}
	f := *p.fail
	p.fail = nil
	return p.decide(f)
}

// decide starts again after what the cloud acknowledged, keeping the
// failed batch to resend if it still comes next.
func (p *pusher) decide(f failure) action {
	p.sent = p.acked
	if f.batch.first == p.acked+1 {
		p.retry = f.batch
	}
	switch classify(f.err) {
	case outGap:
		return p.resume(f.err)
	case outTooLarge:
		if p.size > 1 {
			p.size, p.retry = max(1, p.size/2), nil
			return action{kind: actHalve, err: f.err}
		}
		// One event too large: a failure like any other.
	case outRefused:
		return action{kind: actBackOff, err: f.err, wait: p.backoff.after(true)}
	}
	return action{kind: actBackOff, err: f.err, wait: p.backoff.after(false)}
}

// resume carries on from where the cloud asks, ahead or behind (say its
// database was restored from a backup): the outbox keeps every event, so
// it can resend from anywhere. Only the pusher's idea of what the store
// holds moves back: MarkPushed never moves the store's record backwards.
func (p *pusher) resume(err error) action {
	from, _ := isGap(err)
	a := action{kind: actResume, err: err, acked: p.acked, resume: from}
	p.acked, p.sent, p.marked = from-1, from-1, min(p.marked, from-1)
	return a
}

// outcome is what an answer means to the pusher.
type outcome int

const (
	outAcked    outcome = iota // applied up to AppliedSeq
	outGap                     // 409 sync_gap: resume from ResumeFrom
	outTooLarge                // 413: send fewer events at a time
	outRefused                 // the credential or version is refused: wait long
	outFailed                  // anything else (link down, 5xx, timeout): back off
)

// classify reads a push's error.
func classify(err error) outcome {
	if err == nil {
		return outAcked
	}
	if _, ok := isGap(err); ok {
		return outGap
	}
	var ce *Error
	if errors.As(err, &ce) && ce.Status == http.StatusRequestEntityTooLarge {
		return outTooLarge
	}
	if isPermanent(err) {
		return outRefused
	}
	return outFailed
}
