package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pantry/pantry/internal/pantry"
)

// liveClients are attendee order pages held open over Server-Sent Events,
// each with its own session, order and connection, as many phones would.
type liveClients struct {
	client  *http.Client       // the streams'
	staff   *http.Client       // the status changes': a tablet's, not the attendees' connections
	cancel  context.CancelFunc // ends every stream
	wg      sync.WaitGroup
	closing atomic.Bool
	streams []*stream

	open        atomic.Int64
	disconnects atomic.Int64

	mu        sync.Mutex
	waiting   map[string]change // by order id: the status change asked for, not yet seen on its stream
	latencies []time.Duration
}

// stream is one order page.
type stream struct {
	orderID string
	status  pantry.OrderStatus // as the run last asked; only advance touches it
}

// change is a staff status change on a followed order.
type change struct {
	status pantry.OrderStatus
	at     time.Time
}

// newLiveClients returns live clients whose streams end with ctx or close.
func newLiveClients(ctx context.Context) (*liveClients, context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	l := &liveClients{
		cancel:  cancel,
		waiting: map[string]change{},
		client: &http.Client{
			// No Timeout: it would cut every stream. One connection per
			// stream, so no cap per host; ResponseHeaderTimeout bounds a
			// node that never answers.
			Transport: &http.Transport{
				DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
				MaxConnsPerHost:       0,
				DisableCompression:    true,
				ResponseHeaderTimeout: 30 * time.Second,
			},
		},
	}
	l.staff = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	return l, ctx
}

// openLiveClients opens cfg.LiveClients sessions, places an order from
// each and opens its order page's event stream, waiting for the first
// event (the order as it stands) on each.
func (r *run) openLiveClients(ctx context.Context) (*liveClients, error) {
	l, streamCtx := newLiveClients(ctx)
	l.streams = make([]*stream, r.cfg.LiveClients)
	err := parallel(ctx, r.cfg.LiveClients, r.cfg.Attendees, func(ctx context.Context, i int) error {
		token, err := r.openSession(ctx, i)
		if err != nil {
			return err
		}
		id, err := r.placeOrder(ctx, token, "live-"+strconv.Itoa(i), i)
		if err != nil {
			return err
		}
		l.streams[i] = &stream{orderID: id, status: pantry.StatusPlaced}
		return l.follow(streamCtx, r.cfg.URL, token, l.streams[i])
	})
	if err != nil {
		l.close()
		return nil, fmt.Errorf("open %d live clients: %w", r.cfg.LiveClients, err)
	}
	return l, nil
}

// follow opens st's event stream, reads its first event and then reads
// the rest on a goroutine of its own until the stream ends.
func (l *liveClients) follow(ctx context.Context, baseURL, token string, st *stream) error {
	path := "/api/v1/orders/" + st.orderID + "/events"
	req, err := http.NewRequestWithContext(ctx, "GET", baseURL+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := l.client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		resp.Body.Close()
		return fmt.Errorf("GET %s: status %d: %s", path, resp.StatusCode, raw)
	}
	br := bufio.NewReader(resp.Body)
	stall := time.AfterFunc(30*time.Second, func() { resp.Body.Close() })
	_, err = nextEvent(br)
	stall.Stop()
	if err != nil {
		resp.Body.Close()
		return fmt.Errorf("GET %s: first event: %w", path, err)
	}
	l.open.Add(1)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer resp.Body.Close()
		l.read(br)
	}()
	return nil
}

// read handles a stream's events until it ends, counting an end that
// close did not cause as a disconnect.
func (l *liveClients) read(br *bufio.Reader) {
	defer l.open.Add(-1)
	for {
		data, err := nextEvent(br)
		if err != nil {
			if !l.closing.Load() {
				l.disconnects.Add(1)
			}
			return
		}
		l.seen(data, time.Now())
	}
}

// nextEvent returns the data of the stream's next event, skipping
// comments (the keep-alives).
func nextEvent(br *bufio.Reader) ([]byte, error) {
	var data []byte
	for {
		line, err := readLine(br)
		if err != nil {
			return nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0 && data != nil:
			return data, nil
		case bytes.HasPrefix(line, []byte("data:")):
			data = append(data, bytes.TrimPrefix(line[len("data:"):], []byte(" "))...)
		}
	}
}

// readLine returns the next line, however long: an order of many lines
// is a longer event than the reader's buffer.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		part, err := br.ReadSlice('\n')
		line = append(line, part...)
		if !errors.Is(err, bufio.ErrBufferFull) {
			return line, err
		}
	}
}

// seen times an event that shows a status change the run asked for.
func (l *liveClients) seen(data []byte, at time.Time) {
	var ev struct {
		Order struct {
			ID     string             `json:"id"`
			Status pantry.OrderStatus `json:"status"`
		} `json:"order"`
	}
	if json.Unmarshal(data, &ev) != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.waiting[ev.Order.ID]; ok && c.status == ev.Order.Status {
		l.latencies = append(l.latencies, at.Sub(c.at))
		delete(l.waiting, ev.Order.ID)
	}
}

// advance moves the followed orders on, one status at a time and one
// order after another, at cfg.StatusRate until ctx ends or every order is
// ready (the last open status: delivered would end its stream). It does
// not wait for one change before asking for the next (open loop), so a
// slow node gets the same number of changes as a fast one.
func (r *run) advance(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	interval := time.Duration(float64(time.Second) / r.cfg.StatusRate)
	next := time.Now()
	for k := 0; ; k++ {
		next = next.Add(interval) // a late change is made at once: no tick is lost
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		st := r.live.streams[k%len(r.live.streams)]
		next, ok := nextStatus(st.status)
		if !ok {
			return
		}
		st.status = next // a failed change is counted as an error; later ones on st then fail too
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.changeStatus(ctx, st.orderID, next)
		}()
	}
}

// nextStatus is the status after s on the way to ready.
func nextStatus(s pantry.OrderStatus) (pantry.OrderStatus, bool) {
	switch s {
	case pantry.StatusPlaced:
		return pantry.StatusAccepted, true
	case pantry.StatusAccepted:
		return pantry.StatusPreparing, true
	case pantry.StatusPreparing:
		return pantry.StatusReady, true
	}
	return "", false
}

// changeStatus sets st's order to next through the staff API, as a tablet
// does, and leaves the change for its stream to time.
func (r *run) changeStatus(ctx context.Context, orderID string, next pantry.OrderStatus) {
	body, _ := json.Marshal(map[string]pantry.OrderStatus{"status": next})
	r.live.expect(orderID, change{status: next, at: time.Now()})
	status, _, err := r.send(context.WithoutCancel(ctx), r.live.staff, "POST", "/api/v1/staff/orders/"+orderID+"/status", r.staff, body)
	if err == nil && status == http.StatusOK {
		return
	}
	r.live.forget(orderID)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errors["status-transport"]++
	} else {
		r.errors["status-"+strconv.Itoa(status)]++
	}
}

func (l *liveClients) expect(orderID string, c change) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.waiting[orderID] = c
}

func (l *liveClients) forget(orderID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.waiting, orderID)
}

// pending is how many asked-for changes no stream has shown yet.
func (l *liveClients) pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.waiting)
}

// report adds the streams' figures to res.
func (l *liveClients) report(res *Result) {
	l.mu.Lock()
	defer l.mu.Unlock()
	res.SSEConnected = int(l.open.Load())
	res.SSEDisconnects = int(l.disconnects.Load())
	res.SSEChanges = len(l.latencies)
	res.SSEP50ms, res.SSEP99ms, res.SSEMaxms = percentiles(l.latencies)
	res.SSEMissing = len(l.waiting)
}

// close ends every stream and waits for their readers.
func (l *liveClients) close() {
	l.closing.Store(true)
	l.cancel()
	l.wg.Wait()
	l.client.CloseIdleConnections()
	l.staff.CloseIdleConnections()
}
