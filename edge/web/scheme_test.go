package web

import (
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestAttendeePathsMatchRoutes: with --http-landing, every attendee route
// stays on plain HTTP and no staff route does. A route added to
// routes.go without a thought for attendeePath fails here.
func TestAttendeePathsMatchRoutes(t *testing.T) {
	f := New(Config{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	param := regexp.MustCompile(`:[a-z]+`)
	monitoring := map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true} // routed before requireTLS
	checked := 0
	for _, r := range f.GetRoutes(true) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost || monitoring[r.Path] || strings.HasSuffix(r.Path, "*") {
			continue
		}
		path := param.ReplaceAllString(r.Path, "x")
		staff := strings.Contains(r.Path, "staff")
		if got := attendeePath(path); got == staff {
			t.Errorf("%s %s: kept on plain HTTP = %v, want %v (a staff route must redirect, an attendee route must not)", r.Method, r.Path, got, !staff)
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("only %d routes checked: is GetRoutes listing them?", checked)
	}
	for _, path := range []string{"/static/pantry.css", "/static/vendor/x.js"} {
		if !attendeePath(path) {
			t.Errorf("%s redirects with --http-landing; the attendee pages load it", path)
		}
	}
}
