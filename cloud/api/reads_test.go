package api_test

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pantry/pantry/cloud/cloudtest"
)

// TestReads: an admin reads what the edges sent: orders, payments, the
// audit log, and a consumption report as JSON and as CSV.
func TestReads(t *testing.T) {
	s := cloudtest.Start(t)
	a := seedTenant(t, s, "acme")
	tok := a.org.Token
	orders := s.Do(t, "GET", "/api/v1/orders?site_id="+a.site+"&status=open", tok, nil)
	if orders.Status != http.StatusOK || !strings.Contains(string(orders.Body), a.order) {
		t.Fatalf("orders: %d %s", orders.Status, orders.Body)
	}
	if r := s.Do(t, "GET", "/api/v1/orders?status=delivered", tok, nil); strings.Contains(string(r.Body), a.order) {
		t.Fatalf("status filter ignored: %s", r.Body)
	}
	if r := s.Do(t, "GET", "/api/v1/orders/"+a.order, tok, nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"history"`) {
		t.Fatalf("order: %d %s", r.Status, r.Body)
	}
	if r := s.Do(t, "GET", "/api/v1/payments", tok, nil); !strings.Contains(string(r.Body), a.order) {
		t.Fatalf("payments: %s", r.Body)
	}
	if r := s.Do(t, "GET", "/api/v1/audit-log?resource=site", tok, nil); !strings.Contains(string(r.Body), a.site) || !strings.Contains(string(r.Body), "next_cursor") {
		t.Fatalf("audit log: %s", r.Body)
	}
	q := "/api/v1/reports/consumption?group_by=item&from=" + time.Now().Add(-48*time.Hour).UTC().Format(time.RFC3339) + "&to=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if r := s.Do(t, "GET", q, tok, nil); !strings.Contains(string(r.Body), `"spend":{"amount":700,"currency":"EUR"}`) {
		t.Fatalf("report: %s", r.Body)
	}
	r := s.Do(t, "GET", q, tok, nil, "Accept", "text/csv")
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV content type %q", r.Header.Get("Content-Type"))
	}
	records, err := csv.NewReader(strings.NewReader(string(r.Body))).ReadAll()
	if err != nil || len(records) != 2 {
		t.Fatalf("CSV: %v %q", err, r.Body)
	}
	for name, path := range map[string]string{
		"BadFrom":    "/api/v1/orders?from=yesterday",
		"BadStatus":  "/api/v1/orders?status=eaten",
		"NoRange":    "/api/v1/reports/consumption?group_by=day",
		"BadGroupBy": "/api/v1/reports/consumption?group_by=moon&" + q[strings.Index(q, "from="):],
		"LongRange":  "/api/v1/reports/consumption?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
	} {
		t.Run(name, func(t *testing.T) {
			if r := s.Do(t, "GET", path, tok, nil); r.Status != http.StatusBadRequest {
				t.Fatalf("status=%d %s", r.Status, r.Body)
			}
		})
	}
}
