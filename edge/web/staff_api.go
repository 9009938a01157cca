package web

import (
	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/pantry"
)

func (a *app) handleStaffLogin(c *fiber.Ctx) error {
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	token, err := a.Store.StaffLogin(a.ctx(c), req.Username, req.Password, a.StaffTokenTTL)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"token": token, "expires_in": int(a.StaffTokenTTL.Seconds())})
}

func (a *app) handleStaffOrders(c *fiber.Ctx) error {
	status := c.Query("status", "open")
	orders, err := a.Store.Orders(a.ctx(c), sqlite.OrderFilter{Status: status})
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"orders": orders})
}

func (a *app) handleStaffOrder(c *fiber.Ctx) error {
	id := c.Params("id")
	if !pantry.ValidID(id) {
		return pantry.Errorf(pantry.ENOTFOUND, "order %s not found", id)
	}
	o, err := a.Store.Order(a.ctx(c), id)
	if err != nil {
		return err
	}
	return c.JSON(o)
}

func (a *app) handleSetStatus(c *fiber.Ctx) error {
	var req struct {
		Status pantry.OrderStatus `json:"status"`
		Reason string             `json:"reason"`
	}
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	id := c.Params("id")
	if !pantry.ValidID(id) {
		return pantry.Errorf(pantry.ENOTFOUND, "order %s not found", id)
	}
	res, err := a.Store.SetOrderStatus(a.ctx(c), id, req.Status, req.Reason, tablet(c).Username)
	if err != nil {
		return err
	}
	a.announce(res, "order.updated")
	return c.JSON(res.Order)
}

func (a *app) handleStock(c *fiber.Ctx) error {
	levels, err := a.Store.StockLevels(a.ctx(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": levels})
}

// handleSyncReport tells staff whether the building is in touch with the
// cloud: the outbox's depth and age, the last push and pull, failures
// (DESIGN.md, sync invariant 8). Orders work either way.
func (a *app) handleSyncReport(c *fiber.Ctx) error {
	r, err := a.Store.SyncReport(a.ctx(c))
	if err != nil {
		return err
	}
	r.CloudURL = "" // staff need the health, not the topology
	return c.JSON(r)
}

// handleStockMovement records a restock, waste or count. A count may give
// the level staff counted ("level") instead of a delta: the edge works out
// the difference in the same transaction, so a sale made while staff
// typed is not lost. A count that matches the ledger answers 200 and
// moves nothing; a movement answers 201.
func (a *app) handleStockMovement(c *fiber.Ctx) error {
	var req struct {
		ItemID string             `json:"item_id"`
		Delta  int64              `json:"delta"`
		Level  *int64             `json:"level"`
		Reason pantry.StockReason `json:"reason"`
	}
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	if !pantry.ValidID(req.ItemID) {
		return pantry.Errorf(pantry.EINVALID, "item_id must be an item's id")
	}
	var ch sqlite.StockChange
	moved := true
	var err error
	switch {
	case req.Level != nil && req.Reason != pantry.StockCount:
		return pantry.Errorf(pantry.EINVALID, "level is for counts: give reason \"count\", or a delta")
	case req.Level != nil && req.Delta != 0:
		return pantry.Errorf(pantry.EINVALID, "give a count's level or a delta, not both")
	case req.Level != nil:
		ch, moved, err = a.Store.RecordCount(a.ctx(c), req.ItemID, *req.Level, tablet(c).Username)
	default:
		ch, err = a.Store.RecordStock(a.ctx(c), req.ItemID, req.Delta, req.Reason, tablet(c).Username)
	}
	if err != nil {
		if pantry.ErrorCode(err) == pantry.ENOTFOUND {
			return pantry.Errorf(pantry.EINVALID, "item %s does not exist", req.ItemID)
		}
		return err
	}
	if !moved {
		return c.JSON(ch.Level)
	}
	a.announceStock([]sqlite.StockChange{ch})
	return c.Status(fiber.StatusCreated).JSON(ch.Level)
}

// handleAvailability marks an item sold out or back. With an action_id
// (optional, so scripts and older tablets keep working) the tap is
// answered once, as order actions are: see sqlite.SetAvailabilityOnce for
// why a switch needs it.
func (a *app) handleAvailability(c *fiber.Ctx) error {
	var req struct {
		Available *bool  `json:"available"`
		ActionID  string `json:"action_id"`
	}
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	if req.Available == nil {
		return pantry.Errorf(pantry.EINVALID, "available (true or false) is required")
	}
	if req.ActionID != "" {
		if _, err := pantry.CheckActionID(req.ActionID); err != nil {
			return err
		}
	}
	id := c.Params("id")
	if !pantry.ValidID(id) {
		return pantry.Errorf(pantry.ENOTFOUND, "item %s not found", id)
	}
	if req.ActionID == "" {
		it, err := a.Store.SetAvailability(a.ctx(c), id, *req.Available, tablet(c).Username)
		if err != nil {
			return err
		}
		a.announceAvailability(it, *req.Available)
		return c.JSON(toMenu([]pantry.Item{it})[0])
	}
	res, err := a.Store.SetAvailabilityOnce(a.ctx(c), req.ActionID, id, *req.Available, tablet(c))
	if res.Replayed {
		c.Set(replayedHeader, "true")
	}
	if err != nil {
		return err
	}
	if !res.Replayed {
		a.announceAvailability(res.Item, *req.Available)
	}
	return c.JSON(toMenu([]pantry.Item{res.Item})[0])
}
