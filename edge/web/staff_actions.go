package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/internal/pantry"
)

// replayedHeader marks an answer given again to a repeated action id (the
// name Stripe's API uses), so a tablet, or whoever reads a capture, can
// tell a retry's replayed answer from a fresh decision. The body is the
// first answer's, byte for byte.
const replayedHeader = "Idempotent-Replayed"

// DecodeOrderAction decodes and validates a tablet's action on an order.
// Every tablet tap goes through it, so it is fuzzed.
func DecodeOrderAction(body []byte) (pantry.OrderAction, error) {
	var req pantry.OrderAction
	if err := decodeJSON(body, &req); err != nil {
		return req, err
	}
	return req, req.Validate()
}

// handleOrderAction carries out a tablet's tap on an order (advance,
// cancel, recall) once, however often the tap arrives, and announces the
// change on MQTT only the first time.
func (a *app) handleOrderAction(c *fiber.Ctx) error {
	req, err := DecodeOrderAction(c.Body())
	if err != nil {
		return err
	}
	id := c.Params("id")
	if !pantry.ValidID(id) {
		return pantry.Errorf(pantry.ENOTFOUND, "order %s not found", id)
	}
	res, err := a.Store.ApplyOrderAction(a.ctx(c), id, req, tablet(c))
	if res.Replayed {
		c.Set(replayedHeader, "true")
	}
	if err != nil {
		return err
	}
	if !res.Replayed {
		a.announce(res.OrderResult, "order.updated")
	}
	return c.JSON(res.Order)
}
