package fleetsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// admin is a facility admin of one organization using the cloud's REST
// API: it builds the fleet's sites and changes prices during the run. It
// signs in with its password and signs in again when its access token
// has expired (they last 15 minutes; a setup or a run may be longer).
type admin struct {
	base            string
	client          *http.Client
	email, password string

	mu    sync.Mutex
	token string
}

func newAdmin(base, email, password string, client *http.Client) *admin {
	return &admin{base: strings.TrimRight(base, "/"), email: email, password: password, client: client}
}

// apiError is an answer of the API other than the one asked for.
type apiError struct {
	method, path string
	status       int
	body         string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: status %d: %s", e.method, e.path, e.status, e.body)
}

// login signs the admin in.
func (a *admin) login(ctx context.Context) error {
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := a.send(ctx, "", http.MethodPost, "/api/v1/auth/login", map[string]string{"email": a.email, "password": a.password}, &out, http.StatusOK); err != nil {
		return fmt.Errorf("sign in as %s: %w", a.email, err)
	}
	a.mu.Lock()
	a.token = out.AccessToken
	a.mu.Unlock()
	return nil
}

// call sends one request as the admin and decodes the answer into out
// (unless nil); any status but want is an error. A 401 signs in again and
// retries once.
func (a *admin) call(ctx context.Context, method, path string, in, out any, want int) error {
	a.mu.Lock()
	token := a.token
	a.mu.Unlock()
	if token == "" {
		if err := a.login(ctx); err != nil {
			return err
		}
		return a.call(ctx, method, path, in, out, want)
	}
	err := a.send(ctx, token, method, path, in, out, want)
	if e := (*apiError)(nil); errors.As(err, &e) && e.status == http.StatusUnauthorized {
		if err := a.login(ctx); err != nil {
			return err
		}
		a.mu.Lock()
		token = a.token
		a.mu.Unlock()
		err = a.send(ctx, token, method, path, in, out, want)
	}
	return err
}

func (a *admin) send(ctx context.Context, token, method, path string, in, out any, want int) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return &apiError{method: method, path: path, status: resp.StatusCode, body: clip(string(raw))}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// money is the API's amount.
type money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// price reads item's price.
func (a *admin) price(ctx context.Context, item string) (money, error) {
	var it struct {
		Price money `json:"price"`
	}
	err := a.call(ctx, http.MethodGet, "/api/v1/items/"+item, nil, &it, http.StatusOK)
	return it.Price, err
}

// setPrice changes item's price in the organization's catalog: every
// site whose menu does not override it sells it at the new price, and
// each of their nodes is owed the new configuration.
func (a *admin) setPrice(ctx context.Context, item string, p money) error {
	return a.call(ctx, http.MethodPatch, "/api/v1/items/"+item, map[string]any{"price": p}, nil, http.StatusOK)
}

// adminClient is the HTTP client admins share: setup sends thousands of
// requests, over a few connections kept alive.
func adminClient(workers int) *http.Client {
	return &http.Client{Timeout: 60 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: max(workers, 2), IdleConnTimeout: 90 * time.Second}}
}
