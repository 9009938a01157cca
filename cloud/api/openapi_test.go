package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pantry/pantry/cloud/cloudtest"
)

// TestOpenAPIDescribesEveryRoute: every route the server answers is in
// /api/v1/openapi.json with a summary.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	s := cloudtest.Start(t)
	r := s.Do(t, "GET", "/api/v1/openapi.json", "", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("status=%d", r.Status)
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct{ Summary string }
	}
	r.Decode(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi=%q", doc.OpenAPI)
	}
	for _, route := range s.Routes() {
		if !apiRoute(route) {
			continue // a dashboard page, not the API
		}
		method, path, _ := strings.Cut(route, " ")
		for _, seg := range strings.Split(path, "/") {
			if strings.HasPrefix(seg, ":") {
				path = strings.Replace(path, seg, "{"+seg[1:]+"}", 1)
			}
		}
		op, ok := doc.Paths[path][strings.ToLower(method)]
		if !ok || op.Summary == "" {
			t.Errorf("%s %s is not described", method, path)
		}
	}
	for _, method := range []string{"post", "patch"} {
		path := map[string]string{"post": "/api/v1/items", "patch": "/api/v1/items/{item_id}"}[method]
		if s := doc.Paths[path][method].Summary; !strings.Contains(s, "station") {
			t.Errorf("%s %s does not say an item has a station: %q", method, path, s)
		}
	}
}
