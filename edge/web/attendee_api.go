package web

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/pantry/pantry/edge/sqlite"
	"github.com/pantry/pantry/internal/pantry"
)

func (a *app) handleOpenSession(c *fiber.Ctx) error {
	var req struct {
		SpaceCode string `json:"space_code"`
	}
	if err := decodeJSON(c.Body(), &req); err != nil {
		return err
	}
	if req.SpaceCode == "" {
		return pantry.Errorf(pantry.EINVALID, "space_code is required")
	}
	sess, token, err := a.Store.OpenSession(a.ctx(c), req.SpaceCode, a.SessionTTL)
	if err != nil {
		return err
	}
	type space struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	return c.Status(fiber.StatusCreated).JSON(struct {
		Token     string    `json:"token"`
		Space     space     `json:"space"`
		ExpiresAt time.Time `json:"expires_at"`
	}{token, space{sess.SpaceID, sess.SpaceName}, sess.ExpiresAt})
}

// menuItem is what an attendee sees of an item: no thresholds or levels.
// Staff get the same shape (an item they switch on or off), with the
// station their tablet may filter by.
type menuItem struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Price       pantry.Money `json:"price"`
	Tags        []string     `json:"tags"`
	Allergens   []string     `json:"allergens"`
	ImageURL    string       `json:"image_url,omitempty"`
	Available   bool         `json:"available"`
	Station     string       `json:"station,omitempty"`
}

func toMenu(items []pantry.Item) []menuItem {
	out := make([]menuItem, len(items))
	for i, it := range items {
		out[i] = menuItem{it.ID, it.Name, it.Description, it.Price, it.Tags, it.Allergens, it.ImageURL, it.Available, it.Station}
	}
	return out
}

func (a *app) handleMenu(c *fiber.Ctx) error {
	items, err := a.Store.Menu(a.ctx(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": toMenu(items)})
}

func (a *app) handlePlaceOrder(c *fiber.Ctx) error {
	req, err := DecodePlaceOrder(c.Body())
	if err != nil {
		return err
	}
	res, err := a.placeOrder(c, strings.TrimSpace(c.Get("Idempotency-Key")), req)
	if err != nil {
		return err
	}
	status := fiber.StatusCreated
	if !res.Created {
		status = fiber.StatusOK
	}
	return c.Status(status).JSON(res.Order)
}

// placeOrder is shared by the JSON API and the no-JavaScript form.
func (a *app) placeOrder(c *fiber.Ctx, key string, req pantry.PlaceOrder) (sqlite.OrderResult, error) {
	limit := sqlite.OrderLimit{Max: a.SessionOrders, Window: a.OrderWindow}
	res, err := a.Store.PlaceOrder(a.ctx(c), session(c), key, req, limit)
	if err != nil {
		a.metrics.ordersRefused.WithLabelValues(pantry.ErrorCode(err)).Inc()
		return res, err
	}
	if res.Created {
		a.metrics.ordersPlaced.Inc()
		a.announce(res, "order.created")
	}
	return res, nil
}

func (a *app) handleGetOrder(c *fiber.Ctx) error {
	o, err := a.sessionOrder(c, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(o)
}

func (a *app) handleMyOrders(c *fiber.Ctx) error {
	orders, err := a.Store.Orders(a.ctx(c), sqlite.OrderFilter{SessionID: session(c).ID, Limit: 100})
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"orders": orders})
}

// sessionOrder loads an order only for the session that placed it; any
// other session gets the same 404 as for an order that does not exist.
func (a *app) sessionOrder(c *fiber.Ctx, id string) (pantry.Order, error) {
	notFound := pantry.Errorf(pantry.ENOTFOUND, "order %s not found", id)
	if !pantry.ValidID(id) {
		return pantry.Order{}, notFound
	}
	o, err := a.Store.Order(a.ctx(c), id)
	if err != nil {
		return o, err
	}
	if o.SessionID != session(c).ID {
		return pantry.Order{}, notFound
	}
	return o, nil
}
