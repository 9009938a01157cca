// Package pantry is the domain vocabulary shared by the edge node and the
// cloud: orders and their state machine, money, stock movements, sessions,
// coupons and payments, and the error codes every adapter speaks.
package pantry

import (
	"errors"
	"fmt"
)

// Error codes. Adapters map them to transport statuses (internal/httpx does
// it for HTTP); the domain never speaks in HTTP statuses itself.
const (
	EINVALID           = "invalid_input"
	ENOTFOUND          = "not_found"
	EUNAUTHORIZED      = "unauthorized"
	EFORBIDDEN         = "forbidden"
	EOUTOFSTOCK        = "out_of_stock"
	EINVALIDTRANSITION = "invalid_transition"
	ESESSIONEXPIRED    = "session_expired"
	ECONFLICT          = "conflict"
	ETOOLARGE          = "payload_too_large"
	ERATELIMITED       = "rate_limited"
	EUNAVAILABLE       = "unavailable"
	EINTERNAL          = "internal"
)

// Error is a domain error with a stable machine-readable code and a message
// that is safe to show to a client.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or EINTERNAL
// for any other non-nil error. Errors without a code are never shown verbatim.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err: the message of its
// *Error, or "internal error" for errors without a code.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
