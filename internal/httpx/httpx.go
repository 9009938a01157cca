// Package httpx is the one place where domain error codes become HTTP
// statuses and JSON bodies, for the edge and the cloud alike:
// {"error":{"code":"out_of_stock","message":"…"}}.
package httpx

import (
	"errors"
	"log/slog"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/internal/pantry"
)

var statuses = map[string]int{
	pantry.EINVALID:           fiber.StatusBadRequest,
	pantry.ENOTFOUND:          fiber.StatusNotFound,
	pantry.EUNAUTHORIZED:      fiber.StatusUnauthorized,
	pantry.EFORBIDDEN:         fiber.StatusForbidden,
	pantry.EOUTOFSTOCK:        fiber.StatusConflict,
	pantry.EINVALIDTRANSITION: fiber.StatusConflict,
	pantry.ESESSIONEXPIRED:    fiber.StatusUnauthorized,
	pantry.ECONFLICT:          fiber.StatusConflict,
	pantry.ETOOLARGE:          fiber.StatusRequestEntityTooLarge,
	pantry.ERATELIMITED:       fiber.StatusTooManyRequests,
	pantry.EUNAVAILABLE:       fiber.StatusServiceUnavailable,
	pantry.EINTERNAL:          fiber.StatusInternalServerError,
}

// codes maps the statuses fiber itself produces (no route, body too large,
// wrong method) back to our codes.
var codes = map[int]string{
	fiber.StatusBadRequest:                  pantry.EINVALID,
	fiber.StatusNotFound:                    pantry.ENOTFOUND,
	fiber.StatusMethodNotAllowed:            pantry.ENOTFOUND,
	fiber.StatusRequestEntityTooLarge:       pantry.ETOOLARGE,
	fiber.StatusTooManyRequests:             pantry.ERATELIMITED,
	fiber.StatusUnauthorized:                pantry.EUNAUTHORIZED,
	fiber.StatusServiceUnavailable:          pantry.EUNAVAILABLE,
	fiber.StatusRequestHeaderFieldsTooLarge: pantry.ETOOLARGE,
}

// Status returns the HTTP status for a domain error code.
func Status(code string) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return fiber.StatusInternalServerError
}

// Body is the JSON error body.
type Body struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Resolve turns any error into a status and body. Errors without a domain
// code become a 500 "internal error": SQL or stack text never reaches a client.
func Resolve(err error) (int, Body) {
	var b Body
	var fe *fiber.Error
	if errors.As(err, &fe) {
		code, ok := codes[fe.Code]
		if !ok {
			code = pantry.EINVALID
			if fe.Code >= 500 {
				code = pantry.EINTERNAL
			}
		}
		b.Error.Code, b.Error.Message = code, fe.Message
		return fe.Code, b
	}
	b.Error.Code, b.Error.Message = pantry.ErrorCode(err), pantry.ErrorMessage(err)
	return Status(b.Error.Code), b
}

// ErrorHandler returns fiber's error handler: it logs internal errors with
// their detail and answers every error with the JSON shape.
func ErrorHandler(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		status, body := Resolve(err)
		if status >= 500 {
			log.Error("request failed", "method", c.Method(), "path", c.Path(), "err", err)
		}
		return c.Status(status).JSON(body)
	}
}
