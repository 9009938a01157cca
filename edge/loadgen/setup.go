package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/pantry/pantry/internal/pantry"
)

// do sends a request over the attendees' connections.
func (r *run) do(ctx context.Context, method, path, token string, body []byte, headers ...string) (int, []byte, error) {
	return r.send(ctx, r.client, method, path, token, body, headers...)
}

func (r *run) send(ctx context.Context, client *http.Client, method, path, token string, body []byte, headers ...string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, r.cfg.URL+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

func (r *run) call(ctx context.Context, method, path, token string, in, out any, want int, headers ...string) error {
	body, _ := json.Marshal(in)
	status, raw, err := r.do(ctx, method, path, token, body, headers...)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if status != want {
		return fmt.Errorf("%s %s: status %d: %s", method, path, status, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

func (r *run) login(ctx context.Context) (string, error) {
	var res struct{ Token string }
	err := r.call(ctx, "POST", "/api/v1/staff/login", "", map[string]string{"username": r.cfg.Username, "password": r.cfg.Password}, &res, http.StatusOK)
	return res.Token, err
}

// restock tops every item up so the run measures ordering, not sell-outs.
func (r *run) restock(ctx context.Context) error {
	var stock struct {
		Items []pantry.StockLevel
	}
	if err := r.call(ctx, "GET", "/api/v1/staff/stock", r.staff, nil, &stock, http.StatusOK); err != nil {
		return err
	}
	for _, it := range stock.Items {
		r.items = append(r.items, it.ItemID)
		if it.Level >= pantry.MaxStockDelta {
			continue
		}
		mv := map[string]any{"item_id": it.ItemID, "delta": pantry.MaxStockDelta, "reason": "restock"}
		if err := r.call(ctx, "POST", "/api/v1/staff/stock/movements", r.staff, mv, nil, http.StatusCreated); err != nil {
			return err
		}
		if err := r.call(ctx, "POST", "/api/v1/staff/items/"+it.ItemID+"/availability", r.staff, map[string]bool{"available": true}, nil, http.StatusOK); err != nil {
			return err
		}
	}
	if len(r.items) == 0 {
		return errors.New("the node has no items to order")
	}
	return nil
}

// sessions opens n attendee sessions, spread over the rooms.
func (r *run) sessions(ctx context.Context, n int) ([]string, error) {
	tokens := make([]string, n)
	err := parallel(ctx, n, r.cfg.Attendees, func(ctx context.Context, i int) error {
		var err error
		tokens[i], err = r.openSession(ctx, i)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open %d sessions: %w", n, err)
	}
	return tokens, nil
}

func (r *run) openSession(ctx context.Context, i int) (string, error) {
	var res struct{ Token string }
	code := r.cfg.RoomCodes[i%len(r.cfg.RoomCodes)]
	err := r.call(ctx, "POST", "/api/v1/sessions", "", map[string]string{"space_code": code}, &res, http.StatusCreated)
	return res.Token, err
}

// placeOpenOrders places cfg.OpenOrders orders from the attendee sessions,
// as fast as the node takes them, and leaves them open. Their notes do not
// carry the marker the tablets time, so they count in no figure.
func (r *run) placeOpenOrders(ctx context.Context, tokens []string) error {
	err := parallel(ctx, r.cfg.OpenOrders, len(tokens), func(ctx context.Context, i int) error {
		_, err := r.placeOrder(ctx, tokens[i%len(tokens)], "open-"+strconv.Itoa(i), i)
		return err
	})
	if err != nil {
		return fmt.Errorf("place %d open orders: %w", r.cfg.OpenOrders, err)
	}
	return nil
}

// placeOrder places a one-line order noted note (also its Idempotency-Key)
// and returns its id.
func (r *run) placeOrder(ctx context.Context, token, note string, i int) (string, error) {
	req := pantry.PlaceOrder{
		Lines: []pantry.LineRequest{{ItemID: r.items[i%len(r.items)], Quantity: 1}},
		Note:  note, DeliverTo: pantry.DeliverRoom,
	}
	var o struct{ ID string }
	err := r.call(ctx, "POST", "/api/v1/orders", token, req, &o, http.StatusCreated, "Idempotency-Key", note)
	return o.ID, err
}

// parallel calls fn(ctx, i) for every i in [0, n) from up to workers
// goroutines and returns the first error, after which no new call starts.
func parallel(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(max(workers, 1), n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n && ctx.Err() == nil; i = int(next.Add(1)) - 1 {
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return context.Cause(ctx)
}
