package web

import (
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// requireTLS handles what arrives over plain HTTP on a node that serves
// HTTPS (HTTPSPort set): a temporary redirect (307, which keeps the method
// and body) to the same path over HTTPS, except the attendee pages when
// HTTPLanding keeps them on plain HTTP. The staff app and its API never
// answer over plain HTTP, so tablet passwords and tokens stay off the
// wire in clear. 307 rather than 301 or 308: browsers keep permanent
// redirects for ever, and a node whose TLS is turned off again must not
// leave phones knocking on a closed port.
//
// Health, readiness and metrics are routed before this middleware and
// stay on plain HTTP: monitors and probes need no certificate, and they
// carry no credentials.
func (a *app) requireTLS(c *fiber.Ctx) error {
	if a.HTTPSPort == 0 || c.Context().IsTLS() {
		return c.Next()
	}
	if a.HTTPLanding && attendeePath(c.Path()) {
		return c.Next()
	}
	return c.Redirect(httpsURL(c, a.HTTPSPort), http.StatusTemporaryRedirect)
}

// httpsURL is the request's URL over HTTPS on port, on the host the
// client asked for.
func httpsURL(c *fiber.Ctx, port int) string {
	host := c.Hostname()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "" {
		host = "localhost"
	}
	return "https://" + net.JoinHostPort(host, strconv.Itoa(port)) + c.OriginalURL()
}

// attendeePath reports whether path is one of the attendee pages or their
// API, which --http-landing keeps on plain HTTP for phones that do not
// trust the site CA: the home and room pages and the order form, an
// order's page, the attendee API and the static files they load. Keep it
// in step with routes.go; TestAttendeePathsMatchRoutes checks it does.
func attendeePath(path string) bool {
	switch path {
	case "/", "/api/v1/sessions", "/api/v1/menu", "/api/v1/orders":
		return true
	}
	for _, prefix := range []string{"/q/", "/orders/", "/static/", "/api/v1/orders/"} {
		if strings.HasPrefix(path, prefix) {
			return true
		}
	}
	return false
}
