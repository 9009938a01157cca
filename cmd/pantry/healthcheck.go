package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"
)

const healthcheckLong = `Ask a running edge node or cloud instance whether it is alive: GET its
/healthz (or --url) and succeed on a 2xx answer within --timeout.

It exists for container images, which have no curl: the image's
HEALTHCHECK, a compose file's healthcheck and a Kubernetes exec probe all
run "pantry healthcheck". Without --url it asks 127.0.0.1 at the port of
--http, which reads PANTRY_HTTP_ADDR as "serve" does, so a container that
sets PANTRY_HTTP_ADDR=:8081 for "pantry cloud serve" is checked at :8081.

Exit codes:
  0  the endpoint answered 2xx
  1  it did not (refused, timed out, another status) or a flag is wrong`

// healthResult is what --json prints.
type healthResult struct {
	URL     string `json:"url"`
	OK      bool   `json:"ok"`
	Status  int    `json:"status,omitempty"`
	Error   string `json:"error,omitempty"`
	Elapsed string `json:"elapsed"`
}

func newHealthcheckCmd(getenv func(string) string, stdout io.Writer) *cobra.Command {
	var rawURL, httpAddr string
	var timeout time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when a running node answers /healthz (for container health checks)",
		Long:  healthcheckLong,
		Args:  cobra.NoArgs,
	}
	e := &env{getenv: getenv, flags: cmd.Flags()}
	e.String(&rawURL, "url", "PANTRY_HEALTHCHECK_URL", "", "URL to GET (default http://127.0.0.1:PORT/healthz, PORT from --http)")
	e.String(&httpAddr, "http", "PANTRY_HTTP_ADDR", ":8080", "the HTTP listen address of the process to check")
	e.Duration(&timeout, "timeout", "PANTRY_HEALTHCHECK_TIMEOUT", 3*time.Second, "how long to wait for the answer")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"url","ok","status","error","elapsed"}`)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if e.err != nil {
			return e.err
		}
		target, err := healthURL(rawURL, httpAddr)
		if err != nil {
			return err
		}
		if timeout <= 0 {
			return fmt.Errorf("--timeout %s: give a positive duration, e.g. 3s", timeout)
		}
		res := probeHealth(cmd, target, timeout)
		if err := printHealth(stdout, res, asJSON); err != nil {
			return err
		}
		if !res.OK {
			return errors.New("healthcheck: " + res.Error)
		}
		return nil
	}
	return cmd
}

// healthURL is --url when given, else /healthz on the loopback at the
// port of --http: a wildcard listen address (":8080", "0.0.0.0:8080",
// "[::]:8080") is reached on 127.0.0.1.
func healthURL(rawURL, httpAddr string) (string, error) {
	if rawURL != "" {
		u, err := url.Parse(rawURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", fmt.Errorf("--url %q: give an absolute http(s) URL, e.g. http://127.0.0.1:8080/healthz", rawURL)
		}
		return u.String(), nil
	}
	host, port, err := net.SplitHostPort(httpAddr)
	if err != nil || port == "" || port == "0" {
		return "", fmt.Errorf("--http %q: give the HOST:PORT the process listens on, e.g. :8080, or use --url", httpAddr)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz", nil
}

func probeHealth(cmd *cobra.Command, target string, timeout time.Duration) healthResult {
	start := time.Now()
	status, err := getStatus(cmd, target, timeout)
	res := healthResult{URL: target, Status: status, Elapsed: time.Since(start).Round(time.Millisecond).String()}
	switch {
	case err != nil:
		res.Error = err.Error()
	case status < 200 || status > 299:
		res.Error = fmt.Sprintf("%s answered %d %s", target, status, http.StatusText(status))
	default:
		res.OK = true
	}
	return res
}

func getStatus(cmd *cobra.Command, target string, timeout time.Duration) (int, error) {
	req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, target, nil)
	if err != nil {
		return 0, err
	}
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

// printHealth prints the answer; a failure in text mode is left to the
// error main prints on stderr, so it is not said twice.
func printHealth(w io.Writer, res healthResult, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(res)
	}
	if !res.OK {
		return nil
	}
	_, err := fmt.Fprintf(w, "ok: %s answered %d\n", res.URL, res.Status)
	return err
}
