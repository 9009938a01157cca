package api

import (
	"regexp"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// summaries describes every route for the OpenAPI document; a test fails
// for a route without one.
var summaries = map[string]string{
	"GET /healthz":                                               "Liveness: 200 while the process runs.",
	"GET /readyz":                                                "Readiness: 200 while the database answers with this binary's schema.",
	"GET /metrics":                                               "Prometheus metrics.",
	"GET /api/v1/openapi.json":                                   "This document.",
	"POST /api/v1/auth/login":                                    "Exchange {email, password} for {access_token, refresh_token, expires_in}. Failed logins are limited per account and per address (429).",
	"POST /api/v1/auth/refresh":                                  "Exchange {refresh_token} for new tokens; the old refresh token is spent, and presenting it again revokes the login.",
	"POST /api/v1/auth/logout":                                   "Revoke the login {refresh_token} belongs to (204).",
	"GET /api/v1/me":                                             "Who the credential is: id, kind, organization_id, role, site_ids.",
	"GET /api/v1/sites":                                          "List sites (a facility manager sees theirs).",
	"POST /api/v1/sites":                                         "Create a site {name, timezone, currency}.",
	"GET /api/v1/sites/{site_id}":                                "Get a site.",
	"PATCH /api/v1/sites/{site_id}":                              "Change a site's name, timezone or archived state.",
	"GET /api/v1/sites/{site_id}/spaces":                         "List a site's rooms with their QR codes.",
	"POST /api/v1/sites/{site_id}/spaces":                        "Create a room {name, floor}: {id, name, code, qr_url}.",
	"GET /api/v1/sites/{site_id}/spaces/{space_id}":              "Get a room.",
	"PATCH /api/v1/sites/{site_id}/spaces/{space_id}":            "Change a room's name, floor or archived state.",
	"POST /api/v1/sites/{site_id}/spaces/{space_id}/rotate-code": "Give a room a new QR code.",
	"GET /api/v1/items":                                          "List catalog items.",
	"POST /api/v1/items":                                         "Create an item {name, description, price:{amount,currency}, tags, allergens, low_stock_threshold, image_url, station}; station (optional) is '' or 1-32 of a-z, 0-9 and '-', not 'all'.",
	"GET /api/v1/items/{item_id}":                                "Get an item.",
	"PATCH /api/v1/items/{item_id}":                              "Change an item: any of the fields it was created with, and archived; station \"\" takes it off every station.",
	"GET /api/v1/sites/{site_id}/menu":                           "A site's menu: items, availability, price overrides and effective prices.",
	"PUT /api/v1/sites/{site_id}/menu":                           "Replace a site's menu {items:[{item_id, available, price}]}.",
	"GET /api/v1/sites/{site_id}/stock":                          "Stock level per item at a site (the sum of its ledger).",
	"GET /api/v1/sites/{site_id}/stock/movements":                "The site's stock ledger, newest first (?item_id=).",
	"POST /api/v1/sites/{site_id}/stock/movements":               "Record a movement {item_id, delta, reason: restock|waste|count|adjustment}.",
	"GET /api/v1/sites/{site_id}/tablets":                        "List a site's staff tablets.",
	"POST /api/v1/sites/{site_id}/tablets":                       "Create a tablet login {name}: {id, username, password} (the password shown once).",
	"DELETE /api/v1/sites/{site_id}/tablets/{tablet_id}":         "Revoke a tablet login.",
	"GET /api/v1/coupons":                                        "List coupons.",
	"POST /api/v1/coupons":                                       "Create a coupon {code, kind: percent|fixed, value, valid_from, valid_to, max_uses_per_site}.",
	"GET /api/v1/coupons/{coupon_id}":                            "Get a coupon.",
	"PATCH /api/v1/coupons/{coupon_id}":                          "Change a coupon.",
	"GET /api/v1/cost-centers":                                   "List cost centers.",
	"POST /api/v1/cost-centers":                                  "Create a cost center {code, name}.",
	"PATCH /api/v1/cost-centers/{cost_center_id}":                "Change a cost center.",
	"GET /api/v1/users":                                          "List users (owner, admin).",
	"POST /api/v1/users":                                         "Create a user {email, name, role, site_ids, password}.",
	"GET /api/v1/users/{user_id}":                                "Get a user.",
	"PATCH /api/v1/users/{user_id}":                              "Change a user's name, role, sites or disabled state.",
	"GET /api/v1/api-keys":                                       "List technicians' API keys (never the keys).",
	"POST /api/v1/api-keys":                                      "Create an API key {name}: the key is shown once.",
	"DELETE /api/v1/api-keys/{key_id}":                           "Revoke an API key.",
	"GET /api/v1/orders":                                         "List orders (?site_id=&space_id=&status=&from=&to=&limit=&cursor=), newest first.",
	"GET /api/v1/orders/{order_id}":                              "Get an order with its lines and status history.",
	"GET /api/v1/payments":                                       "List payments (?site_id=&method=&from=&to=).",
	"POST /sync/v1/enroll":                                       "Edge node: exchange a one-time enrollment token for the node's credential (syncproto.EnrollRequest/EnrollResponse).",
	"POST /sync/v1/push":                                         "Edge node: push consecutive outbox events (gzip allowed); applied exactly once with the node's watermark. 409 sync_gap gives resume_from.",
	"POST /sync/v1/pull":                                         "Edge node: the site's configuration snapshot (when newer) and cloud stock movements after the cursor; long-polls up to wait_seconds.",
	"GET /sync/v1/node":                                          "Edge node: what the cloud knows of the calling node (syncproto.NodeInfo): its watermark, open dead letters, the cloud's build.",
	"POST /api/v1/sites/{site_id}/enrollment-tokens":             "Create a one-time token to enroll the site's edge node {ttl_seconds} (default 24 h): {id, site_id, token, expires_at}.",
	"GET /api/v1/nodes":                                          "Edge nodes with their health: last contact, watermark, lag, software version, clock skew, open dead letters (?site_id=&include_revoked=).",
	"GET /api/v1/nodes/{node_id}":                                "One edge node's health.",
	"DELETE /api/v1/nodes/{node_id}":                             "Revoke an edge node's credential.",
	"GET /api/v1/dead-letters":                                   "Events the cloud could not apply, newest first (?node_id=&open=true).",
	"POST /api/v1/dead-letters/{dead_letter_id}/reapply":         "Apply a dead letter again after fixing its cause.",
	"GET /api/v1/audit-log":                                      "The audit log (?resource=&resource_id=&actor_id=&from=&to=).",
	"GET /api/v1/reports/consumption":                            "Consumption and spend (?from=&to=&group_by=site|space|cost_center|day|item&site_id=); CSV with Accept: text/csv.",
}

var pathParam = regexp.MustCompile(`:([a-z_]+)`)

// openAPI builds the document from the routes the app really serves.
func openAPI(routes []fiber.Route) map[string]any {
	paths := map[string]map[string]any{}
	for _, r := range routes {
		if r.Method == fiber.MethodHead || r.Method == "USE" {
			continue
		}
		path := pathParam.ReplaceAllString(r.Path, "{$1}")
		op := map[string]any{
			"summary":   summaries[r.Method+" "+path],
			"responses": map[string]any{"default": map[string]any{"$ref": "#/components/responses/Error"}},
		}
		var params []map[string]any
		for _, m := range pathParam.FindAllStringSubmatch(r.Path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string", "format": "uuid"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if strings.HasPrefix(path, "/api/v1/") && !strings.HasPrefix(path, "/api/v1/auth/") && path != "/api/v1/openapi.json" {
			op["security"] = []map[string]any{{"bearer": []string{}}}
		}
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		paths[path][strings.ToLower(r.Method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info":    map[string]any{"title": "Pantry cloud admin API", "version": "1"},
		"paths":   paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{
				"type": "http", "scheme": "bearer",
				"description": "A user's access token (from /auth/login) or a technician's API key (pk_live_…).",
			}},
			"responses": map[string]any{"Error": map[string]any{
				"description": `Errors look alike everywhere: {"error":{"code","message"}}.`,
				"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{
					"type": "object", "properties": map[string]any{"error": map[string]any{"type": "object",
						"properties": map[string]any{"code": map[string]any{"type": "string"}, "message": map[string]any{"type": "string"}}}},
				}}},
			}},
		},
	}
}

func (a *app) handleOpenAPI(c *fiber.Ctx) error {
	routes := c.App().GetRoutes(true)
	sort.Slice(routes, func(i, j int) bool { return routes[i].Path < routes[j].Path })
	return c.JSON(openAPI(routes))
}
